"""Land stock that weighs on new quota (增存挂钩): approved-but-not-supplied land (批而未供),
idle land and its candidates (闲置), approvals about to lapse and lapsed ones (批文失效).

One statement per question: every county-level unit with, per category, the count, the
areas and the first `cap` parcels (oldest first). Definitions: geo/guarantee_rules.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import Integer, Row, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Date, String

from geo.enums import LandStatus
from geo.guarantee_rules import (
    IDLE_AFTER_DAYS,
    IDLE_CANDIDATE_STATUSES,
    LAPSE_AFTER_DAYS,
    LAPSE_WARNING_DAYS,
)
from geo.queries.land_status import PARCEL_COLUMNS


class StockCategory(StrEnum):
    APPROVED_UNSUPPLIED = "APPROVED_UNSUPPLIED"
    IDLE = "IDLE"
    ABOUT_TO_LAPSE = "ABOUT_TO_LAPSE"
    LAPSED = "LAPSED"


def _in(statuses: Sequence[LandStatus]) -> str:
    return ", ".join(f"'{s.value}'" for s in statuses)


_STATUS_NOW = "CROSS JOIN LATERAL (SELECT p.procedure_status AS status, p.status_date AS since) s"
_STATUS_ON = """JOIN (SELECT DISTINCT ON (parcel_id) parcel_id, status, occurred_on AS since
              FROM parcel_status_event WHERE occurred_on <= :d
             ORDER BY parcel_id, occurred_on DESC, id DESC) s ON s.parcel_id = p.id"""
"""A parcel's status on D and the date it was reached: its latest step dated ≤ D (for a
批而未供 parcel that is its latest approval)."""

_SQL = f"""
WITH started AS (
    -- parcels whose project (as linked on D) had started works by D: not idle candidates
    SELECT l.parcel_id FROM project_parcel l JOIN project pr ON pr.id = l.project_id
     WHERE l.linked_on <= :d AND (l.unlinked_on IS NULL OR l.unlinked_on > :d)
       AND pr.actual_start <= :d
),
cand AS (
    SELECT {PARCEL_COLUMNS}, s.status AS status_on, s.since AS status_since, l.project_id
      FROM parcel p
     {{status}}
      LEFT JOIN project_parcel l ON l.parcel_id = p.id AND l.unlinked_on IS NULL
     WHERE (s.status IN ('APPROVED_UNSUPPLIED', 'IDLE', 'LAPSED')
            OR (s.status IN ({_in(IDLE_CANDIDATE_STATUSES)}) AND p.agreed_start_date + :idle_days < :d
                AND p.id NOT IN (SELECT parcel_id FROM started)))
       AND (CAST(:county AS varchar) IS NULL OR p.county_code = :county)
),
dated AS (
    SELECT c.*,
           CASE WHEN c.status_on = 'APPROVED_UNSUPPLIED' THEN c.status_since END AS approved_on,
           CASE WHEN c.status_on = 'APPROVED_UNSUPPLIED' THEN c.status_since + :lapse_days END AS lapses_on,
           CASE WHEN c.status_on = 'IDLE' THEN c.status_since
                ELSE c.agreed_start_date + :idle_days END AS idle_since
      FROM cand c
),
items AS (
    SELECT 'APPROVED_UNSUPPLIED' AS category, x.*, x.approved_on AS sort_on
      FROM dated x WHERE x.status_on = 'APPROVED_UNSUPPLIED'
    UNION ALL
    SELECT 'IDLE', x.*, x.idle_since FROM dated x
     WHERE x.status_on = 'IDLE'
        OR x.status_on IN ({_in(IDLE_CANDIDATE_STATUSES)})  -- candidates only (see cand)
    UNION ALL
    SELECT 'ABOUT_TO_LAPSE', x.*, x.lapses_on FROM dated x
     WHERE x.status_on = 'APPROVED_UNSUPPLIED' AND x.lapses_on - :d < :warn_days
    UNION ALL
    SELECT 'LAPSED', x.*, x.status_since FROM dated x WHERE x.status_on = 'LAPSED'
),
ranked AS (
    SELECT i.*, count(*) OVER w AS total_count, sum(i.area_m2) OVER w AS total_m2,
           sum(i.new_construction_area_m2) OVER w AS total_nc_m2,
           row_number() OVER (PARTITION BY i.county_code, i.category
                              ORDER BY i.sort_on NULLS LAST, i.code) AS rn
      FROM items i
    WINDOW w AS (PARTITION BY i.county_code, i.category)
)
SELECT a.code AS stock_county, r.*
  FROM admin_area a
  LEFT JOIN ranked r ON r.county_code = a.code AND r.rn <= greatest(:cap, 1)
 WHERE a.kind IN ('DISTRICT', 'COUNTY', 'COUNTY_CITY')
   AND (CAST(:county AS varchar) IS NULL OR a.code = :county)
 ORDER BY a.code, r.category, r.rn"""


async def stock_rows(
    session: AsyncSession, *, on: dt.date, current: bool, county: str | None, cap: int
) -> Sequence[Row[Any]]:
    """Rows (stock_county, category, rn ≤ max(cap, 1), totals, parcel columns, dates); a
    county without any stock has one row with category NULL."""
    sql = _SQL.replace("{status}", _STATUS_NOW if current else _STATUS_ON)
    stmt = text(sql).bindparams(
        bindparam("d", type_=Date),
        bindparam("county", type_=String),
        bindparam("cap", type_=Integer),
        bindparam("idle_days", type_=Integer),
        bindparam("lapse_days", type_=Integer),
        bindparam("warn_days", type_=Integer),
    )
    params = {
        "d": on,
        "county": county,
        "cap": cap,
        "idle_days": IDLE_AFTER_DAYS,
        "lapse_days": LAPSE_AFTER_DAYS,
        "warn_days": LAPSE_WARNING_DAYS,
    }
    return (await session.execute(stmt, params)).all()
