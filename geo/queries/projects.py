"""Projects (项目)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.enums import KeyCategory, PlanType, ProjectStage
from geo.geometry_input import InputGeometry
from geo.models import Project
from geo.queries import paging
from geo.queries.geojson import as_geojson
from geo.spatial import SpatialFilter, apply_spatial, nearest_first

PRECISION_POINT = 8


@dataclass(frozen=True)
class ProjectFilter:
    county_code: str | None = None
    is_key: bool | None = None
    stage: ProjectStage | None = None
    category: KeyCategory | None = None
    plan_type: PlanType | None = None
    spatial: SpatialFilter | None = None


def _base() -> Select[Any]:
    return select(
        Project.id,
        Project.code,
        Project.name,
        Project.county_code,
        Project.dev_zone_code,
        Project.plan_type,
        Project.stage,
        Project.industry,
        Project.is_key,
        Project.key_list_year,
        Project.categories,
        Project.total_investment,
        Project.annual_target,
        Project.progress_target,
        Project.planned_start,
        Project.planned_finish,
        Project.actual_start,
        Project.lead_official,
        Project.lead_official_title,
        Project.responsible_entity,
        Project.signing_status,
        Project.stats_status,
        Project.version,
        as_geojson(Project.location, PRECISION_POINT).label("location"),
    )


def _filtered(f: ProjectFilter) -> Select[Any]:
    stmt = _base()
    if f.county_code is not None:
        stmt = stmt.where(Project.county_code == f.county_code)
    if f.is_key is not None:
        stmt = stmt.where(Project.is_key.is_(f.is_key))
    if f.stage is not None:
        stmt = stmt.where(Project.stage == f.stage)
    if f.category is not None:
        stmt = stmt.where(Project.categories.contains([f.category]))
    if f.plan_type is not None:
        stmt = stmt.where(Project.plan_type == f.plan_type)
    # A project is located by its representative point (the centroid of its parcels).
    return apply_spatial(stmt, Project.location, f.spatial)


async def list_projects(
    session: AsyncSession,
    *,
    filter: ProjectFilter,
    after: str | None,
    limit: int,
    nearest: InputGeometry | None = None,
    offset: int = 0,
) -> Sequence[Row[Any]]:
    """A keyset page by code, or with `nearest` a page by exact distance (`distance_m`)."""
    if nearest is not None:
        located = _filtered(filter).where(Project.location.is_not(None))
        stmt = nearest_first(
            located, Project.location, Project.code, nearest, offset=offset, limit=limit
        )
        return (await session.execute(stmt)).all()
    return await paging.fetch_page(
        session, _filtered(filter), key=Project.code, after=after, limit=limit
    )


async def count_projects(session: AsyncSession, *, filter: ProjectFilter) -> int:
    return await paging.count(session, _filtered(filter))


_BY_CODE = _base().where(Project.code == bindparam("code"))
_BY_IDS = _base().where(Project.id.in_(bindparam("ids", expanding=True)))


async def project_by_code(session: AsyncSession, code: str) -> Row[Any] | None:
    return (await session.execute(_BY_CODE, {"code": code})).first()


async def projects_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Row[Any]]:
    rows = (await session.execute(_BY_IDS, {"ids": list(ids)})).all()
    return {row.id: row for row in rows}
