"""The GeoJSON scalar: an RFC 7946 geometry object (lon/lat order), never a string.

Geometry leaves PostGIS as GeoJSON text (`ST_AsGeoJSON`); it is passed through to the
response as an `orjson.Fragment`, so no Python object is built per coordinate.
"""

from __future__ import annotations

from typing import Any, NewType

import orjson
import strawberry
from strawberry.types.scalar import ScalarDefinition

GeoJSON = NewType("GeoJSON", object)


def _serialize(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return orjson.Fragment(value)
    return value


def _parse_value(value: Any) -> Any:
    """Any JSON value passes here; geo.geometry_input checks it with precise error codes."""
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
