"""用地保障 in GraphQL (DESIGN.md §3, issue 4): each county's land-guarantee status, the city
totals and pool, the pool allocation plan, a project's land status and the stock that weighs
on quota (增存挂钩).

Resolvers are thin: the numbers come from geo/guarantee.py and geo/queries/ (SQL), every rule
from geo/guarantee_rules.py; here they are only converted to 公顷/亩 and assembled. The
city-wide project ranking is one DataLoader per request, shared by `atRiskProjects`,
`Project.landStatus` and `poolAllocationPlan`.

Dates: `asOf` (D) defaults to today, or to 31 December for a past plan year
(`guarantee_rules.default_as_of`); a D after today is a BAD_USER_INPUT, as is a year outside
2000–2100. An unknown `countyCode` — or one that is not a county-level unit (the city, the
development zone) — gives an empty list.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Annotated, Any

import strawberry
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    VariableNode,
)
from sqlalchemy import Row

from geo import crs
from geo import guarantee as engine
from geo import guarantee_rules as R
from geo.enums import LandStatus
from geo.queries import stock
from schema import enums as G
from schema.errors import bad_input
from schema.pagination import page_size
from schema.types import AdminArea, ApprovalItem, Area, Info, Parcel, Project

MAX_STOCK_LIST = 500

YearArg = Annotated[int, strawberry.argument(description="计划年度 Plan year (2000–2100)")]
AsOfArg = Annotated[
    dt.date | None,
    strawberry.argument(
        description="截至日期 The numbers as they stood on this date (default: today; for a past "
        "year its 31 December). Not after today."
    ),
]


# --------------------------------------------------------------------------- dates


@dataclass(frozen=True)
class When:
    """The plan year, the as-of date D, and what geo/guarantee.py takes for it."""

    year: int
    on: dt.date
    as_of: dt.date | None
    """None when D is today: the current statuses are read, not rebuilt from the steps."""

    @property
    def key(self) -> tuple[int, dt.date | None]:
        return (self.year, self.as_of)

    @property
    def current(self) -> bool:
        return self.as_of is None


def resolve_when(info: Info, year: int, as_of: dt.date | None) -> When:
    if not R.check_year(year):
        lo, hi = R.YEAR_RANGE
        raise bad_input(f"`year` must be between {lo} and {hi}", argument="year")
    today = info.context.today
    if as_of is not None and as_of > today:
        raise bad_input(
            f"`asOf` must not be after today ({today.isoformat()}): the store holds no future steps",
            argument="asOf",
        )
    on = as_of or R.default_as_of(year, today)
    return When(year, on, None if on == today else on)


def _on(info: Info, as_of: dt.date | None) -> tuple[dt.date, bool]:
    today = info.context.today
    if as_of is not None and as_of > today:
        raise bad_input(f"`asOf` must not be after today ({today.isoformat()})", argument="asOf")
    on = as_of or today
    return on, on == today


def _f(value: Any) -> float:
    """An amount in m² to the cent: quota is booked in cents and demand is a sum of
    cent-rounded parcel areas, so rounding removes only floating-point noise."""
    return round(float(value or 0), 2)


def _ha(m2: float) -> float:
    return crs.ha(m2)


async def _area(info: Info, code: str) -> AdminArea | None:
    row = await info.context.loaders.admin_area.load(code)
    return AdminArea.from_row(row) if row else None


async def _project(info: Info, project_id: int) -> Project | None:
    row = await info.context.loaders.project.load(project_id)
    return Project.from_row(row) if row else None


# --------------------------------------------------------------------------- figures


@strawberry.type(description="用地需求 Demand split by key-list membership")
class DemandArea:
    key: Area = strawberry.field(description="重点项目 key projects")
    other: Area = strawberry.field(description="其他项目 other projects")
    total: Area = strawberry.field(description="合计 total")


@strawberry.type(
    description="冲突面积 Area of demand parcels shared with protected zones, by zone kind"
)
class ConflictArea:
    basic_farmland_ha: float = strawberry.field(description="永久基本农田（公顷）")
    ecological_redline_ha: float = strawberry.field(description="生态保护红线（公顷）")
    total_ha: float = strawberry.field(description="合计（公顷）")
    basic_farmland: Area = strawberry.field(description="永久基本农田")
    ecological_redline: Area = strawberry.field(description="生态保护红线")


def _conflict_area(farmland_m2: float, redline_m2: float) -> ConflictArea:
    return ConflictArea(
        basic_farmland_ha=_ha(farmland_m2),
        ecological_redline_ha=_ha(redline_m2),
        total_ha=_ha(farmland_m2 + redline_m2),
        basic_farmland=Area(m2=farmland_m2),
        ecological_redline=Area(m2=redline_m2),
    )


@dataclass
class Figures:
    """A county's numbers in m² (or their sums over the city)."""

    demand_key: float = 0.0
    demand_other: float = 0.0
    allocated: float = 0.0
    from_pool: float = 0.0
    used: float = 0.0
    remaining: float = 0.0
    gap: float = 0.0
    approved: float = 0.0
    supplied: float = 0.0
    approved_unsupplied: float = 0.0
    approved_unsupplied_count: int = 0
    conflict_count: int = 0
    conflict_farmland: float = 0.0
    conflict_redline: float = 0.0
    key_conflict_demand: float = 0.0
    outside_urban: int = 0
    at_risk: int = 0

    @property
    def demand(self) -> float:
        return self.demand_key + self.demand_other

    @classmethod
    def of(cls, row: Row[Any]) -> Figures:
        demand = _f(row.demand_key) + _f(row.demand_other)
        return cls(
            demand_key=_f(row.demand_key),
            demand_other=_f(row.demand_other),
            allocated=_f(row.allocated),
            from_pool=_f(row.from_pool),
            used=_f(row.used),
            remaining=_f(row.remaining),
            gap=max(0.0, round(demand - _f(row.remaining), 2)),
            approved=_f(row.approved),
            supplied=_f(row.supplied),
            approved_unsupplied=_f(row.approved_unsupplied),
            approved_unsupplied_count=int(row.approved_unsupplied_parcels),
            conflict_count=int(row.conflict_parcels),
            conflict_farmland=_f(row.conflict_farmland_m2),
            conflict_redline=_f(row.conflict_redline_m2),
            key_conflict_demand=_f(row.key_conflict_demand),
            outside_urban=int(row.outside_urban_parcels),
            at_risk=int(row.at_risk_projects),
        )

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


@strawberry.interface(
    description="用地保障指标 Land-guarantee figures of a county, or their sums over the city (公顷)"
)
class LandGuaranteeFigures:
    demand_ha: float = strawberry.field(
        description="用地需求 New construction land still to be approved for active projects (ha)"
    )
    demand_key_ha: float = strawberry.field(description="重点项目用地需求（公顷）")
    demand_other_ha: float = strawberry.field(description="其他项目用地需求（公顷）")
    demand: DemandArea = strawberry.field(description="用地需求 in m², 亩 and 公顷")
    quota_allocated_ha: float = strawberry.field(description="计划指标下达（公顷）")
    quota_from_pool_ha: float = strawberry.field(description="市级调节库调入（公顷）")
    quota_used_ha: float = strawberry.field(
        description="已使用: approval debits minus withdrawal credits (ha)"
    )
    quota_remaining_ha: float = strawberry.field(description="剩余指标 the ledger sum (ha)")
    gap_ha: float = strawberry.field(
        description="指标缺口 max(0, demand − remaining) (ha); for the city the sum over counties"
    )
    coverage_ratio: float | None = strawberry.field(
        description="保障率 remaining / demand; null when there is no demand"
    )
    approved_ha: float = strawberry.field(
        description="本年批准 Area approved in the plan year up to asOf, still approved (ha)"
    )
    supplied_ha: float = strawberry.field(
        description="本年供地 Area supplied in the plan year (ha)"
    )
    approved_not_supplied_ha: float = strawberry.field(
        description="批而未供 Area approved and not yet supplied on asOf, any year (ha)"
    )
    approved_not_supplied_count: int = strawberry.field(description="批而未供地块数")
    conflict_count: int = strawberry.field(
        description="冲突地块数 Demand parcels overlapping basic farmland or the red line"
    )
    conflict_area_ha: float = strawberry.field(description="冲突面积合计（公顷）")
    conflict_area: ConflictArea = strawberry.field(description="冲突面积 by zone kind")
    key_conflict_demand_ha: float = strawberry.field(
        description="重点项目冲突需求 Key-project demand on conflicting parcels (ha)"
    )
    outside_urban_boundary_count: int = strawberry.field(
        description="城镇开发边界外（需单独选址）的需求地块数"
    )
    at_risk_project_count: int = strawberry.field(
        description="保障风险项目数 Projects in conflict or not fully covered"
    )


def _figure_fields(f: Figures) -> dict[str, Any]:
    return {
        "demand_ha": _ha(f.demand),
        "demand_key_ha": _ha(f.demand_key),
        "demand_other_ha": _ha(f.demand_other),
        "demand": DemandArea(
            key=Area(m2=f.demand_key), other=Area(m2=f.demand_other), total=Area(m2=f.demand)
        ),
        "quota_allocated_ha": _ha(f.allocated),
        "quota_from_pool_ha": _ha(f.from_pool),
        "quota_used_ha": _ha(f.used),
        "quota_remaining_ha": _ha(f.remaining),
        "gap_ha": _ha(f.gap),
        "coverage_ratio": f.remaining / f.demand if f.demand > 0 else None,
        "approved_ha": _ha(f.approved),
        "supplied_ha": _ha(f.supplied),
        "approved_not_supplied_ha": _ha(f.approved_unsupplied),
        "approved_not_supplied_count": f.approved_unsupplied_count,
        "conflict_count": f.conflict_count,
        "conflict_area_ha": _ha(f.conflict_farmland + f.conflict_redline),
        "conflict_area": _conflict_area(f.conflict_farmland, f.conflict_redline),
        "key_conflict_demand_ha": _ha(f.key_conflict_demand),
        "outside_urban_boundary_count": f.outside_urban,
        "at_risk_project_count": f.at_risk,
    }


# --------------------------------------------------------------------------- projects


def _tier_label(tier: int) -> str:
    return R.PRIORITY_TIERS[tier]


@strawberry.type(
    description="保障风险项目 A project whose land demand is in conflict or not fully covered by "
    "its county's remaining quota in priority order"
)
class ProjectLandRisk:
    project_code: str = strawberry.field(description="项目代码 Project code")
    county_code: str
    tier: int = strawberry.field(description="优先序 Priority tier 1–5 (1 first)")
    tier_label: str = strawberry.field(description="优先序名称")
    is_key: bool
    planned_start: dt.date | None
    demand_ha: float = strawberry.field(description="用地需求（公顷）")
    covered_ha: float = strawberry.field(description="县级指标可覆盖（公顷）")
    unmet_ha: float = strawberry.field(description="未覆盖（公顷）")
    conflict: bool = strawberry.field(description="与永久基本农田或生态保护红线冲突")
    outside_urban_boundary_count: int
    cover: G.CoverStatus  # type: ignore[valid-type]
    reasons: list[str] = strawberry.field(description="原因 Why (Chinese — English)")
    _project_id: strawberry.Private[int]
    _farmland_m2: strawberry.Private[float] = 0.0
    _redline_m2: strawberry.Private[float] = 0.0

    @strawberry.field(description="冲突面积 by zone kind")
    def conflict_area(self) -> ConflictArea:
        # built when asked: a landGuarantee answer lists many projects and seldom this
        return _conflict_area(self._farmland_m2, self._redline_m2)

    @strawberry.field(description="项目")
    async def project(self, info: Info) -> Project | None:
        return await _project(info, self._project_id)

    @strawberry.field(description="所在县（市、区） of the demand parcels")
    async def county(self, info: Info) -> AdminArea | None:
        return await _area(info, self.county_code)


def _at_risk(row: Row[Any]) -> bool:
    return bool(row.conflict) or _f(row.demand) > _f(row.covered)


def _risk(row: Mapping[str, Any]) -> ProjectLandRisk:
    """A ranked project (a database row's mapping, or one JSON object of the at-risk rows a
    county statement brings along: same keys) as a risk."""
    demand, covered, conflict = _f(row["demand"]), _f(row["covered"]), bool(row["conflict"])
    farmland, redline = _f(row["farmland_m2"]), _f(row["redline_m2"])
    outside, tier, start = int(row["outside_urban_parcels"]), row["tier"], row["planned_start"]
    cover = R.cover_status(demand_m2=demand, covered_m2=covered, conflict=conflict)
    return ProjectLandRisk(
        project_code=row["code"],
        county_code=row["county_code"],
        tier=tier,
        tier_label=_tier_label(tier),
        is_key=row["is_key"],
        planned_start=dt.date.fromisoformat(start) if type(start) is str else start,
        demand_ha=_ha(demand),
        covered_ha=_ha(covered),
        unmet_ha=_ha(_f(row["unmet"])),
        conflict=conflict,
        outside_urban_boundary_count=outside,
        cover=G.CoverStatus(cover.value),
        reasons=R.project_reasons(
            demand_m2=demand,
            covered_m2=covered,
            conflict=conflict,
            farmland_m2=farmland,
            redline_m2=redline,
            outside_urban_parcels=outside,
            county_remaining_m2=_f(row["county_remaining"]),
            ahead_m2=_f(row["before_in_county"]),
        ),
        _project_id=row["project_id"],
        _farmland_m2=farmland,
        _redline_m2=redline,
    )


def _g(graphql_enum: Any, value: Any) -> Any:
    return None if value is None else graphql_enum(getattr(value, "value", value))


# --------------------------------------------------------------------------- county and city


@strawberry.type(description="县级用地保障状况 Land-guarantee status of one county-level unit")
class CountyLandGuarantee(LandGuaranteeFigures):
    county_code: str
    year: int = strawberry.field(description="计划年度")
    as_of: dt.date = strawberry.field(description="截至日期")
    status: G.GuaranteeStatus  # type: ignore[valid-type]
    reasons: list[str] = strawberry.field(
        description="状态原因 Every rule that applies (Chinese — English)"
    )
    _key: strawberry.Private[tuple[int, dt.date | None]]
    _prefetched: strawberry.Private[tuple[int | None, list[ProjectLandRisk]] | None] = None
    """(first, risks) fetched with the county figures when the query asked for them."""

    @strawberry.field(description="县（市、区）")
    async def county(self, info: Info) -> AdminArea | None:
        return await _area(info, self.county_code)

    @strawberry.field(
        description=(
            "保障风险项目 Projects in conflict or not fully covered, key projects first, then by "
            "priority tier, planned start and code"
        )
    )
    def at_risk_projects(
        self,
        info: Info,
        first: Annotated[
            int | None,
            strawberry.argument(
                description="at most this many (default: all; at most the maximum page size)"
            ),
        ] = None,
    ) -> list[ProjectLandRisk]:
        """Synchronous when the rows came with the county statement (the usual case): no
        coroutine per county for the executor to schedule; otherwise an awaitable, which
        graphql-core awaits like an async resolver's."""
        if first is not None:  # bounded like every list: PAGE_TOO_LARGE above the cap
            cfg = info.context.config
            first = page_size(first, default=0, maximum=cfg.max_page_size)
        if self._prefetched is not None and self._prefetched[0] == first:
            return self._prefetched[1]
        return self._load_at_risk(info, first)  # type: ignore[return-value]

    async def _load_at_risk(self, info: Info, first: int | None) -> list[ProjectLandRisk]:
        year, as_of = self._key
        if as_of is None:
            now = await info.context.loaders.guarantee_at_risk.load((year, first))
            return [_risk(r._mapping) for r in now if r.county_code == self.county_code]
        rows = await info.context.loaders.guarantee_ranking.load(self._key)
        risky = [r for r in rows if r.county_code == self.county_code and _at_risk(r)]
        risky.sort(key=lambda r: (not r.is_key, r.tier, r.planned_start or dt.date.max, r.code))
        return [_risk(r._mapping) for r in risky[:first]]


_UNKNOWN = object()


def _first_argument(node: FieldNode, variables: dict[str, Any]) -> Any:
    """The value of `first` on an atRiskProjects node: a literal, a variable's coerced
    value, None when absent or null, _UNKNOWN for anything else."""
    for argument in node.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            return variables.get(value.name.value)
        return None if isinstance(value, NullValueNode) else _UNKNOWN
    return None


def _at_risk_first(info: Info) -> tuple[bool, int | None]:
    """Look ahead: does the query ask atRiskProjects, all with one `first`? Then the county
    statement brings them along (one round trip instead of two). Walks the operation's
    own syntax tree (fragments included): cheaper than Strawberry's `selected_fields`."""
    raw = info._raw_info
    firsts: set[Any] = set()

    def walk(selection_set: Any) -> None:
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                if sel.name.value == "atRiskProjects":
                    firsts.add(_first_argument(sel, raw.variable_values))
            elif isinstance(sel, InlineFragmentNode):
                walk(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode):
                fragment = raw.fragments.get(sel.name.value)
                if fragment is not None:
                    walk(fragment.selection_set)

    for node in raw.field_nodes:
        if node.selection_set is not None:
            walk(node.selection_set)
    if len(firsts) != 1:
        return False, None
    (first,) = firsts
    return (True, first) if first is None or type(first) is int else (False, None)


def _county(
    row: Row[Any], when: When, prefetched: tuple[int | None, list[Any]] | None = None
) -> CountyLandGuarantee:
    figures = Figures.of(row)
    status, reasons = R.county_status(
        demand_m2=figures.demand,
        remaining_m2=figures.remaining,
        key_demand_m2=figures.demand_key,
        key_conflict_m2=figures.key_conflict_demand,
    )
    return CountyLandGuarantee(
        county_code=row.county_code,
        year=when.year,
        as_of=when.on,
        status=_g(G.GuaranteeStatus, status),
        reasons=reasons,
        _key=when.key,
        _prefetched=prefetched,
        **_figure_fields(figures),
    )


class Assembled:
    """The last landGuarantee answers assembled from the county statement, one per (year,
    date, first, county filter), with the rows they came from.

    The statement runs on every request; when its rows equal the remembered ones — every
    column and every at-risk row compared — the objects built from them are equal too, so
    they are reused instead of rebuilt (≈40 objects and their reason texts per county,
    ~0.5 ms of Python per request, profiled). Any change in the store changes the rows.
    The objects are never mutated after assembly, so concurrent requests may share them."""

    def __init__(self, maxsize: int = 64) -> None:
        self.maxsize = maxsize
        self._last: dict[tuple[Any, ...], tuple[list[Any], list[CountyLandGuarantee]]] = {}

    def counties(
        self, rows: list[Any], when: When, first: int | None, county: str | None
    ) -> list[CountyLandGuarantee]:
        key = (when.year, when.on, when.as_of, first, county)
        seen = self._last.get(key)
        if seen is not None and seen[0] == rows:
            return seen[1]
        built = [
            _county(r, when, prefetched=(first, [_risk(x) for x in r.at_risk_rows])) for r in rows
        ]
        if len(self._last) >= self.maxsize and key not in self._last:
            self._last.pop(next(iter(self._last)))
        self._last[key] = (list(rows), built)
        return built


ASSEMBLED = Assembled()


@strawberry.type(description="全市合计 Sums over the six county-level units")
class LandGuaranteeTotals(LandGuaranteeFigures):
    county_count: int


@strawberry.type(description="市级计划指标调节库 The city pool of new construction-land quota")
class QuotaPool:
    allocated_ha: float = strawberry.field(description="下达至调节库（公顷）")
    transferred_ha: float = strawberry.field(description="已调剂给县（公顷）")
    remaining_ha: float = strawberry.field(description="调节库剩余（公顷）")
    allocated: Area
    transferred: Area
    remaining: Area


def _pool(row: Row[Any]) -> QuotaPool:
    allocated, transferred, remaining = _f(row.allocated), _f(row.transferred), _f(row.remaining)
    return QuotaPool(
        allocated_ha=_ha(allocated),
        transferred_ha=_ha(transferred),
        remaining_ha=_ha(remaining),
        allocated=Area(m2=allocated),
        transferred=Area(m2=transferred),
        remaining=Area(m2=remaining),
    )


@strawberry.type(description="全市用地保障 City totals, the pool and every county")
class CityLandGuarantee:
    year: int
    as_of: dt.date
    totals: LandGuaranteeTotals
    pool: QuotaPool
    counties: list[CountyLandGuarantee]

    @strawberry.field(description="晋城市")
    async def city(self, info: Info) -> AdminArea | None:
        return await _area(info, crs.CITY_CODE)


# --------------------------------------------------------------------------- pool plan


@strawberry.type(description="调节库分配 The pool's share for one project, in priority order")
class PoolAllocationRow:
    county_code: str
    tier: int
    tier_label: str
    is_key: bool
    planned_start: dt.date | None
    unmet_ha: float = strawberry.field(description="县级指标未覆盖的需求（公顷）")
    allocated_ha: float = strawberry.field(description="调节库可安排（公顷）")
    remaining_unmet_ha: float = strawberry.field(description="安排后仍缺（公顷）")
    _project_id: strawberry.Private[int]

    @strawberry.field
    async def project(self, info: Info) -> Project | None:
        return await _project(info, self._project_id)

    @strawberry.field
    async def county(self, info: Info) -> AdminArea | None:
        return await _area(info, self.county_code)


@strawberry.type(description="不予安排 A project the pool does not serve, and why")
class PoolExclusion:
    county_code: str
    tier: int
    tier_label: str
    unmet_ha: float
    reason: str
    _project_id: strawberry.Private[int]

    @strawberry.field
    async def project(self, info: Info) -> Project | None:
        return await _project(info, self._project_id)

    @strawberry.field
    async def county(self, info: Info) -> AdminArea | None:
        return await _area(info, self.county_code)


@strawberry.type(description="分县汇总 The plan summed per county")
class PoolCountyShare:
    county_code: str
    unmet_ha: float
    allocated_ha: float
    remaining_unmet_ha: float
    excluded_unmet_ha: float

    @strawberry.field
    async def county(self, info: Info) -> AdminArea | None:
        return await _area(info, self.county_code)


@strawberry.type(
    description=(
        "调节库分配方案 How the city pool's remaining quota would be shared over the counties' "
        "unmet demand: project by project in priority order (provincial key → municipal key → "
        "signed → about to sign → the rest; earlier planned start first), never to a project in "
        "conflict with basic farmland or the red line"
    )
)
class PoolAllocationPlan:
    year: int
    as_of: dt.date
    pool: QuotaPool
    pool_remaining_ha: float = strawberry.field(description="调节库剩余（公顷）")
    unmet_ha: float = strawberry.field(description="可安排项目的未覆盖需求合计（公顷）")
    allocated_ha: float = strawberry.field(description="本方案安排合计（公顷）")
    still_unmet_ha: float = strawberry.field(description="安排后仍缺合计（公顷）")
    excluded_unmet_ha: float = strawberry.field(description="冲突项目未覆盖需求（公顷）")
    pool_left_ha: float = strawberry.field(description="安排后调节库余量（公顷）")
    rows: list[PoolAllocationRow]
    excluded: list[PoolExclusion]
    by_county: list[PoolCountyShare]


def _plan(rows: list[Row[Any]], pool_row: Row[Any], when: When) -> PoolAllocationPlan:
    eligible = [r for r in rows if not r.conflict and _f(r.unmet) > 0]
    excluded = [r for r in rows if r.conflict]
    share: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for r in eligible:
        s = share[r.county_code]
        s[0] += _f(r.unmet)
        s[1] += _f(r.from_pool)
        s[2] += _f(r.unmet) - _f(r.from_pool)
    for r in excluded:
        share[r.county_code][3] += _f(r.unmet)
    unmet = sum(_f(r.unmet) for r in eligible)
    allocated = sum(_f(r.from_pool) for r in eligible)
    pool = _pool(pool_row)
    return PoolAllocationPlan(
        year=when.year,
        as_of=when.on,
        pool=pool,
        pool_remaining_ha=pool.remaining_ha,
        unmet_ha=_ha(unmet),
        allocated_ha=_ha(allocated),
        still_unmet_ha=_ha(round(unmet - allocated, 2)),
        excluded_unmet_ha=_ha(sum(_f(r.unmet) for r in excluded)),
        pool_left_ha=_ha(round(_f(pool_row.remaining) - allocated, 2)),
        rows=[
            PoolAllocationRow(
                county_code=r.county_code,
                tier=r.tier,
                tier_label=_tier_label(r.tier),
                is_key=r.is_key,
                planned_start=r.planned_start,
                unmet_ha=_ha(_f(r.unmet)),
                allocated_ha=_ha(_f(r.from_pool)),
                remaining_unmet_ha=_ha(_f(r.unmet) - _f(r.from_pool)),
                _project_id=r.project_id,
            )
            for r in eligible
        ],
        excluded=[
            PoolExclusion(
                county_code=r.county_code,
                tier=r.tier,
                tier_label=_tier_label(r.tier),
                unmet_ha=_ha(_f(r.unmet)),
                reason=R.project_reasons(
                    demand_m2=_f(r.demand),
                    covered_m2=0.0,
                    conflict=True,
                    farmland_m2=_f(r.farmland_m2),
                    redline_m2=_f(r.redline_m2),
                    outside_urban_parcels=0,
                    county_remaining_m2=0.0,
                    ahead_m2=0.0,
                )[0],
                _project_id=r.project_id,
            )
            for r in excluded
        ],
        by_county=[
            PoolCountyShare(
                county_code=code,
                unmet_ha=_ha(v[0]),
                allocated_ha=_ha(v[1]),
                remaining_unmet_ha=_ha(v[2]),
                excluded_unmet_ha=_ha(v[3]),
            )
            for code, v in sorted(share.items())
        ],
    )


# --------------------------------------------------------------------------- Project.landStatus


@strawberry.type(description="按手续状态 Parcels of one procedure step")
class LandStatusCount:
    status: G.LandStatus  # type: ignore[valid-type]
    parcel_count: int
    area: Area
    new_construction_area: Area = strawberry.field(description="新增建设用地")


@strawberry.type(description="项目地块冲突 A project parcel in conflict, with the overlap by kind")
class ProjectParcelConflict:
    parcel: Parcel
    awaiting_approval: bool = strawberry.field(
        description="待批 The parcel is still in demand (its conflict blocks the project's cover)"
    )
    basic_farmland: Area = strawberry.field(description="与永久基本农田重叠")
    ecological_redline: Area = strawberry.field(description="与生态保护红线重叠")


@strawberry.type(
    description=(
        "项目用地保障情况 A project's land on a date: parcels by step, new construction land "
        "still needed, conflicts, cover by its county's remaining quota in priority order and "
        "the next procedure step (rules: geo/guarantee_rules.py)"
    )
)
class ProjectLandStatus:
    year: int
    as_of: dt.date
    parcel_count: int = strawberry.field(description="地块数 linked on asOf")
    by_status: list[LandStatusCount] = strawberry.field(description="按手续状态 in procedure order")
    demand_parcel_count: int = strawberry.field(description="待批地块数")
    new_construction_needed: Area = strawberry.field(
        description="尚需新增建设用地 (0 for a completed project)"
    )
    new_construction_needed_ha: float
    tier: int = strawberry.field(description="优先序 Priority tier 1–5")
    tier_label: str
    conflict: bool = strawberry.field(
        description="A parcel still to be approved conflicts with basic farmland or the red line"
    )
    conflicts: list[ProjectParcelConflict] = strawberry.field(
        description="冲突地块 every linked parcel in conflict, with overlap areas"
    )
    conflict_area: ConflictArea = strawberry.field(description="待批地块的冲突面积")
    outside_urban_boundary_count: int = strawberry.field(
        description="城镇开发边界外的待批地块数（需单独选址）"
    )
    cover: G.CoverStatus  # type: ignore[valid-type]
    covered_ha: float = strawberry.field(description="县级剩余指标可覆盖（公顷）")
    unmet_ha: float = strawberry.field(description="未覆盖（公顷）")
    county_remaining_ha: float | None = strawberry.field(
        description="所在县剩余指标（公顷）; null when the project has no demand"
    )
    ahead_in_county_ha: float | None = strawberry.field(
        description="优先序在前的本县项目需求（公顷） demand ahead of this project in its county "
        "(non-conflicting projects only); null when the project has no demand"
    )
    from_pool_ha: float = strawberry.field(
        description="调节库分配方案中的安排（公顷） this project's share in poolAllocationPlan"
    )
    reasons: list[str]
    next_step: G.LandStatus | None = strawberry.field(  # type: ignore[valid-type]
        description="下一手续节点 The step after the least advanced parcel still in demand"
    )
    next_step_parcels: list[str] = strawberry.field(
        description="Codes of the parcels waiting for that step"
    )
    next_step_item: ApprovalItem | None = strawberry.field(
        description="对应审批事项 The open approval item of that step with the earliest deadline"
    )
    next_step_deadline: dt.date | None = strawberry.field(
        description="办理时限 Its deadline (null when the step has no approval item)"
    )


def _sum_rows(rows: list[Row[Any]], attr: str) -> float:
    return sum(_f(getattr(r, attr)) for r in rows)


async def project_land_status(
    info: Info, project: Project, *, year: int | None, as_of: dt.date | None
) -> ProjectLandStatus:
    loaders = info.context.loaders
    project_id = project._id
    when = resolve_when(
        info, year if year is not None else (as_of or info.context.today).year, as_of
    )
    # One tick for every project of a page: the three loaders batch across the whole list.
    ranking, parcels, items = await asyncio.gather(
        loaders.guarantee_ranking.load(when.key),
        loaders.project_parcels_on.load((project_id, when.on, when.current)),
        loaders.approval_items_of_project.load(project_id),
    )
    parts = [r for r in ranking if r.project_id == project_id]
    parts.sort(key=lambda r: -_f(r.demand))

    by_status: dict[str, list[Row[Any]]] = defaultdict(list)
    for p in parcels:
        by_status[p.status_on].append(p)
    order = [*R.LAND_CHAIN, LandStatus.IDLE, LandStatus.LAPSED]
    statuses = [LandStatus(s) for s in by_status]
    step = R.next_step(statuses)
    waiting: list[str] = []
    if step is not None:
        at = R.LAND_CHAIN[R.LAND_CHAIN.index(step) - 1]
        waiting = [p.code for p in by_status.get(at.value, [])]
    item_row = None
    item_type = R.NEXT_STEP_APPROVAL_ITEM.get(step) if step is not None else None
    if item_type is not None:
        open_items = [
            i
            for i in items
            if i.item_type == item_type and (i.completed_on is None or i.completed_on > when.on)
        ]
        open_items.sort(key=lambda i: (i.deadline or dt.date.max, i.code))
        item_row = open_items[0] if open_items else None

    demand = sum(_f(r.demand) for r in parts)
    covered = sum(_f(r.covered) for r in parts)
    conflict = any(r.conflict for r in parts)
    first = parts[0] if parts else None
    tier = (
        first.tier
        if first is not None
        else R.priority_tier(
            categories=[c.value for c in project.categories],
            is_key=project.is_key,
            signing_status=getattr(project.signing_status, "value", None),
        )
    )
    cover = R.cover_status(demand_m2=_f(demand), covered_m2=_f(covered), conflict=conflict)
    reasons = (
        R.project_reasons(
            demand_m2=_f(demand),
            covered_m2=_f(covered),
            conflict=conflict,
            farmland_m2=_sum_rows(parts, "farmland_m2"),
            redline_m2=_sum_rows(parts, "redline_m2"),
            outside_urban_parcels=sum(int(r.outside_urban_parcels) for r in parts),
            county_remaining_m2=_f(first.county_remaining) if first else 0.0,
            ahead_m2=_f(first.before_in_county) if first else 0.0,
        )
        if parts
        else ["无待批用地 — no land awaiting approval"]
    )
    demand_statuses = {s.value for s in R.DEMAND_STATUSES}
    return ProjectLandStatus(
        year=when.year,
        as_of=when.on,
        parcel_count=len(parcels),
        by_status=[
            LandStatusCount(
                status=_g(G.LandStatus, s),
                parcel_count=len(by_status[s.value]),
                area=Area(m2=_sum_rows(by_status[s.value], "area_m2")),
                new_construction_area=Area(
                    m2=_sum_rows(by_status[s.value], "new_construction_area_m2")
                ),
            )
            for s in order
            if s.value in by_status
        ],
        demand_parcel_count=sum(int(r.demand_parcels) for r in parts),
        new_construction_needed=Area(m2=_f(demand)),
        new_construction_needed_ha=_ha(_f(demand)),
        tier=tier,
        tier_label=_tier_label(tier),
        conflict=conflict,
        conflicts=[
            ProjectParcelConflict(
                parcel=Parcel.from_row(p),
                awaiting_approval=p.status_on in demand_statuses,
                basic_farmland=Area(m2=_f(p.basic_farmland_m2)),
                ecological_redline=Area(m2=_f(p.redline_m2)),
            )
            for p in parcels
            if p.conflict
        ],
        conflict_area=_conflict_area(
            _sum_rows(parts, "farmland_m2"), _sum_rows(parts, "redline_m2")
        ),
        outside_urban_boundary_count=sum(int(r.outside_urban_parcels) for r in parts),
        cover=_g(G.CoverStatus, cover),
        covered_ha=_ha(_f(covered)),
        unmet_ha=_ha(round(demand - covered, 2)),
        county_remaining_ha=_ha(_f(first.county_remaining)) if first else None,
        ahead_in_county_ha=_ha(_f(first.before_in_county)) if first else None,
        from_pool_ha=_ha(_sum_rows(parts, "from_pool")),
        reasons=reasons,
        next_step=_g(G.LandStatus, step),
        next_step_parcels=waiting,
        next_step_item=ApprovalItem.from_row(item_row) if item_row is not None else None,
        next_step_deadline=item_row.deadline if item_row is not None else None,
    )


# --------------------------------------------------------------------------- stock


@strawberry.type(description="存量地块 One parcel of the land stock, with its dates on asOf")
class StockParcel:
    parcel: Parcel
    status: G.LandStatus = strawberry.field(description="状态 on asOf")  # type: ignore[valid-type]
    area: Area
    approved_on: dt.date | None = strawberry.field(description="批准日期 (批而未供)")
    lapses_on: dt.date | None = strawberry.field(
        description="批文失效日期 approval + 730 days (批而未供)"
    )
    days_to_lapse: int | None = strawberry.field(
        description="距失效天数 (negative: the lapse date has passed)"
    )
    agreed_start_date: dt.date | None = strawberry.field(description="约定开工日期")
    idle_since: dt.date | None = strawberry.field(
        description="闲置起算 agreed start + 365 days, or the date IDLE was recorded"
    )


@strawberry.type(description="存量类别 Count, area and the first parcels of one kind of stock")
class StockGroup:
    count: int
    area: Area
    area_ha: float
    new_construction_area: Area = strawberry.field(description="新增建设用地部分")
    parcels: list[StockParcel] = strawberry.field(description="oldest first, at most `listLimit`")
    truncated: bool = strawberry.field(description="More parcels than listed")


@strawberry.type(
    description=(
        "增存挂钩 Land stock of one county on asOf: approved-but-not-supplied (批而未供), idle "
        "and idle candidates (闲置), approvals about to lapse and lapsed (批文失效)"
    )
)
class CountyLandStock:
    county_code: str
    as_of: dt.date
    approved_not_supplied: StockGroup = strawberry.field(description="批而未供")
    idle: StockGroup = strawberry.field(
        description="闲置 IDLE, or supplied with no start a year after the agreed start"
    )
    about_to_lapse: StockGroup = strawberry.field(
        description="即将失效 approved, unsupplied, < 90 days before the two-year lapse"
    )
    lapsed: StockGroup = strawberry.field(description="批文已失效 LAPSED")

    @strawberry.field
    async def county(self, info: Info) -> AdminArea | None:
        return await _area(info, self.county_code)


def _stock_parcel(row: Row[Any], on: dt.date) -> StockParcel:
    return StockParcel(
        parcel=Parcel.from_row(row),
        status=_g(G.LandStatus, row.status_on),
        area=Area(m2=_f(row.area_m2)),
        approved_on=row.approved_on,
        lapses_on=row.lapses_on,
        days_to_lapse=None if row.lapses_on is None else (row.lapses_on - on).days,
        agreed_start_date=row.agreed_start_date,
        idle_since=row.idle_since,
    )


def _stock(rows: list[Row[Any]], on: dt.date, cap: int) -> list[CountyLandStock]:
    grouped: dict[str, dict[str, list[Row[Any]]]] = defaultdict(lambda: defaultdict(list))
    order: list[str] = []
    for r in rows:
        if r.stock_county not in grouped:
            order.append(r.stock_county)
        bucket = grouped[r.stock_county]
        if r.category is not None:
            bucket[r.category].append(r)

    def group(items: list[Row[Any]]) -> StockGroup:
        head = items[0] if items else None
        count = int(head.total_count) if head else 0
        listed = [_stock_parcel(r, on) for r in items if r.rn <= cap]
        return StockGroup(
            count=count,
            area=Area(m2=_f(head.total_m2) if head else 0.0),
            area_ha=_ha(_f(head.total_m2)) if head else 0.0,
            new_construction_area=Area(m2=_f(head.total_nc_m2) if head else 0.0),
            parcels=listed,
            truncated=count > len(listed),
        )

    C = stock.StockCategory
    return [
        CountyLandStock(
            county_code=code,
            as_of=on,
            approved_not_supplied=group(grouped[code][C.APPROVED_UNSUPPLIED]),
            idle=group(grouped[code][C.IDLE]),
            about_to_lapse=group(grouped[code][C.ABOUT_TO_LAPSE]),
            lapsed=group(grouped[code][C.LAPSED]),
        )
        for code in order
    ]


# --------------------------------------------------------------------------- root fields


@strawberry.type
class GuaranteeQuery:
    @strawberry.field(
        description=(
            "县级用地保障状况 Land-guarantee status of each county-level unit (or of `countyCode`) "
            "for a plan year on `asOf`; an unknown or non-county code gives an empty list"
        )
    )
    async def land_guarantee(
        self, info: Info, year: YearArg, county_code: str | None = None, as_of: AsOfArg = None
    ) -> list[CountyLandGuarantee]:
        when = resolve_when(info, year, as_of)
        asked, first = _at_risk_first(info)
        async with info.context.sessions() as s:
            if asked and when.as_of is None:
                if first is not None:  # bounded like the field itself (PAGE_TOO_LARGE)
                    cfg = info.context.config
                    first = page_size(first, default=0, maximum=cfg.max_page_size)
                rows = await engine.county_rows_at_risk(
                    s, year=when.year, county=county_code, first=first
                )
                return ASSEMBLED.counties(rows, when, first, county_code)
            rows = await engine.county_rows(s, year=when.year, as_of=when.as_of, county=county_code)
        return [_county(r, when) for r in rows]

    @strawberry.field(
        description=(
            "全市用地保障 City totals (sums over the six county-level units), the city pool "
            "(市级计划指标调节库) and every county, for a plan year on `asOf`"
        )
    )
    async def land_guarantee_city(
        self, info: Info, year: YearArg, as_of: AsOfArg = None
    ) -> CityLandGuarantee:
        when = resolve_when(info, year, as_of)
        async with info.context.sessions() as s:
            rows = await engine.county_rows(s, year=when.year, as_of=when.as_of, county=None)
            pool = await engine.pool_balance(s, year=when.year, as_of=when.as_of)
        counties = [_county(r, when) for r in rows]
        totals = sum((Figures.of(r) for r in rows), Figures())
        return CityLandGuarantee(
            year=when.year,
            as_of=when.on,
            totals=LandGuaranteeTotals(county_count=len(rows), **_figure_fields(totals)),
            pool=_pool(pool),
            counties=counties,
        )

    @strawberry.field(
        description=(
            "调节库分配方案 How the city pool's remaining quota would be shared over the "
            "counties' unmet demand, project by project in priority order, on `asOf`"
        )
    )
    async def pool_allocation_plan(
        self, info: Info, year: YearArg, as_of: AsOfArg = None
    ) -> PoolAllocationPlan:
        when = resolve_when(info, year, as_of)
        rows = await info.context.loaders.guarantee_ranking.load(when.key)
        async with info.context.sessions() as s:
            pool = await engine.pool_balance(s, year=when.year, as_of=when.as_of)
        return _plan(rows, pool, when)

    @strawberry.field(
        description=(
            "增存挂钩 Land stock per county-level unit on `asOf` (default today): 批而未供, idle "
            "land and candidates, approvals about to lapse, lapsed approvals — counts, areas "
            "and the oldest `listLimit` parcels of each; an unknown county gives an empty list"
        )
    )
    async def land_stock(
        self,
        info: Info,
        county_code: str | None = None,
        as_of: AsOfArg = None,
        list_limit: Annotated[
            int, strawberry.argument(description=f"parcels listed per kind, 0–{MAX_STOCK_LIST}")
        ] = 20,
    ) -> list[CountyLandStock]:
        if not 0 <= list_limit <= MAX_STOCK_LIST:
            raise bad_input(f"`listLimit` must be 0–{MAX_STOCK_LIST}", argument="listLimit")
        on, current = _on(info, as_of)
        async with info.context.sessions() as s:
            rows = await stock.stock_rows(
                s, on=on, current=current, county=county_code, cap=list_limit
            )
        return _stock(list(rows), on, list_limit)
