"""用地保障 computation in SQL (rules: geo/guarantee_rules.py).

Two statements per question: one per-county summary, one per-project ranking (at-risk
projects, Project.landStatus, the pool plan).

- Current state (no `asOf`): read from the trigger-kept tallies of migration 0003
  (`project_land_demand`, `county_step_tally`, `county_stock_tally`, `land_quota_tally`):
  the recorded state, every step, link and ledger entry on file. One pass over the
  demand rows in priority order gives the cover; everything else is a handful of rows.
- As of a date: rebuilt from the dated procedure steps, links, stage events and ledger
  entries (`_CTES`), exact but proportional to the whole store.
Both paths use the same rules; tests check they agree on data with no future-dated facts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from psycopg.types.numeric import Int8
from sqlalchemy import Row, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger, Date, SmallInteger, String

from geo.crs import CITY_CODE
from geo.db import DriverStatement
from geo.guarantee_rules import DEMAND_STATUSES, QUOTA_TOLERANCE_M2

_DEMAND = ", ".join(f"'{s.value}'" for s in DEMAND_STATUSES)
_TOLERANCE = repr(QUOTA_TOLERANCE_M2)

_STATUS_AS_OF = """
    SELECT DISTINCT ON (parcel_id) parcel_id, status FROM parcel_status_event
     WHERE occurred_on <= :d ORDER BY parcel_id, occurred_on DESC, id DESC"""

_PRIORITY = "project_priority_tier(pr.categories, pr.is_key, pr.signing_status)"
"""guarantee_rules.PRIORITY_TIERS as the SQL function of migration 0003 (a test compares)."""


def _quota(source: str, on_date: str) -> str:
    """Each holder's account for the plan year: from the ledger (as of a date) or from its
    trigger-kept sums (now)."""
    return f"""
quota AS (
    SELECT holder_code,
           coalesce(sum(amount_m2) FILTER (WHERE entry_type = 'ALLOCATION'), 0) AS allocated,
           coalesce(sum(amount_m2) FILTER (WHERE entry_type = 'POOL_TRANSFER_IN'), 0) AS from_pool,
           -coalesce(sum(amount_m2) FILTER (WHERE entry_type = 'POOL_TRANSFER_OUT'), 0) AS to_counties,
           -coalesce(sum(amount_m2) FILTER (WHERE entry_type IN ('APPROVAL_DEBIT', 'WITHDRAWAL_CREDIT')), 0) AS used,
           sum(amount_m2) AS remaining
      FROM {source}
     WHERE year = :year AND kind = 'NEW_CONSTRUCTION'{on_date}
     GROUP BY holder_code
)"""


_RANKED = f"""ranked AS (
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
"""Cover in priority order within each county (both paths): `projects` → ranked → covered."""


_CTES = f"""
WITH pstatus AS ({{status}}),
links AS (
    SELECT parcel_id, project_id FROM project_parcel
     WHERE linked_on <= :d AND (unlinked_on IS NULL OR unlinked_on > :d)
),
demand_parcels AS (
    SELECT pr.id AS project_id, p.county_code, pr.is_key,
           round(p.new_construction_area_m2::numeric, 2) AS nc,
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
{_quota("land_quota_entry", "AND effective_on <= :d")},
projects AS (
    SELECT dp.project_id, dp.county_code, dp.is_key, pr.code, pr.name, pr.planned_start,
           {_PRIORITY} AS tier,
           sum(dp.nc) AS demand, count(*) AS demand_parcels, bool_or(dp.conflict) AS conflict,
           sum(dp.farmland_m2) AS farmland_m2, sum(dp.redline_m2) AS redline_m2,
           count(*) FILTER (WHERE dp.outside_urban) AS outside_urban_parcels
      FROM demand_parcels dp JOIN project pr ON pr.id = dp.project_id
     GROUP BY dp.project_id, dp.county_code, dp.is_key, pr.code, pr.name, pr.planned_start, tier
),
{_RANKED}"""

_QUOTA_NOW = _quota("land_quota_tally", "")

_CTES_NOW = f"""
WITH {_QUOTA_NOW},
projects AS (
    SELECT d.project_id, d.county_code, d.is_key, d.code, pr.name, d.planned_start, d.tier,
           d.demand_m2 AS demand, d.demand_parcels, d.conflict_parcels > 0 AS conflict,
           d.farmland_m2, d.redline_m2, d.outside_urban_parcels
      FROM project_land_demand d JOIN project pr ON pr.id = d.project_id
     WHERE (CAST(:county AS varchar) IS NULL OR d.county_code = :county)
),
{_RANKED}"""

# The sums come from county_demand_tally; one ordered pass per county over its demand rows
# (index project_land_demand_rank_idx, no sort) counts the projects at risk: in conflict,
# or the demand up to and including it in priority order exceeds the remaining quota (the
# covered projects are exactly a prefix).
_COUNTIES_NOW_SQL = f"""
WITH {_QUOTA_NOW}
SELECT a.code AS county_code,
       coalesce(dt.demand_key_m2, 0) AS demand_key, coalesce(dt.demand_other_m2, 0) AS demand_other,
       coalesce(q.allocated, 0) AS allocated, coalesce(q.from_pool, 0) AS from_pool,
       coalesce(q.used, 0) AS used, coalesce(q.remaining, 0) AS remaining,
       coalesce(st.approved_m2, 0) AS approved, coalesce(st.supplied_m2, 0) AS supplied,
       coalesce(sk.approved_unsupplied_m2, 0) AS approved_unsupplied,
       coalesce(sk.approved_unsupplied_parcels, 0) AS approved_unsupplied_parcels,
       coalesce(dt.conflict_parcels, 0) AS conflict_parcels,
       coalesce(dt.farmland_m2, 0) AS conflict_farmland_m2,
       coalesce(dt.redline_m2, 0) AS conflict_redline_m2,
       coalesce(dt.key_conflict_demand_m2, 0) AS key_conflict_demand,
       coalesce(dt.outside_urban_parcels, 0) AS outside_urban_parcels,
       risk.at_risk AS at_risk_projects
  FROM admin_area a
  LEFT JOIN quota q ON q.holder_code = a.code
  LEFT JOIN county_demand_tally dt ON dt.county_code = a.code
  LEFT JOIN county_step_tally st ON st.county_code = a.code AND st.year = :year
  LEFT JOIN county_stock_tally sk ON sk.county_code = a.code
 CROSS JOIN LATERAL (
      SELECT count(*) FILTER (
                 WHERE w.conflict_parcels > 0
                    OR (w.demand_m2 > 0 AND w.through > coalesce(q.remaining, 0) + {_TOLERANCE})) AS at_risk
        FROM (SELECT d.conflict_parcels, d.demand_m2,
                     sum(d.demand_m2) FILTER (WHERE d.conflict_parcels = 0) OVER (
                         ORDER BY d.tier, d.planned_start, d.code ROWS UNBOUNDED PRECEDING) AS through
                FROM project_land_demand d
               WHERE d.county_code = a.code) w
 ) risk
 WHERE a.kind IN ('DISTRICT', 'COUNTY', 'COUNTY_CITY')
   AND (CAST(:county AS varchar) IS NULL OR a.code = :county)
 ORDER BY a.code"""

_PROJECTS_SQL = f"""
, pooled AS (
    SELECT c.*, c.demand - c.covered AS unmet,
           coalesce((SELECT remaining FROM quota WHERE holder_code = :pool), 0) AS pool_remaining,
           coalesce(sum(c.demand - c.covered) FILTER (WHERE NOT c.conflict) OVER (
               ORDER BY c.tier, c.planned_start NULLS LAST, c.code, c.county_code
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
 ORDER BY tier, planned_start NULLS LAST, code, county_code"""

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
    if as_of is None:
        return text(_CTES_NOW + body).bindparams(
            bindparam("year", type_=SmallInteger), bindparam("county", type_=String)
        )
    ctes = _CTES.replace("{status}", _STATUS_AS_OF)
    return text(ctes + body).bindparams(
        bindparam("year", type_=SmallInteger),
        bindparam("d", type_=Date),
        bindparam("county", type_=String),
    )


def _params(year: int, as_of: dt.date | None, county: str | None) -> dict[str, Any]:
    if as_of is None:
        return {"year": year} if county is None else {"year": year, "county": county}
    return {"year": year, "d": as_of, "county": county}


_COUNTY_TEST = re.compile(r"\(CAST\(:county AS varchar\) IS NULL OR ([\w.]+) = :county\)")


def for_county(sql: str, county: bool) -> str:
    """The statement for one county (`col = :county`) or for all (no filter at all): a
    prepared `:county IS NULL OR …` would keep a generic plan that cannot use the rank
    index's order, which cost the all-county answer half its throughput (measured)."""
    return _COUNTY_TEST.sub(lambda m: f"{m.group(1)} = :county" if county else "true", sql)


def _now(sql: str, *extra: Any) -> dict[bool, Any]:
    year = bindparam("year", type_=SmallInteger)
    return {
        False: text(for_county(sql, False)).bindparams(year, *extra),
        True: text(for_county(sql, True)).bindparams(
            year, bindparam("county", type_=String), *extra
        ),
    }


_COUNTIES_NOW = _now(_COUNTIES_NOW_SQL)


async def county_rows(
    session: AsyncSession, *, year: int, as_of: dt.date | None, county: str | None
) -> Sequence[Row[Any]]:
    """One row per county-level unit: demand, quota, steps, stock, conflicts. Without
    `as_of`, the current (recorded) state from the tallies."""
    if as_of is None:
        stmt = _COUNTIES_NOW[county is not None]
        return (await session.execute(stmt, _params(year, None, county))).all()
    stmt = _statement(_COUNTIES_SQL, as_of)
    return (await session.execute(stmt, _params(year, as_of, county))).all()


def _limit(first: int | None) -> Int8 | None:
    """LIMIT takes a bigint: bound as int8, the statement is prepared with the parameter
    types PostgreSQL infers itself (psycopg would send a small number as int2)."""
    return None if first is None else Int8(first)


async def county_rows_at_risk(
    session: AsyncSession, *, year: int, county: str | None, first: int | None
) -> Sequence[Row[Any]]:
    """`county_rows` now, each row with `at_risk_rows`: its first `first` at-risk projects
    (all when None) as a list of dicts with `at_risk_rows`' columns — one statement for a
    whole landGuarantee answer."""
    params: dict[str, Any] = {**_params(year, None, county), "first": _limit(first)}
    return await _COUNTIES_RISKY_DRIVER[county is not None].rows(session, params)


async def project_rows(
    session: AsyncSession,
    *,
    year: int,
    as_of: dt.date | None,
    county: str | None = None,
    project: str | None = None,
) -> Sequence[Row[Any]]:
    """Every project with land still to approve, ranked, with county cover and pool share:
    one row per project and county its demand parcels lie in (almost always one). The pool
    share (`from_pool`) is city-wide only when `county` is None."""
    stmt = _statement(_PROJECTS_SQL, as_of).bindparams(
        bindparam("pool", type_=String), bindparam("project", type_=String)
    )
    params = {**_params(year, as_of, county), "county": county, "pool": CITY_CODE}
    params["project"] = project
    return (await session.execute(stmt, params)).all()


def _risk_stream(group: int, bound: str, pick: str) -> str:
    """The at-risk rows of county `a.code` in priority order, stopping after :first: the
    window runs straight off project_land_demand_rank_idx and the LIMIT ends the scan.
    `bound` may only cut a tail of the priority order (the prefix sums stay right)."""
    return f"""(SELECT s.*, {group} AS grp FROM (
            SELECT d.*, coalesce(sum(d.demand_m2) FILTER (WHERE d.conflict_parcels = 0) OVER (
                       ORDER BY d.tier, d.planned_start, d.code ROWS UNBOUNDED PRECEDING), 0) AS through
              FROM project_land_demand d
             WHERE d.county_code = a.code {bound}) s
         WHERE {pick}
           AND (s.conflict_parcels > 0
                OR (s.demand_m2 > 0 AND s.through > coalesce(q.remaining, 0) + {_TOLERANCE}))
         LIMIT :first)"""


# Key projects first (a key project is always tier 1 or 2, so that stream reads only the
# front of each county), then the others; each in priority order.
_COVERED_X = f"""CASE WHEN x.conflict_parcels > 0 THEN 0
            WHEN x.county_remaining - x.before_in_county >= x.demand_m2 - {_TOLERANCE} THEN x.demand_m2
            ELSE greatest(0, x.county_remaining - x.before_in_county) END"""

# The at-risk rows of county a.code (quota q), key projects first (a key project is always
# tier 1 or 2, so that stream reads only the front of the county), then the others.
_RISKY = f"""(
      SELECT u.*, coalesce(q.remaining, 0) AS county_remaining,
             u.through - CASE WHEN u.conflict_parcels > 0 THEN 0 ELSE u.demand_m2 END AS before_in_county
        FROM ({_risk_stream(0, "AND d.tier <= 2", "s.is_key")}
              UNION ALL
              {_risk_stream(1, "", "NOT s.is_key")}) u
       ORDER BY u.grp, u.tier, u.planned_start NULLS LAST, u.code
       LIMIT :first
  ) x"""

_AT_RISK_NOW_SQL = f"""
WITH {_QUOTA_NOW}
SELECT x.project_id, x.code, x.county_code, x.is_key, x.tier, x.planned_start,
       x.demand_m2 AS demand, x.demand_parcels, x.conflict_parcels > 0 AS conflict,
       x.farmland_m2, x.redline_m2, x.outside_urban_parcels,
       x.county_remaining, x.before_in_county,
       {_COVERED_X} AS covered,
       x.demand_m2 - {_COVERED_X} AS unmet
  FROM admin_area a
  LEFT JOIN quota q ON q.holder_code = a.code
  CROSS JOIN LATERAL {_RISKY}
 WHERE a.kind IN ('DISTRICT', 'COUNTY', 'COUNTY_CITY')
   AND (CAST(:county AS varchar) IS NULL OR a.code = :county)
 ORDER BY a.code, x.grp, x.tier, x.planned_start NULLS LAST, x.code"""

# landGuarantee with atRiskProjects in one statement: each county's row carries its
# at-risk rows as a JSON array (the same columns as _AT_RISK_NOW_SQL).
_COUNTIES_RISKY_NOW_SQL = _COUNTIES_NOW_SQL.replace(
    "       risk.at_risk AS at_risk_projects\n",
    "       risk.at_risk AS at_risk_projects, risky.rows AS at_risk_rows\n",
).replace(
    " ) risk\n",
    f""" ) risk
 CROSS JOIN LATERAL (
      SELECT coalesce(json_agg(json_build_object(
                 'project_id', x.project_id, 'code', x.code, 'county_code', x.county_code,
                 'is_key', x.is_key, 'tier', x.tier, 'planned_start', x.planned_start,
                 'demand', x.demand_m2, 'demand_parcels', x.demand_parcels,
                 'conflict', x.conflict_parcels > 0, 'farmland_m2', x.farmland_m2,
                 'redline_m2', x.redline_m2, 'outside_urban_parcels', x.outside_urban_parcels,
                 'county_remaining', x.county_remaining, 'before_in_county', x.before_in_county,
                 'covered', {_COVERED_X}, 'unmet', x.demand_m2 - {_COVERED_X})
               ORDER BY x.grp, x.tier, x.planned_start NULLS LAST, x.code), '[]') AS rows
        FROM {_RISKY}
 ) risky
""",
)
assert "risky.rows" in _COUNTIES_RISKY_NOW_SQL and ") risky" in _COUNTIES_RISKY_NOW_SQL

_AT_RISK_NOW = _now(_AT_RISK_NOW_SQL, bindparam("first", type_=BigInteger))
_COUNTIES_RISKY_NOW = _now(_COUNTIES_RISKY_NOW_SQL, bindparam("first", type_=BigInteger))
_COUNTIES_RISKY_DRIVER = {k: DriverStatement(v) for k, v in _COUNTIES_RISKY_NOW.items()}


async def at_risk_rows(
    session: AsyncSession, *, year: int, first: int | None, county: str | None = None
) -> Sequence[Row[Any]]:
    """保障风险项目 now: per county, the first `first` projects in conflict or not fully
    covered (all when None), key projects first, then priority order. Same columns as
    `project_rows` minus the pool share."""
    params: dict[str, Any] = {"year": year, "first": _limit(first)}
    if county is not None:
        params["county"] = county
    return (await session.execute(_AT_RISK_NOW[county is not None], params)).all()


async def pool_balance(session: AsyncSession, *, year: int, as_of: dt.date | None) -> Row[Any]:
    """The city pool's account (市级计划指标调节库) for the year, now or as of the date."""
    if as_of is None:
        stmt = text(
            "SELECT coalesce(sum(amount_m2) FILTER (WHERE entry_type = 'ALLOCATION'), 0) AS allocated, "
            "-coalesce(sum(amount_m2) FILTER (WHERE entry_type = 'POOL_TRANSFER_OUT'), 0) AS transferred, "
            "coalesce(sum(amount_m2), 0) AS remaining FROM land_quota_tally "
            "WHERE year = :year AND kind = 'NEW_CONSTRUCTION' AND holder_code = :pool"
        ).bindparams(bindparam("year", type_=SmallInteger))
        return (await session.execute(stmt, {"year": year, "pool": CITY_CODE})).one()
    stmt = text(
        "SELECT coalesce(sum(amount_m2) FILTER (WHERE entry_type = 'ALLOCATION'), 0) AS allocated, "
        "-coalesce(sum(amount_m2) FILTER (WHERE entry_type = 'POOL_TRANSFER_OUT'), 0) AS transferred, "
        "coalesce(sum(amount_m2), 0) AS remaining FROM land_quota_entry "
        "WHERE year = :year AND kind = 'NEW_CONSTRUCTION' AND holder_code = :pool AND effective_on <= :d"
    ).bindparams(bindparam("year", type_=SmallInteger), bindparam("d", type_=Date))
    return (await session.execute(stmt, {"year": year, "pool": CITY_CODE, "d": as_of})).one()


def at_risk_all_sql(year_expr: str) -> str:
    """The at-risk statement of `at_risk_rows` for every county and every row, as SQL text
    to embed as a subquery (geo/warnings.py's QUOTA_GAP_KEY rule): the plan year is the
    SQL expression `year_expr` (a trusted constant, never user input), no LIMIT. Same
    cover, same priority order — the warning never recomputes it."""
    sql = for_county(_AT_RISK_NOW_SQL, False)
    return sql.replace(":year", f"CAST({year_expr} AS smallint)").replace(
        "LIMIT :first", "LIMIT ALL"
    )
