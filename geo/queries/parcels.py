"""Parcels (地块) and their active project link."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.enums import LandClass, LandStatus
from geo.geometry_input import InputGeometry
from geo.models import Parcel, ParcelStatusEvent, Project, ProjectParcel
from geo.queries import paging
from geo.queries.geojson import GeometryOptions, as_geojson
from geo.spatial import SpatialFilter, apply_spatial, nearest_first


@dataclass(frozen=True)
class ParcelFilter:
    county_code: str | None = None
    project_code: str | None = None
    procedure_status: LandStatus | None = None
    land_class: LandClass | None = None
    is_key: bool | None = None
    spatial: SpatialFilter | None = None


_ACTIVE_LINK = and_(ProjectParcel.parcel_id == Parcel.id, ProjectParcel.unlinked_on.is_(None))


def _base(geometry: GeometryOptions | None) -> Select[Any]:
    cols: list[Any] = [
        Parcel.id,
        Parcel.code,
        Parcel.name,
        Parcel.county_code,
        Parcel.land_class,
        Parcel.procedure_status,
        Parcel.status_date,
        Parcel.area_m2,
        Parcel.gk_srid,
        Parcel.new_construction_area_m2,
        Parcel.farmland_area_m2,
        Parcel.supply_method,
        Parcel.agreed_start_date,
        Parcel.approval_doc,
        Parcel.version,
        ProjectParcel.project_id,
    ]
    if geometry is not None:
        cols.append(as_geojson(Parcel.geom, geometry).label("geojson"))
    return select(*cols).outerjoin(ProjectParcel, _ACTIVE_LINK)


def _filtered(f: ParcelFilter, geometry: GeometryOptions | None) -> Select[Any]:
    return _apply(_base(geometry), f, linked=True)


def _apply(stmt: Select[Any], f: ParcelFilter, *, linked: bool) -> Select[Any]:
    """The filter's conditions on a statement over `parcel` (`linked`: it already has the
    active project link joined); the project tables are joined only when a condition needs them."""
    if f.county_code is not None:
        stmt = stmt.where(Parcel.county_code == f.county_code)
    if f.project_code is not None or f.is_key is not None:
        if not linked:
            stmt = stmt.outerjoin(ProjectParcel, _ACTIVE_LINK)
        stmt = stmt.outerjoin(Project, Project.id == ProjectParcel.project_id)
        if f.project_code is not None:
            stmt = stmt.where(Project.code == f.project_code)
        if f.is_key is not None:
            # a parcel without an active project is not a key-project parcel
            stmt = stmt.where(func.coalesce(Project.is_key, False).is_(f.is_key))
    if f.procedure_status is not None:
        stmt = stmt.where(Parcel.procedure_status == f.procedure_status)
    if f.land_class is not None:
        stmt = stmt.where(Parcel.land_class == f.land_class)
    return apply_spatial(stmt, Parcel.geom, f.spatial)


async def list_parcels(
    session: AsyncSession,
    *,
    filter: ParcelFilter,
    after: str | None,
    limit: int,
    geometry: GeometryOptions | None,
    nearest: InputGeometry | None = None,
    offset: int = 0,
) -> Sequence[Row[Any]]:
    """A keyset page by code, or with `nearest` a page by exact distance (`distance_m`)."""
    stmt = _filtered(filter, geometry)
    if nearest is not None:
        stmt = nearest_first(stmt, Parcel.geom, Parcel.code, nearest, offset=offset, limit=limit)
        return (await session.execute(stmt)).all()
    return await paging.fetch_page(session, stmt, key=Parcel.code, after=after, limit=limit)


async def count_parcels(session: AsyncSession, *, filter: ParcelFilter) -> int:
    """count(*) over `parcel` alone unless a project condition needs the link (the planner
    does not drop an unused LEFT JOIN here: 62 ms instead of 6 ms on a 27k-parcel county)."""
    stmt = _apply(select(func.count()).select_from(Parcel), filter, linked=False)
    return int(await session.scalar(stmt) or 0)


async def parcel_by_code(
    session: AsyncSession, code: str, *, geometry: GeometryOptions | None
) -> Row[Any] | None:
    stmt = _base(geometry).where(Parcel.code == code)
    return (await session.execute(stmt)).first()


async def parcels_by_project(
    session: AsyncSession, project_ids: Sequence[int]
) -> dict[int, list[Row[Any]]]:
    """Active parcels of each project, ordered by code: one statement for the whole batch."""
    grouped: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in (await session.execute(_BY_PROJECT, {"ids": list(project_ids)})).all():
        grouped[row.project_id].append(row)
    return grouped


async def geometry_by_id(
    session: AsyncSession, ids: Sequence[int], options: GeometryOptions
) -> dict[int, str]:
    stmt = select(Parcel.id, as_geojson(Parcel.geom, options)).where(Parcel.id.in_(ids))
    return {pid: gj for pid, gj in (await session.execute(stmt)).all()}


async def status_history(
    session: AsyncSession, parcel_ids: Sequence[int]
) -> dict[int, list[Row[Any]]]:
    stmt = (
        select(
            ParcelStatusEvent.parcel_id,
            ParcelStatusEvent.status,
            ParcelStatusEvent.occurred_on,
            ParcelStatusEvent.actor,
            ParcelStatusEvent.reason,
        )
        .where(ParcelStatusEvent.parcel_id.in_(parcel_ids))
        .order_by(ParcelStatusEvent.parcel_id, ParcelStatusEvent.occurred_on, ParcelStatusEvent.id)
    )
    grouped: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        grouped[row.parcel_id].append(row)
    return grouped


# Built once: DataLoader batches reuse the statement (and its compiled form).
_BY_PROJECT = (
    _base(None)
    .where(ProjectParcel.project_id.in_(bindparam("ids", expanding=True)))
    .order_by(ProjectParcel.project_id, Parcel.code)
)
