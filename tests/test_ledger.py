"""The quota ledger's write paths (geo/ledger.py) against a real PostGIS, each test on its own
clone of the demo database.

Every expected number comes from an independent SQL query (parcel areas rounded to the cent
the way quota is booked, plain SUMs over `land_quota_entry`), never from the code under test.
Year 2030 has no entries in the demo set, so tests that need a known account open it there.
The concurrency tests hold the balance (or parcel) row locked from a gate transaction until
every attempt is queued behind it in PostgreSQL (counted in pg_stat_activity), then release
them all at once, so the attempts really do race for the one balance.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from geo import ledger
from geo.crs import CITY_CODE
from geo.db import SessionFactory, session_factory
from geo.db import create_engine as create_async_engine
from geo.enums import QuotaKind

YEAR = 2030
NC = QuotaKind.NEW_CONSTRUCTION
ON = dt.date(2030, 3, 18)
ACTOR = "山西省人民政府"
CONCURRENT = 60
CENT = Decimal("0.01")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def db(fresh_db_url: str) -> Iterator[Engine]:
    """Synchronous engine for setup and for the independent checks."""
    engine = create_engine(fresh_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def sessions(fresh_db_url: str) -> AsyncIterator[SessionFactory]:
    """The application's async engine, with a pool big enough for the concurrency tests."""
    engine = create_async_engine(fresh_db_url, pool_size=CONCURRENT + 4)
    yield session_factory(engine)
    await engine.dispose()


# --------------------------------------------------------------------------- helpers


def q(db: Engine, sql: str, **params: Any) -> list[Any]:
    with db.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def one(db: Engine, sql: str, **params: Any) -> Any:
    with db.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def execute(db: Engine, sql: str, **params: Any) -> None:
    with db.begin() as conn:
        conn.execute(text(sql), params)


def balance_table(db: Engine, year: int = YEAR) -> dict[tuple[str, str], Decimal]:
    rows = q(
        db, "SELECT holder_code, kind, balance_m2 FROM land_quota_balance WHERE year = :y", y=year
    )
    return {(h, k): b for h, k, b in rows}


def ledger_sum_table(db: Engine, year: int = YEAR) -> dict[tuple[str, str], Decimal]:
    rows = q(
        db,
        "SELECT holder_code, kind::text, sum(amount_m2) FROM land_quota_entry WHERE year = :y "
        "GROUP BY 1, 2",
        y=year,
    )
    return {(h, k): s for h, k, s in rows}


def account(db: Engine, holder: str, year: int = YEAR, kind: str = "NEW_CONSTRUCTION") -> Decimal:
    """The running balance of one account, after checking it equals the independent ledger SUM."""
    bal = one(
        db,
        "SELECT COALESCE((SELECT balance_m2 FROM land_quota_balance "
        "WHERE year = :y AND holder_code = :h AND kind = :k), 0)",
        y=year,
        h=holder,
        k=kind,
    )
    total = one(
        db,
        "SELECT COALESCE(sum(amount_m2), 0) FROM land_quota_entry "
        "WHERE year = :y AND holder_code = :h AND kind = :k",
        y=year,
        h=holder,
        k=kind,
    )
    assert bal == total, f"balance table {bal} != ledger sum {total} for {holder} {year} {kind}"
    return Decimal(bal)


def assert_all_balances_are_ledger_sums(db: Engine) -> None:
    for year in (2024, YEAR):
        assert balance_table(db, year) == ledger_sum_table(db, year)


def parcel(db: Engine, code: str) -> Any:
    """Independent view of a parcel: its booked amount is the area rounded to the cent."""
    return q(
        db,
        "SELECT p.id, p.code, p.county_code, p.procedure_status::text AS status, p.status_date, "
        "p.version, p.updated_at, p.approval_doc, "
        "round(p.new_construction_area_m2::numeric, 2) AS amount, "
        "(SELECT count(*) FROM parcel_status_event e WHERE e.parcel_id = p.id) AS events "
        "FROM parcel p WHERE p.code = :c",
        c=code,
    )[0]


def last_event(db: Engine, parcel_id: int) -> Any:
    return q(
        db,
        "SELECT status::text AS status, occurred_on, actor, reason FROM parcel_status_event "
        "WHERE parcel_id = :p ORDER BY id DESC LIMIT 1",
        p=parcel_id,
    )[0]


def entry(db: Engine, entry_id: int) -> Any:
    return q(
        db,
        "SELECT year, holder_code, kind::text AS kind, entry_type::text AS entry_type, amount_m2, "
        "parcel_id, transfer_id, effective_on, actor, reason, document_no "
        "FROM land_quota_entry WHERE id = :i",
        i=entry_id,
    )[0]


def snapshot(db: Engine, codes: Sequence[str]) -> dict[str, Any]:
    """Everything a refused write must leave untouched."""
    return {
        "parcels": [tuple(parcel(db, c)) for c in codes],
        "entries": one(db, "SELECT count(*) FROM land_quota_entry"),
        "events": one(db, "SELECT count(*) FROM parcel_status_event"),
        "balances": (balance_table(db, 2024), balance_table(db, YEAR)),
    }


def submitted(db: Engine, *, limit: int, county: str | None = None) -> list[Any]:
    """SUBMITTED demo parcels with new construction land, in code order."""
    return q(
        db,
        "SELECT code, county_code, round(new_construction_area_m2::numeric, 2) AS amount "
        "FROM parcel WHERE procedure_status = 'SUBMITTED' "
        "AND round(new_construction_area_m2::numeric, 2) > 0 "
        "AND (CAST(:county AS text) IS NULL OR county_code = :county) ORDER BY code LIMIT :n",
        county=county,
        n=limit,
    )


async def allocate(sessions: SessionFactory, holder: str, amount: Decimal | str) -> int:
    async with sessions() as s, s.begin():
        return await ledger.allocate(
            s,
            year=YEAR,
            holder_code=holder,
            kind=NC,
            amount_m2=amount,
            actor="晋城市规划和自然资源局",
            reason="测试下达2030年度新增建设用地计划指标",
            document_no="晋市自然资发〔2030〕1号",
            effective_on=dt.date(2030, 1, 2),
        )


async def debit(s: AsyncSession, code: str, **kw: Any) -> int | None:
    args: dict[str, Any] = {
        "parcel_code": code,
        "year": YEAR,
        "actor": ACTOR,
        "reason": f"{code}农用地转用批准",
        "approved_on": ON,
        "document_no": "晋政地字〔2030〕7号",
    }
    return await ledger.debit_on_approval(s, **(args | kw))


async def credit(s: AsyncSession, code: str, **kw: Any) -> int | None:
    args: dict[str, Any] = {
        "parcel_code": code,
        "year": YEAR,
        "actor": ACTOR,
        "reason": "用地批复撤回：项目调整用地范围，退回重新组卷",
        "withdrawn_on": dt.date(2030, 5, 6),
    }
    return await ledger.credit_on_withdrawal(s, **(args | kw))


async def in_own_transaction(
    sessions: SessionFactory, write: Callable[[AsyncSession], Awaitable[Any]]
) -> Any:
    """One attempt as its own session and transaction; a LedgerError is returned, not raised."""
    async with sessions() as s:
        try:
            async with s.begin():
                return await write(s)
        except ledger.LedgerError as exc:
            return exc


async def lock_waiters(s: AsyncSession) -> int:
    n = (
        await s.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    ).scalar_one()
    await s.rollback()  # pg_stat_activity is a per-transaction snapshot
    return int(n)


async def race(
    sessions: SessionFactory,
    gate_sql: str,
    writes: Sequence[Callable[[AsyncSession], Awaitable[Any]]],
    *,
    queued: int,
    **gate_params: Any,
) -> list[Any]:
    """Start every write while `gate_sql` holds a row lock, wait until `queued` of them wait
    for a lock inside PostgreSQL, release the gate, and return the outcomes in order."""
    async with sessions() as gate, sessions() as watcher:
        await gate.begin()
        assert (await gate.execute(text(gate_sql), gate_params)).first() is not None
        tasks = [asyncio.create_task(in_own_transaction(sessions, w)) for w in writes]
        deadline = asyncio.get_running_loop().time() + 120
        waiting = 0
        while waiting < queued:
            assert asyncio.get_running_loop().time() < deadline, f"only {waiting} queued"
            assert not any(t.done() for t in tasks), "an attempt finished while the gate was shut"
            await asyncio.sleep(0.05)
            waiting = await lock_waiters(watcher)
        await gate.rollback()
        return list(await asyncio.gather(*tasks))


EQUAL_PARCELS_SQL = """
INSERT INTO parcel (code, name, county_code, geom, land_class, procedure_status, status_date)
SELECT 'LT-' || lpad(i::text, 3, '0'), '台账并发测试地块', '140525',
       ST_Multi(ST_Transform(ST_MakeEnvelope(x, y, x + 100, y + 100, 4547), 4490)),
       'FARMLAND', 'SUBMITTED', DATE '2024-09-30'
FROM (SELECT i, 395000 + (i % 10) * 200 AS x, 3930000 + (i / 10) * 200 AS y
      FROM generate_series(1, :n) AS i) AS g
"""


def equal_parcels(db: Engine, n: int) -> tuple[list[str], Decimal]:
    """n SUBMITTED test parcels in 泽州县 140525, each a 100 m square in EPSG:4547 (1 ha),
    added with plain SQL because demo parcels all differ in area; returns codes and the area."""
    execute(db, EQUAL_PARCELS_SQL, n=n)
    rows = q(
        db,
        "SELECT code, round(new_construction_area_m2::numeric, 2) FROM parcel "
        "WHERE code LIKE 'LT-%' ORDER BY code",
    )
    sizes = {a for _, a in rows}
    assert len(rows) == n and len(sizes) == 1, sizes
    size = sizes.pop()
    assert abs(size - Decimal(10000)) < Decimal("0.05")
    return [c for c, _ in rows], size


# --------------------------------------------------------------------------- allocation and pool


async def test_demo_ledger_balances_are_ledger_sums(db: Engine, sessions: SessionFactory) -> None:
    assert balance_table(db, 2024)  # the demo set has a 2024 ledger
    assert balance_table(db, 2024) == ledger_sum_table(db, 2024)
    async with sessions() as s:
        got = await ledger.balances(s, year=2024)
        sums = await ledger.ledger_sums(s, year=2024)
        county = await ledger.balances(s, year=2024, holder_code="140525")
    assert got == sums
    assert {(h, k.value): v for (h, k), v in got.items()} == balance_table(db, 2024)
    assert set(county) == {k for k in got if k[0] == "140525"}


async def test_allocate_and_transfer_from_pool(db: Engine, sessions: SessionFactory) -> None:
    pool_id = await allocate(sessions, CITY_CODE, "100000.00")
    county_id = await allocate(sessions, "140525", Decimal("5000.50"))
    assert account(db, CITY_CODE) == Decimal("100000.00")
    assert account(db, "140525") == Decimal("5000.50")
    row = entry(db, county_id)
    assert (row.year, row.holder_code, row.kind, row.entry_type, row.amount_m2) == (
        YEAR,
        "140525",
        "NEW_CONSTRUCTION",
        "ALLOCATION",
        Decimal("5000.50"),
    )
    assert (row.parcel_id, row.transfer_id, row.effective_on) == (None, None, dt.date(2030, 1, 2))
    assert row.document_no == "晋市自然资发〔2030〕1号"
    assert pool_id < county_id

    async with sessions() as s, s.begin():
        tid = await ledger.transfer_from_pool(
            s,
            year=YEAR,
            to_holder_code="140525",
            kind=NC,
            amount_m2=Decimal("30000.25"),
            actor="晋城市规划和自然资源局",
            reason="市级计划指标调节库调剂泽州县，优先保障省市重点工程项目用地",
            document_no="晋市自然资函〔2030〕31号",
            effective_on=dt.date(2030, 4, 18),
        )
    legs = q(
        db,
        "SELECT holder_code, entry_type::text, amount_m2, effective_on, document_no "
        "FROM land_quota_entry WHERE transfer_id = :t ORDER BY amount_m2",
        t=tid,
    )
    assert [tuple(r) for r in legs] == [
        (
            CITY_CODE,
            "POOL_TRANSFER_OUT",
            Decimal("-30000.25"),
            dt.date(2030, 4, 18),
            "晋市自然资函〔2030〕31号",
        ),
        (
            "140525",
            "POOL_TRANSFER_IN",
            Decimal("30000.25"),
            dt.date(2030, 4, 18),
            "晋市自然资函〔2030〕31号",
        ),
    ]
    assert account(db, CITY_CODE) == Decimal("69999.75")
    assert account(db, "140525") == Decimal("35000.75")
    assert_all_balances_are_ledger_sums(db)


async def test_transfer_refused_when_the_pool_is_short(
    db: Engine, sessions: SessionFactory
) -> None:
    await allocate(sessions, CITY_CODE, "1000.00")
    before = snapshot(db, [])
    async with sessions() as s, s.begin():
        with pytest.raises(ledger.InsufficientQuota) as refused:
            await ledger.transfer_from_pool(
                s,
                year=YEAR,
                to_holder_code="140521",
                kind=NC,
                amount_m2="1000.01",
                actor="晋城市规划和自然资源局",
                reason="调剂",
                effective_on=ON,
            )
        # The caller's transaction is still usable after the refusal.
        tid = await ledger.transfer_from_pool(
            s,
            year=YEAR,
            to_holder_code="140521",
            kind=NC,
            amount_m2="1000.00",
            actor="晋城市规划和自然资源局",
            reason="调剂",
            effective_on=ON,
        )
    exc = refused.value
    assert exc.code == "INSUFFICIENT_QUOTA"
    assert (exc.holder_code, exc.kind, exc.year) == (CITY_CODE, NC, YEAR)
    assert (exc.balance_m2, exc.requested_m2) == (Decimal("1000.00"), Decimal("1000.01"))
    assert str(exc) == (
        "用地计划指标不足 insufficient quota: 140500 2030 NEW_CONSTRUCTION "
        "balance 1000.00 m², requested 1000.01 m²"
    )
    assert one(db, "SELECT count(*) FROM land_quota_entry WHERE transfer_id = :t", t=tid) == 2
    assert one(db, "SELECT count(*) FROM land_quota_entry") == before["entries"] + 2
    assert account(db, CITY_CODE) == 0
    assert account(db, "140521") == Decimal("1000.00")

    async with sessions() as s:
        with pytest.raises(ledger.BadInput):
            await ledger.transfer_from_pool(
                s,
                year=YEAR,
                to_holder_code=CITY_CODE,
                kind=NC,
                amount_m2=1,
                actor="a",
                reason="r",
                effective_on=ON,
            )
        with pytest.raises(ledger.NotFound):
            await ledger.transfer_from_pool(
                s,
                year=YEAR,
                to_holder_code="149999",
                kind=NC,
                amount_m2=1,
                actor="a",
                reason="r",
                effective_on=ON,
            )


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        (0, ledger.BadAmount),
        ("-5.00", ledger.BadAmount),
        ("0.001", ledger.BadAmount),
        (12.5, ledger.BadAmount),  # floats are refused: quota is never silently rounded
        ("NaN", ledger.BadAmount),
        ("1000000000000", ledger.BadAmount),
    ],
)
async def test_allocate_refuses_bad_amounts(
    db: Engine, sessions: SessionFactory, amount: Any, error: type[ledger.LedgerError]
) -> None:
    before = snapshot(db, [])
    with pytest.raises(error) as refused:
        await allocate(sessions, "140525", amount)
    assert refused.value.code == "BAD_AMOUNT"
    assert snapshot(db, []) == before


async def test_allocate_refuses_unknown_holder_and_blank_reason(
    db: Engine, sessions: SessionFactory
) -> None:
    before = snapshot(db, [])
    async with sessions() as s, s.begin():
        with pytest.raises(ledger.NotFound) as missing:
            await ledger.allocate(
                s,
                year=YEAR,
                holder_code="149999",
                kind=NC,
                amount_m2=100,
                actor="a",
                reason="r",
                effective_on=ON,
            )
        with pytest.raises(ledger.BadInput):
            await ledger.allocate(
                s,
                year=YEAR,
                holder_code="140525",
                kind=NC,
                amount_m2=100,
                actor="a",
                reason="  ",
                effective_on=ON,
            )
        with pytest.raises(ledger.BadInput):
            await ledger.allocate(
                s,
                year=1999,
                holder_code="140525",
                kind=NC,
                amount_m2=100,
                actor="a",
                reason="r",
                effective_on=ON,
            )
    assert missing.value.code == "NOT_FOUND"
    assert snapshot(db, []) == before


# --------------------------------------------------------------------------- debit and credit


async def test_debit_then_credit_moves_quota_and_status(
    db: Engine, sessions: SessionFactory
) -> None:
    target = submitted(db, limit=1)[0]
    before = parcel(db, target.code)
    amount = before.amount  # independent: round(new_construction_area_m2::numeric, 2)
    assert amount > 0
    await allocate(sessions, target.county_code, amount + Decimal("100.00"))

    async with sessions() as s, s.begin():
        debit_id = await debit(s, target.code)
    assert debit_id is not None
    row = entry(db, debit_id)
    assert (row.year, row.holder_code, row.kind, row.entry_type) == (
        YEAR,
        target.county_code,
        "NEW_CONSTRUCTION",
        "APPROVAL_DEBIT",
    )
    assert row.amount_m2 == -amount
    assert (row.parcel_id, row.transfer_id, row.effective_on) == (before.id, None, ON)
    assert (row.actor, row.reason, row.document_no) == (
        ACTOR,
        f"{target.code}农用地转用批准",
        "晋政地字〔2030〕7号",
    )
    approved = parcel(db, target.code)
    assert approved.status == "APPROVED_UNSUPPLIED"
    assert approved.status_date == ON
    assert approved.version == before.version + 1
    assert approved.updated_at > before.updated_at
    assert approved.approval_doc == "晋政地字〔2030〕7号"
    assert approved.events == before.events + 1
    ev = last_event(db, before.id)
    assert tuple(ev) == ("APPROVED_UNSUPPLIED", ON, ACTOR, f"{target.code}农用地转用批准")
    assert account(db, target.county_code) == Decimal("100.00")
    assert_all_balances_are_ledger_sums(db)

    async with sessions() as s, s.begin():
        credit_id = await credit(s, target.code, document_no="晋政地函〔2030〕12号")
    assert credit_id is not None and credit_id > debit_id
    row = entry(db, credit_id)
    assert (row.holder_code, row.entry_type, row.amount_m2, row.parcel_id) == (
        target.county_code,
        "WITHDRAWAL_CREDIT",
        amount,
        before.id,
    )
    assert (row.effective_on, row.document_no) == (dt.date(2030, 5, 6), "晋政地函〔2030〕12号")
    withdrawn = parcel(db, target.code)
    assert withdrawn.status == "DOSSIER_PREP"
    assert withdrawn.status_date == dt.date(2030, 5, 6)
    assert withdrawn.version == before.version + 2
    assert withdrawn.approval_doc is None
    assert withdrawn.events == before.events + 2
    assert tuple(last_event(db, before.id)) == (
        "DOSSIER_PREP",
        dt.date(2030, 5, 6),
        ACTOR,
        "用地批复撤回：项目调整用地范围，退回重新组卷",
    )
    assert account(db, target.county_code) == amount + Decimal("100.00")
    assert_all_balances_are_ledger_sums(db)

    # A second withdrawal: the parcel is no longer approved.
    async with sessions() as s:
        with pytest.raises(ledger.InvalidTransition) as again:
            await credit(s, target.code)
    assert (again.value.current.value, again.value.wanted.value) == ("DOSSIER_PREP", "DOSSIER_PREP")

    # Set back to approved by hand (as a faulty import would): the debit is already credited.
    execute(
        db,
        "UPDATE parcel SET procedure_status = 'APPROVED_UNSUPPLIED' WHERE code = :c",
        c=target.code,
    )
    async with sessions() as s:
        with pytest.raises(ledger.NotFound) as credited:
            await credit(s, target.code, withdrawn_on=dt.date(2030, 6, 1))
    assert credited.value.code == "NOT_FOUND"

    # Re-submitted (plain SQL: the procedure steps before approval are not the ledger's) and
    # approved again: a new debit, and a withdrawal credits that one.
    execute(db, "UPDATE parcel SET procedure_status = 'SUBMITTED' WHERE code = :c", c=target.code)
    async with sessions() as s, s.begin():
        second = await debit(s, target.code, approved_on=dt.date(2030, 7, 1))
    async with sessions() as s, s.begin():
        second_credit = await credit(s, target.code, withdrawn_on=dt.date(2030, 8, 1))
    assert second is not None and second_credit is not None
    assert entry(db, second).amount_m2 == -amount
    assert entry(db, second_credit).amount_m2 == amount
    assert account(db, target.county_code) == amount + Decimal("100.00")
    assert_all_balances_are_ledger_sums(db)


async def test_parcel_without_new_construction_land_is_approved_without_debit(
    db: Engine, sessions: SessionFactory
) -> None:
    # Make a SUBMITTED parcel construction land (its generated new-construction area becomes 0).
    code = submitted(db, limit=1)[0].code
    execute(db, "UPDATE parcel SET land_class = 'CONSTRUCTION' WHERE code = :c", c=code)
    before = parcel(db, code)
    assert before.amount == 0
    entries = one(db, "SELECT count(*) FROM land_quota_entry")
    async with sessions() as s, s.begin():  # no 2030 account exists at all
        assert await debit(s, code) is None
    assert parcel(db, code).status == "APPROVED_UNSUPPLIED"
    assert parcel(db, code).events == before.events + 1
    async with sessions() as s, s.begin():
        assert await credit(s, code) is None
    after = parcel(db, code)
    assert (after.status, after.version, after.events) == (
        "DOSSIER_PREP",
        before.version + 2,
        before.events + 2,
    )
    assert one(db, "SELECT count(*) FROM land_quota_entry") == entries
    assert balance_table(db) == {}


@pytest.mark.parametrize(
    "status", ["DEMAND", "PRE_REVIEWED", "DOSSIER_PREP", "APPROVED_UNSUPPLIED", "SUPPLIED"]
)
async def test_debit_refused_for_wrong_status(
    db: Engine, sessions: SessionFactory, status: str
) -> None:
    code = one(
        db,
        "SELECT code FROM parcel WHERE procedure_status = CAST(:s AS land_status) "
        "AND new_construction_area_m2 > 0 ORDER BY code LIMIT 1",
        s=status,
    )
    ok = submitted(db, limit=1)[0]
    await allocate(sessions, "140525", "100000000.00")
    await allocate(sessions, ok.county_code, "100000000.00")
    before = snapshot(db, [code, ok.code])
    async with sessions() as s, s.begin():
        with pytest.raises(ledger.InvalidTransition) as refused:
            await debit(s, code)
        assert before == snapshot(db, [code, ok.code])  # nothing written, even uncommitted
        # The caller's transaction survives the refusal: another approval in it commits.
        assert await debit(s, ok.code) is not None
    exc = refused.value
    assert exc.code == "INVALID_TRANSITION"
    assert (exc.current.value, exc.wanted.value) == (status, "APPROVED_UNSUPPLIED")
    assert code in str(exc) and "invalid transition" in str(exc)
    after = snapshot(db, [code, ok.code])
    assert after["parcels"][0] == before["parcels"][0]
    assert parcel(db, ok.code).status == "APPROVED_UNSUPPLIED"
    assert after["entries"] == before["entries"] + 1


async def test_debit_refused_for_unknown_parcel_and_bad_date(
    db: Engine, sessions: SessionFactory
) -> None:
    target = submitted(db, limit=1)[0]
    await allocate(sessions, target.county_code, "100000000.00")
    before = snapshot(db, [target.code])
    async with sessions() as s:
        with pytest.raises(ledger.NotFound) as missing:
            await debit(s, "DK-NO-SUCH-PARCEL")
        with pytest.raises(ledger.BadInput):  # approved before it was submitted
            await debit(s, target.code, approved_on=dt.date(2000, 1, 1))
        await s.commit()
    assert missing.value.code == "NOT_FOUND" and "DK-NO-SUCH-PARCEL" in str(missing.value)
    assert snapshot(db, [target.code]) == before


async def test_debit_refused_for_insufficient_quota(db: Engine, sessions: SessionFactory) -> None:
    target = submitted(db, limit=1)[0]
    await allocate(sessions, target.county_code, target.amount - CENT)  # one cent short
    before = snapshot(db, [target.code])
    async with sessions() as s, s.begin():
        with pytest.raises(ledger.InsufficientQuota) as refused:
            await debit(s, target.code)
    exc = refused.value
    assert exc.code == "INSUFFICIENT_QUOTA"
    assert (exc.holder_code, exc.kind, exc.year) == (target.county_code, NC, YEAR)
    assert (exc.balance_m2, exc.requested_m2) == (target.amount - CENT, target.amount)
    assert str(exc) == (
        f"用地计划指标不足 insufficient quota: {target.county_code} {YEAR} NEW_CONSTRUCTION "
        f"balance {target.amount - CENT} m², requested {target.amount} m²"
    )
    assert snapshot(db, [target.code]) == before

    # An account that does not exist at all has nothing to give.
    async with sessions() as s, s.begin():
        with pytest.raises(ledger.InsufficientQuota) as none:
            await debit(s, target.code, year=2031)
    assert none.value.balance_m2 == 0
    assert snapshot(db, [target.code]) == before

    # One cent more and it fits exactly, leaving zero.
    await allocate(sessions, target.county_code, CENT)
    async with sessions() as s, s.begin():
        await debit(s, target.code)
    assert account(db, target.county_code) == 0


async def test_the_check_constraint_is_the_last_line_of_defence(
    db: Engine, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the locked pre-check blinded, the database CHECK refuses the over-draw and the
    ledger still reports it as InsufficientQuota, with the caller's transaction usable."""
    target = submitted(db, limit=1)[0]
    await allocate(sessions, target.county_code, "10.00")
    await allocate(sessions, CITY_CODE, "10.00")
    before = snapshot(db, [target.code])

    async def blind(*args: Any, **kwargs: Any) -> Decimal:
        return Decimal("1e12")

    monkeypatch.setattr(ledger, "_locked_balance", blind)
    async with sessions() as s, s.begin():
        with pytest.raises(ledger.InsufficientQuota) as refused:
            await debit(s, target.code)
        with pytest.raises(ledger.InsufficientQuota) as pool_refused:
            await ledger.transfer_from_pool(
                s,
                year=YEAR,
                to_holder_code="140521",
                kind=NC,
                amount_m2="10.01",
                actor="a",
                reason="r",
                effective_on=ON,
            )
        await ledger.allocate(
            s,
            year=YEAR,
            holder_code="140521",
            kind=NC,
            amount_m2="1.00",
            actor="a",
            reason="the transaction goes on",
            effective_on=ON,
        )
    for exc, holder, requested in (
        (refused.value, target.county_code, target.amount),
        (pool_refused.value, CITY_CODE, Decimal("10.01")),
    ):
        assert isinstance(exc.__cause__, IntegrityError)
        assert ledger.BALANCE_CHECK in str(exc.__cause__)
        assert (exc.holder_code, exc.balance_m2, exc.requested_m2) == (
            holder,
            Decimal("10.00"),
            requested,
        )
    after = snapshot(db, [target.code])
    assert after["parcels"] == before["parcels"]
    assert after["entries"] == before["entries"] + 1
    assert account(db, "140521") == Decimal("1.00")
    assert_all_balances_are_ledger_sums(db)


async def test_credit_gives_back_exactly_the_demo_debit(
    db: Engine, sessions: SessionFactory
) -> None:
    demo = q(
        db,
        "SELECT p.code, p.county_code, e.amount_m2 FROM parcel p "
        "JOIN land_quota_entry e ON e.parcel_id = p.id AND e.entry_type = 'APPROVAL_DEBIT' "
        "WHERE p.procedure_status = 'APPROVED_UNSUPPLIED' AND e.year = 2024 "
        "AND NOT EXISTS (SELECT 1 FROM land_quota_entry c WHERE c.parcel_id = p.id "
        "                AND c.entry_type = 'WITHDRAWAL_CREDIT') "
        "ORDER BY p.code LIMIT 1",
    )[0]
    start = account(db, demo.county_code, 2024)
    async with sessions() as s:
        with pytest.raises(ledger.NotFound) as wrong_year:  # its debit is in 2024, not 2030
            await credit(s, demo.code)
    assert "2024" in str(wrong_year.value)
    async with sessions() as s, s.begin():
        credit_id = await credit(s, demo.code, year=2024, withdrawn_on=dt.date(2024, 11, 5))
    assert credit_id is not None
    assert entry(db, credit_id).amount_m2 == -demo.amount_m2
    assert account(db, demo.county_code, 2024) == start - demo.amount_m2
    assert parcel(db, demo.code).status == "DOSSIER_PREP"
    assert_all_balances_are_ledger_sums(db)


async def test_credit_refused_without_a_debit(db: Engine, sessions: SessionFactory) -> None:
    # An approval recorded outside the ledger (plain SQL; e.g. approved before the ledger).
    code = submitted(db, limit=1)[0].code
    execute(
        db, "UPDATE parcel SET procedure_status = 'APPROVED_UNSUPPLIED' WHERE code = :c", c=code
    )
    before = snapshot(db, [code])
    async with sessions() as s, s.begin():
        with pytest.raises(ledger.NotFound):
            await credit(s, code)
    assert snapshot(db, [code]) == before


# --------------------------------------------------------------------------- concurrency


def account_lock_sql(holder: str) -> str:
    return (
        "SELECT balance_m2 FROM land_quota_balance WHERE year = 2030 "
        f"AND holder_code = '{holder}' AND kind = 'NEW_CONSTRUCTION' FOR UPDATE"
    )


def debits_of(db: Engine, codes: Sequence[str]) -> dict[str, list[Decimal]]:
    rows = q(
        db,
        "SELECT p.code, e.amount_m2 FROM land_quota_entry e JOIN parcel p ON p.id = e.parcel_id "
        "WHERE p.code = ANY(:c) AND e.year = 2030 AND e.entry_type = 'APPROVAL_DEBIT' ORDER BY e.id",
        c=list(codes),
    )
    out: dict[str, list[Decimal]] = {c: [] for c in codes}
    for code, amount in rows:
        out[code].append(-amount)
    return out


async def test_concurrent_debits_of_equal_parcels_succeed_exactly_as_far_as_the_balance_goes(
    db: Engine, sessions: SessionFactory
) -> None:
    codes, size = equal_parcels(db, CONCURRENT)
    fits = 23
    allocation = fits * size + size - CENT  # one cent short of a 24th parcel
    await allocate(sessions, "140525", allocation)
    before = {c: parcel(db, c) for c in codes}

    outcomes = await race(
        sessions,
        account_lock_sql("140525"),
        [lambda s, c=c: debit(s, c) for c in codes],
        queued=CONCURRENT,
    )

    won = [c for c, o in zip(codes, outcomes, strict=True) if isinstance(o, int)]
    lost = [(c, o) for c, o in zip(codes, outcomes, strict=True) if not isinstance(o, int)]
    print(
        f"\nequal parcels: fired {len(codes)}, succeeded {len(won)}, refused {len(lost)}, "
        f"size {size} m², allocation {allocation} m², final {account(db, '140525')} m²"
    )
    assert len(won) == fits
    assert len(lost) == CONCURRENT - fits
    assert all(isinstance(o, ledger.InsufficientQuota) for _, o in lost)
    assert all(o.requested_m2 == size and o.balance_m2 == size - CENT for _, o in lost)
    assert account(db, "140525") == size - CENT
    debits = debits_of(db, codes)
    assert all(debits[c] == [size] for c in won)
    for c, _ in lost:
        assert debits[c] == []
        assert tuple(parcel(db, c)) == tuple(before[c])
    for c in won:
        after = parcel(db, c)
        assert (after.status, after.version, after.events) == (
            "APPROVED_UNSUPPLIED",
            before[c].version + 1,
            before[c].events + 1,
        )
    assert_all_balances_are_ledger_sums(db)


async def test_concurrent_debits_of_demo_parcels_never_overdraw(
    db: Engine, sessions: SessionFactory
) -> None:
    """Unequal demo parcels: which ones win depends on the order, so the proof is that the
    winners fit, the balance is what they left, and no loser would fit even in what is left."""
    county = q(
        db,
        "SELECT county_code FROM parcel WHERE procedure_status = 'SUBMITTED' "
        "AND round(new_construction_area_m2::numeric, 2) > 0 "
        "GROUP BY county_code ORDER BY count(*) DESC, county_code LIMIT 1",
    )[0][0]
    missing = CONCURRENT - len(submitted(db, limit=CONCURRENT, county=county))
    if missing > 0:
        # Too few SUBMITTED parcels in one county (the seed-2024 demo has 51): move the county's
        # first DOSSIER_PREP parcels, the step just before, to SUBMITTED with plain SQL.
        execute(
            db,
            "UPDATE parcel SET procedure_status = 'SUBMITTED' WHERE code IN ("
            " SELECT code FROM parcel WHERE county_code = :county"
            " AND procedure_status = 'DOSSIER_PREP'"
            " AND round(new_construction_area_m2::numeric, 2) > 0 ORDER BY code LIMIT :n)",
            county=county,
            n=missing,
        )
    targets = submitted(db, limit=CONCURRENT, county=county)
    assert len(targets) == CONCURRENT, f"only {len(targets)} SUBMITTED parcels in {county}"
    amounts = {t.code: t.amount for t in targets}
    allocation = sum(t.amount for t in targets[: len(targets) // 2])
    await allocate(sessions, county, allocation)
    before = {t.code: parcel(db, t.code) for t in targets}

    outcomes = await race(
        sessions,
        account_lock_sql(county),
        [lambda s, c=t.code: debit(s, c) for t in targets],
        queued=len(targets),
    )

    won = [t.code for t, o in zip(targets, outcomes, strict=True) if isinstance(o, int)]
    lost = [(t.code, o) for t, o in zip(targets, outcomes, strict=True) if not isinstance(o, int)]
    final = account(db, county)
    print(
        f"\ndemo parcels in {county}: fired {len(targets)}, succeeded {len(won)}, "
        f"refused {len(lost)}, allocation {allocation} m², final {final} m²"
    )
    assert won and lost
    assert all(isinstance(o, ledger.InsufficientQuota) for _, o in lost)
    spent = sum(amounts[c] for c in won)
    assert spent <= allocation
    assert final == allocation - spent
    assert final >= 0
    # Each refusal saw a balance below its parcel, and balances only fell: none fits even now.
    for c, o in lost:
        assert o.requested_m2 == amounts[c] > o.balance_m2 >= final
    debits = debits_of(db, [t.code for t in targets])
    assert all(debits[c] == [amounts[c]] for c in won)
    for c, _ in lost:
        assert debits[c] == []
        assert tuple(parcel(db, c)) == tuple(before[c])
    assert all(parcel(db, c).status == "APPROVED_UNSUPPLIED" for c in won)
    assert_all_balances_are_ledger_sums(db)


async def test_concurrent_debits_and_credits_keep_the_ledger_consistent(
    db: Engine, sessions: SessionFactory
) -> None:
    codes, size = equal_parcels(db, CONCURRENT)
    approved, pending = codes[:20], codes[20:]
    allocation = 31 * size - CENT
    await allocate(sessions, "140525", allocation)
    for c in approved:
        async with sessions() as s, s.begin():
            await debit(s, c, approved_on=dt.date(2030, 2, 1))
    assert account(db, "140525") == 11 * size - CENT

    # Interleaved: every third write is a withdrawal, so credits and debits queue mixed.
    credits, debits = iter(approved), iter(pending)
    plan = [
        ("credit", next(credits)) if n % 3 == 0 else ("debit", next(debits))
        for n in range(CONCURRENT)
    ]
    writes = [
        (lambda s, c=c: credit(s, c)) if kind == "credit" else (lambda s, c=c: debit(s, c))
        for kind, c in plan
    ]
    outcomes = await race(sessions, account_lock_sql("140525"), writes, queued=CONCURRENT)
    results = {c: o for (_, c), o in zip(plan, outcomes, strict=True)}

    credited = [c for c in approved if isinstance(results[c], int)]
    won = [c for c in pending if isinstance(results[c], int)]
    lost = [results[c] for c in pending if not isinstance(results[c], int)]
    final = account(db, "140525")
    print(
        f"\nmixed: {len(approved)} credits and {len(pending)} debits fired, credits ok "
        f"{len(credited)}, debits ok {len(won)}, refused {len(lost)}, final {final} m²"
    )
    assert credited == approved
    assert all(isinstance(o, ledger.InsufficientQuota) for o in lost)
    assert all(o.balance_m2 < o.requested_m2 == size for o in lost)
    assert 10 <= len(won) <= 30  # 10 fit before any credit, 30 after all of them
    assert final == allocation - len(won) * size >= 0
    statuses = dict(q(db, "SELECT code, procedure_status::text FROM parcel WHERE code LIKE 'LT-%'"))
    assert all(statuses[c] == "DOSSIER_PREP" for c in approved)
    assert {c for c in pending if statuses[c] == "APPROVED_UNSUPPLIED"} == set(won)
    assert all(statuses[c] == "SUBMITTED" for c in pending if c not in won)
    assert_all_balances_are_ledger_sums(db)


async def test_one_parcel_approved_concurrently_is_debited_once(
    db: Engine, sessions: SessionFactory
) -> None:
    target = submitted(db, limit=1)[0]
    await allocate(sessions, target.county_code, "100000000.00")
    outcomes = await race(
        sessions,
        "SELECT id FROM parcel WHERE code = :c FOR UPDATE",
        [lambda s: debit(s, target.code) for _ in range(8)],
        queued=8,
        c=target.code,
    )
    assert sum(isinstance(o, int) for o in outcomes) == 1
    assert all(
        isinstance(o, ledger.InvalidTransition) and o.current.value == "APPROVED_UNSUPPLIED"
        for o in outcomes
        if not isinstance(o, int)
    )
    assert debits_of(db, [target.code])[target.code] == [target.amount]
    assert account(db, target.county_code) == Decimal("100000000.00") - target.amount
