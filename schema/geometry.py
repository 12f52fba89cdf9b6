"""Geometry inputs of the GraphQL API and their conversion to checked geo/ values."""

from __future__ import annotations

from typing import Any

import strawberry

from geo.crs import STORAGE_SRID
from geo.geometry_input import GeometryInputError, InputGeometry, parse_geometry
from geo.queries.geojson import GeometryOptions
from geo.spatial import SpatialFilter, check_bbox
from schema.errors import ErrorCode, LandguardError
from schema.scalars import GeoJSON
from schema.selection import selected

MAX_INPUT_VERTICES = 20_000


@strawberry.input(
    description=(
        "A geometry given as exactly one of GeoJSON (default), WKT or EWKT, in CGCS2000 "
        "EPSG:4490 (default) or WGS84 EPSG:4326 lon/lat degrees. 输入几何"
    )
)
class GeometryInput:
    geojson: GeoJSON | None = None
    wkt: str | None = None
    ewkt: str | None = strawberry.field(
        default=None, description="e.g. SRID=4326;POINT(112.85 35.49)"
    )
    srid: int | None = strawberry.field(default=None, description="4490 (default) or 4326")


@strawberry.input(description="Within a distance in metres on the spheroid 距离范围")
class DistanceInput:
    geometry: GeometryInput
    meters: float


@strawberry.input(
    description=(
        "空间筛选 Spatial filter; all given predicates must hold. `within`: the feature lies "
        "within the geometry; `contains`: the feature contains it; `bbox`: [minLon, minLat, "
        "maxLon, maxLat] in degrees (EPSG:4490)."
    )
)
class SpatialFilterInput:
    intersects: GeometryInput | None = None
    within: GeometryInput | None = None
    contains: GeometryInput | None = None
    bbox: list[float] | None = None
    dwithin: DistanceInput | None = None


def geometry_error(exc: GeometryInputError, argument: str) -> LandguardError:
    details: dict[str, object] = {"argument": argument, "reason": exc.reason}
    if exc.location is not None:
        details["location"] = list(exc.location)
    return LandguardError(ErrorCode(exc.code), f"{argument}: {exc.reason}", **details)


def to_geometry(value: GeometryInput, argument: str) -> InputGeometry:
    given = [
        (fmt, v)
        for fmt, v in (("GEOJSON", value.geojson), ("WKT", value.wkt), ("EWKT", value.ewkt))
        if v is not None
    ]
    if len(given) != 1:
        raise LandguardError(
            ErrorCode.BAD_USER_INPUT,
            f"{argument}: give exactly one of geojson, wkt or ewkt",
            argument=argument,
        )
    fmt, raw = given[0]
    try:
        return parse_geometry(raw, fmt=fmt, srid=value.srid, max_vertices=MAX_INPUT_VERTICES)
    except GeometryInputError as exc:
        raise geometry_error(exc, argument) from None


def to_spatial(value: SpatialFilterInput | None) -> SpatialFilter | None:
    if value is None:
        return None
    try:
        bbox = check_bbox(value.bbox) if value.bbox is not None else None
    except GeometryInputError as exc:
        raise geometry_error(exc, "spatial.bbox") from None
    dwithin = None
    if value.dwithin is not None:
        dwithin = (
            to_geometry(value.dwithin.geometry, "spatial.dwithin.geometry"),
            value.dwithin.meters,
        )
        if not 0 <= value.dwithin.meters <= 200_000:
            raise LandguardError(
                ErrorCode.INVALID_DISTANCE, "spatial.dwithin.meters must be between 0 and 200000"
            )
    return SpatialFilter(
        intersects=to_geometry(value.intersects, "spatial.intersects")
        if value.intersects
        else None,
        within=to_geometry(value.within, "spatial.within") if value.within else None,
        contains=to_geometry(value.contains, "spatial.contains") if value.contains else None,
        bbox=bbox,
        dwithin=dwithin,
    )


def geometry_options(
    default_precision: int, srid: int | None, simplify_meters: float | None, precision: int | None
) -> GeometryOptions:
    """Arguments of a `geometry` field → checked output options (BAD_USER_INPUT otherwise)."""
    try:
        return GeometryOptions(
            srid=srid if srid is not None else STORAGE_SRID,
            simplify_m=simplify_meters,
            precision=precision if precision is not None else default_precision,
        ).checked()
    except ValueError as exc:
        raise LandguardError(
            ErrorCode.BAD_USER_INPUT, f"geometry: {exc}", argument="geometry"
        ) from None


def preload_options(info: Any, *path: str) -> GeometryOptions | None:
    """Options for fetching geometry with the list itself, when the query asks for it
    with one set of arguments; otherwise None (the field's loader fetches it)."""
    fields = selected(info, *path)
    variants = {tuple(sorted((f.arguments or {}).items())) for f in fields}
    if len(variants) != 1:
        return None
    args = fields[0].arguments or {}
    return geometry_options(
        info.context.config.geojson_precision,
        args.get("srid"),
        args.get("simplifyMeters"),
        args.get("precision"),
    )
