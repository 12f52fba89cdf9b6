"""用地保障 computation in SQL (rules: geo/guarantee_rules.py).

Two statements per question: one per-county summary, one per-project ranking (at-risk
projects, Project.landStatus, the pool plan). Both share the CTEs below; with no as-of
date the current statuses are read straight from `parcel`, otherwise rebuilt from the
dated procedure steps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Date, SmallInteger, String

from geo.crs import CITY_CODE
from geo.guarantee_rules import DEMAND_STATUSES, QUOTA_TOLERANCE_M2

_DEMAND = ", ".join(f"'{s.value}'" for s in DEMAND_STATUSES)
_TOLERANCE = repr(QUOTA_TOLERANCE_M2)

_STATUS_NOW = "SELECT id AS parcel_id, procedure_status AS status FROM parcel"
_STATUS_AS_OF = """
    SELECT DISTINCT ON (parcel_id) parcel_id, status FROM parcel_status_event
     WHERE occurred_on <= :d ORDER BY parcel_id, occurred_on DESC, id DESC"""

_PRIORITY = """
    CASE WHEN 'PROVINCIAL_KEY' = ANY (pr.categories) THEN 1
         WHEN pr.is_key THEN 2
         WHEN pr.signing_status = 'SIGNED' THEN 3
         WHEN pr.signing_status = 'ABOUT_TO_SIGN' THEN 4
         ELSE 5 END"""

_CTES = f"""
WITH pstatus AS ({{status}}),
links AS (
    SELECT parcel_id, project_id FROM project_parcel
     WHERE linked_on <= :d AND (unlinked_on IS NULL OR unlinked_on > :d)
),
demand_parcels AS (
    SELECT pr.id AS project_id, p.county_code, pr.is_key, round(p.new_construction_area_m2 * 100) / 100 AS nc,
           coalesce(o.conflict, false) AS conflict, coalesce(o.basic_farmland_m2, 0) AS farmland_m2,
           coalesce(o.redline_m2, 0) AS redline_m2, coalesce(o.outside_urban, true) AS outside_urban
      FROM parcel p
      JOIN pstatus s ON s.parcel_id = p.id AND s.status IN ({_DEMAND})
      JOIN links l ON l.parcel_id = p.id
      JOIN project pr ON pr.id = l.project_id
      LEFT JOIN parcel_overlay o ON o.parcel_id = p.id
     WHERE (CAST(:county AS varchar) IS NULL OR p.county_code = :county)
       AND NOT EXISTS (SELECT 1 FROM project_stage_event e
                        WHERE e.project_id = pr.id AND e.stage = 'COMPLETED' AND e.entered_on <= :d)
),
quota AS (
    SELECT holder_code,
           coalesce(sum(amount_m2) FILTER (WHERE entry_type = 'ALLOCATION'), 0) AS allocated,
           coalesce(sum(amount_m2) FILTER (WHERE entry_type = 'POOL_TRANSFER_IN'), 0) AS from_pool,
           -coalesce(sum(amount_m2) FILTER (WHERE entry_type = 'POOL_TRANSFER_OUT'), 0) AS to_counties,
           -coalesce(sum(amount_m2) FILTER (WHERE entry_type IN ('APPROVAL_DEBIT', 'WITHDRAWAL_CREDIT')), 0) AS used,
           sum(amount_m2) AS remaining
      FROM land_quota_entry
     WHERE year = :year AND kind = 'NEW_CONSTRUCTION' AND effective_on <= :d
     GROUP BY holder_code
),
projects AS (
    SELECT dp.project_id, dp.county_code, dp.is_key, pr.code, pr.name, pr.planned_start,
           {_PRIORITY} AS tier,
           sum(dp.nc) AS demand, count(*) AS demand_parcels, bool_or(dp.conflict) AS conflict,
           sum(dp.farmland_m2) AS farmland_m2, sum(dp.redline_m2) AS redline_m2,
           count(*) FILTER (WHERE dp.outside_urban) AS outside_urban_parcels
      FROM demand_parcels dp JOIN project pr ON pr.id = dp.project_id
     GROUP BY dp.project_id, dp.county_code, dp.is_key, pr.code, pr.name, pr.planned_start, tier
),
ranked AS (
    SELECT p.*, coalesce(q.remaining, 0) AS county_remaining,
           coalesce(sum(p.demand) FILTER (WHERE NOT p.conflict) OVER (
               PARTITION BY p.county_code ORDER BY p.tier, p.planned_start NULLS LAST, p.code
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before_in_county
      FROM projects p LEFT JOIN quota q ON q.holder_code = p.county_code
),
covered AS (
    SELECT r.*,
           CASE WHEN r.conflict THEN 0
                WHEN r.county_remaining - r.before_in_county >= r.demand - {_TOLERANCE} THEN r.demand
                ELSE greatest(0, r.county_remaining - r.before_in_county) END AS covered
      FROM ranked r
)"""

_PROJECTS_SQL = f"""
, pooled AS (
    SELECT c.*, c.demand - c.covered AS unmet,
           coalesce((SELECT remaining FROM quota WHERE holder_code = :pool), 0) AS pool_remaining,
           coalesce(sum(c.demand - c.covered) FILTER (WHERE NOT c.conflict) OVER (
               ORDER BY c.tier, c.planned_start NULLS LAST, c.code
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before_in_pool
      FROM covered c
)
SELECT project_id, code, name, county_code, is_key, tier, planned_start, demand, demand_parcels,
       conflict, farmland_m2, redline_m2, outside_urban_parcels, county_remaining, before_in_county,
       covered, unmet, pool_remaining, before_in_pool,
       CASE WHEN conflict THEN 0
            WHEN pool_remaining - before_in_pool >= unmet - {_TOLERANCE} THEN unmet
            ELSE greatest(0, pool_remaining - before_in_pool) END AS from_pool
  FROM pooled
 WHERE (CAST(:project AS varchar) IS NULL OR code = :project)
 ORDER BY tier, planned_start NULLS LAST, code"""

_COUNTIES_SQL = f"""
, per_county AS (
    SELECT county_code,
           sum(demand) FILTER (WHERE is_key) AS demand_key,
           sum(demand) FILTER (WHERE NOT is_key) AS demand_other,
           count(*) FILTER (WHERE conflict OR demand > covered) AS at_risk
      FROM covered GROUP BY county_code
),
conflicts AS (
    SELECT county_code,
           count(*) FILTER (WHERE conflict) AS conflict_parcels,
           sum(farmland_m2) AS farmland_m2, sum(redline_m2) AS redline_m2,
           sum(nc) FILTER (WHERE conflict AND is_key) AS key_conflict_demand,
           count(*) FILTER (WHERE outside_urban) AS outside_urban_parcels
      FROM demand_parcels GROUP BY county_code
),
steps AS (
    SELECT p.county_code,
           sum(p.area_m2) FILTER (WHERE e.approved AND s.status NOT IN ({_DEMAND})) AS approved,
           sum(p.area_m2) FILTER (WHERE e.supplied) AS supplied
      FROM (SELECT parcel_id, bool_or(status = 'APPROVED_UNSUPPLIED') AS approved,
                   bool_or(status = 'SUPPLIED') AS supplied
              FROM parcel_status_event
             WHERE status IN ('APPROVED_UNSUPPLIED', 'SUPPLIED')
               AND occurred_on BETWEEN make_date(:year, 1, 1) AND least(:d, make_date(:year, 12, 31))
             GROUP BY parcel_id) e
      JOIN parcel p ON p.id = e.parcel_id
      JOIN pstatus s ON s.parcel_id = p.id
     WHERE (CAST(:county AS varchar) IS NULL OR p.county_code = :county)
     GROUP BY p.county_code
),
stock AS (
    SELECT p.county_code, sum(p.area_m2) AS approved_unsupplied, count(*) AS approved_unsupplied_parcels
      FROM parcel p JOIN pstatus s ON s.parcel_id = p.id AND s.status = 'APPROVED_UNSUPPLIED'
     WHERE (CAST(:county AS varchar) IS NULL OR p.county_code = :county)
     GROUP BY p.county_code
)
SELECT a.code AS county_code,
       coalesce(pc.demand_key, 0) AS demand_key, coalesce(pc.demand_other, 0) AS demand_other,
       coalesce(q.allocated, 0) AS allocated, coalesce(q.from_pool, 0) AS from_pool,
       coalesce(q.used, 0) AS used, coalesce(q.remaining, 0) AS remaining,
       coalesce(st.approved, 0) AS approved, coalesce(st.supplied, 0) AS supplied,
       coalesce(sk.approved_unsupplied, 0) AS approved_unsupplied,
       coalesce(sk.approved_unsupplied_parcels, 0) AS approved_unsupplied_parcels,
       coalesce(cf.conflict_parcels, 0) AS conflict_parcels,
       coalesce(cf.farmland_m2, 0) AS conflict_farmland_m2, coalesce(cf.redline_m2, 0) AS conflict_redline_m2,
       coalesce(cf.key_conflict_demand, 0) AS key_conflict_demand,
       coalesce(cf.outside_urban_parcels, 0) AS outside_urban_parcels,
       coalesce(pc.at_risk, 0) AS at_risk_projects
  FROM admin_area a
  LEFT JOIN per_county pc ON pc.county_code = a.code
  LEFT JOIN quota q ON q.holder_code = a.code
  LEFT JOIN steps st ON st.county_code = a.code
  LEFT JOIN stock sk ON sk.county_code = a.code
  LEFT JOIN conflicts cf ON cf.county_code = a.code
 WHERE a.kind IN ('DISTRICT', 'COUNTY', 'COUNTY_CITY')
   AND (CAST(:county AS varchar) IS NULL OR a.code = :county)
 ORDER BY a.code"""


def _statement(body: str, as_of: dt.date | None) -> Any:
    ctes = _CTES.replace("{status}", _STATUS_NOW if as_of is None else _STATUS_AS_OF)
    return text(ctes + body).bindparams(
        bindparam("year", type_=SmallInteger),
        bindparam("d", type_=Date),
        bindparam("county", type_=String),
    )


def _params(year: int, as_of: dt.date | None, today: dt.date, county: str | None) -> dict[str, Any]:
    return {"year": year, "d": as_of or today, "county": county}


async def county_rows(
    session: AsyncSession, *, year: int, as_of: dt.date | None, today: dt.date, county: str | None
) -> Sequence[Row[Any]]:
    """One row per county-level unit: demand, quota, steps, stock, conflicts."""
    stmt = _statement(_COUNTIES_SQL, as_of)
    return (await session.execute(stmt, _params(year, as_of, today, county))).all()


async def project_rows(
    session: AsyncSession,
    *,
    year: int,
    as_of: dt.date | None,
    today: dt.date,
    county: str | None = None,
    project: str | None = None,
) -> Sequence[Row[Any]]:
    """Every project with land still to approve, ranked, with county cover and pool share:
    one row per project and county its demand parcels lie in (almost always one). The pool
    share (`from_pool`) is city-wide only when `county` is None."""
    stmt = _statement(_PROJECTS_SQL, as_of).bindparams(
        bindparam("pool", type_=String), bindparam("project", type_=String)
    )
    params = {**_params(year, as_of, today, county), "pool": CITY_CODE, "project": project}
    return (await session.execute(stmt, params)).all()


async def pool_balance(
    session: AsyncSession, *, year: int, as_of: dt.date | None, today: dt.date
) -> Row[Any]:
    """The city pool's account (市级计划指标调节库) for the year, as of the date."""
    stmt = text(
        "SELECT coalesce(sum(amount_m2) FILTER (WHERE entry_type = 'ALLOCATION'), 0) AS allocated, "
        "-coalesce(sum(amount_m2) FILTER (WHERE entry_type = 'POOL_TRANSFER_OUT'), 0) AS transferred, "
        "coalesce(sum(amount_m2), 0) AS remaining FROM land_quota_entry "
        "WHERE year = :year AND kind = 'NEW_CONSTRUCTION' AND holder_code = :pool AND effective_on <= :d"
    ).bindparams(bindparam("year", type_=SmallInteger), bindparam("d", type_=Date))
    return (
        await session.execute(stmt, {"year": year, "pool": CITY_CODE, "d": as_of or today})
    ).one()
