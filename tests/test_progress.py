"""Issue 6 progress (lifecycle, investment, key list, horse race, 骏马/蜗牛, 入库纳统, 招商引资,
bulletins) through GraphQL and HTTP, against a real PostGIS.

1. A hand-built fixture on its own empty migrated database: the city, the six county-level
   units and the development zone (tiny squares), eight projects, their stage events,
   issues, approval items, monthly reports and promotion trips. Every number asserted
   below is worked out by hand in the comments — never taken from the code under test.
2. The demo set: statement counts constant in the number of projects, a mutation's effect
   on the county figures, roles respected for both mutations.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import Connection, Engine, create_engine, text

from api.app import create_app
from api.auth import sign_dev_token
from api.cli import main, migrate
from api.settings import AuthSettings, Settings
from geo.actor import Role
from geo.imports.investment import import_investment
from tests.conftest import PREFIX, create_database, drop_database

TODAY = dt.date(2024, 10, 31)
DEMO_DATE = dt.date(2024, 10, 31)

# =========================================================================== the fixture
#
# Units (GB/T 2260 + the zone's custom code): 140502 城区, 140521 沁水县, 140522 阳城县,
# 140524 陵川县, 140525 泽州县, 140581 高平市, 140571 开发区 (parent 140500 晋城市).
#
# Projects (TI total investment, AT annual target, 万元; industry; plan type; planned /
# actual start; stats status; signing; key categories). "ind" = a "1+5" industry.
#  P1 城区   TI 20000 AT 12000 新材料(ind) CONTINUING  2023-03-01/2023-03-15 INCLUDED
#           key 2024 [PROVINCIAL_KEY, ANNUAL_PLAN_BILLION], IN_PROGRESS, four fixed all set
#           reports 2024 months 1–10: 1000 each → ytd 10000, Sep–Oct 2000
#  P2 城区   TI 3000 AT 2000 交通 PLANNED_START 2024-05-01/2024-06-01 ELIGIBLE
#           key 2024 [CITY_COUNTY_KEY], CONSTRUCTION_START, no lead official
#           reports months 6–10: 100 each → ytd 500, Sep–Oct 200
#  P3 沁水县 TI 50000 AT 10000 煤层气(ind) CONTINUING 2022-01-01/2022-02-01 INCLUDED
#           key 2024 [ANNUAL_PLAN_BILLION], IN_PROGRESS
#           reports months 1–8: 750 each (6000), months 9 and 10: 3000 each → ytd 12000
#  P4 沁水县 TI 8000 AT — 新能源 PRE_STAGE planned 2025-03-01, ABOUT_TO_SIGN
#  P5 沁水县 TI 400 AT 400 社会民生 PLANNED_START planned 2024-03-01, never started
#  P6 泽州县 in the zone 140571: TI 30000 AT 6000 光机电(ind) CONTINUING 2023-05-01/2023-05-10
#           ELIGIBLE, LANDED, key 2024 [MUNICIPAL_GOV_INVESTED], IN_PROGRESS, no progress target
#           reports months 1–10: 400 each → ytd 4000, Sep–Oct 800
#  P7 泽州县 in the zone: TI 12000 AT — 数字经济 PRE_STAGE, SIGNED
#  P8 泽州县 TI 6000 AT 3000 水利 PLANNED_START 2024-02-01/2024-03-01 INCLUDED
#           reports months 3–10: 300 each → ytd 2400, Sep–Oct 600
#
# City annual targets: 12000 + 2000 + 10000 + 400 + 6000 + 3000 = 33400.

UNITS = [
    ("140500", "晋城市", "CITY", None),
    ("140502", "城区", "DISTRICT", "140500"),
    ("140521", "沁水县", "COUNTY", "140500"),
    ("140522", "阳城县", "COUNTY", "140500"),
    ("140524", "陵川县", "COUNTY", "140500"),
    ("140525", "泽州县", "COUNTY", "140500"),
    ("140581", "高平市", "COUNTY_CITY", "140500"),
    ("140571", "晋城经济技术开发区", "DEV_ZONE", "140500"),
]

FULL = {
    "progress_target": "年底主体完工",
    "lead_official": "王副市长",
    "responsible_entity": "某公司",
}
PROJECTS: list[dict[str, Any]] = [
    dict(code="T-P1", county="140502", zone=None, ti=20000, at=12000, industry="新材料",
         plan="CONTINUING", planned="2023-03-01", actual="2023-03-15", stats="INCLUDED",
         signing=None, key=["PROVINCIAL_KEY", "ANNUAL_PLAN_BILLION"], stage="IN_PROGRESS", **FULL),
    dict(code="T-P2", county="140502", zone=None, ti=3000, at=2000, industry="交通",
         plan="PLANNED_START", planned="2024-05-01", actual="2024-06-01", stats="ELIGIBLE",
         signing=None, key=["CITY_COUNTY_KEY"], stage="CONSTRUCTION_START",
         **(FULL | {"lead_official": None})),
    dict(code="T-P3", county="140521", zone=None, ti=50000, at=10000, industry="煤层气",
         plan="CONTINUING", planned="2022-01-01", actual="2022-02-01", stats="INCLUDED",
         signing=None, key=["ANNUAL_PLAN_BILLION"], stage="IN_PROGRESS", **FULL),
    dict(code="T-P4", county="140521", zone=None, ti=8000, at=None, industry="新能源",
         plan="PRE_STAGE", planned="2025-03-01", actual=None, stats="NOT_ELIGIBLE",
         signing="ABOUT_TO_SIGN", key=None, stage="FILING", **FULL),
    dict(code="T-P5", county="140521", zone=None, ti=400, at=400, industry="社会民生",
         plan="PLANNED_START", planned="2024-03-01", actual=None, stats="NOT_ELIGIBLE",
         signing=None, key=None, stage="FACTORS", **FULL),
    dict(code="T-P6", county="140525", zone="140571", ti=30000, at=6000, industry="光机电",
         plan="CONTINUING", planned="2023-05-01", actual="2023-05-10", stats="ELIGIBLE",
         signing="LANDED", key=["MUNICIPAL_GOV_INVESTED"], stage="IN_PROGRESS",
         **(FULL | {"progress_target": " "})),
    dict(code="T-P7", county="140525", zone="140571", ti=12000, at=None, industry="数字经济",
         plan="PRE_STAGE", planned=None, actual=None, stats="NOT_ELIGIBLE",
         signing="SIGNED", key=None, stage="FILING", **FULL),
    dict(code="T-P8", county="140525", zone=None, ti=6000, at=3000, industry="水利",
         plan="PLANNED_START", planned="2024-02-01", actual="2024-03-01", stats="INCLUDED",
         signing=None, key=None, stage="IN_PROGRESS", **FULL),
]  # fmt: skip

REPORTS: dict[str, dict[int, int]] = {
    "T-P1": {m: 1000 for m in range(1, 11)},
    "T-P2": {m: 100 for m in range(6, 11)},
    "T-P3": {**{m: 750 for m in range(1, 9)}, 9: 3000, 10: 3000},
    "T-P6": {m: 400 for m in range(1, 11)},
    "T-P8": {m: 300 for m in range(3, 11)},
}

# P2's path: FILING 01-10 → PROCEDURES 02-20 → FACTORS 04-01 → CONSTRUCTION_START 06-01.
STAGES = [
    ("T-P2", "FILING", "2024-01-10", "城区发改局"),
    ("T-P2", "PROCEDURES", "2024-02-20", "城区审批局"),
    ("T-P2", "FACTORS", "2024-04-01", "指挥部办公室"),
    ("T-P2", "CONSTRUCTION_START", "2024-06-01", "指挥部办公室"),
]
# (code, project, category, status, raised, resolved)
ISSUES = [
    ("I-1", "T-P2", "LAND", "OPEN", "2024-08-01", None),
    ("I-2", "T-P2", "FUNDS", "RESOLVED", "2024-03-01", "2024-04-01"),
    ("I-3", "T-P1", "RELOCATION", "IN_PROGRESS", "2024-09-10", None),
]
# (code, project, item type, status, completed)
ITEMS = [
    ("A-1", "T-P2", "PROJECT_FILING", "COMPLETED", "2024-01-20"),
    ("A-2", "T-P2", "CONSTRUCTION_PERMIT", "IN_PROGRESS", None),
    ("A-3", "T-P6", "PROJECT_FILING", "COMPLETED", "2023-02-01"),
    ("A-4", "T-P6", "CONSTRUCTION_PERMIT", "COMPLETED", "2023-04-20"),
]
# Promotion trips, 2024 Q3 (Jul–Sep) unless noted.
TRIPS = [
    ("140502", "COUNTY_LEADER", "张县长", "2024-07-10", "上海", 2),
    ("140502", "COUNTY_LEADER", "张县长", "2024-08-20", "深圳", 3),
    ("140521", "COUNTY_LEADER", "李县长", "2024-09-05", "北京", 2),
    ("140521", "COUNTY_LEADER", "李县长", "2024-06-30", "郑州", 9),  # Q2: not counted
    ("140500", "BUREAU", "市投资促进中心", "2024-07-03", "苏州", 3),
    ("140500", "BUREAU", "市投资促进中心", "2024-07-25", "杭州", 2),
    ("140500", "BUREAU", "市投资促进中心", "2024-08-15", "广州", 6),
    ("140502", "BUREAU", "城区投促中心", "2024-07-02", "天津", 1),
    ("140502", "BUREAU", "城区投促中心", "2024-07-12", "天津", 1),
    ("140502", "BUREAU", "城区投促中心", "2024-07-22", "天津", 1),
]


def build_fixture(conn: Connection) -> None:
    for i, (code, name, kind, parent) in enumerate(UNITS):
        conn.execute(
            text(
                "INSERT INTO admin_area (code, name, kind, parent_code, geom) VALUES (:c, :n, "
                "CAST(:k AS admin_kind), :p, ST_Multi(ST_MakeEnvelope(:x, 35.5, :x + 0.05, 35.55, 4490)))"
            ),
            {"c": code, "n": name, "k": kind, "p": parent, "x": 112.0 + i * 0.1},
        )
    for p in PROJECTS:
        conn.execute(
            text(
                """INSERT INTO project (code, name, county_code, dev_zone_code, plan_type, stage,
                   industry, is_key, key_list_year, categories, total_investment, annual_target,
                   progress_target, planned_start, actual_start, lead_official,
                   responsible_entity, signing_status, stats_status)
                   VALUES (:code, :name, :county, :zone, CAST(:plan AS plan_type),
                   CAST(:stage AS project_stage), :industry, :is_key, :year,
                   CAST(:cats AS key_category[]), :ti, :at, :progress_target,
                   CAST(:planned AS date), CAST(:actual AS date), :lead_official,
                   :responsible_entity, CAST(:signing AS signing_status),
                   CAST(:stats AS stats_status))"""
            ),
            p
            | {
                "name": "项目" + p["code"],
                "is_key": p["key"] is not None,
                "year": 2024 if p["key"] else None,
                "cats": p["key"] or [],
            },
        )
    ids = dict(conn.execute(text("SELECT code, id FROM project")).all())
    for code, months in REPORTS.items():
        for month, amount in months.items():
            conn.execute(
                text(
                    "INSERT INTO investment_report VALUES (:p, 2024, :m, :a, make_date(2024, :m, 28))"
                ),
                {"p": ids[code], "m": month, "a": amount},
            )
    for code, stage, on, actor in STAGES:
        conn.execute(
            text(
                "INSERT INTO project_stage_event (project_id, stage, entered_on, actor) "
                "VALUES (:p, CAST(:s AS project_stage), CAST(:d AS date), :a)"
            ),
            {"p": ids[code], "s": stage, "d": on, "a": actor},
        )
    for code, project, category, status, raised, resolved in ISSUES:
        conn.execute(
            text(
                "INSERT INTO project_issue (code, project_id, category, title, status, raised_on, "
                "resolved_on) VALUES (:c, :p, CAST(:cat AS issue_category), :t, "
                "CAST(:s AS issue_status), CAST(:r AS date), CAST(:res AS date))"
            ),
            {"c": code, "p": ids[project], "cat": category, "t": "问题" + code, "s": status,
             "r": raised, "res": resolved},
        )  # fmt: skip
    for code, project, item_type, status, done in ITEMS:
        conn.execute(
            text(
                "INSERT INTO approval_item (code, project_id, item_type, name, handling_level, "
                "status, completed_on) VALUES (:c, :p, CAST(:t AS approval_item_type), :n, "
                "'COUNTY', CAST(:s AS approval_status), CAST(:d AS date))"
            ),
            {"c": code, "p": ids[project], "t": item_type, "n": "事项" + code, "s": status,
             "d": done},
        )  # fmt: skip
    for unit, kind, who, on, where, pitched in TRIPS:
        conn.execute(
            text(
                "INSERT INTO promotion_trip (unit_code, promoter_kind, promoter, trip_on, "
                "destination, projects_pitched, actor) VALUES (:u, :k, :w, CAST(:d AS date), "
                ":dest, :n, 'fixture')"
            ),
            {"u": unit, "k": kind, "w": who, "d": on, "dest": where, "n": pitched},
        )


@pytest.fixture(scope="module")
def hand_db_url(admin_engine: Engine) -> Iterator[str]:
    name = f"{PREFIX}_prog_{uuid.uuid4().hex[:6]}"
    url = create_database(admin_engine, name)
    migrate(Settings(database_url=url))
    engine = create_engine(url)
    with engine.begin() as conn:
        build_fixture(conn)
    engine.dispose()
    yield url
    drop_database(admin_engine, name)


class Running:
    def __init__(self, client: httpx.AsyncClient, app: Any) -> None:
        self.client = client
        self.app = app

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.raw(query, variables)
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


async def _running(url: str, today: dt.date, key: Path | None = None) -> AsyncIterator[Running]:
    settings = Settings(database_url=url, reference_date=today)
    if key is not None:
        settings = Settings(
            database_url=url, reference_date=today, auth=AuthSettings(dev_key_path=key)
        )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        yield Running(c, app)


@pytest.fixture(scope="module")
async def hand(hand_db_url: str) -> AsyncIterator[Running]:
    async for running in _running(hand_db_url, TODAY):
        yield running


# =========================================================================== lifecycle


async def test_lifecycle_steps_days_and_open_issues(hand: Running) -> None:
    d = await hand.data(
        '{ project(code: "T-P2") { lifecycle { currentStage currentStageSince daysInStage '
        "steps { stage enteredOn leftOn actor days } openIssues { code category status } } } }"
    )
    life = d["project"]["lifecycle"]
    # FILING 01-10 → 02-20: 21 + 20 = 41 days; PROCEDURES 02-20 → 04-01: 10 (Feb 2024 has 29)
    # + 31 = 41; FACTORS 04-01 → 06-01: 30 + 31 = 61; CONSTRUCTION_START 06-01 → today
    # 10-31: 30 + 31 + 31 + 30 + 30 = 152.
    assert life["steps"] == [
        {"stage": "FILING", "enteredOn": "2024-01-10", "leftOn": "2024-02-20",
         "actor": "城区发改局", "days": 41},
        {"stage": "PROCEDURES", "enteredOn": "2024-02-20", "leftOn": "2024-04-01",
         "actor": "城区审批局", "days": 41},
        {"stage": "FACTORS", "enteredOn": "2024-04-01", "leftOn": "2024-06-01",
         "actor": "指挥部办公室", "days": 61},
        {"stage": "CONSTRUCTION_START", "enteredOn": "2024-06-01", "leftOn": None,
         "actor": "指挥部办公室", "days": 152},
    ]  # fmt: skip
    assert life["currentStage"] == "CONSTRUCTION_START"
    assert life["currentStageSince"] == "2024-06-01" and life["daysInStage"] == 152
    # I-2 is resolved: only I-1 remains beside the stages
    assert life["openIssues"] == [{"code": "I-1", "category": "LAND", "status": "OPEN"}]


async def test_lifecycle_of_a_project_without_events(hand: Running) -> None:
    d = await hand.data('{ project(code: "T-P4") { lifecycle { steps { stage } currentStage '
                        "daysInStage openIssues { code } } } }")  # fmt: skip
    assert d["project"]["lifecycle"] == {
        "steps": [], "currentStage": "FILING", "daysInStage": None, "openIssues": []
    }  # fmt: skip


# =========================================================================== investment


async def test_project_investment_progress_against_time_elapsed(hand: Running) -> None:
    q = (
        '{ %s: project(code: "%s") { investmentProgress(year: 2024, month: 10) { annualTarget '
        "completedYtd completedInMonth completionRate timeElapsedRate schedulePoints scheduleLabel } } }"
    )
    d3 = (await hand.data(q % ("p", "T-P3")))["p"]["investmentProgress"]
    # P3: ytd 6000 + 3000 + 3000 = 12000 of 10000 = 120 %; 时序 10/12 = 83.33 % → +36.7 points
    assert d3["completedYtd"] == 12000 and d3["completedInMonth"] == 3000
    assert d3["completionRate"] == pytest.approx(1.2)
    assert d3["timeElapsedRate"] == pytest.approx(10 / 12)
    assert d3["schedulePoints"] == 36.7 and d3["scheduleLabel"] == "超时序 36.7 个百分点"
    d6 = (await hand.data(q % ("p", "T-P6")))["p"]["investmentProgress"]
    # P6: 4000 of 6000 = 66.67 % → 66.67 − 83.33 = −16.7 points
    assert d6["scheduleLabel"] == "滞后时序 16.7 个百分点"
    d1 = (await hand.data(q % ("p", "T-P1")))["p"]["investmentProgress"]
    # P1: 10000 of 12000 = 83.33 % = 时序
    assert d1["schedulePoints"] == 0 and d1["scheduleLabel"] == "与时序持平"
    d4 = (await hand.data(q % ("p", "T-P4")))["p"]["investmentProgress"]
    assert d4["completionRate"] is None and d4["scheduleLabel"] is None  # no target


async def test_unit_investment_progress(hand: Running) -> None:
    d = await hand.data(
        "{ investmentProgress(year: 2024, month: 9) { unitCode projects progress { annualTarget "
        "completedYtd completedInMonth completionRate schedulePoints } } }"
    )
    rows = {r["unitCode"]: r for r in d["investmentProgress"]}
    assert sorted(rows) == ["140502", "140521", "140522", "140524", "140525", "140571", "140581"]
    # 城区 through September: P1 9 × 1000 + P2 4 × 100 = 9400 of 14000 = 67.14 %;
    # 时序 9/12 = 75 % → −7.9 points; September alone 1000 + 100
    c = rows["140502"]
    assert c["projects"] == 2
    assert c["progress"]["annualTarget"] == 14000 and c["progress"]["completedYtd"] == 9400
    assert c["progress"]["completedInMonth"] == 1100
    assert c["progress"]["schedulePoints"] == -7.9
    # 泽州县 keeps only P8 (P6 and P7 count for the zone): 7 × 300 = 2100 of 3000
    assert rows["140525"]["progress"]["completedYtd"] == 2100
    assert rows["140525"]["progress"]["annualTarget"] == 3000
    # the zone: P6 9 × 400 = 3600 of 6000 (P7 has no target)
    assert rows["140571"]["progress"]["completedYtd"] == 3600 and rows["140571"]["projects"] == 1
    assert rows["140522"]["progress"]["completionRate"] is None


# =========================================================================== key list


async def test_key_project_summary(hand: Running) -> None:
    d = await hand.data(
        "{ keyProjectSummary(year: 2024) { keyProjects keyAnnualTarget cityAnnualTarget keyShare "
        "shareLine meetsShareLine byCategory { key projects annualTarget } byCounty { key projects "
        "annualTarget } byStage { key projects annualTarget } lackingFourFixed { project { code } lacks } } }"
    )
    s = d["keyProjectSummary"]
    # key: P1 12000 + P2 2000 + P3 10000 + P6 6000 = 30000 of the city's 33400 = 89.82 %
    assert s["keyProjects"] == 4 and s["keyAnnualTarget"] == 30000
    assert s["cityAnnualTarget"] == 33400
    assert s["keyShare"] == pytest.approx(30000 / 33400) and s["meetsShareLine"] is True
    assert s["shareLine"] == 0.7
    # P1 is in two categories, so the category counts sum to 5 for 4 projects
    assert s["byCategory"] == [
        {"key": "ANNUAL_PLAN_BILLION", "projects": 2, "annualTarget": 22000},
        {"key": "CITY_COUNTY_KEY", "projects": 1, "annualTarget": 2000},
        {"key": "MUNICIPAL_GOV_INVESTED", "projects": 1, "annualTarget": 6000},
        {"key": "PROVINCIAL_KEY", "projects": 1, "annualTarget": 12000},
    ]
    assert s["byCounty"] == [
        {"key": "140502", "projects": 2, "annualTarget": 14000},
        {"key": "140521", "projects": 1, "annualTarget": 10000},
        {"key": "140525", "projects": 1, "annualTarget": 6000},
    ]
    assert s["byStage"] == [
        {"key": "CONSTRUCTION_START", "projects": 1, "annualTarget": 2000},
        {"key": "IN_PROGRESS", "projects": 3, "annualTarget": 28000},
    ]
    # P2 has no lead official; P6's progress target is blank
    assert s["lackingFourFixed"] == [
        {"project": {"code": "T-P2"}, "lacks": ["LEAD_OFFICIAL"]},
        {"project": {"code": "T-P6"}, "lacks": ["PROGRESS_TARGET"]},
    ]


# =========================================================================== horse race

RACE = """query($p: PeriodInput!) { horseRace(period: $p) { periodLabel periodEnd
  rules { dimension weight } rows { rank tied unitCode total annualTarget completedYtd
  industrialYtd startDue started statsBase included pipelineInvestment
  scores { dimension value score } } } }"""


async def test_horse_race_hand_worked(hand: Running) -> None:
    d = await hand.data(RACE, {"p": {"kind": "BIMONTH", "year": 2024, "index": 5}})
    race = d["horseRace"]
    assert race["periodLabel"] == "2024年9—10月" and race["periodEnd"] == "2024-10-31"
    assert sum(r["weight"] for r in race["rules"]) == 100
    rows = {r["unitCode"]: r for r in race["rows"]}

    def values(code: str) -> list[float]:
        return [s["value"] for s in rows[code]["scores"]]

    def scores(code: str) -> list[float]:
        return [s["score"] for s in rows[code]["scores"]]

    # Values through October (时序 10/12):
    # 城区: scale 10500/14000/(10/12) = 0.9; structure 10000/10500 = 0.952381;
    #       start (P2 started 1/1 + included 1 of P1,P2) = (1 + 0.5)/2 = 0.75; pipeline 0
    assert values("140502") == pytest.approx([0.9, 10000 / 10500, 0.75, 0], abs=1e-6)
    # 沁水县: scale 12000/10400/(10/12) = 18/13 = 1.384615; structure 1;
    #       start (P5 due, not started: 0/1 + P3 included 1/1) / 2 = 0.5; pipeline P4 8000
    assert values("140521") == pytest.approx([18 / 13, 1, 0.5, 8000], abs=1e-6)
    # zone: scale 4000/6000/(10/12) = 0.8; structure 1; start (none due: 0 + P6 0/1)/2 = 0;
    #       pipeline P7 12000 (P6 has landed)
    assert values("140571") == pytest.approx([0.8, 1, 0, 12000], abs=1e-6)
    # 泽州县: scale 2400/3000/(10/12) = 0.96; structure 0 (水利); start (1/1 + 1/1)/2 = 1
    assert values("140525") == pytest.approx([0.96, 0, 1, 0], abs=1e-6)
    # Scores = weight × value ÷ best (scale best 18/13, structure 1, start 1, pipeline 12000):
    # 城区  40 × 0.9 × 13/18 = 26; 20 × 0.952381 = 19.05; 25 × 0.75 = 18.75 → 63.80
    # 沁水县 40; 20; 12.5; 15 × 8000/12000 = 10 → 82.50
    # zone  40 × 0.8 × 13/18 = 23.11; 20; 0; 15 → 58.11
    # 泽州县 40 × 0.96 × 13/18 = 27.73; 0; 25; 0 → 52.73
    assert scores("140502") == [26.0, 19.05, 18.75, 0]
    assert scores("140521") == [40.0, 20.0, 12.5, 10.0]
    assert scores("140571") == [23.11, 20.0, 0, 15.0]
    assert scores("140525") == [27.73, 0, 25.0, 0]
    order = [(r["rank"], r["unitCode"], r["total"], r["tied"]) for r in race["rows"]]
    # the three units without projects tie at 0 and keep code order
    assert order == [
        (1, "140521", 82.5, False),
        (2, "140502", 63.8, False),
        (3, "140571", 58.11, False),
        (4, "140525", 52.73, False),
        (5, "140522", 0, True),
        (6, "140524", 0, True),
        (7, "140581", 0, True),
    ]
    assert rows["140521"]["startDue"] == 1 and rows["140521"]["started"] == 0
    assert rows["140502"]["statsBase"] == 2 and rows["140502"]["included"] == 1
    assert rows["140571"]["pipelineInvestment"] == 12000


async def test_horse_race_ties_are_broken_by_scale_then_code(hand_db_url: str) -> None:
    """Two more units with equal totals, added inside a transaction that is rolled back.

    Sep–Oct 2024, maxima unchanged (scale 18/13, structure 1, start 1, pipeline 12000):
    140524: T-X AT 1200, 900 in October → scale 900/1200/(10/12) = 0.9 → 40 × 0.9 × 13/18
            = 26.00; 水利 (structure 0); started, not included (start 0) → total 26.00
    140522: T-Y1 AT 1200, 450 in October → 0.45 → 13.00; T-Y2 pre-stage 10400 万元 →
            pipeline 15 × 10400/12000 = 13.00 → total 26.00
    Equal totals: 140524 (scale 26) ranks before 140522 (scale 13) although its code is
    larger; both are marked tied; 140581 is alone at 0 now."""
    from geo import horse_race_rules as R
    from geo import progress as q
    from geo.db import create_engine as create_async

    engine = create_async(hand_db_url)
    try:
        async with engine.connect() as conn:
            tx = await conn.begin()
            for code, county, ti, at, plan, month, amount in (
                ("T-X", "140524", 2000, 1200, "CONTINUING", 10, 900),
                ("T-Y1", "140522", 2000, 1200, "CONTINUING", 10, 450),
                ("T-Y2", "140522", 10400, None, "PRE_STAGE", None, None),
            ):
                pid = (
                    await conn.execute(
                        text(
                            "INSERT INTO project (code, name, county_code, plan_type, stage, "
                            "industry, total_investment, annual_target, actual_start) VALUES "
                            "(:c, :n, :county, CAST(:plan AS plan_type), 'IN_PROGRESS', '水利', "
                            ":ti, :at, CAST(:start AS date)) "
                            "RETURNING id"
                        ),
                        {
                            "c": code,
                            "n": "项目" + code,
                            "county": county,
                            "plan": plan,
                            "ti": ti,
                            "at": at,
                            "start": "2023-06-01" if at else None,
                        },
                    )
                ).scalar_one()
                if month:
                    await conn.execute(
                        text(
                            "INSERT INTO investment_report VALUES (:p, 2024, :m, :a, '2024-11-05')"
                        ),
                        {"p": pid, "m": month, "a": amount},
                    )
            rows = await q.horse_race(conn, R.Period(R.PeriodKind.BIMONTH, 2024, 5))
            await tx.rollback()
    finally:
        await engine.dispose()
    order = [(int(r.rank), r.code, float(r.total), bool(r.tied)) for r in rows]
    assert order == [
        (1, "140521", 82.5, False),
        (2, "140502", 63.8, False),
        (3, "140571", 58.11, False),
        (4, "140525", 52.73, False),
        (5, "140524", 26.0, True),
        (6, "140522", 26.0, True),
        (7, "140581", 0.0, False),
    ]


async def test_horse_race_periods_and_validation(hand: Running) -> None:
    # MONTH 3: 时序 3/12. 城区 ytd 3 × 1000 = 3000 of 14000 (P2 has no March report);
    # 沁水县 3 × 750 = 2250 of 10400; 泽州县 300 of 3000; zone 1200 of 6000.
    d = await hand.data(RACE, {"p": {"kind": "MONTH", "year": 2024, "index": 3}})
    rows = {r["unitCode"]: r for r in d["horseRace"]["rows"]}
    assert rows["140502"]["completedYtd"] == 3000 and rows["140521"]["completedYtd"] == 2250
    assert rows["140525"]["completedYtd"] == 300 and rows["140571"]["completedYtd"] == 1200
    # start: by 03-31 P8 (planned 02-01) started 03-01; P5 (planned 03-01) did not; P2 is
    # planned for May, so 城区 has none due
    assert (rows["140525"]["startDue"], rows["140525"]["started"]) == (1, 1)
    assert (rows["140521"]["startDue"], rows["140521"]["started"]) == (1, 0)
    assert rows["140502"]["startDue"] == 0
    # P2 started 06-01, after the period: 城区's inclusion base is P1 only (included)
    assert (rows["140502"]["statsBase"], rows["140502"]["included"]) == (1, 1)
    again = await hand.data(RACE, {"p": {"kind": "MONTH", "year": 2024, "index": 3}})
    assert again == d  # stable
    for p in ({"kind": "MONTH", "year": 2024, "index": 13},
              {"kind": "BIMONTH", "year": 2024, "index": 7},
              {"kind": "YEAR", "year": 1999}):  # fmt: skip
        body = await hand.raw(RACE, {"p": p})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


async def test_fast_horses_and_snails(hand: Running) -> None:
    q = """query($p: PeriodInput!) {
      fastHorses(period: $p) { totalCount criterion items { project { code } unitCode target actual margin } }
      snails(period: $p) { totalCount items { project { code } unitCode target actual missedStart belowTarget } } }"""
    d = await hand.data(q, {"p": {"kind": "BIMONTH", "year": 2024, "index": 5}})
    # Sep–Oct = 2 months: target = AT × 2/12, margin needed 5000 × 2/3 = 3333.33
    # P3: target 1666.67, actual 6000 ≥ 1.3 × 1666.67 and 4333.33 above → fast
    # P1: 2000 vs 2000; P8: 600 vs 500 (1.2 ×) → not fast
    assert d["fastHorses"]["totalCount"] == 1
    assert d["fastHorses"]["items"] == [
        {"project": {"code": "T-P3"}, "unitCode": "140521", "target": 1666.67,
         "actual": 6000, "margin": 4333.33}
    ]  # fmt: skip
    assert "3333.33" in d["fastHorses"]["criterion"]
    # P5 planned 2024-03-01, never started → missed start; P6 continuing 800 < 1000 → below
    assert d["snails"]["totalCount"] == 2
    assert d["snails"]["items"] == [
        {"project": {"code": "T-P5"}, "unitCode": "140521", "target": 66.67, "actual": 0,
         "missedStart": True, "belowTarget": False},
        {"project": {"code": "T-P6"}, "unitCode": "140571", "target": 1000, "actual": 800,
         "missedStart": False, "belowTarget": True},
    ]  # fmt: skip
    # YEAR 2024 (12 months): P3 12000 vs 10000 (1.2 ×) → no fast horse; snails add P1
    # (10000 < 12000 so far) and P3? no (12000 ≥ 10000) and P6 (4000 < 6000)
    y = await hand.data(q, {"p": {"kind": "YEAR", "year": 2024}})
    assert y["fastHorses"]["totalCount"] == 0
    assert [i["project"]["code"] for i in y["snails"]["items"]] == ["T-P1", "T-P5", "T-P6"]


# =========================================================================== 入库纳统


async def test_stats_inclusion_list_with_materials(hand: Running) -> None:
    d = await hand.data(
        "{ statsInclusionList { project { code statsStatus } unitCode totalInvestment actualStart "
        "completedYtd materialsComplete materials { code present } } }"
    )
    items = d["statsInclusionList"]
    # ≥ 500 万元, started by 2024-10-31, not INCLUDED: P2 (城区) and P6 (zone); P5 is 400 万元
    # and never started, P1/P3/P8 are included
    assert [(i["project"]["code"], i["unitCode"]) for i in items] == [
        ("T-P2", "140502"),
        ("T-P6", "140571"),
    ]
    p2, p6 = items
    assert p2["completedYtd"] == 500 and p2["actualStart"] == "2024-06-01"
    # P2: filing completed, construction permit still in progress → incomplete
    assert {m["code"]: m["present"] for m in p2["materials"]} == {
        "PROJECT_FILING": True, "CONSTRUCTION_PERMIT": False, "START_PROOF": True,
        "INVESTMENT_REPORT": True,
    }  # fmt: skip
    assert p2["materialsComplete"] is False and p6["materialsComplete"] is True


# =========================================================================== 招商引资


async def test_promotion_funnel_and_trip_minimums(hand: Running) -> None:
    d = await hand.data(
        "{ promotion(year: 2024, quarter: 3) { funnel { unitCode aboutToSign signed landed "
        "signedInvestment landedInvestment } leaders { unitCode promoter trips qualifyingTrips "
        "projectsPitched compliant } bureaus { unitCode month trips projectsPitched compliant } } }"
    )
    p = d["promotion"]
    funnel = {r["unitCode"]: r for r in p["funnel"]}
    assert (funnel["140521"]["aboutToSign"], funnel["140521"]["signed"]) == (1, 0)  # P4
    assert funnel["140571"]["signed"] == 1 and funnel["140571"]["landed"] == 1  # P7, P6
    assert funnel["140571"]["signedInvestment"] == 12000
    assert funnel["140571"]["landedInvestment"] == 30000
    # 张县长: 2 trips, one pitched 3 → complies; 李县长: one Q3 trip pitching 2 → does not
    # (the 9-project trip of 06-30 is in Q2); the other five units recorded no leader trip
    assert p["leaders"] == [
        {"unitCode": "140502", "promoter": "张县长", "trips": 2, "qualifyingTrips": 1,
         "projectsPitched": 5, "compliant": True},
        {"unitCode": "140521", "promoter": "李县长", "trips": 1, "qualifyingTrips": 0,
         "projectsPitched": 2, "compliant": False},
        *({"unitCode": u, "promoter": None, "trips": 0, "qualifyingTrips": 0,
           "projectsPitched": 0, "compliant": False}
          for u in ("140522", "140524", "140525", "140571", "140581")),
    ]  # fmt: skip
    bureaus = {(r["unitCode"], r["month"]): r for r in p["bureaus"]}
    assert len(p["bureaus"]) == 8 * 3  # seven units and the city, three months
    # city bureau: July 2 trips, 3 + 2 = 5 projects → complies; August 1 trip (6) → too few
    # trips; September none. 城区 bureau July: 3 trips but 3 projects → too few projects.
    assert bureaus[("140500", 7)] | {} == {
        "unitCode": "140500", "month": 7, "trips": 2, "projectsPitched": 5, "compliant": True
    }  # fmt: skip
    assert (bureaus[("140500", 8)]["trips"], bureaus[("140500", 8)]["compliant"]) == (1, False)
    assert bureaus[("140500", 9)]["trips"] == 0
    assert (bureaus[("140502", 7)]["trips"], bureaus[("140502", 7)]["compliant"]) == (3, False)


# =========================================================================== bulletins


def _sheet(content: bytes, name: str) -> list[list[Any]]:
    ws = load_workbook(io.BytesIO(content))[name]
    return [[c.value for c in row] for row in ws.iter_rows()]


async def test_horse_race_bulletin_matches_graphql(hand: Running) -> None:
    r = await hand.client.get(
        "/bulletins/horse-race.xlsx", params={"kind": "BIMONTH", "year": "2024", "index": "5"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert quote("赛马比拼情况表-2024年9—10月.xlsx") in r.headers["content-disposition"]
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    rows = _sheet(r.content, "赛马比拼")
    assert rows[0][0] == "晋城市抓项目促投资“赛马比拼”情况表（2024年9—10月）"
    assert rows[1][:7] == [
        "名次", "县（市、区）/开发区", "总分（分）", "扩大投资规模（40分）", "优化投资结构（20分）",
        "项目开工入统（25分）", "项目谋划储备（15分）",
    ]  # fmt: skip
    d = await hand.data(
        RACE.replace("unitCode", "unitCode unitName"),
        {"p": {"kind": "BIMONTH", "year": 2024, "index": 5}},
    )
    body = rows[2:]
    assert len(body) == 7
    for cells, g in zip(body, d["horseRace"]["rows"], strict=True):
        assert cells[0] == g["rank"] and cells[1] == g["unitName"] and cells[2] == g["total"]
        assert cells[3:7] == [s["score"] for s in g["scores"]]
        assert cells[7] == g["annualTarget"] and cells[8] == g["completedYtd"]
        assert cells[11:17] == [
            g["industrialYtd"], g["startDue"], g["started"], g["statsBase"], g["included"],
            g["pipelineInvestment"],
        ]  # fmt: skip
        assert cells[17] == ("是" if g["tied"] else None)
    bad = await hand.client.get("/bulletins/horse-race.xlsx", params={"kind": "WEEK"})
    assert bad.status_code == 400 and bad.json()["code"] == "BAD_USER_INPUT"


async def test_stats_bulletin_matches_graphql(hand: Running) -> None:
    r = await hand.client.get("/bulletins/stats-inclusion.xlsx")
    assert r.status_code == 200
    assert quote("入库纳统项目清单-2024-10-31.xlsx") in r.headers["content-disposition"]
    rows = _sheet(r.content, "入库纳统清单")
    assert rows[1][4] == "计划总投资（万元）"
    d = await hand.data(
        "{ statsInclusionList { project { code name } unitCode totalInvestment actualStart "
        "completedYtd materialsComplete materials { present } } }"
    )
    body = rows[2:]
    assert len(body) == len(d["statsInclusionList"]) == 2
    for i, (cells, g) in enumerate(zip(body, d["statsInclusionList"], strict=True), start=1):
        assert cells[:8] == [
            i, g["unitCode"], g["project"]["code"], g["project"]["name"], g["totalInvestment"],
            dt.datetime.fromisoformat(g["actualStart"]), g["completedYtd"], "具备入库条件",
        ]  # fmt: skip
        assert cells[8:12] == ["有" if m["present"] else "缺" for m in g["materials"]]
        assert cells[12] == ("是" if g["materialsComplete"] else "否")


# =========================================================================== demo set


@pytest.fixture
async def demo(demo_db_url: str) -> AsyncIterator[Running]:
    async for running in _running(demo_db_url, DEMO_DATE):
        yield running


async def test_statement_count_is_constant_in_the_number_of_projects(
    gql: Any, count_sql: Any, demo: Running, demo_sync_engine: Engine
) -> None:
    q = """query($n: Int!) { projects(first: $n) { edges { node { code
      lifecycle { currentStage daysInStage steps { stage days } openIssues { code } }
      investmentProgress(year: 2024, month: 10) { completedYtd scheduleLabel }
      a: investmentProgress(year: 2024, month: 6) { completedYtd } } } } }"""
    counts = []
    for n in (3, 40):
        with count_sql() as counter:
            body = await gql(q, {"n": n})
        assert "errors" not in body, body
        assert len(body["data"]["projects"]["edges"]) == n
        counts.append(counter.count)
    # page + stage events + issues + one investment statement per distinct (year, month)
    assert counts[0] == counts[1] == 5
    # and the numbers agree with plain SQL for a project with reports
    with demo_sync_engine.connect() as conn:
        code, ytd = conn.execute(
            text(
                "SELECT p.code, sum(r.completed_investment) FROM project p JOIN investment_report r "
                "ON r.project_id = p.id WHERE r.year = 2024 AND r.month <= 10 GROUP BY p.code "
                "ORDER BY p.code LIMIT 1"
            )
        ).one()
    one = await demo.data(
        "query($c: String!) { project(code: $c) { investmentProgress(year: 2024, month: 10) "
        "{ completedYtd } } }",
        {"c": code},
    )
    assert one["project"]["investmentProgress"]["completedYtd"] == pytest.approx(float(ytd))


async def test_demo_horse_race_totals_and_keys(demo: Running, demo_sync_engine: Engine) -> None:
    d = await demo.data(RACE, {"p": {"kind": "YEAR", "year": 2024}})
    rows = d["horseRace"]["rows"]
    assert [r["rank"] for r in rows] == list(range(1, 8))
    totals = [r["total"] for r in rows]
    assert totals == sorted(totals, reverse=True)
    assert max(totals) <= 100
    for r in rows:
        assert r["total"] == pytest.approx(sum(s["score"] for s in r["scores"]), abs=0.011)
    with demo_sync_engine.connect() as conn:
        ytd = conn.execute(
            text("SELECT sum(completed_investment) FROM investment_report WHERE year = 2024")
        ).scalar_one()
    # every project counts for exactly one unit: the units' sums are the city's
    assert sum(r["completedYtd"] for r in rows) == pytest.approx(float(ytd), abs=0.05)
    s = await demo.data("{ keyProjectSummary(year: 2024) { keyShare meetsShareLine keyProjects } }")
    # the demo generator keeps the key list ≥ 72 % of the annual investment (geo/seed/plan.py)
    assert s["keyProjectSummary"]["meetsShareLine"] is True
    assert s["keyProjectSummary"]["keyProjects"] == 300


async def test_demo_promotion_checks_agree_with_plain_sql(
    demo: Running, demo_sync_engine: Engine
) -> None:
    """Recompute 2024 Q3 compliance in Python from the raw trips."""
    with demo_sync_engine.connect() as conn:
        trips = conn.execute(
            text("SELECT unit_code, promoter_kind, promoter, trip_on, projects_pitched "
                 "FROM promotion_trip WHERE trip_on BETWEEN '2024-07-01' AND '2024-09-30'")
        ).all()  # fmt: skip
    assert trips, "the demo has Q3 trips"
    leaders: dict[tuple[str, str], list[int]] = {}
    bureaus: dict[tuple[str, int], list[int]] = {}
    for unit, kind, who, on, n in trips:
        if kind == "COUNTY_LEADER":
            leaders.setdefault((unit, who), []).append(n)
        else:
            bureaus.setdefault((unit, on.month), []).append(n)
    d = await demo.data(
        "{ promotion(year: 2024, quarter: 3) { leaders { unitCode promoter trips compliant } "
        "bureaus { unitCode month trips projectsPitched compliant } } }"
    )
    got_leaders = {(r["unitCode"], r["promoter"]): r for r in d["promotion"]["leaders"]}
    for key, pitched in leaders.items():
        assert got_leaders[key]["trips"] == len(pitched)
        assert got_leaders[key]["compliant"] == any(n >= 3 for n in pitched)
    for r in d["promotion"]["bureaus"]:
        pitched = bureaus.get((r["unitCode"], r["month"]), [])
        assert (r["trips"], r["projectsPitched"]) == (len(pitched), sum(pitched))
        assert r["compliant"] == (len(pitched) >= 2 and sum(pitched) >= 5)
    assert {r["compliant"] for r in d["promotion"]["bureaus"]} == {True, False}


# =========================================================================== mutations

REPORT = """mutation($i: RecordInvestmentReportInput!) { recordInvestmentReport(input: $i) {
  created report { projectCode year month completedInvestment reportedOn }
  errors { code message field ... on ForbiddenError { action countyCode } } } }"""
TRIP = """mutation($i: RecordPromotionTripInput!) { recordPromotionTrip(input: $i) {
  trip { unitCode promoterKind promoter projectsPitched actor } errors { code field } } }"""


@pytest.fixture
def dev_key(tmp_path: Path) -> Path:
    return tmp_path / "dev.pem"


@pytest.fixture
async def writable(fresh_db_url: str, dev_key: Path) -> AsyncIterator[Running]:
    async for running in _running(fresh_db_url, DEMO_DATE, key=dev_key):
        yield running


def token(key: Path, role: Role, counties: list[str] | None = None) -> str:
    return sign_dev_token(AuthSettings(dev_key_path=key), sub=f"t-{role}", role=role,
                          counties=counties)  # fmt: skip


async def test_record_investment_report_roles_upsert_and_effect(
    writable: Running, dev_key: Path, fresh_db_url: str
) -> None:
    engine = create_engine(fresh_db_url)
    with engine.connect() as conn:
        code, county = conn.execute(
            text("SELECT code, county_code FROM project WHERE county_code = '140521' "
                 "AND dev_zone_code IS NULL ORDER BY code LIMIT 1")
        ).one()  # fmt: skip
        other = conn.execute(
            text("SELECT code FROM project WHERE county_code = '140502' ORDER BY code LIMIT 1")
        ).scalar_one()
        before = conn.execute(
            text("SELECT completed_investment FROM investment_report r JOIN project p ON "
                 "p.id = r.project_id WHERE p.code = :c AND year = 2024 AND month = 11"),
            {"c": code},
        ).scalar_one_or_none()  # fmt: skip
    engine.dispose()
    assert before is None  # the demo stops at October
    unit_q = "{ investmentProgress(year: 2024, month: 11) { unitCode progress { completedYtd } } }"
    start = {r["unitCode"]: r["progress"]["completedYtd"]
             for r in (await writable.data(unit_q))["investmentProgress"]}  # fmt: skip
    officer = token(dev_key, Role.COUNTY_OFFICER, [county])
    good = {"projectCode": code, "year": 2024, "month": 11, "completedInvestment": 1234.5,
            "reportedOn": "2024-12-05"}  # fmt: skip
    r1 = (await writable.raw(REPORT, {"i": good}, officer))["data"]["recordInvestmentReport"]
    assert r1["errors"] == [] and r1["created"] is True
    assert r1["report"]["completedInvestment"] == 1234.5
    # the county's November year-to-date rises by exactly the report
    after = {r["unitCode"]: r["progress"]["completedYtd"]
             for r in (await writable.data(unit_q))["investmentProgress"]}  # fmt: skip
    assert after[county] == pytest.approx(start[county] + 1234.5)
    assert all(after[u] == start[u] for u in after if u != county)
    # reported again: replaced, not added
    again = dict(good, completedInvestment=1000)
    r2 = (await writable.raw(REPORT, {"i": again}, officer))["data"]["recordInvestmentReport"]
    assert r2["created"] is False and r2["report"]["completedInvestment"] == 1000
    final = {r["unitCode"]: r["progress"]["completedYtd"]
             for r in (await writable.data(unit_q))["investmentProgress"]}  # fmt: skip
    assert final[county] == pytest.approx(start[county] + 1000)
    # another county's project: refused, nothing written
    r3 = (await writable.raw(REPORT, {"i": dict(good, projectCode=other)}, officer))["data"]
    err = r3["recordInvestmentReport"]["errors"][0]
    assert err["code"] == "FORBIDDEN" and err["action"] == "investment.report"
    for role in (Role.ANALYST, Role.LAND_BUREAU, Role.TASK_FORCE):
        r = (await writable.raw(REPORT, {"i": good}, token(dev_key, role)))["data"]
        assert r["recordInvestmentReport"]["errors"][0]["code"] == "FORBIDDEN", role
    anon = (await writable.raw(REPORT, {"i": good}))["data"]["recordInvestmentReport"]
    assert anon["errors"][0]["code"] == "UNAUTHENTICATED"
    admin = token(dev_key, Role.CITY_ADMIN)
    ok = (await writable.raw(REPORT, {"i": dict(good, projectCode=other)}, admin))["data"]
    assert ok["recordInvestmentReport"]["errors"] == []
    # typed input errors
    for bad, field in (
        (dict(good, month=13), "month"),
        (dict(good, completedInvestment=-1), "completedInvestment"),
        (dict(good, reportedOn="2024-10-31"), "reportedOn"),
    ):
        r = (await writable.raw(REPORT, {"i": bad}, admin))["data"]["recordInvestmentReport"]
        assert r["errors"][0]["code"] == "BAD_USER_INPUT" and r["errors"][0]["field"][-1] == field
    for unknown in ("NOPE", code + "X" * 40, ""):  # too long is unknown, never truncated
        missing = await writable.raw(REPORT, {"i": dict(good, projectCode=unknown)}, admin)
        assert missing["data"]["recordInvestmentReport"]["errors"][0]["code"] == "NOT_FOUND"
    # audited (migration 0006): the officer's insert and update, the admin's insert
    engine = create_engine(fresh_db_url)
    with engine.connect() as conn:
        audit = conn.execute(
            text("SELECT actor_sub, county_code, object_code, action, after->>'completed_investment' "
                 "FROM audit_log WHERE table_name = 'investment_report' AND object_code LIKE '%/2024-11' "
                 "ORDER BY id")
        ).all()  # fmt: skip
    engine.dispose()
    assert [tuple(a) for a in audit] == [
        ("t-COUNTY_OFFICER", county, f"{code}/2024-11", "INSERT", "1234.50"),
        ("t-COUNTY_OFFICER", county, f"{code}/2024-11", "UPDATE", "1000.00"),
        ("t-CITY_ADMIN", "140502", f"{other}/2024-11", "INSERT", "1234.50"),
    ]


async def test_record_promotion_trip_roles_and_compliance(
    writable: Running, dev_key: Path, fresh_db_url: str
) -> None:
    trip = {"unitCode": "140521", "promoterKind": "COUNTY_LEADER", "promoter": "李县长",
            "tripOn": "2023-11-10", "destination": "长三角·上海", "projectsPitched": 3}  # fmt: skip
    officer = token(dev_key, Role.COUNTY_OFFICER, ["140521"])
    # the demo's trips are all in 2024: 2023 Q4 starts empty
    q4 = "{ promotion(year: 2023, quarter: 4) { leaders { unitCode promoter compliant } } }"
    before = (await writable.data(q4))["promotion"]["leaders"]
    assert {"unitCode": "140521", "promoter": None, "compliant": False} in before
    r = (await writable.raw(TRIP, {"i": trip}, officer))["data"]["recordPromotionTrip"]
    assert r["errors"] == [] and r["trip"]["actor"] == "t-COUNTY_OFFICER"
    after = (await writable.data(q4))["promotion"]["leaders"]
    assert {"unitCode": "140521", "promoter": "李县长", "compliant": True} in after
    # another county, the zone, the city bureau: not this officer's
    for unit, kind in (("140502", "COUNTY_LEADER"), ("140571", "COUNTY_LEADER"),
                       ("140500", "BUREAU")):  # fmt: skip
        r = await writable.raw(TRIP, {"i": dict(trip, unitCode=unit, promoterKind=kind)}, officer)
        assert r["data"]["recordPromotionTrip"]["errors"][0]["code"] == "FORBIDDEN", unit
    task_force = token(dev_key, Role.TASK_FORCE)
    r = await writable.raw(TRIP, {"i": dict(trip, unitCode="140500", promoterKind="BUREAU")},
                           task_force)  # fmt: skip
    assert r["data"]["recordPromotionTrip"]["errors"] == []
    analyst = token(dev_key, Role.ANALYST)
    r = await writable.raw(TRIP, {"i": trip}, analyst)
    assert r["data"]["recordPromotionTrip"]["errors"][0]["code"] == "FORBIDDEN"
    # the city is a unit for bureaus only; future trips and negative counts are refused
    admin = token(dev_key, Role.CITY_ADMIN)
    for bad, field in ((dict(trip, unitCode="140500"), "unitCode"),
                       (dict(trip, tripOn="2024-11-01"), "tripOn"),  # after today
                       (dict(trip, projectsPitched=-1), "projectsPitched")):  # fmt: skip
        r = await writable.raw(TRIP, {"i": bad}, admin)
        err = r["data"]["recordPromotionTrip"]["errors"][0]
        assert err["code"] == "BAD_USER_INPUT" and err["field"][-1] == field
    # two trips written (the officer's and the task force's), two audit rows
    engine = create_engine(fresh_db_url)
    with engine.connect() as conn:
        audit = conn.execute(
            text("SELECT actor_sub, county_code, object_code FROM audit_log "
                 "WHERE table_name = 'promotion_trip' AND actor_sub LIKE 't-%' ORDER BY id")
        ).all()  # fmt: skip
        trips = conn.execute(
            text("SELECT count(*) FROM promotion_trip WHERE trip_on < '2024-01-01'")
        ).scalar_one()
    engine.dispose()
    assert trips == 2
    assert [tuple(a) for a in audit] == [
        ("t-COUNTY_OFFICER", "140521", "140521/2023-11-10"),
        ("t-TASK_FORCE", "140500", "140500/2023-11-10"),
    ]


# =========================================================================== import


def _report_book(path: Path, rows: list[list[Any]]) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(["2024年10月重点项目投资完成情况"])
    ws.append(["序号", "项目代码", "项目名称", "年", "月份", "完成投资（亿元）", "填报日期"])
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def test_investment_import_validates_all_rows_then_writes_once(
    fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    engine = create_engine(fresh_db_url)
    with engine.connect() as conn:
        a = conn.execute(text("SELECT code FROM project ORDER BY code LIMIT 1")).scalar_one()
        b, name_b = conn.execute(
            text("SELECT min(code), name FROM project GROUP BY name HAVING count(*) = 1 "
                 "ORDER BY 1 OFFSET 1 LIMIT 1")
        ).one()  # fmt: skip
        twin = conn.execute(
            text("SELECT name FROM project GROUP BY name HAVING count(*) > 1 LIMIT 1")
        ).scalar_one()

    def stored() -> dict[tuple[str, int], float]:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT p.code, r.month, r.completed_investment FROM investment_report r "
                     "JOIN project p ON p.id = r.project_id WHERE r.year = 2024 AND r.month >= 11 "
                     "ORDER BY 1, 2")
            ).all()  # fmt: skip
        return {(c, m): float(v) for c, m, v in rows}

    bad = _report_book(
        tmp_path / "bad.xlsx",
        [
            [1, a, None, 2024, "11月", 0.12, "2024-12-05"],  # good: 0.12 亿元 = 1200 万元
            [2, "NOPE", None, 2024, 11, 1, None],  # row 4: unknown project
            [3, a, None, 2024, 13, 1, None],  # row 5: month 13
            [4, a, None, 2024, 11, 0.5, None],  # row 6: duplicate of row 3
            [5, None, name_b, 2024, 12, "abc", None],  # row 7: bad amount
            [6, None, twin, 2024, 12, 1, None],  # row 8: two projects have this name
        ],
    )
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    assert main(["import", "investment", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "row 4" in err and "UNKNOWN_PROJECT" in err
    assert "row 5" in err and "row 6" in err and "DUPLICATE_CODE" in err and "row 7" in err
    assert "row 8" in err and "give 项目代码" in err
    assert stored() == {}  # nothing written
    good = _report_book(
        tmp_path / "good.xlsx",
        [
            [1, a, None, 2024, "11月", 0.12, "2024-12-05"],
            [2, None, name_b, 2024, 12, 0.035, None],  # by name; 350 万元
        ],
    )
    result = import_investment(engine, good)
    assert result.written and (result.inserted, result.updated) == (2, 0)
    assert stored() == {(a, 11): 1200.0, (b, 12): 350.0}
    again = import_investment(engine, good)
    assert (again.inserted, again.updated) == (0, 2)
    with engine.connect() as conn:
        reported = conn.execute(
            text("SELECT reported_on FROM investment_report r JOIN project p ON p.id = r.project_id "
                 "WHERE p.code = :c AND year = 2024 AND month = 12"), {"c": b}
        ).scalar_one()  # fmt: skip
    assert reported == dt.date(2024, 12, 31)  # no 填报日期: the month's last day
    engine.dispose()
