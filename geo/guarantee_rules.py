"""用地保障规则 — every rule of the land-guarantee computation, in one place.

DESIGN.md §3 defines the quantities; this module fixes their precise meaning and the
thresholds. geo/guarantee.py and geo/queries/stock.py turn them into SQL; nothing else
decides them.

Definitions (county c, plan year Y, as-of date D; areas in m², the parcel's legal area):
- D is the `asOf` argument; without it, `default_as_of`: today for the current (or a future)
  year, 31 December of Y for a past year — the year's figures as it closed. A D after today
  is refused: the store holds no future steps.
- A parcel's status on D is its latest procedure step dated ≤ D (current status when D is
  today). A parcel belongs to a project when it was linked on or before D and not unlinked
  by D. Active projects are those not yet COMPLETED on D.
- demand = new-construction area (新增建设用地) of the active projects' parcels whose status
  is in DEMAND_STATUSES — land still to be approved, hence still to consume quota. A
  parcel's demand belongs to the county the parcel lies in (parcel.county_code): that is the
  account its approval debits (geo.ledger.debit_on_approval), even when the project is
  registered in another county. Key / non-key follows the project's `is_key`. Demand is
  measured the way quota is booked: each parcel's new-construction area rounded to 0.01 m²
  (numeric(14, 2), as geo.ledger debits it); amounts within QUOTA_TOLERANCE_M2 compare
  equal, so a project whose demand equals what is left is covered, not short by float noise.
- quota (kind NEW_CONSTRUCTION, year Y, entries effective ≤ D): allocated = Σ allocations,
  fromPool = Σ pool transfers in, used = Σ approval debits − Σ withdrawal credits,
  remaining = the ledger sum (= allocated + fromPool − used).
- gap = max(0, demand − remaining); coverage = remaining / demand (null when demand = 0).
- approved = legal area of the county's parcels with an approval step (APPROVED_UNSUPPLIED)
  dated in year Y and ≤ D that are still approved on D (status not back in DEMAND_STATUSES:
  a withdrawn approval 撤回 is not an approval), each parcel once; supplied = legal area of
  the parcels with a supply step dated in year Y and ≤ D, each once; 批而未供 = legal area
  of parcels whose status on D is APPROVED_UNSUPPLIED, whatever the year of approval.
- conflicts: demand parcels sharing interior with basic farmland or the red line
  (parcel_overlay, Gauss-Krüger plane areas); outside-urban: demand parcels more than 1 m²
  outside the urban development boundary (单独选址).
- Cover in priority order: within a county, projects with demand and no conflict are
  ranked by PRIORITY_TIERS, then earlier planned start, then code; the county's remaining
  quota covers them in that order (the first one that does not fit fully is covered in
  part; everything after it is not). A project with a conflicting parcel gets no cover:
  its land cannot be approved until the conflict is resolved. A project is at risk when
  it conflicts or part of its demand is not covered (`CoverStatus`).
- Pool plan: the city pool's remaining quota is shared the same way over every county's
  unmet (uncovered) demand, city-wide, never to a conflicting project.
- Stock (增存挂钩, geo/queries/stock.py): 批而未供 as above; idle (闲置) = status IDLE on D,
  or a candidate: status on D in IDLE_CANDIDATE_STATUSES, agreed start + IDLE_AFTER_DAYS
  < D and its project (as linked on D) had not started by D; about to lapse = 批而未供 with
  (latest approval + LAPSE_AFTER_DAYS) − D < LAPSE_WARNING_DAYS (negative: the lapse date
  has passed and LAPSED is not yet recorded); lapsed = status LAPSED on D.
- Approving authority (`approval_authority`): the State Council (国务院) when the parcel
  shares area with permanent basic farmland, or its farmland exceeds
  STATE_COUNCIL_FARMLAND_M2, or its other land exceeds STATE_COUNCIL_OTHER_LAND_M2
  (土地管理法 第四十六条); otherwise the provincial government.
- Next procedure step (`next_step`): the step after the least advanced demand parcel of
  the project; when none is in demand, after the least advanced parcel on the main chain
  (IDLE and LAPSED are side states, skipped). Its deadline is the earliest deadline of the
  project's approval items of the type NEXT_STEP_APPROVAL_ITEM maps the step to, among
  those still open on D (not completed by D); steps without an approval item have none.
"""

from __future__ import annotations

import datetime as dt

from geo.enums import ApprovalItemType, DomainEnum, KeyCategory, LandStatus, SigningStatus

YEAR_RANGE = (2000, 2100)
"""Plan years the ledger accepts (land_quota_entry's CHECK); any other year is a bad input."""

DEMAND_STATUSES = (
    LandStatus.DEMAND,
    LandStatus.PRE_REVIEWED,
    LandStatus.DOSSIER_PREP,
    LandStatus.SUBMITTED,
)
"""Not yet approved: the land still needs quota."""

QUOTA_TOLERANCE_M2 = 0.005
"""Half a cent of m²: quota is booked to 0.01 m², demand is summed in floating point, so two
amounts closer than this are the same amount (cover, pool share and status compare so)."""

LAND_CHAIN = (
    *DEMAND_STATUSES,
    LandStatus.APPROVED_UNSUPPLIED,
    LandStatus.SUPPLIED,
    LandStatus.LAND_PLANNING_PERMIT,
    LandStatus.REGISTERED,
)
"""The usual order of the land procedure (DESIGN.md §2); IDLE and LAPSED are side states."""

NEXT_STEP_APPROVAL_ITEM = {
    LandStatus.PRE_REVIEWED: ApprovalItemType.LAND_PRE_EXAMINATION,
    LandStatus.LAND_PLANNING_PERMIT: ApprovalItemType.LAND_PLANNING_PERMIT,
}
"""The approval item whose deadline is the deadline of a procedure step: 用地预审与选址意见书
is the PRE_REVIEWED step, 建设用地规划许可证 the LAND_PLANNING_PERMIT step. 组卷, 报批, 批复,
供地 and 登记 are steps of the land bureau with no item in the project's approval list, so
they have no deadline here."""

TIGHT_COVERAGE = 1.2
"""Remaining quota below 1.2 × demand (but covering it) is TIGHT: one more large project
or a slipped allocation opens a gap."""

BLOCKED_KEY_CONFLICT_SHARE = 0.10
"""BLOCKED when ≥ 10 % of the key projects' demand lies on parcels in conflict with basic
farmland or the red line: quota cannot help until the plan is adjusted."""

IDLE_AFTER_DAYS = 365
"""闲置 candidate: supplied land with no start more than a year after the agreed start."""

IDLE_CANDIDATE_STATUSES = (
    LandStatus.SUPPLIED,
    LandStatus.LAND_PLANNING_PERMIT,
    LandStatus.REGISTERED,
)
"""Supplied land (with or without the planning permit or the title) can lie idle: neither
the permit nor registration is a start of works (闲置土地处置办法 第二条)."""

LAPSE_AFTER_DAYS = 730
"""批文失效: an approval lapses when the land is not used within two years."""

LAPSE_WARNING_DAYS = 90
"""An approval 'about to lapse' has fewer than this many days left."""

STATE_COUNCIL_FARMLAND_M2 = 350_000.0
"""国务院批准: farmland (耕地) other than basic farmland above 35 公顷."""

STATE_COUNCIL_OTHER_LAND_M2 = 700_000.0
"""国务院批准: other (non-farmland) land above 70 公顷."""

# Priority of the policy (晋市政办函〔2024〕7号: 优先保障省市重点工程项目、已签约拟落地及拟签约重大项目):
# tier 1 provincial key, 2 municipal key (other key-list projects), 3 signed-to-land,
# 4 about-to-sign, 5 the rest. Ties: earlier planned start, then project code.
PRIORITY_TIERS = {
    1: "省级重点工程 provincial key project",
    2: "市级重点项目 municipal key project",
    3: "已签约拟落地 signed, about to land",
    4: "拟签约 about to sign",
    5: "其他项目 other projects",
}


def priority_tier(*, categories: list[str], is_key: bool, signing_status: str | None) -> int:
    """The project's tier in PRIORITY_TIERS (geo/guarantee.py's `_PRIORITY` is the same rule
    in SQL; tests/test_guarantee.py checks they agree)."""
    if KeyCategory.PROVINCIAL_KEY in categories:
        return 1
    if is_key:
        return 2
    if signing_status == SigningStatus.SIGNED:
        return 3
    if signing_status == SigningStatus.ABOUT_TO_SIGN:
        return 4
    return 5


class GuaranteeStatus(DomainEnum):
    SUFFICIENT = (
        "SUFFICIENT",
        "保障充足",
        f"remaining quota covers demand with ≥ {round((TIGHT_COVERAGE - 1) * 100)} % margin",
    )
    TIGHT = (
        "TIGHT",
        "保障偏紧",
        f"remaining quota covers demand with < {round((TIGHT_COVERAGE - 1) * 100)} % margin",
    )
    SHORTFALL = "SHORTFALL", "指标缺口", "remaining quota is below demand"
    BLOCKED = (
        "BLOCKED",
        "冲突受阻",
        f"≥ {round(BLOCKED_KEY_CONFLICT_SHARE * 100)} % of key demand conflicts with basic farmland or the red line",
    )


def county_status(
    *, demand_m2: float, remaining_m2: float, key_demand_m2: float, key_conflict_m2: float
) -> tuple[GuaranteeStatus, list[str]]:
    """The county's status (worst rule wins: BLOCKED > SHORTFALL > TIGHT > SUFFICIENT) and
    every reason that applies, in Chinese and English."""
    reasons: list[str] = []
    blocked = key_demand_m2 > 0 and key_conflict_m2 / key_demand_m2 >= BLOCKED_KEY_CONFLICT_SHARE
    if blocked:
        reasons.append(
            f"重点项目用地需求中 {key_conflict_m2 / key_demand_m2:.0%} 与永久基本农田或生态保护红线冲突 — "
            f"{key_conflict_m2 / key_demand_m2:.0%} of key-project demand conflicts with protected zones"
        )
    short = demand_m2 - remaining_m2 > QUOTA_TOLERANCE_M2
    if short:
        gap_mu = (demand_m2 - remaining_m2) * 15 / 10000
        reasons.append(f"指标缺口 {gap_mu:,.1f} 亩 — quota gap of {gap_mu:,.1f} mu")
    tight = not short and demand_m2 > 0 and remaining_m2 < TIGHT_COVERAGE * demand_m2
    if tight:
        reasons.append(
            f"剩余指标仅为需求的 {remaining_m2 / demand_m2:.2f} 倍 — remaining quota is only "
            f"{remaining_m2 / demand_m2:.2f}× demand"
        )
    if blocked:
        return GuaranteeStatus.BLOCKED, reasons
    if short:
        return GuaranteeStatus.SHORTFALL, reasons
    if tight:
        return GuaranteeStatus.TIGHT, reasons
    if demand_m2 == 0:
        reasons.append("无待批用地需求 — no land demand awaiting approval")
    else:
        reasons.append(
            f"剩余指标为需求的 {remaining_m2 / demand_m2:.2f} 倍 — remaining quota is "
            f"{remaining_m2 / demand_m2:.2f}× demand"
        )
    return GuaranteeStatus.SUFFICIENT, reasons


def check_year(year: int) -> bool:
    return YEAR_RANGE[0] <= year <= YEAR_RANGE[1]


def default_as_of(year: int, today: dt.date) -> dt.date:
    """D when no asOf is given: today, or the last day of a past plan year."""
    return dt.date(year, 12, 31) if year < today.year else today


class CoverStatus(DomainEnum):
    NO_DEMAND = "NO_DEMAND", "无待批用地", "no land awaiting approval"
    COVERED = "COVERED", "指标已覆盖", "fully covered by the county's remaining quota"
    PARTLY = "PARTLY", "部分覆盖", "partly covered by the county's remaining quota"
    NOT_COVERED = "NOT_COVERED", "未覆盖", "not covered: higher-priority demand uses the quota"
    CONFLICT = (
        "CONFLICT",
        "冲突受阻",
        "no cover: a parcel conflicts with basic farmland or the red line",
    )


def cover_status(*, demand_m2: float, covered_m2: float, conflict: bool) -> CoverStatus:
    """How far the county's remaining quota covers a project (see the cover rule above)."""
    if conflict:
        return CoverStatus.CONFLICT
    if demand_m2 <= 0:
        return CoverStatus.NO_DEMAND
    if covered_m2 >= demand_m2:
        return CoverStatus.COVERED
    return CoverStatus.PARTLY if covered_m2 > 0 else CoverStatus.NOT_COVERED


def project_reasons(
    *,
    demand_m2: float,
    covered_m2: float,
    conflict: bool,
    farmland_m2: float,
    redline_m2: float,
    outside_urban_parcels: int,
    county_remaining_m2: float,
    ahead_m2: float,
) -> list[str]:
    """Why a project's land is (not) guaranteed, in Chinese and English."""

    def mu(m2: float) -> str:
        return f"{m2 * 15 / 10000:,.1f}"

    reasons: list[str] = []
    if conflict:
        parts = []
        if farmland_m2 > 0:
            parts.append(f"永久基本农田 {mu(farmland_m2)} 亩")
        if redline_m2 > 0:
            parts.append(f"生态保护红线 {mu(redline_m2)} 亩")
        reasons.append(
            f"用地与{'、'.join(parts) or '三区三线'}冲突，须先调整 — conflicts with protected "
            f"zones ({mu(farmland_m2 + redline_m2)} mu), no quota until resolved"
        )
    elif demand_m2 > covered_m2:
        unmet = demand_m2 - covered_m2
        reasons.append(
            f"县级剩余指标 {mu(county_remaining_m2)} 亩，优先序在前的项目需 {mu(ahead_m2)} 亩，"
            f"本项目缺 {mu(unmet)} 亩 — county remaining {mu(county_remaining_m2)} mu, "
            f"{mu(ahead_m2)} mu ahead in priority, {mu(unmet)} mu not covered"
        )
    elif demand_m2 > 0:
        reasons.append(
            f"县级剩余指标可覆盖全部 {mu(demand_m2)} 亩 — fully covered ({mu(demand_m2)} mu)"
        )
    if outside_urban_parcels:
        reasons.append(
            f"{outside_urban_parcels} 个地块在城镇开发边界外，需单独选址 — "
            f"{outside_urban_parcels} parcel(s) outside the urban development boundary"
        )
    return reasons


def next_step(statuses: list[LandStatus]) -> LandStatus | None:
    """The step after the least advanced demand parcel (else the least advanced on the chain)."""
    on_chain = [s for s in statuses if s in LAND_CHAIN]
    demand = [s for s in on_chain if s in DEMAND_STATUSES]
    pool = demand or on_chain
    if not pool:
        return None
    k = min(LAND_CHAIN.index(s) for s in pool)
    return LAND_CHAIN[k + 1] if k + 1 < len(LAND_CHAIN) else None


class ApprovalAuthority(DomainEnum):
    STATE_COUNCIL = "STATE_COUNCIL", "国务院", "the State Council"
    PROVINCE = "PROVINCE", "省级人民政府", "the provincial government"


def approval_authority(
    *, basic_farmland_m2: float, farmland_m2: float, area_m2: float
) -> tuple[ApprovalAuthority, str]:
    """Who approves the parcel's conversion/expropriation (土地管理法 第四十六条), and why."""
    other_m2 = max(0.0, area_m2 - farmland_m2)
    reasons = []
    if basic_farmland_m2 > 0:
        reasons.append(
            f"占用永久基本农田 {basic_farmland_m2 * 15 / 10000:,.2f} 亩 — takes "
            f"{basic_farmland_m2 / 10000:,.4f} ha of permanent basic farmland"
        )
    if farmland_m2 > STATE_COUNCIL_FARMLAND_M2:
        reasons.append(
            f"耕地 {farmland_m2 / 10000:,.2f} 公顷超过 {STATE_COUNCIL_FARMLAND_M2 / 10000:g} 公顷 — "
            f"farmland {farmland_m2 / 10000:,.2f} ha > {STATE_COUNCIL_FARMLAND_M2 / 10000:g} ha"
        )
    if other_m2 > STATE_COUNCIL_OTHER_LAND_M2:
        reasons.append(
            f"其他土地 {other_m2 / 10000:,.2f} 公顷超过 {STATE_COUNCIL_OTHER_LAND_M2 / 10000:g} 公顷 — "
            f"other land {other_m2 / 10000:,.2f} ha > {STATE_COUNCIL_OTHER_LAND_M2 / 10000:g} ha"
        )
    if reasons:
        return ApprovalAuthority.STATE_COUNCIL, "；".join(reasons)
    return ApprovalAuthority.PROVINCE, (
        f"未占永久基本农田，耕地 {farmland_m2 / 10000:,.2f} 公顷 ≤ "
        f"{STATE_COUNCIL_FARMLAND_M2 / 10000:g}，其他土地 {other_m2 / 10000:,.2f} 公顷 ≤ "
        f"{STATE_COUNCIL_OTHER_LAND_M2 / 10000:g} — no basic farmland, farmland and other land "
        "within the provincial limits"
    )
