"""The trigger-kept tallies of migration 0003 always equal a from-scratch computation.

Each expected table below is written out independently of the trigger functions (plain
aggregates over parcel, links, overlay, events and the ledger). After every kind of write
— status steps, link moves, project edits, zone edits, ledger entries, deletes, bulk
updates and two concurrent writers on one project — the tallies must match exactly; and
the current-state figures read from them must equal the as-of path rebuilt from the dated
facts on the same day.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from geo import guarantee
from geo.enums import KeyCategory, SigningStatus
from geo.guarantee_rules import DEMAND_STATUSES, priority_tier

DEMO_DATE = dt.date(2024, 10, 31)
DEMAND = ", ".join(f"'{s.value}'" for s in DEMAND_STATUSES)

EXPECTED = {
    "project_land_demand": f"""
        SELECT pr.id, p.county_code, pr.is_key,
               (CASE WHEN 'PROVINCIAL_KEY' = ANY (pr.categories) THEN 1 WHEN pr.is_key THEN 2
                     WHEN pr.signing_status = 'SIGNED' THEN 3
                     WHEN pr.signing_status = 'ABOUT_TO_SIGN' THEN 4 ELSE 5 END) AS tier,
               pr.planned_start, pr.code,
               sum(round(p.new_construction_area_m2::numeric, 2)) AS demand,
               count(*) AS parcels, count(*) FILTER (WHERE o.conflict) AS conflicts,
               coalesce(sum(round(p.new_construction_area_m2::numeric, 2))
                        FILTER (WHERE o.conflict), 0) AS conflict_demand,
               round(sum(o.basic_farmland_m2)::numeric, 3) AS farmland,
               round(sum(o.redline_m2)::numeric, 3) AS redline,
               count(*) FILTER (WHERE o.outside_urban) AS outside
          FROM parcel p
          JOIN project_parcel l ON l.parcel_id = p.id AND l.unlinked_on IS NULL
          JOIN project pr ON pr.id = l.project_id
          JOIN parcel_overlay o ON o.parcel_id = p.id
         WHERE p.procedure_status IN ({DEMAND}) AND pr.stage <> 'COMPLETED'
         GROUP BY pr.id, p.county_code""",
    "county_demand_tally": f"""
        SELECT county_code, coalesce(sum(demand) FILTER (WHERE is_key), 0),
               coalesce(sum(demand) FILTER (WHERE NOT is_key), 0),
               sum(conflicts), round(sum(farmland), 3), round(sum(redline), 3),
               coalesce(sum(conflict_demand) FILTER (WHERE is_key), 0), sum(outside), count(*)
          FROM (SELECT pr.id, p.county_code, pr.is_key,
                       sum(round(p.new_construction_area_m2::numeric, 2)) AS demand,
                       count(*) FILTER (WHERE o.conflict) AS conflicts,
                       coalesce(sum(round(p.new_construction_area_m2::numeric, 2))
                                FILTER (WHERE o.conflict), 0) AS conflict_demand,
                       sum(o.basic_farmland_m2::numeric) AS farmland,
                       sum(o.redline_m2::numeric) AS redline,
                       count(*) FILTER (WHERE o.outside_urban) AS outside
                  FROM parcel p
                  JOIN project_parcel l ON l.parcel_id = p.id AND l.unlinked_on IS NULL
                  JOIN project pr ON pr.id = l.project_id
                  JOIN parcel_overlay o ON o.parcel_id = p.id
                 WHERE p.procedure_status IN ({DEMAND}) AND pr.stage <> 'COMPLETED'
                 GROUP BY pr.id, p.county_code) per_project
         GROUP BY county_code""",
    "county_step_tally": f"""
        SELECT county_code, year, sum(approved) AS approved, sum(supplied) AS supplied FROM (
            SELECT p.county_code, extract(year FROM e.occurred_on)::smallint AS year,
                   CASE WHEN bool_or(e.status = 'APPROVED_UNSUPPLIED')
                             AND p.procedure_status NOT IN ({DEMAND})
                        THEN p.area_m2::numeric ELSE 0 END AS approved,
                   CASE WHEN bool_or(e.status = 'SUPPLIED') THEN p.area_m2::numeric ELSE 0 END
                       AS supplied
              FROM parcel_status_event e JOIN parcel p ON p.id = e.parcel_id
             WHERE e.status IN ('APPROVED_UNSUPPLIED', 'SUPPLIED')
             GROUP BY p.id, 2) x
         GROUP BY county_code, year""",
    "county_stock_tally": """
        SELECT county_code, sum(area_m2::numeric), count(*) FROM parcel
         WHERE procedure_status = 'APPROVED_UNSUPPLIED' GROUP BY county_code""",
    "land_quota_tally": """
        SELECT year, holder_code, kind, entry_type, sum(amount_m2) FROM land_quota_entry
         GROUP BY year, holder_code, kind, entry_type""",
}

KEPT = {
    "project_land_demand": """
        SELECT project_id, county_code, is_key, tier, planned_start, code, demand_m2,
               demand_parcels, conflict_parcels, conflict_demand_m2,
               round(farmland_m2::numeric, 3), round(redline_m2::numeric, 3),
               outside_urban_parcels
          FROM project_land_demand""",
    "county_demand_tally": """
        SELECT county_code, demand_key_m2, demand_other_m2, conflict_parcels,
               round(farmland_m2, 3), round(redline_m2, 3), key_conflict_demand_m2,
               outside_urban_parcels, projects
          FROM county_demand_tally WHERE projects <> 0""",
    # rows whose every sum went back to zero carry no information
    "county_step_tally": """
        SELECT county_code, year, approved_m2, supplied_m2 FROM county_step_tally
         WHERE approved_m2 <> 0 OR supplied_m2 <> 0""",
    "county_stock_tally": """
        SELECT county_code, approved_unsupplied_m2, approved_unsupplied_parcels
          FROM county_stock_tally WHERE approved_unsupplied_parcels <> 0""",
    "land_quota_tally": "SELECT year, holder_code, kind, entry_type, amount_m2 FROM land_quota_tally",
}


def assert_tallies_exact(conn: Connection) -> dict[str, int]:
    """Every kept tally equals its from-scratch definition, row for row; returns row counts."""
    sizes = {}
    for table, expected in EXPECTED.items():
        kept = KEPT[table]
        for a, b, what in ((kept, expected, "kept but not expected"), (expected, kept, "missing")):
            diff = conn.execute(text(f"({a}) EXCEPT ALL ({b})")).all()
            assert not diff, f"{table}: {what}: {diff[:5]}"
        sizes[table] = conn.execute(text(f"SELECT count(*) FROM ({expected}) x")).scalar_one()
    return sizes


@pytest.fixture
def engine(fresh_db_url: str) -> Iterator[Engine]:
    e = create_engine(fresh_db_url)
    yield e
    e.dispose()


def one(conn: Connection, sql: str, **params: Any) -> Any:
    return conn.execute(text(sql), params).one()


def test_tallies_match_on_the_demo(demo_sync_engine: Engine) -> None:
    with demo_sync_engine.connect() as conn:
        sizes = assert_tallies_exact(conn)
    # the demo has demand, steps, stock and a ledger in every county: the comparison is real
    assert sizes["project_land_demand"] > 100
    assert sizes["county_step_tally"] >= 6
    assert sizes["county_stock_tally"] == 6
    assert sizes["land_quota_tally"] > 6


def test_tallies_follow_every_kind_of_write(engine: Engine) -> None:
    with engine.begin() as conn:
        # a demand parcel of an active project, and a second active project in its county
        parcel_id, project_id, county = one(
            conn,
            f"""SELECT p.id, l.project_id, p.county_code FROM parcel p
                 JOIN project_parcel l ON l.parcel_id = p.id AND l.unlinked_on IS NULL
                 JOIN project pr ON pr.id = l.project_id AND pr.stage <> 'COMPLETED'
                WHERE p.procedure_status IN ({DEMAND}) AND p.new_construction_area_m2 > 0
                ORDER BY p.code LIMIT 1""",
        )
        other_project = conn.execute(
            text(
                "SELECT id FROM project WHERE county_code = :c AND stage <> 'COMPLETED' "
                "AND id <> :p ORDER BY code LIMIT 1"
            ),
            {"c": county, "p": project_id},
        ).scalar_one()
    steps: list[tuple[str, str, dict[str, Any]]] = [
        (
            "approve a parcel (status + dated step)",
            "UPDATE parcel SET procedure_status = 'APPROVED_UNSUPPLIED' WHERE id = :parcel;"
            "INSERT INTO parcel_status_event (parcel_id, status, occurred_on, actor) "
            "VALUES (:parcel, 'APPROVED_UNSUPPLIED', DATE '2024-10-30', 'test')",
            {},
        ),
        (
            "withdraw it (back to the dossier: approved area no longer counts)",
            "UPDATE parcel SET procedure_status = 'DOSSIER_PREP' WHERE id = :parcel;"
            "INSERT INTO parcel_status_event (parcel_id, status, occurred_on, actor) "
            "VALUES (:parcel, 'DOSSIER_PREP', DATE '2024-10-31', 'test')",
            {},
        ),
        (
            "move the parcel to another project",
            "UPDATE project_parcel SET unlinked_on = DATE '2024-10-31' "
            "WHERE parcel_id = :parcel AND unlinked_on IS NULL;"
            "INSERT INTO project_parcel (project_id, parcel_id, linked_on) "
            "VALUES (:other, :parcel, DATE '2024-10-31')",
            {},
        ),
        (
            "promote the other project to the provincial key list",
            "UPDATE project SET is_key = true, key_list_year = 2024, "
            "categories = ARRAY['PROVINCIAL_KEY']::key_category[] WHERE id = :other",
            {},
        ),
        (
            "turn the parcel into construction land (no new construction area)",
            "UPDATE parcel SET land_class = 'CONSTRUCTION' WHERE id = :parcel",
            {},
        ),
        (
            "complete the first project",
            "UPDATE project SET stage = 'COMPLETED' WHERE id = :project",
            {},
        ),
        (
            "a basic-farmland zone over the parcel (overlay → conflict)",
            "INSERT INTO protected_zone (kind, code, name, geom) "
            "SELECT 'BASIC_FARMLAND', 'T-ZONE', '测试永久基本农田', ST_Multi(ST_Buffer(geom, 0.0005)) "
            "FROM parcel WHERE id = :parcel",
            {},
        ),
        ("remove the zone again", "DELETE FROM protected_zone WHERE code = 'T-ZONE'", {}),
        (
            "a bulk step: every SUBMITTED parcel of the county approved in one statement",
            "INSERT INTO parcel_status_event (parcel_id, status, occurred_on, actor) "
            "SELECT id, 'APPROVED_UNSUPPLIED', DATE '2024-10-31', 'test' FROM parcel "
            "WHERE county_code = :county AND procedure_status = 'SUBMITTED';"
            "UPDATE parcel SET procedure_status = 'APPROVED_UNSUPPLIED' "
            "WHERE county_code = :county AND procedure_status = 'SUBMITTED'",
            {},
        ),
        (
            "supply some of them",
            "UPDATE parcel SET procedure_status = 'SUPPLIED', supply_method = 'LISTING' "
            "WHERE id IN (SELECT id FROM parcel WHERE county_code = :county "
            "AND procedure_status = 'APPROVED_UNSUPPLIED' ORDER BY code LIMIT 3);"
            "INSERT INTO parcel_status_event (parcel_id, status, occurred_on, actor) "
            "SELECT id, 'SUPPLIED', DATE '2024-10-31', 'test' FROM parcel "
            "WHERE county_code = :county AND procedure_status = 'SUPPLIED' "
            "AND NOT EXISTS (SELECT 1 FROM parcel_status_event e WHERE e.parcel_id = parcel.id "
            "AND e.status = 'SUPPLIED')",
            {},
        ),
        (
            "a ledger allocation",
            "INSERT INTO land_quota_entry (year, holder_code, kind, entry_type, amount_m2, "
            "effective_on, actor, reason) VALUES (2024, :county, 'NEW_CONSTRUCTION', "
            "'ALLOCATION', 12345.67, DATE '2024-10-31', 'test', 'tally test')",
            {},
        ),
        (
            "delete a step event",
            "DELETE FROM parcel_status_event WHERE id = (SELECT max(id) FROM parcel_status_event)",
            {},
        ),
        (
            "delete a linked demand parcel with no ledger entries (links cascade)",
            f"DELETE FROM parcel WHERE id = (SELECT p.id FROM parcel p JOIN project_parcel l "
            f"ON l.parcel_id = p.id AND l.unlinked_on IS NULL WHERE p.procedure_status IN ({DEMAND}) "
            "AND NOT EXISTS (SELECT 1 FROM land_quota_entry q WHERE q.parcel_id = p.id) "
            "ORDER BY p.code DESC LIMIT 1)",
            {},
        ),
        ("delete a whole project", "DELETE FROM project WHERE id = :other", {}),
    ]
    base = {"parcel": parcel_id, "project": project_id, "other": other_project, "county": county}
    for what, sql, params in steps:
        with engine.begin() as conn:
            for statement in sql.split(";"):
                conn.execute(text(statement), {**base, **params})
        with engine.connect() as conn:
            try:
                assert_tallies_exact(conn)
            except AssertionError as exc:
                raise AssertionError(f"after '{what}': {exc}") from None


def test_two_concurrent_writers_on_one_project_leave_no_stale_demand(engine: Engine) -> None:
    """Without the refresh's project lock, the second writer would aggregate the project
    from a snapshot that misses the first writer's change and overwrite the tally."""
    with engine.begin() as conn:
        project_id, a, b = one(
            conn,
            f"""SELECT l.project_id, min(p.id), max(p.id) FROM parcel p
                 JOIN project_parcel l ON l.parcel_id = p.id AND l.unlinked_on IS NULL
                 JOIN project pr ON pr.id = l.project_id AND pr.stage <> 'COMPLETED'
                WHERE p.procedure_status IN ({DEMAND}) AND p.land_class <> 'CONSTRUCTION'
                GROUP BY l.project_id HAVING count(*) >= 2 ORDER BY l.project_id LIMIT 1""",
        )
    first_updated = threading.Event()
    errors: list[BaseException] = []

    def writer(parcel: int, wait: threading.Event | None, hold: float) -> None:
        try:
            with engine.begin() as conn:
                if wait is not None:
                    wait.wait(10)
                conn.execute(
                    # land class only: no other tally row is shared, so nothing but the
                    # refresh's own lock orders the two writers
                    text("UPDATE parcel SET land_class = 'CONSTRUCTION' WHERE id = :i"),
                    {"i": parcel},
                )
                if wait is None:
                    first_updated.set()
                time.sleep(hold)
        except BaseException as exc:  # reported below
            errors.append(exc)

    t1 = threading.Thread(target=writer, args=(a, None, 0.5))
    t2 = threading.Thread(target=writer, args=(b, first_updated, 0.0))
    t1.start()
    t2.start()
    t1.join()
    t2.join()
    assert not errors
    with engine.connect() as conn:
        assert_tallies_exact(conn)
        kept = conn.execute(
            text("SELECT sum(demand_m2) FROM project_land_demand WHERE project_id = :p"),
            {"p": project_id},
        ).scalar_one()
        expected = conn.execute(
            text(
                f"SELECT sum(round(p.new_construction_area_m2::numeric, 2)) FROM parcel p "
                f"JOIN project_parcel l ON l.parcel_id = p.id AND l.unlinked_on IS NULL "
                f"WHERE l.project_id = :p AND p.procedure_status IN ({DEMAND})"
            ),
            {"p": project_id},
        ).scalar_one()
        reduced = conn.execute(
            text(
                "SELECT count(*) FROM parcel WHERE id IN (:a, :b) AND new_construction_area_m2 = 0"
            ),
            {"a": a, "b": b},
        ).scalar_one()
    assert reduced == 2
    assert kept == expected


async def _both_paths(url: str, year: int, on: dt.date) -> tuple[Any, Any, Any, Any]:
    from geo.db import create_engine as create_async

    engine = create_async(url)
    try:
        async with engine.connect() as conn:
            now = await guarantee.county_rows(conn, year=year, as_of=None, county=None)
            then = await guarantee.county_rows(conn, year=year, as_of=on, county=None)
            now_p = await guarantee.project_rows(conn, year=year, as_of=None)
            then_p = await guarantee.project_rows(conn, year=year, as_of=on)
    finally:
        await engine.dispose()
    return now, then, now_p, then_p


def _same(a: Any, b: Any) -> None:
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        for key, value in x._mapping.items():
            other = y._mapping[key]
            if isinstance(value, int | float) or hasattr(value, "as_integer_ratio"):
                assert float(value) == pytest.approx(float(other), abs=0.01), (key, x, y)
            else:
                assert value == other, (key, x, y)


async def test_current_state_equals_the_dated_rebuild(demo_db_url: str) -> None:
    """The demo records nothing after 2024-10-31, so the tallies (current state) and the
    as-of rebuild on that day must agree on every county figure and every project row."""
    now, then, now_p, then_p = await _both_paths(demo_db_url, 2024, DEMO_DATE)
    _same(now, then)
    _same(now_p, then_p)
    assert sum(r.at_risk_projects for r in now) > 0


async def test_current_state_equals_the_dated_rebuild_after_writes(
    engine: Engine, fresh_db_url: str
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                """WITH picked AS (
                        SELECT id FROM parcel WHERE procedure_status = 'SUBMITTED'
                         ORDER BY code LIMIT 40)
                    UPDATE parcel SET procedure_status = 'APPROVED_UNSUPPLIED'
                     WHERE id IN (SELECT id FROM picked)"""
            )
        )
        conn.execute(
            text(
                "INSERT INTO parcel_status_event (parcel_id, status, occurred_on, actor) "
                "SELECT id, 'APPROVED_UNSUPPLIED', DATE '2024-10-31', 't' FROM parcel "
                "WHERE procedure_status = 'APPROVED_UNSUPPLIED' AND NOT EXISTS ("
                "SELECT 1 FROM parcel_status_event e WHERE e.parcel_id = parcel.id "
                "AND e.status = 'APPROVED_UNSUPPLIED')"
            )
        )
        conn.execute(
            text(
                "UPDATE project SET signing_status = 'SIGNED' WHERE id IN (SELECT id FROM project "
                "WHERE NOT is_key AND stage <> 'COMPLETED' ORDER BY code LIMIT 25)"
            )
        )
    now, then, now_p, then_p = await _both_paths(fresh_db_url, 2024, DEMO_DATE)
    _same(now, then)
    _same(now_p, then_p)


def test_sql_rules_are_the_python_rules(demo_sync_engine: Engine) -> None:
    from importlib import import_module

    migration = import_module("migrations.versions.0003_guarantee_tallies")
    assert migration.DEMAND == DEMAND
    categories = [[], [KeyCategory.PROVINCIAL_KEY], [KeyCategory.ANNUAL_PLAN_BILLION]]
    signing = [None, *SigningStatus]
    with demo_sync_engine.connect() as conn:
        for cats, is_key, sign in itertools.product(categories, (False, True), signing):
            got = conn.execute(
                text(
                    "SELECT project_priority_tier(CAST(:c AS key_category[]), :k, "
                    "CAST(:s AS signing_status))"
                ),
                {"c": [c.value for c in cats], "k": is_key, "s": sign and sign.value},
            ).scalar_one()
            want = priority_tier(
                categories=[c.value for c in cats], is_key=is_key, signing_status=sign
            )
            assert got == want, (cats, is_key, sign)


async def test_at_risk_streams_equal_the_full_ranking(demo_db_url: str) -> None:
    """The early-stopping at-risk statement (key projects first, then priority order) gives
    exactly the at-risk rows of the full ranking, in that order, cut at `first` per county."""
    from geo.db import create_engine as create_async

    engine = create_async(demo_db_url)
    try:
        async with engine.connect() as conn:
            ranking = await guarantee.project_rows(conn, year=2024, as_of=None)
            every = await guarantee.at_risk_rows(conn, year=2024, first=None)
            two = await guarantee.at_risk_rows(conn, year=2024, first=2)
    finally:
        await engine.dispose()

    def key(r: Any) -> tuple[Any, ...]:
        return (r.county_code, not r.is_key, r.tier, r.planned_start or dt.date.max, r.code)

    risky = sorted(
        (r for r in ranking if r.conflict or float(r.demand) > float(r.covered)), key=key
    )
    fields = ("code", "county_code", "demand", "covered", "unmet", "before_in_county")
    assert [tuple(getattr(r, f) for f in fields) for r in every] == [
        tuple(getattr(r, f) for f in fields) for r in risky
    ]
    assert len(every) > 20
    per_county: dict[str, list[str]] = {}
    for r in risky:
        per_county.setdefault(r.county_code, []).append(r.code)
    assert [r.code for r in two] == [c for codes in per_county.values() for c in codes[:2]]


async def test_readme_land_guarantee_example_runs(gql: Any, demo_sync_engine: Engine) -> None:
    """The README's example answers without errors on the demo (docs that cannot rot)."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Land guarantee (用地保障)", 1)[1]
    query = section.split("```graphql", 1)[1].split("```", 1)[0]
    with demo_sync_engine.connect() as conn:
        project = conn.execute(
            text("SELECT code FROM project WHERE is_key ORDER BY code LIMIT 1")
        ).scalar_one()
        parcel = conn.execute(text("SELECT code FROM parcel ORDER BY code LIMIT 1")).scalar_one()
    query = query.replace('project(code: "…")', f'project(code: "{project}")')
    query = query.replace('parcel(code: "…")', f'parcel(code: "{parcel}")')
    body = await gql(query)
    assert "errors" not in body, body["errors"]
    assert len(body["data"]["landGuarantee"]) == 6
    assert body["data"]["project"]["landStatus"]["cover"]


async def test_land_guarantee_with_at_risk_is_one_statement(demo_db_url: str) -> None:
    """Looking ahead at atRiskProjects(first) the resolver brings them along with the county
    figures: one statement; a query mixing two `first`s falls back to the per-key loader and
    gives the same rows."""
    import httpx
    from sqlalchemy import event

    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(database_url=demo_db_url, reference_date=DEMO_DATE))
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    fields = "projectCode demandHa coveredHa unmetHa conflict cover reasons"
    one = (
        f"{{ landGuarantee(year: 2024) {{ countyCode atRiskProjects(first: 3) {{ {fields} }} }} }}"
    )
    two = (
        f"{{ landGuarantee(year: 2024) {{ countyCode atRiskProjects(first: 3) {{ {fields} }} "
        f"all: atRiskProjects {{ projectCode }} }} }}"
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
        a = (await c.post("/graphql", json={"query": one})).json()
        assert len(statements) == 1, statements
        b = (await c.post("/graphql", json={"query": two})).json()
        assert len(statements) == 1 + 3  # counties, then the two at-risk lists via the loader
        # `first` from a variable, inside a named fragment and an inline fragment: the look
        # ahead still sees it, one statement each
        via_fragments = (
            "query Q($n: Int) { landGuarantee(year: 2024) { ...F } } "
            f"fragment F on CountyLandGuarantee {{ countyCode ... on CountyLandGuarantee "
            f"{{ atRiskProjects(first: $n) {{ {fields} }} }} }}"
        )
        f = (await c.post("/graphql", json={"query": via_fragments, "variables": {"n": 3}})).json()
        assert len(statements) == 1 + 3 + 1, statements[4:]
    assert "errors" not in a and "errors" not in b and "errors" not in f
    assert f["data"] == a["data"]
    got = [(x["countyCode"], x["atRiskProjects"]) for x in a["data"]["landGuarantee"]]
    via_loader = [(x["countyCode"], x["atRiskProjects"]) for x in b["data"]["landGuarantee"]]
    assert got == via_loader
    assert sum(len(r) for _, r in got) > 6
    for x in b["data"]["landGuarantee"]:
        assert [r["projectCode"] for r in x["all"]][:3] == [
            r["projectCode"] for r in x["atRiskProjects"]
        ]


async def test_assembled_answers_are_reused_only_while_the_rows_are_equal(
    fresh_db_url: str,
) -> None:
    """schema/guarantee.Assembled: the same store answers twice with the very same objects;
    a ledger allocation of 12,345.67 m² (1.23456700 ha) to one county changes the rows, so
    the next answer is rebuilt and shows exactly that much more remaining quota."""
    import httpx

    from api.app import create_app
    from api.settings import Settings
    from schema.guarantee import ASSEMBLED

    app = create_app(Settings(database_url=fresh_db_url, reference_date=DEMO_DATE))
    query = (
        "{ landGuarantee(year: 2024) { countyCode quotaRemainingHa "
        "atRiskProjects(first: 2) { projectCode reasons } } }"
    )
    key = (2024, DEMO_DATE, None, 2, None)

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):

        async def answer() -> tuple[dict[str, Any], list[Any]]:
            body = (await c.post("/graphql", json={"query": query})).json()
            assert "errors" not in body, body
            return body["data"], ASSEMBLED._last[key][1]

        first, built = await answer()
        again, built_again = await answer()
        assert again == first and built_again is built  # reused, not rebuilt
        county = first["landGuarantee"][0]["countyCode"]
        sync = create_engine(fresh_db_url)
        with sync.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO land_quota_entry (year, holder_code, kind, entry_type, "
                    "amount_m2, effective_on, actor, reason) VALUES (2024, :c, "
                    "'NEW_CONSTRUCTION', 'ALLOCATION', 12345.67, DATE '2024-10-31', 'test', "
                    "'memo test')"
                ),
                {"c": county},
            )
        sync.dispose()
        after, built_after = await answer()
    assert built_after is not built
    before = {c["countyCode"]: c["quotaRemainingHa"] for c in first["landGuarantee"]}
    now = {c["countyCode"]: c["quotaRemainingHa"] for c in after["landGuarantee"]}
    assert round(now[county] - before[county], 8) == 1.234567
    assert {k: v for k, v in now.items() if k != county} == {
        k: v for k, v in before.items() if k != county
    }
