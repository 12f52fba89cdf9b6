"""Land quotas (用地计划指标): balances derived from the ledger, per year, holder and kind."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.enums import LedgerEntryType as T
from geo.models import LandQuotaBalance, LandQuotaEntry

E = LandQuotaEntry


def _sum_of(entry_type: T) -> Any:
    return func.coalesce(func.sum(E.amount_m2).filter(E.entry_type == entry_type), 0)


async def land_quotas(
    session: AsyncSession, *, year: int, holder_code: str | None
) -> Sequence[Row[Any]]:
    """One row per (holder, kind): the ledger's sums by entry type and the running balance."""
    stmt = (
        select(
            E.year,
            E.holder_code,
            E.kind,
            _sum_of(T.ALLOCATION).label("allocated_m2"),
            _sum_of(T.POOL_TRANSFER_IN).label("from_pool_m2"),
            (-_sum_of(T.POOL_TRANSFER_OUT)).label("transferred_out_m2"),
            (-_sum_of(T.APPROVAL_DEBIT)).label("debited_m2"),
            _sum_of(T.WITHDRAWAL_CREDIT).label("credited_m2"),
            func.sum(E.amount_m2).label("ledger_balance_m2"),
            func.count().label("entry_count"),
            LandQuotaBalance.balance_m2,
        )
        .join(
            LandQuotaBalance,
            (LandQuotaBalance.year == E.year)
            & (LandQuotaBalance.holder_code == E.holder_code)
            & (LandQuotaBalance.kind == E.kind),
        )
        .where(E.year == year)
        .group_by(E.year, E.holder_code, E.kind, LandQuotaBalance.balance_m2)
        .order_by(E.holder_code, E.kind)
    )
    if holder_code is not None:
        stmt = stmt.where(E.holder_code == holder_code)
    return (await session.execute(stmt)).all()


async def entries_by_account(
    session: AsyncSession, accounts: Sequence[tuple[int, str, str]]
) -> dict[tuple[int, str, str], list[Row[Any]]]:
    """Ledger entries of several (year, holder, kind) accounts in one statement, oldest first."""
    years = {a[0] for a in accounts}
    holders = {a[1] for a in accounts}
    stmt = (
        select(*E.__table__.c)
        .where(E.year.in_(years), E.holder_code.in_(holders))
        .order_by(E.effective_on, E.id)
    )
    wanted = set(accounts)
    grouped: dict[tuple[int, str, str], list[Row[Any]]] = defaultdict(list)
    for entry in (await session.execute(stmt)).all():
        key = (entry.year, entry.holder_code, entry.kind.value)
        if key in wanted:
            grouped[key].append(entry)
    return grouped
