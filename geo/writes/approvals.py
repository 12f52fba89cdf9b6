"""审批事项 Approval-item writes: create, and update status, deadline, handler and leader.

An item belongs to a project and so to the project's county (row-level security of
migration 0004 checks it through the project). Status moves along

    未启动 NOT_STARTED → 办理中 IN_PROGRESS → 已办结 COMPLETED
    NOT_STARTED / IN_PROGRESS → 受阻 BLOCKED → IN_PROGRESS (unblocked)

each change dated (`statusDate`, not in the future): entering IN_PROGRESS the first time
sets `started_on`, COMPLETED sets `completed_on` (not before `started_on`). COMPLETED is
final: a completed approval is a legal fact; a new item is raised if it has to be redone.
Updates are optimistic like projects (row lock, version compare, StaleVersion).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from geo.enums import ApprovalItemType, ApprovalStatus, HandlingLevel
from geo.models import ApprovalItem, Project
from geo.writes.project_errors import (
    DuplicateCode,
    InvalidInput,
    InvalidTransition,
    NotFound,
    StaleVersion,
    translate,
)

CODE_MAX = 48
S = ApprovalStatus
TRANSITIONS: dict[ApprovalStatus, tuple[ApprovalStatus, ...]] = {
    S.NOT_STARTED: (S.IN_PROGRESS, S.BLOCKED),
    S.IN_PROGRESS: (S.COMPLETED, S.BLOCKED),
    S.BLOCKED: (S.IN_PROGRESS,),
    S.COMPLETED: (),
}
"""Allowed status moves. Sending the current status again is no move (nothing changes
for it; other fields in the same update still apply)."""
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,19}$")
TEXT_FIELDS = ("name", "measures", "leader", "handler")
EDITABLE = ("name", "handling_level", "measures", "deadline", "leader", "handler", "handler_phone")

APPROVAL_CONSTRAINTS = {
    "approval_item_name_check": InvalidInput([("name", "事项名称不能为空 name must not be blank")]),
    "approval_item_check": InvalidInput(
        [("status", "completedOn is set exactly when the item is COMPLETED")]
    ),
    "approval_item_check1": InvalidInput(
        [("statusDate", "办结日期早于开始日期 completedOn is before startedOn")]
    ),
}


def _check_fields(values: dict[str, Any]) -> None:
    problems: list[tuple[str, str]] = []
    if "name" in values and (values["name"] is None or not values["name"].strip()):
        problems.append(("name", "事项名称不能为空 name must not be blank"))
    if "handling_level" in values and values["handling_level"] is None:
        problems.append(("handlingLevel", "办理层级不能为空 handlingLevel cannot be cleared"))
    for name in TEXT_FIELDS:
        text = values.get(name)
        if text is not None and len(text) > 500:
            problems.append((name, f"{name}: at most 500 characters"))
    phone = values.get("handler_phone")
    if phone is not None and not PHONE.match(phone):
        problems.append(
            ("handlerPhone", f"电话号码格式不对 handlerPhone {phone!r} is not a phone number")
        )
    if problems:
        raise InvalidInput(problems)


async def _next_code(session: AsyncSession, project_id: int, project_code: str) -> str:
    """<project code>-A<nn>, the first free number (the demo set's numbering)."""
    codes = set(
        (
            await session.execute(
                select(ApprovalItem.code).where(ApprovalItem.project_id == project_id)
            )
        ).scalars()
    )
    n = len(codes) + 1
    while f"{project_code}-A{n:02d}" in codes:
        n += 1
    return f"{project_code}-A{n:02d}"


async def create_approval_item(
    session: AsyncSession,
    *,
    project_code: str,
    code: str | None,
    item_type: ApprovalItemType,
    name: str,
    handling_level: HandlingLevel,
    measures: str | None = None,
    deadline: dt.date | None = None,
    leader: str | None = None,
    handler: str | None = None,
    handler_phone: str | None = None,
) -> int:
    """Insert a NOT_STARTED item of the project; `code` None numbers it after the
    project's code. Returns its id."""
    values = {
        "name": name,
        "handling_level": handling_level,
        "measures": measures,
        "deadline": deadline,
        "leader": leader,
        "handler": handler,
        "handler_phone": handler_phone,
    }
    _check_fields(values)
    if code is not None and (not code or len(code) > CODE_MAX or any(c.isspace() for c in code)):
        raise InvalidInput([("code", f"事项代码须为 1–{CODE_MAX} 个字符且不含空格")])
    # the project row lock serialises numbering within one project
    stmt = select(Project.id).where(Project.code == project_code).with_for_update(key_share=True)
    project_id = (await session.execute(stmt)).scalar()
    if project_id is None:
        raise NotFound("project", project_code, "projectCode")
    code = code or await _next_code(session, project_id, project_code)
    taken = await session.execute(select(ApprovalItem.id).where(ApprovalItem.code == code))
    if taken.first() is not None:
        raise DuplicateCode("approval_item", code)
    constraints = {
        **APPROVAL_CONSTRAINTS,
        "approval_item_code_key": DuplicateCode("approval_item", code),
    }
    with translate(constraints):
        async with session.begin_nested():
            new_id: int = (
                await session.execute(
                    insert(ApprovalItem)
                    .values(
                        code=code,
                        project_id=project_id,
                        item_type=item_type,
                        status=ApprovalStatus.NOT_STARTED,
                        **values,
                    )
                    .returning(ApprovalItem.id)
                )
            ).scalar_one()
    return new_id


async def approval_item_county(session: AsyncSession, code: str) -> str | None:
    """The county that owns the item (its project's), for the permission check."""
    stmt = (
        select(Project.county_code)
        .join(ApprovalItem, ApprovalItem.project_id == Project.id)
        .where(ApprovalItem.code == code)
    )
    return (await session.execute(stmt)).scalar()


async def update_approval_item(
    session: AsyncSession,
    *,
    code: str,
    version: int,
    values: dict[str, Any],
    status: ApprovalStatus | None,
    status_date: dt.date,
    today: dt.date,
) -> int:
    """Change the given fields and/or move the status; returns the item id."""
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise InvalidInput([(sorted(unknown)[0], f"not editable: {sorted(unknown)}")])
    _check_fields(values)
    stmt = select(ApprovalItem).where(ApprovalItem.code == code).with_for_update(key_share=True)
    current = (await session.execute(stmt)).scalar_one_or_none()
    if current is None:
        raise NotFound("approval_item", code, "code")
    if current.version != version:
        raise StaleVersion("approval_item", code, version, current.version)
    changes = dict(values)
    if status is not None and status != current.status:
        allowed = TRANSITIONS[current.status]
        if status not in allowed:
            why = (
                "已办结事项不能再变更 a COMPLETED item is final"
                if current.status == S.COMPLETED
                else "不在允许的状态变更之列 not an allowed move"
            )
            raise InvalidTransition(
                current.status.value, status.value, [s.value for s in allowed], why, "status"
            )
        if status_date > today:
            raise InvalidInput(
                [("statusDate", f"日期不能晚于今天 statusDate {status_date} is after {today}")]
            )
        changes["status"] = status
        if status == S.IN_PROGRESS and current.started_on is None:
            changes["started_on"] = status_date
        if status == S.COMPLETED:
            started = current.started_on
            if started is not None and status_date < started:
                raise InvalidInput(
                    [
                        (
                            "statusDate",
                            f"办结日期早于开始日期 statusDate is before startedOn {started}",
                        )
                    ]
                )
            changes["completed_on"] = status_date
    if not changes:
        raise InvalidInput(
            [("input", "没有要修改的字段 nothing to change: give at least one field")]
        )
    with translate(APPROVAL_CONSTRAINTS):
        async with session.begin_nested():
            await session.execute(
                update(ApprovalItem)
                .where(ApprovalItem.id == current.id, ApprovalItem.version == version)
                .values(**changes)
            )
    return int(current.id)
