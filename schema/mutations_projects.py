"""Project mutations (issue #5): projects, project–parcel links, approval items.

Every mutation follows schema/mutation_base.py: a payload with the changed object (null
when refused) and typed `errors`. The order of checks is the same everywhere:

1. the role may perform the action at all (else UNAUTHENTICATED / FORBIDDEN);
2. the objects exist (NOT_FOUND) — reads are city-wide, so this leaks nothing;
3. the county check for every county the write touches (a link: the project's AND the
   parcel's), then one transaction with the actor bound (write_transaction);
4. the geo/writes function validates, locks, compares versions and writes; its typed
   refusals (geo/writes/project_errors.py) become the payload's errors.

A refused write rolls back whole: nothing is stored, no audit row is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import strawberry
from sqlalchemy import select

from geo import enums as E
from geo.geometry_input import GeometryInputError
from geo.models import Parcel as ParcelModel
from geo.models import Project as ProjectModel
from geo.queries import approvals as approval_queries
from geo.queries import parcels as parcel_queries
from geo.queries import projects as project_queries
from geo.writes import approvals as approval_writes
from geo.writes import project_links, projects
from geo.writes.project_errors import InvalidInput, NotFound
from schema import enums as G
from schema.enums import to_domain
from schema.errors import LandguardError
from schema.geometry import GeometryInput, to_geometry
from schema.mutation_base import (
    GeometryError,
    Refused,
    UserError,
    expected_errors,
    write_transaction,
)
from schema.permissions import PERMISSIONS, Action, require
from schema.types import ApprovalItem, Info, Parcel, Project

T = TypeVar("T")
UNSET: Any = strawberry.UNSET


# ----------------------------------------------------------------------------- errors


def _geometry_error(exc: LandguardError, field: str) -> GeometryError:
    ext = dict(exc.extensions or {})
    location = ext.get("location")
    return GeometryError(
        code=str(ext.get("code")),
        message=exc.message,
        field=["input", field],
        reason=ext.get("reason"),
        location=list(location) if location else None,
    )


async def _run(
    info: Info,
    action: Action,
    counties: Callable[[], Awaitable[Sequence[str | None]]],
    work: Callable[[Any], Awaitable[T]],
) -> tuple[T | None, list[UserError]]:
    """Role check, object lookup (`counties` raises NotFound), county check and one
    transaction around `work(session)`; every expected failure as typed errors."""
    actor = info.context.actor
    try:
        if actor is None or action not in PERMISSIONS.get(actor.role, frozenset()):
            require(actor, action, None)  # raises UNAUTHENTICATED / FORBIDDEN
        scope = await counties()
        async with write_transaction(info, action, scope) as session:
            return await work(session), []
    except Exception as exc:
        errors = expected_errors(exc)
        if errors is None:
            raise
        return None, errors


async def _link_change(
    info: Info, project_code: str, parcel_code: str, work: Callable[[Any], Awaitable[bool]]
) -> ProjectParcelPayload:
    """link/unlink: write access to both the project's and the parcel's county, one
    transaction, then both objects as they now are."""

    async def counties() -> list[str | None]:
        return [
            await _project_county(info, project_code, "projectCode"),
            await _parcel_county(info, parcel_code),
        ]

    done, errors = await _run(info, Action.PROJECT_LINK_PARCEL, counties, work)
    if not done:
        return ProjectParcelPayload(project=None, parcel=None, errors=errors)
    return ProjectParcelPayload(
        project=await _project(info, project_code),
        parcel=await _parcel(info, parcel_code),
        errors=[],
    )


async def _project_county(info: Info, code: str, field: str = "code") -> str:
    async with info.context.sessions() as s:
        stmt = select(ProjectModel.county_code).where(ProjectModel.code == code)
        county = (await s.execute(stmt)).scalar()
    if county is None:
        raise NotFound("project", code, field)
    return str(county)


async def _parcel_county(info: Info, code: str) -> str:
    async with info.context.sessions() as s:
        stmt = select(ParcelModel.county_code).where(ParcelModel.code == code)
        county = (await s.execute(stmt)).scalar()
    if county is None:
        raise NotFound("parcel", code, "parcelCode")
    return str(county)


async def _project(info: Info, code: str) -> Project:
    async with info.context.sessions() as s:
        row = await project_queries.project_by_code(s, code)
    return Project.from_row(row)


async def _parcel(info: Info, code: str) -> Parcel:
    async with info.context.sessions() as s:
        row = await parcel_queries.parcel_by_code(s, code, geometry=None)
    return Parcel.from_row(row)


async def _approval_item(info: Info, code: str) -> ApprovalItem:
    async with info.context.sessions() as s:
        row = await approval_queries.approval_item_by_code(s, code, as_of=info.context.today)
    return ApprovalItem.from_row(row)


def _money(value: float | None, field: str) -> Decimal | None:
    return None if value is None else projects.money(value, field)


def _location(value: GeometryInput | None) -> Any:
    if value is None:
        return None
    try:
        return to_geometry(value, "location")
    except LandguardError as exc:
        raise Refused(_geometry_error(exc, "location")) from None
    except GeometryInputError as exc:  # pragma: no cover - to_geometry converts these
        raise Refused(
            GeometryError(code=exc.code, message=exc.reason, field=["input", "location"])
        ) from None


# ----------------------------------------------------------------------------- inputs


@strawberry.input(description="新建项目 A new project (not on the key list: see setProjectKeyList)")
class CreateProjectInput:
    code: str = strawberry.field(description="项目代码 national investment-project code (unique)")
    name: str = strawberry.field(description="项目名称")
    county_code: str = strawberry.field(
        description="所在县（市、区） one of the six county-level units (GB/T 2260)"
    )
    plan_type: G.PlanType  # type: ignore[valid-type]
    total_investment: float = strawberry.field(description="总投资（万元）, ≥ 0, two decimals")
    stage: G.ProjectStage = strawberry.field(  # type: ignore[valid-type]
        default=G.ProjectStage.FILING, description="当前阶段 (default FILING 备案审批)"
    )
    stage_date: dt.date | None = strawberry.field(
        default=None, description="进入当前阶段的日期 (default today; not in the future)"
    )
    annual_target: float | None = strawberry.field(
        default=None, description="年度投资目标（万元）, ≤ totalInvestment"
    )
    industry: str | None = strawberry.field(default=None, description="所属行业")
    dev_zone_code: str | None = strawberry.field(default=None, description="所在开发区代码")
    progress_target: str | None = strawberry.field(default=None, description="进度目标")
    planned_start: dt.date | None = strawberry.field(default=None, description="计划开工")
    planned_finish: dt.date | None = strawberry.field(default=None, description="计划竣工")
    lead_official: str | None = strawberry.field(default=None, description="包联领导")
    lead_official_title: str | None = strawberry.field(default=None, description="领导职务")
    responsible_entity: str | None = strawberry.field(default=None, description="责任主体")
    signing_status: G.SigningStatus | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="招商项目签约状态"
    )
    stats_status: G.StatsStatus = strawberry.field(  # type: ignore[valid-type]
        default=G.StatsStatus.NOT_ELIGIBLE, description="入库纳统状态"
    )
    location: GeometryInput | None = strawberry.field(
        default=None,
        description="项目位置 a Point inside Jincheng (GeoJSON, WKT or EWKT; 4490/4326)",
    )


@strawberry.input(
    description=(
        "修改项目 Change a project read at `version`; only the fields given change (null "
        "clears an optional one). A new `stage` records a dated stage event: forward one "
        "step at a time, back with a `stageNote` reason"
    )
)
class UpdateProjectInput:
    code: str
    version: int = strawberry.field(description="The version you read (STALE_VERSION otherwise)")
    name: str | None = UNSET
    plan_type: G.PlanType | None = UNSET  # type: ignore[valid-type]
    stage: G.ProjectStage | None = UNSET  # type: ignore[valid-type]
    stage_date: dt.date | None = strawberry.field(
        default=None, description="阶段日期 date the new stage was entered (default today)"
    )
    stage_note: str | None = strawberry.field(
        default=None, description="说明 note for the stage event; required when going back"
    )
    total_investment: float | None = UNSET
    annual_target: float | None = UNSET
    industry: str | None = UNSET
    dev_zone_code: str | None = UNSET
    progress_target: str | None = UNSET
    planned_start: dt.date | None = UNSET
    planned_finish: dt.date | None = UNSET
    actual_start: dt.date | None = UNSET
    lead_official: str | None = UNSET
    lead_official_title: str | None = UNSET
    responsible_entity: str | None = UNSET
    signing_status: G.SigningStatus | None = UNSET  # type: ignore[valid-type]
    stats_status: G.StatsStatus | None = UNSET  # type: ignore[valid-type]
    location: GeometryInput | None = UNSET


@strawberry.input(
    description="重点项目清单 Key-list membership (city administrators only): key ⇒ year and ≥ 1 category"
)
class SetProjectKeyListInput:
    code: str
    version: int
    is_key: bool
    key_list_year: int | None = None
    categories: list[G.KeyCategory] = strawberry.field(  # type: ignore[valid-type]
        default_factory=list, description="重点项目来源 the four key-list sources"
    )


@strawberry.input(
    description="项目用地关联 Link a parcel to a project (a parcel serves one active project)"
)
class LinkParcelInput:
    project_code: str
    parcel_code: str
    linked_on: dt.date = strawberry.field(description="关联日期 (not in the future)")


@strawberry.input(description="解除项目用地 End a parcel's link to a project, with the reason")
class UnlinkParcelInput:
    project_code: str
    parcel_code: str
    unlinked_on: dt.date = strawberry.field(description="解除日期 (not before linkedOn)")
    reason: str = strawberry.field(description="解除原因 (not blank)")


@strawberry.input(description="新建审批事项 A new approval item of a project (status NOT_STARTED)")
class CreateApprovalItemInput:
    project_code: str
    item_type: G.ApprovalItemType  # type: ignore[valid-type]
    name: str = strawberry.field(description="事项名称")
    handling_level: G.HandlingLevel  # type: ignore[valid-type]
    code: str | None = strawberry.field(
        default=None, description="事项代码 (default: <projectCode>-A<nn>, the next free number)"
    )
    measures: str | None = strawberry.field(default=None, description="办理措施")
    deadline: dt.date | None = strawberry.field(default=None, description="办理时限")
    leader: str | None = strawberry.field(default=None, description="责任领导")
    handler: str | None = strawberry.field(default=None, description="承办人")
    handler_phone: str | None = strawberry.field(default=None, description="承办人电话")


@strawberry.input(
    description=(
        "修改审批事项 Change an item read at `version`. Status: NOT_STARTED → IN_PROGRESS → "
        "COMPLETED; NOT_STARTED/IN_PROGRESS → BLOCKED → IN_PROGRESS; COMPLETED is final"
    )
)
class UpdateApprovalItemInput:
    code: str
    version: int
    status: G.ApprovalStatus | None = UNSET  # type: ignore[valid-type]
    status_date: dt.date | None = strawberry.field(
        default=None, description="状态日期 (default today): startedOn / completedOn"
    )
    deadline: dt.date | None = UNSET
    handler: str | None = UNSET
    handler_phone: str | None = UNSET
    leader: str | None = UNSET
    measures: str | None = UNSET
    handling_level: G.HandlingLevel | None = UNSET  # type: ignore[valid-type]
    name: str | None = UNSET


# ----------------------------------------------------------------------------- payloads


@strawberry.type(description="createProject 的结果")
class CreateProjectPayload:
    project: Project | None
    errors: list[UserError]


@strawberry.type(description="updateProject 的结果")
class UpdateProjectPayload:
    project: Project | None
    errors: list[UserError]


@strawberry.type(description="setProjectKeyList 的结果")
class SetProjectKeyListPayload:
    project: Project | None
    errors: list[UserError]


@strawberry.type(
    description="linkParcel / unlinkParcel 的结果: the project and the parcel after the change"
)
class ProjectParcelPayload:
    project: Project | None
    parcel: Parcel | None
    errors: list[UserError]


@strawberry.type(description="createApprovalItem / updateApprovalItem 的结果")
class ApprovalItemPayload:
    approval_item: ApprovalItem | None
    errors: list[UserError]


# ----------------------------------------------------------------------------- helpers


def _given(obj: Any, names: Sequence[str]) -> dict[str, Any]:
    return {n: getattr(obj, n) for n in names if getattr(obj, n) is not UNSET}


_PROJECT_ENUMS = {
    "plan_type": E.PlanType,
    "signing_status": E.SigningStatus,
    "stats_status": E.StatsStatus,
}


def _project_changes(data: UpdateProjectInput, today: dt.date) -> projects.ProjectChanges:
    values = _given(data, projects.EDITABLE)
    for name, enum in _PROJECT_ENUMS.items():
        if name in values:
            values[name] = to_domain(enum, values[name])
    for name in ("total_investment", "annual_target"):
        if name in values:
            values[name] = _money(values[name], projects._camel(name))
    if "location" in values:
        values["location"] = _location(values["location"])
    stage = None
    if data.stage is not UNSET and data.stage is not None:
        stage = projects.StageChange(
            stage=to_domain(E.ProjectStage, data.stage),  # type: ignore[arg-type]
            entered_on=data.stage_date or today,
            note=data.stage_note,
        )
    elif data.stage is None:
        raise InvalidInput([("stage", "stage cannot be cleared")])
    return projects.ProjectChanges(values=values, stage=stage)


# ----------------------------------------------------------------------------- mutations


@strawberry.type
class ProjectMutation:
    @strawberry.mutation(
        description="新建项目 Create a project in one of the six counties (county officers: own county)"
    )
    async def create_project(self, info: Info, input: CreateProjectInput) -> CreateProjectPayload:
        ctx = info.context

        async def counties() -> list[str | None]:
            return [input.county_code]

        async def work(session: Any) -> str:
            values = projects.ProjectValues(
                name=input.name,
                plan_type=to_domain(E.PlanType, input.plan_type),  # type: ignore[arg-type]
                stage=to_domain(E.ProjectStage, input.stage),  # type: ignore[arg-type]
                total_investment=projects.money(input.total_investment, "totalInvestment"),
                annual_target=_money(input.annual_target, "annualTarget"),
                industry=input.industry,
                dev_zone_code=input.dev_zone_code,
                progress_target=input.progress_target,
                planned_start=input.planned_start,
                planned_finish=input.planned_finish,
                lead_official=input.lead_official,
                lead_official_title=input.lead_official_title,
                responsible_entity=input.responsible_entity,
                signing_status=to_domain(E.SigningStatus, input.signing_status),
                stats_status=to_domain(E.StatsStatus, input.stats_status),  # type: ignore[arg-type]
                location=_location(input.location),
            )
            await projects.create_project(
                session,
                code=input.code,
                county_code=input.county_code,
                values=values,
                stage_date=input.stage_date or ctx.today,
                today=ctx.today,
                actor_sub=ctx.actor.sub,  # type: ignore[union-attr]
            )
            return input.code

        code, errors = await _run(info, Action.PROJECT_CREATE, counties, work)
        project = await _project(info, code) if code else None
        return CreateProjectPayload(project=project, errors=errors)

    @strawberry.mutation(
        description="修改项目 Update a project (optimistic: `version`); a stage change is dated"
    )
    async def update_project(self, info: Info, input: UpdateProjectInput) -> UpdateProjectPayload:
        ctx = info.context

        async def counties() -> list[str | None]:
            return [await _project_county(info, input.code)]

        async def work(session: Any) -> str:
            await projects.update_project(
                session,
                code=input.code,
                version=input.version,
                changes=_project_changes(input, ctx.today),
                today=ctx.today,
                actor_sub=ctx.actor.sub,  # type: ignore[union-attr]
            )
            return input.code

        code, errors = await _run(info, Action.PROJECT_UPDATE, counties, work)
        project = await _project(info, code) if code else None
        return UpdateProjectPayload(project=project, errors=errors)

    @strawberry.mutation(
        description="重点项目清单 Put a project on or off the key list (city administrators only)"
    )
    async def set_project_key_list(
        self, info: Info, input: SetProjectKeyListInput
    ) -> SetProjectKeyListPayload:
        async def counties() -> list[str | None]:
            return [await _project_county(info, input.code)]

        async def work(session: Any) -> str:
            await projects.set_key_list(
                session,
                code=input.code,
                version=input.version,
                is_key=input.is_key,
                key_list_year=input.key_list_year,
                categories=[to_domain(E.KeyCategory, c) for c in input.categories],  # type: ignore[misc]
            )
            return input.code

        code, errors = await _run(info, Action.PROJECT_SET_KEY, counties, work)
        project = await _project(info, code) if code else None
        return SetProjectKeyListPayload(project=project, errors=errors)

    @strawberry.mutation(
        description=(
            "项目用地关联 Link a parcel to a project; needs write access to both counties. "
            "PARCEL_ALREADY_LINKED (with the other project's code) when it serves one already"
        )
    )
    async def link_parcel(self, info: Info, input: LinkParcelInput) -> ProjectParcelPayload:
        ctx = info.context

        async def work(session: Any) -> bool:
            await project_links.link_parcel(
                session,
                project_code=input.project_code,
                parcel_code=input.parcel_code,
                linked_on=input.linked_on,
                today=ctx.today,
            )
            return True

        return await _link_change(info, input.project_code, input.parcel_code, work)

    @strawberry.mutation(
        description="解除项目用地 End a parcel's active link to a project (dated, with a reason)"
    )
    async def unlink_parcel(self, info: Info, input: UnlinkParcelInput) -> ProjectParcelPayload:
        ctx = info.context

        async def work(session: Any) -> bool:
            await project_links.unlink_parcel(
                session,
                project_code=input.project_code,
                parcel_code=input.parcel_code,
                unlinked_on=input.unlinked_on,
                reason=input.reason,
                today=ctx.today,
            )
            return True

        return await _link_change(info, input.project_code, input.parcel_code, work)

    @strawberry.mutation(
        description="新建审批事项 Create an approval item; its county is its project's"
    )
    async def create_approval_item(
        self, info: Info, input: CreateApprovalItemInput
    ) -> ApprovalItemPayload:
        async def counties() -> list[str | None]:
            return [await _project_county(info, input.project_code, "projectCode")]

        async def work(session: Any) -> str:
            new_id = await approval_writes.create_approval_item(
                session,
                project_code=input.project_code,
                code=input.code,
                item_type=to_domain(E.ApprovalItemType, input.item_type),  # type: ignore[arg-type]
                name=input.name,
                handling_level=to_domain(E.HandlingLevel, input.handling_level),  # type: ignore[arg-type]
                measures=input.measures,
                deadline=input.deadline,
                leader=input.leader,
                handler=input.handler,
                handler_phone=input.handler_phone,
            )
            stmt = select(approval_writes.ApprovalItem.code).where(
                approval_writes.ApprovalItem.id == new_id
            )
            return str((await session.execute(stmt)).scalar_one())

        code, errors = await _run(info, Action.APPROVAL_ITEM_CREATE, counties, work)
        item = await _approval_item(info, code) if code else None
        return ApprovalItemPayload(approval_item=item, errors=errors)

    @strawberry.mutation(
        description="修改审批事项 Update an approval item: status (dated), deadline, handler, leader …"
    )
    async def update_approval_item(
        self, info: Info, input: UpdateApprovalItemInput
    ) -> ApprovalItemPayload:
        ctx = info.context

        async def counties() -> list[str | None]:
            async with ctx.sessions() as s:
                county = await approval_writes.approval_item_county(s, input.code)
            if county is None:
                raise NotFound("approval_item", input.code, "code")
            return [county]

        async def work(session: Any) -> str:
            values = _given(input, approval_writes.EDITABLE)
            if "handling_level" in values:
                values["handling_level"] = to_domain(E.HandlingLevel, values["handling_level"])
            if input.status is None:
                raise InvalidInput([("status", "status cannot be cleared")])
            status = None if input.status is UNSET else to_domain(E.ApprovalStatus, input.status)
            await approval_writes.update_approval_item(
                session,
                code=input.code,
                version=input.version,
                values=values,
                status=status,
                status_date=input.status_date or ctx.today,
                today=ctx.today,
            )
            return input.code

        code, errors = await _run(info, Action.APPROVAL_ITEM_UPDATE, counties, work)
        item = await _approval_item(info, code) if code else None
        return ApprovalItemPayload(approval_item=item, errors=errors)
