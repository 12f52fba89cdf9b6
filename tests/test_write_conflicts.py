"""A real deadlock from PostgreSQL reaches the client as a typed, retryable error.

Two transactions lock two parcels in opposite orders; PostgreSQL aborts one of them
(SQLSTATE 40P01). The exception the driver raised is then passed through the error policy
exactly as a resolver's failure would be: the client sees WRITE_CONFLICT with
`retryable: true`, no SQL and no driver text.
"""

from __future__ import annotations

import threading
from typing import Any

from graphql import GraphQLError
from sqlalchemy import create_engine, text

from schema import error_policy


def test_deadlock_becomes_a_retryable_write_conflict(fresh_db_url: str) -> None:
    engine = create_engine(fresh_db_url)
    with engine.connect() as conn:
        a, b = conn.execute(text("SELECT id FROM parcel ORDER BY id LIMIT 2")).scalars().all()
    both_locked_first = threading.Barrier(2, timeout=10)
    failures: list[BaseException] = []

    def writer(first: int, second: int) -> None:
        try:
            with engine.begin() as conn:
                conn.execute(text("SELECT 1 FROM parcel WHERE id = :i FOR UPDATE"), {"i": first})
                both_locked_first.wait()
                conn.execute(text("SELECT 1 FROM parcel WHERE id = :i FOR UPDATE"), {"i": second})
        except Exception as exc:  # the one PostgreSQL chose to abort
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=p) for p in ((a, b), (b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    engine.dispose()
    assert len(failures) == 1, failures
    assert error_policy._sqlstate(failures[0]) == "40P01"

    wrapped = GraphQLError("boom", path=["updateParcel"], original_error=failures[0])
    out: Any = error_policy.classify(wrapped, "req-42")
    assert out.extensions == {"code": "WRITE_CONFLICT", "retryable": True, "requestId": "req-42"}
    assert "deadlock" in out.message and "req-42" in out.message
    assert "SELECT" not in out.message and "FOR UPDATE" not in out.message
