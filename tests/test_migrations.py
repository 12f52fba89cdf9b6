"""Migration 0001 up, down and up again, and the constraints it promises, on real PostGIS."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from api.cli import downgrade, migrate
from api.settings import Settings

TABLES = {
    "admin_area",
    "project",
    "project_stage_event",
    "parcel",
    "parcel_status_event",
    "project_parcel",
    "land_quota_entry",
    "land_quota_balance",
    "approval_item",
    "protected_zone",
    "project_issue",
    "issue_escalation",
    "investment_report",
    "code_label",
}

# A 1000 m × 1000 m square in the Gauss-Krüger zone with CM 114°E (EPSG:4547) near 泽州县, and a
# 500 m × 200 m rectangle in the CM 111°E zone (EPSG:4546) in 沁水县: their legal areas
# are exactly 1,000,000 m² and 100,000 m² by construction.
EAST_SQUARE = (
    "ST_Multi(ST_Transform(ST_MakeEnvelope(395000, 3930000, 396000, 3931000, 4547), 4490))"
)
WEST_RECT = "ST_Multi(ST_Transform(ST_MakeEnvelope(608000, 3950000, 608500, 3950200, 4546), 4490))"


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        names = {r[0] for r in rows}
    engine.dispose()
    return names


def test_upgrade_downgrade_upgrade(empty_db_url: str) -> None:
    settings = Settings(database_url=empty_db_url)
    migrate(settings)
    assert _tables(empty_db_url) >= TABLES
    downgrade(settings, "base")
    assert not (TABLES & _tables(empty_db_url))
    migrate(settings)
    assert _tables(empty_db_url) >= TABLES

    engine = create_engine(empty_db_url)
    with engine.connect() as conn:
        geoms = conn.execute(
            text("SELECT f_table_name, srid, type FROM geometry_columns ORDER BY 1, 2")
        ).all()
        gist = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist%' ORDER BY 1"
                )
            )
            .scalars()
            .all()
        )
        labels = conn.execute(
            text(
                "SELECT name_zh FROM code_label WHERE enum_type = 'land_status' AND value = 'APPROVED_UNSUPPLIED'"
            )
        ).scalar_one()
    engine.dispose()
    assert {(t, s) for t, s, _ in geoms} == {
        ("admin_area", 4490),
        ("parcel", 4490),
        ("project", 4490),
        ("protected_zone", 4490),
    }
    assert set(gist) == {"admin_area", "parcel", "project", "protected_zone"}
    assert labels == "已批未供"


@pytest.fixture
def migrated(empty_db_url: str):  # type: ignore[no-untyped-def]
    migrate(Settings(database_url=empty_db_url))
    engine = create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO admin_area (code, name, kind, parent_code, geom) VALUES "
                "('140500', '晋城市', 'CITY', NULL, ST_Multi(ST_MakeEnvelope(111.8, 35.2, 113.7, 36.1, 4490))),"
                "('140525', '泽州县', 'COUNTY', '140500', ST_Multi(ST_MakeEnvelope(112.6, 35.2, 113.2, 35.8, 4490)))"
            )
        )
    yield engine
    engine.dispose()


def test_parcel_area_is_computed_in_its_gauss_kruger_zone(migrated) -> None:  # type: ignore[no-untyped-def]
    with migrated.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO parcel (code, county_code, geom, land_class, status_date) VALUES "
                f"('E', '140525', {EAST_SQUARE}, 'FARMLAND', '2024-01-01'),"
                f"('W', '140525', {WEST_RECT}, 'CONSTRUCTION', '2024-01-01')"
            )
        )
        rows = {
            r.code: r
            for r in conn.execute(
                text(
                    "SELECT code, gk_srid, area_m2, new_construction_area_m2, farmland_area_m2 FROM parcel"
                )
            )
        }
    assert rows["E"].gk_srid == 4547
    assert rows["E"].area_m2 == pytest.approx(1_000_000, abs=0.01)
    assert rows["E"].farmland_area_m2 == pytest.approx(1_000_000, abs=0.01)
    assert rows["E"].new_construction_area_m2 == pytest.approx(1_000_000, abs=0.01)
    assert rows["W"].gk_srid == 4546
    assert rows["W"].area_m2 == pytest.approx(100_000, abs=0.01)
    assert rows["W"].new_construction_area_m2 == 0  # already construction land
    assert rows["W"].farmland_area_m2 == 0


@pytest.mark.parametrize(
    "geom",
    [
        "ST_Multi(ST_GeomFromText('POLYGON((112.7 35.5, 112.8 35.6, 112.8 35.5, 112.7 35.6, 112.7 35.5))', 4490))",
        "ST_GeomFromText('MULTIPOLYGON EMPTY', 4490)",
        "ST_Multi(ST_MakeEnvelope(112.7, 112.5, 112.8, 112.6, 4490))",
    ],
    ids=["bow-tie", "empty", "latitude-112"],
)
def test_parcel_geometry_checks_refuse_bad_shapes(migrated, geom: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IntegrityError), migrated.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO parcel (code, county_code, geom, land_class, status_date) "
                f"VALUES ('BAD', '140525', {geom}, 'FARMLAND', '2024-01-01')"
            )
        )
    with migrated.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcel")).scalar_one() == 0


def _entry(conn, entry_type: str, amount: float, **extra: object) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        text(
            "INSERT INTO land_quota_entry (year, holder_code, kind, entry_type, amount_m2, parcel_id, "
            "transfer_id, effective_on, actor, reason) VALUES (2024, :holder, 'NEW_CONSTRUCTION', "
            ":t, :a, :parcel, :transfer, '2024-03-01', 'test', 'test')"
        ),
        {
            "holder": extra.get("holder", "140525"),
            "t": entry_type,
            "a": amount,
            "parcel": extra.get("parcel"),
            "transfer": extra.get("transfer"),
        },
    )


def test_quota_ledger_keeps_balance_and_refuses_overdraw(migrated) -> None:  # type: ignore[no-untyped-def]
    with migrated.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO parcel (code, county_code, geom, land_class, status_date) "
                f"VALUES ('E', '140525', {EAST_SQUARE}, 'FARMLAND', '2024-01-01')"
            )
        )
        pid = conn.execute(text("SELECT id FROM parcel")).scalar_one()
        _entry(conn, "ALLOCATION", 1_500_000)
        _entry(conn, "APPROVAL_DEBIT", -1_000_000, parcel=pid)
    with pytest.raises(IntegrityError, match="balance_m2"), migrated.begin() as conn:
        _entry(conn, "APPROVAL_DEBIT", -600_000, parcel=pid)  # only 500,000 m² left
    with migrated.connect() as conn:
        balance = conn.execute(text("SELECT balance_m2 FROM land_quota_balance")).scalar_one()
        ledger = conn.execute(text("SELECT sum(amount_m2) FROM land_quota_entry")).scalar_one()
    assert balance == ledger == 500_000


def test_quota_ledger_is_append_only_and_transfers_balance(migrated) -> None:  # type: ignore[no-untyped-def]
    with migrated.begin() as conn:
        _entry(conn, "ALLOCATION", 1000, holder="140500")
    with pytest.raises(DBAPIError, match="append-only"), migrated.begin() as conn:
        conn.execute(text("UPDATE land_quota_entry SET amount_m2 = 5000"))
    with pytest.raises(DBAPIError, match="append-only"), migrated.begin() as conn:
        conn.execute(text("DELETE FROM land_quota_entry"))
    # A transfer whose two legs do not cancel is refused at commit.
    with pytest.raises(DBAPIError, match="balanced pair"), migrated.begin() as conn:
        _entry(
            conn,
            "POOL_TRANSFER_OUT",
            -400,
            holder="140500",
            transfer="00000000-0000-0000-0000-000000000001",
        )
        _entry(conn, "POOL_TRANSFER_IN", 300, transfer="00000000-0000-0000-0000-000000000001")
    with migrated.begin() as conn:
        _entry(
            conn,
            "POOL_TRANSFER_OUT",
            -400,
            holder="140500",
            transfer="00000000-0000-0000-0000-000000000002",
        )
        _entry(conn, "POOL_TRANSFER_IN", 400, transfer="00000000-0000-0000-0000-000000000002")
    with migrated.connect() as conn:
        balances = dict(
            conn.execute(text("SELECT holder_code, balance_m2 FROM land_quota_balance")).all()
        )
    assert balances == {"140500": 600, "140525": 400}


def test_balances_cannot_be_written_directly(migrated) -> None:  # type: ignore[no-untyped-def]
    with migrated.begin() as conn:
        _entry(conn, "ALLOCATION", 1000)
    for statement in (
        "UPDATE land_quota_balance SET balance_m2 = 999999",
        "DELETE FROM land_quota_balance",
        "INSERT INTO land_quota_balance VALUES (2025, '140525', 'NEW_CONSTRUCTION', 5)",
    ):
        with pytest.raises(DBAPIError, match="kept by the ledger"), migrated.begin() as conn:
            conn.execute(text(statement))
    with migrated.connect() as conn:
        assert conn.execute(text("SELECT balance_m2 FROM land_quota_balance")).scalar_one() == 1000


def test_transfer_legs_must_be_pool_out_and_county_in(migrated) -> None:  # type: ignore[no-untyped-def]
    with migrated.begin() as conn:
        _entry(conn, "ALLOCATION", 1000, holder="140500")
        _entry(conn, "ALLOCATION", 1000)
    # balanced, but from a county instead of the pool
    with pytest.raises(DBAPIError, match="balanced pair"), migrated.begin() as conn:
        _entry(
            conn,
            "POOL_TRANSFER_OUT",
            -100,
            holder="140525",
            transfer="00000000-0000-0000-0000-000000000003",
        )
        _entry(
            conn,
            "POOL_TRANSFER_IN",
            100,
            holder="140500",
            transfer="00000000-0000-0000-0000-000000000003",
        )


def test_parcel_overlay_follows_parcels_and_zones(migrated) -> None:  # type: ignore[no-untyped-def]
    # Hand-built, CM 114°E zone (EPSG:4547): parcel E is the 1000 m square at x 395000–396000;
    # a basic-farmland zone covers its west 250 m (250,000 m²), an urban boundary its whole.
    env = "ST_Multi(ST_Transform(ST_MakeEnvelope({}, 3930000, {}, 3931000, 4547), 4490))"
    with migrated.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO parcel (code, county_code, geom, land_class, status_date) VALUES ('E', '140525', {EAST_SQUARE}, 'FARMLAND', '2024-01-01')"
            )
        )
        row = conn.execute(
            text("SELECT conflict, outside_urban, basic_farmland_m2 FROM parcel_overlay")
        ).one()
        assert (row.conflict, row.outside_urban, row.basic_farmland_m2) == (False, True, 0)
        conn.execute(
            text(
                f"INSERT INTO protected_zone (code, kind, name, geom) VALUES ('F', 'BASIC_FARMLAND', 'f', {env.format(394000, 395250)}), ('U', 'URBAN_BOUNDARY', 'u', {env.format(390000, 400000)})"
            )
        )
        row = conn.execute(text("SELECT * FROM parcel_overlay")).one()
    assert row.conflict is True and row.outside_urban is False
    assert row.basic_farmland_m2 == pytest.approx(250_000, abs=0.01)
    assert row.urban_boundary_m2 == pytest.approx(1_000_000, abs=0.01)
    with migrated.begin() as conn:  # move the parcel 2 km east: no farmland any more
        conn.execute(
            text(f"UPDATE parcel SET geom = {env.format(397000, 398000)} WHERE code = 'E'")
        )
        row = conn.execute(text("SELECT * FROM parcel_overlay")).one()
        assert row.conflict is False and row.basic_farmland_m2 == 0 and row.outside_urban is False
        conn.execute(text("DELETE FROM protected_zone WHERE code = 'U'"))
        assert conn.execute(text("SELECT outside_urban FROM parcel_overlay")).scalar_one() is True
