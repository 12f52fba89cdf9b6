"""专班清单 Task-force lists and the monthly bulletin's figures, in SQL.

- 前期手续 (pre-construction procedures task force, "一周一调度、半月一会商、一月一通报"): the
  approval-item list with handling level, measures, deadline, leader, handler and status,
  per project and per county, with the counts overdue and due this week. "This week" is
  the ISO week (Monday–Sunday) of the as-of date D; due this week = not completed and
  D ≤ deadline ≤ that Sunday; overdue = not completed and deadline < D (as ApprovalItem).
- 用地保障 (land guarantee task force, "建立项目用地需求和问题清单 … 每季度召开一次项目用地专题会"):
  every key project with unmet land need (demand − county cover > 0, from
  geo/guarantee.project_rows: the cover is never recomputed here), a 三区三线 conflict, a
  parcel outside the urban development boundary, or an open LAND issue (问题台账), grouped
  by county for the quarterly land meeting.
- 通报 (monthly bulletin): per county, key projects' investment progress against 时序进度
  (the INVESTMENT_LAG rule's month M and formulas, geo/warning_rules.py), warnings by
  severity (geo/warnings.py), overdue approval items and overdue issues.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, String, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.types import Date, SmallInteger

from geo import guarantee
from geo.guarantee_rules import QUOTA_TOLERANCE_M2
from geo.warnings import ranked_sql

DB = AsyncSession | AsyncConnection


def week_of(day: dt.date) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of the ISO week of `day`."""
    monday = day - dt.timedelta(days=day.isoweekday() - 1)
    return monday, monday + dt.timedelta(days=6)


_APPROVAL_WHERE = """
 WHERE (CAST(:county AS varchar) IS NULL OR p.county_code = :county)
   AND (CAST(:project AS varchar) IS NULL OR p.code = :project)"""

APPROVAL_ITEMS = text(f"""
SELECT a.code, a.name, a.item_type, a.handling_level, a.measures, a.deadline, a.leader, a.handler,
       a.status, p.code AS project_code, p.name AS project_name, p.county_code, c.name AS county_name,
       (a.status <> 'COMPLETED' AND a.deadline < :d) AS overdue,
       (a.status <> 'COMPLETED' AND a.deadline BETWEEN :d AND :week_end) AS due_this_week,
       CASE WHEN a.status <> 'COMPLETED' AND a.deadline < :d THEN :d - a.deadline ELSE 0 END AS days_overdue
  FROM approval_item a
  JOIN project p ON p.id = a.project_id
  JOIN admin_area c ON c.code = p.county_code
  {_APPROVAL_WHERE}
   AND (NOT CAST(:only_open AS boolean) OR a.status <> 'COMPLETED')
   AND (NOT CAST(:only_urgent AS boolean)
        OR (a.status <> 'COMPLETED' AND a.deadline <= :week_end))
 ORDER BY p.county_code, p.code, a.deadline NULLS LAST, a.code
 LIMIT :limit""").bindparams(
    bindparam("d", type_=Date),
    bindparam("week_end", type_=Date),
    bindparam("county", type_=String),
    bindparam("project", type_=String),
    bindparam("limit", type_=Integer),
)

APPROVAL_TALLIES = text(f"""
SELECT p.county_code, c.name AS county_name, p.code AS project_code, p.name AS project_name,
       GROUPING(p.code, p.name) = 3 AS county_total,
       count(*) AS total,
       count(*) FILTER (WHERE a.status <> 'COMPLETED') AS open,
       count(*) FILTER (WHERE a.status = 'COMPLETED') AS completed,
       count(*) FILTER (WHERE a.status = 'BLOCKED') AS blocked,
       count(*) FILTER (WHERE a.status <> 'COMPLETED' AND a.deadline < :d) AS overdue,
       count(*) FILTER (WHERE a.status <> 'COMPLETED' AND a.deadline BETWEEN :d AND :week_end)
           AS due_this_week
  FROM approval_item a
  JOIN project p ON p.id = a.project_id
  JOIN admin_area c ON c.code = p.county_code
  {_APPROVAL_WHERE}
 GROUP BY GROUPING SETS ((p.county_code, c.name), (p.county_code, c.name, p.code, p.name))
 ORDER BY p.county_code, GROUPING(p.code, p.name) DESC, p.code""").bindparams(
    bindparam("d", type_=Date),
    bindparam("week_end", type_=Date),
    bindparam("county", type_=String),
    bindparam("project", type_=String),
)


async def approval_list(
    db: DB,
    *,
    as_of: dt.date,
    county: str | None = None,
    project: str | None = None,
    only_open: bool = True,
    only_urgent: bool = False,
    limit: int | None = None,
) -> tuple[Sequence[Any], Sequence[Any]]:
    """(items, tallies): two statements. Tallies: one row per county (`county_total`) and
    one per project, counts over all the project's items."""
    _, sunday = week_of(as_of)
    base = {"d": as_of, "week_end": sunday, "county": county, "project": project}
    items = (
        await db.execute(
            APPROVAL_ITEMS,
            {**base, "only_open": only_open, "only_urgent": only_urgent, "limit": limit},
        )
    ).all()
    tallies = (await db.execute(APPROVAL_TALLIES, base)).all()
    return items, tallies


LAND_ISSUES = text("""
SELECT p.id AS project_id, p.code, p.name, p.county_code, p.is_key, p.planned_start,
       count(*) AS open_land_issues, string_agg(q.title, '；' ORDER BY q.code) AS issue_titles
  FROM project_issue q JOIN project p ON p.id = q.project_id
 WHERE q.category = 'LAND' AND q.status <> 'RESOLVED' AND p.is_key
   AND (CAST(:county AS varchar) IS NULL OR p.county_code = :county)
 GROUP BY p.id
 ORDER BY p.code""").bindparams(bindparam("county", type_=String))

COUNTY_NAMES = text(
    "SELECT code, name FROM admin_area WHERE kind IN ('DISTRICT', 'COUNTY', 'COUNTY_CITY') "
    "ORDER BY code"
)


@dataclass
class LandEntry:
    project_code: str
    project_name: str
    county_code: str
    tier: int | None
    planned_start: dt.date | None
    demand_m2: float = 0.0
    covered_m2: float = 0.0
    unmet_m2: float = 0.0
    conflict: bool = False
    farmland_m2: float = 0.0
    redline_m2: float = 0.0
    outside_urban_parcels: int = 0
    open_land_issues: int = 0
    issue_titles: str | None = None

    @property
    def problems(self) -> list[str]:
        """The reasons the project is on the list, in Chinese (the bulletin's 问题 column)."""
        out = []
        if self.unmet_m2 > QUOTA_TOLERANCE_M2:
            out.append("指标缺口")
        if self.conflict:
            out.append("三区三线冲突")
        if self.outside_urban_parcels:
            out.append("城镇开发边界外")
        if self.open_land_issues:
            out.append("用地问题未解决")
        return out


@dataclass
class CountyLand:
    county_code: str
    county_name: str
    remaining_m2: float
    entries: list[LandEntry] = field(default_factory=list)


async def land_list(db: DB, *, year: int, county: str | None = None) -> list[CountyLand]:
    """用地需求和问题清单 grouped by county (three statements: the guarantee's project rows
    and county rows — current state — and the open LAND issues)."""
    rows = await guarantee.project_rows(db, year=year, as_of=None, county=county)  # type: ignore[arg-type]
    counties = await guarantee.county_rows(db, year=year, as_of=None, county=county)  # type: ignore[arg-type]
    issues = (await db.execute(LAND_ISSUES, {"county": county})).all()
    names = {r.code: r.name for r in (await db.execute(COUNTY_NAMES)).all()}
    groups = {
        c.county_code: CountyLand(c.county_code, names.get(c.county_code, ""), float(c.remaining))
        for c in counties
    }
    entries: dict[str, LandEntry] = {}
    for r in rows:
        if not r.is_key:
            continue
        unmet = float(r.demand - r.covered)
        if not (unmet > QUOTA_TOLERANCE_M2 or r.conflict or r.outside_urban_parcels):
            continue
        e = entries.setdefault(
            r.code, LandEntry(r.code, r.name, r.county_code, r.tier, r.planned_start)
        )
        e.demand_m2 += float(r.demand)
        e.covered_m2 += float(r.covered)
        e.unmet_m2 += unmet
        e.conflict = e.conflict or bool(r.conflict)
        e.farmland_m2 += float(r.farmland_m2 or 0)
        e.redline_m2 += float(r.redline_m2 or 0)
        e.outside_urban_parcels += int(r.outside_urban_parcels or 0)
    for i in issues:
        e = entries.get(i.code) or entries.setdefault(
            i.code, LandEntry(i.code, i.name, i.county_code, None, i.planned_start)
        )
        e.open_land_issues = int(i.open_land_issues)
        e.issue_titles = i.issue_titles
    for e in entries.values():
        if e.county_code in groups:
            groups[e.county_code].entries.append(e)
    return [g for _, g in sorted(groups.items())]


_MONTH = (
    "CAST(CASE WHEN :d = CAST(date_trunc('month', CAST(:d AS date)) + interval '1 month - 1 day' AS date) "
    "THEN extract(month FROM CAST(:d AS date)) ELSE extract(month FROM CAST(:d AS date)) - 1 END AS int)"
)

MONTHLY = text(f"""
WITH w AS ({ranked_sql("CAST(:d AS date)")}),
mm AS (SELECT {_MONTH} AS month),
prog AS (
    SELECT p.county_code, count(*) AS key_projects,
           count(*) FILTER (WHERE p.actual_start <= :d) AS started,
           coalesce(sum(p.annual_target), 0) AS annual_target,
           coalesce(sum(r.ytd), 0) AS ytd
      FROM project p
      LEFT JOIN (SELECT ir.project_id, sum(ir.completed_investment) AS ytd
                   FROM investment_report ir, mm
                  WHERE ir.year = :year AND ir.month <= mm.month GROUP BY ir.project_id) r
        ON r.project_id = p.id
     WHERE p.is_key GROUP BY p.county_code
),
warn AS (
    SELECT county_code, count(*) FILTER (WHERE severity = 'SEVERE') AS severe,
           count(*) FILTER (WHERE severity = 'WARNING') AS warning,
           count(*) FILTER (WHERE severity = 'INFO') AS info,
           count(*) FILTER (WHERE rule = 'APPROVAL_OVERDUE') AS overdue_items,
           count(*) FILTER (WHERE rule = 'ISSUE_OVERDUE') AS overdue_issues
      FROM w GROUP BY county_code
)
SELECT c.code AS county_code, c.name AS county_name, mm.month,
       coalesce(pr.key_projects, 0) AS key_projects, coalesce(pr.started, 0) AS started,
       coalesce(pr.annual_target, 0) AS annual_target, coalesce(pr.ytd, 0) AS ytd,
       CASE WHEN coalesce(pr.annual_target, 0) > 0
            THEN round(100 * pr.ytd / pr.annual_target, 1) END AS completion_pct,
       round(100 * mm.month / 12.0, 1) AS time_pct,
       coalesce(w.severe, 0) AS severe, coalesce(w.warning, 0) AS warning,
       coalesce(w.info, 0) AS info, coalesce(w.overdue_items, 0) AS overdue_items,
       coalesce(w.overdue_issues, 0) AS overdue_issues
  FROM admin_area c CROSS JOIN mm
  LEFT JOIN prog pr ON pr.county_code = c.code
  LEFT JOIN warn w ON w.county_code = c.code
 WHERE c.kind IN ('DISTRICT', 'COUNTY', 'COUNTY_CITY')
 ORDER BY c.code""").bindparams(bindparam("d", type_=Date), bindparam("year", type_=SmallInteger))


async def monthly_rows(db: DB, *, as_of: dt.date) -> Sequence[Any]:
    """通报 figures per county as of D (one statement)."""
    return (await db.execute(MONTHLY, {"d": as_of, "year": as_of.year})).all()


def pct(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)
