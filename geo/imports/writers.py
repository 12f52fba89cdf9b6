"""INSERT … SELECT from the staging table into the store: only rows still `ok`, in file
order, one statement per table. Areas are never written: the tables compute them.

Parcels are insert-only (changing a parcel goes through the mutations, which date each
status step and check versions); zones, admin areas and projects may be upserted on their
code (`mode='upsert'`), which bumps a project's version and dates a stage change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo.imports.report import Kind
from geo.imports.staging import STAGE

TABLE = {
    Kind.PARCELS: "parcel",
    Kind.ZONES: "protected_zone",
    Kind.ADMIN_AREAS: "admin_area",
    Kind.PROJECTS: "project",
}
IMPORT_NOTE = "批量导入 bulk import"
# Stored orientation: exterior rings counter-clockwise, holes clockwise (RFC 7946).
GEOM = "ST_Multi(ST_ForcePolygonCCW(s.geom))"


@dataclass(frozen=True)
class Written:
    inserted: int
    updated: int
    area_m2: float | None


INSERT_PARCELS = text(
    f"""
    WITH ins AS (
        INSERT INTO parcel (code, name, county_code, geom, land_class, procedure_status,
                            status_date, supply_method, agreed_start_date, approval_doc)
        SELECT s.code, s.attrs->>'name', s.attrs->>'county_code', {GEOM},
               CAST(s.attrs->>'land_class' AS land_class),
               CAST(s.attrs->>'procedure_status' AS land_status),
               CAST(s.attrs->>'status_date' AS date),
               CAST(s.attrs->>'supply_method' AS supply_method),
               CAST(s.attrs->>'agreed_start_date' AS date),
               s.attrs->>'approval_doc'
        FROM {STAGE} s WHERE s.ok ORDER BY s.seq
        RETURNING id, code, procedure_status, status_date, area_m2
    ), events AS (
        INSERT INTO parcel_status_event (parcel_id, status, occurred_on, actor, reason)
        SELECT id, procedure_status, status_date, :actor, :note FROM ins
    ), links AS (
        INSERT INTO project_parcel (project_id, parcel_id, linked_on)
        SELECT pr.id, ins.id, :today
        FROM ins JOIN {STAGE} s ON s.code = ins.code
                 JOIN project pr ON pr.code = s.attrs->>'project_code'
    )
    SELECT count(*), sum(area_m2) FROM ins
    """
)

ZONE_UPSERT = """
    ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name,
        county_code = EXCLUDED.county_code, geom = EXCLUDED.geom, source = EXCLUDED.source
"""
INSERT_ZONES = f"""
    WITH up AS (
        INSERT INTO protected_zone AS t (code, kind, name, county_code, geom, source)
        SELECT s.code, CAST(s.attrs->>'kind' AS zone_kind), s.attrs->>'name',
               s.attrs->>'county_code', {GEOM}, s.attrs->>'source'
        FROM {STAGE} s WHERE s.ok ORDER BY s.seq
        {{upsert}}
        RETURNING (t.xmax = 0) AS inserted, t.area_m2
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), sum(area_m2)
    FROM up
"""

ADMIN_UPSERT = """
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, name_en = EXCLUDED.name_en,
        kind = EXCLUDED.kind, parent_code = EXCLUDED.parent_code, geom = EXCLUDED.geom,
        source = EXCLUDED.source
"""
# One statement: a child whose parent is in the same file is fine (foreign keys are checked
# at the end of the statement).
INSERT_ADMIN = f"""
    WITH up AS (
        INSERT INTO admin_area AS t (code, name, name_en, kind, parent_code, geom, source)
        SELECT s.code, s.attrs->>'name', s.attrs->>'name_en', CAST(s.attrs->>'kind' AS admin_kind),
               s.attrs->>'parent_code', {GEOM}, s.attrs->>'source'
        FROM {STAGE} s WHERE s.ok ORDER BY s.seq
        {{upsert}}
        RETURNING (t.xmax = 0) AS inserted, t.area_m2
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), sum(area_m2)
    FROM up
"""

# column → SQL expression over the staging row `s`
PROJECT_COLUMNS: dict[str, str] = {
    "code": "s.code",
    "name": "s.attrs->>'name'",
    "county_code": "s.attrs->>'county_code'",
    "plan_type": "CAST(s.attrs->>'plan_type' AS plan_type)",
    "stage": "CAST(s.attrs->>'stage' AS project_stage)",
    "industry": "s.attrs->>'industry'",
    "is_key": "CAST(s.attrs->>'is_key' AS boolean)",
    "key_list_year": "CAST(s.attrs->>'key_list_year' AS smallint)",
    "categories": "CAST(ARRAY(SELECT jsonb_array_elements_text(s.attrs->'categories')) AS key_category[])",
    "total_investment": "CAST(s.attrs->>'total_investment' AS numeric)",
    "annual_target": "CAST(s.attrs->>'annual_target' AS numeric)",
    "progress_target": "s.attrs->>'progress_target'",
    "planned_start": "CAST(s.attrs->>'planned_start' AS date)",
    "planned_finish": "CAST(s.attrs->>'planned_finish' AS date)",
    "actual_start": "CAST(s.attrs->>'actual_start' AS date)",
    "lead_official": "s.attrs->>'lead_official'",
    "lead_official_title": "s.attrs->>'lead_official_title'",
    "responsible_entity": "s.attrs->>'responsible_entity'",
    "signing_status": "CAST(s.attrs->>'signing_status' AS signing_status)",
    "stats_status": "CAST(s.attrs->>'stats_status' AS stats_status)",
}
# a sheet column → the project columns it decides (an update changes only those)
PROJECT_COLUMNS_OF: dict[str, tuple[str, ...]] = {
    "lead_official": ("lead_official", "lead_official_title"),
    "categories": ("categories", "is_key", "key_list_year"),
    "is_key": ("is_key", "key_list_year", "categories"),
    "key_list_year": ("key_list_year",),
}


def _project_sql(update_fields: Collection[str] | None) -> str:
    cols = list(PROJECT_COLUMNS)
    upsert = ""
    if update_fields is not None:
        chosen: list[str] = []
        for f in update_fields:
            for col in PROJECT_COLUMNS_OF.get(f, (f,)):
                if col in PROJECT_COLUMNS and col != "code" and col not in chosen:
                    chosen.append(col)
        sets = [f"{col} = EXCLUDED.{col}" for col in chosen]
        sets += ["version = t.version + 1", "updated_at = now()"]
        upsert = "ON CONFLICT (code) DO UPDATE SET " + ", ".join(sets)
    return f"""
    WITH before AS (
        SELECT p.code, p.stage FROM project p JOIN {STAGE} s ON s.code = p.code WHERE s.ok
    ), up AS (
        INSERT INTO project AS t ({", ".join(cols)})
        SELECT {", ".join(PROJECT_COLUMNS[c] for c in cols)}
        FROM {STAGE} s WHERE s.ok ORDER BY s.seq
        {upsert}
        RETURNING t.id, t.code, t.stage, (t.xmax = 0) AS inserted
    ), events AS (
        INSERT INTO project_stage_event (project_id, stage, entered_on, actor, note)
        SELECT up.id, up.stage, :today, :actor, :note
        FROM up LEFT JOIN before b ON b.code = up.code
        WHERE b.code IS NULL OR b.stage <> up.stage
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), NULL
    FROM up
    """


def write(
    conn: Connection,
    kind: Kind,
    *,
    upsert: bool,
    actor: str,
    today: dt.date,
    update_fields: Collection[str] | None = None,
) -> Written:
    """Write the staged good rows of `kind`; returns inserted/updated counts and the area."""
    params = {"actor": actor, "note": IMPORT_NOTE, "today": today}
    if kind is Kind.PARCELS:
        if upsert:
            raise ValueError("parcels are imported insert-only")
        count, area = conn.execute(INSERT_PARCELS, params).one()
        return Written(int(count), 0, float(area or 0.0))
    if kind is Kind.PROJECTS:
        sql = _project_sql(update_fields if upsert else None)
    else:
        template = INSERT_ZONES if kind is Kind.ZONES else INSERT_ADMIN
        upsert_sql = (ZONE_UPSERT if kind is Kind.ZONES else ADMIN_UPSERT) if upsert else ""
        sql = template.format(upsert=upsert_sql)
    inserted, updated, area = conn.execute(text(sql), params).one()
    return Written(int(inserted), int(updated), None if area is None else float(area))
