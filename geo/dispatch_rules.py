"""四级调度 Four-level dispatch: the escalation rule and the meeting cadence, in one place.

Source: the policy text (`seed/1355-mechanism.zh.txt`, 实施“四级调度”专项行动):
- 市项目攻坚指挥部办公室常态调度，**每旬**调度一次 … 分级分类建立问题台账，提交分管副市长协调解决
  → COMMAND_OFFICE meets every 旬 (the 1st, 11th and 21st of each month);
- 分管副市长精准调度，**每月**调度一次分管领域项目，职责范围内难以协调的问题，及时提交市政府有关会议
  → VICE_MAYOR monthly;
- 常务副市长专题调度，**每月**调度一次指挥部办公室提交的项目调度清单及事项 → EXECUTIVE_VICE_MAYOR monthly;
- 市长顶格调度，**双月**调度 … 研究需市政府协调解决的重大问题 → MAYOR every two months.
(DESIGN.md §1 says the same: "command-office every ten days → vice-mayor in charge monthly →
executive vice-mayor monthly → mayor bi-monthly". The cadence is the policy's, not weekly /
quarterly.)

The rule:
1. A level's resolution period is one cycle of its meeting: 10 days, 1 month, 1 month,
   2 months (`RESOLUTION_PERIOD`). An issue raised (or escalated) at a level on day S is due
   at S + the period (months: PostgreSQL/`add_months` semantics — 31 Jan + 1 month = the
   last day of February).
2. An unresolved issue (status ≠ RESOLVED) escalates one level ON its due date: on day
   D ≥ due date it moves to the next level, the escalation is dated the due date itself
   (not the day the job ran), and its new due date is the old due date + the new level's
   period. The day before the due date nothing happens; on the due date it escalates.
3. The job `escalate_due(as_of)` applies rule 2 repeatedly in one transaction, so an issue
   long overdue climbs several levels at once, one dated row per level, each dated its
   level's due date — exactly as if the job had run every day. MAYOR is the top: an issue
   there is never escalated further; it stays on the mayor's agenda, overdue.
4. Idempotent: after a run every unresolved issue below MAYOR has a due date after `as_of`,
   so running again with the same (or an earlier) date changes nothing.
5. An issue without a due date never escalates (raiseIssue always sets one by rule 1).

Meetings (`next_meeting`): COMMAND_OFFICE on the 1st, 11th and 21st; VICE_MAYOR and
EXECUTIVE_VICE_MAYOR on the 1st of every month; MAYOR on the 1st of every odd month (Jan,
Mar, May …: 双月). The agenda of a level on a date is for its next meeting on or after it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from geo.enums import DispatchLevel

LEVELS: tuple[DispatchLevel, ...] = (
    DispatchLevel.COMMAND_OFFICE,
    DispatchLevel.VICE_MAYOR,
    DispatchLevel.EXECUTIVE_VICE_MAYOR,
    DispatchLevel.MAYOR,
)
"""Lowest to highest; the database enum has the same order (issue_escalation checks it)."""


@dataclass(frozen=True)
class Period:
    days: int = 0
    months: int = 0

    @property
    def sql_interval(self) -> str:
        return f"interval '{self.months} months {self.days} days'"


RESOLUTION_PERIOD: dict[DispatchLevel, Period] = {
    DispatchLevel.COMMAND_OFFICE: Period(days=10),  # 每旬
    DispatchLevel.VICE_MAYOR: Period(months=1),  # 每月
    DispatchLevel.EXECUTIVE_VICE_MAYOR: Period(months=1),  # 每月
    DispatchLevel.MAYOR: Period(months=2),  # 双月
}

ESCALATE_ON_DUE_DATE = True
"""Escalation happens ON the due date (D ≥ due), not the day after."""


def next_level(level: DispatchLevel) -> DispatchLevel | None:
    i = LEVELS.index(level)
    return LEVELS[i + 1] if i + 1 < len(LEVELS) else None


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_after(level: DispatchLevel, start: dt.date) -> dt.date:
    """The due date of an issue that reaches `level` on `start` (rule 1)."""
    p = RESOLUTION_PERIOD[level]
    return add_months(start, p.months) + dt.timedelta(days=p.days)


def is_due(due_date: dt.date | None, as_of: dt.date) -> bool:
    """Rule 2: escalate on the due date itself."""
    return due_date is not None and due_date <= as_of


def escalation_reason(frm: DispatchLevel, to: DispatchLevel, due: dt.date) -> str:
    return (
        f"{frm.zh}办结时限{due.isoformat()}已到仍未解决，按四级调度提级至{to.zh}; "
        f"unresolved at its {frm.value} due date {due.isoformat()}, escalated to {to.value}"
    )


def next_meeting(level: DispatchLevel, on: dt.date) -> dt.date:
    """The level's next meeting on or after `on` (see the module docstring)."""
    if level is DispatchLevel.COMMAND_OFFICE:
        for d in (1, 11, 21):
            if on.day <= d:
                return on.replace(day=d)
        return add_months(on.replace(day=1), 1)
    first = on if on.day == 1 else add_months(on.replace(day=1), 1)
    if level is DispatchLevel.MAYOR and first.month % 2 == 0:
        first = add_months(first, 1)
    return first
