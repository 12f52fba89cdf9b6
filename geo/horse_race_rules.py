"""Every rule, threshold, weight and formula of progress tracking (实施进度), the key list
(重点项目清单), the horse race (赛马比拼), fast horses and snails (骏马/蜗牛), statistics
inclusion (入库纳统) and investment promotion (招商引资) — in this one module, each with
its source. geo/progress.py runs them in SQL; the numbers come from here as bound
parameters, so changing a weight here changes every answer and bulletin.

Sources: the policy text (晋市政办函〔2024〕7号, /shared/seed/1355-mechanism.zh.txt) and
DESIGN.md §1–§2 ("Numbers and rules from public practice").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from geo.crs import DEV_ZONE_CODE

# --------------------------------------------------------------------------- time elapsed


def time_elapsed_rate(month: int) -> float:
    """时序进度 = month ÷ 12 (DESIGN.md §2 InvestmentReport): the share of the year gone
    by the end of `month`; completion is read against it."""
    return month / 12


def schedule_points(completion_rate: float, month: int) -> float:
    """Percentage points ahead (+) or behind (−) 时序进度, rounded to 0.1."""
    return round((completion_rate - time_elapsed_rate(month)) * 100, 1)


def schedule_label(points: float) -> str:
    """ "超时序 N 个百分点" / "滞后时序 N 个百分点" / "与时序持平" (how the offices word it)."""
    if points > 0:
        return f"超时序 {points:g} 个百分点"
    if points < 0:
        return f"滞后时序 {-points:g} 个百分点"
    return "与时序持平"


# --------------------------------------------------------------------------- key list

KEY_SHARE_MIN = 0.70
"""Key projects carry ≥ 70 % of the city's annual project investment (policy "3":
重点项目年度投资占全市项目年度投资的70%以上). Both sides are sums of `annual_target`
(年度投资目标, 万元): the key projects of the year over every project in the store."""

FOUR_FIXED = ("investment_target", "progress_target", "lead_official", "responsible_entity")
"""四定 (policy "3"): 定投资目标 (annual_target > 0), 定进度目标 (progress_target not
blank), 定包联领导 (lead_official not blank), 定责任主体 (responsible_entity not blank)."""

# --------------------------------------------------------------------------- 入库纳统

STATS_MIN_TOTAL_INVESTMENT = Decimal(500)
"""入库纳统 (DESIGN.md §2): planned total investment ≥ 500 万元 (the statistics threshold
for fixed-asset investment projects) and main works started (actual_start on or before
today) — "先入库, 后有数". Eligible means not yet INCLUDED."""

SUPPORTING_MATERIALS = (
    ("PROJECT_FILING", "立项（备案/核准/审批）文件"),
    ("CONSTRUCTION_PERMIT", "施工许可证"),
    ("START_PROOF", "开工证明（实际开工日期）"),
    ("INVESTMENT_REPORT", "投资完成佐证（月度投资报表）"),
)
"""佐证资料 the statistics bureau asks for (policy: 督促项目单位上报佐证资料): filing
approval and construction permit = the approval items of that type completed; start
proof = actual_start recorded; investment evidence = at least one monthly report. All
four present = materials complete (资料齐全)."""

# --------------------------------------------------------------------------- periods


class PeriodKind(StrEnum):
    MONTH = "MONTH"
    """一月晾晒 monthly showing: index 1–12."""
    BIMONTH = "BIMONTH"
    """双月赛马 bi-monthly race: index 1–6 = months (2i−1, 2i)."""
    YEAR = "YEAR"
    """一年考评 yearly assessment: index ignored (1), months 1–12."""


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    year: int
    index: int

    @property
    def first_month(self) -> int:
        return {PeriodKind.MONTH: self.index, PeriodKind.BIMONTH: 2 * self.index - 1}.get(
            self.kind, 1
        )

    @property
    def last_month(self) -> int:
        return {PeriodKind.MONTH: self.index, PeriodKind.BIMONTH: 2 * self.index}.get(self.kind, 12)

    @property
    def months(self) -> int:
        return self.last_month - self.first_month + 1

    @property
    def end(self) -> dt.date:
        """Last day of the period."""
        if self.last_month == 12:
            return dt.date(self.year, 12, 31)
        return dt.date(self.year, self.last_month + 1, 1) - dt.timedelta(days=1)

    @property
    def label(self) -> str:
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}年{self.index}月"
        if self.kind is PeriodKind.BIMONTH:
            return f"{self.year}年{self.first_month}—{self.last_month}月"
        return f"{self.year}年度"


def check_period(kind: PeriodKind, year: int, index: int) -> str | None:
    """The reason a period is invalid, or None."""
    if not 2000 <= year <= 2100:
        return "year must be between 2000 and 2100"
    top = {PeriodKind.MONTH: 12, PeriodKind.BIMONTH: 6, PeriodKind.YEAR: 1}[kind]
    if not 1 <= index <= top:
        return f"index of a {kind.value} period must be between 1 and {top}"
    return None


# --------------------------------------------------------------------------- horse race

RACE_UNITS_NOTE = (
    "The seven race units are the six county-level units and the development zone "
    "(DEV_ZONE_CODE). A project with dev_zone_code counts for the zone, not for its county, "
    "so every project counts exactly once (the city's investment reports break down the "
    "same way, DESIGN.md §2 AdminArea)."
)
DEV_ZONE = DEV_ZONE_CODE


class Dimension(StrEnum):
    INVESTMENT_SCALE = "INVESTMENT_SCALE"
    INVESTMENT_STRUCTURE = "INVESTMENT_STRUCTURE"
    START_AND_STATISTICS = "START_AND_STATISTICS"
    PIPELINE = "PIPELINE"


@dataclass(frozen=True)
class DimensionRule:
    dimension: Dimension
    zh: str
    weight: float
    formula: str


DIMENSIONS: tuple[DimensionRule, ...] = (
    DimensionRule(
        Dimension.INVESTMENT_SCALE,
        "扩大投资规模",
        40.0,
        "investment completion vs 时序进度 (DESIGN.md §2 indicators): value = year-to-date "
        "completed investment through the period's last month ÷ the unit's annual targets ÷ "
        "(last month ÷ 12). 1.0 = exactly on schedule.",
    ),
    DimensionRule(
        Dimension.INVESTMENT_STRUCTURE,
        "优化投资结构",
        20.0,
        'industrial investment share: year-to-date completed investment of projects in the "1+5" '
        "modern industry system (INDUSTRIAL_INDUSTRIES, policy 招商引资专班 围绕“1+5”现代产业体系) "
        "÷ all year-to-date completed investment of the unit.",
    ),
    DimensionRule(
        Dimension.START_AND_STATISTICS,
        "项目开工入统",
        25.0,
        "(开工率 + 入库率) ÷ 2 (DESIGN.md §2 indicators): start rate = projects of the year's "
        "plan (plan_type PLANNED_START) with planned start ≤ period end that started by period "
        "end ÷ those projects; inclusion rate = INCLUDED ÷ projects meeting the 入库 rule "
        "(≥ 500 万元, started by period end). A rate with an empty denominator counts 0.",
    ),
    DimensionRule(
        Dimension.PIPELINE,
        "项目谋划储备",
        15.0,
        "pipeline (储备) size: total investment (万元) of the unit's pre-stage projects "
        "(plan_type PRE_STAGE) plus promoted projects about to sign or signed but not landed.",
    ),
)
"""Weights sum to 100 (configurable; cities weight differently — DESIGN.md §2)."""

SCORE_RULE = (
    "Each dimension: score = weight × value ÷ the best unit's value (the leader gets the full "
    "weight; 0 for all when the best value is 0). Total = sum of the four scores, rounded to "
    "0.01. Rank: total descending; ties keep the same order every time — broken by the "
    "investment-scale score descending, then by unit code ascending — and `tied` marks them."
)

INDUSTRIAL_INDUSTRIES: tuple[str, ...] = (
    "新能源",
    "煤层气",
    "光机电",
    "先进装备制造",
    "新材料",
    "文旅康养",
    "数字经济",
    "现代农业",
)
"""The "1+5" modern industry system's industries as the store names them (the rest —
交通, 水利, 城市更新, 社会民生 — are infrastructure and public works)."""


def dimension_weights() -> dict[Dimension, float]:
    return {d.dimension: d.weight for d in DIMENSIONS}


# --------------------------------------------------------------------------- 骏马 / 蜗牛

FAST_HORSE_RATIO = Decimal("1.3")
FAST_HORSE_MARGIN_PER_QUARTER = Decimal(5000)
"""骏马 (DESIGN.md §2, Mianyang example): quarterly actual ≥ 1.3 × quarterly target AND
≥ 5,000 万元 above it. Adapted to a period of m months: the period target is the annual
target × m ÷ 12 (the store keeps annual targets only) and the margin 5,000 × m ÷ 3 万元."""

SNAIL_RULE = (
    "蜗牛 (DESIGN.md §2): (a) missed its start date — planned start on or before the period "
    "end and not started by then (actual_start null or later than the period end); or (b) a "
    "continuing project (plan_type CONTINUING) whose completed investment in the period is "
    "below its period target (annual target × m ÷ 12)."
)


def period_target(annual_target: Decimal, months: int) -> Decimal:
    return (annual_target * months / 12).quantize(Decimal("0.01"))


def fast_margin(months: int) -> Decimal:
    return (FAST_HORSE_MARGIN_PER_QUARTER * months / 3).quantize(Decimal("0.01"))


# --------------------------------------------------------------------------- 招商引资


class PromoterKind(StrEnum):
    COUNTY_LEADER = "COUNTY_LEADER"
    """县（市、区）、开发区主要领导."""
    BUREAU = "BUREAU"
    """市县两级投促部门 (the city's bureau is held by CITY_CODE)."""


LEADER_MIN_TRIPS_PER_QUARTER = 1
LEADER_MIN_PROJECTS_PER_TRIP = 3
"""Policy 招商引资专项行动: 主要领导每季度外出招商次数不少于1次，每次对接项目不少于3个 —
a leader complies in a quarter with at least 1 trip that pitched ≥ 3 projects."""

BUREAU_MIN_TRIPS_PER_MONTH = 2
BUREAU_MIN_PROJECTS_PER_MONTH = 5
"""Policy: 投促部门每月外出不少于2次，平均每月对接项目不少于5个 — a bureau complies in a
month with ≥ 2 trips and ≥ 5 projects pitched in total."""
