"""项目用地 Linking parcels to projects: a parcel serves at most one active project.

The rule lives in the database as the unique partial index `project_parcel_one_active`
(migration 0001). The pre-check below gives the usual answer; when two links of the same
parcel race, the second INSERT waits on the first one's index entry and then fails with a
unique violation, which is turned into the same ParcelAlreadyLinked refusal naming the
project that won (read after the failure, so it sees the winner's commit). The savepoint
keeps the caller's transaction usable for that read.

Links are dated and never deleted: unlinking sets `unlinked_on` (not before `linked_on`,
not in the future) and the reason (migration 0005). Migration 0003's triggers move the
county's land demand with every link and unlink.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from geo.models import Parcel, Project, ProjectParcel
from geo.writes.project_errors import InvalidInput, NotFound, ParcelAlreadyLinked, translate

ONE_ACTIVE = "project_parcel_one_active"


async def _id(session: AsyncSession, model: Any, code: str, field: str) -> int:
    found = (await session.execute(select(model.id).where(model.code == code))).scalar()
    if found is None:
        raise NotFound(model.__tablename__, code, field)
    return int(found)


async def _active_project_code(session: AsyncSession, parcel_id: int) -> str | None:
    stmt = (
        select(Project.code)
        .join(ProjectParcel, ProjectParcel.project_id == Project.id)
        .where(ProjectParcel.parcel_id == parcel_id, ProjectParcel.unlinked_on.is_(None))
    )
    return (await session.execute(stmt)).scalar()


def _check_date(value: dt.date, today: dt.date, field: str) -> None:
    if value > today:
        raise InvalidInput([(field, f"日期不能晚于今天 {field} {value} is after {today}")])


async def link_parcel(
    session: AsyncSession,
    *,
    project_code: str,
    parcel_code: str,
    linked_on: dt.date,
    today: dt.date,
) -> tuple[int, int]:
    """Link the parcel to the project from `linked_on`; returns (project id, parcel id)."""
    _check_date(linked_on, today, "linkedOn")
    project_id = await _id(session, Project, project_code, "projectCode")
    parcel_id = await _id(session, Parcel, parcel_code, "parcelCode")
    other = await _active_project_code(session, parcel_id)
    if other is not None:
        raise ParcelAlreadyLinked(parcel_code, other)
    try:
        with translate({}):
            async with session.begin_nested():
                await session.execute(
                    insert(ProjectParcel).values(
                        project_id=project_id, parcel_id=parcel_id, linked_on=linked_on
                    )
                )
    except IntegrityError as exc:
        if getattr(getattr(exc.orig, "diag", None), "constraint_name", None) != ONE_ACTIVE:
            raise
        winner = await _active_project_code(session, parcel_id)
        raise ParcelAlreadyLinked(parcel_code, winner or "?") from exc
    return project_id, parcel_id


async def unlink_parcel(
    session: AsyncSession,
    *,
    project_code: str,
    parcel_code: str,
    unlinked_on: dt.date,
    reason: str,
    today: dt.date,
) -> tuple[int, int]:
    """End the parcel's active link to the project; returns (project id, parcel id)."""
    problems: list[tuple[str, str]] = []
    if not reason or not reason.strip():
        problems.append(("reason", "须说明解除原因 reason must not be blank"))
    if unlinked_on > today:
        problems.append(
            ("unlinkedOn", f"日期不能晚于今天 unlinkedOn {unlinked_on} is after {today}")
        )
    if problems:
        raise InvalidInput(problems)
    project_id = await _id(session, Project, project_code, "projectCode")
    parcel_id = await _id(session, Parcel, parcel_code, "parcelCode")
    stmt = (
        select(ProjectParcel.id, ProjectParcel.linked_on)
        .where(
            ProjectParcel.project_id == project_id,
            ProjectParcel.parcel_id == parcel_id,
            ProjectParcel.unlinked_on.is_(None),
        )
        .with_for_update()
    )
    link = (await session.execute(stmt)).first()
    if link is None:
        raise NotFound("project_parcel", f"{project_code}/{parcel_code}", "parcelCode")
    if unlinked_on < link.linked_on:
        raise InvalidInput(
            [("unlinkedOn", f"解除日期早于关联日期 unlinkedOn is before linkedOn {link.linked_on}")]
        )
    refusal = InvalidInput([("unlinkedOn", "unlinkedOn is before linkedOn")])
    with translate({"project_parcel_check": refusal}):
        async with session.begin_nested():
            await session.execute(
                update(ProjectParcel)
                .where(ProjectParcel.id == link.id)
                .values(unlinked_on=unlinked_on, unlink_reason=reason.strip())
            )
    return project_id, parcel_id
