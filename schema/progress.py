"""The "1" platform's progress in GraphQL (issue 6): a project's lifecycle and investment
progress, monthly investment reports, the key-list summary, the horse race (赛马比拼),
fast horses and snails (骏马/蜗牛), and the 入库纳统 and 招商引资 task-force lists.

Resolvers are thin: the rows come from geo/progress.py (SQL), every rule and weight from
geo/horse_race_rules.py. Mutations follow schema/mutation_base.py (payload + typed errors,
write_transaction with the permission check and the bound actor).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Annotated, Any

import strawberry
from sqlalchemy import Row

from geo import horse_race_rules as R
from geo import progress as q
from geo.crs import CITY_CODE
from geo.queries import projects as project_queries
from schema import enums as G
from schema.errors import ErrorCode, bad_input
from schema.mutation_base import (
    InputError,
    NotFoundError,
    Refused,
    UserError,
    expected_errors,
    write_transaction,
)
from schema.pagination import page_size
from schema.permissions import Action
from schema.types import Info, Project

MAX_LIST = 500
DEFAULT_LIST = 100
PROJECT_CODE_MAX = 40  # project.code is varchar(40)


def _g(graphql_enum: Any, value: Any) -> Any:
    return None if value is None else graphql_enum(str(value))


def _f(value: Any) -> float:
    return round(float(value or 0), 2)


def _rate(num: Any, den: Any) -> float | None:
    return None if not den else round(float(num or 0) / float(den), 6)


def _year(year: int, name: str = "year") -> int:
    if not 2000 <= year <= 2100:
        raise bad_input(f"`{name}` must be between 2000 and 2100", argument=name)
    return year


def _month(month: int, name: str = "month") -> int:
    if not 1 <= month <= 12:
        raise bad_input(f"`{name}` must be between 1 and 12", argument=name)
    return month


def _default_month(info: Info, year: int) -> int:
    """This month for the current year, December for a past one, January for a future."""
    today = info.context.today
    if year == today.year:
        return today.month
    return 12 if year < today.year else 1


# =========================================================================== lifecycle


@strawberry.type(description="项目阶段节点 One stage on a project's path, dated")
class StageStep:
    stage: G.ProjectStage  # type: ignore[valid-type]
    entered_on: dt.date = strawberry.field(description="进入日期 Entered on")
    left_on: dt.date | None = strawberry.field(
        description="离开日期 Left on = the next stage's entry date; null for the last step"
    )
    actor: str = strawberry.field(description="记录人 Who recorded the step")
    note: str | None
    days: int = strawberry.field(
        description="停留天数 Days in the stage (to leftOn, or to today for the last step)"
    )


@strawberry.type(description="堵点难点 An open bottleneck issue (问题台账) of the project")
class LifecycleIssue:
    code: str
    category: str = strawberry.field(description="问题类别 Issue category (LAND, APPROVAL …)")
    title: str
    level: str = strawberry.field(description="调度层级 Current dispatch level (四级调度)")
    status: str
    raised_on: dt.date
    due_date: dt.date | None


@strawberry.type(
    description=(
        "项目全生命周期 A project's path through the six stages (备案审批 → 手续办理 → "
        "要素配置 → 开工建设 → 实施进度 → 竣工投产), with its open bottlenecks beside them"
    )
)
class ProjectLifecycle:
    steps: list[StageStep] = strawberry.field(description="阶段节点 Oldest first")
    current_stage: G.ProjectStage = strawberry.field(description="当前阶段 Current stage")  # type: ignore[valid-type]
    current_stage_since: dt.date | None = strawberry.field(
        description="进入当前阶段日期 Entered the current stage on (its latest event)"
    )
    days_in_stage: int | None = strawberry.field(
        description="当前阶段停留天数 Days in the current stage as of today"
    )
    open_issues: list[LifecycleIssue] = strawberry.field(
        description="未解决的堵点难点 Open bottleneck issues, oldest first"
    )


async def project_lifecycle(info: Info, project: Project) -> ProjectLifecycle:
    loaders = info.context.loaders.progress
    today = info.context.today
    events = await loaders.stage_events.load(project._id)
    issues = await loaders.open_issues.load(project._id)
    steps = [
        StageStep(
            stage=_g(G.ProjectStage, e.stage),
            entered_on=e.entered_on,
            left_on=e.left_on,
            actor=e.actor,
            note=e.note,
            days=((e.left_on or today) - e.entered_on).days,
        )
        for e in events
    ]
    current = str(project.stage.value)
    since = next((e.entered_on for e in reversed(events) if e.stage == current), None)
    return ProjectLifecycle(
        steps=steps,
        current_stage=project.stage,
        current_stage_since=since,
        days_in_stage=None if since is None else (today - since).days,
        open_issues=[
            LifecycleIssue(
                code=i.code,
                category=i.category,
                title=i.title,
                level=i.level,
                status=i.status,
                raised_on=i.raised_on,
                due_date=i.due_date,
            )
            for i in issues
        ],
    )


# =========================================================================== investment


@strawberry.type(
    description=(
        "投资完成进度 Investment completion through a month against the annual target and "
        "时序进度 (month ÷ 12); money in 万元"
    )
)
class InvestmentProgress:
    year: int
    month: int = strawberry.field(description="截至月份 Through this month")
    annual_target: float = strawberry.field(description="年度投资目标（万元）")
    completed_ytd: float = strawberry.field(description="年初至今完成投资（万元）")
    completed_in_month: float = strawberry.field(description="当月完成投资（万元）")
    completion_rate: float | None = strawberry.field(
        description="投资完成率 completed ÷ annual target (null without a target)"
    )
    time_elapsed_rate: float = strawberry.field(description="时序进度 month ÷ 12")
    schedule_points: float | None = strawberry.field(
        description="与时序进度之差（百分点）+ ahead, − behind"
    )
    schedule_label: str | None = strawberry.field(
        description="超时序/滞后时序 N 个百分点 (as the bulletins word it)"
    )


def investment_progress(
    *, year: int, month: int, target: Any, ytd: Any, in_month: Any
) -> InvestmentProgress:
    rate = _rate(ytd, target)
    points = None if rate is None else R.schedule_points(rate, month)
    return InvestmentProgress(
        year=year,
        month=month,
        annual_target=_f(target),
        completed_ytd=_f(ytd),
        completed_in_month=_f(in_month),
        completion_rate=rate,
        time_elapsed_rate=round(R.time_elapsed_rate(month), 6),
        schedule_points=points,
        schedule_label=None if points is None else R.schedule_label(points),
    )


async def project_investment_progress(
    info: Info, project: Project, year: int | None, month: int | None
) -> InvestmentProgress:
    y = _year(year if year is not None else info.context.today.year)
    m = _month(month) if month is not None else _default_month(info, y)
    row = await info.context.loaders.progress.investment.load((project._id, y, m))
    return investment_progress(
        year=y,
        month=m,
        target=project.annual_target,
        ytd=row.ytd if row else 0,
        in_month=row.in_month if row else 0,
    )


@strawberry.type(
    description="县区投资完成进度 A race unit's investment progress (six county-level units "
    "and the development zone; a project in the zone counts for the zone)"
)
class UnitInvestmentProgress:
    unit_code: str = strawberry.field(description="县（市、区）/开发区代码")
    unit_name: str
    projects: int = strawberry.field(description="有年度目标的项目数 Projects with a target")
    progress: InvestmentProgress


@strawberry.type(description="月度投资报表 A project's completed investment in one month")
class InvestmentReport:
    project_code: str
    year: int
    month: int
    completed_investment: float = strawberry.field(description="当月完成投资（万元）")
    reported_on: dt.date = strawberry.field(description="填报日期")


# =========================================================================== key list


@strawberry.enum(description="四定 The four fixed things of a key project")
class FourFixedThing(Enum):
    INVESTMENT_TARGET = strawberry.enum_value(
        "INVESTMENT_TARGET", description="定投资目标 annual investment target > 0"
    )
    PROGRESS_TARGET = strawberry.enum_value(
        "PROGRESS_TARGET", description="定进度目标 progress target"
    )
    LEAD_OFFICIAL = strawberry.enum_value(
        "LEAD_OFFICIAL", description="定包联领导 leader in charge"
    )
    RESPONSIBLE_ENTITY = strawberry.enum_value(
        "RESPONSIBLE_ENTITY", description="定责任主体 responsible entity"
    )


@strawberry.type(description="重点项目分组 A group of the key list: count and annual targets")
class KeyGroup:
    key: str = strawberry.field(
        description="Category (KeyCategory value), county code or stage (ProjectStage value)"
    )
    projects: int
    annual_target: float = strawberry.field(description="年度投资目标合计（万元）")


@strawberry.type(description="四定缺项 A key project lacking one or more of the four fixed things")
class FourFixedGap:
    project: Project
    lacks: list[FourFixedThing]


@strawberry.type(
    description=(
        "重点项目清单汇总 The key list of a year by category (a project may have several), "
        "county and stage; its share of the city's annual planned investment against the "
        "policy's ≥ 70 % line; the projects lacking any of the four fixed things (四定)"
    )
)
class KeyProjectSummary:
    year: int
    key_projects: int = strawberry.field(description="重点项目个数")
    key_annual_target: float = strawberry.field(description="重点项目年度投资目标（万元）")
    city_annual_target: float = strawberry.field(description="全市项目年度投资目标（万元）")
    key_share: float | None = strawberry.field(description="重点项目年度投资占比 (0–1)")
    share_line: float = strawberry.field(description="政策要求占比下限 0.70 (policy “3”)")
    meets_share_line: bool = strawberry.field(description="是否达到 70% 以上")
    by_category: list[KeyGroup] = strawberry.field(description="按来源类别")
    by_county: list[KeyGroup] = strawberry.field(description="按县（市、区）")
    by_stage: list[KeyGroup] = strawberry.field(description="按阶段")
    lacking_four_fixed: list[FourFixedGap] = strawberry.field(description="四定不全的项目, by code")


_LACKS = (
    ("lacks_investment_target", FourFixedThing.INVESTMENT_TARGET),
    ("lacks_progress_target", FourFixedThing.PROGRESS_TARGET),
    ("lacks_lead_official", FourFixedThing.LEAD_OFFICIAL),
    ("lacks_responsible_entity", FourFixedThing.RESPONSIBLE_ENTITY),
)


async def key_project_summary(info: Info, year: int) -> KeyProjectSummary:
    _year(year)
    async with info.context.sessions() as s:
        groups = await q.key_groups(s, year=year)
        lacking = await q.key_lacking(s, year=year)
        ids = [r.id for r in lacking]
        projects = await project_queries.projects_by_id(s, ids) if ids else {}
    by: dict[str, list[KeyGroup]] = {"CATEGORY": [], "COUNTY": [], "STAGE": []}
    total = city = None
    for g in groups:
        group = KeyGroup(key=g.key, projects=int(g.projects), annual_target=_f(g.annual_target))
        if g.dim == "TOTAL":
            total = group
        elif g.dim == "CITY":
            city = group
        else:
            by[g.dim].append(group)
    assert total is not None and city is not None
    share = _rate(total.annual_target, city.annual_target)
    return KeyProjectSummary(
        year=year,
        key_projects=total.projects,
        key_annual_target=total.annual_target,
        city_annual_target=city.annual_target,
        key_share=share,
        share_line=R.KEY_SHARE_MIN,
        meets_share_line=share is not None and share >= R.KEY_SHARE_MIN,
        by_category=by["CATEGORY"],
        by_county=by["COUNTY"],
        by_stage=by["STAGE"],
        lacking_four_fixed=[
            FourFixedGap(
                project=Project.from_row(projects[r.id]),
                lacks=[thing for column, thing in _LACKS if getattr(r, column)],
            )
            for r in lacking
        ],
    )


# =========================================================================== horse race


@strawberry.enum(description="赛马周期 Horse-race period kind")
class PeriodKind(Enum):
    MONTH = strawberry.enum_value("MONTH", description="一月晾晒 monthly showing (index 1–12)")
    BIMONTH = strawberry.enum_value(
        "BIMONTH", description="双月赛马 bi-monthly race (index 1–6: months 2i−1 and 2i)"
    )
    YEAR = strawberry.enum_value("YEAR", description="一年考评 yearly assessment (index 1)")


@strawberry.enum(description="赛马比拼四个方面 The four dimensions of the horse race")
class RaceDimension(Enum):
    INVESTMENT_SCALE = strawberry.enum_value(
        "INVESTMENT_SCALE", description="扩大投资规模 investment scale"
    )
    INVESTMENT_STRUCTURE = strawberry.enum_value(
        "INVESTMENT_STRUCTURE", description="优化投资结构 investment structure"
    )
    START_AND_STATISTICS = strawberry.enum_value(
        "START_AND_STATISTICS", description="项目开工入统 project start and statistics inclusion"
    )
    PIPELINE = strawberry.enum_value("PIPELINE", description="项目谋划储备 project pipeline")


@strawberry.input(description="比拼周期 A period: kind, year and index within the year")
class PeriodInput:
    kind: PeriodKind
    year: int
    index: int = strawberry.field(
        default=1, description="Month 1–12 (MONTH), 1–6 (BIMONTH), 1 (YEAR)"
    )


def to_period(period: PeriodInput) -> R.Period:
    kind = R.PeriodKind(period.kind.value)
    reason = R.check_period(kind, period.year, period.index)
    if reason:
        raise bad_input(f"`period`: {reason}", argument="period")
    return R.Period(kind, period.year, period.index)


@strawberry.type(description="赛马指标规则 A dimension's weight and documented formula")
class RaceRule:
    dimension: RaceDimension
    name_zh: str
    weight: float = strawberry.field(description="权重 (weights sum to 100)")
    formula: str


@strawberry.type(description="单项得分 A dimension's value and weighted score")
class DimensionScore:
    dimension: RaceDimension
    value: float = strawberry.field(description="指标值 The indicator (see RaceRule.formula)")
    score: float = strawberry.field(description="得分 weight × value ÷ best value")


@strawberry.type(description="赛马排名 One unit's row of the horse-race table")
class HorseRaceRow:
    rank: int = strawberry.field(description="名次 1 = first (ties broken stably)")
    tied: bool = strawberry.field(description="并列: another unit has the same total")
    unit_code: str
    unit_name: str
    total: float = strawberry.field(description="总分 (0–100)")
    scores: list[DimensionScore]
    annual_target: float = strawberry.field(description="年度投资目标（万元）")
    completed_ytd: float = strawberry.field(description="累计完成投资（万元）")
    industrial_ytd: float = strawberry.field(description="产业投资累计完成（万元）")
    start_due: int = strawberry.field(description="应开工项目数")
    started: int = strawberry.field(description="已开工项目数")
    stats_base: int = strawberry.field(description="具备入库条件项目数（含已入库）")
    included: int = strawberry.field(description="已入库纳统项目数")
    pipeline_investment: float = strawberry.field(description="谋划储备项目总投资（万元）")


@strawberry.type(
    description="赛马比拼 The six county-level units and the development zone ranked on the "
    "four dimensions of the 赛马比拼 special action"
)
class HorseRace:
    period_label: str = strawberry.field(description="周期 e.g. 2024年9—10月")
    period_end: dt.date
    rules: list[RaceRule]
    score_rule: str
    rows: list[HorseRaceRow] = strawberry.field(description="By rank")


def race_rows(rows: Any) -> list[HorseRaceRow]:
    D = RaceDimension
    return [
        HorseRaceRow(
            rank=int(r.rank),
            tied=bool(r.tied),
            unit_code=r.code,
            unit_name=r.name,
            total=float(r.total),
            scores=[
                DimensionScore(
                    dimension=D.INVESTMENT_SCALE, value=_v(r.v_scale), score=_s(r.s_scale)
                ),
                DimensionScore(
                    dimension=D.INVESTMENT_STRUCTURE,
                    value=_v(r.v_structure),
                    score=_s(r.s_structure),
                ),
                DimensionScore(
                    dimension=D.START_AND_STATISTICS, value=_v(r.v_start), score=_s(r.s_start)
                ),
                DimensionScore(
                    dimension=D.PIPELINE, value=_v(r.v_pipeline), score=_s(r.s_pipeline)
                ),
            ],
            annual_target=_f(r.annual_target),
            completed_ytd=_f(r.ytd),
            industrial_ytd=_f(r.industrial_ytd),
            start_due=int(r.start_due),
            started=int(r.started),
            stats_base=int(r.stats_base),
            included=int(r.included),
            pipeline_investment=_f(r.pipeline),
        )
        for r in rows
    ]


def _v(value: Any) -> float:
    return round(float(value or 0), 6)


def _s(value: Any) -> float:
    return round(float(value or 0), 2)


async def horse_race(info: Info, period: PeriodInput) -> HorseRace:
    p = to_period(period)
    async with info.context.sessions() as s:
        rows = await q.horse_race(s, p)
    return HorseRace(
        period_label=p.label,
        period_end=p.end,
        rules=[
            RaceRule(
                dimension=RaceDimension(d.dimension.value),
                name_zh=d.zh,
                weight=d.weight,
                formula=d.formula,
            )
            for d in R.DIMENSIONS
        ],
        score_rule=R.SCORE_RULE,
        rows=race_rows(rows),
    )


# =========================================================================== 骏马 / 蜗牛


@strawberry.type(description="周期项目进度 A project's investment in a period against its target")
class PeriodProject:
    project: Project
    unit_code: str = strawberry.field(description="赛马单位 The race unit it counts for")
    target: float = strawberry.field(description="周期目标（万元）annual target × months ÷ 12")
    actual: float = strawberry.field(description="周期完成（万元）")
    margin: float = strawberry.field(description="超出目标（万元）actual − target")
    missed_start: bool = strawberry.field(description="未按期开工 (snails)")
    below_target: bool = strawberry.field(description="续建项目未完成周期目标 (snails)")


@strawberry.type(description="骏马/蜗牛 The projects meeting the criterion, with how many in all")
class PeriodProjectList:
    period_label: str
    criterion: str = strawberry.field(description="评选标准 The documented criterion")
    total_count: int
    items: list[PeriodProject]


FirstArg = Annotated[
    int | None, strawberry.argument(description=f"At most this many (default {DEFAULT_LIST})")
]


async def _period_list(info: Info, period: PeriodInput, first: int | None, fast: bool) -> Any:
    p = to_period(period)
    limit = page_size(first, default=DEFAULT_LIST, maximum=MAX_LIST)
    async with info.context.sessions() as s:
        rows = await (q.fast_horses(s, p, first=limit) if fast else q.snails(s, p, first=limit))
        ids = [r.id for r in rows]
        projects = await project_queries.projects_by_id(s, ids) if ids else {}
    if fast:
        criterion = (
            f"骏马: 周期完成 ≥ {R.FAST_HORSE_RATIO} × 周期目标 且超出 ≥ "
            f"{R.fast_margin(p.months)} 万元 (5,000 万元/季度 × {p.months}/3); "
            "period target = annual target × months ÷ 12"
        )
    else:
        criterion = R.SNAIL_RULE
    return PeriodProjectList(
        period_label=p.label,
        criterion=criterion,
        total_count=int(rows[0].total_count) if rows else 0,
        items=[
            PeriodProject(
                project=Project.from_row(projects[r.id]),
                unit_code=r.unit_code,
                target=_f(r.target),
                actual=_f(r.actual),
                margin=_f(r.actual - r.target),
                missed_start=bool(getattr(r, "missed_start", False)),
                below_target=bool(getattr(r, "below_target", False)),
            )
            for r in rows
        ],
    )


# =========================================================================== 入库纳统


@strawberry.type(description="佐证资料 One supporting document for statistics inclusion")
class SupportingMaterial:
    code: str
    name: str
    present: bool


@strawberry.type(
    description="入库纳统清单项 A project eligible for statistics inclusion (≥ 500 万元, started, "
    "not yet included) with its supporting-material status"
)
class StatsInclusionItem:
    project: Project
    unit_code: str
    total_investment: float = strawberry.field(description="计划总投资（万元）")
    actual_start: dt.date = strawberry.field(description="实际开工日期")
    completed_ytd: float = strawberry.field(description="本年完成投资（万元）")
    materials: list[SupportingMaterial]
    materials_complete: bool = strawberry.field(description="佐证资料齐全")


_MATERIAL_COLUMN = {
    "PROJECT_FILING": "has_filing",
    "CONSTRUCTION_PERMIT": "has_construction_permit",
    "START_PROOF": "has_start_proof",
    "INVESTMENT_REPORT": "has_investment_report",
}


def stats_items(rows: Any, projects: dict[int, Row[Any]]) -> list[StatsInclusionItem]:
    out = []
    for r in rows:
        materials = [
            SupportingMaterial(
                code=code, name=name, present=bool(getattr(r, _MATERIAL_COLUMN[code]))
            )
            for code, name in R.SUPPORTING_MATERIALS
        ]
        out.append(
            StatsInclusionItem(
                project=Project.from_row(projects[r.id]),
                unit_code=r.unit_code,
                total_investment=_f(r.total_investment),
                actual_start=r.actual_start,
                completed_ytd=_f(r.ytd),
                materials=materials,
                materials_complete=all(m.present for m in materials),
            )
        )
    return out


async def stats_inclusion_list(info: Info) -> list[StatsInclusionItem]:
    async with info.context.sessions() as s:
        rows = await q.stats_inclusion(s, today=info.context.today)
        ids = [r.id for r in rows]
        projects = await project_queries.projects_by_id(s, ids) if ids else {}
    return stats_items(rows, projects)


# =========================================================================== 招商引资


@strawberry.enum(description="外出招商主体 Who travelled")
class PromoterKind(Enum):
    COUNTY_LEADER = strawberry.enum_value(
        "COUNTY_LEADER", description="县（市、区）、开发区主要领导 county / zone leader"
    )
    BUREAU = strawberry.enum_value("BUREAU", description="投促部门 promotion bureau")


@strawberry.type(description="招商项目进展 Promoted projects of a unit: lead → signed → landed")
class PromotionFunnel:
    unit_code: str
    unit_name: str
    about_to_sign: int = strawberry.field(description="拟签约 projects")
    signed: int = strawberry.field(description="已签约拟落地 projects")
    landed: int = strawberry.field(description="已落地 projects")
    about_to_sign_investment: float = strawberry.field(description="拟签约总投资（万元）")
    signed_investment: float = strawberry.field(description="已签约拟落地总投资（万元）")
    landed_investment: float = strawberry.field(description="已落地总投资（万元）")


@strawberry.type(
    description="主要领导季度外出招商 A county leader's trips in a quarter against the minimum "
    "(≥ 1 trip pitching ≥ 3 projects); promoter null = the unit recorded no leader trip"
)
class LeaderQuarterCheck:
    unit_code: str
    unit_name: str
    promoter: str | None
    trips: int
    qualifying_trips: int = strawberry.field(description="对接项目 ≥ 3 个的外出次数")
    projects_pitched: int
    compliant: bool


@strawberry.type(
    description="投促部门月度外出招商 A promotion bureau's month against the minimum "
    "(≥ 2 trips and ≥ 5 projects pitched)"
)
class BureauMonthCheck:
    unit_code: str
    unit_name: str
    month: int
    trips: int
    projects_pitched: int
    compliant: bool


@strawberry.type(description="招商引资专班 The promotion task force's quarter")
class PromotionStatus:
    year: int
    quarter: int
    funnel: list[PromotionFunnel] = strawberry.field(description="Current signing status per unit")
    leaders: list[LeaderQuarterCheck]
    bureaus: list[BureauMonthCheck]
    rule: str


async def promotion_status(info: Info, year: int, quarter: int) -> PromotionStatus:
    _year(year)
    if not 1 <= quarter <= 4:
        raise bad_input("`quarter` must be between 1 and 4", argument="quarter")
    async with info.context.sessions() as s:
        funnel = await q.promotion_funnel(s)
        leaders = await q.leader_trips(s, year=year, quarter=quarter)
        bureaus = await q.bureau_trips(s, year=year, quarter=quarter)
    return PromotionStatus(
        year=year,
        quarter=quarter,
        funnel=[
            PromotionFunnel(
                unit_code=r.unit_code,
                unit_name=r.unit_name,
                about_to_sign=int(r.about_to_sign),
                signed=int(r.signed),
                landed=int(r.landed),
                about_to_sign_investment=_f(r.about_to_sign_investment),
                signed_investment=_f(r.signed_investment),
                landed_investment=_f(r.landed_investment),
            )
            for r in funnel
        ],
        leaders=[
            LeaderQuarterCheck(
                unit_code=r.unit_code,
                unit_name=r.unit_name,
                promoter=r.promoter,
                trips=int(r.trips),
                qualifying_trips=int(r.qualifying_trips),
                projects_pitched=int(r.projects_pitched),
                compliant=int(r.qualifying_trips) >= R.LEADER_MIN_TRIPS_PER_QUARTER,
            )
            for r in leaders
        ],
        bureaus=[
            BureauMonthCheck(
                unit_code=r.unit_code,
                unit_name=r.unit_name,
                month=int(r.month),
                trips=int(r.trips),
                projects_pitched=int(r.projects_pitched),
                compliant=int(r.trips) >= R.BUREAU_MIN_TRIPS_PER_MONTH
                and int(r.projects_pitched) >= R.BUREAU_MIN_PROJECTS_PER_MONTH,
            )
            for r in bureaus
        ],
        rule=(
            f"主要领导每季度外出招商 ≥ {R.LEADER_MIN_TRIPS_PER_QUARTER} 次、每次对接项目 ≥ "
            f"{R.LEADER_MIN_PROJECTS_PER_TRIP} 个; 投促部门每月外出 ≥ "
            f"{R.BUREAU_MIN_TRIPS_PER_MONTH} 次、对接项目 ≥ {R.BUREAU_MIN_PROJECTS_PER_MONTH} 个 "
            "(晋市政办函〔2024〕7号 招商引资专项行动)"
        ),
    )


# =========================================================================== queries


@strawberry.type
class ProgressQuery:
    @strawberry.field(
        description="县区投资完成进度 Investment progress of the six county-level units and the "
        "development zone through `month` (default: this month) of `year`, against 时序进度"
    )
    async def investment_progress(
        self, info: Info, year: int, month: int | None = None
    ) -> list[UnitInvestmentProgress]:
        _year(year)
        m = _month(month) if month is not None else _default_month(info, year)
        async with info.context.sessions() as s:
            rows = await q.unit_investment(s, year=year, month=m)
        return [
            UnitInvestmentProgress(
                unit_code=r.code,
                unit_name=r.name,
                projects=int(r.projects),
                progress=investment_progress(
                    year=year, month=m, target=r.annual_target, ytd=r.ytd, in_month=r.in_month
                ),
            )
            for r in rows
        ]

    @strawberry.field(
        description="重点项目清单汇总 The key list of `year` by category, county and stage; the "
        "≥ 70 % share; projects lacking any of the four fixed things (四定)"
    )
    async def key_project_summary(self, info: Info, year: int) -> KeyProjectSummary:
        return await key_project_summary(info, year)

    @strawberry.field(
        description="赛马比拼 Horse race of the six county-level units and the development zone "
        "(rules and weights: geo/horse_race_rules.py)"
    )
    async def horse_race(self, info: Info, period: PeriodInput) -> HorseRace:
        return await horse_race(info, period)

    @strawberry.field(
        description="骏马项目 Fast-horse projects of the period, largest margin first"
    )
    async def fast_horses(
        self, info: Info, period: PeriodInput, first: FirstArg = None
    ) -> PeriodProjectList:
        return await _period_list(info, period, first, fast=True)

    @strawberry.field(description="蜗牛项目 Snail projects of the period, by code")
    async def snails(
        self, info: Info, period: PeriodInput, first: FirstArg = None
    ) -> PeriodProjectList:
        return await _period_list(info, period, first, fast=False)

    @strawberry.field(
        description="入库纳统清单 Projects eligible for statistics inclusion as of today "
        "(≥ 500 万元, started, not yet included), by unit and code"
    )
    async def stats_inclusion_list(self, info: Info) -> list[StatsInclusionItem]:
        return await stats_inclusion_list(info)

    @strawberry.field(
        description="招商引资 Promoted projects per unit and the quarter's promotion trips "
        "checked against the policy minimums"
    )
    async def promotion(self, info: Info, year: int, quarter: int) -> PromotionStatus:
        return await promotion_status(info, year, quarter)


# =========================================================================== mutations


@strawberry.input(description="月度投资填报 One project-month of completed investment")
class RecordInvestmentReportInput:
    project_code: str = strawberry.field(description="项目代码")
    year: int
    month: int
    completed_investment: float = strawberry.field(description="当月完成投资（万元）≥ 0")
    reported_on: dt.date = strawberry.field(description="填报日期 (not before the month begins)")


@strawberry.type(description="月度投资填报结果 The report as stored, or the errors")
class RecordInvestmentReportPayload:
    report: InvestmentReport | None
    created: bool = strawberry.field(
        description="true: new month; false: an earlier report replaced"
    )
    errors: list[UserError]


@strawberry.input(description="外出招商记录 One promotion trip")
class RecordPromotionTripInput:
    unit_code: str = strawberry.field(
        description="县（市、区）/开发区代码, or the city (140500) for the city's bureau"
    )
    promoter_kind: PromoterKind
    promoter: str = strawberry.field(description="外出领导或部门 Who travelled")
    trip_on: dt.date = strawberry.field(description="外出日期")
    destination: str = strawberry.field(description="目的地 e.g. 长三角·上海")
    projects_pitched: int = strawberry.field(description="对接项目个数 (0–1000)")
    note: str | None = None


@strawberry.type(description="招商外出")
class PromotionTrip:
    id: int
    unit_code: str
    promoter_kind: PromoterKind
    promoter: str
    trip_on: dt.date
    destination: str
    projects_pitched: int
    note: str | None
    actor: str


@strawberry.type(description="外出招商记录结果")
class RecordPromotionTripPayload:
    trip: PromotionTrip | None
    errors: list[UserError]


MAX_AMOUNT = Decimal("1e12")


def _amount(value: float) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not math.isfinite(value) or not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
        raise Refused(
            InputError(
                code=ErrorCode.BAD_USER_INPUT.value,
                message="完成投资须为 0 至 10^12 万元 completedInvestment must be ≥ 0 万元 and finite",
                field=["input", "completedInvestment"],
            )
        )
    return amount.quantize(Decimal("0.01"))


def _check(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise Refused(
            InputError(code=ErrorCode.BAD_USER_INPUT.value, message=message, field=["input", field])
        )


async def record_investment_report(
    info: Info, input: RecordInvestmentReportInput
) -> RecordInvestmentReportPayload:
    try:
        _check(2000 <= input.year <= 2100, "year", "年份须在 2000–2100 year must be 2000–2100")
        _check(1 <= input.month <= 12, "month", "月份须为 1–12 month must be 1–12")
        amount = _amount(input.completed_investment)
        _check(
            input.reported_on >= dt.date(input.year, input.month, 1),
            "reportedOn",
            "填报日期不能早于所报月份 reportedOn must not be before the reported month",
        )
        project = None
        if 0 < len(input.project_code) <= PROJECT_CODE_MAX:
            async with info.context.sessions() as s:
                project = await project_queries.project_by_code(s, input.project_code)
        if project is None:
            raise Refused(
                NotFoundError(
                    code=ErrorCode.NOT_FOUND.value,
                    message=f"项目不存在 no project {input.project_code!r}",
                    field=["input", "projectCode"],
                    object_type="Project",
                    key=input.project_code,
                )
            )
        async with write_transaction(info, Action.INVESTMENT_REPORT, [project.county_code]) as s:
            row = await q.upsert_investment_report(
                s,
                project_id=project.id,
                year=input.year,
                month=input.month,
                amount=amount,
                reported_on=input.reported_on,
            )
    except Exception as exc:
        errors = expected_errors(exc)
        if errors is None:
            raise
        return RecordInvestmentReportPayload(report=None, created=False, errors=errors)
    return RecordInvestmentReportPayload(
        report=InvestmentReport(
            project_code=project.code,
            year=row.year,
            month=row.month,
            completed_investment=_f(row.completed_investment),
            reported_on=row.reported_on,
        ),
        created=bool(row.inserted),
        errors=[],
    )


async def record_promotion_trip(
    info: Info, input: RecordPromotionTripInput
) -> RecordPromotionTripPayload:
    try:
        _check(
            bool(input.promoter.strip()) and len(input.promoter) <= 200,
            "promoter",
            "外出领导或部门不能为空 promoter must be 1–200 characters",
        )
        _check(
            bool(input.destination.strip()) and len(input.destination) <= 200,
            "destination",
            "目的地不能为空 destination must be 1–200 characters",
        )
        _check(
            0 <= input.projects_pitched <= 1000,
            "projectsPitched",
            "对接项目个数须为 0–1000 projectsPitched must be 0–1000",
        )
        _check(
            input.trip_on <= info.context.today,
            "tripOn",
            "外出日期不能晚于今天 tripOn must not be after today",
        )
        async with info.context.sessions() as s:
            units = await q.race_unit_codes(s)
        _check(
            input.unit_code in units
            or (input.unit_code == CITY_CODE and input.promoter_kind is PromoterKind.BUREAU),
            "unitCode",
            "须为县（市、区）、开发区代码，或市投促部门的市代码 unitCode must be a county-level "
            "unit, the development zone, or the city (bureau trips only)",
        )
        async with write_transaction(info, Action.PROMOTION_RECORD_TRIP, [input.unit_code]) as s:
            row = await q.insert_trip(
                s,
                unit_code=input.unit_code,
                promoter_kind=input.promoter_kind.value,
                promoter=input.promoter.strip(),
                trip_on=input.trip_on,
                destination=input.destination.strip(),
                projects_pitched=input.projects_pitched,
                note=input.note,
            )
    except Exception as exc:
        errors = expected_errors(exc)
        if errors is None:
            raise
        return RecordPromotionTripPayload(trip=None, errors=errors)
    return RecordPromotionTripPayload(
        trip=PromotionTrip(
            id=row.id,
            unit_code=row.unit_code,
            promoter_kind=PromoterKind(row.promoter_kind),
            promoter=row.promoter,
            trip_on=row.trip_on,
            destination=row.destination,
            projects_pitched=row.projects_pitched,
            note=row.note,
            actor=row.actor,
        ),
        errors=[],
    )


@strawberry.type
class ProgressMutation:
    @strawberry.mutation(
        description="月度投资填报 Record (or replace) a project's completed investment for a "
        "month. Permission investment.report: city admin, or the county officer of the "
        "project's county."
    )
    async def record_investment_report(
        self, info: Info, input: RecordInvestmentReportInput
    ) -> RecordInvestmentReportPayload:
        return await record_investment_report(info, input)

    @strawberry.mutation(
        description="外出招商记录 Record a promotion trip. Permission promotion.record_trip: city "
        "admin, the task force, or the county officer of the unit."
    )
    async def record_promotion_trip(
        self, info: Info, input: RecordPromotionTripInput
    ) -> RecordPromotionTripPayload:
        return await record_promotion_trip(info, input)
