"""用地计划指标 Quota writes of the API: amounts in m² or 亩, booked by geo.ledger.

geo.ledger does the booking (locks, balance never below zero, typed refusals); this module
only turns the API's amount (m² or 亩, exactly one) into the ledger's exact m² and reads
the resulting balances back in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from geo import ledger
from geo.crs import CITY_CODE
from geo.enums import QuotaKind
from geo.writes.refusals import WriteRefused

CENT = Decimal("0.01")
M2_PER_MU = Decimal(10000) / Decimal(15)


def amount_m2(m2: Decimal | None, mu: Decimal | None) -> Decimal:
    """Exactly one of m² and 亩. 亩 are converted at 10000/15 m² and rounded half-even to
    the cent the ledger books (1 亩 = 666.67 m²; 3 亩 = 2000.00 m² exactly)."""
    if (m2 is None) == (mu is None):
        raise WriteRefused(
            "BAD_USER_INPUT", "give exactly one of amountM2 and amountMu", field=["input"]
        )
    if m2 is not None:
        return m2
    assert mu is not None
    if not mu.is_finite():
        raise WriteRefused("BAD_USER_INPUT", "amountMu must be finite", field=["input", "amountMu"])
    return (mu * M2_PER_MU).quantize(CENT, rounding=ROUND_HALF_EVEN)


async def allocate(
    session: AsyncSession,
    *,
    year: int,
    holder_code: str,
    kind: QuotaKind,
    amount: Decimal,
    effective_on: dt.date,
    reason: str,
    document_no: str | None,
    actor_sub: str,
) -> int:
    """指标下达 to a county or the city pool; the ledger entry's id."""
    return await ledger.allocate(
        session,
        year=year,
        holder_code=holder_code,
        kind=kind,
        amount_m2=amount,
        actor=actor_sub,
        reason=reason,
        document_no=document_no,
        effective_on=effective_on,
    )


async def transfer_from_pool(
    session: AsyncSession,
    *,
    year: int,
    county_code: str,
    kind: QuotaKind,
    amount: Decimal,
    effective_on: dt.date,
    reason: str,
    document_no: str | None,
    actor_sub: str,
) -> str:
    """调节库调剂 from the city pool (CITY_CODE) to a county; the transfer's id."""
    transfer_id = await ledger.transfer_from_pool(
        session,
        year=year,
        to_holder_code=county_code,
        kind=kind,
        amount_m2=amount,
        actor=actor_sub,
        reason=reason,
        document_no=document_no,
        effective_on=effective_on,
    )
    return str(transfer_id)


POOL_CODE = CITY_CODE
