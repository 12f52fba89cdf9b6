"""Spatial predicates in one place. The query geometry is transformed to the stored SRID
(never the column to the query's), so every predicate can use the GiST index."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from geo.crs import STORAGE_SRID
from geo.geometry_input import GeometryInputError, InputGeometry

M_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True)
class SpatialFilter:
    intersects: InputGeometry | None = None
    within: InputGeometry | None = None
    contains: InputGeometry | None = None
    bbox: tuple[float, float, float, float] | None = None
    dwithin: tuple[InputGeometry, float] | None = None

    @property
    def empty(self) -> bool:
        return not (self.intersects or self.within or self.contains or self.bbox or self.dwithin)


def check_bbox(values: list[float] | tuple[float, ...]) -> tuple[float, float, float, float]:
    """[minLon, minLat, maxLon, maxLat] in degrees, each in range and min ≤ max."""
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise GeometryInputError(
            "INVALID_BBOX", "bbox must be four finite numbers [minLon, minLat, maxLon, maxLat]"
        )
    x0, y0, x1, y1 = (float(v) for v in values)
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise GeometryInputError(
            "INVALID_BBOX",
            f"bbox {list(values)} must be [minLon, minLat, maxLon, maxLat] with min ≤ max, in degrees",
        )
    return x0, y0, x1, y1


def as_stored(g: InputGeometry) -> ColumnElement[Any]:
    """The bound input geometry, in the storage SRID (4490)."""
    geom = func.ST_GeomFromWKB(literal(g.wkb), g.srid)
    return geom if g.srid == STORAGE_SRID else func.ST_Transform(geom, STORAGE_SRID)


def envelope(bbox: tuple[float, float, float, float]) -> ColumnElement[Any]:
    return func.ST_MakeEnvelope(*bbox, STORAGE_SRID)


def _geography(expr: Any) -> Any:
    """geometry → geography keeping its SRID (a typed CAST would impose 4326)."""
    return func.geography(expr)


def within_distance(column: Any, g: InputGeometry, meters: float) -> ColumnElement[bool]:
    """Spheroidal distance ≤ meters, index-assisted: a degree-box prefilter on the
    geometry index (a safe over-estimate), then the exact geography test."""
    if not (math.isfinite(meters) and 0 <= meters <= 200_000):
        raise GeometryInputError("INVALID_DISTANCE", "dwithin.meters must be between 0 and 200000")
    max_lat = min(89.0, max(abs(g.bounds[1]), abs(g.bounds[3])) + 1.0)
    margin = meters / (M_PER_DEG_LAT * math.cos(math.radians(max_lat))) * 1.01 + 1e-9
    query = as_stored(g)
    return and_(
        func.ST_DWithin(column, query, margin),
        func.ST_DWithin(_geography(column), _geography(query), meters),
    )


def apply_spatial(stmt: Select[Any], column: Any, f: SpatialFilter | None) -> Select[Any]:
    """Add the filter's predicates (all must hold) to a statement over `column`."""
    if f is None:
        return stmt
    if f.intersects is not None:
        stmt = stmt.where(func.ST_Intersects(column, as_stored(f.intersects)))
    if f.within is not None:
        stmt = stmt.where(func.ST_Within(column, as_stored(f.within)))
    if f.contains is not None:
        stmt = stmt.where(func.ST_Contains(column, as_stored(f.contains)))
    if f.bbox is not None:
        stmt = stmt.where(func.ST_Intersects(column, envelope(f.bbox)))
    if f.dwithin is not None:
        stmt = stmt.where(within_distance(column, *f.dwithin))
    return stmt


def distance_m(column: Any, g: InputGeometry) -> ColumnElement[float]:
    """Exact spheroidal distance in metres from each row to the input geometry."""
    return func.ST_Distance(_geography(column), _geography(as_stored(g)))


def knn(column: Any, g: InputGeometry) -> ColumnElement[Any]:
    """Index-driven nearest-first ordering (`<->` on the GiST index)."""
    return column.op("<->")(as_stored(g))


def nearest_first(
    stmt: Select[Any], column: Any, key: Any, g: InputGeometry, *, offset: int, limit: int
) -> Select[Any]:
    """Rows of `stmt` ordered by exact spheroidal distance to `g`, then key.

    The GiST index finds the `offset + limit + 1` nearest by `<->` (planar degrees); the
    largest exact distance among them bounds the search radius, and every row within that
    radius is ranked exactly — so the order is exact, not the planar approximation.
    """
    query = as_stored(g)
    wanted = offset + limit + 1
    knn_rows = (
        stmt.with_only_columns(column.label("g")).order_by(knn(column, g)).limit(wanted).subquery()
    )
    radius = select(
        func.coalesce(func.max(func.ST_Distance(_geography(knn_rows.c.g), _geography(query))), 0)
    )
    radius_m = radius.scalar_subquery()
    lat = func.ST_Y(func.ST_Centroid(query))
    radius_deg = (
        radius_m / (M_PER_DEG_LAT * func.cos(func.radians(func.least(89, func.abs(lat) + 1))))
        + 1e-9
    )
    distance = distance_m(column, g).label("distance_m")
    return (
        stmt.add_columns(distance)
        .where(column.op("&&")(func.ST_Expand(query, radius_deg)))
        .where(func.ST_DWithin(_geography(column), _geography(query), radius_m))
        .order_by(distance, key)
        .offset(offset)
        .limit(limit + 1)
    )
