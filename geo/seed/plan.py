"""The demo data set planned in Python: projects, their sites, parcels and dated steps.

Everything random comes from one `random.Random(seed)` drawn in a fixed order, and every
date is fixed relative to the plan year 2024 (the set is a snapshot as of `AS_OF`), so the
same seed always plans the same data. Areas here are only targets for the layout: the
stored areas are computed by PostGIS from the geometry.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from geo.enums import (
    KeyCategory,
    LandClass,
    LandStatus,
    PlanType,
    ProjectStage,
    SigningStatus,
    StatsStatus,
    SupplyMethod,
)
from geo.seed import names
from geo.seed.admin import COUNTIES, COUNTY_BY_CODE, DEV_ZONE_COUNTIES
from geo.seed.sites import (
    DEMO_CELL_M,
    Cell,
    layout_site,
    pick_cells,
    ring_wkt,
    rural_weight,
    urban_weight,
)

PLAN_YEAR = 2024
AS_OF = dt.date(2024, 10, 31)
"""The snapshot date: events, completions and reports never go past it (reports Jan–Oct)."""
YEAR_START = dt.date(2024, 1, 1)
QUOTA_ISSUED = dt.date(2024, 1, 2)
"""County quotas are pre-issued (预下达) on the first working day, before any 2024 approval."""

DEMO_COUNTS = {PlanType.PLANNED_START: 622, PlanType.PRE_STAGE: 161, PlanType.CONTINUING: 300}
DEMO_KEY = 300
KEY_SHARE_MIN = 0.72
"""Key projects must carry ≥ 70 % of annual investment; keep a margin."""

PARCELS_PER_PROJECT = (0, 1, 2, 3, 4, 5)
PARCEL_COUNT_WEIGHTS = (0.03, 0.21, 0.30, 0.25, 0.12, 0.09)  # mean ≈ 2.5
AREA_DENSITY = 6.0
"""At scale, parcel areas shrink less than the sites do (sites are mostly empty in the demo):
areas scale by min(1, 6 × (side / 1200 m)²) and the layout shrinks whatever does not fit."""
MIN_PARCEL_HA = 0.52
"""Layout floor: stored GK areas differ from the EPSG:4547 plane by < 0.1 %, so ≥ 0.5 ha."""

Date = dt.date


@dataclass(frozen=True)
class Shape:
    """Counts of the data set; the benchmark scales them, keeping the proportions."""

    counts: dict[PlanType, int]
    key: int
    parcels: int | None = None
    """Exact parcel total wanted (the benchmark checks it); None: whatever the draw gives."""

    @property
    def projects(self) -> int:
        return sum(self.counts.values())

    @property
    def factor(self) -> float:
        return self.projects / sum(DEMO_COUNTS.values())

    @classmethod
    def demo(cls) -> Shape:
        return cls(dict(DEMO_COUNTS), DEMO_KEY)

    @classmethod
    def for_parcels(cls, parcels: int) -> Shape:
        """Exactly `parcels` parcels, projects ≈ parcels / 2.5, same plan-type and key shares."""
        if parcels < 100:
            raise ValueError("parcels must be at least 100")
        total = round(parcels / 2.5)
        f = total / sum(DEMO_COUNTS.values())
        ps = round(DEMO_COUNTS[PlanType.PLANNED_START] * f)
        pre = round(DEMO_COUNTS[PlanType.PRE_STAGE] * f)
        counts = {
            PlanType.PLANNED_START: ps,
            PlanType.PRE_STAGE: pre,
            PlanType.CONTINUING: total - ps - pre,
        }
        return cls(counts, max(4, round(DEMO_KEY * f)), parcels)


@dataclass(slots=True)
class ParcelPlan:
    code: str
    county: str
    name: str
    wkt: str
    land_class: LandClass
    status: LandStatus
    events: list[tuple[LandStatus, Date, str, str | None]]
    supply_method: SupplyMethod | None = None
    agreed_start: Date | None = None
    approval_doc: str | None = None
    approval_no: str | None = None
    """Number of the 2024 approval even when it was withdrawn (the ledger debit cites it)."""
    approved_on: Date | None = None
    withdrawn_on: Date | None = None
    withdrawal_doc: str | None = None


@dataclass(slots=True)
class ProjectDates:
    chain: list[Date]
    """One date per stage reached, strictly increasing."""
    planned_start: Date
    planned_finish: Date
    actual_start: Date | None = None
    completed: Date | None = None
    stages: list[tuple[ProjectStage, Date]] = field(default_factory=list)


@dataclass(slots=True)
class ProjectPlan:
    seq: int
    code: str
    name: str
    county: str
    plan_type: PlanType
    stage: ProjectStage
    industry: names.Industry
    gov: bool
    total_c: int
    """Total investment in hundredths of 万元 (the numeric(14, 2) column, kept exact)."""
    annual_c: int
    stage_dates: list[tuple[ProjectStage, Date]]
    planned_start: Date
    planned_finish: Date
    actual_start: Date | None
    completed_on: Date | None
    entity: str
    signing: SigningStatus | None = None
    stats: StatsStatus = StatsStatus.NOT_ELIGIBLE
    is_key: bool = False
    categories: list[KeyCategory] = field(default_factory=list)
    lead: str | None = None
    lead_title: str | None = None
    progress_target: str = ""
    cell: Cell | None = None
    parcels: list[ParcelPlan] = field(default_factory=list)

    @property
    def started(self) -> bool:
        return self.actual_start is not None


@dataclass
class Plan:
    shape: Shape
    side: float
    projects: list[ProjectPlan]


def cell_side(shape: Shape, usable_m2: dict[str, float]) -> float:
    """Site size: 1.2 km in the demo, smaller at scale so each county has ≥ 1.4 cells a project."""
    weights = _county_weights()
    side = DEMO_CELL_M
    for code, area in usable_m2.items():
        need = shape.projects * weights[code] * 1.4
        side = min(side, math.sqrt(area / need))
    return math.floor(side)


def _county_weights() -> dict[str, float]:
    total = sum(c.weight for c in COUNTIES)
    return {c.code: c.weight / total for c in COUNTIES}


# --------------------------------------------------------------------------- dates


def day(rng: random.Random, lo: Date, hi: Date) -> Date:
    """A uniform date in [lo, hi]."""
    return lo + dt.timedelta(days=rng.randint(0, (hi - lo).days))


def after(rng: random.Random, d: Date, lo: int, hi: int) -> Date:
    return d + dt.timedelta(days=rng.randint(lo, hi))


def fit(dates: list[Date], hi: Date = AS_OF) -> list[Date]:
    """Shift a strictly increasing chain back so that its last date is not after `hi`."""
    overflow = (dates[-1] - hi).days
    if overflow <= 0:
        return dates
    return [d - dt.timedelta(days=overflow) for d in dates]


def ymd(d: Date) -> str:
    return f"{d.year}年{d.month}月"


def money_text(c: int) -> str:
    wan = c / 100
    return f"{wan / 10000:.2f}亿元" if wan >= 10000 else f"{wan:.0f}万元"


# --------------------------------------------------------------------------- projects


STAGE_WEIGHTS: dict[PlanType, tuple[tuple[ProjectStage, ...], tuple[float, ...]]] = {
    PlanType.PRE_STAGE: ((ProjectStage.FILING, ProjectStage.PROCEDURES), (0.45, 0.55)),
    PlanType.PLANNED_START: (
        (ProjectStage.PROCEDURES, ProjectStage.FACTORS, ProjectStage.CONSTRUCTION_START),
        (0.25, 0.25, 0.50),
    ),
    PlanType.CONTINUING: ((ProjectStage.IN_PROGRESS, ProjectStage.COMPLETED), (0.85, 0.15)),
}
STAGE_ORDER = list(ProjectStage)


class Planner:
    """Draws the whole data set from one seeded generator, in a fixed order."""

    def __init__(self, rng: random.Random, shape: Shape, side: float) -> None:
        self.rng = rng
        self.shape = shape
        self.side = side
        self.area_factor = min(1.0, AREA_DENSITY * (side / DEMO_CELL_M) ** 2)
        self.serial_start = rng.randrange(1_000_000)
        self.county_counter = {c.code: 0 for c in COUNTIES}
        self.doc_counter: dict[int, int] = {}
        self.officials = self._officials()

    # -- projects --------------------------------------------------------------

    def projects(self) -> list[ProjectPlan]:
        rng = self.rng
        weights = _county_weights()
        codes = [c.code for c in COUNTIES]
        cw = [weights[c] for c in codes]
        iw = [ind.weight for ind in names.INDUSTRIES]
        out: list[ProjectPlan] = []
        for plan_type in (PlanType.PLANNED_START, PlanType.PRE_STAGE, PlanType.CONTINUING):
            for _ in range(self.shape.counts[plan_type]):
                county = rng.choices(codes, cw)[0]
                industry = rng.choices(names.INDUSTRIES, iw)[0]
                out.append(self._project(len(out), plan_type, county, industry))
        self._choose_key(out)
        return out

    def _project(
        self, seq: int, plan_type: PlanType, county: str, industry: names.Industry
    ) -> ProjectPlan:
        rng = self.rng
        template = rng.choice(industry.templates)
        town = rng.choice(names.TOWNS[county])
        company = rng.choice(names.COMPANY_PREFIXES) + industry.company_suffix
        name = self._name(template.pattern, county, town, company)
        stages, ranks = STAGE_WEIGHTS[plan_type]
        stage = rng.choices(stages, ranks)[0]
        dates = self._dates(plan_type, stage)
        total = _round_wan(math.exp(rng.gauss(math.log(industry.median_wan), 1.05)))
        total = min(max(total, 200), 600_000)
        total_c = total * 100
        annual_c = self._annual(plan_type, stage, total_c)
        filing = dates.chain[0]
        kind = (
            "03"
            if template.gov
            else ("02" if total >= 50_000 and industry.division in ("44", "07") else "01")
        )
        code = f"{filing:%y%m}-{county}-{industry.division}-{kind}-{_serial(self.serial_start, seq):06d}"
        county_name = COUNTY_BY_CODE[county].name
        entity = (
            f"{names.place(county, county_name)}{industry.agency}"
            if template.gov
            else f"{rng.choice(('晋城', '山西'))}{company}有限公司"
        )
        p = ProjectPlan(
            seq=seq,
            code=code,
            name=name,
            county=county,
            plan_type=plan_type,
            stage=stage,
            industry=industry,
            gov=template.gov,
            total_c=total_c,
            annual_c=annual_c,
            stage_dates=dates.stages,
            planned_start=dates.planned_start,
            planned_finish=dates.planned_finish,
            actual_start=dates.actual_start,
            completed_on=dates.completed,
            entity=entity,
        )
        p.signing = self._signing(p)
        p.stats = self._stats(p)
        p.progress_target = _progress_target(p)
        return p

    def _name(self, pattern: str, county: str, town: str, company: str) -> str:
        rng = self.rng
        towns = names.TOWNS[county]
        return pattern.format(
            town=f"{COUNTY_BY_CODE[county].name}{town}",
            town2=rng.choice([t for t in towns if t != town] or list(towns)),
            co=company,
            county=names.place(county, COUNTY_BY_CODE[county].name),
            river=names.RIVERS[county],
            road=rng.choice(names.ROADS),
            mw=rng.choice((20, 30, 50, 60, 100, 150, 200)),
            mwh=rng.choice((50, 100, 200, 400)),
            yi=rng.choice((0.5, 1, 1.5, 2, 3)),
            wan=rng.choice((1, 2, 3, 5, 10, 20, 30)),
        )

    def _dates(self, plan_type: PlanType, stage: ProjectStage) -> ProjectDates:
        """Stage dates, planned start/finish, actual start and completion for one project."""
        reached = STAGE_ORDER[: STAGE_ORDER.index(stage) + 1]
        if plan_type is PlanType.PRE_STAGE:
            dates = self._pre_stage_dates(len(reached))
        elif plan_type is PlanType.PLANNED_START:
            dates = self._planned_start_dates(len(reached))
        else:
            dates = self._continuing_dates(stage is ProjectStage.COMPLETED)
        dates.stages = list(zip(reached, dates.chain, strict=True))
        dates.planned_finish = max(dates.planned_finish, dates.planned_start)
        return dates

    def _pre_stage_dates(self, steps: int) -> ProjectDates:
        """Filed 2023-09 … 2024-08; planned to start in 2025."""
        rng = self.rng
        chain = [day(rng, dt.date(2023, 9, 1), dt.date(2024, 8, 31))]
        if steps == 2:
            chain.append(after(rng, chain[0], 20, 150))
        planned = day(rng, dt.date(2025, 3, 1), dt.date(2025, 12, 31))
        return ProjectDates(fit(chain), planned, after(rng, planned, 300, 1100))

    def _planned_start_dates(self, steps: int) -> ProjectDates:
        """Planned start in 2024; about half have started by the snapshot."""
        rng = self.rng
        started = steps == 4
        last = dt.date(2024, 9, 30) if started else dt.date(2024, 12, 20)
        planned = day(rng, dt.date(2024, 3, 1), last)
        filing = planned - dt.timedelta(days=rng.randint(150, 420))
        chain = [filing, after(rng, filing, 15, 60)]
        if steps >= 3:
            chain.append(after(rng, chain[-1], 30, 120))
        if started:
            on_plan = planned + dt.timedelta(days=rng.randint(-20, 40))
            chain.append(max(on_plan, after(rng, chain[-1], 5, 30)))
        chain = fit(chain)
        finish = after(rng, planned, 240, 1000)
        return ProjectDates(chain, planned, finish, actual_start=chain[-1] if started else None)

    def _continuing_dates(self, completed: bool) -> ProjectDates:
        """Started 2021 … 2023; some completed during 2024."""
        rng = self.rng
        start = day(rng, dt.date(2021, 3, 1), dt.date(2023, 11, 30))
        factors = start - dt.timedelta(days=rng.randint(10, 90))
        procedures = factors - dt.timedelta(days=rng.randint(30, 150))
        filing = procedures - dt.timedelta(days=rng.randint(15, 60))
        chain = [filing, procedures, factors, start, after(rng, start, 20, 60)]
        planned = start - dt.timedelta(days=rng.randint(0, 45))
        if not completed:
            finish = day(rng, dt.date(2024, 12, 31), dt.date(2027, 6, 30))
            return ProjectDates(chain, planned, finish, actual_start=start)
        done = max(
            day(rng, dt.date(2024, 1, 15), dt.date(2024, 10, 20)), after(rng, chain[-1], 30, 60)
        )
        finish = done + dt.timedelta(days=rng.randint(-60, 30))
        return ProjectDates([*chain, done], planned, finish, actual_start=start, completed=done)

    def _annual(self, plan_type: PlanType, stage: ProjectStage, total_c: int) -> int:
        rng = self.rng
        if plan_type is PlanType.PRE_STAGE:
            share = rng.uniform(0.01, 0.08)
        elif plan_type is PlanType.PLANNED_START:
            share = rng.uniform(0.15, 0.5)
        elif stage is ProjectStage.COMPLETED:
            share = rng.uniform(0.05, 0.3)
        else:
            share = rng.uniform(0.2, 0.55)
        return min(_round_wan(total_c / 100 * share) * 100, total_c)

    def _signing(self, p: ProjectPlan) -> SigningStatus | None:
        """Promoted (招商引资) enterprise projects carry a signing status."""
        rng = self.rng
        if p.gov or rng.random() >= 0.45:
            return None
        if p.plan_type is PlanType.PRE_STAGE:
            return SigningStatus.ABOUT_TO_SIGN if rng.random() < 0.55 else SigningStatus.SIGNED
        if p.started:
            return SigningStatus.LANDED
        return SigningStatus.SIGNED if rng.random() < 0.8 else SigningStatus.ABOUT_TO_SIGN

    def _stats(self, p: ProjectPlan) -> StatsStatus:
        """入库纳统: only started projects of ≥ 500 万元 are eligible; most are already in."""
        if p.actual_start is None or p.total_c < 500 * 100:
            return StatsStatus.NOT_ELIGIBLE
        recent = (AS_OF - p.actual_start).days < 45
        if recent or self.rng.random() < 0.08:
            return StatsStatus.ELIGIBLE
        return StatsStatus.INCLUDED

    # -- the 300 key projects ----------------------------------------------------

    def _choose_key(self, projects: list[ProjectPlan]) -> None:
        """The largest annual targets, with some smaller projects swapped in, share ≥ 72 %."""
        rng = self.rng
        k = min(self.shape.key, len(projects))
        total = sum(p.annual_c for p in projects)
        ranked = sorted(projects, key=lambda p: (-p.annual_c, p.seq))
        top, rest = ranked[:k], ranked[k:]
        key_sum = sum(p.annual_c for p in top)
        swapped: list[ProjectPlan] = []
        for _ in range(k // 7):
            if not rest or not top:
                break
            incoming = rest.pop(rng.randrange(len(rest)))
            if key_sum - top[-1].annual_c + incoming.annual_c < KEY_SHARE_MIN * total:
                break
            key_sum += incoming.annual_c - top.pop().annual_c
            swapped.append(incoming)
        if total and key_sum < KEY_SHARE_MIN * total:
            raise RuntimeError("key projects carry less than 72 % of the annual target")
        for p in sorted(top + swapped, key=lambda p: p.seq):
            self._make_key(p)
        _ensure_all_categories([p for p in projects if p.is_key])

    def _make_key(self, p: ProjectPlan) -> None:
        rng = self.rng
        p.is_key = True
        cats: list[KeyCategory] = []
        if p.total_c >= 10000 * 100 and rng.random() < 0.85:
            cats.append(KeyCategory.ANNUAL_PLAN_BILLION)
        if p.total_c >= 30000 * 100 and rng.random() < 0.35:
            cats.append(KeyCategory.PROVINCIAL_KEY)
        if p.gov and rng.random() < 0.7:
            cats.append(KeyCategory.MUNICIPAL_GOV_INVESTED)
        if not cats or rng.random() < 0.3:
            cats.append(KeyCategory.CITY_COUNTY_KEY)
        if len(cats) > 2:
            cats = rng.sample(cats, 2)
        p.categories = sorted(cats, key=list(KeyCategory).index)
        city = rng.random() < 0.35
        p.lead, p.lead_title = rng.choice(self.officials["140500" if city else p.county])

    def _officials(self) -> dict[str, list[tuple[str, str]]]:
        """包联领导 pools: a few vice heads per county and vice-mayors for the city."""
        rng = self.rng
        pools = {"140500": [(names.person(rng), t) for t in names.CITY_LEADER_TITLES]}
        for c in COUNTIES:
            title = names.county_leader_title(c.code)
            pools[c.code] = [(names.person(rng), title) for _ in range(5)]
        return pools

    # -- sites and parcels -------------------------------------------------------

    def assign_sites(self, projects: list[ProjectPlan], cells: dict[str, list[Cell]]) -> None:
        """Each project gets its own cell; parks near the seat for urban industries."""
        rng = self.rng
        for county in COUNTIES:
            mine = [p for p in projects if p.county == county.code]
            urban = [p for p in mine if p.industry.urban]
            rural = [p for p in mine if not p.industry.urban]
            free = list(cells[county.code])
            dz = county.code in DEV_ZONE_COUNTIES
            chosen = pick_cells(
                rng, free, len(urban), functools.partial(urban_weight, prefer_devzone=dz)
            )
            for p, c in zip(urban, chosen, strict=True):
                p.cell = c
            taken = {(c.x0, c.y0) for c in chosen}
            free = [c for c in free if (c.x0, c.y0) not in taken]
            for p, c in zip(rural, pick_cells(rng, free, len(rural), rural_weight), strict=True):
                p.cell = c

    def parcels(self, projects: list[ProjectPlan]) -> None:
        rng = self.rng
        counts = rng.choices(PARCELS_PER_PROJECT, PARCEL_COUNT_WEIGHTS, k=len(projects))
        if self.shape.parcels is not None:
            _adjust_total(rng, counts, self.shape.parcels)
        for p, n in zip(projects, counts, strict=True):
            if n == 0:
                continue
            assert p.cell is not None
            min_area = MIN_PARCEL_HA * 1e4 * self.area_factor
            areas = [max(_parcel_ha(rng), MIN_PARCEL_HA) * 1e4 * self.area_factor for _ in range(n)]
            rings = layout_site(
                rng,
                p.cell,
                areas,
                min_area=min_area,
                share_edge=n >= 2 and rng.random() < 0.08,
            )
            for k, ring in enumerate(rings, start=1):
                p.parcels.append(self._parcel(p, k, ring_wkt(ring)))
        self._withdrawals(projects)

    def _parcel(self, p: ProjectPlan, k: int, wkt: str) -> ParcelPlan:
        rng = self.rng
        self.county_counter[p.county] += 1
        code = f"DK-{p.county}-{self.county_counter[p.county]:05d}"
        land_class = _land_class(rng, p)
        status = _land_status(rng, p)
        parcel = ParcelPlan(
            code=code,
            county=p.county,
            name=f"{p.name}{k}号地块",
            wkt=wkt,
            land_class=land_class,
            status=status,
            events=[],
        )
        self._timeline(parcel, p)
        return parcel

    def _timeline(self, parcel: ParcelPlan, p: ProjectPlan) -> None:
        """Dated steps up to the parcel's status, anchored on its approval when it has one."""
        rng = self.rng
        status = parcel.status
        if status is LandStatus.IDLE:
            path = LAND_ORDER[: LAND_ORDER.index(LandStatus.SUPPLIED) + 1]
            anchor = day(rng, dt.date(2020, 6, 1), dt.date(2022, 3, 31))
        elif status is LandStatus.LAPSED:
            path = LAND_ORDER[: LAND_ORDER.index(LandStatus.APPROVED_UNSUPPLIED) + 1]
            anchor = day(rng, dt.date(2019, 9, 1), dt.date(2022, 6, 30))
        else:
            path = LAND_ORDER[: LAND_ORDER.index(status) + 1]
            anchor = self._approval_anchor(p) if LandStatus.APPROVED_UNSUPPLIED in path else None
        dates = _chain(rng, path, anchor, p)
        if status is LandStatus.IDLE:
            parcel.agreed_start = after(rng, dates[-1], 60, 180)
            dates.append(after(rng, parcel.agreed_start, 366, 540))
            path = [*path, LandStatus.IDLE]
        elif status is LandStatus.LAPSED:
            dates.append(after(rng, dates[-1], 731, 1000))
            path = [*path, LandStatus.LAPSED]
        shift = dt.timedelta(days=max(0, (dates[-1] - AS_OF).days))
        if anchor is not None and anchor - shift == YEAR_START:
            shift += dt.timedelta(days=1)  # no approvals on New Year's Day, before the quota
        dates = [d - shift for d in dates]
        if parcel.agreed_start is not None:
            parcel.agreed_start -= shift
        self._apply(parcel, p, path, dates)

    def _approval_anchor(self, p: ProjectPlan) -> Date:
        rng = self.rng
        if p.plan_type is PlanType.CONTINUING:
            assert p.actual_start is not None
            return p.actual_start - dt.timedelta(days=rng.randint(40, 300))
        if p.actual_start is not None:
            return max(
                dt.date(2023, 3, 1), p.actual_start - dt.timedelta(days=rng.randint(40, 200))
            )
        if rng.random() < 0.8:
            return day(rng, dt.date(2024, 1, 20), dt.date(2024, 10, 25))
        return day(rng, dt.date(2023, 5, 1), dt.date(2023, 12, 31))

    def _apply(
        self, parcel: ParcelPlan, p: ProjectPlan, path: Sequence[LandStatus], dates: Sequence[Date]
    ) -> None:
        """Events, supply method, agreed start and approval document from the dated path."""
        rng = self.rng
        county_name = COUNTY_BY_CODE[p.county].name
        parcel.events = [
            (s, d, _actor(s, p.county, county_name), _reason(s))
            for s, d in zip(path, dates, strict=True)
        ]
        for s, d in zip(path, dates, strict=True):
            if s is LandStatus.APPROVED_UNSUPPLIED:
                parcel.approved_on = d
                parcel.approval_doc = parcel.approval_no = self._doc(d.year)
            if s is LandStatus.SUPPLIED:
                parcel.supply_method = _supply_method(rng, p)
                if parcel.agreed_start is None:
                    parcel.agreed_start = after(rng, d, 60, 180)

    def _doc(self, year: int) -> str:
        self.doc_counter[year] = self.doc_counter.get(year, 0) + 1
        return f"晋政地字〔{year}〕{self.doc_counter[year]}号"

    def _withdrawals(self, projects: list[ProjectPlan]) -> None:
        """One or two (more at scale) 2024 approvals withdrawn, back to 组卷中."""
        rng = self.rng
        pool = [
            parcel
            for p in projects
            if p.plan_type is PlanType.PLANNED_START
            for parcel in p.parcels
            if parcel.status is LandStatus.DOSSIER_PREP
            and parcel.land_class is not LandClass.CONSTRUCTION
        ]
        count = min(len(pool), max(2, round(2 * self.shape.factor)))
        by_code = {pp.code: p for p in projects for pp in p.parcels}
        for parcel in rng.sample(pool, count):
            p = by_code[parcel.code]
            path = [*LAND_ORDER[:5], LandStatus.DOSSIER_PREP]
            approved = day(rng, dt.date(2024, 2, 1), dt.date(2024, 6, 30))
            dates = _chain(rng, LAND_ORDER[:5], approved, p)
            dates.append(after(rng, approved, 30, 90))
            self._apply(parcel, p, path, dates)
            last = parcel.events[-1]
            parcel.events[-1] = (
                last[0],
                last[1],
                names.AGENCY_PROVINCE,
                "用地批复撤回：项目调整用地范围，退回重新组卷",
            )
            parcel.withdrawn_on = dates[-1]
            parcel.withdrawal_doc = f"晋政地函〔2024〕{rng.randint(10, 99)}号"
            parcel.approval_doc = None


LAND_ORDER = [
    LandStatus.DEMAND,
    LandStatus.PRE_REVIEWED,
    LandStatus.DOSSIER_PREP,
    LandStatus.SUBMITTED,
    LandStatus.APPROVED_UNSUPPLIED,
    LandStatus.SUPPLIED,
    LandStatus.LAND_PLANNING_PERMIT,
    LandStatus.REGISTERED,
]
STEP_GAP = {
    LandStatus.PRE_REVIEWED: (20, 120),
    LandStatus.DOSSIER_PREP: (15, 90),
    LandStatus.SUBMITTED: (20, 120),
    LandStatus.APPROVED_UNSUPPLIED: (30, 150),
    LandStatus.SUPPLIED: (20, 200),
    LandStatus.LAND_PLANNING_PERMIT: (10, 60),
    LandStatus.REGISTERED: (20, 120),
}

S = LandStatus
STATUS_WEIGHTS: dict[
    tuple[PlanType, ProjectStage], tuple[tuple[LandStatus, ...], tuple[float, ...]]
] = {
    (PlanType.PRE_STAGE, ProjectStage.FILING): ((S.DEMAND, S.PRE_REVIEWED), (0.75, 0.25)),
    (PlanType.PRE_STAGE, ProjectStage.PROCEDURES): (
        (S.DEMAND, S.PRE_REVIEWED, S.DOSSIER_PREP),
        (0.3, 0.4, 0.3),
    ),
    (PlanType.PLANNED_START, ProjectStage.PROCEDURES): (
        (S.PRE_REVIEWED, S.DOSSIER_PREP, S.SUBMITTED),
        (0.35, 0.4, 0.25),
    ),
    (PlanType.PLANNED_START, ProjectStage.FACTORS): (
        (S.DOSSIER_PREP, S.SUBMITTED, S.APPROVED_UNSUPPLIED, S.SUPPLIED),
        (0.1, 0.35, 0.4, 0.15),
    ),
    (PlanType.PLANNED_START, ProjectStage.CONSTRUCTION_START): (
        (S.APPROVED_UNSUPPLIED, S.SUPPLIED, S.LAND_PLANNING_PERMIT),
        (0.1, 0.5, 0.4),
    ),
    (PlanType.CONTINUING, ProjectStage.IN_PROGRESS): (
        (S.SUPPLIED, S.LAND_PLANNING_PERMIT, S.REGISTERED, S.IDLE, S.LAPSED),
        (0.2, 0.25, 0.43, 0.06, 0.06),
    ),
    (PlanType.CONTINUING, ProjectStage.COMPLETED): (
        (S.LAND_PLANNING_PERMIT, S.REGISTERED),
        (0.2, 0.8),
    ),
}
"""Land status by plan type and stage: pre-stage never past 组卷中, continuing always supplied
(or gone idle / lapsed)."""


def _land_status(rng: random.Random, p: ProjectPlan) -> LandStatus:
    statuses, weights = STATUS_WEIGHTS[p.plan_type, p.stage]
    return rng.choices(statuses, weights)[0]


def _chain(
    rng: random.Random, path: Sequence[LandStatus], anchor: Date | None, p: ProjectPlan
) -> list[Date]:
    """Strictly increasing dates for `path`: around the approval anchor, or ending recently."""
    if anchor is None:
        lo = dt.date(2024, 1, 1) if p.plan_type is PlanType.PRE_STAGE else dt.date(2023, 10, 1)
        last = day(rng, lo, AS_OF)
        dates = [last]
        for s in reversed(path[1:]):
            dates.append(dates[-1] - dt.timedelta(days=rng.randint(*STEP_GAP[s])))
        return dates[::-1]
    k = path.index(LandStatus.APPROVED_UNSUPPLIED)
    before = [anchor]
    for s in reversed(path[1 : k + 1]):
        before.append(before[-1] - dt.timedelta(days=rng.randint(*STEP_GAP[s])))
    dates = before[::-1]
    for s in path[k + 1 :]:
        dates.append(dates[-1] + dt.timedelta(days=rng.randint(*STEP_GAP[s])))
    return dates


@functools.cache
def _actor(status: LandStatus, county: str, county_name: str) -> str:
    """Who takes each step: county bureau, city bureau, city government or the province."""
    if status in (LandStatus.PRE_REVIEWED, LandStatus.LAND_PLANNING_PERMIT):
        return names.AGENCY_CITY_LAND
    if status is LandStatus.SUBMITTED:
        return "晋城市人民政府"
    if status is LandStatus.APPROVED_UNSUPPLIED:
        return names.AGENCY_PROVINCE
    if status is LandStatus.LAPSED:
        return names.AGENCY_PROVINCE_LAND
    if status is LandStatus.REGISTERED:
        return f"{names.place(county, county_name)}不动产登记中心"
    return names.county_land_bureau(county, county_name)


STATUS_REASON = {
    LandStatus.IDLE: "超过出让合同约定动工开发日期满一年未动工，认定为闲置土地",
    LandStatus.LAPSED: "农用地转用和土地征收批准后满两年未实施，批准文件失效",
}


def _reason(status: LandStatus) -> str | None:
    return STATUS_REASON.get(status)


def _supply_method(rng: random.Random, p: ProjectPlan) -> SupplyMethod:
    """划拨 for government and infrastructure works, else 出让 (mostly 挂牌)."""
    if p.gov:
        return SupplyMethod.ALLOCATION
    return rng.choices(
        (SupplyMethod.TENDER, SupplyMethod.AUCTION, SupplyMethod.LISTING, SupplyMethod.AGREEMENT),
        (0.05, 0.1, 0.6, 0.25),
    )[0]


LAND_CLASSES = tuple(LandClass)
CLASS_WEIGHTS_URBAN = (0.22, 0.10, 0.06, 0.08, 0.44, 0.10)
CLASS_WEIGHTS_RURAL = (0.30, 0.10, 0.20, 0.15, 0.12, 0.13)


def _adjust_total(rng: random.Random, counts: list[int], total: int) -> None:
    """Nudge per-project parcel counts (staying within 0–5, keeping the empty projects
    empty) until they add up to exactly `total`."""
    most = PARCELS_PER_PROJECT[-1]
    diff = total - sum(counts)
    if diff > sum(most - n for n in counts if n > 0):
        raise ValueError(f"cannot fit {total} parcels into {len(counts)} projects")
    while diff != 0:
        k = rng.randrange(len(counts))
        if diff > 0 and 0 < counts[k] < most:
            counts[k] += 1
            diff -= 1
        elif diff < 0 and counts[k] > 1:
            counts[k] -= 1
            diff += 1


def _land_class(rng: random.Random, p: ProjectPlan) -> LandClass:
    if p.industry.name == "城市更新" and rng.random() < 0.85:
        return LandClass.CONSTRUCTION
    assert p.cell is not None
    weights = CLASS_WEIGHTS_URBAN if p.cell.urban else CLASS_WEIGHTS_RURAL
    return rng.choices(LAND_CLASSES, weights)[0]


def _parcel_ha(rng: random.Random) -> float:
    """Skewed to small: most 0.5–5 ha, some 5–20 ha, a few 20–48 ha (log-uniform within)."""
    u = rng.random()
    lo, hi = (0.55, 5.0) if u < 0.72 else (5.0, 20.0) if u < 0.94 else (20.0, 48.0)
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _round_wan(v: float) -> int:
    """Round 万元 the way plans state them: tens below 1000, hundreds below 10万, then thousands."""
    step = 10 if v < 1000 else 100 if v < 100_000 else 1000
    return max(step, round(v / step) * step)


def _serial(start: int, n: int) -> int:
    """Six-digit serial number n of a seeded permutation (7919 is prime to 10⁶: all unique)."""
    return (start + n * 7919) % 1_000_000


def _ensure_all_categories(key: list[ProjectPlan]) -> None:
    """Small runs may miss a category; give it to a key project it fits."""
    for cat in KeyCategory:
        if not key or any(cat in p.categories for p in key):
            continue
        for p in key:
            fits = cat is not KeyCategory.ANNUAL_PLAN_BILLION or p.total_c >= 10000 * 100
            if fits and len(p.categories) < 2:
                p.categories = sorted([*p.categories, cat], key=list(KeyCategory).index)
                break


def _progress_target(p: ProjectPlan) -> str:
    """进度目标 in the wording of a key-project list."""
    annual = money_text(p.annual_c)
    if p.plan_type is PlanType.PRE_STAGE:
        return f"2024年底前完成立项、用地预审等前期手续，力争{ymd(p.planned_start)}开工"
    if p.plan_type is PlanType.PLANNED_START:
        return f"{ymd(p.planned_start)}开工建设，年内完成投资{annual}"
    if p.completed_on is not None:
        return f"{ymd(p.completed_on)}竣工投产，年内完成投资{annual}"
    return f"2024年完成投资{annual}，{ymd(p.planned_finish)}建成投产"


def plan_demo(rng: random.Random, shape: Shape, side: float, cells: dict[str, list[Cell]]) -> Plan:
    """The whole data set, drawn in a fixed order from `rng`."""
    planner = Planner(rng, shape, side)
    projects = planner.projects()
    planner.assign_sites(projects, cells)
    planner.parcels(projects)
    return Plan(shape, side, projects)
