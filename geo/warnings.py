"""智能预警 in SQL: the rules of geo/warning_rules.py as one statement.

One SELECT per rule family (approval items, stages, investment, start, parcels, quota gap,
四定, issues), joined by UNION ALL; the page, the filters and the total come out of that
one statement (the total is a window count taken before the keyset cursor and the LIMIT).
The as-of date is a bound parameter for GraphQL; the map layer (`warnings_layer_source`)
reads it from the connection setting `landguard.today` (set from LANDGUARD_REFERENCE_DATE
by geo.db.create_engine), else the database's current date, so tiles and FeatureCollections
agree with GraphQL without a per-request parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import Integer, String, bindparam, column, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.types import Date

from geo import warning_rules as W
from geo.crs import STORAGE_SRID
from geo.enums import DispatchLevel, ProjectStage
from geo.guarantee import at_risk_all_sql
from geo.guarantee_rules import DEMAND_STATUSES, QUOTA_TOLERANCE_M2

LAYER_TODAY = (
    "coalesce(CAST(nullif(current_setting('landguard.today', true), '') AS date), current_date)"
)
"""The as-of date of the warnings map layer (see the module docstring)."""

_DEMAND = ", ".join(f"'{s.value}'" for s in DEMAND_STATUSES)


def _values(rows: Sequence[tuple[Any, ...]]) -> str:
    def lit(v: Any) -> str:
        return str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'"

    return ", ".join("(" + ", ".join(lit(v) for v in r) + ")" for r in rows)


_NORMS = _values(
    [(s.value, days, s.zh) for s, days in W.STAGE_NORM_DAYS.items()]
    or [(ProjectStage.FILING.value, 0, "")]
)
_LEVEL_ZH = _values([(lv.value, lv.zh) for lv in DispatchLevel])
_RULE_ROWS = _values([(r.code, r.severity.value, W.SEVERITY_RANK[r.severity]) for r in W.RULES])
_FIXED = ", ".join(
    f"CASE WHEN {cond} THEN '{key}' END"
    for key, cond in (
        ("investment_target", "coalesce(p.annual_target, 0) <= 0"),
        ("progress_target", "coalesce(btrim(p.progress_target), '') = ''"),
        ("lead_official", "coalesce(btrim(p.lead_official), '') = ''"),
        ("responsible_entity", "coalesce(btrim(p.responsible_entity), '') = ''"),
    )
)
_FIXED_ZH = ", ".join(f"'{k}', '{zh}'" for k, (zh, _en) in W.FOUR_FIXED.items())


def families_sql(d: str) -> str:
    """Every warning as of the date expression `d` (a trusted constant), one SELECT per
    rule family. Columns: rule, object_type, object_code, object_name, project_code,
    county_code, figures (jsonb), geom (a point)."""
    m = (
        f"CASE WHEN {d} = CAST(date_trunc('month', {d}) + interval '1 month - 1 day' AS date) "
        f"THEN extract(month FROM {d}) ELSE extract(month FROM {d}) - 1 END"
    )
    return f"""
SELECT CASE WHEN a.deadline < {d} THEN 'APPROVAL_OVERDUE' ELSE 'APPROVAL_DUE_SOON' END AS rule,
       'APPROVAL_ITEM' AS object_type, a.code AS object_code, p.name || '：' || a.name AS object_name,
       p.code AS project_code, p.county_code,
       CASE WHEN a.deadline < {d}
            THEN jsonb_build_object('deadline', a.deadline, 'days_overdue', {d} - a.deadline)
            ELSE jsonb_build_object('deadline', a.deadline, 'days_left', a.deadline - {d}) END AS figures,
       p.location AS geom
  FROM approval_item a JOIN project p ON p.id = a.project_id
 WHERE (a.status <> 'COMPLETED' OR a.completed_on > {d})
   AND a.deadline <= {d} + {W.APPROVAL_DUE_SOON_DAYS}
UNION ALL
SELECT 'STAGE_STALLED', 'PROJECT', p.code, p.name, p.code, p.county_code,
       jsonb_build_object('stage', p.stage, 'stage_zh', n.zh, 'entered_on', e.entered_on,
                          'days_in_stage', {d} - e.entered_on, 'norm_days', n.days),
       p.location
  FROM project p
  JOIN (VALUES {_NORMS}) n(stage, days, zh) ON n.stage = CAST(p.stage AS text)
 CROSS JOIN LATERAL (SELECT max(se.entered_on) AS entered_on FROM project_stage_event se
                      WHERE se.project_id = p.id AND se.stage = p.stage AND se.entered_on <= {d}) e
 WHERE {d} - e.entered_on > n.days
UNION ALL
SELECT CASE WHEN i.lag > {W.INVESTMENT_LAG_SEVERE_POINTS} THEN 'INVESTMENT_LAG_SEVERE'
            ELSE 'INVESTMENT_LAG' END,
       'PROJECT', i.code, i.name, i.code, i.county_code,
       jsonb_build_object('month', i.month, 'ytd', i.ytd, 'annual_target', i.annual_target,
                          'completion_pct', round(i.completion, 1), 'time_pct', round(i.elapsed, 1),
                          'lag_points', round(i.lag, 1)),
       i.location
  FROM (SELECT s.*, s.elapsed - s.completion AS lag
          FROM (SELECT p.code, p.name, p.county_code, p.location, p.annual_target, mm.month,
                       coalesce(sum(r.completed_investment), 0) AS ytd,
                       100 * coalesce(sum(r.completed_investment), 0) / p.annual_target AS completion,
                       100 * mm.month / 12.0 AS elapsed
                  FROM project p
                 CROSS JOIN (SELECT CAST({m} AS int) AS month) mm
                  LEFT JOIN investment_report r
                    ON r.project_id = p.id AND r.year = extract(year FROM {d}) AND r.month <= mm.month
                 WHERE p.annual_target > 0 AND p.actual_start <= {d} AND p.stage <> 'COMPLETED'
                   AND mm.month > 0
                 GROUP BY p.id, mm.month) s) i
 WHERE i.lag > {W.INVESTMENT_LAG_POINTS}
UNION ALL
SELECT 'START_OVERDUE', 'PROJECT', p.code, p.name, p.code, p.county_code,
       jsonb_build_object('planned_start', p.planned_start, 'days_late', {d} - p.planned_start),
       p.location
  FROM project p
 WHERE p.planned_start < {d} AND (p.actual_start IS NULL OR p.actual_start > {d})
UNION ALL
SELECT CASE WHEN k.kind = 1 THEN 'PARCEL_CONFLICT' ELSE 'PARCEL_OUTSIDE_URBAN' END,
       'PARCEL', pa.code, coalesce(pa.name, pa.code), p.code, pa.county_code,
       CASE WHEN k.kind = 1
            THEN jsonb_build_object('basic_farmland_m2', round(CAST(o.basic_farmland_m2 AS numeric), 2),
                                    'redline_m2', round(CAST(o.redline_m2 AS numeric), 2))
            ELSE jsonb_build_object('area_m2', round(CAST(pa.area_m2 AS numeric), 2),
                                    'outside_m2', round(CAST(greatest(pa.area_m2 - o.urban_boundary_m2, 0) AS numeric), 2))
       END,
       ST_PointOnSurface(pa.geom)
  FROM parcel pa
  JOIN parcel_overlay o ON o.parcel_id = pa.id
  JOIN project_parcel l ON l.parcel_id = pa.id AND l.unlinked_on IS NULL
  JOIN project p ON p.id = l.project_id AND p.stage <> 'COMPLETED'
 CROSS JOIN (VALUES (1), (2)) k(kind)
 WHERE pa.procedure_status IN ({_DEMAND})
   AND ((k.kind = 1 AND o.conflict) OR (k.kind = 2 AND o.outside_urban))
UNION ALL
SELECT 'QUOTA_GAP_KEY', 'PROJECT', p.code, p.name, p.code, p.county_code,
       jsonb_build_object('demand_m2', g.demand, 'covered_m2', g.covered, 'unmet_m2', g.unmet,
                          'county_remaining_m2', g.county_remaining),
       p.location
  FROM (SELECT r.project_id, round(sum(r.demand), 2) AS demand, round(sum(r.covered), 2) AS covered,
               round(sum(r.unmet), 2) AS unmet, round(min(r.county_remaining), 2) AS county_remaining
          FROM ({at_risk_all_sql(f"extract(year FROM {d})")}) r
         WHERE r.is_key AND NOT r.conflict AND r.unmet > {QUOTA_TOLERANCE_M2!r}
         GROUP BY r.project_id) g
  JOIN project p ON p.id = g.project_id
UNION ALL
SELECT 'FOUR_FIXED_MISSING', 'PROJECT', f.code, f.name, f.code, f.county_code,
       jsonb_build_object('missing', to_jsonb(f.missing),
                          'missing_zh', (SELECT jsonb_agg(jsonb_build_object({_FIXED_ZH}) ->> x)
                                           FROM unnest(f.missing) x)),
       f.location
  FROM (SELECT p.code, p.name, p.county_code, p.location,
               array_remove(ARRAY[{_FIXED}], NULL) AS missing
          FROM project p WHERE p.is_key) f
 WHERE cardinality(f.missing) > 0
UNION ALL
SELECT 'ISSUE_OVERDUE', 'ISSUE', q.code, q.title, p.code, p.county_code,
       jsonb_build_object('level', q.level, 'level_zh', lz.zh, 'due_date', q.due_date,
                          'days_overdue', {d} - q.due_date),
       p.location
  FROM project_issue q
  JOIN project p ON p.id = q.project_id
  JOIN (VALUES {_LEVEL_ZH}) lz(level, zh) ON lz.level = CAST(q.level AS text)
 WHERE (q.status <> 'RESOLVED' OR q.resolved_on > {d}) AND q.raised_on <= {d}
   AND q.due_date < {d}"""


def ranked_sql(d: str) -> str:
    """The families with each rule's severity and rank, and a unique feature key."""
    return f"""
SELECT w.rule || ':' || w.object_code AS code, w.rule, r.severity, r.rank, w.object_type,
       w.object_code, w.object_name, w.project_code, w.county_code, w.figures, w.geom
  FROM ({families_sql(d)}) w
  JOIN (VALUES {_RULE_ROWS}) r(rule, severity, rank) ON r.rule = w.rule"""


_FILTERS = """
 WHERE (CAST(:county AS varchar) IS NULL OR county_code = :county)
   AND (CAST(:project AS varchar) IS NULL OR project_code = :project)
   AND (CAST(:severities AS varchar[]) IS NULL OR severity = ANY(CAST(:severities AS varchar[])))
   AND (CAST(:codes AS varchar[]) IS NULL OR rule = ANY(CAST(:codes AS varchar[])))"""

_PAGE_SQL = f"""
WITH w AS ({ranked_sql("CAST(:d AS date)")})
SELECT x.* FROM (SELECT w.code AS key, w.rule, w.severity, w.rank, w.object_type, w.object_code,
                        w.object_name, w.project_code, w.county_code, w.figures,
                        count(*) OVER () AS total
                   FROM w {_FILTERS}) x
 WHERE CAST(:after_rank AS int) IS NULL
    OR (x.rank, x.rule, x.object_code) > (CAST(:after_rank AS int), CAST(:after_rule AS varchar),
                                          CAST(:after_object AS varchar))
 ORDER BY x.rank, x.rule, x.object_code
 LIMIT :limit"""

_COUNT_SQL = f"""
WITH w AS ({ranked_sql("CAST(:d AS date)")})
SELECT count(*) FROM w {_FILTERS}"""

_BINDS = (
    bindparam("d", type_=Date),
    bindparam("county", type_=String),
    bindparam("project", type_=String),
    bindparam("severities", type_=ARRAY(String)),
    bindparam("codes", type_=ARRAY(String)),
)
PAGE = text(_PAGE_SQL).bindparams(
    *_BINDS,
    bindparam("after_rank", type_=Integer),
    bindparam("after_rule", type_=String),
    bindparam("after_object", type_=String),
    bindparam("limit", type_=Integer),
)
COUNT = text(_COUNT_SQL).bindparams(*_BINDS)


@dataclass(frozen=True)
class WarningFilter:
    county_code: str | None = None
    project_code: str | None = None
    severities: tuple[str, ...] | None = None
    codes: tuple[str, ...] | None = None

    def params(self, as_of: dt.date) -> dict[str, Any]:
        return {
            "d": as_of,
            "county": self.county_code,
            "project": self.project_code,
            "severities": list(self.severities) if self.severities else None,
            "codes": list(self.codes) if self.codes else None,
        }


def cursor_key(row: Any) -> str:
    """The keyset position of a warning row: rank|rule|object code."""
    return f"{row.rank}|{row.rule}|{row.object_code}"


def parse_key(key: str | None) -> tuple[int, str, str] | None:
    """Inverse of cursor_key; ValueError when it is not one."""
    if key is None:
        return None
    rank, rule, obj = key.split("|", 2)
    return int(rank), rule, obj


async def warning_rows(
    db: AsyncSession | AsyncConnection,
    *,
    as_of: dt.date,
    filter: WarningFilter,
    after: tuple[int, str, str] | None = None,
    limit: int | None = None,
) -> Sequence[Any]:
    """One page of warnings in (severity rank, rule code, object code) order; each row
    carries `total`, the number matching the filter (before the cursor)."""
    a_rank, a_rule, a_obj = after or (None, None, None)
    params = {
        **filter.params(as_of),
        "after_rank": a_rank,
        "after_rule": a_rule,
        "after_object": a_obj,
        "limit": limit,
    }
    return (await db.execute(PAGE, params)).all()


async def count_warnings(
    db: AsyncSession | AsyncConnection, *, as_of: dt.date, filter: WarningFilter
) -> int:
    return int((await db.execute(COUNT, filter.params(as_of))).scalar_one())


def warnings_layer_source() -> Any:
    """The warnings as a selectable for geo/layers.py (as of LAYER_TODAY)."""
    return (
        text(ranked_sql(LAYER_TODAY))
        .columns(
            column("code", String),
            column("rule", String),
            column("severity", String),
            column("rank", Integer),
            column("object_type", String),
            column("object_code", String),
            column("object_name", String),
            column("project_code", String),
            column("county_code", String),
            column("geom", Geometry("POINT", srid=STORAGE_SRID, spatial_index=False)),
        )
        .subquery("warnings")
    )
