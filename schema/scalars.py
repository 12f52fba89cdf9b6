"""The GeoJSON scalar: an RFC 7946 geometry object (lon/lat order), never a string.

Geometry leaves PostGIS as GeoJSON text (`ST_AsGeoJSON`); it is passed through to the
response as an `orjson.Fragment`, so no Python object is built per coordinate.
"""

from __future__ import annotations

import math
from typing import Any, NewType

import orjson
import strawberry
from strawberry.types.scalar import ScalarDefinition

GeoJSON = NewType("GeoJSON", object)

GEOMETRY_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
)


def _serialize(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return orjson.Fragment(value)
    return value


def _finite(coords: Any) -> bool:
    if isinstance(coords, int | float) and not isinstance(coords, bool):
        return math.isfinite(coords)
    if isinstance(coords, list):
        return all(_finite(c) for c in coords)
    return False


def _parse_value(value: Any) -> dict[str, Any]:
    """Shape check only; the full geometry rules (validity, SRID, extent) live in geo/."""
    if not isinstance(value, dict):
        raise ValueError('GeoJSON geometry must be a JSON object, e.g. {"type": "Point", ...}')
    if value.get("type") not in GEOMETRY_TYPES:
        raise ValueError(
            f"GeoJSON type must be one of {sorted(GEOMETRY_TYPES)}, got {value.get('type')!r}"
        )
    if not _finite(value.get("coordinates")):
        raise ValueError("GeoJSON coordinates must be nested arrays of finite numbers")
    return value


GEOJSON_SCALAR: ScalarDefinition = strawberry.scalar(
    name="GeoJSON",
    description=(
        "RFC 7946 GeoJSON geometry object in lon/lat order (CGCS2000 EPSG:4490 unless "
        "stated). GeoJSON 几何对象，经度在前。"
    ),
    specified_by_url="https://www.rfc-editor.org/rfc/rfc7946",
    serialize=_serialize,
    parse_value=_parse_value,
)

SCALAR_MAP = {GeoJSON: GEOJSON_SCALAR}
