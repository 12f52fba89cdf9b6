"""Root query fields. Each root resolver opens its own session (fields run concurrently)."""

from __future__ import annotations

import datetime as dt

import strawberry

from geo import enums as E
from geo.geometry_input import InputGeometry
from geo.queries import admin, approvals, parcels, projects, quotas, zones
from schema import enums as G
from schema.enums import to_domain
from schema.errors import bad_input
from schema.geometry import (
    GeometryInput,
    SpatialFilterInput,
    preload_options,
    to_geometry,
    to_spatial,
)
from schema.inputs import ApprovalItemFilter, ParcelFilter, ProjectFilter, ProtectedZoneFilter
from schema.pagination import Connection, decode_cursor, decode_offset, page_size
from schema.types import AdminArea, ApprovalItem, Info, LandQuota, Parcel, Project, ProtectedZone

CODE_MAX = 40


def _code(value: str, name: str) -> str:
    if not value or len(value) > CODE_MAX:
        raise bad_input(f"`{name}` must be 1–{CODE_MAX} characters", argument=name)
    return value


@strawberry.input(description="排序 Ordering; default is by code")
class OrderByInput:
    nearest_to: GeometryInput | None = strawberry.field(
        default=None,
        description="Nearest first by exact spheroidal distance (metres, in `distanceM` of each node) 由近及远",
    )


def _ordering(
    order_by: OrderByInput | None, after: str | None
) -> tuple[InputGeometry | None, str | None, int | None]:
    """(nearest point, keyset cursor, offset): distance ordering pages by position."""
    if order_by is None or order_by.nearest_to is None:
        return None, decode_cursor(after), None
    return to_geometry(order_by.nearest_to, "orderBy.nearestTo"), None, decode_offset(after)


def _limit(info: Info, first: int | None) -> int:
    cfg = info.context.config
    return page_size(first, default=cfg.default_page_size, maximum=cfg.max_page_size)


@strawberry.type
class Query:
    @strawberry.field(
        description="行政区 Admin areas: the city, six county-level units and the development zone"
    )
    async def admin_areas(
        self,
        info: Info,
        kind: G.AdminKind | None = None,  # type: ignore[valid-type]
        spatial: SpatialFilterInput | None = None,
    ) -> list[AdminArea]:
        spatial_filter = to_spatial(spatial)
        async with info.context.sessions() as s:
            rows = await admin.list_admin_areas(
                s,
                kind=to_domain(E.AdminKind, kind),
                spatial_filter=spatial_filter,
                geometry=(geometry := preload_options(info, "geometry")),
            )
        return [AdminArea.from_row(r, geometry) for r in rows]

    @strawberry.field(description="One admin area by GB/T 2260 code; null when unknown")
    async def admin_area(self, info: Info, code: str) -> AdminArea | None:
        async with info.context.sessions() as s:
            rows = await admin.admin_areas_by_code(
                s,
                [_code(code, "code")],
                geometry=(geometry := preload_options(info, "geometry")),
            )
        row = rows.get(code)
        return AdminArea.from_row(row, geometry) if row else None

    @strawberry.field(description="项目清单 Projects, ordered by code (Relay connection)")
    async def projects(
        self,
        info: Info,
        filter: ProjectFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        order_by: OrderByInput | None = None,
    ) -> Connection[Project]:
        limit = _limit(info, first)
        f = (filter or ProjectFilter()).to_geo()
        nearest, after_code, offset = _ordering(order_by, after)
        async with info.context.sessions() as s:
            rows = await projects.list_projects(
                s, filter=f, after=after_code, limit=limit, nearest=nearest, offset=offset or 0
            )

        async def count() -> int:
            async with info.context.sessions() as s:
                return await projects.count_projects(s, filter=f)

        return Connection.build(
            rows, limit=limit, to_node=Project.from_row, count=count, offset=offset
        )

    @strawberry.field(description="One project by code; null when unknown")
    async def project(self, info: Info, code: str) -> Project | None:
        async with info.context.sessions() as s:
            row = await projects.project_by_code(s, _code(code, "code"))
        return Project.from_row(row) if row else None

    @strawberry.field(description="地块清单 Parcels, ordered by code (Relay connection)")
    async def parcels(
        self,
        info: Info,
        filter: ParcelFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        order_by: OrderByInput | None = None,
    ) -> Connection[Parcel]:
        limit = _limit(info, first)
        f = (filter or ParcelFilter()).to_geo()
        nearest, after_code, offset = _ordering(order_by, after)
        async with info.context.sessions() as s:
            rows = await parcels.list_parcels(
                s,
                filter=f,
                after=after_code,
                limit=limit,
                nearest=nearest,
                offset=offset or 0,
                geometry=(geometry := preload_options(info, "edges", "node", "geometry")),
            )

        async def count() -> int:
            async with info.context.sessions() as s:
                return await parcels.count_parcels(s, filter=f)

        return Connection.build(
            rows,
            limit=limit,
            to_node=lambda r: Parcel.from_row(r, geometry),
            count=count,
            offset=offset,
        )

    @strawberry.field(description="One parcel by code; null when unknown")
    async def parcel(self, info: Info, code: str) -> Parcel | None:
        async with info.context.sessions() as s:
            row = await parcels.parcel_by_code(
                s,
                _code(code, "code"),
                geometry=(geometry := preload_options(info, "geometry")),
            )
        return Parcel.from_row(row, geometry) if row else None

    @strawberry.field(
        description="用地计划指标 Land quotas of a year, per holder and kind, from the ledger"
    )
    async def land_quotas(
        self, info: Info, year: int, holder_code: str | None = None
    ) -> list[LandQuota]:
        if not 2000 <= year <= 2100:
            raise bad_input("`year` must be between 2000 and 2100", argument="year")
        async with info.context.sessions() as s:
            rows = await quotas.land_quotas(s, year=year, holder_code=holder_code)
        return [LandQuota.from_row(r) for r in rows]

    @strawberry.field(
        description="审批事项清单 Approval items, ordered by code; overdue judged as of `asOf` (default today)"
    )
    async def approval_items(
        self,
        info: Info,
        filter: ApprovalItemFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        as_of: dt.date | None = None,
    ) -> Connection[ApprovalItem]:
        limit = _limit(info, first)
        f = (filter or ApprovalItemFilter()).to_geo()
        day = as_of or info.context.today
        async with info.context.sessions() as s:
            rows = await approvals.list_approval_items(
                s, filter=f, as_of=day, after=decode_cursor(after), limit=limit
            )

        async def count() -> int:
            async with info.context.sessions() as s:
                return await approvals.count_approval_items(s, filter=f, as_of=day)

        return Connection.build(rows, limit=limit, to_node=ApprovalItem.from_row, count=count)

    @strawberry.field(description="三区三线 Protected zones, ordered by code")
    async def protected_zones(
        self,
        info: Info,
        filter: ProtectedZoneFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        order_by: OrderByInput | None = None,
    ) -> Connection[ProtectedZone]:
        limit = _limit(info, first)
        f = (filter or ProtectedZoneFilter()).to_geo()
        nearest, after_code, offset = _ordering(order_by, after)
        async with info.context.sessions() as s:
            rows = await zones.list_zones(
                s,
                filter=f,
                after=after_code,
                limit=limit,
                nearest=nearest,
                offset=offset or 0,
                geometry=(geometry := preload_options(info, "edges", "node", "geometry")),
            )

        async def count() -> int:
            async with info.context.sessions() as s:
                return await zones.count_zones(s, filter=f)

        return Connection.build(
            rows,
            limit=limit,
            to_node=lambda r: ProtectedZone.from_row(r, geometry),
            count=count,
            offset=offset,
        )
