"""用地保障 (issue 4) through GraphQL, against a real PostGIS.

1. A hand-built fixture on its own empty migrated database: two small counties, twenty
   parcels drawn as exact rectangles in Gauss-Krüger metres (EPSG:4547, transformed to 4490
   for storage), zones, projects, approval items and a quota ledger. Every number asserted
   below is worked out by hand in the comments next to the data — never taken from the code
   under test.
2. Consistency on the demo data: sums, definitions, an independent recomputation of the
   county cover in Python from plain SQL, conflicts against ST_Relate, the approving
   authority rule, and a constant number of SQL statements per page.
3. Error cases.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from api.app import create_app
from api.cli import migrate
from api.settings import Settings
from geo import guarantee_rules as R
from geo.enums import LandStatus
from tests.conftest import PREFIX, create_database, drop_database

TODAY = dt.date(2024, 10, 31)
"""The fixture app's reference date ('today')."""

HA = 10_000.0
EPS_HA = 1e-6  # 0.01 m²
CITY, A, B = "140500", "149901", "149902"


# =========================================================================== the fixture
#
# Two county-level units (kind COUNTY, parent the city 140500, which holds the pool):
#   A = 149901 东岭县 (GK x 410–435 km), B = 149902 西河县 (GK x 435–460 km); y 3950–3970 km.
# Rectangles are (x0, y0, x1, y1) in EPSG:4547 metres (CM 114°E; all east of 112.5°E, so the
# parcel's own zone is 4547 and its legal area is exactly width × height).
# 1 ha = 10,000 m² = 15 亩.
#
# Zones:
#   ZA-BF  basic farmland  x 422000–423000, y 3960300–3960900
#   ZA-UB  urban boundary  x 420000–422000, y 3960000–3961000
#   ZB-UB  urban boundary  x 440000–443000, y 3960000–3961000
#   ZB-RL  red line        x 444050–445000, y 3959000–3961000
#
# Parcels (area = w × h; new construction (nc) = area unless CONSTRUCTION; farmland = area if
# FARMLAND). Events are the dated procedure steps; the last one is the current status.
#
#  A1  PA1  420100–420300 × 3960100–3960400  200×300 = 6 ha  FARMLAND    nc 6
#      DEMAND 01-10, PRE_REVIEWED 02-10, DOSSIER_PREP 03-10, SUBMITTED 05-10 (2024)
#  A2  PA1  420400–420500 × 3960100–3960200  100×100 = 1 ha  CONSTRUCTION nc 0
#      DEMAND 2024-03-01
#  A3  PA1  420600–420800 × 3960100–3960300  200×200 = 4 ha  FOREST      nc 4
#      DEMAND 2023-06-01 … SUBMITTED 2023-12-01, APPROVED_UNSUPPLIED 2024-03-15 (debit 4 ha)
#  A4  PA2  421900–422100 × 3960400–3960600  200×200 = 4 ha  FARMLAND    nc 4
#      DEMAND 01-20, PRE_REVIEWED 03-01, DOSSIER_PREP 05-15 (2024)
#      shares x 422000–422100 × y 3960400–3960600 = 100×200 = 20,000 m² = 2 ha = 30 亩 with
#      ZA-BF → conflict; half of it lies east of the urban boundary → outside (单独选址)
#  A5  PA2  420900–421000 × 3960100–3960300  100×200 = 2 ha  GRASSLAND   nc 2
#      DEMAND 2024-04-10
#  A6  PA3  421100–421250 × 3960100–3960300  150×200 = 3 ha  FARMLAND    nc 3
#      DEMAND 02-01, PRE_REVIEWED 04-01, DOSSIER_PREP 06-01, SUBMITTED 08-20 (2024)
#  A7  PA3  421300–421500 × 3960100–3960400  200×300 = 6 ha  GARDEN      nc 6
#      DEMAND 01-15, PRE_REVIEWED 02-20, DOSSIER_PREP 03-25, SUBMITTED 05-20,
#      APPROVED_UNSUPPLIED 09-20 (2024, debit 6 ha)
#  A8  PA4  423500–423600 × 3960000–3960100  100×100 = 1 ha  UNUSED      nc 1
#      DEMAND 2024-09-01 (linked 2024-09-01); outside the urban boundary
#  A9  PA5  420100–420200 × 3960600–3960700  100×100 = 1 ha  CONSTRUCTION
#      … APPROVED 2021-11-01, SUPPLIED 2022-05-01; agreed start 2022-09-01; PA5 never started
#  A10 PA5  420400–420600 × 3960600–3960700  200×100 = 2 ha  FOREST
#      … APPROVED_UNSUPPLIED 2022-12-15 (2022 debit 2 ha) → lapses 2024-12-14
#
#  B1  PB1  440100–440400 × 3960100–3960600  300×500 = 15 ha FARMLAND    nc 15
#      DEMAND 01-05, PRE_REVIEWED 02-01, DOSSIER_PREP 03-01, SUBMITTED 04-15 (2024)
#  B2  PB2  440500–440700 × 3960100–3960400  200×300 = 6 ha  GRASSLAND   nc 6
#      DEMAND 02-10, PRE_REVIEWED 03-10, DOSSIER_PREP 05-10 (2024)
#  B3  PB3  440800–441000 × 3960100–3960300  200×200 = 4 ha  FOREST      nc 4
#      … SUBMITTED 04-01, APPROVED_UNSUPPLIED 05-01 (debit 4), back to DOSSIER_PREP 06-15
#      (approval withdrawn, credit 4)
#  B4  PB4  444000–444100 × 3960000–3960200  100×200 = 2 ha  GRASSLAND   nc 2
#      DEMAND 2024-04-20; shares x 444050–444100 × 200 m = 10,000 m² = 1 ha = 15 亩 with the
#      red line → conflict; outside the urban boundary
#  B5  PB5  441100–441250 × 3960100–3960300  150×200 = 3 ha  GARDEN      nc 3
#      DEMAND 03-15, PRE_REVIEWED 05-20 (2024)
#  B6  PB6  441400–441600 × 3960100–3960400  200×300 = 6 ha  FARMLAND
#      … APPROVED_UNSUPPLIED 2024-04-10 (debit 6), SUPPLIED 2024-08-15; agreed start 2024-10-01
#  B7  —    441700–441800 × 3960600–3960700  100×100 = 1 ha  CONSTRUCTION
#      … SUPPLIED 2021-03-01, IDLE 2022-07-01 (no project)
#  B8  —    446000–446500 × 3960000–3960699  500×699 = 34.95 ha FARMLAND (no project)
#  B9  —    447000–447600 × 3960000–3960600  600×600 = 36 ha    FARMLAND (no project)
#  B10 —    448000–449000 × 3960000–3960710  1000×710 = 71 ha   FOREST   (no project)
#
# Projects (tier: 1 provincial key, 2 municipal key, 3 signed, 4 about to sign, 5 other):
#  PA1 tier 1 key, planned 2024-06-01   PB1 tier 1 key, planned 2024-07-01
#  PA2 tier 2 key, planned 2024-04-01   PB2 tier 2 key, planned 2024-03-01
#  PA3 tier 3 SIGNED, planned 2024-03-01  PB3 tier 4 ABOUT_TO_SIGN, planned 2024-09-01
#  PA4 tier 5, planned 2024-05-01       PB4 tier 5, planned 2024-06-01
#  PA5 tier 5, planned 2022-09-01, no start   PB5 tier 5, planned 2024-08-01
#                                       PB6 tier 5 LANDED, started 2024-09-01
#
# Ledger (NEW_CONSTRUCTION, m²): 2022: A +30,000 (01-05), A10 −20,000 (12-15).
# 2024: pool +125,000 (01-05); A +160,000 (01-02), +30,000 (08-01), A3 −40,000 (03-15),
# A7 −60,000 (09-20); B +200,000 (01-02), B6 −60,000 (04-10), B3 −40,000 (05-01),
# B3 +40,000 credit (06-15); pool → B 40,000 (07-01). Plus a FARMLAND_OFFSET allocation to A
# (+50,000), which no figure may count.

RECT = tuple[int, int, int, int]

ZONES: list[tuple[str, str, str, str, RECT]] = [
    ("ZA-BF", "BASIC_FARMLAND", "东岭县永久基本农田1号片块", A, (422000, 3960300, 423000, 3960900)),
    ("ZA-UB", "URBAN_BOUNDARY", "东岭县城镇开发边界", A, (420000, 3960000, 422000, 3961000)),
    ("ZB-UB", "URBAN_BOUNDARY", "西河县城镇开发边界", B, (440000, 3960000, 443000, 3961000)),
    ("ZB-RL", "ECOLOGICAL_REDLINE", "西河县生态保护红线", B, (444050, 3959000, 445000, 3961000)),
]

# code, county, tier-defining attributes, planned start, actual start, plan type, stage
PROJECTS: list[dict[str, Any]] = [
    dict(code="PA1", county=A, key=True, cats=["PROVINCIAL_KEY"], signing=None, planned="2024-06-01"),
    dict(code="PA2", county=A, key=True, cats=["CITY_COUNTY_KEY"], signing=None, planned="2024-04-01"),
    dict(code="PA3", county=A, key=False, cats=[], signing="SIGNED", planned="2024-03-01"),
    dict(code="PA4", county=A, key=False, cats=[], signing=None, planned="2024-05-01"),
    dict(code="PA5", county=A, key=False, cats=[], signing=None, planned="2022-09-01"),
    dict(code="PB1", county=B, key=True, cats=["PROVINCIAL_KEY", "ANNUAL_PLAN_BILLION"], signing=None, planned="2024-07-01"),
    dict(code="PB2", county=B, key=True, cats=["ANNUAL_PLAN_BILLION"], signing=None, planned="2024-03-01"),
    dict(code="PB3", county=B, key=False, cats=[], signing="ABOUT_TO_SIGN", planned="2024-09-01"),
    dict(code="PB4", county=B, key=False, cats=[], signing=None, planned="2024-06-01"),
    dict(code="PB5", county=B, key=False, cats=[], signing=None, planned="2024-08-01"),
    dict(code="PB6", county=B, key=False, cats=[], signing="LANDED", planned="2024-09-01", started="2024-09-01"),
]  # fmt: skip

DEMAND_TO_SUBMITTED = ("DEMAND", "PRE_REVIEWED", "DOSSIER_PREP", "SUBMITTED")


def _steps(statuses: tuple[str, ...] | list[str], dates: list[str]) -> list[tuple[str, str]]:
    return list(zip(statuses, dates, strict=True))


PARCELS: list[dict[str, Any]] = [
    dict(code="A1", county=A, rect=(420100, 3960100, 420300, 3960400), cls="FARMLAND", project="PA1",
         steps=_steps(DEMAND_TO_SUBMITTED, ["2024-01-10", "2024-02-10", "2024-03-10", "2024-05-10"])),
    dict(code="A2", county=A, rect=(420400, 3960100, 420500, 3960200), cls="CONSTRUCTION", project="PA1",
         steps=[("DEMAND", "2024-03-01")]),
    dict(code="A3", county=A, rect=(420600, 3960100, 420800, 3960300), cls="FOREST", project="PA1",
         steps=_steps((*DEMAND_TO_SUBMITTED, "APPROVED_UNSUPPLIED"),
                      ["2023-06-01", "2023-08-01", "2023-10-01", "2023-12-01", "2024-03-15"])),
    dict(code="A4", county=A, rect=(421900, 3960400, 422100, 3960600), cls="FARMLAND", project="PA2",
         steps=_steps(DEMAND_TO_SUBMITTED[:3], ["2024-01-20", "2024-03-01", "2024-05-15"])),
    dict(code="A5", county=A, rect=(420900, 3960100, 421000, 3960300), cls="GRASSLAND", project="PA2",
         steps=[("DEMAND", "2024-04-10")]),
    dict(code="A6", county=A, rect=(421100, 3960100, 421250, 3960300), cls="FARMLAND", project="PA3",
         steps=_steps(DEMAND_TO_SUBMITTED, ["2024-02-01", "2024-04-01", "2024-06-01", "2024-08-20"])),
    dict(code="A7", county=A, rect=(421300, 3960100, 421500, 3960400), cls="GARDEN", project="PA3",
         steps=_steps((*DEMAND_TO_SUBMITTED, "APPROVED_UNSUPPLIED"),
                      ["2024-01-15", "2024-02-20", "2024-03-25", "2024-05-20", "2024-09-20"])),
    dict(code="A8", county=A, rect=(423500, 3960000, 423600, 3960100), cls="UNUSED", project="PA4",
         steps=[("DEMAND", "2024-09-01")]),
    dict(code="A9", county=A, rect=(420100, 3960600, 420200, 3960700), cls="CONSTRUCTION", project="PA5",
         supply="LISTING", agreed="2022-09-01",
         steps=_steps((*DEMAND_TO_SUBMITTED, "APPROVED_UNSUPPLIED", "SUPPLIED"),
                      ["2021-03-01", "2021-05-01", "2021-06-01", "2021-08-01", "2021-11-01", "2022-05-01"])),
    dict(code="A10", county=A, rect=(420400, 3960600, 420600, 3960700), cls="FOREST", project="PA5",
         steps=_steps((*DEMAND_TO_SUBMITTED, "APPROVED_UNSUPPLIED"),
                      ["2022-01-10", "2022-03-01", "2022-05-01", "2022-08-01", "2022-12-15"])),
    dict(code="B1", county=B, rect=(440100, 3960100, 440400, 3960600), cls="FARMLAND", project="PB1",
         steps=_steps(DEMAND_TO_SUBMITTED, ["2024-01-05", "2024-02-01", "2024-03-01", "2024-04-15"])),
    dict(code="B2", county=B, rect=(440500, 3960100, 440700, 3960400), cls="GRASSLAND", project="PB2",
         steps=_steps(DEMAND_TO_SUBMITTED[:3], ["2024-02-10", "2024-03-10", "2024-05-10"])),
    dict(code="B3", county=B, rect=(440800, 3960100, 441000, 3960300), cls="FOREST", project="PB3",
         steps=_steps((*DEMAND_TO_SUBMITTED, "APPROVED_UNSUPPLIED", "DOSSIER_PREP"),
                      ["2024-01-08", "2024-02-05", "2024-03-01", "2024-04-01", "2024-05-01", "2024-06-15"])),
    dict(code="B4", county=B, rect=(444000, 3960000, 444100, 3960200), cls="GRASSLAND", project="PB4",
         steps=[("DEMAND", "2024-04-20")]),
    dict(code="B5", county=B, rect=(441100, 3960100, 441250, 3960300), cls="GARDEN", project="PB5",
         steps=_steps(DEMAND_TO_SUBMITTED[:2], ["2024-03-15", "2024-05-20"])),
    dict(code="B6", county=B, rect=(441400, 3960100, 441600, 3960400), cls="FARMLAND", project="PB6",
         supply="ALLOCATION", agreed="2024-10-01",
         steps=_steps((*DEMAND_TO_SUBMITTED, "APPROVED_UNSUPPLIED", "SUPPLIED"),
                      ["2023-09-01", "2023-11-01", "2024-01-10", "2024-02-20", "2024-04-10", "2024-08-15"])),
    dict(code="B7", county=B, rect=(441700, 3960600, 441800, 3960700), cls="CONSTRUCTION", project=None,
         supply="LISTING", agreed="2021-06-01",
         steps=_steps((*DEMAND_TO_SUBMITTED, "APPROVED_UNSUPPLIED", "SUPPLIED", "IDLE"),
                      ["2020-03-01", "2020-04-01", "2020-05-01", "2020-06-01", "2020-09-01", "2021-03-01",
                       "2022-07-01"])),
    dict(code="B8", county=B, rect=(446000, 3960000, 446500, 3960699), cls="FARMLAND", project=None,
         steps=[("DEMAND", "2024-02-01")]),
    dict(code="B9", county=B, rect=(447000, 3960000, 447600, 3960600), cls="FARMLAND", project=None,
         steps=[("DEMAND", "2024-02-01")]),
    dict(code="B10", county=B, rect=(448000, 3960000, 449000, 3960710), cls="FOREST", project=None,
         steps=[("DEMAND", "2024-02-01")]),
]  # fmt: skip

# code, project, type, status, deadline, started, completed
APPROVAL_ITEMS = [
    ("AI-PA1-1", "PA1", "LAND_PRE_EXAMINATION", "COMPLETED", "2024-02-10", "2024-01-15", "2024-02-08"),
    ("AI-PA1-2", "PA1", "LAND_PRE_EXAMINATION", "IN_PROGRESS", "2024-11-20", "2024-03-05", None),
    ("AI-PA1-3", "PA1", "LAND_PLANNING_PERMIT", "NOT_STARTED", "2025-03-01", None, None),
    ("AI-PA2-1", "PA2", "LAND_PRE_EXAMINATION", "BLOCKED", "2024-08-31", "2024-04-15", None),
    ("AI-PB2-1", "PB2", "LAND_PRE_EXAMINATION", "COMPLETED", "2024-03-15", "2024-02-12", "2024-03-08"),
    ("AI-PB6-1", "PB6", "LAND_PLANNING_PERMIT", "IN_PROGRESS", "2024-12-09", "2024-08-20", None),
]  # fmt: skip

TRANSFER = uuid.UUID("00000000-0000-4000-8000-000000000001")
# year, holder, kind, type, amount m², parcel, transfer, effective on
LEDGER = [
    (2022, A, "NEW_CONSTRUCTION", "ALLOCATION", 30_000, None, None, "2022-01-05"),
    (2022, A, "NEW_CONSTRUCTION", "APPROVAL_DEBIT", -20_000, "A10", None, "2022-12-15"),
    (2024, CITY, "NEW_CONSTRUCTION", "ALLOCATION", 125_000, None, None, "2024-01-05"),
    (2024, A, "NEW_CONSTRUCTION", "ALLOCATION", 160_000, None, None, "2024-01-02"),
    (2024, A, "NEW_CONSTRUCTION", "ALLOCATION", 30_000, None, None, "2024-08-01"),
    (2024, A, "FARMLAND_OFFSET", "ALLOCATION", 50_000, None, None, "2024-01-02"),
    (2024, A, "NEW_CONSTRUCTION", "APPROVAL_DEBIT", -40_000, "A3", None, "2024-03-15"),
    (2024, A, "NEW_CONSTRUCTION", "APPROVAL_DEBIT", -60_000, "A7", None, "2024-09-20"),
    (2024, B, "NEW_CONSTRUCTION", "ALLOCATION", 200_000, None, None, "2024-01-02"),
    (2024, B, "NEW_CONSTRUCTION", "APPROVAL_DEBIT", -60_000, "B6", None, "2024-04-10"),
    (2024, B, "NEW_CONSTRUCTION", "APPROVAL_DEBIT", -40_000, "B3", None, "2024-05-01"),
    (2024, B, "NEW_CONSTRUCTION", "WITHDRAWAL_CREDIT", 40_000, "B3", None, "2024-06-15"),
    (2024, CITY, "NEW_CONSTRUCTION", "POOL_TRANSFER_OUT", -40_000, None, TRANSFER, "2024-07-01"),
    (2024, B, "NEW_CONSTRUCTION", "POOL_TRANSFER_IN", 40_000, None, TRANSFER, "2024-07-01"),
]

GK = "ST_Multi(ST_Transform(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4547), 4490))"


def _rect(r: RECT) -> dict[str, int]:
    return dict(zip(("x0", "y0", "x1", "y1"), r, strict=True))


def build_fixture(conn: Connection) -> None:
    def ex(sql: str, **params: Any) -> Any:
        return conn.execute(text(sql), params)

    areas = [
        (CITY, "晋城市（测试）", "CITY", None, (410000, 3950000, 460000, 3970000)),
        (A, "东岭县", "COUNTY", CITY, (410000, 3950000, 435000, 3970000)),
        (B, "西河县", "COUNTY", CITY, (435000, 3950000, 460000, 3970000)),
    ]
    for code, name, kind, parent, r in areas:
        ex(
            f"INSERT INTO admin_area (code, name, kind, parent_code, geom) "
            f"VALUES (:code, :name, CAST(:kind AS admin_kind), :parent, {GK})",
            code=code, name=name, kind=kind, parent=parent, **_rect(r),
        )  # fmt: skip
    for code, kind, name, county, r in ZONES:
        ex(
            f"INSERT INTO protected_zone (code, kind, name, county_code, geom) "
            f"VALUES (:code, CAST(:kind AS zone_kind), :name, :county, {GK})",
            code=code, kind=kind, name=name, county=county, **_rect(r),
        )  # fmt: skip
    project_ids: dict[str, int] = {}
    for p in PROJECTS:
        project_ids[p["code"]] = ex(
            "INSERT INTO project (code, name, county_code, plan_type, stage, is_key, key_list_year, "
            "categories, total_investment, planned_start, actual_start, signing_status) VALUES "
            "(:code, :name, :county, 'PLANNED_START', CAST(:stage AS project_stage), :key, :kly, "
            "CAST(:cats AS key_category[]), 50000, :planned, :started, "
            "CAST(:signing AS signing_status)) RETURNING id",
            code=p["code"], name=f"测试项目{p['code']}", county=p["county"],
            stage="CONSTRUCTION_START" if p.get("started") else "FACTORS", key=p["key"],
            kly=2024 if p["key"] else None, cats=p["cats"],
            planned=dt.date.fromisoformat(p["planned"]),
            started=dt.date.fromisoformat(p["started"]) if p.get("started") else None,
            signing=p["signing"],
        ).scalar_one()  # fmt: skip
    parcel_ids: dict[str, int] = {}
    for p in PARCELS:
        status, since = p["steps"][-1]
        parcel_ids[p["code"]] = ex(
            f"INSERT INTO parcel (code, name, county_code, geom, land_class, procedure_status, "
            f"status_date, supply_method, agreed_start_date) VALUES (:code, :name, :county, {GK}, "
            f"CAST(:cls AS land_class), CAST(:status AS land_status), :since, "
            f"CAST(:supply AS supply_method), :agreed) RETURNING id",
            code=p["code"], name=f"测试地块{p['code']}", county=p["county"], cls=p["cls"],
            status=status, since=dt.date.fromisoformat(since), supply=p.get("supply"),
            agreed=dt.date.fromisoformat(p["agreed"]) if p.get("agreed") else None,
            **_rect(p["rect"]),
        ).scalar_one()  # fmt: skip
        for step, on in p["steps"]:
            ex(
                "INSERT INTO parcel_status_event (parcel_id, status, occurred_on, actor) "
                "VALUES (:id, CAST(:status AS land_status), :on, '测试')",
                id=parcel_ids[p["code"]], status=step, on=dt.date.fromisoformat(on),
            )  # fmt: skip
        if p["project"]:
            ex(
                "INSERT INTO project_parcel (project_id, parcel_id, linked_on) VALUES (:p, :q, :on)",
                p=project_ids[p["project"]], q=parcel_ids[p["code"]],
                on=dt.date.fromisoformat(p["steps"][0][1]),
            )  # fmt: skip
    for code, project, typ, status, deadline, started, completed in APPROVAL_ITEMS:
        ex(
            "INSERT INTO approval_item (code, project_id, item_type, name, handling_level, deadline, "
            "status, started_on, completed_on) VALUES (:code, :p, CAST(:typ AS approval_item_type), "
            ":name, 'MUNICIPAL', :deadline, CAST(:status AS approval_status), :started, :completed)",
            code=code, p=project_ids[project], typ=typ, name=f"{project} {typ}",
            deadline=dt.date.fromisoformat(deadline), status=status,
            started=dt.date.fromisoformat(started) if started else None,
            completed=dt.date.fromisoformat(completed) if completed else None,
        )  # fmt: skip
    rows = [
        {
            "year": y, "holder": h, "kind": k, "type": t, "amount": Decimal(a),
            "parcel": parcel_ids[pc] if pc else None, "transfer": tr,
            "on": dt.date.fromisoformat(on),
        }
        for y, h, k, t, a, pc, tr, on in LEDGER
    ]  # fmt: skip
    values = ", ".join(
        f"(:year{i}, :holder{i}, CAST(:kind{i} AS quota_kind), "
        f"CAST(:type{i} AS ledger_entry_type), :amount{i}, :parcel{i}, :transfer{i}, :on{i}, "
        f"'测试', '测试分录')"
        for i in range(len(rows))
    )
    ex(
        "INSERT INTO land_quota_entry (year, holder_code, kind, entry_type, amount_m2, parcel_id, "
        f"transfer_id, effective_on, actor, reason) VALUES {values}",
        **{f"{k}{i}": v for i, row in enumerate(rows) for k, v in row.items()},
    )


@pytest.fixture(scope="module")
def hand_db_url(admin_engine: Engine) -> Iterator[str]:
    name = f"{PREFIX}_guar_{uuid.uuid4().hex[:6]}"
    url = create_database(admin_engine, name)
    migrate(Settings(database_url=url))
    engine = create_engine(url)
    with engine.begin() as conn:
        build_fixture(conn)
    engine.dispose()
    yield url
    drop_database(admin_engine, name)


@pytest.fixture(scope="module")
async def hand(hand_db_url: str) -> AsyncIterator[Any]:
    app = create_app(Settings(database_url=hand_db_url, reference_date=TODAY))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):

        async def run(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
            response = await c.post("/graphql", json={"query": query, "variables": variables or {}})
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        yield run


async def data(run: Any, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = await run(query, variables)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def approx(value: float) -> Any:
    return pytest.approx(value, abs=EPS_HA)


FIGURES = """
    demandHa demandKeyHa demandOtherHa demand { key { ha } other { ha } total { m2 mu ha } }
    quotaAllocatedHa quotaFromPoolHa quotaUsedHa quotaRemainingHa gapHa coverageRatio
    approvedHa suppliedHa approvedNotSuppliedHa approvedNotSuppliedCount
    conflictCount conflictAreaHa conflictArea { basicFarmlandHa ecologicalRedlineHa totalHa }
    keyConflictDemandHa outsideUrbanBoundaryCount atRiskProjectCount
"""
COUNTY = f"""
    countyCode county {{ name }} year asOf status reasons {FIGURES}
    atRiskProjects {{ project {{ code }} tier tierLabel isKey demandHa coveredHa unmetHa conflict
                     cover reasons conflictArea {{ basicFarmlandHa ecologicalRedlineHa }} }}
"""


def check_figures(got: dict[str, Any], want: dict[str, float]) -> None:
    """`want` in ha (counts as ints); coverage is remaining / demand, gap max(0, d − r)."""
    for key, value in want.items():
        if key in ("conflictBF", "conflictRL"):
            continue
        assert got[key] == approx(value), key
    demand = want["demandHa"]
    assert got["demand"]["total"]["m2"] == approx(demand * HA)
    assert got["demand"]["total"]["mu"] == pytest.approx(demand * 15, abs=1e-4)
    assert got["demand"]["key"]["ha"] == approx(want["demandKeyHa"])
    assert got["gapHa"] == approx(max(0.0, demand - want["quotaRemainingHa"]))
    if demand:
        assert got["coverageRatio"] == pytest.approx(want["quotaRemainingHa"] / demand, abs=1e-9)
    else:
        assert got["coverageRatio"] is None
    bf, rl = want.get("conflictBF", 0.0), want.get("conflictRL", 0.0)
    assert got["conflictArea"]["basicFarmlandHa"] == approx(bf)
    assert got["conflictArea"]["ecologicalRedlineHa"] == approx(rl)
    assert got["conflictAreaHa"] == approx(bf + rl)
    assert got["conflictArea"]["totalHa"] == approx(bf + rl)


def risks(county: dict[str, Any]) -> list[tuple[str, float, float, float, bool, str]]:
    return [
        (
            r["project"]["code"],
            round(r["demandHa"], 6),
            round(r["coveredHa"], 6),
            round(r["unmetHa"], 6),
            r["conflict"],
            r["cover"],
        )
        for r in county["atRiskProjects"]
    ]


# =========================================================================== hand-worked
#
# ---- today, 2024-10-31 (year 2024) -------------------------------------------------------
# County A:
#   demand: PA1 A1 6 + A2 0 = 6, PA2 A4 4 + A5 2 = 6 → key 12; PA3 A6 3 (A7 approved),
#           PA4 A8 1 → other 4; total 16 ha
#   quota: allocated 16 + 3 = 19, from pool 0, used A3 4 + A7 6 = 10, remaining 9
#          (the 2022 entries and the FARMLAND_OFFSET allocation do not count)
#   gap 16 − 9 = 7 ha (105 亩); coverage 9/16 = 0.5625
#   approved in 2024: A3 4 + A7 6 = 10; supplied 0; 批而未供 A3 4 + A7 6 + A10 2 = 12 (3)
#   conflicts: A4 only → 1 parcel, basic farmland 2 ha, red line 0; key conflict demand A4 4
#   outside the urban boundary: A4, A8 → 2
#   status: key conflict share 4/12 = 33 % ≥ 10 % → BLOCKED (and the gap is a reason too)
#   cover (remaining 9, order PA1 t1, PA3 t3, PA4 t5; PA2 conflicts → no cover):
#     PA1 6 of 6, PA3 3 of 3 (ahead 6), PA4 0 of 1 (ahead 9) → at risk: PA2 (key), PA4
# County B:
#   demand: PB1 15 + PB2 6 = key 21; PB3 4 + PB4 2 + PB5 3 = other 9; total 30
#   quota: allocated 20, from pool 4, used B6 6 + B3 4 − B3 4 = 6, remaining 18
#   gap 12 ha (180 亩); coverage 18/30 = 0.6
#   approved in 2024: B6 6 (B3's approval was withdrawn: not counted); supplied B6 6;
#   批而未供 0; conflicts: B4 → 1, red line 1 ha; key conflict 0 → not blocked; outside: B4 → 1
#   status SHORTFALL
#   cover (remaining 18; order PB1 t1, PB2 t2, PB3 t4, PB5 t5 (08-01); PB4 conflicts):
#     PB1 15 of 15, PB2 3 of 6 (ahead 15), PB3 0 of 4, PB5 0 of 3 → at risk PB2, PB3, PB4, PB5
CURRENT_A = dict(
    demandHa=16, demandKeyHa=12, demandOtherHa=4, quotaAllocatedHa=19, quotaFromPoolHa=0,
    quotaUsedHa=10, quotaRemainingHa=9, gapHa=7, approvedHa=10, suppliedHa=0,
    approvedNotSuppliedHa=12, approvedNotSuppliedCount=3, conflictCount=1, conflictBF=2,
    keyConflictDemandHa=4, outsideUrbanBoundaryCount=2, atRiskProjectCount=2,
)  # fmt: skip
CURRENT_B = dict(
    demandHa=30, demandKeyHa=21, demandOtherHa=9, quotaAllocatedHa=20, quotaFromPoolHa=4,
    quotaUsedHa=6, quotaRemainingHa=18, gapHa=12, approvedHa=6, suppliedHa=6,
    approvedNotSuppliedHa=0, approvedNotSuppliedCount=0, conflictCount=1, conflictRL=1,
    keyConflictDemandHa=0, outsideUrbanBoundaryCount=1, atRiskProjectCount=4,
)  # fmt: skip
#
# ---- as of 2024-06-30 (year 2024) --------------------------------------------------------
# County A: A7 was SUBMITTED (demand 6), A6 DOSSIER_PREP, A8 not yet registered nor linked,
#   A2 DEMAND. demand: PA1 6, PA2 6 → key 12; PA3 3 + 6 = 9 → other 9; total 21
#   quota: allocated 16 (the 08-01 allocation is later), used A3 4, remaining 12
#   gap 9 (135 亩); coverage 12/21; approved A3 4; supplied 0; 批而未供 A3 4 + A10 2 = 6 (2)
#   conflicts A4 (BF 2); outside A4 → 1; BLOCKED (4/12)
#   cover (12): PA1 6 of 6, PA3 6 of 9 (ahead 6) → at risk PA2, PA3
# County B: statuses as today except B6 APPROVED_UNSUPPLIED (supplied 08-15 is later).
#   demand 30 (key 21, other 9); quota: allocated 20, from pool 0 (07-01 is later),
#   used 6 + 4 − 4 = 6, remaining 14; gap 16 (240 亩); coverage 14/30
#   approved B6 6 (B3 withdrawn 06-15); supplied 0; 批而未供 B6 6 (1); RL 1; outside 1
#   cover (14): PB1 14 of 15 → at risk PB1, PB2, PB3, PB4, PB5
ASOF_A = dict(
    demandHa=21, demandKeyHa=12, demandOtherHa=9, quotaAllocatedHa=16, quotaFromPoolHa=0,
    quotaUsedHa=4, quotaRemainingHa=12, gapHa=9, approvedHa=4, suppliedHa=0,
    approvedNotSuppliedHa=6, approvedNotSuppliedCount=2, conflictCount=1, conflictBF=2,
    keyConflictDemandHa=4, outsideUrbanBoundaryCount=1, atRiskProjectCount=2,
)  # fmt: skip
ASOF_B = dict(
    demandHa=30, demandKeyHa=21, demandOtherHa=9, quotaAllocatedHa=20, quotaFromPoolHa=0,
    quotaUsedHa=6, quotaRemainingHa=14, gapHa=16, approvedHa=6, suppliedHa=0,
    approvedNotSuppliedHa=6, approvedNotSuppliedCount=1, conflictCount=1, conflictRL=1,
    keyConflictDemandHa=0, outsideUrbanBoundaryCount=1, atRiskProjectCount=5,
)  # fmt: skip


async def test_county_land_guarantee_today_is_the_hand_worked_status(hand: Any) -> None:
    d = await data(hand, f"{{ landGuarantee(year: 2024) {{ {COUNTY} }} }}")
    a, b = d["landGuarantee"]
    assert (a["countyCode"], a["county"]["name"], b["countyCode"]) == (A, "东岭县", B)
    assert a["year"] == 2024 and a["asOf"] == "2024-10-31"
    check_figures(a, CURRENT_A)
    check_figures(b, CURRENT_B)
    assert a["coverageRatio"] == pytest.approx(0.5625) and b["coverageRatio"] == pytest.approx(0.6)

    assert a["status"] == "BLOCKED" and len(a["reasons"]) == 2
    assert a["reasons"][0].startswith("重点项目用地需求中 33% 与永久基本农田或生态保护红线冲突")
    assert a["reasons"][1] == "指标缺口 105.0 亩 — quota gap of 105.0 mu"
    assert b["status"] == "SHORTFALL"
    assert b["reasons"] == ["指标缺口 180.0 亩 — quota gap of 180.0 mu"]

    # key projects first, then tier, planned start, code
    assert risks(a) == [
        ("PA2", 6, 0, 6, True, "CONFLICT"),
        ("PA4", 1, 0, 1, False, "NOT_COVERED"),
    ]
    assert risks(b) == [
        ("PB2", 6, 3, 3, False, "PARTLY"),
        ("PB3", 4, 0, 4, False, "NOT_COVERED"),
        ("PB4", 2, 0, 2, True, "CONFLICT"),
        ("PB5", 3, 0, 3, False, "NOT_COVERED"),
    ]
    pa2, pa4 = a["atRiskProjects"]
    assert pa2["tier"] == 2 and pa2["isKey"] and pa2["tierLabel"] == R.PRIORITY_TIERS[2]
    assert pa2["conflictArea"]["basicFarmlandHa"] == approx(2)
    assert "永久基本农田 30.0 亩" in pa2["reasons"][0]
    assert "城镇开发边界外" in pa2["reasons"][1]  # A4 lies half outside
    # PA4: remaining 135 亩, 135 亩 ahead (PA1 90 + PA3 45), 15 亩 not covered
    assert pa4["reasons"][0].startswith(
        "县级剩余指标 135.0 亩，优先序在前的项目需 135.0 亩，本项目缺 15.0 亩"
    )
    assert b["atRiskProjects"][2]["conflictArea"]["ecologicalRedlineHa"] == approx(1)

    one = await data(
        hand, f'{{ landGuarantee(year: 2024, countyCode: "{B}") {{ countyCode demandHa }} }}'
    )
    assert one["landGuarantee"] == [{"countyCode": B, "demandHa": approx(30)}]


async def test_as_of_an_earlier_date_rebuilds_the_numbers(hand: Any) -> None:
    d = await data(hand, f'{{ landGuarantee(year: 2024, asOf: "2024-06-30") {{ {COUNTY} }} }}')
    a, b = d["landGuarantee"]
    assert a["asOf"] == "2024-06-30"
    check_figures(a, ASOF_A)
    check_figures(b, ASOF_B)
    assert (
        a["status"] == "BLOCKED" and a["reasons"][1] == "指标缺口 135.0 亩 — quota gap of 135.0 mu"
    )
    assert b["status"] == "SHORTFALL" and b["reasons"] == [
        "指标缺口 240.0 亩 — quota gap of 240.0 mu"
    ]
    assert risks(a) == [
        ("PA2", 6, 0, 6, True, "CONFLICT"),
        ("PA3", 9, 6, 3, False, "PARTLY"),
    ]
    assert risks(b) == [
        ("PB1", 15, 14, 1, False, "PARTLY"),
        ("PB2", 6, 0, 6, False, "NOT_COVERED"),
        ("PB3", 4, 0, 4, False, "NOT_COVERED"),
        ("PB4", 2, 0, 2, True, "CONFLICT"),
        ("PB5", 3, 0, 3, False, "NOT_COVERED"),
    ]
    # asOf = today gives the current numbers (the status-from-events path agrees with the
    # current statuses)
    today = await data(hand, f'{{ landGuarantee(year: 2024, asOf: "2024-10-31") {{ {COUNTY} }} }}')
    check_figures(today["landGuarantee"][0], CURRENT_A)
    check_figures(today["landGuarantee"][1], CURRENT_B)


# ---- a past year: year 2022, asOf defaults to 2022-12-31 ---------------------------------
# No parcel of an active project was in demand then (A9 supplied, A10 approved 12-15, the rest
# starts in 2023–2024) → demand 0, coverage null, SUFFICIENT. A's 2022 account: allocated 3,
# used A10 2, remaining 1. Approved in 2022: A10 2; supplied in 2022: A9 1; 批而未供 A10 2.
async def test_a_past_year_closes_on_its_31_december(hand: Any) -> None:
    d = await data(hand, f"{{ landGuarantee(year: 2022) {{ {COUNTY} }} }}")
    a, b = d["landGuarantee"]
    assert a["asOf"] == "2022-12-31"
    check_figures(
        a,
        dict(demandHa=0, demandKeyHa=0, demandOtherHa=0, quotaAllocatedHa=3, quotaFromPoolHa=0,
             quotaUsedHa=2, quotaRemainingHa=1, gapHa=0, approvedHa=2, suppliedHa=1,
             approvedNotSuppliedHa=2, approvedNotSuppliedCount=1, conflictCount=0,
             keyConflictDemandHa=0, outsideUrbanBoundaryCount=0, atRiskProjectCount=0),
    )  # fmt: skip
    assert a["status"] == "SUFFICIENT" and a["reasons"] == [
        "无待批用地需求 — no land demand awaiting approval"
    ]
    assert b["status"] == "SUFFICIENT" and b["demandHa"] == 0 and b["quotaAllocatedHa"] == 0


# ---- city totals = A + B -----------------------------------------------------------------
# today: demand 16 + 30 = 46 (key 33, other 13); allocated 19 + 20 = 39; from pool 4;
# used 10 + 6 = 16; remaining 9 + 18 = 27; gap 7 + 12 = 19; coverage 27/46; approved 16;
# supplied 6; 批而未供 12 (3); conflicts 2 (BF 2, RL 1); key conflict 4; outside 3; at risk 6.
# Pool: allocated 12.5, transferred 4 (to B on 07-01), remaining 8.5.
# 06-30: demand 51 (33 / 18); allocated 36; from pool 0; used 10; remaining 26; gap 25;
# approved 10; supplied 0; 批而未供 12 (3); conflicts 2; outside 2; at risk 7.
# Pool: allocated 12.5, transferred 0, remaining 12.5.
CITY_TODAY = dict(
    demandHa=46, demandKeyHa=33, demandOtherHa=13, quotaAllocatedHa=39, quotaFromPoolHa=4,
    quotaUsedHa=16, quotaRemainingHa=27, gapHa=19, approvedHa=16, suppliedHa=6,
    approvedNotSuppliedHa=12, approvedNotSuppliedCount=3, conflictCount=2, conflictBF=2,
    conflictRL=1, keyConflictDemandHa=4, outsideUrbanBoundaryCount=3, atRiskProjectCount=6,
)  # fmt: skip
CITY_ASOF = dict(
    demandHa=51, demandKeyHa=33, demandOtherHa=18, quotaAllocatedHa=36, quotaFromPoolHa=0,
    quotaUsedHa=10, quotaRemainingHa=26, gapHa=25, approvedHa=10, suppliedHa=0,
    approvedNotSuppliedHa=12, approvedNotSuppliedCount=3, conflictCount=2, conflictBF=2,
    conflictRL=1, keyConflictDemandHa=4, outsideUrbanBoundaryCount=2, atRiskProjectCount=7,
)  # fmt: skip
CITY_QUERY = """{ landGuaranteeCity(year: 2024%s) { year asOf city { code }
    totals { countyCount %s } pool { allocatedHa transferredHa remainingHa remaining { mu } }
    counties { countyCode status } } }"""


async def test_city_totals_and_pool(hand: Any) -> None:
    d = (await data(hand, CITY_QUERY % ("", FIGURES)))["landGuaranteeCity"]
    assert d["city"] == {"code": "140500"} and d["asOf"] == "2024-10-31"
    assert d["totals"]["countyCount"] == 2
    check_figures(d["totals"], CITY_TODAY)
    assert d["pool"]["allocatedHa"] == approx(12.5)
    assert d["pool"]["transferredHa"] == approx(4)
    assert d["pool"]["remainingHa"] == approx(8.5)
    assert d["pool"]["remaining"]["mu"] == pytest.approx(127.5, abs=1e-6)
    assert d["counties"] == [
        {"countyCode": A, "status": "BLOCKED"},
        {"countyCode": B, "status": "SHORTFALL"},
    ]
    e = (await data(hand, CITY_QUERY % (', asOf: "2024-06-30"', FIGURES)))["landGuaranteeCity"]
    check_figures(e["totals"], CITY_ASOF)
    assert (e["pool"]["allocatedHa"], e["pool"]["transferredHa"], e["pool"]["remainingHa"]) == (
        approx(12.5),
        approx(0),
        approx(12.5),
    )


# ---- the pool plan -----------------------------------------------------------------------
# today: pool 8.5. Unmet, non-conflicting, in priority order (tier, planned start, code):
#   PB2 t2 unmet 3 → 3 (pool left 5.5); PB3 t4 unmet 4 → 4 (1.5);
#   PA4 t5 2024-05-01 unmet 1 → 1 (0.5); PB5 t5 2024-08-01 unmet 3 → 0.5, still 2.5.
#   Totals: unmet 11, allocated 8.5, still unmet 2.5, pool left 0.
#   Excluded (conflict): PA2 6, PB4 2 → 8.  By county: A 1/1/0 (excluded 6), B 10/7.5/2.5 (2).
# 06-30: pool 12.5. PB1 t1 unmet 1 → 1 (11.5); PB2 t2 6 → 6 (5.5); PA3 t3 3 → 3 (2.5);
#   PB3 t4 4 → 2.5, still 1.5; PB5 t5 3 → 0, still 3.  unmet 17, allocated 12.5, still 4.5.
PLAN = """{ poolAllocationPlan(year: 2024%s) { asOf poolRemainingHa unmetHa allocatedHa
    stillUnmetHa excludedUnmetHa poolLeftHa pool { transferredHa }
    rows { project { code } countyCode county { code } tier tierLabel unmetHa allocatedHa remainingUnmetHa }
    excluded { project { code } countyCode unmetHa reason }
    byCounty { countyCode unmetHa allocatedHa remainingUnmetHa excludedUnmetHa } } }"""


def plan_rows(plan: dict[str, Any]) -> list[tuple[str, str, int, float, float, float]]:
    return [
        (
            r["project"]["code"],
            r["countyCode"],
            r["tier"],
            round(r["unmetHa"], 6),
            round(r["allocatedHa"], 6),
            round(r["remainingUnmetHa"], 6),
        )
        for r in plan["rows"]
    ]


async def test_pool_allocation_plan(hand: Any) -> None:
    p = (await data(hand, PLAN % ""))["poolAllocationPlan"]
    assert plan_rows(p) == [
        ("PB2", B, 2, 3, 3, 0),
        ("PB3", B, 4, 4, 4, 0),
        ("PA4", A, 5, 1, 1, 0),
        ("PB5", B, 5, 3, 0.5, 2.5),
    ]
    assert p["poolRemainingHa"] == approx(8.5) and p["unmetHa"] == approx(11)
    assert p["allocatedHa"] == approx(8.5) and p["stillUnmetHa"] == approx(2.5)
    assert p["excludedUnmetHa"] == approx(8) and p["poolLeftHa"] == approx(0)
    assert [(e["project"]["code"], round(e["unmetHa"], 6)) for e in p["excluded"]] == [
        ("PA2", 6),
        ("PB4", 2),
    ]
    assert all("冲突" in e["reason"] for e in p["excluded"])
    assert [
        (c["countyCode"], round(c["unmetHa"], 6), round(c["allocatedHa"], 6),
         round(c["remainingUnmetHa"], 6), round(c["excludedUnmetHa"], 6))
        for c in p["byCounty"]
    ] == [(A, 1, 1, 0, 6), (B, 10, 7.5, 2.5, 2)]  # fmt: skip

    q = (await data(hand, PLAN % ', asOf: "2024-06-30"'))["poolAllocationPlan"]
    assert plan_rows(q) == [
        ("PB1", B, 1, 1, 1, 0),
        ("PB2", B, 2, 6, 6, 0),
        ("PA3", A, 3, 3, 3, 0),
        ("PB3", B, 4, 4, 2.5, 1.5),
        ("PB5", B, 5, 3, 0, 3),
    ]
    assert q["poolRemainingHa"] == approx(12.5) and q["allocatedHa"] == approx(12.5)
    assert q["unmetHa"] == approx(17) and q["stillUnmetHa"] == approx(4.5)
    assert q["poolLeftHa"] == approx(0) and q["excludedUnmetHa"] == approx(8)


# ---- Project.landStatus ------------------------------------------------------------------
# PA1 today: A1 SUBMITTED 6 ha, A2 DEMAND 1 ha (nc 0), A3 APPROVED_UNSUPPLIED 4 ha.
#   needed 6 (2 demand parcels); tier 1; no conflict; COVERED 6 of 6 (remaining 9, ahead 0);
#   least advanced demand step DEMAND (A2) → next PRE_REVIEWED ↔ LAND_PRE_EXAMINATION; open
#   items of that type: AI-PA1-2 (deadline 2024-11-20; AI-PA1-1 was completed) → 2024-11-20.
# PA2 today: A4 DOSSIER_PREP 4 ha (conflict, basic farmland 2 ha), A5 DEMAND 2 ha. needed 6;
#   CONFLICT, covered 0, unmet 6; ahead 6 (PA1); outside 1 (A4); next PRE_REVIEWED (A5),
#   item AI-PA2-1 (BLOCKED, open) → 2024-08-31.
# PB2 today: B2 DOSSIER_PREP 6 ha; PARTLY 3 of 6 (remaining 18, ahead 15); pool share 3;
#   next SUBMITTED — no approval item for 报批 → no deadline.
# PB6 today: B6 SUPPLIED 6 ha; no demand; next LAND_PLANNING_PERMIT ↔ AI-PB6-1 → 2024-12-09.
# PA3 on 06-30: A6 DOSSIER_PREP 3, A7 SUBMITTED 6 → needed 9; PARTLY 6 of 9 (remaining 12,
#   ahead 6); pool share 3 (06-30 plan); next SUBMITTED (A6). Today: A6 SUBMITTED,
#   A7 APPROVED_UNSUPPLIED → needed 3, COVERED (remaining 9, ahead 6), next APPROVED_UNSUPPLIED.
LAND_STATUS = """
    year asOf parcelCount demandParcelCount newConstructionNeededHa newConstructionNeeded { mu }
    byStatus { status parcelCount area { ha } newConstructionArea { ha } }
    tier tierLabel conflict conflicts { parcel { code } awaitingApproval basicFarmland { ha } ecologicalRedline { ha } }
    conflictArea { basicFarmlandHa } outsideUrbanBoundaryCount cover coveredHa unmetHa
    countyRemainingHa aheadInCountyHa fromPoolHa reasons
    nextStep nextStepParcels nextStepItem { code status } nextStepDeadline
"""


async def land_status(run: Any, code: str, args: str = "") -> dict[str, Any]:
    d = await data(run, f'{{ project(code: "{code}") {{ landStatus{args} {{ {LAND_STATUS} }} }} }}')
    result: dict[str, Any] = d["project"]["landStatus"]
    return result


def steps(s: dict[str, Any]) -> list[tuple[str, int, float, float]]:
    return [
        (b["status"], b["parcelCount"], round(b["area"]["ha"], 6), round(b["newConstructionArea"]["ha"], 6))
        for b in s["byStatus"]
    ]  # fmt: skip


async def test_project_land_status(hand: Any) -> None:
    pa1 = await land_status(hand, "PA1")
    assert (pa1["year"], pa1["asOf"], pa1["parcelCount"], pa1["demandParcelCount"]) == (
        2024,
        "2024-10-31",
        3,
        2,
    )
    assert steps(pa1) == [
        ("DEMAND", 1, 1, 0),
        ("SUBMITTED", 1, 6, 6),
        ("APPROVED_UNSUPPLIED", 1, 4, 4),
    ]
    assert pa1["newConstructionNeededHa"] == approx(6)
    assert pa1["newConstructionNeeded"]["mu"] == pytest.approx(90, abs=1e-4)
    assert (pa1["tier"], pa1["conflict"], pa1["conflicts"], pa1["cover"]) == (
        1,
        False,
        [],
        "COVERED",
    )
    assert (pa1["coveredHa"], pa1["unmetHa"], pa1["countyRemainingHa"]) == (
        approx(6),
        approx(0),
        approx(9),
    )
    assert (pa1["aheadInCountyHa"], pa1["fromPoolHa"]) == (approx(0), approx(0))
    assert (pa1["nextStep"], pa1["nextStepParcels"]) == ("PRE_REVIEWED", ["A2"])
    assert pa1["nextStepItem"] == {"code": "AI-PA1-2", "status": "IN_PROGRESS"}
    assert pa1["nextStepDeadline"] == "2024-11-20"

    pa2 = await land_status(hand, "PA2")
    assert steps(pa2) == [("DEMAND", 1, 2, 2), ("DOSSIER_PREP", 1, 4, 4)]
    assert (pa2["tier"], pa2["conflict"], pa2["cover"]) == (2, True, "CONFLICT")
    assert pa2["conflicts"] == [
        {
            "parcel": {"code": "A4"},
            "awaitingApproval": True,
            "basicFarmland": {"ha": approx(2)},
            "ecologicalRedline": {"ha": approx(0)},
        }
    ]
    assert pa2["conflictArea"]["basicFarmlandHa"] == approx(2)
    assert (pa2["newConstructionNeededHa"], pa2["coveredHa"], pa2["unmetHa"]) == (
        approx(6),
        0,
        approx(6),
    )
    assert (pa2["aheadInCountyHa"], pa2["outsideUrbanBoundaryCount"]) == (approx(6), 1)
    assert (pa2["nextStep"], pa2["nextStepParcels"], pa2["nextStepDeadline"]) == (
        "PRE_REVIEWED",
        ["A5"],
        "2024-08-31",
    )
    assert pa2["nextStepItem"] == {"code": "AI-PA2-1", "status": "BLOCKED"}

    pb2 = await land_status(hand, "PB2")
    assert steps(pb2) == [("DOSSIER_PREP", 1, 6, 6)]
    assert (pb2["cover"], pb2["coveredHa"], pb2["unmetHa"]) == ("PARTLY", approx(3), approx(3))
    assert (pb2["countyRemainingHa"], pb2["aheadInCountyHa"], pb2["fromPoolHa"]) == (
        approx(18),
        approx(15),
        approx(3),
    )
    assert (
        pb2["nextStep"],
        pb2["nextStepParcels"],
        pb2["nextStepItem"],
        pb2["nextStepDeadline"],
    ) == (
        "SUBMITTED",
        ["B2"],
        None,
        None,
    )

    pb6 = await land_status(hand, "PB6")
    assert steps(pb6) == [("SUPPLIED", 1, 6, 6)]
    assert (pb6["cover"], pb6["newConstructionNeededHa"], pb6["tier"]) == ("NO_DEMAND", 0, 5)
    assert pb6["countyRemainingHa"] is None
    assert (pb6["nextStep"], pb6["nextStepParcels"], pb6["nextStepDeadline"]) == (
        "LAND_PLANNING_PERMIT",
        ["B6"],
        "2024-12-09",
    )

    pa3_then = await land_status(hand, "PA3", '(asOf: "2024-06-30")')
    assert (pa3_then["year"], pa3_then["asOf"]) == (2024, "2024-06-30")
    assert steps(pa3_then) == [("DOSSIER_PREP", 1, 3, 3), ("SUBMITTED", 1, 6, 6)]
    assert (pa3_then["tier"], pa3_then["cover"], pa3_then["newConstructionNeededHa"]) == (
        3,
        "PARTLY",
        approx(9),
    )
    assert (pa3_then["coveredHa"], pa3_then["unmetHa"], pa3_then["countyRemainingHa"]) == (
        approx(6),
        approx(3),
        approx(12),
    )
    assert (pa3_then["aheadInCountyHa"], pa3_then["fromPoolHa"]) == (approx(6), approx(3))
    assert (pa3_then["nextStep"], pa3_then["nextStepParcels"]) == ("SUBMITTED", ["A6"])
    pa3_now = await land_status(hand, "PA3", "(year: 2024)")
    assert steps(pa3_now) == [("SUBMITTED", 1, 3, 3), ("APPROVED_UNSUPPLIED", 1, 6, 6)]
    assert (pa3_now["cover"], pa3_now["newConstructionNeededHa"], pa3_now["coveredHa"]) == (
        "COVERED",
        approx(3),
        approx(3),
    )
    assert (pa3_now["nextStep"], pa3_now["nextStepParcels"]) == ("APPROVED_UNSUPPLIED", ["A6"])

    # A8 was not linked to PA4 yet on 06-30: no parcels, no demand, no next step
    pa4_then = await land_status(hand, "PA4", '(asOf: "2024-06-30")')
    assert (pa4_then["parcelCount"], pa4_then["cover"], pa4_then["nextStep"]) == (
        0,
        "NO_DEMAND",
        None,
    )


# ---- Parcel.conflicts and Parcel.approvalAuthority ---------------------------------------
# A4 ∩ ZA-BF = 100 m × 200 m = 20,000 m² = 30 亩 → State Council (basic farmland).
# B4 ∩ ZB-RL = 50 m × 200 m = 10,000 m² = 15 亩; red line only, 2 ha grassland → province.
# B1 15 ha farmland ≤ 35 → province; B8 34.95 ha farmland ≤ 35 → province;
# B9 36 ha farmland > 35 → State Council; B10 71 ha forest (other land) > 70 → State Council.
async def test_parcel_conflicts_and_approval_authority(hand: Any) -> None:
    d = await data(
        hand,
        "{ parcels(first: 50) { edges { node { code conflicts { zone { kind code name } "
        "overlapM2 overlapMu overlapHa } approvalAuthority { level reason basicFarmland { ha } "
        "farmland { ha } otherLand { ha } } } } } }",
    )
    by_code = {e["node"]["code"]: e["node"] for e in d["parcels"]["edges"]}
    assert len(by_code) == 20
    a4 = by_code["A4"]["conflicts"]
    assert [(c["zone"]["kind"], c["zone"]["code"]) for c in a4] == [("BASIC_FARMLAND", "ZA-BF")]
    assert a4[0]["zone"]["name"] == "东岭县永久基本农田1号片块"
    assert a4[0]["overlapM2"] == pytest.approx(20_000, abs=0.01)
    assert a4[0]["overlapMu"] == pytest.approx(30, abs=1e-4)
    assert a4[0]["overlapHa"] == approx(2)
    b4 = by_code["B4"]["conflicts"]
    assert [(c["zone"]["kind"], c["zone"]["code"]) for c in b4] == [("ECOLOGICAL_REDLINE", "ZB-RL")]
    assert b4[0]["overlapM2"] == pytest.approx(10_000, abs=0.01)
    assert b4[0]["overlapMu"] == pytest.approx(15, abs=1e-4)
    assert {c for c, p in by_code.items() if p["conflicts"]} == {"A4", "B4"}

    def level(code: str) -> str:
        return str(by_code[code]["approvalAuthority"]["level"])

    assert level("A4") == "STATE_COUNCIL"
    assert by_code["A4"]["approvalAuthority"]["basicFarmland"]["ha"] == approx(2)
    assert "永久基本农田 30.00 亩" in by_code["A4"]["approvalAuthority"]["reason"]
    assert level("B4") == "PROVINCE" and level("B1") == "PROVINCE" and level("B8") == "PROVINCE"
    assert by_code["B8"]["approvalAuthority"]["farmland"]["ha"] == approx(34.95)
    assert (
        level("B9") == "STATE_COUNCIL"
        and "耕地 36.00 公顷超过 35" in by_code["B9"]["approvalAuthority"]["reason"]
    )
    assert level("B10") == "STATE_COUNCIL"
    assert by_code["B10"]["approvalAuthority"]["otherLand"]["ha"] == approx(71)
    assert "其他土地 71.00 公顷超过 70" in by_code["B10"]["approvalAuthority"]["reason"]
    assert {c for c in by_code if level(c) == "STATE_COUNCIL"} == {"A4", "B9", "B10"}


# ---- landStock ---------------------------------------------------------------------------
# today: A 批而未供 A10 (2022-12-15, 2 ha), A3 (2024-03-15, 4 ha), A7 (2024-09-20, 6 ha) →
#   3 / 12 ha, oldest first. A10 lapses 2022-12-15 + 730 d = 2024-12-14: 44 days left < 90 →
#   about to lapse. A3 lapses 2026-03-15, A7 2026-09-20. Idle candidate: A9 (SUPPLIED, agreed
#   start 2022-09-01 + 365 d = 2023-09-01 < today, PA5 never started) 1 ha.
#   B: 批而未供 0 (B6 supplied); idle B7 (status IDLE since 2022-07-01) 1 ha; B6's agreed
#   start 2024-10-01 is recent and PB6 started → not idle.
# 06-30: A 批而未供 A10, A3 → 2 / 6 ha (A7 still SUBMITTED); A10 has 167 days left → not
#   about to lapse. B 批而未供 B6 (approved 04-10) 1 / 6 ha. Idle A9, B7 as today.
STOCK = """{ landStock%s { countyCode asOf
    approvedNotSupplied { count areaHa truncated parcels { parcel { code } status approvedOn lapsesOn daysToLapse } }
    idle { count areaHa parcels { parcel { code } status idleSince agreedStartDate } }
    aboutToLapse { count areaHa parcels { parcel { code } daysToLapse } }
    lapsed { count } } }"""


def codes(group: dict[str, Any]) -> list[str]:
    return [p["parcel"]["code"] for p in group["parcels"]]


async def test_land_stock(hand: Any) -> None:
    a, b = (await data(hand, STOCK % ""))["landStock"]
    assert (a["countyCode"], a["asOf"], b["countyCode"]) == (A, "2024-10-31", B)
    ans = a["approvedNotSupplied"]
    assert (ans["count"], ans["areaHa"], ans["truncated"], codes(ans)) == (
        3,
        approx(12),
        False,
        ["A10", "A3", "A7"],
    )
    a10 = ans["parcels"][0]
    assert (a10["approvedOn"], a10["lapsesOn"], a10["daysToLapse"], a10["status"]) == (
        "2022-12-15",
        "2024-12-14",
        44,
        "APPROVED_UNSUPPLIED",
    )
    assert [p["lapsesOn"] for p in ans["parcels"][1:]] == ["2026-03-15", "2026-09-20"]
    assert (a["aboutToLapse"]["count"], a["aboutToLapse"]["areaHa"], codes(a["aboutToLapse"])) == (
        1,
        approx(2),
        ["A10"],
    )
    assert (a["idle"]["count"], a["idle"]["areaHa"], codes(a["idle"])) == (1, approx(1), ["A9"])
    assert a["idle"]["parcels"][0] == {
        "parcel": {"code": "A9"},
        "status": "SUPPLIED",
        "idleSince": "2023-09-01",
        "agreedStartDate": "2022-09-01",
    }
    assert (b["approvedNotSupplied"]["count"], b["aboutToLapse"]["count"]) == (0, 0)
    assert codes(b["idle"]) == ["B7"] and b["idle"]["parcels"][0]["idleSince"] == "2022-07-01"
    assert (a["lapsed"]["count"], b["lapsed"]["count"]) == (0, 0)

    capped = (await data(hand, STOCK % f'(countyCode: "{A}", listLimit: 1)'))["landStock"]
    assert len(capped) == 1
    assert capped[0]["approvedNotSupplied"]["count"] == 3
    assert capped[0]["approvedNotSupplied"]["truncated"] is True
    assert codes(capped[0]["approvedNotSupplied"]) == ["A10"]

    then_a, then_b = (await data(hand, STOCK % '(asOf: "2024-06-30")'))["landStock"]
    assert (then_a["approvedNotSupplied"]["count"], codes(then_a["approvedNotSupplied"])) == (
        2,
        ["A10", "A3"],
    )
    assert then_a["approvedNotSupplied"]["areaHa"] == approx(6)
    assert then_a["approvedNotSupplied"]["parcels"][0]["daysToLapse"] == 167
    assert then_a["aboutToLapse"]["count"] == 0
    assert codes(then_b["approvedNotSupplied"]) == ["B6"]
    assert then_b["approvedNotSupplied"]["parcels"][0]["approvedOn"] == "2024-04-10"
    assert (codes(then_a["idle"]), codes(then_b["idle"])) == (["A9"], ["B7"])


# =========================================================================== errors


async def test_errors(hand: Any) -> None:
    async def code_of(query: str) -> tuple[str, Any]:
        body = await hand(query)
        assert body.get("errors"), body
        return body["errors"][0]["extensions"]["code"], body.get("data")

    for q in (
        "{ landGuarantee(year: 1999) { countyCode } }",
        "{ landGuarantee(year: 2101) { countyCode } }",
        '{ landGuarantee(year: 2024, asOf: "2024-11-01") { countyCode } }',
        "{ landGuaranteeCity(year: 0) { year } }",
        "{ poolAllocationPlan(year: 3000) { year } }",
        "{ landStock(listLimit: 501) { countyCode } }",
        "{ landStock(listLimit: -1) { countyCode } }",
        '{ landStock(asOf: "2025-01-01") { countyCode } }',
        f'{{ landGuarantee(year: 2024, countyCode: "{A}") {{ atRiskProjects(first: -1) {{ tier }} }} }}',
    ):
        assert (await code_of(q))[0] == "BAD_USER_INPUT", q
    body = await hand(
        "query($d: Date) { landGuarantee(year: 2024, asOf: $d) { countyCode } }",
        {"d": "2024-13-01"},
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    code, partial = await code_of(
        '{ project(code: "PA1") { code landStatus(year: 1800) { year } } }'
    )
    assert code == "BAD_USER_INPUT" and partial == {"project": None}  # landStatus is non-null
    body = await hand('{ project(code: "PA1") { code landStatus(asOf: "2030-01-01") { year } } }')
    assert body["errors"][0]["path"] == ["project", "landStatus"]

    # unknown or non-county codes are empty lists, not errors
    empty = await data(
        hand,
        '{ a: landGuarantee(year: 2024, countyCode: "999999") { countyCode } '
        f'b: landGuarantee(year: 2024, countyCode: "{CITY}") {{ countyCode }} '
        'c: landStock(countyCode: "nope") { countyCode } }',
    )
    assert empty == {"a": [], "b": [], "c": []}


# =========================================================================== rules


def test_rules_as_functions() -> None:
    s, reasons = R.county_status(
        demand_m2=100, remaining_m2=110, key_demand_m2=50, key_conflict_m2=0
    )
    assert s is R.GuaranteeStatus.TIGHT and "1.10" in reasons[0]
    s, reasons = R.county_status(
        demand_m2=100, remaining_m2=120, key_demand_m2=50, key_conflict_m2=4.9
    )
    assert s is R.GuaranteeStatus.SUFFICIENT and "1.20" in reasons[0]
    s, _ = R.county_status(demand_m2=100, remaining_m2=500, key_demand_m2=50, key_conflict_m2=5)
    assert s is R.GuaranteeStatus.BLOCKED
    assert "20 %" in R.GuaranteeStatus.TIGHT.en  # not "19 %" from float truncation
    assert R.default_as_of(2022, TODAY) == dt.date(2022, 12, 31)
    assert R.default_as_of(2024, TODAY) == TODAY == R.default_as_of(2025, TODAY)
    C = R.CoverStatus
    assert R.cover_status(demand_m2=0, covered_m2=0, conflict=True) is C.CONFLICT
    assert R.cover_status(demand_m2=0, covered_m2=0, conflict=False) is C.NO_DEMAND
    assert R.cover_status(demand_m2=5, covered_m2=5, conflict=False) is C.COVERED
    assert R.cover_status(demand_m2=5, covered_m2=1, conflict=False) is C.PARTLY
    assert R.cover_status(demand_m2=5, covered_m2=0, conflict=False) is C.NOT_COVERED
    S = LandStatus
    assert R.next_step([S.SUBMITTED, S.DEMAND, S.REGISTERED]) is S.PRE_REVIEWED
    assert R.next_step([S.SUPPLIED, S.IDLE]) is S.LAND_PLANNING_PERMIT
    assert R.next_step([S.REGISTERED]) is None and R.next_step([S.LAPSED]) is None
    level, _ = R.approval_authority(basic_farmland_m2=0.5, farmland_m2=0, area_m2=1000)
    assert level is R.ApprovalAuthority.STATE_COUNCIL
    level, _ = R.approval_authority(basic_farmland_m2=0, farmland_m2=350_000, area_m2=1_050_000)
    assert level is R.ApprovalAuthority.PROVINCE  # 35 ha farmland and 70 ha other: not above
    assert R.priority_tier(categories=["PROVINCIAL_KEY"], is_key=True, signing_status=None) == 1
    assert R.priority_tier(categories=[], is_key=False, signing_status="LANDED") == 5


# =========================================================================== demo data

DEMO_AS_OF = "2024-10-31"
DEMO_DATE = dt.date(2024, 10, 31)


def sql(engine: Engine, query: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(query), params).all()


async def test_demo_city_is_the_sum_of_its_counties(gql: Any) -> None:
    body = await gql(
        f'{{ landGuaranteeCity(year: 2024, asOf: "{DEMO_AS_OF}") {{ totals {{ countyCount {FIGURES} }} '
        f"pool {{ allocatedHa transferredHa remainingHa }} counties {{ countyCode status reasons {FIGURES} }} }} }}"
    )
    city = body["data"]["landGuaranteeCity"]
    counties, totals = city["counties"], city["totals"]
    assert totals["countyCount"] == len(counties) == 6
    for key, value in totals.items():
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and key != "coverageRatio"
        ):
            if key == "countyCount":
                continue
            assert value == pytest.approx(sum(c[key] for c in counties), abs=1e-6), key
    assert totals["demand"]["total"]["m2"] == pytest.approx(
        sum(c["demand"]["total"]["m2"] for c in counties), abs=0.01
    )
    assert totals["conflictArea"]["basicFarmlandHa"] == pytest.approx(
        sum(c["conflictArea"]["basicFarmlandHa"] for c in counties)
    )
    assert totals["coverageRatio"] == pytest.approx(totals["quotaRemainingHa"] / totals["demandHa"])
    for c in counties:
        assert c["demandHa"] == pytest.approx(c["demandKeyHa"] + c["demandOtherHa"], abs=1e-9)
        assert c["gapHa"] == pytest.approx(
            max(0.0, c["demandHa"] - c["quotaRemainingHa"]), abs=1e-9
        )
        if c["demandHa"]:
            assert c["coverageRatio"] == pytest.approx(c["quotaRemainingHa"] / c["demandHa"])
        assert c["quotaRemainingHa"] == pytest.approx(
            c["quotaAllocatedHa"] + c["quotaFromPoolHa"] - c["quotaUsedHa"], abs=1e-9
        )
        status, reasons = R.county_status(
            demand_m2=c["demandHa"] * HA,
            remaining_m2=c["quotaRemainingHa"] * HA,
            key_demand_m2=c["demandKeyHa"] * HA,
            key_conflict_m2=c["keyConflictDemandHa"] * HA,
        )
        assert (c["status"], c["reasons"]) == (status.value, reasons)
    assert {c["status"] for c in counties} >= {"SHORTFALL", "SUFFICIENT"}
    # the pool's transfers are the counties' receipts
    assert city["pool"]["transferredHa"] == pytest.approx(totals["quotaFromPoolHa"], abs=1e-6)


async def test_demo_at_risk_projects_really_lack_cover(gql: Any, demo_sync_engine: Engine) -> None:
    """Recompute the cover in Python from plain SQL (statuses from the dated steps, conflicts
    by ST_Relate, remaining quota from the ledger) and compare with the API."""
    e = demo_sync_engine
    demand_rows = sql(
        e,
        """
        WITH last AS (
            SELECT parcel_id, status, row_number() OVER (PARTITION BY parcel_id ORDER BY occurred_on DESC, id DESC) AS k
              FROM parcel_status_event WHERE occurred_on <= :d)
        SELECT pr.code, p.county_code, pr.is_key, pr.categories::text[] AS cats, pr.signing_status::text AS signing,
               pr.planned_start, round(p.new_construction_area_m2::numeric, 2) AS nc,
               EXISTS (SELECT 1 FROM protected_zone z WHERE z.kind IN ('BASIC_FARMLAND', 'ECOLOGICAL_REDLINE')
                        AND ST_Relate(z.geom, p.geom, '2********')) AS conflict
          FROM parcel p
          JOIN last ON last.parcel_id = p.id AND last.k = 1
                   AND last.status IN ('DEMAND', 'PRE_REVIEWED', 'DOSSIER_PREP', 'SUBMITTED')
          JOIN project_parcel l ON l.parcel_id = p.id AND l.linked_on <= :d
                               AND (l.unlinked_on IS NULL OR l.unlinked_on > :d)
          JOIN project pr ON pr.id = l.project_id
         WHERE NOT EXISTS (SELECT 1 FROM project_stage_event s WHERE s.project_id = pr.id
                            AND s.stage = 'COMPLETED' AND s.entered_on <= :d)
        """,
        d=DEMO_DATE,
    )
    remaining = {
        r.holder_code: r.total
        for r in sql(
            e,
            "SELECT holder_code, sum(amount_m2) AS total FROM land_quota_entry WHERE year = 2024 "
            "AND kind = 'NEW_CONSTRUCTION' AND effective_on <= :d GROUP BY holder_code",
            d=DEMO_DATE,
        )
    }
    projects: dict[tuple[str, str], dict[str, Any]] = {}
    conflict_parcels: dict[str, int] = defaultdict(int)
    for r in demand_rows:
        p = projects.setdefault(
            (r.county_code, r.code),
            {
                "demand": Decimal(0),
                "conflict": False,
                "key": r.is_key,
                "tier": R.priority_tier(
                    categories=r.cats, is_key=r.is_key, signing_status=r.signing
                ),
                "start": r.planned_start or dt.date.max,
            },
        )
        p["demand"] += r.nc
        p["conflict"] |= r.conflict
        conflict_parcels[r.county_code] += r.conflict
    expected_risk: dict[str, set[str]] = defaultdict(set)
    expected_cover: dict[str, Decimal] = {}
    for county in {c for c, _ in projects}:
        left = remaining.get(county, Decimal(0))
        ranked = sorted(
            ((k, p) for k, p in projects.items() if k[0] == county),
            key=lambda kp: (kp[1]["tier"], kp[1]["start"], kp[0][1]),
        )
        for (_, code), p in ranked:
            covered = Decimal(0) if p["conflict"] else max(Decimal(0), min(p["demand"], left))
            if not p["conflict"]:
                left -= covered
            expected_cover[code] = covered
            if p["conflict"] or covered < p["demand"]:
                expected_risk[county].add(code)

    body = await gql(
        f'{{ landGuarantee(year: 2024, asOf: "{DEMO_AS_OF}") {{ countyCode conflictCount atRiskProjectCount '
        "atRiskProjects { project { code } isKey tier demandHa coveredHa unmetHa conflict cover } } }"
    )
    counties = body["data"]["landGuarantee"]
    assert sum(len(c["atRiskProjects"]) for c in counties) > 20
    for c in counties:
        got = {r["project"]["code"] for r in c["atRiskProjects"]}
        assert got == expected_risk[c["countyCode"]], c["countyCode"]
        assert c["atRiskProjectCount"] == len(got)
        assert c["conflictCount"] == conflict_parcels[c["countyCode"]]
        keys = [not r["isKey"] for r in c["atRiskProjects"]]
        assert keys == sorted(keys)  # key projects first
        for r in c["atRiskProjects"]:
            assert r["conflict"] or r["unmetHa"] > 0
            assert r["coveredHa"] == pytest.approx(
                float(expected_cover[r["project"]["code"]]) / HA, abs=1e-9
            )
            assert r["unmetHa"] == pytest.approx(r["demandHa"] - r["coveredHa"], abs=1e-9)

    # every project with demand that is not at risk is fully covered (checked through landStatus)
    covered_codes = [
        code
        for (county, code), p in projects.items()
        if code not in expected_risk[county] and p["demand"] > 0
    ][:40]
    assert covered_codes
    query = (
        "{ "
        + " ".join(
            f'p{i}: project(code: "{code}") {{ code landStatus(year: 2024, asOf: "{DEMO_AS_OF}") '
            "{ cover tier newConstructionNeededHa coveredHa unmetHa } }"
            for i, code in enumerate(covered_codes)
        )
        + " }"
    )
    statuses = (await gql(query))["data"]
    for i, code in enumerate(covered_codes):
        s = statuses[f"p{i}"]["landStatus"]
        p = next(p for (_, c), p in projects.items() if c == code)
        assert s["cover"] == "COVERED" and s["unmetHa"] == pytest.approx(0, abs=1e-12)
        assert s["newConstructionNeededHa"] == pytest.approx(float(p["demand"]) / HA, abs=1e-9)
        assert s["tier"] == p["tier"]


async def test_demo_parcel_conflicts_and_authority_match_sql(
    gql: Any, demo_sync_engine: Engine
) -> None:
    e = demo_sync_engine
    sample = [
        r.code
        for r in sql(
            e,
            "(SELECT p.code FROM parcel p WHERE EXISTS (SELECT 1 FROM protected_zone z WHERE z.kind IN "
            "('BASIC_FARMLAND', 'ECOLOGICAL_REDLINE') AND ST_Relate(z.geom, p.geom, '2********')) ORDER BY p.code LIMIT 40) "
            "UNION (SELECT code FROM parcel ORDER BY code LIMIT 40) "
            "UNION (SELECT code FROM parcel ORDER BY farmland_area_m2 DESC, area_m2 DESC LIMIT 20)",
        )
    ]
    overlaps: dict[str, dict[str, float]] = defaultdict(dict)
    for r in sql(
        e,
        "SELECT p.code, z.code AS zone, ST_Area(ST_Intersection(ST_Transform(z.geom, p.gk_srid), "
        "ST_Transform(p.geom, p.gk_srid))) AS m2 FROM parcel p JOIN protected_zone z "
        "ON ST_Relate(z.geom, p.geom, '2********') WHERE z.kind IN ('BASIC_FARMLAND', 'ECOLOGICAL_REDLINE') "
        "AND p.code = ANY(:codes)",
        codes=sample,
    ):
        overlaps[r.code][r.zone] = r.m2
    facts = {
        r.code: r
        for r in sql(
            e,
            "SELECT p.code, p.farmland_area_m2, p.area_m2, EXISTS (SELECT 1 FROM protected_zone z WHERE "
            "z.kind = 'BASIC_FARMLAND' AND ST_Relate(z.geom, p.geom, '2********')) AS on_bf "
            "FROM parcel p WHERE p.code = ANY(:codes)",
            codes=sample,
        )
    }
    query = (
        "{ "
        + " ".join(
            f'p{i}: parcel(code: "{code}") {{ code conflicts {{ zone {{ code kind }} overlapM2 overlapMu }} '
            "approvalAuthority { level } }"
            for i, code in enumerate(sample)
        )
        + " }"
    )
    got = (await gql(query))["data"]
    assert sum(1 for code in sample if overlaps[code]) >= 30
    levels = set()
    for i, code in enumerate(sample):
        node = got[f"p{i}"]
        assert {c["zone"]["code"]: c["overlapM2"] for c in node["conflicts"]} == pytest.approx(
            overlaps[code], rel=1e-9
        )
        for c in node["conflicts"]:
            assert c["overlapMu"] == pytest.approx(c["overlapM2"] * 15 / HA)
        f = facts[code]
        state_council = (
            f.on_bf
            or f.farmland_area_m2 > R.STATE_COUNCIL_FARMLAND_M2
            or f.area_m2 - f.farmland_area_m2 > R.STATE_COUNCIL_OTHER_LAND_M2
        )
        want = "STATE_COUNCIL" if state_council else "PROVINCE"
        assert node["approvalAuthority"]["level"] == want, code
        levels.add(want)
    assert levels == {"STATE_COUNCIL", "PROVINCE"}


async def test_demo_stock_agrees_with_the_county_figures(gql: Any) -> None:
    body = await gql(
        f'{{ landGuarantee(year: 2024, asOf: "{DEMO_AS_OF}") {{ countyCode approvedNotSuppliedHa approvedNotSuppliedCount }} '
        f'landStock(asOf: "{DEMO_AS_OF}", listLimit: 3) {{ countyCode approvedNotSupplied {{ count areaHa parcels {{ approvedOn }} }} '
        "idle { count parcels { status } } lapsed { count } } }"
    )
    figures = {c["countyCode"]: c for c in body["data"]["landGuarantee"]}
    stocks = body["data"]["landStock"]
    assert [s["countyCode"] for s in stocks] == sorted(figures)
    for s in stocks:
        f = figures[s["countyCode"]]
        assert s["approvedNotSupplied"]["count"] == f["approvedNotSuppliedCount"]
        assert s["approvedNotSupplied"]["areaHa"] == pytest.approx(f["approvedNotSuppliedHa"])
        dates = [p["approvedOn"] for p in s["approvedNotSupplied"]["parcels"]]
        assert dates == sorted(dates) and len(dates) <= 3
    assert (
        sum(s["idle"]["count"] for s in stocks) > 0
        and sum(s["lapsed"]["count"] for s in stocks) > 0
    )


async def test_demo_statement_count_is_constant(gql: Any, count_sql: Any) -> None:
    land = (
        "landStatus { parcelCount byStatus { status parcelCount area { ha } } "
        "newConstructionNeededHa conflicts { parcel { code conflicts { overlapM2 } } basicFarmland { ha } } "
        "cover coveredHa reasons nextStep nextStepItem { code } nextStepDeadline }"
    )
    parcel = "conflicts { zone { kind code name } overlapM2 overlapMu } approvalAuthority { level reason }"
    counts = []
    for n, m in ((5, 10), (50, 100), (200, 400)):
        with count_sql() as counter:
            body = await gql(
                f"{{ projects(first: {n}) {{ edges {{ node {{ code {land} }} }} }} "
                f"parcels(first: {m}) {{ edges {{ node {{ code {parcel} }} }} }} }}"
            )
        assert "errors" not in body, body["errors"]
        assert len(body["data"]["projects"]["edges"]) == n
        counts.append(counter.count)
    # projects, parcels, ranking, project parcels, approval items, overlay, conflicts of the
    # page's parcels and of the projects' conflicting parcels (absent when none conflicts):
    # at most 8 whatever the page size (40× more objects, no more statements)
    assert max(counts) <= 8, counts


@pytest.fixture
async def fresh_gql(fresh_db_url: str) -> AsyncIterator[Any]:
    app = create_app(Settings(database_url=fresh_db_url, reference_date=DEMO_DATE))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):

        async def run(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
            response = await c.post("/graphql", json={"query": query, "variables": variables or {}})
            body: dict[str, Any] = response.json()
            return body

        yield run


async def test_demand_belongs_to_the_county_of_the_parcel(
    fresh_gql: Any, fresh_db_url: str
) -> None:
    """Re-registering a project in another county moves none of its demand: the approval of
    its parcels will debit the parcels' county (geo.ledger), so that is where the demand is."""
    query = (
        "{ landGuarantee(year: 2024) { countyCode demandHa demandKeyHa quotaRemainingHa gapHa "
        "conflictCount atRiskProjectCount atRiskProjects { project { code county { code } } } } }"
    )
    before = await data(fresh_gql, query)
    county = next(c for c in before["landGuarantee"] if c["atRiskProjects"])
    moved = county["atRiskProjects"][0]["project"]["code"]
    other = next(c["countyCode"] for c in before["landGuarantee"] if c is not county)
    engine = create_engine(fresh_db_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE project SET county_code = :c WHERE code = :p"), {"c": other, "p": moved}
        )
    engine.dispose()
    after = await data(fresh_gql, query)

    def figures(result: dict[str, Any]) -> list[Any]:
        return [
            {k: v for k, v in c.items() if k != "atRiskProjects"} for c in result["landGuarantee"]
        ]

    assert figures(after) == figures(before)
    (row,) = [
        r
        for c in after["landGuarantee"]
        if c["countyCode"] == county["countyCode"]
        for r in c["atRiskProjects"]
        if r["project"]["code"] == moved
    ]
    assert row["project"]["county"]["code"] == other
