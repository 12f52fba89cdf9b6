"""Protected zones (三区三线)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.enums import ZoneKind
from geo.geometry_input import InputGeometry
from geo.models import ProtectedZone
from geo.queries import paging
from geo.queries.geojson import GeometryOptions, as_geojson
from geo.spatial import SpatialFilter, apply_spatial, nearest_first


@dataclass(frozen=True)
class ZoneFilter:
    kind: ZoneKind | None = None
    county_code: str | None = None
    spatial: SpatialFilter | None = None


def _filtered(f: ZoneFilter, geometry: GeometryOptions | None) -> Select[Any]:
    cols: list[Any] = [
        ProtectedZone.id,
        ProtectedZone.code,
        ProtectedZone.kind,
        ProtectedZone.name,
        ProtectedZone.county_code,
        ProtectedZone.area_m2,
        ProtectedZone.source,
    ]
    if geometry is not None:
        cols.append(as_geojson(ProtectedZone.geom, geometry).label("geojson"))
    stmt = select(*cols)
    if f.kind is not None:
        stmt = stmt.where(ProtectedZone.kind == f.kind)
    if f.county_code is not None:
        stmt = stmt.where(ProtectedZone.county_code == f.county_code)
    return apply_spatial(stmt, ProtectedZone.geom, f.spatial)


async def list_zones(
    session: AsyncSession,
    *,
    filter: ZoneFilter,
    after: str | None,
    limit: int,
    geometry: GeometryOptions | None,
    nearest: InputGeometry | None = None,
    offset: int = 0,
) -> Sequence[Row[Any]]:
    """A keyset page by code, or with `nearest` a page by exact distance (`distance_m`)."""
    stmt = _filtered(filter, geometry)
    if nearest is not None:
        stmt = nearest_first(
            stmt, ProtectedZone.geom, ProtectedZone.code, nearest, offset=offset, limit=limit
        )
        return (await session.execute(stmt)).all()
    return await paging.fetch_page(session, stmt, key=ProtectedZone.code, after=after, limit=limit)


async def count_zones(session: AsyncSession, *, filter: ZoneFilter) -> int:
    return await paging.count(session, _filtered(filter, None))


async def geometry_by_id(
    session: AsyncSession, ids: Sequence[int], options: GeometryOptions
) -> dict[int, str]:
    stmt = select(ProtectedZone.id, as_geojson(ProtectedZone.geom, options)).where(
        ProtectedZone.id.in_(ids)
    )
    return {zid: gj for zid, gj in (await session.execute(stmt)).all()}
