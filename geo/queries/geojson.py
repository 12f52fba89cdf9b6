"""GeoJSON output of stored geometry, built by PostGIS: reprojection, simplification
and coordinate precision on request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func
from sqlalchemy.sql.elements import ColumnElement

from geo.crs import ACCEPTED_INPUT_SRIDS, STORAGE_SRID
from geo.spatial import M_PER_DEG_LAT

OUTPUT_SRIDS = ACCEPTED_INPUT_SRIDS  # RFC 7946 output is lon/lat degrees: CGCS2000 or WGS84
MAX_PRECISION = 15


@dataclass(frozen=True)
class GeometryOptions:
    srid: int = STORAGE_SRID
    simplify_m: float | None = None
    precision: int = 8

    def checked(self) -> GeometryOptions:
        if self.srid not in OUTPUT_SRIDS:
            raise ValueError(
                f"srid {self.srid} is not offered; GeoJSON output is EPSG:4490 or EPSG:4326"
            )
        if not 0 <= self.precision <= MAX_PRECISION:
            raise ValueError(f"precision must be 0–{MAX_PRECISION} decimal digits")
        if self.simplify_m is not None and not 0 <= self.simplify_m <= 10_000:
            raise ValueError("simplifyMeters must be between 0 and 10000")
        return self


def as_geojson(geom: Any, precision: int | GeometryOptions) -> ColumnElement[str]:
    """RFC 7946 geometry text: options=0 so no legacy `crs` member is added for 4490.

    Simplification works in degrees with the metre tolerance converted at the latitude of
    Jincheng (the longitude degree is shorter, so the tolerance is conservative east-west);
    ST_SimplifyPreserveTopology never produces an invalid polygon from a valid one.
    """
    opts = (
        precision
        if isinstance(precision, GeometryOptions)
        else GeometryOptions(precision=precision)
    )
    expr: Any = geom
    if opts.simplify_m:
        simplified = func.ST_SimplifyPreserveTopology(expr, opts.simplify_m / M_PER_DEG_LAT)
        # keep MultiPolygon a MultiPolygon (simplification may return a single part)
        expr = case(
            (func.ST_GeometryType(geom).like("ST_Multi%"), func.ST_Multi(simplified)),
            else_=simplified,
        )
    if opts.srid != STORAGE_SRID:
        expr = func.ST_Transform(expr, opts.srid)
    return func.ST_AsGeoJSON(expr, opts.precision, 0)
