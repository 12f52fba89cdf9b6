"""Migration 0004's write guarantees, by direct SQL as the API's database role.

Every write here runs like the API's: `SET LOCAL ROLE landguard_api` and the settings
geo/actor.bind_actor sets. Expected numbers come from the demo set (read with an
independent query) or from geometry built by hand.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest
import shapely
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import make_url, text

from api.cli import downgrade, migrate
from api.settings import Settings
from geo import write_rules as W
from geo.actor import API_DB_ROLE
from geo.db import create_engine
from geo.geometry_input import DEFAULT_MAX_VERTICES
from tests.geometry_corpus import (
    StoredParcel,
    circle,
    multipolygon,
    overlap_cases,
    square,
    static_cases,
)

ROOT = Path(__file__).resolve().parents[1]
OVERLAP_PAIRS = (
    "SELECT count(*) FROM parcel a JOIN parcel b ON a.id < b.id AND a.geom && b.geom "
    "AND ST_Relate(a.geom, b.geom, '2********')"
)
INSERT_PARCEL = (
    "INSERT INTO parcel (code, county_code, geom, land_class, status_date) "
    "VALUES (%s, %s, CAST(%s AS geometry), 'FARMLAND', '2024-05-01')"
)


def plain(url: str) -> str:
    """psycopg's own URL form of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def act(
    conn: psycopg.Connection[Any],
    counties: str | None = "*",
    sub: str | None = "tester",
    role: str = "CITY_ADMIN",
    request_id: str = "req-test",
) -> None:
    """Inside a transaction: become the API role and bind an actor like bind_actor."""
    conn.execute(f"SET LOCAL ROLE {API_DB_ROLE}")
    for name, value in (
        ("landguard.sub", sub),
        ("landguard.role", role),
        ("landguard.counties", counties),
        ("landguard.request_id", request_id),
    ):
        if value is not None:
            conn.execute("SELECT set_config(%s, %s, true)", (name, value))


@pytest.fixture
def db(fresh_db_url: str) -> Iterator[psycopg.Connection[Any]]:
    # autocommit: each `with conn.transaction()` below is a real transaction, not a
    # savepoint of one long transaction (SET LOCAL and set_config must end with it)
    with psycopg.connect(plain(fresh_db_url), autocommit=True) as conn:
        yield conn


@contextmanager
def refused(conn: psycopg.Connection[Any]) -> Iterator[list[psycopg.Error]]:
    """Run a block in a transaction that must fail; the error lands in the list."""
    caught: list[psycopg.Error] = []
    try:
        with conn.transaction():
            yield caught
    except psycopg.Error as exc:
        caught.append(exc)
    assert caught, "the write was not refused"


def reason(exc: psycopg.Error) -> str:
    return exc.diag.constraint_name or exc.sqlstate or "?"


def scalar(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


# --------------------------------------------------------------------------- constants


def _migration() -> ModuleType:
    path = ROOT / "migrations" / "versions" / "0004_write_guarantees.py"
    spec = importlib.util.spec_from_file_location("migration_0004", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migration_constants_match_geo() -> None:
    m = _migration()
    assert m.API_ROLE == API_DB_ROLE
    assert m.BBOX == W.JINCHENG_BBOX
    assert m.MAX_VERTICES == W.MAX_PARCEL_VERTICES == DEFAULT_MAX_VERTICES
    assert m.MIN_AREA_M2 == W.MIN_PARCEL_AREA_M2
    assert m.LOCK_KEY == W.PARCEL_WRITE_LOCK_KEY
    names = set(m.GEOM_CHECKS) | {W.CK_FINITE, W.NO_SHARED_AREA}
    assert names == set(W.CONSTRAINT_ERROR_CODES)


def test_jincheng_bbox_contains_every_county_boundary(demo_sync_engine: Any) -> None:
    with demo_sync_engine.connect() as conn:
        x0, y0, x1, y1 = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                "FROM (SELECT ST_Extent(geom) AS e FROM admin_area) s"
            )
        ).one()
    bx0, by0, bx1, by1 = W.JINCHENG_BBOX
    assert bx0 < x0 and by0 < y0 and x1 < bx1 and y1 < by1


# --------------------------------------------------------------------------- geometry


def _stored(conn: psycopg.Connection[Any], where: str) -> list[StoredParcel]:
    rows = conn.execute(
        "SELECT code, county_code, ST_AsBinary(ST_ExteriorRing(ST_GeometryN(geom, 1))) "
        f"FROM parcel WHERE {where} ORDER BY code LIMIT 1"
    ).fetchall()
    return [StoredParcel(c, k, list(shapely.from_wkb(bytes(w)).coords)) for c, k, w in rows]


def test_bad_geometry_corpus_is_refused_and_nothing_stored(
    db: psycopg.Connection[Any],
) -> None:
    stored = []
    for county in ("140521", "140522", "140525"):  # simple demo rectangles, three counties
        stored += _stored(db, f"county_code = '{county}' AND ST_NPoints(geom) = 5")
    cases = static_cases() + overlap_cases(stored, other_county="140524")
    families = {c.family for c in cases}
    assert len(cases) >= 140 and len(families) >= 16
    parcels = scalar(db, "SELECT count(*) FROM parcel")
    audits = scalar(db, "SELECT count(*) FROM audit_log")
    wrong: list[str] = []
    for i, case in enumerate(cases):
        with refused(db) as caught:
            act(db)
            db.execute(INSERT_PARCEL, (f"BAD-{i}", case.county_code, case.literal))
        got = reason(caught[0])
        if got != case.reason:
            wrong.append(f"{case.name}: expected {case.reason}, got {got} ({caught[0]})")
    assert wrong == []
    assert scalar(db, "SELECT count(*) FROM parcel") == parcels
    assert scalar(db, "SELECT count(*) FROM audit_log") == audits


def test_overlap_error_names_both_parcels_and_the_legal_shared_area(
    db: psycopg.Connection[Any],
) -> None:
    (p,) = _stored(db, "county_code = '140522' AND ST_NPoints(geom) = 5")
    area = scalar(db, "SELECT area_m2 FROM parcel WHERE code = %s", (p.code,))
    with refused(db) as caught:
        act(db, counties="140522")
        db.execute(INSERT_PARCEL, ("COPY-1", "140522", multipolygon([p.exterior])))
    diag = caught[0].diag
    assert caught[0].sqlstate == W.SQLSTATE_PARCEL_OVERLAP
    assert diag.constraint_name == W.NO_SHARED_AREA and diag.message_hint == "PARCEL_OVERLAP"
    detail = json.loads(diag.message_detail or "")
    assert detail["parcelCode"] == "COPY-1" and detail["otherParcelCode"] == p.code
    assert detail["sharedAreaM2"] == pytest.approx(area, abs=0.01)  # the whole parcel
    assert p.code in (diag.message_primary or "") and "COPY-1" in (diag.message_primary or "")

    # half of it, shifted east by half its width: independent GK computation of the share
    shifted = [
        (x + (max(q[0] for q in p.exterior) - min(q[0] for q in p.exterior)) / 2, y)
        for x, y in p.exterior
    ]
    ewkt = multipolygon([shifted])
    expected = scalar(
        db,
        "SELECT ST_Area(ST_Transform(ST_Intersection(CAST(%s AS geometry), geom), gk_srid)) "
        "FROM parcel WHERE code = %s",
        (ewkt, p.code),
    )
    with refused(db) as caught:
        act(db)
        db.execute(INSERT_PARCEL, ("HALF-1", "140522", ewkt))
    detail = json.loads(caught[0].diag.message_detail or "")
    if detail["otherParcelCode"] == p.code:  # it may first meet a neighbour
        assert detail["sharedAreaM2"] == pytest.approx(round(expected, 2), abs=0.011)
    assert 0 < expected < area


def test_neighbours_sharing_an_edge_or_a_vertex_are_accepted(db: psycopg.Connection[Any]) -> None:
    before = scalar(db, "SELECT count(*) FROM parcel")
    with db.transaction():
        act(db)
        db.execute(INSERT_PARCEL, ("N-A", "140521", multipolygon([square(0, 0, 100)])))
        # one statement: B shares A's east edge, C touches B at one vertex, D shares half
        # of A's north edge — checked against the table and against each other
        db.execute(
            "INSERT INTO parcel (code, county_code, geom, land_class, status_date) VALUES "
            "('N-B', '140521', CAST(%s AS geometry), 'FARMLAND', '2024-05-01'), "
            "('N-C', '140521', CAST(%s AS geometry), 'FARMLAND', '2024-05-01'), "
            "('N-D', '140521', CAST(%s AS geometry), 'FARMLAND', '2024-05-01')",
            (
                multipolygon([square(100, 0, 100)]),
                multipolygon([square(200, 100, 100)]),
                multipolygon([square(50, 100, 100)]),
            ),
        )
    assert scalar(db, "SELECT count(*) FROM parcel") == before + 4
    assert scalar(db, OVERLAP_PAIRS) == 0
    # two new parcels overlapping only each other, in one statement: refused
    with refused(db) as caught:
        act(db)
        db.execute(
            "INSERT INTO parcel (code, county_code, geom, land_class, status_date) VALUES "
            "('N-E', '140521', CAST(%s AS geometry), 'FARMLAND', '2024-05-01'), "
            "('N-F', '140521', CAST(%s AS geometry), 'FARMLAND', '2024-05-01')",
            (multipolygon([square(1000, 0, 100)]), multipolygon([square(1050, 50, 100)])),
        )
    assert caught[0].sqlstate == W.SQLSTATE_PARCEL_OVERLAP
    # moving B one metre west into A: refused; moving it one metre east: fine
    with refused(db) as caught:
        act(db)
        db.execute(
            "UPDATE parcel SET geom = CAST(%s AS geometry) WHERE code = 'N-B'",
            (multipolygon([square(99, 0, 100)]),),
        )
    assert caught[0].sqlstate == W.SQLSTATE_PARCEL_OVERLAP
    with db.transaction():
        act(db)
        db.execute(
            "UPDATE parcel SET geom = CAST(%s AS geometry) WHERE code = 'N-B'",
            (multipolygon([square(101, 0, 100)]),),
        )
    assert scalar(db, OVERLAP_PAIRS) == 0


def test_clockwise_rings_are_stored_counter_clockwise(db: psycopg.Connection[Any]) -> None:
    shell_cw = square(0, 0, 300, ccw=False)
    hole_ccw = square(100, 100, 100, ccw=True)  # RFC 7946 wants holes clockwise
    ewkt = multipolygon([shell_cw, hole_ccw])
    with db.transaction():
        act(db)
        db.execute(INSERT_PARCEL, ("CW-1", "140521", ewkt))
    row = db.execute(
        "SELECT ST_IsPolygonCCW(geom), ST_OrderingEquals(geom, ST_ForcePolygonCCW(g)),"
        " ST_OrderingEquals(geom, g), ST_Equals(geom, g), area_m2,"
        " ST_Area(ST_Transform(g, gk_srid)), ST_Area(ST_Transform(ST_ExteriorRing(ST_GeometryN(g, 1)),"
        " gk_srid)), ST_IsPolygonCW(g) "
        "FROM parcel, CAST(%s AS geometry) AS g WHERE code = 'CW-1'",
        (ewkt,),
    ).fetchone()
    assert row is not None
    ccw, normalised, untouched, same_shape, area, expected, _, was_cw = row
    assert (ccw, normalised, untouched, same_shape, was_cw) == (True, True, False, True, True)
    assert area == pytest.approx(expected, abs=0.01)
    assert area == pytest.approx(80_000, rel=2e-3)  # 300² − 100² local metres (approximate)
    # already counter-clockwise: stored exactly as given
    good = multipolygon([square(1000, 0, 100)])
    with db.transaction():
        act(db)
        db.execute(INSERT_PARCEL, ("CCW-1", "140521", good))
    assert scalar(
        db,
        "SELECT ST_OrderingEquals(geom, CAST(%s AS geometry)) FROM parcel WHERE code = 'CCW-1'",
        (good,),
    )


def test_vertex_cap_is_inclusive_and_srid_0_takes_the_column_srid(
    db: psycopg.Connection[Any],
) -> None:
    at_cap = multipolygon([circle(W.MAX_PARCEL_VERTICES - 1)])  # + the closing point = the cap
    in_range_no_srid = multipolygon([square(1000, 0, 100)]).replace("SRID=4490;", "SRID=0;")
    with db.transaction():
        act(db)
        db.execute(INSERT_PARCEL, ("CAP-1", "140521", at_cap))
        db.execute(INSERT_PARCEL, ("SRID0-1", "140521", in_range_no_srid))
    rows = dict(
        db.execute(
            "SELECT code, ST_NPoints(geom) FROM parcel WHERE code IN ('CAP-1', 'SRID0-1')"
        ).fetchall()
    )
    assert rows == {"CAP-1": W.MAX_PARCEL_VERTICES, "SRID0-1": 5}
    assert scalar(db, "SELECT ST_SRID(geom) FROM parcel WHERE code = 'SRID0-1'") == 4490


def test_repeatable_read_geometry_writes_are_refused(db: psycopg.Connection[Any]) -> None:
    with refused(db) as caught:
        db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        act(db)
        db.execute(INSERT_PARCEL, ("RR-1", "140521", multipolygon([square(0, 0, 100)])))
    assert caught[0].sqlstate == W.SQLSTATE_ISOLATION


# --------------------------------------------------------------------------- concurrency


def _race(url: str, shapes: list[str]) -> list[str]:
    """Insert each shape from its own connection and transaction, all at once; return
    'ok' or the SQLSTATE per shape."""
    barrier = threading.Barrier(len(shapes))
    results = ["?"] * len(shapes)
    conns = [psycopg.connect(url) for _ in shapes]

    def run(i: int) -> None:
        conn = conns[i]
        try:
            with conn.transaction():
                act(conn, sub=f"racer-{i}")
                barrier.wait(timeout=60)
                conn.execute(INSERT_PARCEL, (f"RACE-{i:02d}", "140521", shapes[i]))
            results[i] = "ok"
        except psycopg.Error as exc:
            results[i] = exc.sqlstate or "?"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(shapes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for c in conns:
        c.close()
    return results


def test_fifty_concurrent_overlapping_inserts_leave_no_overlap(
    db: psycopg.Connection[Any], fresh_db_url: str
) -> None:
    # 50 squares of 200 m whose corners step 2 m: every pair shares the central area
    shapes = [multipolygon([square(2.0 * i, 2.0 * i, 200)]) for i in range(50)]
    results = _race(plain(fresh_db_url), shapes)
    assert results.count("ok") == 1
    assert results.count(W.SQLSTATE_PARCEL_OVERLAP) == 49
    assert scalar(db, "SELECT count(*) FROM parcel WHERE code LIKE 'RACE-%'") == 1
    assert scalar(db, OVERLAP_PAIRS) == 0


def test_fifty_concurrent_disjoint_inserts_all_succeed(
    db: psycopg.Connection[Any], fresh_db_url: str
) -> None:
    # a row of 50 squares of 100 m, each sharing its east edge with the next
    shapes = [multipolygon([square(100.0 * i, 0, 100)]) for i in range(50)]
    results = _race(plain(fresh_db_url), shapes)
    assert results == ["ok"] * 50
    assert scalar(db, "SELECT count(*) FROM parcel WHERE code LIKE 'RACE-%'") == 50
    assert scalar(db, OVERLAP_PAIRS) == 0


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("project", "name"),
        ("parcel", "name"),
        ("approval_item", "measures"),
        ("project_issue", "description"),
    ],
)
def test_every_update_bumps_the_version(
    db: psycopg.Connection[Any], table: str, column: str
) -> None:
    row_id, version, updated = db.execute(
        f"SELECT id, version, updated_at FROM {table} ORDER BY id LIMIT 1"
    ).fetchone() or (0, 0, None)
    assert version == 1
    with db.transaction():
        act(db)
        # the writer "forgets" the version, then tries to set it: the trigger decides
        db.execute(f"UPDATE {table} SET {column} = 'v2' WHERE id = %s", (row_id,))
        db.execute(f"UPDATE {table} SET {column} = 'v3', version = 99 WHERE id = %s", (row_id,))
    v, at = db.execute(
        f"SELECT version, updated_at FROM {table} WHERE id = %s", (row_id,)
    ).fetchone() or (0, None)
    assert v == 3 and at > updated
    with db.transaction():  # a stale compare-and-swap changes nothing
        act(db)
        n = db.execute(
            f"UPDATE {table} SET {column} = 'stale' WHERE id = %s AND version = 2", (row_id,)
        ).rowcount
    assert n == 0
    assert scalar(db, f"SELECT {column} FROM {table} WHERE id = %s", (row_id,)) == "v3"


# --------------------------------------------------------------------------- audit


def _audit(conn: psycopg.Connection[Any], request_id: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT table_name, action, actor_sub, actor_role, county_code, object_code, before, after "
        "FROM audit_log WHERE request_id = %s ORDER BY id",
        (request_id,),
    ).fetchall()


def test_every_write_leaves_exactly_one_audit_row(db: psycopg.Connection[Any]) -> None:
    total = scalar(db, "SELECT count(*) FROM audit_log")
    parcel = multipolygon([square(0, 0, 100)])
    with db.transaction():
        act(db, counties="140521", sub="alice", role="COUNTY_OFFICER", request_id="r-ins")
        db.execute(
            "INSERT INTO project (code, name, county_code, plan_type, stage, total_investment) "
            "SELECT 'AUD-P', 'audit test', '140521', plan_type, stage, 10 FROM project LIMIT 1"
        )
        db.execute(INSERT_PARCEL, ("AUD-L", "140521", parcel))
        db.execute(
            "INSERT INTO project_parcel (project_id, parcel_id, linked_on) SELECT p.id, l.id, "
            "'2024-05-01' FROM project p, parcel l WHERE p.code = 'AUD-P' AND l.code = 'AUD-L'"
        )
        db.execute(
            "INSERT INTO approval_item (code, project_id, item_type, name, handling_level) "
            "SELECT 'AUD-A', p.id, a.item_type, 'audit item', a.handling_level "
            "FROM project p, (SELECT * FROM approval_item LIMIT 1) a WHERE p.code = 'AUD-P'"
        )
        db.execute(
            "INSERT INTO project_issue (code, project_id, category, title, raised_on) "
            "SELECT 'AUD-I', p.id, i.category, 'audit issue', '2024-05-01' "
            "FROM project p, (SELECT * FROM project_issue LIMIT 1) i WHERE p.code = 'AUD-P'"
        )
        db.execute(
            "INSERT INTO land_quota_entry (year, holder_code, kind, entry_type, amount_m2, "
            "effective_on, actor, reason) VALUES (2024, '140521', 'NEW_CONSTRUCTION', "
            "'ALLOCATION', 1234, '2024-05-01', 'alice', 'audit test')"
        )
    rows = _audit(db, "r-ins")
    assert [(r[0], r[1]) for r in rows] == [
        ("project", "INSERT"),
        ("parcel", "INSERT"),
        ("project_parcel", "INSERT"),
        ("approval_item", "INSERT"),
        ("project_issue", "INSERT"),
        ("land_quota_entry", "INSERT"),
    ]
    assert {(r[2], r[3], r[4]) for r in rows} == {("alice", "COUNTY_OFFICER", "140521")}
    codes = [r[5] for r in rows]
    assert codes == ["AUD-P", "AUD-L", "AUD-P", "AUD-A", "AUD-I", "2024/140521/NEW_CONSTRUCTION"]
    assert all(r[6] is None for r in rows)
    parcel_after = rows[1][7]
    assert "geom" not in parcel_after and parcel_after["geom_vertices"] == 5
    assert len(parcel_after["geom_md5"]) == 32
    assert parcel_after["area_m2"] == pytest.approx(10_000, rel=2e-3)  # 100 m × 100 m
    assert rows[2][7]["parcel_code"] == "AUD-L" and rows[2][7]["project_code"] == "AUD-P"

    with db.transaction():
        act(db, counties="140521", sub="bob", role="COUNTY_OFFICER", request_id="r-upd")
        for table, column in (
            ("project", "name"),
            ("parcel", "name"),
            ("approval_item", "name"),
            ("project_issue", "title"),
        ):
            db.execute(f"UPDATE {table} SET {column} = 'renamed' WHERE code LIKE 'AUD-%%'")
        db.execute(
            "UPDATE project_parcel SET unlinked_on = '2024-06-01' WHERE project_id = "
            "(SELECT id FROM project WHERE code = 'AUD-P')"
        )
    rows = _audit(db, "r-upd")
    assert [(r[0], r[1]) for r in rows] == [
        ("project", "UPDATE"),
        ("parcel", "UPDATE"),
        ("approval_item", "UPDATE"),
        ("project_issue", "UPDATE"),
        ("project_parcel", "UPDATE"),
    ]
    assert {r[2] for r in rows} == {"bob"}
    project = rows[0]
    assert project[6]["name"] == "audit test" and project[7]["name"] == "renamed"
    assert (project[6]["version"], project[7]["version"]) == (1, 2)
    assert (rows[4][6]["unlinked_on"], rows[4][7]["unlinked_on"]) == (None, "2024-06-01")

    with db.transaction():
        act(db, counties="140521", sub="carol", request_id="r-del")
        db.execute(
            "DELETE FROM project_parcel WHERE project_id = "
            "(SELECT id FROM project WHERE code = 'AUD-P')"
        )
        for table in ("approval_item", "project_issue", "parcel", "project"):
            db.execute(f"DELETE FROM {table} WHERE code LIKE 'AUD-%%'")
    rows = _audit(db, "r-del")
    assert [(r[0], r[1], r[4]) for r in rows] == [
        ("project_parcel", "DELETE", "140521"),
        ("approval_item", "DELETE", "140521"),
        ("project_issue", "DELETE", "140521"),
        ("parcel", "DELETE", "140521"),
        ("project", "DELETE", "140521"),
    ]
    assert all(r[6] is not None and r[7] is None for r in rows)
    # 6 inserts + 5 updates + 5 deletes, nothing else
    assert scalar(db, "SELECT count(*) FROM audit_log") == total + 16


def test_a_multi_row_statement_audits_each_row(db: psycopg.Connection[Any]) -> None:
    project_id, n = db.execute(
        "SELECT project_id, count(*) FROM approval_item GROUP BY 1 HAVING count(*) >= 3 "
        "ORDER BY 1 LIMIT 1"
    ).fetchone() or (0, 0)
    with db.transaction():
        act(db, request_id="r-bulk")
        changed = db.execute(
            "UPDATE approval_item SET leader = 'new leader' WHERE project_id = %s", (project_id,)
        ).rowcount
    rows = _audit(db, "r-bulk")
    assert changed == n and len(rows) == n
    assert {r[7]["leader"] for r in rows} == {"new leader"}


def test_audit_log_cannot_be_changed_by_the_api_role(db: psycopg.Connection[Any]) -> None:
    with db.transaction():
        act(db, request_id="r-x")
        db.execute("UPDATE project SET name = name || '.' WHERE id = (SELECT min(id) FROM project)")
        assert scalar(db, "SELECT count(*) FROM audit_log WHERE request_id = 'r-x'") == 1
    for statement in (
        "UPDATE audit_log SET actor_sub = 'nobody'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "INSERT INTO audit_log (actor_sub, table_name, action) VALUES ('forged', 'project', 'INSERT')",
    ):
        with refused(db) as caught:
            act(db)
            db.execute(statement)
        assert caught[0].sqlstate == "42501", statement
    # the owner cannot rewrite history either (append-only trigger)
    for statement in (
        "UPDATE audit_log SET actor_sub = 'nobody'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with refused(db) as caught:
            db.execute(statement)
        assert caught[0].sqlstate == "23001", statement
    assert scalar(db, "SELECT count(*) FROM audit_log WHERE actor_sub = 'nobody'") == 0


def test_the_api_role_cannot_write_without_an_actor(db: psycopg.Connection[Any]) -> None:
    with refused(db) as caught:
        act(db, sub=None)
        db.execute("UPDATE project SET name = 'anonymous' WHERE id = (SELECT min(id) FROM project)")
    assert caught[0].sqlstate == W.SQLSTATE_NO_ACTOR
    assert scalar(db, "SELECT count(*) FROM project WHERE name = 'anonymous'") == 0
    # a job as the owner is recorded as system:<role>
    owner = scalar(db, "SELECT current_user")
    with db.transaction():
        db.execute("UPDATE project SET name = 'by job' WHERE id = (SELECT min(id) FROM project)")
    assert (
        scalar(db, "SELECT actor_sub FROM audit_log WHERE after->>'name' = 'by job'")
        == f"system:{owner}"
    )


# --------------------------------------------------------------------------- county RLS


def _one(conn: psycopg.Connection[Any], sql: str) -> int:
    return int(scalar(conn, sql))


def test_county_officer_writes_only_in_own_county(db: psycopg.Connection[Any]) -> None:
    own = _one(db, "SELECT min(id) FROM project WHERE county_code = '140521'")
    other = _one(db, "SELECT min(id) FROM project WHERE county_code = '140522'")
    other_item = _one(db, f"SELECT min(id) FROM approval_item WHERE project_id = {other}")
    own_item = _one(db, f"SELECT min(id) FROM approval_item WHERE project_id = {own}")
    other_parcel = _one(db, "SELECT min(id) FROM parcel WHERE county_code = '140522'")
    own_parcel = _one(db, "SELECT min(id) FROM parcel WHERE county_code = '140521'")

    def count(sql: str, counties: str | None = "140521") -> int:
        with db.transaction():
            act(db, counties=counties, role="COUNTY_OFFICER")
            return db.execute(sql).rowcount

    assert count(f"UPDATE project SET name = 'mine' WHERE id = {own}") == 1
    assert count(f"UPDATE project SET name = 'theirs' WHERE id = {other}") == 0
    assert count(f"UPDATE approval_item SET leader = 'x' WHERE id = {own_item}") == 1
    assert count(f"UPDATE approval_item SET leader = 'x' WHERE id = {other_item}") == 0
    assert count(f"UPDATE parcel SET name = 'x' WHERE id = {own_parcel}") == 1
    assert count(f"UPDATE parcel SET name = 'x' WHERE id = {other_parcel}") == 0
    assert count(f"DELETE FROM approval_item WHERE id = {other_item}") == 0
    assert count(f"DELETE FROM project WHERE id = {other}") == 0
    assert count("UPDATE project SET name = 'all' WHERE county_code = '140522'") == 0
    # no county setting at all: no writes anywhere
    assert count(f"UPDATE project SET name = 'nobody' WHERE id = {own}", counties=None) == 0
    # several counties, and '*'
    assert (
        count(
            f"UPDATE project SET name = 'both' WHERE id IN ({own}, {other})",
            counties="140521,140522",
        )
        == 2
    )
    n522 = _one(db, "SELECT count(*) FROM project WHERE county_code = '140522'")
    assert (
        count(
            "UPDATE project SET stats_status = stats_status WHERE county_code = '140522'",
            counties="*",
        )
        == n522
    )
    assert _one(db, f"SELECT count(*) FROM project WHERE id = {other} AND name = 'theirs'") == 0

    inserts = {
        "project": "INSERT INTO project (code, name, county_code, plan_type, stage, "
        "total_investment) SELECT 'RLS-{c}', 'rls', '{c}', plan_type, stage, 1 FROM project LIMIT 1",
        "approval_item": "INSERT INTO approval_item (code, project_id, item_type, name, "
        "handling_level) SELECT 'RLS-{c}', (SELECT min(id) FROM project WHERE county_code = '{c}'), "
        "item_type, 'rls', handling_level FROM approval_item LIMIT 1",
        "land_quota_entry": "INSERT INTO land_quota_entry (year, holder_code, kind, entry_type, "
        "amount_m2, effective_on, actor, reason) VALUES (2024, '{c}', 'NEW_CONSTRUCTION', "
        "'ALLOCATION', 5, '2024-05-01', 'officer', 'rls')",
    }
    for table, sql in inserts.items():
        assert count(sql.format(c="140521")) == 1, table
        for foreign in ("140522", "140500"):
            if table != "land_quota_entry" and foreign == "140500":
                continue
            with refused(db) as caught:
                act(db, counties="140521", role="COUNTY_OFFICER")
                db.execute(sql.format(c=foreign))
            assert caught[0].sqlstate == "42501", (table, foreign)
    shape = multipolygon([square(0, 0, 100)])
    with db.transaction():
        act(db, counties="140521", role="COUNTY_OFFICER")
        db.execute(INSERT_PARCEL, ("RLS-P1", "140521", shape))
    with refused(db) as caught:
        act(db, counties="140521", role="COUNTY_OFFICER")
        db.execute(INSERT_PARCEL, ("RLS-P2", "140522", multipolygon([square(500, 0, 100)])))
    assert caught[0].sqlstate == "42501"
    # moving one's own project into another county is a write there: refused
    with refused(db) as caught:
        act(db, counties="140521", role="COUNTY_OFFICER")
        db.execute(f"UPDATE project SET county_code = '140522' WHERE id = {own}")
    assert caught[0].sqlstate == "42501"
    # the ledger entry of the officer's county moved its balance (trigger as owner)
    assert _one(db, "SELECT count(*) FROM land_quota_entry WHERE reason = 'rls'") == 1


def test_the_api_role_reads_every_county(db: psycopg.Connection[Any]) -> None:
    tables = (
        "project",
        "parcel",
        "approval_item",
        "project_issue",
        "project_parcel",
        "investment_report",
        "land_quota_entry",
        "audit_log",
        "alembic_version",
        "code_label",
        "parcel_overlay",
        "project_land_demand",
    )
    owner = {t: _one(db, f"SELECT count(*) FROM {t}") for t in tables}
    with db.transaction():
        act(db, counties="140521", role="COUNTY_OFFICER")
        assert scalar(db, "SELECT current_user") == API_DB_ROLE
        seen = {t: _one(db, f"SELECT count(*) FROM {t}") for t in tables}
        counties = _one(db, "SELECT count(DISTINCT county_code) FROM project")
    assert seen == owner and counties == 6 and owner["project"] > 1000
    with db.transaction():  # no settings at all: reads still see everything
        db.execute(f"SET LOCAL ROLE {API_DB_ROLE}")
        assert _one(db, "SELECT count(*) FROM parcel") == owner["parcel"]


# --------------------------------------------------------------------------- wiring


async def test_engine_switches_role_on_every_connection(demo_db_url: str) -> None:
    engine = create_engine(demo_db_url, pool_size=2, role=API_DB_ROLE)
    try:
        for _ in range(3):
            async with engine.connect() as conn:
                assert await conn.scalar(text("SELECT current_user")) == API_DB_ROLE
                await conn.rollback()  # the pool's reset must not undo SET ROLE
        async with engine.connect() as a, engine.connect() as b:
            assert await a.scalar(text("SELECT current_user")) == API_DB_ROLE
            assert await b.scalar(text("SELECT current_user")) == API_DB_ROLE
    finally:
        await engine.dispose()
    owner = create_engine(demo_db_url, role=None)
    try:
        async with owner.connect() as conn:
            assert await conn.scalar(text("SELECT current_user")) != API_DB_ROLE
    finally:
        await owner.dispose()


async def test_the_app_reads_as_the_api_role(app: Any) -> None:
    async with app.state.sessions() as conn:
        assert await conn.scalar(text("SELECT current_user")) == API_DB_ROLE


def test_settings_read_the_db_role() -> None:
    assert Settings.from_env({"DATABASE_URL": "postgresql://x/y"}).db_role == API_DB_ROLE
    env = {"DATABASE_URL": "postgresql://x/y", "LANDGUARD_DB_ROLE": ""}
    assert Settings.from_env(env).db_role == ""


def test_downgrade_removes_everything_but_the_role(empty_db_url: str) -> None:
    settings = Settings(database_url=empty_db_url)
    migrate(settings)
    downgrade(settings, "0003")
    engine = create_sync_engine(empty_db_url)
    with engine.connect() as conn:
        left = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM pg_policies WHERE schemaname = 'public'), "
                "(SELECT count(*) FROM pg_class WHERE relrowsecurity AND relnamespace = 'public'::regnamespace), "
                "to_regclass('public.audit_log') IS NULL, "
                "(SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = :r), "
                "(SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'audit_%%' OR tgname LIKE '%%bump_version' "
                "  OR tgname LIKE 'parcel_geom_%%' OR tgname LIKE 'parcel_no_shared%%'), "
                "(SELECT count(*) FROM pg_constraint WHERE conname = 'parcel_geom_check'), "
                "(SELECT count(*) FROM pg_proc WHERE prosecdef AND proname LIKE 'parcel_overlay%%'), "
                "EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :r)"
            ),
            {"r": API_DB_ROLE},
        ).one()
    engine.dispose()
    assert tuple(left) == (0, 0, True, 0, 0, 1, 0, True)
    migrate(settings)  # and up again
    engine = create_sync_engine(empty_db_url)
    with engine.connect() as conn:
        # 0004's 50 and 0006's three on promotion_trip (read, owner, county insert)
        assert conn.execute(text("SELECT count(*) FROM pg_policies")).scalar_one() == 53
    engine.dispose()
