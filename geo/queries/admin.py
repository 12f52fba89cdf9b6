"""Admin areas (行政区)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.enums import AdminKind
from geo.models import AdminArea
from geo.queries.geojson import GeometryOptions, as_geojson
from geo.spatial import SpatialFilter, apply_spatial

COLUMNS = (
    AdminArea.code,
    AdminArea.name,
    AdminArea.name_en,
    AdminArea.kind,
    AdminArea.parent_code,
    AdminArea.area_m2,
    AdminArea.source,
)


def _select(geometry: GeometryOptions | None) -> Any:
    cols: list[Any] = list(COLUMNS)
    if geometry is not None:
        cols.append(as_geojson(AdminArea.geom, geometry).label("geojson"))
    return select(*cols)


async def list_admin_areas(
    session: AsyncSession,
    *,
    kind: AdminKind | None,
    geometry: GeometryOptions | None,
    spatial_filter: SpatialFilter | None = None,
) -> Sequence[Row[Any]]:
    stmt = _select(geometry).order_by(AdminArea.code)
    if kind is not None:
        stmt = stmt.where(AdminArea.kind == kind)
    stmt = apply_spatial(stmt, AdminArea.geom, spatial_filter)
    return (await session.execute(stmt)).all()


async def admin_areas_by_code(
    session: AsyncSession, codes: Sequence[str], *, geometry: GeometryOptions | None = None
) -> dict[str, Row[Any]]:
    if geometry is None:
        rows = (await session.execute(_BY_CODES, {"codes": list(codes)})).all()
    else:
        rows = (await session.execute(_select(geometry).where(AdminArea.code.in_(codes)))).all()
    return {row.code: row for row in rows}


async def geometry_by_code(
    session: AsyncSession, codes: Sequence[str], options: GeometryOptions
) -> dict[str, str]:
    stmt = select(AdminArea.code, as_geojson(AdminArea.geom, options)).where(
        AdminArea.code.in_(codes)
    )
    return {code: gj for code, gj in (await session.execute(stmt)).all()}


_BY_CODES = _select(None).where(AdminArea.code.in_(bindparam("codes", expanding=True)))
