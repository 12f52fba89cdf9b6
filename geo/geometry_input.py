"""Geometry input: GeoJSON, WKT or EWKT in CGCS2000 (4490) or WGS84 (4326), checked
strictly before any SQL sees it (DESIGN.md §5 lists the traps this avoids).

PostGIS's parsers are loose (unclosed rings, NaN, lower-case types, silent SRID swaps)
and ST_IsValid passes empty polygons and latitude 112, so every rule is checked here,
with shapely's strict parser and GEOS's validity reason; the database CHECKs repeat the
essentials for direct SQL writes.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import ACCEPTED_INPUT_SRIDS, STORAGE_SRID

DEFAULT_MAX_VERTICES = 20_000
_EWKT = re.compile(r"^\s*SRID\s*=\s*(-?\d+)\s*;\s*(.+)$", re.I | re.S)
_CRS_NAMES = {
    "EPSG:4490": 4490,
    "urn:ogc:def:crs:EPSG::4490": 4490,
    "EPSG:4326": 4326,
    "urn:ogc:def:crs:EPSG::4326": 4326,
    "urn:ogc:def:crs:OGC:1.3:CRS84": 4326,
    "urn:ogc:def:crs:OGC::CRS84": 4326,
    "CRS84": 4326,
}


class GeometryInputError(ValueError):
    """Bad geometry input. `code` is machine-readable, `reason` is for people."""

    def __init__(self, code: str, reason: str, location: tuple[float, float] | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.location = location


@dataclass(frozen=True)
class InputGeometry:
    """A checked geometry ready to bind: WKB plus the SRID it is expressed in."""

    wkb: bytes
    srid: int
    geom_type: str
    vertices: int
    bounds: tuple[float, float, float, float]


def _srid(value: int | None) -> int:
    srid = STORAGE_SRID if value is None else value
    if srid not in ACCEPTED_INPUT_SRIDS:
        accepted = ", ".join(f"EPSG:{s}" for s in ACCEPTED_INPUT_SRIDS)
        raise GeometryInputError(
            "UNSUPPORTED_SRID",
            f"SRID {srid} is not accepted; use {accepted} (CGCS2000 or WGS84 lon/lat degrees)",
        )
    return srid


def _from_geojson(value: Any) -> tuple[BaseGeometry, int | None]:
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_constant=_refuse_constant)
        except (ValueError, TypeError) as exc:
            raise GeometryInputError("INVALID_GEOJSON", f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise GeometryInputError("INVALID_GEOJSON", "a GeoJSON geometry must be a JSON object")
    srid = None
    crs = value.get("crs")
    if crs is not None:
        name = (crs.get("properties") or {}).get("name") if isinstance(crs, dict) else None
        if name not in _CRS_NAMES:
            raise GeometryInputError(
                "UNSUPPORTED_SRID", f"crs {name!r} is not accepted; use EPSG:4490 or EPSG:4326"
            )
        srid = _CRS_NAMES[name]
        value = {k: v for k, v in value.items() if k != "crs"}
    if not _finite_tree(value.get("coordinates", value.get("geometries", []))):
        raise GeometryInputError(
            "INVALID_GEOJSON", "coordinates must be finite numbers (no NaN, Infinity or strings)"
        )
    try:
        geometry = shapely.from_geojson(json.dumps(value))
    except shapely.errors.GEOSException as exc:
        raise GeometryInputError("INVALID_GEOJSON", _geos_message(exc)) from None
    return geometry, srid


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not allowed in JSON")


def _finite_tree(node: Any) -> bool:
    if isinstance(node, bool) or node is None:
        return False
    if isinstance(node, int | float):
        return math.isfinite(node)
    if isinstance(node, list):
        return all(_finite_tree(n) for n in node)
    if isinstance(node, dict):  # GeometryCollection members
        return _finite_tree(node.get("coordinates", node.get("geometries", [])))
    return False


def _from_wkt(text: str, *, extended: bool) -> tuple[BaseGeometry, int | None]:
    srid = None
    match = _EWKT.match(text)
    if match:
        srid, text = int(match.group(1)), match.group(2)
    elif extended:
        raise GeometryInputError(
            "INVALID_WKT", "EWKT must start with SRID=<code>; e.g. SRID=4490;POINT(112.85 35.49)"
        )
    try:
        # NaN/Infinity parse (and are refused by _check with a code); numpy's "invalid
        # value" RuntimeWarning about them is noise, not an error of ours
        with np.errstate(invalid="ignore"):
            geometry = shapely.from_wkt(text)
    except shapely.errors.GEOSException as exc:
        raise GeometryInputError("INVALID_WKT", _geos_message(exc)) from None
    except NotImplementedError as exc:  # shapely: CIRCULARSTRING, CURVEPOLYGON, MULTISURFACE …
        raise GeometryInputError("UNSUPPORTED_GEOMETRY_TYPE", str(exc)) from None
    return geometry, srid


def _geos_message(exc: Exception) -> str:
    return str(exc).replace("IllegalArgumentException: ", "").replace("ParseException: ", "")


def _check(
    geometry: BaseGeometry,
    *,
    max_vertices: int,
    allowed_types: frozenset[str] | None,
    degrees: bool = True,
) -> None:
    if geometry.is_empty:
        raise GeometryInputError("EMPTY_GEOMETRY", "the geometry is empty")
    if allowed_types is not None and geometry.geom_type not in allowed_types:
        raise GeometryInputError(
            "UNSUPPORTED_GEOMETRY_TYPE",
            f"{geometry.geom_type} is not accepted here; expected one of {sorted(allowed_types)}",
        )
    if shapely.has_z(geometry):
        raise GeometryInputError("NOT_2D", "only 2-D coordinates are accepted (found a Z value)")
    if shapely.has_m(geometry):
        # GEOS ≥ 3.12 reads `MULTIPOLYGON M …`; the M values would reach the WKB otherwise
        raise GeometryInputError("NOT_2D", "only 2-D coordinates are accepted (found an M value)")
    coords = shapely.get_coordinates(geometry)
    if len(coords) > max_vertices:
        raise GeometryInputError(
            "TOO_MANY_VERTICES", f"{len(coords)} vertices; at most {max_vertices} are accepted"
        )
    if not np.isfinite(coords).all():
        raise GeometryInputError("INVALID_GEOMETRY", "coordinates must be finite numbers")
    lon, lat = coords[:, 0], coords[:, 1]
    bad = np.flatnonzero((np.abs(lon) > 180) | (np.abs(lat) > 90))
    if degrees and bad.size:
        x, y = (float(v) for v in coords[bad[0]])
        hint = (
            " — latitude and longitude look swapped (GeoJSON is lon, lat)"
            if abs(x) <= 90 < abs(y) <= 180
            else ""
        )
        if abs(x) > 180 and abs(y) > 180:
            hint = " — these look like projected metres, not degrees"
        raise GeometryInputError(
            "COORDINATE_OUT_OF_RANGE",
            f"coordinate ({x}, {y}) is outside lon ±180 / lat ±90{hint}",
            (x, y),
        )
    reason = shapely.is_valid_reason(geometry)
    if reason != "Valid Geometry":
        location = _reason_location(reason)
        raise GeometryInputError("INVALID_GEOMETRY", f"invalid geometry: {reason}", location)


def _reason_location(reason: str) -> tuple[float, float] | None:
    match = re.search(r"\[(-?[\d.eE+-]+) (-?[\d.eE+-]+)\]", reason)
    return (float(match.group(1)), float(match.group(2))) if match else None


def parse_geometry(
    value: Any,
    *,
    fmt: str = "GEOJSON",
    srid: int | None = None,
    max_vertices: int = DEFAULT_MAX_VERTICES,
    allowed_types: frozenset[str] | None = None,
) -> InputGeometry:
    """Parse and check one input geometry; raise GeometryInputError with a code otherwise."""
    if fmt == "GEOJSON":
        geometry, embedded = _from_geojson(value)
    elif fmt in ("WKT", "EWKT"):
        if not isinstance(value, str):
            raise GeometryInputError("INVALID_WKT", f"{fmt} input must be a string")
        geometry, embedded = _from_wkt(value, extended=fmt == "EWKT")
    else:
        raise GeometryInputError(
            "UNSUPPORTED_FORMAT", f"unknown geometry format {fmt!r}; use GEOJSON, WKT or EWKT"
        )
    if embedded is not None and srid is not None and embedded != srid:
        raise GeometryInputError(
            "UNSUPPORTED_SRID", f"the geometry says SRID {embedded} but srid {srid} was given"
        )
    final_srid = _srid(embedded if embedded is not None else srid)
    _check(geometry, max_vertices=max_vertices, allowed_types=allowed_types)
    return InputGeometry(
        wkb=shapely.to_wkb(geometry),
        srid=final_srid,
        geom_type=geometry.geom_type,
        vertices=int(shapely.get_num_coordinates(geometry)),
        bounds=tuple(float(b) for b in geometry.bounds),  # type: ignore[arg-type]
    )


def check_geometry(
    geometry: BaseGeometry,
    *,
    max_vertices: int = DEFAULT_MAX_VERTICES,
    allowed_types: frozenset[str] | None = None,
    degrees: bool = True,
) -> None:
    """The strict checks of `parse_geometry` on an already parsed geometry (bulk import reads
    WKB from files). `degrees=False` skips the lon/lat range check for projected input, whose
    extent is checked after PostGIS transforms it."""
    _check(geometry, max_vertices=max_vertices, allowed_types=allowed_types, degrees=degrees)


def parse_geojson_geometry(value: Any) -> BaseGeometry:
    """Strictly parse one GeoJSON geometry object (no `crs` member: a file's CRS is the
    file's). Raises GeometryInputError (INVALID_GEOJSON) like `parse_geometry`."""
    if isinstance(value, dict) and "crs" in value:
        value = {k: v for k, v in value.items() if k != "crs"}
    geometry, _ = _from_geojson(value)
    return geometry
