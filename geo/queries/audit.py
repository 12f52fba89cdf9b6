"""审计日志 Reading the audit trail (migration 0004's audit_log), newest first.

One object's history is its rows with (table_name, object_code) — the index
audit_log_object_idx serves the newest-first walk. Pages are keyset pages on
(occurred_at, id), so a row written while a client pages never shifts the next page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from geo.models import AuditLog

AUDITED_TABLES = (
    "project",
    "parcel",
    "project_parcel",
    "land_quota_entry",
    "approval_item",
    "project_issue",
)
"""Tables with audit triggers; object_code of project_parcel rows is the project's code,
of land_quota_entry rows `year/holder/kind`."""

BOOKKEEPING = frozenset({"version", "updated_at"})
"""Columns every UPDATE changes by trigger: not reported as changed fields."""


def _filtered(table: str, code: str) -> Any:
    return select(
        AuditLog.id,
        AuditLog.occurred_at,
        AuditLog.actor_sub,
        AuditLog.actor_role,
        AuditLog.request_id,
        AuditLog.county_code,
        AuditLog.table_name,
        AuditLog.object_code,
        AuditLog.action,
        AuditLog.before,
        AuditLog.after,
    ).where(AuditLog.table_name == table, AuditLog.object_code == code)


async def audit_trail(
    session: AsyncSession,
    *,
    table: str,
    code: str,
    after: tuple[dt.datetime, int] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """Up to limit + 1 rows (the extra one says whether a next page exists)."""
    stmt = _filtered(table, code)
    if after is not None:
        stmt = stmt.where(tuple_(AuditLog.occurred_at, AuditLog.id) < tuple_(*after))
    stmt = stmt.order_by(AuditLog.occurred_at.desc(), AuditLog.id.desc()).limit(limit + 1)
    return (await session.execute(stmt)).all()


async def count_audit_trail(session: AsyncSession, *, table: str, code: str) -> int:
    stmt = select(func.count()).select_from(_filtered(table, code).subquery())
    return int((await session.execute(stmt)).scalar_one())


def changed_fields(
    action: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[str]:
    """Column names the write changed, sorted: on UPDATE those whose value differs
    (bookkeeping columns aside); on INSERT/DELETE those with a value."""
    if action == "UPDATE" and before is not None and after is not None:
        keys = set(before) | set(after)
        return sorted(k for k in keys - BOOKKEEPING if before.get(k) != after.get(k))
    image = after if action == "INSERT" else before
    return sorted(k for k, v in (image or {}).items() if v is not None)
