"""GeoJSON output of stored geometry, built by PostGIS."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.sql.elements import ColumnElement


def as_geojson(geom: Any, precision: int) -> ColumnElement[str]:
    """RFC 7946 geometry text: options=0 so no legacy `crs` member is added for 4490."""
    return func.ST_AsGeoJSON(geom, precision, 0)
