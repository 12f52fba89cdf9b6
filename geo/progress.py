"""Progress of the "1" platform in SQL: lifecycle, investment completion, the key list, the
horse race, fast horses and snails, 入库纳统 and 招商引资 (issue 6).

Every function is one statement (or a fixed few) over the whole answer, so the GraphQL
resolvers and the .xlsx bulletins (api/bulletins_progress.py) read the same rows. Rules,
weights and thresholds are bound parameters from geo/horse_race_rules.py — none is
written into the SQL.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from geo import horse_race_rules as R
from geo.crs import CITY_CODE

Conn = AsyncSession | AsyncConnection

UNIT_KINDS = ("DISTRICT", "COUNTY", "COUNTY_CITY", "DEV_ZONE")
"""The race units: six county-level units and the development zone (R.RACE_UNITS_NOTE)."""

_UNIT_OF = "coalesce(p.dev_zone_code, p.county_code)"

# --------------------------------------------------------------------------- lifecycle

_STAGE_EVENTS = text(
    """
    SELECT e.project_id, e.stage::text AS stage, e.entered_on, e.actor, e.note,
           lead(e.entered_on) OVER w AS left_on,
           row_number() OVER w AS seq
      FROM project_stage_event e
     WHERE e.project_id = ANY (:ids)
    WINDOW w AS (PARTITION BY e.project_id ORDER BY e.entered_on, e.id)
     ORDER BY e.project_id, e.entered_on, e.id
    """
)


async def stage_events(conn: Conn, ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """Each project's stage events, oldest first, with the date it left each stage (the
    next event's date; null for the last)."""
    out: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in (await conn.execute(_STAGE_EVENTS, {"ids": list(ids)})).all():
        out[row.project_id].append(row)
    return out


_OPEN_ISSUES = text(
    """
    SELECT i.project_id, i.code, i.category::text AS category, i.title,
           i.level::text AS level, i.status::text AS status, i.raised_on, i.due_date
      FROM project_issue i
     WHERE i.project_id = ANY (:ids) AND i.status <> 'RESOLVED'
     ORDER BY i.project_id, i.raised_on, i.code
    """
)


async def open_issues(conn: Conn, ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """堵点难点: each project's unresolved issues (问题台账), oldest first."""
    out: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in (await conn.execute(_OPEN_ISSUES, {"ids": list(ids)})).all():
        out[row.project_id].append(row)
    return out


# --------------------------------------------------------------------------- investment

_PROJECT_INVESTMENT = text(
    """
    SELECT p.id, p.annual_target,
           coalesce(sum(r.completed_investment) FILTER (WHERE r.month <= :month), 0) AS ytd,
           coalesce(sum(r.completed_investment) FILTER (WHERE r.month = :month), 0) AS in_month,
           max(r.month) FILTER (WHERE r.month <= :month) AS last_reported_month
      FROM project p
      LEFT JOIN investment_report r ON r.project_id = p.id AND r.year = :year
     WHERE p.id = ANY (:ids)
     GROUP BY p.id
    """
)


async def project_investment(
    conn: Conn, ids: Sequence[int], *, year: int, month: int
) -> dict[int, Row[Any]]:
    """Year-to-date completed investment through `month` (万元) and the month's own."""
    rows = (
        await conn.execute(_PROJECT_INVESTMENT, {"ids": list(ids), "year": year, "month": month})
    ).all()
    return {r.id: r for r in rows}


_UNIT_INVESTMENT = text(
    f"""
    WITH rep AS (
        SELECT project_id,
               sum(completed_investment) FILTER (WHERE month <= :month) AS ytd,
               sum(completed_investment) FILTER (WHERE month = :month) AS in_month
          FROM investment_report WHERE year = :year GROUP BY project_id
    )
    SELECT u.code, u.name,
           count(p.id) FILTER (WHERE p.annual_target > 0) AS projects,
           coalesce(sum(p.annual_target), 0) AS annual_target,
           coalesce(sum(rep.ytd), 0) AS ytd,
           coalesce(sum(rep.in_month), 0) AS in_month
      FROM admin_area u
      LEFT JOIN project p ON {_UNIT_OF} = u.code
      LEFT JOIN rep ON rep.project_id = p.id
     WHERE u.kind::text IN :kinds
     GROUP BY u.code, u.name
     ORDER BY u.code
    """
).bindparams(bindparam("kinds", expanding=True))


async def unit_investment(conn: Conn, *, year: int, month: int) -> Sequence[Row[Any]]:
    """Per race unit: annual targets, year-to-date and in-month completed investment."""
    params = {"year": year, "month": month, "kinds": list(UNIT_KINDS)}
    return (await conn.execute(_UNIT_INVESTMENT, params)).all()


_UPSERT_REPORT = text(
    """
    INSERT INTO investment_report AS r (project_id, year, month, completed_investment, reported_on)
    VALUES (:project_id, :year, :month, :amount, :reported_on)
    ON CONFLICT (project_id, year, month) DO UPDATE
       SET completed_investment = EXCLUDED.completed_investment,
           reported_on = EXCLUDED.reported_on
    RETURNING r.project_id, r.year, r.month, r.completed_investment, r.reported_on,
              (xmax = 0) AS inserted
    """
)


async def upsert_investment_report(
    conn: Conn,
    *,
    project_id: int,
    year: int,
    month: int,
    amount: Decimal,
    reported_on: dt.date,
) -> Row[Any]:
    """One project-month's completed investment: inserted, or replaced when reported again."""
    params = {
        "project_id": project_id,
        "year": year,
        "month": month,
        "amount": amount,
        "reported_on": reported_on,
    }
    return (await conn.execute(_UPSERT_REPORT, params)).one()


# --------------------------------------------------------------------------- key list

_KEY_GROUPS = text(
    """
    WITH k AS (
        SELECT * FROM project WHERE is_key AND key_list_year = :year
    )
    SELECT 'CATEGORY' AS dim, c::text AS key, count(*) AS projects,
           coalesce(sum(k.annual_target), 0) AS annual_target
      FROM k, unnest(k.categories) AS c GROUP BY c
    UNION ALL
    SELECT 'COUNTY', k.county_code, count(*), coalesce(sum(k.annual_target), 0)
      FROM k GROUP BY k.county_code
    UNION ALL
    SELECT 'STAGE', k.stage::text, count(*), coalesce(sum(k.annual_target), 0)
      FROM k GROUP BY k.stage
    UNION ALL
    SELECT 'TOTAL', '', count(*), coalesce(sum(k.annual_target), 0) FROM k
    UNION ALL
    SELECT 'CITY', '', count(*), coalesce(sum(p.annual_target), 0) FROM project p
     ORDER BY 1, 2
    """
)


async def key_groups(conn: Conn, *, year: int) -> Sequence[Row[Any]]:
    """The key list by category, county and stage; TOTAL = the key list, CITY = every
    project (the denominator of the ≥ 70 % share)."""
    return (await conn.execute(_KEY_GROUPS, {"year": year})).all()


_KEY_LACKING = text(
    """
    SELECT p.id, p.code, p.name, p.county_code,
           NOT coalesce(p.annual_target > 0, false) AS lacks_investment_target,
           btrim(coalesce(p.progress_target, '')) = '' AS lacks_progress_target,
           btrim(coalesce(p.lead_official, '')) = '' AS lacks_lead_official,
           btrim(coalesce(p.responsible_entity, '')) = '' AS lacks_responsible_entity
      FROM project p
     WHERE p.is_key AND p.key_list_year = :year
       AND (NOT coalesce(p.annual_target > 0, false)
            OR btrim(coalesce(p.progress_target, '')) = ''
            OR btrim(coalesce(p.lead_official, '')) = ''
            OR btrim(coalesce(p.responsible_entity, '')) = '')
     ORDER BY p.code
    """
)


async def key_lacking(conn: Conn, *, year: int) -> Sequence[Row[Any]]:
    """Key projects of `year` that lack any of the four fixed things (四定), by code."""
    return (await conn.execute(_KEY_LACKING, {"year": year})).all()


# --------------------------------------------------------------------------- horse race

_HORSE_RACE = text(
    f"""
    WITH units AS (
        SELECT code, name FROM admin_area WHERE kind::text IN :kinds
    ),
    rep AS (
        SELECT project_id, sum(completed_investment) AS ytd
          FROM investment_report WHERE year = :year AND month <= :last_month
         GROUP BY project_id
    ),
    per_unit AS (
        SELECT u.code, u.name,
               coalesce(sum(p.annual_target), 0) AS annual_target,
               coalesce(sum(rep.ytd), 0) AS ytd,
               coalesce(sum(rep.ytd) FILTER (WHERE p.industry = ANY (:industrial)), 0)
                   AS industrial_ytd,
               count(p.id) FILTER (WHERE p.plan_type = 'PLANNED_START'
                                     AND p.planned_start <= :period_end) AS start_due,
               count(p.id) FILTER (WHERE p.plan_type = 'PLANNED_START'
                                     AND p.planned_start <= :period_end
                                     AND p.actual_start <= :period_end) AS started,
               count(p.id) FILTER (WHERE p.total_investment >= :stats_min
                                     AND p.actual_start <= :period_end) AS stats_base,
               count(p.id) FILTER (WHERE p.total_investment >= :stats_min
                                     AND p.actual_start <= :period_end
                                     AND p.stats_status = 'INCLUDED') AS included,
               coalesce(sum(p.total_investment) FILTER (
                   WHERE p.plan_type = 'PRE_STAGE'
                      OR p.signing_status IN ('ABOUT_TO_SIGN', 'SIGNED')), 0) AS pipeline
          FROM units u
          LEFT JOIN project p ON {_UNIT_OF} = u.code
          LEFT JOIN rep ON rep.project_id = p.id
         GROUP BY u.code, u.name
    ),
    valued AS (
        SELECT *,
               CASE WHEN annual_target > 0
                    THEN ytd / annual_target / (:last_month / 12.0) ELSE 0 END AS v_scale,
               CASE WHEN ytd > 0 THEN industrial_ytd / ytd ELSE 0 END AS v_structure,
               ((CASE WHEN start_due > 0 THEN started::numeric / start_due ELSE 0 END)
                + (CASE WHEN stats_base > 0 THEN included::numeric / stats_base ELSE 0 END))
                   / 2 AS v_start,
               pipeline AS v_pipeline
          FROM per_unit
    ),
    scored AS (
        SELECT *,
               CASE WHEN max(v_scale) OVER () > 0
                    THEN :w_scale * v_scale / max(v_scale) OVER () ELSE 0 END AS s_scale,
               CASE WHEN max(v_structure) OVER () > 0
                    THEN :w_structure * v_structure / max(v_structure) OVER () ELSE 0 END
                   AS s_structure,
               CASE WHEN max(v_start) OVER () > 0
                    THEN :w_start * v_start / max(v_start) OVER () ELSE 0 END AS s_start,
               CASE WHEN max(v_pipeline) OVER () > 0
                    THEN :w_pipeline * v_pipeline / max(v_pipeline) OVER () ELSE 0 END
                   AS s_pipeline
          FROM valued
    ),
    totalled AS (
        SELECT *, round((s_scale + s_structure + s_start + s_pipeline)::numeric, 2) AS total
          FROM scored
    )
    SELECT *,
           row_number() OVER (ORDER BY total DESC, round(s_scale::numeric, 2) DESC, code)
               AS rank,
           count(*) OVER (PARTITION BY total) > 1 AS tied
      FROM totalled
     ORDER BY rank
    """
).bindparams(bindparam("kinds", expanding=True))


async def horse_race(conn: Conn, period: R.Period) -> Sequence[Row[Any]]:
    """The seven units' values, scores (R.DIMENSIONS, R.SCORE_RULE), total and rank."""
    w = R.dimension_weights()
    params = {
        "kinds": list(UNIT_KINDS),
        "year": period.year,
        "last_month": period.last_month,
        "period_end": period.end,
        "industrial": list(R.INDUSTRIAL_INDUSTRIES),
        "stats_min": R.STATS_MIN_TOTAL_INVESTMENT,
        "w_scale": w[R.Dimension.INVESTMENT_SCALE],
        "w_structure": w[R.Dimension.INVESTMENT_STRUCTURE],
        "w_start": w[R.Dimension.START_AND_STATISTICS],
        "w_pipeline": w[R.Dimension.PIPELINE],
    }
    return (await conn.execute(_HORSE_RACE, params)).all()


# --------------------------------------------------------------------------- 骏马 / 蜗牛

_PERIOD_PROJECTS = f"""
    WITH rep AS (
        SELECT project_id, sum(completed_investment) AS actual
          FROM investment_report
         WHERE year = :year AND month BETWEEN :first_month AND :last_month
         GROUP BY project_id
    ),
    pp AS (
        SELECT p.id, p.code, p.name, p.county_code, {_UNIT_OF} AS unit_code,
               p.plan_type::text AS plan_type, p.planned_start, p.actual_start,
               p.annual_target,
               round(coalesce(p.annual_target, 0) * :months / 12.0, 2) AS target,
               coalesce(rep.actual, 0) AS actual
          FROM project p LEFT JOIN rep ON rep.project_id = p.id
    )
"""

_FAST = text(
    _PERIOD_PROJECTS
    + """
    SELECT *, actual - target AS margin, count(*) OVER () AS total_count
      FROM pp
     WHERE annual_target > 0 AND actual >= :ratio * target AND actual - target >= :min_margin
     ORDER BY actual - target DESC, code
     LIMIT :first
    """
)

_SNAIL = text(
    _PERIOD_PROJECTS
    + """
    , flagged AS (
        SELECT *,
               (planned_start <= :period_end
                AND (actual_start IS NULL OR actual_start > :period_end)) AS missed_start,
               (plan_type = 'CONTINUING' AND annual_target > 0 AND actual < target)
                   AS below_target
          FROM pp
    )
    SELECT *, target - actual AS shortfall, count(*) OVER () AS total_count
      FROM flagged
     WHERE missed_start OR below_target
     ORDER BY code
     LIMIT :first
    """
)


def _period_params(period: R.Period, first: int) -> dict[str, Any]:
    return {
        "year": period.year,
        "first_month": period.first_month,
        "last_month": period.last_month,
        "months": period.months,
        "period_end": period.end,
        "first": first,
    }


async def fast_horses(conn: Conn, period: R.Period, *, first: int) -> Sequence[Row[Any]]:
    """骏马 of the period (R.FAST_HORSE_RATIO, R.fast_margin), the largest margin first."""
    params = _period_params(period, first) | {
        "ratio": R.FAST_HORSE_RATIO,
        "min_margin": R.fast_margin(period.months),
    }
    return (await conn.execute(_FAST, params)).all()


async def snails(conn: Conn, period: R.Period, *, first: int) -> Sequence[Row[Any]]:
    """蜗牛 of the period (R.SNAIL_RULE), by code."""
    return (await conn.execute(_SNAIL, _period_params(period, first))).all()


# --------------------------------------------------------------------------- 入库纳统

_STATS_LIST = text(
    f"""
    SELECT p.id, p.code, p.name, p.county_code, {_UNIT_OF} AS unit_code,
           p.total_investment, p.actual_start, p.stats_status::text AS stats_status,
           EXISTS (SELECT 1 FROM approval_item a WHERE a.project_id = p.id
                     AND a.item_type = 'PROJECT_FILING' AND a.status = 'COMPLETED')
               AS has_filing,
           EXISTS (SELECT 1 FROM approval_item a WHERE a.project_id = p.id
                     AND a.item_type = 'CONSTRUCTION_PERMIT' AND a.status = 'COMPLETED')
               AS has_construction_permit,
           true AS has_start_proof,
           EXISTS (SELECT 1 FROM investment_report r WHERE r.project_id = p.id)
               AS has_investment_report,
           (SELECT coalesce(sum(r.completed_investment), 0) FROM investment_report r
             WHERE r.project_id = p.id AND r.year = :year) AS ytd
      FROM project p
     WHERE p.total_investment >= :stats_min
       AND p.actual_start <= :today
       AND p.stats_status <> 'INCLUDED'
     ORDER BY {_UNIT_OF}, p.code
    """
)


async def stats_inclusion(conn: Conn, *, today: dt.date) -> Sequence[Row[Any]]:
    """入库纳统清单: projects meeting R.STATS_MIN_TOTAL_INVESTMENT that started by `today`
    and are not yet INCLUDED, with their supporting materials (R.SUPPORTING_MATERIALS)."""
    params = {"stats_min": R.STATS_MIN_TOTAL_INVESTMENT, "today": today, "year": today.year}
    return (await conn.execute(_STATS_LIST, params)).all()


# --------------------------------------------------------------------------- 招商引资

_FUNNEL = text(
    f"""
    SELECT u.code AS unit_code, u.name AS unit_name,
           count(p.id) FILTER (WHERE p.signing_status = 'ABOUT_TO_SIGN') AS about_to_sign,
           count(p.id) FILTER (WHERE p.signing_status = 'SIGNED') AS signed,
           count(p.id) FILTER (WHERE p.signing_status = 'LANDED') AS landed,
           coalesce(sum(p.total_investment) FILTER (WHERE p.signing_status = 'ABOUT_TO_SIGN'), 0)
               AS about_to_sign_investment,
           coalesce(sum(p.total_investment) FILTER (WHERE p.signing_status = 'SIGNED'), 0)
               AS signed_investment,
           coalesce(sum(p.total_investment) FILTER (WHERE p.signing_status = 'LANDED'), 0)
               AS landed_investment
      FROM admin_area u
      LEFT JOIN project p ON {_UNIT_OF} = u.code AND p.signing_status IS NOT NULL
     WHERE u.kind::text IN :kinds
     GROUP BY u.code, u.name
     ORDER BY u.code
    """
).bindparams(bindparam("kinds", expanding=True))


async def promotion_funnel(conn: Conn) -> Sequence[Row[Any]]:
    """Promoted projects per unit: 拟签约 → 已签约拟落地 → 已落地 (counts and 万元)."""
    return (await conn.execute(_FUNNEL, {"kinds": list(UNIT_KINDS)})).all()


_LEADER_TRIPS = text(
    """
    SELECT u.code AS unit_code, u.name AS unit_name, t.promoter,
           count(t.id) AS trips,
           count(t.id) FILTER (WHERE t.projects_pitched >= :per_trip) AS qualifying_trips,
           coalesce(sum(t.projects_pitched), 0) AS projects_pitched
      FROM admin_area u
      LEFT JOIN promotion_trip t ON t.unit_code = u.code AND t.promoter_kind = 'COUNTY_LEADER'
                                AND t.trip_on BETWEEN :start AND :finish
     WHERE u.kind::text IN :kinds
     GROUP BY u.code, u.name, t.promoter
     ORDER BY u.code, t.promoter NULLS FIRST
    """
).bindparams(bindparam("kinds", expanding=True))

_BUREAU_TRIPS = text(
    """
    SELECT u.code AS unit_code, u.name AS unit_name, m.month::int AS month,
           count(t.id) AS trips, coalesce(sum(t.projects_pitched), 0) AS projects_pitched
      FROM admin_area u
     CROSS JOIN generate_series(:first_month, :first_month + 2) AS m (month)
      LEFT JOIN promotion_trip t ON t.unit_code = u.code AND t.promoter_kind = 'BUREAU'
                                AND t.trip_on >= make_date(:year, m.month::int, 1)
                                AND t.trip_on < make_date(:year, m.month::int, 1) + interval '1 month'
     WHERE u.kind::text IN :kinds OR u.code = :city
     GROUP BY u.code, u.name, m.month
     ORDER BY u.code, m.month
    """
).bindparams(bindparam("kinds", expanding=True))


def quarter_bounds(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, 3 * quarter - 2, 1)
    finish = (
        dt.date(year, 12, 31)
        if quarter == 4
        else dt.date(year, 3 * quarter + 1, 1) - dt.timedelta(days=1)
    )
    return start, finish


async def leader_trips(conn: Conn, *, year: int, quarter: int) -> Sequence[Row[Any]]:
    """County leaders' trips in the quarter, per unit and leader; a unit with no trip
    appears once with promoter null (it cannot comply)."""
    start, finish = quarter_bounds(year, quarter)
    params = {
        "kinds": list(UNIT_KINDS),
        "start": start,
        "finish": finish,
        "per_trip": R.LEADER_MIN_PROJECTS_PER_TRIP,
    }
    return (await conn.execute(_LEADER_TRIPS, params)).all()


async def bureau_trips(conn: Conn, *, year: int, quarter: int) -> Sequence[Row[Any]]:
    """Promotion bureaus' trips per unit (and the city's bureau) per month of the quarter."""
    params = {
        "kinds": list(UNIT_KINDS),
        "city": CITY_CODE,
        "year": year,
        "first_month": 3 * quarter - 2,
    }
    return (await conn.execute(_BUREAU_TRIPS, params)).all()


_INSERT_TRIP = text(
    """
    INSERT INTO promotion_trip (unit_code, promoter_kind, promoter, trip_on, destination,
                                projects_pitched, note, actor)
    VALUES (:unit_code, :promoter_kind, :promoter, :trip_on, :destination, :projects_pitched,
            :note, coalesce(nullif(current_setting('landguard.sub', true), ''), 'system'))
    RETURNING id, unit_code, promoter_kind, promoter, trip_on, destination, projects_pitched,
              note, actor
    """
)


async def insert_trip(conn: Conn, **values: Any) -> Row[Any]:
    """Record one promotion trip (the actor is the transaction's bound landguard.sub)."""
    return (await conn.execute(_INSERT_TRIP, values)).one()


_UNIT_CODES = text("SELECT code FROM admin_area WHERE kind::text IN :kinds").bindparams(
    bindparam("kinds", expanding=True)
)


async def race_unit_codes(conn: Conn) -> set[str]:
    """Codes of the seven race units (six county-level units and the development zone)."""
    return set((await conn.execute(_UNIT_CODES, {"kinds": list(UNIT_KINDS)})).scalars())
