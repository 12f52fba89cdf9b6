"""用地计划指标台账 The quota ledger's write paths (DESIGN.md §2 LandQuota, issue 4).

Allocation, pool transfer, debit on approval and credit on withdrawal each append entries
to `land_quota_entry`; the AFTER INSERT trigger keeps `land_quota_balance`, whose
CHECK (balance_m2 >= 0) is the last line of defence against an over-draw. Before that,
every write that takes quota locks the balance row (SELECT … FOR NO KEY UPDATE) and
compares, so concurrent debits queue on one row and the loser gets a clean
`InsufficientQuota` instead of a constraint error.

Every function works in the caller's transaction (the caller commits) inside a savepoint:
a refused write leaves nothing behind and the caller's transaction usable. Locks are
always taken parcel first, then balance row(s), pool before county; a caller that mixes
pool transfers and debits in one transaction should do the transfers first.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import Numeric, and_, cast, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from geo.crs import CITY_CODE
from geo.enums import LandStatus, LedgerEntryType, QuotaKind
from geo.models import AdminArea, LandQuotaBalance, LandQuotaEntry, Parcel, ParcelStatusEvent

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")
"""numeric(14, 2) holds at most this many m²."""
BALANCE_CHECK = "land_quota_balance_balance_m2_check"
"""PostgreSQL's name for the unnamed CHECK (balance_m2 >= 0) of migration 0001."""

APPROVE_FROM = LandStatus.SUBMITTED
WITHDRAW_TO = LandStatus.DOSSIER_PREP

Amount = Decimal | int | str


# --------------------------------------------------------------------------- errors


class LedgerError(Exception):
    """Base of the ledger's refusals; `code` is what the API layer reports to clients."""

    code = "LEDGER_ERROR"


class InsufficientQuota(LedgerError):
    """The account cannot cover the amount: quota never goes below zero."""

    code = "INSUFFICIENT_QUOTA"

    def __init__(
        self,
        holder_code: str,
        kind: QuotaKind | str,
        year: int,
        balance_m2: Decimal,
        requested_m2: Decimal,
    ) -> None:
        self.holder_code = holder_code
        self.kind = QuotaKind(kind)
        self.year = year
        self.balance_m2 = Decimal(balance_m2).quantize(CENT)
        self.requested_m2 = Decimal(requested_m2).quantize(CENT)
        super().__init__(
            f"用地计划指标不足 insufficient quota: {holder_code} {year} {self.kind.value} "
            f"balance {self.balance_m2} m², requested {self.requested_m2} m²"
        )


class InvalidTransition(LedgerError):
    """The parcel's land procedure is not at the step this write starts from."""

    code = "INVALID_TRANSITION"

    def __init__(
        self, current: LandStatus | str, wanted: LandStatus | str, *, parcel_code: str | None = None
    ) -> None:
        self.current = LandStatus(current)
        self.wanted = LandStatus(wanted)
        self.parcel_code = parcel_code
        where = f"{parcel_code} " if parcel_code else ""
        super().__init__(
            f"用地手续状态不能从{self.current.zh}变为{self.wanted.zh} invalid transition: "
            f"{where}{self.current.value} → {self.wanted.value}"
        )


class NotFound(LedgerError):
    """A parcel, holder or debit the write refers to does not exist."""

    code = "NOT_FOUND"

    def __init__(self, what: str, key: object) -> None:
        self.what = what
        self.key = key
        super().__init__(f"未找到 not found: {what} {key}")


class BadAmount(LedgerError):
    """Quota amounts are positive m² with at most two decimals (numeric(14, 2))."""

    code = "BAD_AMOUNT"

    def __init__(self, amount: object, why: str) -> None:
        self.amount = amount
        super().__init__(f"指标数额无效 bad amount: {amount!r} ({why})")


class BadInput(LedgerError):
    """Any other argument the ledger refuses before touching the database."""

    code = "BAD_INPUT"

    def __init__(self, field: str, why: str) -> None:
        self.field = field
        super().__init__(f"参数无效 bad input: {field} ({why})")


# --------------------------------------------------------------------------- checks


def _amount(value: Amount) -> Decimal:
    """Exact to the cent or refused: quota is never silently rounded (floats are refused too)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise BadAmount(value, "use Decimal, int or str, not float")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise BadAmount(value, "not a number") from None
    if not amount.is_finite():
        raise BadAmount(value, "not finite")
    if amount <= 0:
        raise BadAmount(value, "must be > 0")
    if amount != amount.quantize(CENT):
        raise BadAmount(value, "more than two decimals (0.01 m²)")
    if amount > MAX_AMOUNT:
        raise BadAmount(value, "too large for numeric(14, 2)")
    return amount.quantize(CENT)


def _year(year: int) -> int:
    """The ledger's own CHECK range, refused here so the caller gets a typed error."""
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise BadInput("year", f"{year!r} is not between 2000 and 2100")
    return year


def _kind(kind: QuotaKind | str) -> QuotaKind:
    """Strings are accepted for the API layer's convenience, checked against the enum."""
    try:
        return QuotaKind(kind)
    except ValueError:
        raise BadInput("kind", f"{kind!r} is not one of {QuotaKind.values()}") from None


def _text(field: str, value: str) -> str:
    """Who and why are mandatory on every entry (the table's CHECKs say the same)."""
    if not isinstance(value, str) or not value.strip():
        raise BadInput(field, "must not be blank")
    return value


def _date(field: str, value: dt.date) -> dt.date:
    """A datetime would pass as a date and carry a time zone question the ledger does not ask."""
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise BadInput(field, "must be a date")
    return value


def _is_overdraw(exc: IntegrityError) -> bool:
    """Whether the database refused the write because a balance would go below zero."""
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None) == BALANCE_CHECK


# --------------------------------------------------------------------------- reads


async def _holder_exists(session: AsyncSession, code: str) -> bool:
    """Checked first so an unknown holder is NOT_FOUND, not a foreign-key error."""
    found = await session.execute(select(AdminArea.code).where(AdminArea.code == code))
    return found.first() is not None


def _account(year: int, holder_code: str, kind: QuotaKind) -> list[object]:
    B = LandQuotaBalance
    return [B.year == year, B.holder_code == holder_code, B.kind == kind]


async def balance(
    session: AsyncSession, *, year: int, holder_code: str, kind: QuotaKind
) -> Decimal:
    """The running balance of one account (0 when it has no entries yet), without locking."""
    stmt = select(LandQuotaBalance.balance_m2).where(*_account(year, holder_code, kind))
    value = (await session.execute(stmt)).scalar_one_or_none()
    return Decimal(0) if value is None else Decimal(value)


async def _locked_balance(
    session: AsyncSession, *, year: int, holder_code: str, kind: QuotaKind
) -> Decimal:
    """Lock the balance row so concurrent debits of the account queue here, then read it."""
    stmt = (
        select(LandQuotaBalance.balance_m2)
        .where(*_account(year, holder_code, kind))
        .with_for_update(key_share=True)
    )
    value = (await session.execute(stmt)).scalar_one_or_none()
    # No row: the account has never had an entry, so nothing can be taken from it (and the
    # trigger's INSERT … ON CONFLICT plus the CHECK refuse a racing first debit anyway).
    return Decimal(0) if value is None else Decimal(value)


async def _ensure_covers(
    session: AsyncSession, *, year: int, holder_code: str, kind: QuotaKind, amount: Decimal
) -> None:
    """The clean, locked pre-check; the CHECK constraint stays behind it."""
    available = await _locked_balance(session, year=year, holder_code=holder_code, kind=kind)
    if available < amount:
        raise InsufficientQuota(holder_code, kind, year, available, amount)


async def balances(
    session: AsyncSession, *, year: int, holder_code: str | None = None
) -> dict[tuple[str, QuotaKind], Decimal]:
    """Running balances of a year by (holder, kind), from the trigger-kept table."""
    B = LandQuotaBalance
    stmt = select(B.holder_code, B.kind, B.balance_m2).where(B.year == year)
    if holder_code is not None:
        stmt = stmt.where(B.holder_code == holder_code)
    return {(h, QuotaKind(k)): Decimal(v) for h, k, v in await session.execute(stmt)}


async def ledger_sums(
    session: AsyncSession, *, year: int, holder_code: str | None = None
) -> dict[tuple[str, QuotaKind], Decimal]:
    """The same balances recomputed from the entries, to prove the running table right."""
    E = LandQuotaEntry
    stmt = (
        select(E.holder_code, E.kind, func.sum(E.amount_m2))
        .where(E.year == year)
        .group_by(E.holder_code, E.kind)
    )
    if holder_code is not None:
        stmt = stmt.where(E.holder_code == holder_code)
    return {(h, QuotaKind(k)): Decimal(v) for h, k, v in await session.execute(stmt)}


@dataclass(frozen=True)
class _LockedParcel:
    id: int
    code: str
    county_code: str
    status: LandStatus
    status_date: dt.date
    amount_m2: Decimal
    """新增建设用地 rounded to 0.01 m², the way quota is booked."""


async def _lock_parcel(session: AsyncSession, code: str) -> _LockedParcel:
    """Lock the parcel row: two approvals (or an approval and a withdrawal) of one parcel serialise."""
    P = Parcel
    stmt = (
        select(
            P.id,
            P.code,
            P.county_code,
            P.procedure_status,
            P.status_date,
            func.round(cast(P.new_construction_area_m2, Numeric), 2),
        )
        .where(P.code == code)
        .with_for_update(key_share=True)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound("parcel 地块", code)
    pid, pcode, county, status, status_date, amount = row
    return _LockedParcel(
        pid, pcode, county, LandStatus(status), status_date, Decimal(amount or 0).quantize(CENT)
    )


# --------------------------------------------------------------------------- writes


async def _insert_entry(
    session: AsyncSession,
    *,
    year: int,
    holder_code: str,
    kind: QuotaKind,
    entry_type: LedgerEntryType,
    amount_m2: Decimal,
    effective_on: dt.date,
    actor: str,
    reason: str,
    document_no: str | None,
    parcel_id: int | None = None,
    transfer_id: uuid.UUID | None = None,
) -> int:
    stmt = (
        insert(LandQuotaEntry)
        .values(
            year=year,
            holder_code=holder_code,
            kind=kind,
            entry_type=entry_type,
            amount_m2=amount_m2,
            parcel_id=parcel_id,
            transfer_id=transfer_id,
            effective_on=effective_on,
            actor=actor,
            reason=reason,
            document_no=document_no,
        )
        .returning(LandQuotaEntry.id)
    )
    return int((await session.execute(stmt)).scalar_one())


# Plain SQL: the Parcel mapping does not carry updated_at (the column exists in the table).
_MOVE_PARCEL = text(
    """
    UPDATE parcel
       SET procedure_status = CAST(:to AS land_status), status_date = :on, approval_doc = :doc,
           version = version + 1, updated_at = now()
     WHERE id = :id
    """
)


async def _move_parcel(
    session: AsyncSession,
    parcel: _LockedParcel,
    *,
    to: LandStatus,
    on: dt.date,
    actor: str,
    reason: str,
    approval_doc: str | None,
) -> None:
    """The status change and its dated event: a step is never recorded without its history row."""
    await session.execute(
        _MOVE_PARCEL,
        {"id": parcel.id, "to": to.value, "on": on, "doc": approval_doc},
    )
    await session.execute(
        insert(ParcelStatusEvent).values(
            parcel_id=parcel.id, status=to, occurred_on=on, actor=actor, reason=reason
        )
    )


async def allocate(
    session: AsyncSession,
    *,
    year: int,
    holder_code: str,
    kind: QuotaKind | str,
    amount_m2: Amount,
    actor: str,
    reason: str,
    document_no: str | None = None,
    effective_on: dt.date,
) -> int:
    """指标下达: book quota issued to a county or the city pool; returns the entry id."""
    year, kind, amount = _year(year), _kind(kind), _amount(amount_m2)
    _text("actor", actor)
    _text("reason", reason)
    _date("effective_on", effective_on)
    async with session.begin_nested():
        if not await _holder_exists(session, holder_code):
            raise NotFound("quota holder 指标持有单位", holder_code)
        return await _insert_entry(
            session,
            year=year,
            holder_code=holder_code,
            kind=kind,
            entry_type=LedgerEntryType.ALLOCATION,
            amount_m2=amount,
            effective_on=effective_on,
            actor=actor,
            reason=reason,
            document_no=document_no,
        )


async def transfer_from_pool(
    session: AsyncSession,
    *,
    year: int,
    to_holder_code: str,
    kind: QuotaKind | str,
    amount_m2: Amount,
    actor: str,
    reason: str,
    document_no: str | None = None,
    effective_on: dt.date,
) -> uuid.UUID:
    """调节库调剂: move quota out of the city pool into a county as one balanced pair."""
    year, kind, amount = _year(year), _kind(kind), _amount(amount_m2)
    _text("actor", actor)
    _text("reason", reason)
    _date("effective_on", effective_on)
    if to_holder_code == CITY_CODE:
        raise BadInput("to_holder_code", "the city pool cannot transfer to itself")
    transfer_id = uuid.uuid4()
    try:
        async with session.begin_nested():
            if not await _holder_exists(session, to_holder_code):
                raise NotFound("quota holder 指标持有单位", to_holder_code)
            await _ensure_covers(
                session, year=year, holder_code=CITY_CODE, kind=kind, amount=amount
            )
            for holder, entry_type, signed in (
                (CITY_CODE, LedgerEntryType.POOL_TRANSFER_OUT, -amount),
                (to_holder_code, LedgerEntryType.POOL_TRANSFER_IN, amount),
            ):
                await _insert_entry(
                    session,
                    year=year,
                    holder_code=holder,
                    kind=kind,
                    entry_type=entry_type,
                    amount_m2=signed,
                    effective_on=effective_on,
                    actor=actor,
                    reason=reason,
                    document_no=document_no,
                    transfer_id=transfer_id,
                )
    except IntegrityError as exc:
        if not _is_overdraw(exc):
            raise
        left = await balance(session, year=year, holder_code=CITY_CODE, kind=kind)
        raise InsufficientQuota(CITY_CODE, kind, year, left, amount) from exc
    return transfer_id


async def debit_on_approval(
    session: AsyncSession,
    *,
    parcel_code: str,
    year: int,
    actor: str,
    reason: str,
    approved_on: dt.date,
    document_no: str | None = None,
) -> int | None:
    """批地扣减: approval consumes quota, so status, event and debit commit together or not at all."""
    year = _year(year)
    _text("actor", actor)
    _text("reason", reason)
    _date("approved_on", approved_on)
    kind = QuotaKind.NEW_CONSTRUCTION
    wanted = LandStatus.APPROVED_UNSUPPLIED
    county: str | None = None
    amount = Decimal(0)
    entry_id: int | None = None
    try:
        async with session.begin_nested():
            parcel = await _lock_parcel(session, parcel_code)
            county, amount = parcel.county_code, parcel.amount_m2
            if parcel.status is not APPROVE_FROM:
                raise InvalidTransition(parcel.status, wanted, parcel_code=parcel.code)
            if approved_on < parcel.status_date:
                raise BadInput(
                    "approved_on", f"{approved_on} is before the submission on {parcel.status_date}"
                )
            if amount > 0:
                await _ensure_covers(
                    session, year=year, holder_code=county, kind=kind, amount=amount
                )
                entry_id = await _insert_entry(
                    session,
                    year=year,
                    holder_code=county,
                    kind=kind,
                    entry_type=LedgerEntryType.APPROVAL_DEBIT,
                    amount_m2=-amount,
                    effective_on=approved_on,
                    actor=actor,
                    reason=reason,
                    document_no=document_no,
                    parcel_id=parcel.id,
                )
            await _move_parcel(
                session,
                parcel,
                to=wanted,
                on=approved_on,
                actor=actor,
                reason=reason,
                approval_doc=document_no,
            )
    except IntegrityError as exc:
        if not _is_overdraw(exc) or county is None:
            raise
        left = await balance(session, year=year, holder_code=county, kind=kind)
        raise InsufficientQuota(county, kind, year, left, amount) from exc
    return entry_id


async def credit_on_withdrawal(
    session: AsyncSession,
    *,
    parcel_code: str,
    year: int,
    actor: str,
    reason: str,
    withdrawn_on: dt.date,
    document_no: str | None = None,
) -> int | None:
    """撤回返还: a withdrawn approval gives back exactly what its debit took, never a recomputed area."""
    year = _year(year)
    _text("actor", actor)
    _text("reason", reason)
    _date("withdrawn_on", withdrawn_on)
    async with session.begin_nested():
        parcel = await _lock_parcel(session, parcel_code)
        if parcel.status is not LandStatus.APPROVED_UNSUPPLIED:
            raise InvalidTransition(parcel.status, WITHDRAW_TO, parcel_code=parcel.code)
        if withdrawn_on < parcel.status_date:
            raise BadInput(
                "withdrawn_on", f"{withdrawn_on} is before the approval on {parcel.status_date}"
            )
        debit = await _open_debit(session, parcel.id)
        entry_id: int | None = None
        if debit is not None and debit.year == year:
            # The credit goes to the account the debit came from, for the amount it took.
            entry_id = await _insert_entry(
                session,
                year=debit.year,
                holder_code=debit.holder_code,
                kind=debit.kind,
                entry_type=LedgerEntryType.WITHDRAWAL_CREDIT,
                amount_m2=-debit.amount_m2,
                effective_on=withdrawn_on,
                actor=actor,
                reason=reason,
                document_no=document_no,
                parcel_id=parcel.id,
            )
        elif debit is not None:
            raise NotFound(
                f"uncredited approval debit of {year} 未返还的批地扣减 (it is in {debit.year})",
                parcel.code,
            )
        elif parcel.amount_m2 > 0:
            # Never debited, or its debit was already credited: nothing to give back.
            raise NotFound("uncredited approval debit 未返还的批地扣减", parcel.code)
        await _move_parcel(
            session,
            parcel,
            to=WITHDRAW_TO,
            on=withdrawn_on,
            actor=actor,
            reason=reason,
            approval_doc=None,
        )
    return entry_id


@dataclass(frozen=True)
class _Debit:
    year: int
    holder_code: str
    kind: QuotaKind
    amount_m2: Decimal


async def _open_debit(session: AsyncSession, parcel_id: int) -> _Debit | None:
    """The parcel's debit not yet credited back: its latest debit-or-credit entry, if a debit."""
    E = LandQuotaEntry
    stmt = (
        select(E.entry_type, E.year, E.holder_code, E.kind, E.amount_m2)
        .where(
            and_(
                E.parcel_id == parcel_id,
                E.entry_type.in_(
                    [LedgerEntryType.APPROVAL_DEBIT, LedgerEntryType.WITHDRAWAL_CREDIT]
                ),
            )
        )
        .order_by(E.id.desc())
        .limit(1)
    )
    latest = (await session.execute(stmt)).first()
    if latest is None or LedgerEntryType(latest.entry_type) is not LedgerEntryType.APPROVAL_DEBIT:
        return None
    return _Debit(
        latest.year, latest.holder_code, QuotaKind(latest.kind), Decimal(latest.amount_m2)
    )
