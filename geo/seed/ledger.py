"""The 2024 land-quota ledger (用地计划指标台账) of the demo set.

Only `land_quota_entry` is written; the balance table is kept by its trigger, whose
CHECK (balance >= 0) aborts any over-draw. So entries go in date order and every county's
allocation covers all of its 2024 debits by itself. Allocations are round numbers of 亩;
some counties end the year short of their outstanding demand (parcels not yet approved)
and some do not, which is what the land-guarantee status is about.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Connection, text

from geo.crs import CITY_CODE
from geo.enums import LedgerEntryType, QuotaKind
from geo.seed import names
from geo.seed.admin import COUNTIES, COUNTY_BY_CODE
from geo.seed.bulk import copy_rows
from geo.seed.plan import PLAN_YEAR, QUOTA_ISSUED

CENT = Decimal("0.01")
POOL_ISSUED = QUOTA_ISSUED
TRANSFER_DATES = (dt.date(2024, 4, 18), dt.date(2024, 7, 9), dt.date(2024, 9, 12))
NOT_YET_APPROVED = ("DEMAND", "PRE_REVIEWED", "DOSSIER_PREP", "SUBMITTED")

COLUMNS = (
    "year",
    "holder_code",
    "kind",
    "entry_type",
    "amount_m2",
    "parcel_id",
    "transfer_id",
    "effective_on",
    "actor",
    "reason",
    "document_no",
)


def mu_to_m2(mu: int) -> Decimal:
    """A whole number of 亩 in m² (1 亩 = 10000/15 m²), to the cent."""
    return (Decimal(mu) * 10000 / 15).quantize(CENT, ROUND_HALF_UP)


def m2_to_mu(m2: float | Decimal) -> float:
    return float(m2) * 15 / 10000


@dataclass(frozen=True)
class Debit:
    parcel_id: int
    parcel_code: str
    county: str
    approved_on: dt.date
    amount: Decimal
    document_no: str
    withdrawn_on: dt.date | None
    withdrawal_doc: str | None


@dataclass
class Entry:
    holder: str
    kind: QuotaKind
    entry_type: LedgerEntryType
    amount: Decimal
    effective_on: dt.date
    actor: str
    reason: str
    document_no: str | None
    parcel_id: int | None = None
    transfer_id: uuid.UUID | None = None

    def row(self) -> tuple[object, ...]:
        return (
            PLAN_YEAR,
            self.holder,
            self.kind.value,
            self.entry_type.value,
            self.amount,
            self.parcel_id,
            self.transfer_id,
            self.effective_on,
            self.actor,
            self.reason,
            self.document_no,
        )


DEMAND_SQL = text(
    """
    SELECT county_code, COALESCE(sum(new_construction_area_m2), 0)
    FROM parcel
    WHERE procedure_status::text = ANY(:statuses)
    GROUP BY county_code
    """
)

DEBITS_SQL = text(
    """
    SELECT p.id, p.code, p.county_code, s.approved_on,
           round(CAST(p.new_construction_area_m2 AS numeric), 2) AS amount,
           s.approval_no, s.withdrawn_on, s.withdrawal_doc
    FROM parcel p JOIN seed_parcel s ON s.code = p.code
    WHERE s.approved_on BETWEEN :lo AND :hi
      AND round(CAST(p.new_construction_area_m2 AS numeric), 2) > 0
    ORDER BY s.approved_on, p.code
    """
)

FARMLAND_SQL = text(
    """
    SELECT p.county_code, sum(p.farmland_area_m2)
    FROM parcel p JOIN seed_parcel s ON s.code = p.code
    WHERE s.approved_on BETWEEN :lo AND :hi
    GROUP BY p.county_code
    """
)


def load_ledger(conn: Connection, rng: random.Random) -> dict[str, dict[str, float]]:
    """Book the 2024 ledger; returns per county demand, allocation and balance in 亩."""
    demand = {c.code: 0.0 for c in COUNTIES}
    for county, m2 in conn.execute(DEMAND_SQL, {"statuses": list(NOT_YET_APPROVED)}):
        demand[county] = float(m2)
    window = {"lo": dt.date(PLAN_YEAR, 1, 1), "hi": dt.date(PLAN_YEAR, 12, 31)}
    debits = [Debit(*row) for row in conn.execute(DEBITS_SQL, window)]
    farmland = {county: float(m2) for county, m2 in conn.execute(FARMLAND_SQL, window)}

    short = _short_counties(rng, demand)
    targets = {
        code: Decimal(
            demand[code] * (rng.uniform(0.35, 0.75) if code in short else rng.uniform(1.15, 1.6))
        )
        for code in demand
    }
    transfers = _transfers(rng, short, targets)
    entries: list[Entry] = [_pool_allocation(sum((t[1] for t in transfers), Decimal(0)))]
    summary: dict[str, dict[str, float]] = {}
    for county in COUNTIES:
        code = county.code
        used = sum((d.amount for d in debits if d.county == code), Decimal(0))
        back = sum((d.amount for d in debits if d.county == code and d.withdrawn_on), Decimal(0))
        received = sum((amount for to, amount in transfers if to == code), Decimal(0))
        need = max(used + mu_to_m2(1), targets[code] + used - back - received)
        mu = 10 * math.ceil(m2_to_mu(need) / 10)
        entries.append(_allocation(code, mu))
        summary[code] = {
            "demand_mu": round(m2_to_mu(demand[code]), 1),
            "allocated_mu": float(mu),
            "pool_in_mu": round(m2_to_mu(received), 1),
            "used_mu": round(m2_to_mu(used - back), 1),
            "balance_mu": round(m2_to_mu(mu_to_m2(mu) + received - used + back), 1),
        }
    entries += _transfer_entries(rng, transfers)
    entries += _debit_entries(debits)
    entries += _other_kinds(rng, farmland)
    order = {t: n for n, t in enumerate(LedgerEntryType)}
    entries.sort(key=lambda e: (e.effective_on, order[e.entry_type], e.holder))
    copy_rows(conn, "land_quota_entry", COLUMNS, (e.row() for e in entries))
    return summary


def _short_counties(rng: random.Random, demand: dict[str, float]) -> set[str]:
    """Half the counties with demand end up short of it; the rest are covered."""
    candidates = [code for code, m2 in demand.items() if m2 > 0]
    k = max(1, len(candidates) // 2)
    short = set(rng.sample(candidates, min(k, len(candidates))))
    if len(short) == len(demand):  # keep at least one county covered
        short.discard(sorted(short)[0])
    return short


def _transfers(
    rng: random.Random, short: set[str], targets: dict[str, Decimal]
) -> list[tuple[str, Decimal]]:
    """Three pool transfers (调节库调剂), to short counties first, each ≤ 40 % of its target."""
    receivers = sorted(short) + sorted(set(targets) - short)
    out: list[tuple[str, Decimal]] = []
    for to in receivers[:3]:
        cap_mu = m2_to_mu(targets[to]) * 0.4
        mu = 10 * math.floor(cap_mu * rng.uniform(0.4, 1.0) / 10)
        if mu > 0:
            out.append((to, mu_to_m2(mu)))
    return out


def _pool_allocation(transfers_m2: Decimal) -> Entry:
    """The province's allocation to the city pool: the transfers and about 40 % in reserve."""
    mu = 100 * math.ceil(m2_to_mu(transfers_m2) * 1.4 / 100) + 100
    return Entry(
        CITY_CODE,
        QuotaKind.NEW_CONSTRUCTION,
        LedgerEntryType.ALLOCATION,
        mu_to_m2(mu),
        POOL_ISSUED,
        names.AGENCY_PROVINCE_LAND,
        "预下达2024年度新增建设用地计划指标（市级计划指标调节库）",
        "晋自然资发〔2024〕8号",
    )


def _allocation(code: str, mu: int) -> Entry:
    name = COUNTY_BY_CODE[code].name
    return Entry(
        code,
        QuotaKind.NEW_CONSTRUCTION,
        LedgerEntryType.ALLOCATION,
        mu_to_m2(mu),
        QUOTA_ISSUED,
        names.AGENCY_CITY_LAND,
        f"预下达{name}2024年度新增建设用地计划指标{mu}亩",
        "晋市自然资发〔2024〕12号",
    )


def _transfer_entries(rng: random.Random, transfers: Sequence[tuple[str, Decimal]]) -> list[Entry]:
    """Each transfer is one balanced OUT/IN pair sharing a transfer id (checked at commit)."""
    out: list[Entry] = []
    for n, (to, amount) in enumerate(transfers):
        tid = uuid.UUID(int=rng.getrandbits(128), version=4)
        when = TRANSFER_DATES[n % len(TRANSFER_DATES)]
        doc = f"晋市自然资函〔2024〕{31 + 17 * n}号"
        name = COUNTY_BY_CODE[to].name
        reason = f"市级计划指标调节库调剂{name}，优先保障省市重点工程项目用地"
        out.append(
            Entry(
                CITY_CODE,
                QuotaKind.NEW_CONSTRUCTION,
                LedgerEntryType.POOL_TRANSFER_OUT,
                -amount,
                when,
                names.AGENCY_CITY_LAND,
                reason,
                doc,
                transfer_id=tid,
            )
        )
        out.append(
            Entry(
                to,
                QuotaKind.NEW_CONSTRUCTION,
                LedgerEntryType.POOL_TRANSFER_IN,
                amount,
                when,
                names.AGENCY_CITY_LAND,
                reason,
                doc,
                transfer_id=tid,
            )
        )
    return out


def _debit_entries(debits: Sequence[Debit]) -> list[Entry]:
    out: list[Entry] = []
    for d in debits:
        out.append(
            Entry(
                d.county,
                QuotaKind.NEW_CONSTRUCTION,
                LedgerEntryType.APPROVAL_DEBIT,
                -d.amount,
                d.approved_on,
                names.AGENCY_PROVINCE,
                f"{d.parcel_code}农用地转用批准，扣减新增建设用地计划指标",
                d.document_no,
                parcel_id=d.parcel_id,
            )
        )
        if d.withdrawn_on is not None:
            out.append(
                Entry(
                    d.county,
                    QuotaKind.NEW_CONSTRUCTION,
                    LedgerEntryType.WITHDRAWAL_CREDIT,
                    d.amount,
                    d.withdrawn_on,
                    names.AGENCY_PROVINCE,
                    f"{d.parcel_code}用地批复撤回，返还计划指标",
                    d.withdrawal_doc,
                    parcel_id=d.parcel_id,
                )
            )
    return out


def _other_kinds(rng: random.Random, farmland_m2: dict[str, float]) -> list[Entry]:
    """A little 补充耕地 and 增减挂钩 quota, allocations only (nothing consumes them yet)."""
    out: list[Entry] = []
    for county in COUNTIES:
        mu = 10 * math.ceil(
            m2_to_mu(farmland_m2.get(county.code, 0.0)) * rng.uniform(1.0, 1.3) / 10
        )
        if mu > 0:
            out.append(
                Entry(
                    county.code,
                    QuotaKind.FARMLAND_OFFSET,
                    LedgerEntryType.ALLOCATION,
                    mu_to_m2(mu),
                    dt.date(2024, 3, 20),
                    names.AGENCY_CITY_LAND,
                    f"{county.name}补充耕地指标入库{mu}亩（占补平衡）",
                    "晋市自然资发〔2024〕27号",
                )
            )
    for code in ("140525", "140581"):
        mu = 10 * rng.randint(8, 30)
        out.append(
            Entry(
                code,
                QuotaKind.LINKAGE_SURPLUS,
                LedgerEntryType.ALLOCATION,
                mu_to_m2(mu),
                dt.date(2024, 5, 28),
                names.AGENCY_PROVINCE_LAND,
                f"{COUNTY_BY_CODE[code].name}城乡建设用地增减挂钩节余指标{mu}亩",
                "晋自然资函〔2024〕96号",
            )
        )
    return out
