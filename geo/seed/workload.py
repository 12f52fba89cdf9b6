"""What the task forces track per project: approval items, issues with their escalations,
and monthly investment reports. Rows are generated lazily and streamed into COPY.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from geo.enums import (
    ApprovalItemType,
    ApprovalStatus,
    DispatchLevel,
    HandlingLevel,
    IssueCategory,
    IssueStatus,
    PlanType,
)
from geo.seed import names
from geo.seed.admin import COUNTY_BY_CODE
from geo.seed.plan import AS_OF, PLAN_YEAR, YEAR_START, ProjectPlan, after, day

ITEM_ORDER = list(ApprovalItemType)
LEVELS: dict[ApprovalItemType, tuple[tuple[HandlingLevel, ...], tuple[float, ...]]] = {
    ApprovalItemType.PROJECT_FILING: (
        (HandlingLevel.COUNTY, HandlingLevel.MUNICIPAL, HandlingLevel.PROVINCIAL),
        (0.55, 0.35, 0.1),
    ),
    ApprovalItemType.LAND_PRE_EXAMINATION: (
        (HandlingLevel.MUNICIPAL, HandlingLevel.PROVINCIAL, HandlingLevel.NATIONAL),
        (0.55, 0.4, 0.05),
    ),
    ApprovalItemType.LAND_PLANNING_PERMIT: (
        (HandlingLevel.COUNTY, HandlingLevel.MUNICIPAL),
        (0.6, 0.4),
    ),
    ApprovalItemType.ENGINEERING_PLANNING_PERMIT: (
        (HandlingLevel.COUNTY, HandlingLevel.MUNICIPAL),
        (0.7, 0.3),
    ),
    ApprovalItemType.ENVIRONMENTAL_ASSESSMENT: (
        (HandlingLevel.MUNICIPAL, HandlingLevel.PROVINCIAL, HandlingLevel.NATIONAL),
        (0.7, 0.27, 0.03),
    ),
    ApprovalItemType.ENERGY_REVIEW: (
        (HandlingLevel.MUNICIPAL, HandlingLevel.PROVINCIAL),
        (0.6, 0.4),
    ),
    ApprovalItemType.SOIL_WATER_PLAN: ((HandlingLevel.COUNTY, HandlingLevel.MUNICIPAL), (0.6, 0.4)),
    ApprovalItemType.CONSTRUCTION_PERMIT: ((HandlingLevel.COUNTY,), (1.0,)),
    ApprovalItemType.OTHER: (
        (HandlingLevel.COUNTY, HandlingLevel.MUNICIPAL, HandlingLevel.PROVINCIAL),
        (0.4, 0.4, 0.2),
    ),
}
ITEM_COLUMNS = (
    "code",
    "project_id",
    "item_type",
    "name",
    "handling_level",
    "measures",
    "deadline",
    "leader",
    "handler",
    "handler_phone",
    "status",
    "started_on",
    "completed_on",
)
ISSUE_COLUMNS = (
    "code",
    "project_id",
    "category",
    "title",
    "description",
    "level",
    "status",
    "raised_on",
    "due_date",
    "resolved_on",
)
ESCALATION_COLUMNS = ("issue_id", "from_level", "to_level", "escalated_on", "reason")
REPORT_COLUMNS = ("project_id", "year", "month", "completed_investment", "reported_on")

DISPATCH = list(DispatchLevel)
ESCALATION_REASON = {
    DispatchLevel.VICE_MAYOR: "指挥部办公室旬调度未能解决，提交分管副市长精准调度",
    DispatchLevel.EXECUTIVE_VICE_MAYOR: "分管副市长职责范围内难以协调，提请常务副市长专题调度",
    DispatchLevel.MAYOR: "需市政府协调解决的重大问题，提请市长顶格调度",
}
MONTH_WEIGHT = (0.45, 0.55, 0.9, 1.05, 1.15, 1.2, 1.2, 1.15, 1.15, 1.1)
"""Jan–Oct: winter and the Spring Festival slow sites down; summer is the peak."""


def approval_items(
    rng: random.Random, projects: list[ProjectPlan], ids: dict[str, int]
) -> Iterator[tuple[object, ...]]:
    """3–7 items of different types for every planned-start and pre-stage project.

    The 2024 list (前期手续专班) carries what is still to do in 2024: the filing item only
    for projects filed this year (completed on the filing date), the rest dated after it.
    """
    serial = 0
    for p in projects:
        if p.plan_type is PlanType.CONTINUING:
            continue
        filing = p.stage_dates[0][1]
        filed_this_year = filing >= YEAR_START
        k = rng.randint(3, 7)
        later = sorted(rng.sample(ITEM_ORDER[1:], k - int(filed_this_year)), key=ITEM_ORDER.index)
        items: list[tuple[ApprovalItemType, dt.date, ItemState]] = []
        if filed_this_year:
            started = filing - dt.timedelta(days=rng.randint(10, 30))
            state = ItemState(ApprovalStatus.COMPLETED, started, filing)
            items.append((ApprovalItemType.PROJECT_FILING, after(rng, filing, 0, 10), state))
        for item_type, deadline in zip(later, _deadlines(rng, p, filing, len(later)), strict=True):
            items.append((item_type, deadline, _item_state(rng, p, filing, deadline)))
        for n, (item_type, deadline, state) in enumerate(items, start=1):
            serial += 1
            yield _item(rng, p, ids[p.code], n, item_type, deadline, state, serial)


def _deadlines(rng: random.Random, p: ProjectPlan, filing: dt.date, n: int) -> list[dt.date]:
    """Increasing deadlines after the filing, in 2024 (a few reach into early 2025)."""
    lo = max(dt.date(2024, 2, 1), filing + dt.timedelta(days=15))
    if p.plan_type is PlanType.PRE_STAGE:
        hi = dt.date(2025, 1, 31)
    else:
        hi = min(p.planned_start + dt.timedelta(days=20), dt.date(2025, 1, 31))
    hi = max(hi, dt.date(2024, 5, 1), lo)
    return sorted(day(rng, lo, hi) for _ in range(n))


@dataclass(frozen=True)
class ItemState:
    status: ApprovalStatus
    started_on: dt.date | None
    completed_on: dt.date | None


def _item_state(
    rng: random.Random, p: ProjectPlan, filing: dt.date, deadline: dt.date
) -> ItemState:
    status = _item_status(rng, p, deadline)
    if status is ApprovalStatus.NOT_STARTED:
        return ItemState(status, None, None)
    started = min(max(deadline - dt.timedelta(days=rng.randint(20, 90)), filing), AS_OF)
    if status is not ApprovalStatus.COMPLETED:
        return ItemState(status, started, None)
    return ItemState(status, started, min(after(rng, started, 5, 90), AS_OF))


def _item(
    rng: random.Random,
    p: ProjectPlan,
    project_id: int,
    n: int,
    item_type: ApprovalItemType,
    deadline: dt.date,
    state: ItemState,
    serial: int,
) -> tuple[object, ...]:
    levels, weights = LEVELS[item_type]
    level = rng.choices(levels, weights)[0]
    county = COUNTY_BY_CODE[p.county]
    if p.lead and rng.random() < 0.6:
        leader = f"{p.lead}（{p.lead_title}）"
    else:
        dept = rng.choice(("行政审批服务管理局局长", "发展和改革局局长", "自然资源局局长"))
        leader = f"{names.person(rng)}（{names.place(p.county, county.name)}{dept}）"
    return (
        f"{p.code}-A{n:02d}",
        project_id,
        item_type.value,
        rng.choice(names.APPROVAL_NAMES[item_type.value]),
        level.value,
        rng.choice(names.MEASURES),
        deadline,
        leader,
        names.person(rng),
        names.masked_phone(serial),
        state.status.value,
        state.started_on,
        state.completed_on,
    )


def _item_status(rng: random.Random, p: ProjectPlan, deadline: dt.date) -> ApprovalStatus:
    """Past deadlines mostly done, some overdue (办理中/受阻); later ones mostly open."""
    u = rng.random()
    if deadline < AS_OF:
        if p.started or u < 0.8:
            return ApprovalStatus.COMPLETED
        return ApprovalStatus.IN_PROGRESS if u < 0.92 else ApprovalStatus.BLOCKED
    if u < 0.5:
        return ApprovalStatus.NOT_STARTED
    if u < 0.9:
        return ApprovalStatus.IN_PROGRESS
    return ApprovalStatus.BLOCKED if u < 0.95 else ApprovalStatus.COMPLETED


@dataclass(frozen=True)
class Issue:
    code: str
    row: tuple[object, ...]
    escalations: list[tuple[DispatchLevel, DispatchLevel, dt.date, str]]


def issues(rng: random.Random, projects: list[ProjectPlan], ids: dict[str, int]) -> list[Issue]:
    """Bottlenecks on about a third of the key projects (≈ 100 in the demo)."""
    key = [p for p in projects if p.is_key]
    chosen = sorted(rng.sample(key, round(len(key) / 3)), key=lambda p: p.seq)
    out: list[Issue] = []
    for p in chosen:
        for n in range(1, (1 if rng.random() < 0.7 else 2) + 1):
            out.append(_issue(rng, p, ids[p.code], n))
    return out


def _issue(rng: random.Random, p: ProjectPlan, project_id: int, n: int) -> Issue:
    category = rng.choices(list(IssueCategory), (0.3, 0.2, 0.15, 0.15, 0.1, 0.1))[0]
    level = rng.choices(DISPATCH, (0.45, 0.3, 0.15, 0.1))[0]
    status = rng.choices(list(IssueStatus), (0.3, 0.35, 0.35))[0]
    raised = day(rng, dt.date(2024, 1, 10), dt.date(2024, 10, 15))
    steps = DISPATCH.index(level)
    chain = [raised]
    for _ in range(steps):
        chain.append(after(rng, chain[-1], 10, 30))
    if chain[-1] > AS_OF:  # squeeze the escalations into the days left
        chain = [raised + dt.timedelta(days=k + 1) for k in range(len(chain))]
        chain[0] = raised
    resolved = min(after(rng, chain[-1], 5, 60), AS_OF) if status is IssueStatus.RESOLVED else None
    if resolved is not None and resolved <= chain[-1]:
        resolved = chain[-1]
    title = rng.choice(names.ISSUE_TITLES[category.value])
    row = (
        f"{p.code}-Q{n:02d}",
        project_id,
        category.value,
        title,
        f"{p.name}：{title}，责任单位{p.entity}",
        level.value,
        status.value,
        raised,
        after(rng, raised, 15, 60),
        resolved,
    )
    escalations = [
        (DISPATCH[k], DISPATCH[k + 1], chain[k + 1], ESCALATION_REASON[DISPATCH[k + 1]])
        for k in range(steps)
    ]
    return Issue(f"{p.code}-Q{n:02d}", row, escalations)


def reports(
    rng: random.Random, projects: list[ProjectPlan], ids: dict[str, int]
) -> Iterator[tuple[object, ...]]:
    """Monthly completed investment Jan–Oct 2024 for started projects, summing to ≤ ~target."""
    for p in projects:
        if p.actual_start is None or p.annual_c == 0:
            continue
        first = 1 if p.actual_start.year < PLAN_YEAR else p.actual_start.month
        last = p.completed_on.month if p.completed_on else AS_OF.month
        months = list(range(first, last + 1))
        if not months:
            continue
        if p.completed_on:
            pace = rng.uniform(0.9, 1.0)
        elif first == 1:
            pace = rng.uniform(0.5, 1.02)
        else:
            pace = rng.uniform(0.2, 0.9)
        done = int(p.annual_c * pace)
        weights = [MONTH_WEIGHT[m - 1] * rng.uniform(0.7, 1.3) for m in months]
        total_w = sum(weights)
        amounts = [int(done * w / total_w) for w in weights]
        amounts[-1] += done - sum(amounts)
        for m, c in zip(months, amounts, strict=True):
            reported = dt.date(PLAN_YEAR, m + 1, 5) if m < 12 else dt.date(PLAN_YEAR + 1, 1, 5)
            yield (ids[p.code], PLAN_YEAR, m, f"{c // 100}.{c % 100:02d}", reported)
