"""Keyset pagination on a unique, stable code column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement


async def fetch_page(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    key: ColumnElement[Any],
    after: str | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """Rows after the key `after`, ordered by key; one extra row tells if more follow."""
    if after is not None:
        stmt = stmt.where(key > after)
    result = await session.execute(stmt.order_by(key).limit(limit + 1))
    return result.all()


async def count(session: AsyncSession, stmt: Select[Any]) -> int:
    """Total rows the (unpaged) statement matches."""
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return int(total or 0)
