"""用地保障规则 — every rule of the land-guarantee computation, in one place.

DESIGN.md §3 defines the quantities; this module fixes their precise meaning and the
thresholds. geo/guarantee.py turns them into SQL; nothing else decides them.

Definitions (county c, plan year Y, as-of date D; areas in m², the parcel's legal area):
- A parcel's status on D is its latest procedure step dated ≤ D (current status when D is
  today). A parcel belongs to a project when it was linked on or before D and not unlinked
  by D. Active projects are those not yet COMPLETED.
- demand = new-construction area (新增建设用地) of the active projects' parcels whose status
  is in DEMAND_STATUSES — land still to be approved, hence still to consume quota.
- quota (kind NEW_CONSTRUCTION, year Y, entries effective ≤ D): allocated = Σ allocations,
  fromPool = Σ pool transfers in, used = Σ approval debits − Σ withdrawal credits,
  remaining = the ledger sum.
- gap = max(0, demand − remaining); coverage = remaining / demand (null when demand = 0).
- approved / supplied = legal area of the county's parcels whose approval / supply step is
  dated in year Y and ≤ D; 批而未供 = legal area of parcels whose status on D is
  APPROVED_UNSUPPLIED, whatever the year of approval.
- conflicts: demand parcels sharing interior with basic farmland or the red line
  (parcel_overlay, Gauss-Krüger plane areas); outside-urban: demand parcels more than 1 m²
  outside the urban development boundary (单独选址).
- Cover in priority order: within a county, projects with demand and no conflict are
  ranked by PRIORITY_TIERS, then earlier planned start, then code; the county's remaining
  quota covers them in that order (the first one that does not fit fully is covered in
  part; everything after it is not). A project with a conflicting parcel gets no cover:
  its land cannot be approved until the conflict is resolved.
- Pool plan: the city pool's remaining quota is shared the same way over every county's
  unmet (uncovered) demand, city-wide, never to a conflicting project.
"""

from __future__ import annotations

from geo.enums import DomainEnum, LandStatus

DEMAND_STATUSES = (
    LandStatus.DEMAND,
    LandStatus.PRE_REVIEWED,
    LandStatus.DOSSIER_PREP,
    LandStatus.SUBMITTED,
)
"""Not yet approved: the land still needs quota."""

TIGHT_COVERAGE = 1.2
"""Remaining quota below 1.2 × demand (but covering it) is TIGHT: one more large project
or a slipped allocation opens a gap."""

BLOCKED_KEY_CONFLICT_SHARE = 0.10
"""BLOCKED when ≥ 10 % of the key projects' demand lies on parcels in conflict with basic
farmland or the red line: quota cannot help until the plan is adjusted."""

IDLE_AFTER_DAYS = 365
"""闲置 candidate: supplied land with no start more than a year after the agreed start."""

LAPSE_AFTER_DAYS = 730
"""批文失效: an approval lapses when the land is not used within two years."""

LAPSE_WARNING_DAYS = 90
"""An approval 'about to lapse' has fewer than this many days left."""

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


class GuaranteeStatus(DomainEnum):
    SUFFICIENT = (
        "SUFFICIENT",
        "保障充足",
        f"remaining quota covers demand with ≥ {int((TIGHT_COVERAGE - 1) * 100)} % margin",
    )
    TIGHT = (
        "TIGHT",
        "保障偏紧",
        f"remaining quota covers demand with < {int((TIGHT_COVERAGE - 1) * 100)} % margin",
    )
    SHORTFALL = "SHORTFALL", "指标缺口", "remaining quota is below demand"
    BLOCKED = (
        "BLOCKED",
        "冲突受阻",
        f"≥ {int(BLOCKED_KEY_CONFLICT_SHARE * 100)} % of key demand conflicts with basic farmland or the red line",
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
    short = demand_m2 > remaining_m2
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
