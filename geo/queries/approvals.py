"""Approval items (审批事项). Overdue is derived against an as-of date, never stored."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, Row, Select, and_, bindparam, case, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.enums import ApprovalItemType, ApprovalStatus, HandlingLevel
from geo.models import ApprovalItem, Project
from geo.queries import paging


@dataclass(frozen=True)
class ApprovalItemFilter:
    project_code: str | None = None
    county_code: str | None = None
    status: ApprovalStatus | None = None
    handling_level: HandlingLevel | None = None
    item_type: ApprovalItemType | None = None
    overdue: bool | None = None


def _overdue(as_of: Any) -> Any:
    return and_(
        ApprovalItem.status != ApprovalStatus.COMPLETED,
        ApprovalItem.deadline.is_not(None),
        ApprovalItem.deadline < as_of,
    )


def _base(as_of: Any) -> Select[Any]:
    """`as_of` is a literal date or a bind parameter (prebuilt statements)."""
    overdue = _overdue(as_of)
    return select(
        ApprovalItem.id,
        ApprovalItem.code,
        ApprovalItem.project_id,
        ApprovalItem.item_type,
        ApprovalItem.name,
        ApprovalItem.handling_level,
        ApprovalItem.measures,
        ApprovalItem.deadline,
        ApprovalItem.leader,
        ApprovalItem.handler,
        ApprovalItem.handler_phone,
        ApprovalItem.status,
        ApprovalItem.started_on,
        ApprovalItem.completed_on,
        ApprovalItem.version,
        overdue.label("overdue"),
        case((overdue, as_of - ApprovalItem.deadline), else_=0).label("days_overdue"),
    )


def _filtered(f: ApprovalItemFilter, as_of: dt.date) -> Select[Any]:
    stmt = _base(literal(as_of, Date))
    if f.project_code is not None or f.county_code is not None:
        stmt = stmt.join(Project, Project.id == ApprovalItem.project_id)
        if f.project_code is not None:
            stmt = stmt.where(Project.code == f.project_code)
        if f.county_code is not None:
            stmt = stmt.where(Project.county_code == f.county_code)
    if f.status is not None:
        stmt = stmt.where(ApprovalItem.status == f.status)
    if f.handling_level is not None:
        stmt = stmt.where(ApprovalItem.handling_level == f.handling_level)
    if f.item_type is not None:
        stmt = stmt.where(ApprovalItem.item_type == f.item_type)
    if f.overdue is not None:
        overdue = _overdue(literal(as_of, Date))
        stmt = stmt.where(overdue if f.overdue else ~overdue)
    return stmt


async def list_approval_items(
    session: AsyncSession,
    *,
    filter: ApprovalItemFilter,
    as_of: dt.date,
    after: str | None,
    limit: int,
) -> Sequence[Row[Any]]:
    stmt = _filtered(filter, as_of)
    return await paging.fetch_page(session, stmt, key=ApprovalItem.code, after=after, limit=limit)


async def count_approval_items(
    session: AsyncSession, *, filter: ApprovalItemFilter, as_of: dt.date
) -> int:
    return await paging.count(session, _filtered(filter, as_of))


async def approval_items_by_project(
    session: AsyncSession, project_ids: Sequence[int], *, as_of: dt.date
) -> dict[int, list[Row[Any]]]:
    params = {"ids": list(project_ids), "as_of": as_of}
    grouped: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in (await session.execute(_BY_PROJECT, params)).all():
        grouped[row.project_id].append(row)
    return grouped


# Built once: DataLoader batches reuse the statement (and its compiled form).
_BY_PROJECT = (
    _base(bindparam("as_of", type_=Date))
    .where(ApprovalItem.project_id.in_(bindparam("ids", expanding=True)))
    .order_by(ApprovalItem.project_id, ApprovalItem.code)
)


async def approval_item_by_code(
    session: AsyncSession, code: str, *, as_of: dt.date
) -> Row[Any] | None:
    """One item with its overdue figures as of `as_of` (a mutation's answer)."""
    stmt = _base(literal(as_of, Date)).where(ApprovalItem.code == code)
    return (await session.execute(stmt)).first()
