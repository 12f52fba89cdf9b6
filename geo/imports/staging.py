"""The TEMP staging table and the validation SQL run on it in bulk (one statement per
check, all rows at once), inside the import's transaction.

Rows arrive with their WKB in the file's SRID; PostGIS transforms them to 4490 (a row
PROJ cannot transform is reported, not raised: the transform runs in a small temp
function that turns the error into NULL). Then every geometry is checked again in the
database — type, dimensions, SRID, extent, vertex count and `ST_IsValid` with
`ST_IsValidReason` — whatever the Python checks said: the database's GEOS is the one the
table CHECKs use. Parcels are then checked for shared area (`ST_Relate(a, b,
'2********')`, interiors intersecting in 2-D, so neighbours that only share an edge
pass) against the store and against each other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo.crs import CITY_CODE, GK_EAST_SRID, GK_WEST_SRID, GK_ZONE_BOUNDARY_LON, STORAGE_SRID
from geo.seed.bulk import copy_rows

STAGE = "import_stage"
COLUMNS = ("seq", "fid", "code", "attrs", "wkb", "src_srid")

CREATE = text(
    f"""
    CREATE TEMP TABLE {STAGE} (
        seq      integer PRIMARY KEY,
        fid      text,
        code     text,
        attrs    jsonb NOT NULL,
        wkb      bytea,
        src_srid integer,
        geom     geometry,
        area_m2  double precision,
        ok       boolean NOT NULL DEFAULT true
    ) ON COMMIT DROP
    """
)
# pg_temp functions live as long as the session's temp schema; CREATE OR REPLACE keeps a
# second import on the same connection working.
CREATE_TRANSFORM = text(
    f"""
    CREATE OR REPLACE FUNCTION pg_temp.lg_import_geom(wkb bytea, srid integer)
    RETURNS geometry LANGUAGE plpgsql AS $$
    BEGIN
        IF srid = {STORAGE_SRID} THEN
            RETURN ST_GeomFromWKB(wkb, srid);
        END IF;
        RETURN ST_Transform(ST_GeomFromWKB(wkb, srid), {STORAGE_SRID});
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END $$
    """
)
TRANSFORM = text(
    f"UPDATE {STAGE} SET geom = pg_temp.lg_import_geom(wkb, src_srid) WHERE wkb IS NOT NULL"
)
INDEX = text(f"CREATE INDEX ON {STAGE} USING gist (geom)")
ANALYZE = text(f"ANALYZE {STAGE}")

# The Gauss-Krüger zone of a geometry, as the parcel table's generated gk_srid computes it.
GK_OF = (
    f"(CASE WHEN ST_X(ST_Centroid({{g}})) < {GK_ZONE_BOUNDARY_LON} "
    f"THEN {GK_WEST_SRID} ELSE {GK_EAST_SRID} END)"
)
IN_CHINA = (
    "ST_XMin(geom) >= 73 AND ST_XMax(geom) <= 136 AND ST_YMin(geom) >= 3 AND ST_YMax(geom) <= 54"
)

GEOMETRY_CHECKS = text(
    f"""
    WITH extent AS (
        SELECT CASE WHEN :city_extent THEN
                    (SELECT ST_Expand(ST_Envelope(geom), 0.01) FROM admin_area WHERE code = :city)
               END AS box
    ), checked AS (
        SELECT s.seq, s.geom, s.src_srid,
               CASE
                   WHEN s.geom IS NULL THEN 'NO_TRANSFORM'
                   WHEN ST_IsEmpty(s.geom) THEN 'EMPTY_GEOMETRY'
                   WHEN ST_NDims(s.geom) <> 2 THEN 'NOT_2D'
                   WHEN GeometryType(s.geom) NOT IN ('POLYGON', 'MULTIPOLYGON')
                       THEN 'UNSUPPORTED_GEOMETRY_TYPE'
                   WHEN ST_SRID(s.geom) <> {STORAGE_SRID} THEN 'UNSUPPORTED_SRID'
                   WHEN NOT ({IN_CHINA.replace("geom", "s.geom")}) THEN 'OUTSIDE_CHINA'
                   WHEN NOT ST_CoveredBy(s.geom, e.box) THEN 'OUTSIDE_CITY'
                   WHEN ST_NPoints(s.geom) > :max_vertices THEN 'TOO_MANY_VERTICES'
                   WHEN NOT ST_IsValid(s.geom) THEN 'INVALID_GEOMETRY'
               END AS problem
        FROM {STAGE} s CROSS JOIN extent e
        WHERE s.wkb IS NOT NULL
    )
    SELECT seq, problem, src_srid, GeometryType(geom) AS geom_type, ST_NPoints(geom) AS npoints,
           CASE WHEN problem IN ('OUTSIDE_CHINA', 'OUTSIDE_CITY')
                THEN array[ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)] END AS bbox,
           CASE WHEN problem = 'INVALID_GEOMETRY' THEN ST_IsValidReason(geom) END AS reason,
           CASE WHEN problem = 'INVALID_GEOMETRY' THEN ST_X((ST_IsValidDetail(geom)).location) END AS x,
           CASE WHEN problem = 'INVALID_GEOMETRY' THEN ST_Y((ST_IsValidDetail(geom)).location) END AS y
    FROM checked WHERE problem IS NOT NULL ORDER BY seq
    """
)

DUPLICATES_IN_FILE = text(
    f"""
    SELECT seq, code, first_seq FROM (
        SELECT seq, code, min(seq) OVER (PARTITION BY code) AS first_seq
        FROM {STAGE} WHERE code IS NOT NULL
    ) d WHERE seq <> first_seq ORDER BY seq
    """
)
# table names come from a fixed mapping (writers.TABLE), never from input
DUPLICATES_IN_STORE = (
    "SELECT s.seq, s.code FROM {stage} s JOIN {table} t ON t.code = s.code ORDER BY s.seq"
)
UNKNOWN_PROJECTS = text(
    f"""
    SELECT s.seq, s.attrs->>'project_code' FROM {STAGE} s
    WHERE s.attrs->>'project_code' IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM project p WHERE p.code = s.attrs->>'project_code')
    ORDER BY s.seq
    """
)
UNKNOWN_PARENTS = text(
    f"""
    SELECT s.seq, s.attrs->>'parent_code' FROM {STAGE} s
    WHERE s.ok AND s.attrs->>'parent_code' IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM admin_area a WHERE a.code = s.attrs->>'parent_code')
      AND NOT EXISTS (SELECT 1 FROM {STAGE} o WHERE o.ok AND o.code = s.attrs->>'parent_code')
    ORDER BY s.seq
    """
)
MARK_BAD = text(f"UPDATE {STAGE} SET ok = false WHERE seq = ANY(:seqs)")

# Shared area (m²) is measured in the importing parcel's Gauss-Krüger zone, as its legal area is.
OVERLAPS_STORE = text(
    f"""
    SELECT s.seq, p.code,
           ST_Area(ST_Transform(ST_Intersection(s.geom, p.geom), {GK_OF.format(g="s.geom")})) AS shared
    FROM {STAGE} s JOIN parcel p ON p.geom && s.geom AND ST_Relate(s.geom, p.geom, '2********')
    WHERE s.ok ORDER BY s.seq, p.code
    """
)
OVERLAPS_IN_FILE = text(
    f"""
    SELECT b.seq, a.seq AS other_seq, a.code AS other_code, a.fid AS other_fid,
           ST_Area(ST_Transform(ST_Intersection(a.geom, b.geom), {GK_OF.format(g="b.geom")})) AS shared
    FROM {STAGE} a JOIN {STAGE} b
      ON a.seq < b.seq AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********')
    WHERE a.ok AND b.ok ORDER BY b.seq, a.seq
    """
)
# Legal plane area in the Gauss-Krüger zone for parcels (like parcel.area_m2), spheroidal
# area for zones and admin areas (like their area_m2 columns).
AREA_GK = text(
    f"UPDATE {STAGE} SET area_m2 = ST_Area(ST_Transform(geom, {GK_OF.format(g='geom')})) WHERE ok"
)
AREA_GEOGRAPHY = text(f"UPDATE {STAGE} SET area_m2 = ST_Area(geom::geography) WHERE ok")
VALID_AREA = text(f"SELECT sum(area_m2) FROM {STAGE} WHERE ok")
DROP = text(f"DROP TABLE IF EXISTS {STAGE}")


@dataclass(frozen=True)
class StagedRow:
    seq: int
    fid: str | None
    code: str | None
    attrs: dict[str, Any]
    wkb: bytes | None
    src_srid: int | None


def stage_rows(conn: Connection, rows: Iterable[StagedRow], *, spatial: bool) -> int:
    """Create the staging table, COPY the rows in and (spatial) transform to 4490."""
    conn.execute(DROP)
    conn.execute(CREATE)
    n = copy_rows(
        conn,
        STAGE,
        COLUMNS,
        (
            (r.seq, r.fid, r.code, json.dumps(r.attrs, ensure_ascii=False), r.wkb, r.src_srid)
            for r in rows
        ),
    )
    if spatial:
        conn.execute(CREATE_TRANSFORM)
        conn.execute(TRANSFORM)
        conn.execute(INDEX)
    conn.execute(ANALYZE)
    return n


def geometry_problems(
    conn: Connection, *, max_vertices: int, city_extent: bool
) -> list[dict[str, Any]]:
    rows = conn.execute(
        GEOMETRY_CHECKS,
        {"max_vertices": max_vertices, "city_extent": city_extent, "city": CITY_CODE},
    ).mappings()
    return [dict(r) for r in rows]


def duplicates(conn: Connection, table: str | None) -> tuple[list[Any], list[Any]]:
    """(rows repeating an earlier row's code, rows whose code the store already has)."""
    in_file = list(conn.execute(DUPLICATES_IN_FILE))
    in_store: list[Any] = []
    if table is not None:
        in_store = list(conn.execute(text(DUPLICATES_IN_STORE.format(stage=STAGE, table=table))))
    return in_file, in_store


def mark_bad(conn: Connection, seqs: Sequence[int]) -> None:
    if seqs:
        conn.execute(MARK_BAD, {"seqs": list(seqs)})


def valid_area(conn: Connection, *, legal: bool) -> float:
    conn.execute(AREA_GK if legal else AREA_GEOGRAPHY)
    return float(conn.execute(VALID_AREA).scalar_one() or 0.0)
