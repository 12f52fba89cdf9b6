"""智能预警、四级调度、前期手续 / 用地保障 专班清单 and the monthly 通报 in GraphQL.

Thin resolvers over geo/warnings.py, geo/dispatch.py and geo/task_lists.py (rules:
geo/warning_rules.py, geo/dispatch_rules.py). Each root resolver opens its own session;
mutations go through schema/mutation_base.write_transaction.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from types import SimpleNamespace
from typing import Annotated, Any

import strawberry
from sqlalchemy.exc import IntegrityError

from geo import dispatch as D
from geo import dispatch_rules as DR
from geo import task_lists as T
from geo import warning_rules as W
from geo import warnings as Wq
from geo.crs import M2_PER_MU
from geo.enums import DispatchLevel as EDispatchLevel
from geo.enums import IssueCategory as EIssueCategory
from geo.enums import IssueStatus as EIssueStatus
from schema import enums as G
from schema.enums import _graphql_enum, to_domain
from schema.errors import ErrorCode, LandguardError, bad_input
from schema.mutation_base import (
    ERROR_TYPES,
    InputError,
    NotFoundError,
    Refused,
    StaleVersionError,
    UserError,
    expected_errors,
    write_transaction,
)
from schema.pagination import Connection, _encode, _raw, page_size
from schema.permissions import Action
from schema.types import Info

# ------------------------------------------------------------------ enums

WarningSeverity = _graphql_enum(W.Severity, "预警等级 Warning severity (geo/warning_rules.py)")
WarningObjectType = _graphql_enum(W.WarningObject, "预警对象 What a warning concerns")
DispatchLevel = _graphql_enum(EDispatchLevel, "调度层级 Four-level dispatch level (四级调度)")
IssueCategory = _graphql_enum(EIssueCategory, "问题类别 Category of an issue (堵点难点)")
IssueStatus = _graphql_enum(EIssueStatus, "问题状态 Status of an issue")

_WarningCodeEnum = Enum(  # type: ignore[misc]
    "WarningCode", {r.code: r.code for r in W.RULES}, type=str
)
WarningCode = strawberry.enum(_WarningCodeEnum, description="预警规则 Warning rule code")
for _v in WarningCode.__strawberry_definition__.values:
    _r = W.RULES_BY_CODE[_v.value]
    _v.description = f"{_r.zh_title} — {_r.en_title} ({_r.severity.zh} {_r.severity.value})"


def _day(info: Info, as_of: dt.date | None, name: str = "asOf") -> dt.date:
    today = info.context.today
    if as_of is not None and as_of > today:
        raise bad_input(f"`{name}` must not be after today ({today.isoformat()})", argument=name)
    return as_of or today


# ------------------------------------------------------------------ warnings


@strawberry.type(description="预警依据 One number behind a warning")
class WarningFigure:
    name: str
    label: str = strawberry.field(description="中文名称 Chinese label")
    unit: str = strawberry.field(description="单位 unit (天, 万元, %, m², date …)")
    value: float | None = strawberry.field(description="numeric value (null for text)")
    text: str | None = strawberry.field(description="the value as text (dates, stages, lists)")


@strawberry.type(
    name="Warning", description="智能预警 A warning raised by a rule of geo/warning_rules.py"
)
class RuleWarning:
    code: WarningCode  # type: ignore[valid-type]
    severity: WarningSeverity  # type: ignore[valid-type]
    object_type: WarningObjectType  # type: ignore[valid-type]
    object_code: str = strawberry.field(description="编码 of the object the warning concerns")
    object_name: str
    project_code: str | None
    county_code: str | None
    title: str = strawberry.field(description="预警名称 (Chinese)")
    title_en: str
    message: str = strawberry.field(description="预警内容 (Chinese)")
    message_en: str
    figures: list[WarningFigure]

    @classmethod
    def from_row(cls, row: Any) -> RuleWarning:
        rule = W.RULES_BY_CODE[row.rule]
        values = dict(row.figures or {})
        figures = []
        for f in rule.figures:
            v = values.get(f.name)
            is_num = isinstance(v, int | float) and not isinstance(v, bool)
            figures.append(
                WarningFigure(
                    name=f.name,
                    label=f.zh,
                    unit=f.unit,
                    value=float(v) if is_num else None,
                    text=None
                    if is_num or v is None
                    else ("、".join(map(str, v)) if isinstance(v, list) else str(v)),
                )
            )
        return cls(
            code=WarningCode(rule.code),
            severity=WarningSeverity(row.severity),
            object_type=WarningObjectType(row.object_type),
            object_code=row.object_code,
            object_name=row.object_name,
            project_code=row.project_code,
            county_code=row.county_code,
            title=rule.zh_title,
            title_en=rule.en_title,
            message=rule.message("zh", values, row.object_name),
            message_en=rule.message("en", values, row.object_name),
            figures=figures,
        )


@strawberry.input(description="预警筛选 Warning filter; all given conditions must hold")
class WarningFilterInput:
    county_code: str | None = strawberry.field(default=None, description="县（市、区）代码")
    project_code: str | None = strawberry.field(default=None, description="项目编码")
    severity: list[WarningSeverity] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="预警等级 any of these"
    )
    codes: list[WarningCode] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="预警规则 any of these"
    )

    def to_geo(self) -> Wq.WarningFilter:
        return Wq.WarningFilter(
            county_code=self.county_code,
            project_code=self.project_code,
            severities=tuple(s.value for s in self.severity) if self.severity else None,
            codes=tuple(c.value for c in self.codes) if self.codes else None,
        )


WARNING_CURSOR = "lg1w:"


# ------------------------------------------------------------------ issues and dispatch


@strawberry.type(description="问题提级记录 One dated escalation of an issue (四级调度)")
class IssueEscalation:
    from_level: DispatchLevel  # type: ignore[valid-type]
    to_level: DispatchLevel  # type: ignore[valid-type]
    escalated_on: dt.date
    reason: str


@strawberry.type(
    description="问题台账 An issue (bottleneck 堵点难点) of a project and its dispatch"
)
class ProjectIssue:
    code: str
    project_code: str
    project_name: str
    county_code: str
    category: IssueCategory  # type: ignore[valid-type]
    title: str
    description: str | None
    level: DispatchLevel = strawberry.field(description="当前调度层级")  # type: ignore[valid-type]
    status: IssueStatus  # type: ignore[valid-type]
    raised_on: dt.date
    due_date: dt.date | None = strawberry.field(description="本层级办结时限")
    resolved_on: dt.date | None
    version: int
    escalations: list[IssueEscalation]

    @classmethod
    def from_row(cls, row: Any) -> ProjectIssue:
        return cls(
            code=row.code,
            project_code=row.project_code,
            project_name=row.project_name,
            county_code=row.county_code,
            category=IssueCategory(str(row.category)),
            title=row.title,
            description=row.description,
            level=DispatchLevel(str(row.level)),
            status=IssueStatus(str(row.status)),
            raised_on=row.raised_on,
            due_date=row.due_date,
            resolved_on=row.resolved_on,
            version=row.version,
            escalations=[
                IssueEscalation(
                    from_level=DispatchLevel(e["from_level"]),
                    to_level=DispatchLevel(e["to_level"]),
                    escalated_on=dt.date.fromisoformat(e["escalated_on"]),
                    reason=e["reason"],
                )
                for e in row.escalations or []
            ],
        )


@strawberry.type(description="调度议题 An issue on a level's meeting agenda")
class AgendaItem:
    issue: ProjectIssue
    level_due_date: dt.date | None = strawberry.field(
        description="该层级办结时限 The due date at this level (rebuilt for past dates)"
    )
    overdue: bool = strawberry.field(description="逾期: that due date is before the agenda date")
    days_overdue: int


@strawberry.type(
    description="调度会议议题 What a level's next meeting must handle (cadence: "
    "geo/dispatch_rules.py — 指挥部办公室每旬, 分管副市长/常务副市长每月, 市长双月)"
)
class DispatchAgenda:
    level: DispatchLevel  # type: ignore[valid-type]
    date: dt.date
    meeting_date: dt.date = strawberry.field(description="下次会议日期 next meeting on or after")
    items: list[AgendaItem]
    overdue_count: int


# ------------------------------------------------------------------ task-force lists


@strawberry.type(description="前期手续清单条目 One approval item on the task-force list")
class ApprovalTaskItem:
    code: str
    name: str
    item_type: G.ApprovalItemType  # type: ignore[valid-type]
    handling_level: G.HandlingLevel = strawberry.field(description="办理层级")  # type: ignore[valid-type]
    measures: str | None = strawberry.field(description="办理措施")
    deadline: dt.date | None = strawberry.field(description="办理时限")
    leader: str | None = strawberry.field(description="责任领导")
    handler: str | None = strawberry.field(description="承办人")
    status: G.ApprovalStatus  # type: ignore[valid-type]
    project_code: str
    project_name: str
    county_code: str
    county_name: str
    overdue: bool
    due_this_week: bool = strawberry.field(description="本周到期")
    days_overdue: int


@strawberry.type(description="前期手续统计 Approval-item counts of a county or a project")
class ApprovalTally:
    county_code: str
    county_name: str
    project_code: str | None = strawberry.field(description="null on a county total")
    project_name: str | None
    total: int
    open: int = strawberry.field(description="未办结")
    completed: int
    blocked: int = strawberry.field(description="受阻")
    overdue: int = strawberry.field(description="逾期")
    due_this_week: int = strawberry.field(description="本周到期")


def _tally(r: Any) -> ApprovalTally:
    return ApprovalTally(
        county_code=r.county_code,
        county_name=r.county_name,
        project_code=None if r.county_total else r.project_code,
        project_name=None if r.county_total else r.project_name,
        total=r.total,
        open=r.open,
        completed=r.completed,
        blocked=r.blocked,
        overdue=r.overdue,
        due_this_week=r.due_this_week,
    )


@strawberry.type(
    description="前期手续专班审批事项清单 The approval-item list of the pre-construction task force "
    "(weekly dispatch, monthly bulletin); week = ISO week (Mon–Sun) of `asOf`"
)
class ApprovalTaskList:
    as_of: dt.date
    week_start: dt.date
    week_end: dt.date
    items: list[ApprovalTaskItem]
    counties: list[ApprovalTally] = strawberry.field(description="按县统计")
    projects: list[ApprovalTally] = strawberry.field(description="按项目统计")


def approval_item(r: Any) -> ApprovalTaskItem:
    return ApprovalTaskItem(
        code=r.code,
        name=r.name,
        item_type=G.ApprovalItemType(str(r.item_type)),
        handling_level=G.HandlingLevel(str(r.handling_level)),
        measures=r.measures,
        deadline=r.deadline,
        leader=r.leader,
        handler=r.handler,
        status=G.ApprovalStatus(str(r.status)),
        project_code=r.project_code,
        project_name=r.project_name,
        county_code=r.county_code,
        county_name=r.county_name,
        overdue=bool(r.overdue),
        due_this_week=bool(r.due_this_week),
        days_overdue=int(r.days_overdue),
    )


@strawberry.type(
    description="用地需求和问题清单条目 A key project with unmet land need or a land issue"
)
class LandTaskEntry:
    project_code: str
    project_name: str
    priority_tier: int | None = strawberry.field(description="调节库优先序 (null: issue only)")
    planned_start: dt.date | None
    demand_m2: float = strawberry.field(description="未批新增建设用地需求 m²")
    demand_mu: float
    covered_m2: float = strawberry.field(description="县级剩余指标可覆盖 m²")
    unmet_m2: float = strawberry.field(description="缺口 m²")
    unmet_mu: float
    conflict: bool = strawberry.field(description="三区三线冲突")
    outside_urban_parcels: int = strawberry.field(description="城镇开发边界外地块数")
    open_land_issues: int = strawberry.field(description="未解决用地问题数")
    issue_titles: str | None
    problems: list[str] = strawberry.field(description="问题 (Chinese reasons)")


@strawberry.type(description="用地专题会县级清单 One county's group on the land meeting list")
class CountyLandTaskList:
    county_code: str
    county_name: str
    remaining_quota_m2: float = strawberry.field(description="剩余新增建设用地指标 m²")
    entries: list[LandTaskEntry]


def land_entry(e: T.LandEntry) -> LandTaskEntry:
    mu = M2_PER_MU
    return LandTaskEntry(
        project_code=e.project_code,
        project_name=e.project_name,
        priority_tier=e.tier,
        planned_start=e.planned_start,
        demand_m2=round(e.demand_m2, 2),
        demand_mu=round(e.demand_m2 / mu, 2),
        covered_m2=round(e.covered_m2, 2),
        unmet_m2=round(e.unmet_m2, 2),
        unmet_mu=round(e.unmet_m2 / mu, 2),
        conflict=e.conflict,
        outside_urban_parcels=e.outside_urban_parcels,
        open_land_issues=e.open_land_issues,
        issue_titles=e.issue_titles,
        problems=e.problems,
    )


@strawberry.type(description="月度通报 One county's line of the monthly bulletin (key projects)")
class CountyBulletin:
    county_code: str
    county_name: str
    month: int = strawberry.field(description="截至月份 M (时序进度 = M ÷ 12)")
    key_projects: int
    started: int = strawberry.field(description="已开工")
    annual_target: float = strawberry.field(description="年度计划投资 万元")
    ytd: float = strawberry.field(description="累计完成投资 万元")
    completion_pct: float | None = strawberry.field(description="投资完成率 %")
    time_pct: float = strawberry.field(description="时序进度 %")
    severe: int = strawberry.field(description="严重预警")
    warning: int = strawberry.field(description="预警")
    info: int = strawberry.field(description="提示")
    overdue_items: int = strawberry.field(description="超期审批事项")
    overdue_issues: int = strawberry.field(description="逾期问题")


def bulletin_line(r: Any) -> CountyBulletin:
    return CountyBulletin(
        county_code=r.county_code,
        county_name=r.county_name,
        month=int(r.month),
        key_projects=r.key_projects,
        started=r.started,
        annual_target=float(r.annual_target),
        ytd=float(r.ytd),
        completion_pct=T.pct(r.completion_pct),
        time_pct=float(r.time_pct),
        severe=r.severe,
        warning=r.warning,
        info=r.info,
        overdue_items=r.overdue_items,
        overdue_issues=r.overdue_issues,
    )


MAX_TASK_ITEMS = 5000


@strawberry.type
class DispatchQuery:
    @strawberry.field(
        description="智能预警 Warnings as of today (rules: geo/warning_rules.py), ordered by "
        "severity (严重 → 预警 → 提示), rule code, object code"
    )
    async def warnings(
        self,
        info: Info,
        filter: WarningFilterInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[RuleWarning]:
        cfg = info.context.config
        limit = page_size(first, default=cfg.default_page_size, maximum=cfg.max_page_size)
        try:
            position = Wq.parse_key(None if after is None else _raw(after, WARNING_CURSOR))
        except ValueError:
            raise LandguardError(
                ErrorCode.INVALID_CURSOR, f"`after` is not a cursor this API issued: {after!r}"
            ) from None
        f = (filter or WarningFilterInput()).to_geo()
        day = info.context.today
        async with info.context.sessions() as s:
            rows = await Wq.warning_rows(s, as_of=day, filter=f, after=position, limit=limit + 1)

        async def count() -> int:
            if rows:
                return int(rows[0].total)
            async with info.context.sessions() as s:
                return await Wq.count_warnings(s, as_of=day, filter=f)

        conn = Connection.build(
            [SimpleNamespace(code=Wq.cursor_key(r), row=r) for r in rows],
            limit=limit,
            to_node=lambda x: RuleWarning.from_row(x.row),
            count=count,
        )
        for edge in conn.edges:  # cursors of this ordering carry their own prefix
            edge.cursor = _encode(WARNING_CURSOR + _raw(edge.cursor, "lg1:"))
        if conn.edges:
            conn.page_info.end_cursor = conn.edges[-1].cursor
        return conn

    @strawberry.field(description="问题 One issue of the 问题台账 by code")
    async def issue(self, info: Info, code: str) -> ProjectIssue | None:
        async with info.context.sessions() as s:
            row = await D.issue_row(s, code)
        return ProjectIssue.from_row(row) if row else None

    @strawberry.field(
        description="调度议题 What the level's next meeting on or after `date` (default today) "
        "must handle: issues open on that date at that level, overdue first"
    )
    async def dispatch_agenda(
        self,
        info: Info,
        level: DispatchLevel,  # type: ignore[valid-type]
        date: dt.date | None = None,
        county_code: str | None = None,
    ) -> DispatchAgenda:
        on = date or info.context.today
        lv = to_domain(EDispatchLevel, level)
        assert lv is not None
        async with info.context.sessions() as s:
            rows = await D.agenda_rows(s, level=lv, on=on, county=county_code)
        items = [
            AgendaItem(
                issue=ProjectIssue.from_row(r),
                level_due_date=r.due_on,
                overdue=r.due_on is not None and r.due_on < on,
                days_overdue=max(0, (on - r.due_on).days) if r.due_on else 0,
            )
            for r in rows
        ]
        return DispatchAgenda(
            level=level,
            date=on,
            meeting_date=DR.next_meeting(lv, on),
            items=items,
            overdue_count=sum(1 for i in items if i.overdue),
        )

    @strawberry.field(description="前期手续专班审批事项清单 (per project and per county)")
    async def approval_task_list(
        self,
        info: Info,
        as_of: dt.date | None = None,
        county_code: str | None = None,
        project_code: str | None = None,
        only_open: Annotated[bool, strawberry.argument(description="只列未办结")] = True,
        only_urgent: Annotated[
            bool, strawberry.argument(description="只列逾期和本周到期 (weekly dispatch)")
        ] = False,
        first: Annotated[int, strawberry.argument(description=f"items, ≤ {MAX_TASK_ITEMS}")] = 500,
    ) -> ApprovalTaskList:
        if not 0 <= first <= MAX_TASK_ITEMS:
            raise LandguardError(
                ErrorCode.PAGE_TOO_LARGE,
                f"`first` must be 0–{MAX_TASK_ITEMS}",
                maximum=MAX_TASK_ITEMS,
            )
        day = as_of or info.context.today
        async with info.context.sessions() as s:
            items, tallies = await T.approval_list(
                s,
                as_of=day,
                county=county_code,
                project=project_code,
                only_open=only_open,
                only_urgent=only_urgent,
                limit=first,
            )
        monday, sunday = T.week_of(day)
        return ApprovalTaskList(
            as_of=day,
            week_start=monday,
            week_end=sunday,
            items=[approval_item(r) for r in items],
            counties=[_tally(r) for r in tallies if r.county_total],
            projects=[_tally(r) for r in tallies if not r.county_total],
        )

    @strawberry.field(
        description="用地保障专班用地需求和问题清单 Key projects with unmet land need or a land issue, "
        "by county, for the quarterly land meeting (current state; cover from the land guarantee)"
    )
    async def land_task_list(
        self, info: Info, year: int | None = None, county_code: str | None = None
    ) -> list[CountyLandTaskList]:
        y = year or info.context.today.year
        if not 2000 <= y <= 2100:
            raise bad_input("`year` must be between 2000 and 2100", argument="year")
        async with info.context.sessions() as s:
            groups = await T.land_list(s, year=y, county=county_code)
        return [
            CountyLandTaskList(
                county_code=g.county_code,
                county_name=g.county_name,
                remaining_quota_m2=round(g.remaining_m2, 2),
                entries=[land_entry(e) for e in g.entries],
            )
            for g in groups
        ]

    @strawberry.field(description="月度通报 The monthly bulletin's county lines as of `asOf`")
    async def monthly_bulletin(
        self, info: Info, as_of: dt.date | None = None
    ) -> list[CountyBulletin]:
        day = _day(info, as_of)
        async with info.context.sessions() as s:
            rows = await T.monthly_rows(s, as_of=day)
        return [bulletin_line(r) for r in rows]


# ------------------------------------------------------------------ mutations


@strawberry.input(description="提出问题 Raise an issue on a project (enters at the command office)")
class RaiseIssueInput:
    project_code: str
    category: IssueCategory  # type: ignore[valid-type]
    title: str
    description: str | None = None
    level: DispatchLevel | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="起始层级 (default COMMAND_OFFICE)"
    )
    raised_on: dt.date | None = strawberry.field(default=None, description="default today")
    due_date: dt.date | None = strawberry.field(
        default=None, description="default: raisedOn + the level's period (geo/dispatch_rules.py)"
    )


@strawberry.input(description="更新问题 Update an issue; `version` must be the one you read")
class UpdateIssueInput:
    code: str
    version: int
    title: str | None = None
    description: str | None = None
    category: IssueCategory | None = None  # type: ignore[valid-type]
    status: IssueStatus | None = None  # type: ignore[valid-type]
    due_date: dt.date | None = None
    resolved_on: dt.date | None = strawberry.field(
        default=None, description="解决日期 when status becomes RESOLVED (default today)"
    )


@strawberry.type(description="问题写入结果 Result of an issue write")
class IssuePayload:
    issue: ProjectIssue | None
    errors: list[UserError]


@strawberry.type(description="提级结果 Escalations made by escalateDueIssues")
class EscalationResult:
    issue_code: str
    from_level: DispatchLevel  # type: ignore[valid-type]
    to_level: DispatchLevel  # type: ignore[valid-type]
    escalated_on: dt.date
    new_due_date: dt.date
    reason: str


@strawberry.type(description="到期提级结果 Result of the escalation job")
class EscalationPayload:
    as_of: dt.date
    escalations: list[EscalationResult]
    errors: list[UserError]


def _refuse(exc: BaseException) -> list[UserError]:
    """The typed errors of an expected refusal; anything else is re-raised."""
    errors = expected_errors(exc)
    if errors is None:
        raise exc
    return errors


def escalation_result(r: Any) -> EscalationResult:
    return EscalationResult(
        issue_code=r.code,
        from_level=DispatchLevel(str(r.from_level)),
        to_level=DispatchLevel(str(r.to_level)),
        escalated_on=r.escalated_on,
        new_due_date=r.new_due,
        reason=r.reason,
    )


@strawberry.type
class DispatchMutation:
    @strawberry.mutation(description="提出问题 Raise an issue (问题台账); issue.create")
    async def raise_issue(self, info: Info, input: RaiseIssueInput) -> IssuePayload:
        try:
            async with info.context.sessions() as s:
                p = (await s.execute(D.PROJECT_FOR_ISSUE, {"code": input.project_code})).first()
            if p is None:
                raise Refused(
                    NotFoundError(
                        code=ErrorCode.NOT_FOUND.value,
                        message=f"没有该项目 No project {input.project_code!r}",
                        field=["input", "projectCode"],
                        object_type="Project",
                        key=input.project_code,
                    )
                )
            if not input.title.strip():
                raise bad_input("问题标题不能为空 `title` must not be blank", field="input.title")
            level = to_domain(EDispatchLevel, input.level) or EDispatchLevel.COMMAND_OFFICE
            raised = input.raised_on or info.context.today
            due = input.due_date or DR.due_after(level, raised)
            if due < raised:
                raise bad_input("`dueDate` must not be before `raisedOn`", field="input.dueDate")
            async with write_transaction(info, Action.ISSUE_CREATE, (p.county_code,)) as s:
                code = f"{p.code}-Q{p.last_no + 1:02d}"
                await s.execute(
                    D.INSERT_ISSUE,
                    {
                        "code": code,
                        "project_id": p.id,
                        "category": input.category.value,
                        "title": input.title.strip(),
                        "description": input.description,
                        "level": level.value,
                        "raised_on": raised,
                        "due_date": due,
                    },
                )
                row = await D.issue_row(s, code)
        except IntegrityError:
            return IssuePayload(
                issue=None,
                errors=[
                    InputError(
                        code=ErrorCode.DUPLICATE_CODE.value,
                        message="问题编码冲突，请重试 Issue code taken concurrently; retry",
                        field=None,
                    )
                ],
            )
        except Exception as exc:
            return IssuePayload(issue=None, errors=_refuse(exc))
        return IssuePayload(issue=ProjectIssue.from_row(row), errors=[])

    @strawberry.mutation(
        description="更新问题 Update an issue: title, category, status (resolve with a date, or "
        "reopen), due date; optimistic `version`; issue.update"
    )
    async def update_issue(self, info: Info, input: UpdateIssueInput) -> IssuePayload:
        try:
            async with info.context.sessions() as s:
                cur = (await s.execute(D.ISSUE_STATE, {"code": input.code})).first()
            if cur is None:
                raise Refused(
                    NotFoundError(
                        code=ErrorCode.NOT_FOUND.value,
                        message=f"没有该问题 No issue {input.code!r}",
                        field=["input", "code"],
                        object_type="ProjectIssue",
                        key=input.code,
                    )
                )
            status = to_domain(EIssueStatus, input.status) or EIssueStatus(str(cur.status))
            resolved = None
            if status is EIssueStatus.RESOLVED:
                resolved = input.resolved_on or cur.resolved_on or info.context.today
                if resolved < cur.raised_on:
                    raise bad_input(
                        "解决日期不能早于提出日期 `resolvedOn` is before the issue was raised",
                        field="input.resolvedOn",
                    )
                if resolved > info.context.today:
                    raise bad_input(
                        "`resolvedOn` must not be after today", field="input.resolvedOn"
                    )
            elif input.resolved_on is not None:
                raise bad_input("`resolvedOn` needs status RESOLVED", field="input.resolvedOn")
            if input.title is not None and not input.title.strip():
                raise bad_input("`title` must not be blank", field="input.title")
            async with write_transaction(info, Action.ISSUE_UPDATE, (cur.county_code,)) as s:
                done = (
                    await s.execute(
                        D.UPDATE_ISSUE,
                        {
                            "code": input.code,
                            "version": input.version,
                            "title": input.title.strip() if input.title else None,
                            "set_description": input.description is not None,
                            "description": input.description,
                            "category": input.category.value if input.category else None,
                            "status": status.value,
                            "due_date": input.due_date,
                            "resolved_on": resolved,
                        },
                    )
                ).first()
                if done is None:
                    now = (await s.execute(D.ISSUE_STATE, {"code": input.code})).first()
                    raise Refused(
                        StaleVersionError(
                            code=ErrorCode.STALE_VERSION.value,
                            message="版本过期 The issue changed since you read it; re-read and retry",
                            field=["input", "version"],
                            sent_version=input.version,
                            current_version=now.version if now else -1,
                        )
                    )
                row = await D.issue_row(s, input.code)
        except Exception as exc:
            return IssuePayload(issue=None, errors=_refuse(exc))
        return IssuePayload(issue=ProjectIssue.from_row(row), errors=[])

    @strawberry.mutation(
        description="到期提级 Escalate every unresolved issue due on or before `asOf` (default "
        "today), several levels if long overdue, each escalation dated its due date; "
        "idempotent (geo/dispatch_rules.py); issue.escalate"
    )
    async def escalate_due_issues(
        self, info: Info, as_of: dt.date | None = None
    ) -> EscalationPayload:
        day = as_of or info.context.today
        try:
            if day > info.context.today:
                raise bad_input("`asOf` must not be after today", argument="asOf")
            async with write_transaction(info, Action.ISSUE_ESCALATE) as s:
                rows = await D.escalate_due(s, day)
        except Exception as exc:
            return EscalationPayload(as_of=day, escalations=[], errors=_refuse(exc))
        return EscalationPayload(
            as_of=day, escalations=[escalation_result(r) for r in rows], errors=[]
        )


TYPES: tuple[type, ...] = ERROR_TYPES
