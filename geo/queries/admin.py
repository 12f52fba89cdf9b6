"""Admin areas (行政区)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.enums import AdminKind
from geo.models import AdminArea
from geo.queries.geojson import as_geojson

COLUMNS = (
    AdminArea.code,
    AdminArea.name,
    AdminArea.name_en,
    AdminArea.kind,
    AdminArea.parent_code,
    AdminArea.area_m2,
    AdminArea.source,
)


def _select(with_geometry: bool, precision: int) -> Any:
    cols: list[Any] = list(COLUMNS)
    if with_geometry:
        cols.append(as_geojson(AdminArea.geom, precision).label("geojson"))
    return select(*cols)


async def list_admin_areas(
    session: AsyncSession, *, kind: AdminKind | None, with_geometry: bool, precision: int
) -> Sequence[Row[Any]]:
    stmt = _select(with_geometry, precision).order_by(AdminArea.code)
    if kind is not None:
        stmt = stmt.where(AdminArea.kind == kind)
    return (await session.execute(stmt)).all()


async def admin_areas_by_code(
    session: AsyncSession, codes: Sequence[str], *, with_geometry: bool = False, precision: int = 8
) -> dict[str, Row[Any]]:
    stmt = _select(with_geometry, precision).where(AdminArea.code.in_(codes))
    return {row.code: row for row in (await session.execute(stmt)).all()}


async def geometry_by_code(
    session: AsyncSession, codes: Sequence[str], *, precision: int
) -> dict[str, str]:
    stmt = select(AdminArea.code, as_geojson(AdminArea.geom, precision)).where(
        AdminArea.code.in_(codes)
    )
    return {code: gj for code, gj in (await session.execute(stmt)).all()}
