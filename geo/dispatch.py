"""四级调度 in SQL: the issue ledger (问题台账), the escalation job and the meeting agendas.

Rules (periods, "on the due date", several levels at once, the top level) live in
geo/dispatch_rules.py; this module only turns them into statements:
- `escalate_due`: len(LEVELS) − 1 = 3 statements, always (one level per statement, so an
  issue long overdue climbs up to three levels in one run); each is one UPDATE … RETURNING
  feeding one INSERT into issue_escalation, the rows locked first (FOR UPDATE).
- `agenda_rows`: one statement; the level an issue stood at on a past date and that
  level's due date are rebuilt from the dated escalations (an escalation is dated its
  level's due date, so the next escalation's date *is* the earlier level's due date).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.types import Date

from geo import dispatch_rules as R
from geo.enums import DispatchLevel

DB = AsyncSession | AsyncConnection

_LEVEL_ZH = ", ".join(f"('{lv.value}', '{lv.zh}')" for lv in R.LEVELS)
_NEXT = " ".join(
    f"WHEN '{lv.value}' THEN CAST('{nxt.value}' AS dispatch_level)"
    for lv in R.LEVELS
    if (nxt := R.next_level(lv)) is not None
)
_PERIOD = " ".join(
    f"WHEN '{nxt.value}' THEN {R.RESOLUTION_PERIOD[nxt].sql_interval}"
    for lv in R.LEVELS
    if (nxt := R.next_level(lv)) is not None
)
_TOP = R.LEVELS[-1].value

ESCALATE_STEP = text(f"""
WITH due AS (
    SELECT id, level, due_date FROM project_issue
     WHERE status <> 'RESOLVED' AND level <> '{_TOP}' AND due_date IS NOT NULL AND due_date <= :d
     ORDER BY id
       FOR UPDATE
),
moved AS (
    UPDATE project_issue i
       SET level = CASE d.level {_NEXT} END,
           due_date = CAST(d.due_date + CASE CAST(CASE d.level {_NEXT} END AS text) {_PERIOD} END AS date)
      FROM due d
     WHERE i.id = d.id
 RETURNING i.id, i.code, d.level AS from_level, i.level AS to_level, d.due_date AS on_date,
           i.due_date AS new_due
),
ins AS (
    INSERT INTO issue_escalation (issue_id, from_level, to_level, escalated_on, reason)
    SELECT m.id, m.from_level, m.to_level, m.on_date,
           f.zh || '办结时限' || to_char(m.on_date, 'YYYY-MM-DD') || '已到仍未解决，按四级调度提级至' || t.zh
           || '; unresolved at its ' || m.from_level || ' due date ' || to_char(m.on_date, 'YYYY-MM-DD')
           || ', escalated to ' || m.to_level
      FROM moved m
      JOIN (VALUES {_LEVEL_ZH}) f(level, zh) ON f.level = CAST(m.from_level AS text)
      JOIN (VALUES {_LEVEL_ZH}) t(level, zh) ON t.level = CAST(m.to_level AS text)
 RETURNING issue_id, from_level, to_level, escalated_on, reason
)
SELECT m.code, ins.from_level, ins.to_level, ins.escalated_on, ins.reason, m.new_due
  FROM ins JOIN moved m ON m.id = ins.issue_id
 ORDER BY ins.escalated_on, m.code""").bindparams(bindparam("d", type_=Date))


async def escalate_due(session: AsyncSession, as_of: dt.date) -> list[Any]:
    """Escalate every unresolved issue whose due date is on or before `as_of` (rules 2–4 of
    geo/dispatch_rules.py). Runs inside the caller's transaction; returns the escalations
    made, in date order. Always exactly len(LEVELS) − 1 statements."""
    out: list[Any] = []
    for _ in range(len(R.LEVELS) - 1):
        out.extend((await session.execute(ESCALATE_STEP, {"d": as_of})).all())
    out.sort(key=lambda r: (r.code, r.escalated_on))
    return out


ISSUE_COLUMNS = """
    q.id, q.code, p.code AS project_code, p.name AS project_name, p.county_code, p.is_key,
    q.category, q.title, q.description, q.level, q.status, q.raised_on, q.due_date,
    q.resolved_on, q.version,
    coalesce((SELECT jsonb_agg(jsonb_build_object('from_level', e.from_level, 'to_level', e.to_level,
                                                  'escalated_on', e.escalated_on, 'reason', e.reason)
                               ORDER BY e.escalated_on, e.id)
                FROM issue_escalation e WHERE e.issue_id = q.id), '[]'::jsonb) AS escalations"""

ISSUE_BY_CODE = text(
    f"SELECT {ISSUE_COLUMNS} FROM project_issue q JOIN project p ON p.id = q.project_id "
    "WHERE q.code = :code"
).bindparams(bindparam("code", type_=String))


async def issue_row(db: DB, code: str) -> Any | None:
    return (await db.execute(ISSUE_BY_CODE, {"code": code})).one_or_none()


AGENDA = text(f"""
SELECT x.* FROM (
    SELECT {ISSUE_COLUMNS},
           coalesce((SELECT e.to_level FROM issue_escalation e
                      WHERE e.issue_id = q.id AND e.escalated_on <= :d
                      ORDER BY e.escalated_on DESC, e.id DESC LIMIT 1),
                    (SELECT e.from_level FROM issue_escalation e
                      WHERE e.issue_id = q.id ORDER BY e.escalated_on, e.id LIMIT 1),
                    q.level) AS level_on,
           coalesce((SELECT min(e.escalated_on) FROM issue_escalation e
                      WHERE e.issue_id = q.id AND e.escalated_on > :d), q.due_date) AS due_on
      FROM project_issue q JOIN project p ON p.id = q.project_id
     WHERE q.raised_on <= :d AND (q.resolved_on IS NULL OR q.resolved_on > :d)
       AND (CAST(:county AS varchar) IS NULL OR p.county_code = :county)
) x
 WHERE CAST(x.level_on AS text) = :level
 ORDER BY (x.due_on < :d) DESC, x.due_on NULLS LAST, x.code""").bindparams(
    bindparam("d", type_=Date), bindparam("level", type_=String), bindparam("county", type_=String)
)


async def agenda_rows(
    db: DB, *, level: DispatchLevel, on: dt.date, county: str | None = None
) -> Sequence[Any]:
    """Issues open on `on` standing at `level` that day: overdue (their level's due date
    before `on`) first, then by due date, then code. One statement."""
    params = {"d": on, "level": level.value, "county": county}
    return (await db.execute(AGENDA, params)).all()


PROJECT_FOR_ISSUE = text(
    "SELECT p.id, p.code, p.county_code, "
    "(SELECT coalesce(max(CAST(substring(q.code FROM '-Q([0-9]+)$') AS int)), 0) "
    "   FROM project_issue q WHERE q.project_id = p.id) AS last_no "
    "FROM project p WHERE p.code = :code"
).bindparams(bindparam("code", type_=String))

INSERT_ISSUE = text(
    "INSERT INTO project_issue (code, project_id, category, title, description, level, status, "
    "raised_on, due_date) VALUES (:code, :project_id, CAST(:category AS issue_category), :title, "
    ":description, CAST(:level AS dispatch_level), 'OPEN', :raised_on, :due_date) RETURNING code"
).bindparams(bindparam("raised_on", type_=Date), bindparam("due_date", type_=Date))

UPDATE_ISSUE = text(
    "UPDATE project_issue SET title = coalesce(:title, title), "
    "description = CASE WHEN CAST(:set_description AS boolean) THEN :description ELSE description END, "
    "category = coalesce(CAST(:category AS issue_category), category), "
    "status = coalesce(CAST(:status AS issue_status), status), "
    "due_date = coalesce(:due_date, due_date), resolved_on = :resolved_on, updated_at = now() "
    "WHERE code = :code AND version = :version RETURNING code"
).bindparams(
    bindparam("due_date", type_=Date),
    bindparam("resolved_on", type_=Date),
    bindparam("title", type_=String),
    bindparam("description", type_=String),
    bindparam("category", type_=String),
    bindparam("status", type_=String),
)

ISSUE_STATE = text(
    "SELECT q.version, q.status, q.raised_on, q.resolved_on, p.county_code FROM project_issue q "
    "JOIN project p ON p.id = q.project_id WHERE q.code = :code"
).bindparams(bindparam("code", type_=String))
