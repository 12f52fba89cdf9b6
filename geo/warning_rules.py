"""智能预警 Intelligent warnings: every rule, threshold and message in this one module.

The "1" of the 1355 mechanism asks for 项目预警智能化 (policy text `seed/1355-mechanism.zh.txt`,
"“1”：一个调度指挥平台 … 通过项目进度数字化、项目建设可视化、项目预警智能化"). The warnings
are derived, never stored: geo/warnings.py computes them in one SQL statement (one
`SELECT` per rule family, joined by UNION ALL) as of a date D — the request context's
today (`LANDGUARD_REFERENCE_DATE` when set) — so a warning appears as soon as the data
that causes it is written and disappears as soon as the data no longer does.

Each rule has a stable `code`, a `severity`, the kind of object it concerns, a Chinese
and an English message template (Python `str.format` over the rule's figures) and the
figures behind it (name, unit). The order of a list of warnings is (severity rank,
code, object code): the most serious first, stable under ties.

Rules and their numbers (D = the as-of date):

| code                   | object        | severity | fires when                                               |
|------------------------|---------------|----------|----------------------------------------------------------|
| APPROVAL_OVERDUE       | approval item | SEVERE   | deadline < D and status ≠ 已办结                          |
| APPROVAL_DUE_SOON      | approval item | WARNING  | D ≤ deadline ≤ D + APPROVAL_DUE_SOON_DAYS, not 已办结     |
| STAGE_STALLED          | project       | WARNING  | days in the current stage > STAGE_NORM_DAYS[stage]        |
| INVESTMENT_LAG         | project       | WARNING  | time-elapsed rate − completion rate > INVESTMENT_LAG_POINTS |
| INVESTMENT_LAG_SEVERE  | project       | SEVERE   | … > INVESTMENT_LAG_SEVERE_POINTS (then only this one)     |
| START_OVERDUE          | project       | WARNING  | planned start < D and no construction start by D          |
| PARCEL_CONFLICT        | parcel        | SEVERE   | a parcel still to be approved overlaps 永久基本农田 / 生态保护红线 |
| PARCEL_OUTSIDE_URBAN   | parcel        | INFO     | a parcel still to be approved lies (partly) outside 城镇开发边界 |
| QUOTA_GAP_KEY          | project       | SEVERE   | the county's remaining quota leaves a key project's demand uncovered |
| FOUR_FIXED_MISSING     | project       | WARNING  | a key project lacks one of the 四定 (investment target, progress target, leader, responsible entity) |
| ISSUE_OVERDUE          | issue         | WARNING  | an unresolved issue's due date < D (the dispatch job escalates it, geo/dispatch_rules.py) |

Sources of the numbers:
- APPROVAL_DUE_SOON_DAYS = 7: the 前期手续 task force meets weekly ("一周一调度、半月一会商、
  一月一通报"), so an item due before next week's dispatch is raised at this one.
- STAGE_NORM_DAYS: DESIGN.md §2 "Numbers and rules from public practice": the national
  reform target is ≤ 120 working days from filing to completion acceptance over four
  approval stages (≈ 30 working days ≈ 42 calendar days each); 核准 20 working days (+10);
  环评 report 60 days. 备案审批 FILING: 42 days (one approval stage); 手续办理 PROCEDURES:
  120 days (the planning permits, 环评 60 days, 水保, 施工许可 in sequence: ≈ 84 working
  days); 要素配置 FACTORS: 92 days (one quarter: the land task force meets quarterly,
  "每季度召开一次项目用地专题会"); 开工建设 CONSTRUCTION_START: 62 days (two monthly reports
  after the start the project should report 实施进度). 实施进度 and 竣工投产 have no norm
  (progress is judged by investment, INVESTMENT_LAG). Days in the stage count from the
  latest project_stage_event into the project's current stage dated on or before D; a
  project with no such event is not judged (no date to count from).
- INVESTMENT_LAG: DESIGN.md §2 InvestmentReport: progress is read against 时序进度 (the
  elapsed share of the year, month ÷ 12). The month M is the last complete month on D
  (D's month when D is its last day, else the month before); completion = Σ completed
  investment of months 1…M of D's year ÷ annual target. WARNING above 10 points behind,
  SEVERE above 20 (configurable; the offices' "滞后时序进度 N 个百分点"). Applies to projects
  with an annual target > 0 that started construction on or before D and are not 竣工投产;
  no warning in January (M = 0).
- START_OVERDUE: the "snail" criterion "missed its start date" (DESIGN.md §2, Mianyang).
- Land rules reuse geo/guarantee.py: the parcels' 三区三线 flags come from the overlay
  cache (parcel_overlay), the quota gap from `guarantee.AT_RISK_ALL_SQL` (the same cover
  in priority order the land-guarantee answers use — never recomputed here). The land
  rules read the current (recorded) land state; the quota year is D's year. "Still to be
  approved" = the guarantee's DEMAND_STATUSES on a parcel linked to an active project.
- FOUR_FIXED: the 300-project list "定投资目标、定进度目标、定包联领导、定责任主体" (policy
  text). Investment target = annual target > 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from geo.enums import DomainEnum, ProjectStage


class Severity(DomainEnum):
    SEVERE = "SEVERE", "严重", "severe"
    WARNING = "WARNING", "预警", "warning"
    INFO = "INFO", "提示", "information"


SEVERITY_RANK: dict[Severity, int] = {Severity.SEVERE: 1, Severity.WARNING: 2, Severity.INFO: 3}
"""Sort rank: the most serious first."""


class WarningObject(DomainEnum):
    PROJECT = "PROJECT", "项目", "project"
    PARCEL = "PARCEL", "地块", "parcel"
    APPROVAL_ITEM = "APPROVAL_ITEM", "审批事项", "approval item"
    COUNTY = "COUNTY", "县（市、区）", "county-level unit"
    ISSUE = "ISSUE", "问题", "issue"


APPROVAL_DUE_SOON_DAYS = 7
STAGE_NORM_DAYS: dict[ProjectStage, int] = {
    ProjectStage.FILING: 42,
    ProjectStage.PROCEDURES: 120,
    ProjectStage.FACTORS: 92,
    ProjectStage.CONSTRUCTION_START: 62,
}
INVESTMENT_LAG_POINTS = 10
INVESTMENT_LAG_SEVERE_POINTS = 20


@dataclass(frozen=True)
class Figure:
    name: str
    zh: str
    unit: str


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    object: WarningObject
    zh_title: str
    en_title: str
    zh: str
    en: str
    figures: tuple[Figure, ...]

    def message(self, lang: str, values: Mapping[str, Any], object_name: str) -> str:
        template = self.zh if lang == "zh" else self.en
        return template.format(name=object_name, **{k: _show(v) for k, v in values.items()})


def _show(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return value


F = Figure
RULES: tuple[Rule, ...] = (
    Rule(
        "APPROVAL_OVERDUE",
        Severity.SEVERE,
        WarningObject.APPROVAL_ITEM,
        "审批事项超期",
        "Approval item overdue",
        "{name}超过办理时限{days_overdue}天（时限{deadline}）",
        "{name} is {days_overdue} days past its deadline ({deadline})",
        (F("deadline", "办理时限", "date"), F("days_overdue", "超期天数", "天")),
    ),
    Rule(
        "APPROVAL_DUE_SOON",
        Severity.WARNING,
        WarningObject.APPROVAL_ITEM,
        "审批事项临期",
        "Approval item due soon",
        "{name}距办理时限还有{days_left}天（时限{deadline}）",
        "{name} is due in {days_left} days ({deadline})",
        (F("deadline", "办理时限", "date"), F("days_left", "剩余天数", "天")),
    ),
    Rule(
        "STAGE_STALLED",
        Severity.WARNING,
        WarningObject.PROJECT,
        "阶段停滞",
        "Stage unchanged too long",
        "{name}处于{stage_zh}阶段已{days_in_stage}天，超过{norm_days}天的常规时限",
        "{name} has been in stage {stage} for {days_in_stage} days (norm {norm_days})",
        (
            F("stage", "当前阶段", "stage"),
            F("stage_zh", "当前阶段", "stage"),
            F("entered_on", "进入日期", "date"),
            F("days_in_stage", "停留天数", "天"),
            F("norm_days", "常规时限", "天"),
        ),
    ),
    Rule(
        "INVESTMENT_LAG",
        Severity.WARNING,
        WarningObject.PROJECT,
        "投资进度滞后",
        "Investment behind time elapsed",
        "{name}投资完成率{completion_pct}%，滞后时序进度{time_pct}% {lag_points}个百分点",
        "{name}: {completion_pct}% of the annual target done, {lag_points} points behind "
        "the {time_pct}% of the year elapsed",
        (
            F("month", "截至月份", "月"),
            F("ytd", "年度累计完成投资", "万元"),
            F("annual_target", "年度计划投资", "万元"),
            F("completion_pct", "投资完成率", "%"),
            F("time_pct", "时序进度", "%"),
            F("lag_points", "滞后", "个百分点"),
        ),
    ),
    Rule(
        "INVESTMENT_LAG_SEVERE",
        Severity.SEVERE,
        WarningObject.PROJECT,
        "投资进度严重滞后",
        "Investment far behind time elapsed",
        "{name}投资完成率{completion_pct}%，滞后时序进度{time_pct}% {lag_points}个百分点",
        "{name}: {completion_pct}% of the annual target done, {lag_points} points behind "
        "the {time_pct}% of the year elapsed",
        (
            F("month", "截至月份", "月"),
            F("ytd", "年度累计完成投资", "万元"),
            F("annual_target", "年度计划投资", "万元"),
            F("completion_pct", "投资完成率", "%"),
            F("time_pct", "时序进度", "%"),
            F("lag_points", "滞后", "个百分点"),
        ),
    ),
    Rule(
        "START_OVERDUE",
        Severity.WARNING,
        WarningObject.PROJECT,
        "逾期未开工",
        "Planned start passed",
        "{name}计划{planned_start}开工，已逾期{days_late}天未开工",
        "{name} was to start on {planned_start}; {days_late} days late",
        (F("planned_start", "计划开工日期", "date"), F("days_late", "逾期天数", "天")),
    ),
    Rule(
        "PARCEL_CONFLICT",
        Severity.SEVERE,
        WarningObject.PARCEL,
        "用地与三区三线冲突",
        "Parcel conflicts with basic farmland / red line",
        "{name}占用永久基本农田{basic_farmland_m2}平方米、生态保护红线{redline_m2}平方米",
        "{name} overlaps basic farmland by {basic_farmland_m2} m² and the red line by "
        "{redline_m2} m²",
        (F("basic_farmland_m2", "占永久基本农田", "m²"), F("redline_m2", "占生态保护红线", "m²")),
    ),
    Rule(
        "PARCEL_OUTSIDE_URBAN",
        Severity.INFO,
        WarningObject.PARCEL,
        "城镇开发边界外用地",
        "Parcel outside the urban development boundary",
        "{name}有{outside_m2}平方米位于城镇开发边界外，需单独选址",
        "{name} has {outside_m2} m² outside the urban development boundary (separate siting)",
        (F("area_m2", "地块面积", "m²"), F("outside_m2", "边界外面积", "m²")),
    ),
    Rule(
        "QUOTA_GAP_KEY",
        Severity.SEVERE,
        WarningObject.PROJECT,
        "用地指标缺口",
        "Quota gap leaves a key project uncovered",
        "{name}新增建设用地需求{demand_m2}平方米，县级剩余指标仅覆盖{covered_m2}平方米，"
        "缺口{unmet_m2}平方米",
        "{name} needs {demand_m2} m² of new construction land; the county's remaining quota "
        "covers {covered_m2} m², {unmet_m2} m² short",
        (
            F("demand_m2", "用地需求", "m²"),
            F("covered_m2", "指标可覆盖", "m²"),
            F("unmet_m2", "缺口", "m²"),
            F("county_remaining_m2", "县级剩余指标", "m²"),
        ),
    ),
    Rule(
        "FOUR_FIXED_MISSING",
        Severity.WARNING,
        WarningObject.PROJECT,
        "四定不全",
        "Key project lacks one of the four fixed things",
        "重点项目{name}缺少：{missing_zh}",
        "Key project {name} lacks: {missing}",
        (F("missing", "缺少项", "list"), F("missing_zh", "缺少项", "list")),
    ),
    Rule(
        "ISSUE_OVERDUE",
        Severity.WARNING,
        WarningObject.ISSUE,
        "问题逾期未解决",
        "Issue past its due date",
        "问题“{name}”在{level_zh}层级逾期{days_overdue}天未解决（时限{due_date}）",
        "Issue “{name}” is {days_overdue} days past its due date ({due_date}) at level {level}",
        (
            F("level", "调度层级", "level"),
            F("level_zh", "调度层级", "level"),
            F("due_date", "办结时限", "date"),
            F("days_overdue", "超期天数", "天"),
        ),
    ),
)

RULES_BY_CODE: dict[str, Rule] = {r.code: r for r in RULES}

FOUR_FIXED: dict[str, tuple[str, str]] = {
    "investment_target": ("投资目标", "investment target"),
    "progress_target": ("进度目标", "progress target"),
    "lead_official": ("包联领导", "leader in charge"),
    "responsible_entity": ("责任主体", "responsible entity"),
}
"""The 四定 in the policy's order, with their names (the FOUR_FIXED_MISSING figures)."""


def last_complete_month(year_month_day: tuple[int, int, int], month_days: int) -> int:
    """M of the INVESTMENT_LAG rule: D's month when D is that month's last day, else the
    month before (0 in January before the 31st)."""
    _, month, day = year_month_day
    return month if day == month_days else month - 1
