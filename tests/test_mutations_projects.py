"""Project mutations, project–parcel links, approval items and auditTrail, through the real
app (dev-key bearer tokens, the API's non-owner database role with row-level security) on
private clones of the demo database. Every expected value is read back with independent
SQL as the owner; every refusal is checked to have written nothing (row counts, audit_log).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine

from api.app import create_app
from api.auth import sign_dev_token
from api.settings import AuthSettings, Settings
from geo import crs
from geo.actor import Actor, Role, bind_actor
from geo.db import sync_url
from geo.writes import project_links
from geo.writes.project_errors import ParcelAlreadyLinked
from geo.writes.projects import PROJECT_CONSTRAINTS

TODAY = dt.date.today()
A, B = "140521", "140522"  # 沁水县 (the county officer's own), 阳城县 (another county)

ERRORS = """errors { __typename code message field
  ... on StaleVersionError { sentVersion currentVersion }
  ... on InvalidTransitionError { fromStatus toStatus allowed }
  ... on ParcelAlreadyLinkedError { parcelCode otherProjectCode }
  ... on NotFoundError { objectType key }
  ... on ForbiddenError { action countyCode }
  ... on GeometryError { reason location } }"""
PROJECT = "project { code name version stage isKey keyListYear categories totalInvestment annualTarget location }"
CREATE = (
    f"mutation($i: CreateProjectInput!) {{ createProject(input: $i) {{ {PROJECT} {ERRORS} }} }}"
)
UPDATE = (
    f"mutation($i: UpdateProjectInput!) {{ updateProject(input: $i) {{ {PROJECT} {ERRORS} }} }}"
)
SET_KEY = f"mutation($i: SetProjectKeyListInput!) {{ setProjectKeyList(input: $i) {{ {PROJECT} {ERRORS} }} }}"
LINK_FIELDS = f"project {{ code parcels {{ code }} }} parcel {{ code project {{ code }} }} {ERRORS}"
LINK = f"mutation($i: LinkParcelInput!) {{ linkParcel(input: $i) {{ {LINK_FIELDS} }} }}"
UNLINK = f"mutation($i: UnlinkParcelInput!) {{ unlinkParcel(input: $i) {{ {LINK_FIELDS} }} }}"
ITEM = "approvalItem { code name status startedOn completedOn deadline handler handlerPhone leader measures handlingLevel version }"
CREATE_ITEM = f"mutation($i: CreateApprovalItemInput!) {{ createApprovalItem(input: $i) {{ {ITEM} {ERRORS} }} }}"
UPDATE_ITEM = f"mutation($i: UpdateApprovalItemInput!) {{ updateApprovalItem(input: $i) {{ {ITEM} {ERRORS} }} }}"
TRAIL = """query($t: AuditObjectType!, $c: String!, $f: Int, $a: String) {
  auditTrail(objectType: $t, code: $c, first: $f, after: $a) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { occurredAt actorSub actorRole requestId countyCode objectCode action
                          before after changedFields } } } }"""


# ---------------------------------------------------------------- app, tokens, SQL


@dataclass
class Api:
    client: httpx.AsyncClient
    auth: AuthSettings
    db: Engine

    def token(self, role: str, county: str | None = None, sub: str | None = None) -> str:
        return sign_dev_token(
            self.auth,
            sub=sub or f"{role.lower()}-{county or 'city'}",
            role=Role(role),
            counties=[county] if county else None,
        )

    async def call(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if request_id:
            headers["X-Request-ID"] = request_id
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def mutate(self, query: str, data: dict[str, Any], token: str | None, **kw: Any) -> Any:
        """The payload of the one mutation in `query` (asserting no top-level errors)."""
        body = await self.call(query, {"i": data}, token=token, **kw)
        assert "errors" not in body, body
        return next(iter(body["data"].values()))

    def one(self, sql: str, **params: Any) -> Any:
        with self.db.connect() as conn:
            return conn.execute(text(sql), params).one()

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.db.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def run(self, sql: str, **params: Any) -> None:
        with self.db.begin() as conn:
            conn.execute(text(sql), params)

    def counts(self) -> dict[str, int]:
        tables = ("project", "project_stage_event", "project_parcel", "approval_item", "audit_log")
        with self.db.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}

    def versions(self) -> tuple[Any, ...]:
        """A fingerprint of every editable row: unchanged ⇔ nothing was updated."""
        return self.one(
            "SELECT (SELECT sum(version) FROM project), (SELECT sum(version) FROM approval_item),"
            " (SELECT count(*) FROM project_parcel WHERE unlinked_on IS NULL)"
        )


@pytest.fixture(scope="module")
def auth_settings(tmp_path_factory: pytest.TempPathFactory) -> AuthSettings:
    return AuthSettings(dev_key_path=tmp_path_factory.mktemp("keys") / "dev.pem")


@contextlib.asynccontextmanager
async def running(url: str, auth: AuthSettings) -> AsyncIterator[Api]:
    app = create_app(Settings(database_url=url, auth=auth))
    engine = create_engine(sync_url(url))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield Api(c, auth, engine)
    finally:
        engine.dispose()


@pytest.fixture
async def api(fresh_db_url: str, auth_settings: AuthSettings) -> AsyncIterator[Api]:
    async with running(fresh_db_url, auth_settings) as a:
        yield a


def admin(api: Api) -> str:
    return api.token("CITY_ADMIN", sub="admin-1")


def officer(api: Api, county: str = A) -> str:
    return api.token("COUNTY_OFFICER", county, sub=f"officer-{county}")


def audit_rows(api: Api, table: str, code: str, since: int) -> list[Any]:
    with api.db.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT actor_sub, actor_role, request_id, county_code, action, before, after"
                    " FROM audit_log WHERE table_name = :t AND object_code = :c AND id > :s"
                    " ORDER BY id"
                ),
                {"t": table, "c": code, "s": since},
            )
        )


def max_audit(api: Api) -> int:
    return int(api.scalar("SELECT coalesce(max(id), 0) FROM audit_log"))


def new_project_input(code: str, county: str = A, **extra: Any) -> dict[str, Any]:
    data = {
        "code": code,
        "name": "测试项目 test project",
        "countyCode": county,
        "planType": "PLANNED_START",
        "totalInvestment": 12000.5,
        "annualTarget": 3000.25,
    }
    data.update(extra)
    return data


# ---------------------------------------------------------------- demo objects


@dataclass
class Demo:
    project: str  # not completed, with a demand parcel of its own county
    other_project: str  # another not-completed project of the same county
    parcel: str  # linked to `project`, in a demand status, new construction land > 0
    parcel_area_m2: float
    item: str  # an approval item of `project`


def demo_objects(api: Api, county: str) -> Demo:
    row = api.one(
        """SELECT pr.code AS project, pa.code AS parcel, pa.new_construction_area_m2 AS area
             FROM project pr
             JOIN project_parcel l ON l.project_id = pr.id AND l.unlinked_on IS NULL
             JOIN parcel pa ON pa.id = l.parcel_id
            WHERE pr.county_code = :c AND pa.county_code = :c AND pr.stage <> 'COMPLETED'
              AND pa.procedure_status IN ('DEMAND', 'PRE_REVIEWED', 'DOSSIER_PREP', 'SUBMITTED')
              AND pa.new_construction_area_m2 > 1000
              AND EXISTS (SELECT 1 FROM approval_item i WHERE i.project_id = pr.id)
            ORDER BY pr.code, pa.code LIMIT 1""",
        c=county,
    )
    other = api.scalar(
        "SELECT code FROM project WHERE county_code = :c AND stage <> 'COMPLETED' AND code <> :p"
        " ORDER BY code LIMIT 1",
        c=county,
        p=row.project,
    )
    item = api.scalar(
        "SELECT i.code FROM approval_item i JOIN project p ON p.id = i.project_id"
        " WHERE p.code = :p ORDER BY i.code LIMIT 1",
        p=row.project,
    )
    return Demo(row.project, other, row.parcel, float(row.area), item)


def version_of(api: Api, table: str, code: str) -> int:
    return int(api.scalar(f"SELECT version FROM {table} WHERE code = :c", c=code))


async def blocked_on_a_lock(engine: Engine, timeout: float = 20.0) -> None:
    """Wait until some backend of this database waits for a lock (the racing INSERT)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with engine.connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
        if waiting:
            return
        assert asyncio.get_running_loop().time() < deadline, "the racing write never blocked"
        await asyncio.sleep(0.05)


# ================================================================ projects


async def test_create_project_stores_every_field_one_stage_event_one_audit_row(api: Api) -> None:
    before, since = api.counts(), max_audit(api)
    stage_date = TODAY - dt.timedelta(days=3)
    data = new_project_input(
        "2611-140521-44-01-000001",
        stage="FILING",
        stageDate=stage_date.isoformat(),
        industry="新能源",
        plannedStart="2026-03-01",
        plannedFinish="2027-12-31",
        leadOfficial="王某某",
        leadOfficialTitle="副县长",
        responsibleEntity="沁水县发改局",
        signingStatus="SIGNED",
        progressTarget="年底主体完工",
        location={"ewkt": "SRID=4326;POINT(112.35 35.65)"},
    )
    payload = await api.mutate(CREATE, data, officer(api), request_id="req-create-1")
    assert payload["errors"] == []
    assert payload["project"]["code"] == data["code"]
    assert payload["project"]["version"] == 1
    assert payload["project"]["location"] == {"type": "Point", "coordinates": [112.35, 35.65]}

    row = api.one(
        """SELECT name, county_code, plan_type::text, stage::text, total_investment,
                  annual_target, industry, planned_start, planned_finish, lead_official,
                  lead_official_title, responsible_entity, signing_status::text,
                  stats_status::text, progress_target, is_key, version,
                  ST_X(location) AS x, ST_Y(location) AS y, ST_SRID(location) AS srid
             FROM project WHERE code = :c""",
        c=data["code"],
    )
    assert (row.name, row.county_code, row.plan_type, row.stage) == (
        "测试项目 test project",
        A,
        "PLANNED_START",
        "FILING",
    )
    assert (str(row.total_investment), str(row.annual_target)) == ("12000.50", "3000.25")
    assert (row.planned_start, row.planned_finish) == (dt.date(2026, 3, 1), dt.date(2027, 12, 31))
    assert (row.lead_official, row.lead_official_title, row.responsible_entity) == (
        "王某某",
        "副县长",
        "沁水县发改局",
    )
    assert (row.signing_status, row.stats_status, row.is_key, row.version) == (
        "SIGNED",
        "NOT_ELIGIBLE",
        False,
        1,
    )
    assert (row.industry, row.progress_target) == ("新能源", "年底主体完工")
    assert row.srid == 4490 and abs(row.x - 112.35) < 1e-9 and abs(row.y - 35.65) < 1e-9

    events = api.one(
        "SELECT count(*) AS n, min(e.stage::text) AS stage, min(e.entered_on) AS d, min(e.actor) AS who"
        " FROM project_stage_event e JOIN project p ON p.id = e.project_id WHERE p.code = :c",
        c=data["code"],
    )
    assert tuple(events) == (1, "FILING", stage_date, "officer-140521")

    after = api.counts()
    assert after["project"] == before["project"] + 1
    assert after["project_stage_event"] == before["project_stage_event"] + 1
    assert after["audit_log"] == before["audit_log"] + 1  # the stage event is not audited
    (audit,) = audit_rows(api, "project", data["code"], since)
    assert (audit.actor_sub, audit.actor_role, audit.request_id, audit.county_code) == (
        "officer-140521",
        "COUNTY_OFFICER",
        "req-create-1",
        A,
    )
    assert audit.action == "INSERT" and audit.before is None
    assert audit.after["name"] == "测试项目 test project"
    assert audit.after["total_investment"] == 12000.5 and audit.after["version"] == 1


@pytest.mark.parametrize(
    ("extra", "code", "typename", "field"),
    [
        ({"annualTarget": 20000}, "BAD_USER_INPUT", "InputError", ["input", "annualTarget"]),
        ({"annualTarget": -1}, "BAD_USER_INPUT", "InputError", ["input", "annualTarget"]),
        (
            {"totalInvestment": -5, "annualTarget": None},
            "BAD_USER_INPUT",
            "InputError",
            ["input", "totalInvestment"],
        ),
        ({"totalInvestment": 1.005}, "BAD_USER_INPUT", "InputError", ["input", "totalInvestment"]),
        ({"name": "  "}, "BAD_USER_INPUT", "InputError", ["input", "name"]),
        ({"devZoneCode": "140571"}, "BAD_USER_INPUT", "InputError", ["input", "devZoneCode"]),
        ({"devZoneCode": "140522"}, "BAD_USER_INPUT", "InputError", ["input", "devZoneCode"]),
        ({"code": "has space"}, "BAD_USER_INPUT", "InputError", ["input", "code"]),
        (
            {"plannedStart": "2026-05-01", "plannedFinish": "2026-04-30"},
            "BAD_USER_INPUT",
            "InputError",
            ["input", "plannedFinish"],
        ),
        (
            {"stageDate": (TODAY + dt.timedelta(days=1)).isoformat()},
            "BAD_USER_INPUT",
            "InputError",
            ["input", "stageDate"],
        ),
        (
            {"location": {"wkt": "POINT(116.4 39.9)"}},  # Beijing: outside Jincheng
            "BAD_USER_INPUT",
            "InputError",
            ["input", "location"],
        ),
        (
            {"location": {"wkt": "POLYGON((112 35.5, 112.1 35.5, 112.1 35.6, 112 35.5))"}},
            "BAD_USER_INPUT",
            "InputError",
            ["input", "location"],
        ),
        (
            {"location": {"wkt": "POINT(112.35"}},
            "INVALID_WKT",
            "GeometryError",
            ["input", "location"],
        ),
        (
            {"location": {"ewkt": "SRID=3857;POINT(12500000 4250000)"}},
            "UNSUPPORTED_SRID",
            "GeometryError",
            ["input", "location"],
        ),
        (
            {"location": {"geojson": {"type": "Point", "coordinates": [35.65, 112.35]}}},
            "COORDINATE_OUT_OF_RANGE",
            "GeometryError",
            ["input", "location"],
        ),
    ],
)
async def test_create_project_refusals_are_typed_and_write_nothing(
    api: Api, extra: dict[str, Any], code: str, typename: str, field: list[str]
) -> None:
    before = api.counts()
    data = {**new_project_input("2611-140521-44-01-000002"), **extra}
    payload = await api.mutate(CREATE, data, admin(api))
    assert payload["project"] is None
    assert [(e["__typename"], e["code"], e["field"]) for e in payload["errors"]] == [
        (typename, code, field)
    ]
    assert api.counts() == before


async def test_create_project_duplicate_code_and_county_rules(api: Api) -> None:
    demo = demo_objects(api, A)
    before = api.counts()
    dup = await api.mutate(CREATE, new_project_input(demo.project), admin(api))
    assert [(e["code"], e["field"]) for e in dup["errors"]] == [
        ("DUPLICATE_CODE", ["input", "code"])
    ]
    zone = await api.mutate(CREATE, new_project_input("X-ZONE-1", county="140571"), admin(api))
    assert [(e["code"], e["field"]) for e in zone["errors"]] == [
        ("BAD_USER_INPUT", ["input", "countyCode"])
    ]
    other = await api.mutate(CREATE, new_project_input("X-OTHER-1", county=B), officer(api))
    assert [
        (e["__typename"], e["code"], e["action"], e["countyCode"]) for e in other["errors"]
    ] == [("ForbiddenError", "FORBIDDEN", "project.create", B)]
    assert api.counts() == before


async def test_concurrent_creates_of_one_code_one_wins_other_duplicate_code(api: Api) -> None:
    """Both pass the pre-check; the unique index refuses the second → DUPLICATE_CODE."""
    before = api.counts()
    data = new_project_input("2611-140521-44-01-000777")
    results = await asyncio.gather(*(api.mutate(CREATE, data, admin(api)) for _ in range(4)))
    winners = [r for r in results if not r["errors"]]
    losers = [r["errors"] for r in results if r["errors"]]
    assert len(winners) == 1
    assert all([e["code"] for e in errs] == ["DUPLICATE_CODE"] for errs in losers)
    after = api.counts()
    assert after["project"] == before["project"] + 1
    assert after["audit_log"] == before["audit_log"] + 1


def test_project_constraint_names_exist(demo_sync_engine: Engine) -> None:
    """The DB-name → typed-refusal map names real constraints of migration 0001."""
    with demo_sync_engine.connect() as conn:
        names = set(
            conn.execute(
                text("SELECT conname FROM pg_constraint WHERE conrelid = 'project'::regclass")
            ).scalars()
        )
    assert set(PROJECT_CONSTRAINTS) <= names


async def test_update_project_fields_and_one_dated_stage_event(api: Api) -> None:
    code = api.scalar(
        "SELECT code FROM project WHERE stage = 'FILING' AND county_code = :c ORDER BY code LIMIT 1",
        c=A,
    )
    version = version_of(api, "project", code)
    events_before = api.scalar(
        "SELECT count(*) FROM project_stage_event e JOIN project p ON p.id = e.project_id"
        " WHERE p.code = :c",
        c=code,
    )
    counts, since = api.counts(), max_audit(api)
    total = float(api.scalar("SELECT total_investment FROM project WHERE code = :c", c=code))
    payload = await api.mutate(
        UPDATE,
        {
            "code": code,
            "version": version,
            "name": "改名后的项目",
            "annualTarget": round(total / 2, 2),
            "stage": "PROCEDURES",
            "stageDate": TODAY.isoformat(),
            "location": {"geojson": {"type": "Point", "coordinates": [112.4, 35.7]}},
        },
        officer(api),
    )
    assert payload["errors"] == []
    assert payload["project"]["version"] == version + 1
    assert payload["project"]["stage"] == "PROCEDURES"
    row = api.one(
        "SELECT name, stage::text, annual_target, version, ST_X(location) AS x FROM project WHERE code = :c",
        c=code,
    )
    assert (row.name, row.stage, float(row.annual_target), row.version) == (
        "改名后的项目",
        "PROCEDURES",
        round(total / 2, 2),
        version + 1,
    )
    assert abs(row.x - 112.4) < 1e-9
    events = api.one(
        "SELECT count(*) AS n, max(e.id) AS last FROM project_stage_event e"
        " JOIN project p ON p.id = e.project_id WHERE p.code = :c",
        c=code,
    )
    assert events.n == events_before + 1
    last = api.one(
        "SELECT stage::text, entered_on, actor FROM project_stage_event WHERE id = :i",
        i=events.last,
    )
    assert tuple(last) == ("PROCEDURES", TODAY, "officer-140521")
    assert api.counts()["audit_log"] == counts["audit_log"] + 1
    (audit,) = audit_rows(api, "project", code, since)
    assert audit.action == "UPDATE" and audit.actor_role == "COUNTY_OFFICER"
    assert (audit.before["stage"], audit.after["stage"]) == ("FILING", "PROCEDURES")
    assert (audit.before["version"], audit.after["version"]) == (version, version + 1)

    # the audit trail reports the changed fields (version/updated_at aside)
    trail = await api.call(TRAIL, {"t": "PROJECT", "c": code, "f": 1}, token=admin(api))
    node = trail["data"]["auditTrail"]["edges"][0]["node"]
    assert node["changedFields"] == ["annual_target", "location", "name", "stage"]


async def test_stage_rules_skip_back_date_and_stale(api: Api) -> None:
    code = api.scalar(
        "SELECT code FROM project WHERE stage = 'FACTORS' AND county_code = :c ORDER BY code LIMIT 1",
        c=A,
    )
    token = officer(api)
    v = version_of(api, "project", code)
    last_date = api.scalar(
        "SELECT max(entered_on) FROM project_stage_event e JOIN project p ON p.id = e.project_id WHERE p.code = :c",
        c=code,
    )
    counts = api.counts()

    async def errors(**changes: Any) -> list[dict[str, Any]]:
        payload = await api.mutate(UPDATE, {"code": code, "version": v, **changes}, token)
        assert payload["project"] is None
        return list(payload["errors"])

    skip = await errors(stage="IN_PROGRESS")
    assert [(e["__typename"], e["code"], e["fromStatus"], e["toStatus"]) for e in skip] == [
        ("InvalidTransitionError", "INVALID_TRANSITION", "FACTORS", "IN_PROGRESS")
    ]
    assert skip[0]["allowed"] == ["CONSTRUCTION_START", "FILING", "PROCEDURES"]
    back = await errors(stage="FILING")
    assert [e["code"] for e in back] == ["INVALID_TRANSITION"]
    future = await errors(
        stage="CONSTRUCTION_START", stageDate=(TODAY + dt.timedelta(days=1)).isoformat()
    )
    assert [(e["code"], e["field"]) for e in future] == [("BAD_USER_INPUT", ["input", "stageDate"])]
    early = await errors(
        stage="CONSTRUCTION_START", stageDate=(last_date - dt.timedelta(days=1)).isoformat()
    )
    assert [(e["code"], e["field"]) for e in early] == [("BAD_USER_INPUT", ["input", "stageDate"])]
    stale = await api.mutate(
        UPDATE, {"code": code, "version": v - 1 if v > 1 else v + 5, "name": "x"}, token
    )
    assert [(e["code"], e["currentVersion"]) for e in stale["errors"]] == [("STALE_VERSION", v)]
    cleared = await errors(name=None)
    assert [(e["code"], e["field"]) for e in cleared] == [("BAD_USER_INPUT", ["input", "name"])]
    missing = await api.mutate(
        UPDATE, {"code": "NO-SUCH-PROJECT", "version": 1, "name": "x"}, token
    )
    assert [(e["code"], e["objectType"]) for e in missing["errors"]] == [("NOT_FOUND", "project")]
    assert api.counts() == counts

    # back with a reason: allowed, the reason is the event's note
    ok = await api.mutate(
        UPDATE,
        {"code": code, "version": v, "stage": "PROCEDURES", "stageNote": "手续退回补正"},
        token,
    )
    assert ok["errors"] == [] and ok["project"]["stage"] == "PROCEDURES"
    note = api.one(
        "SELECT e.stage::text, e.note FROM project_stage_event e JOIN project p ON p.id = e.project_id"
        " WHERE p.code = :c ORDER BY e.id DESC LIMIT 1",
        c=code,
    )
    assert tuple(note) == ("PROCEDURES", "手续退回补正")
    # forward again to FACTORS then CONSTRUCTION_START: actual_start is set to the stage date
    v2 = version_of(api, "project", code)
    await api.mutate(UPDATE, {"code": code, "version": v2, "stage": "FACTORS"}, token)
    api.run("UPDATE project SET actual_start = NULL WHERE code = :c", c=code)
    v3 = version_of(api, "project", code)
    done = await api.mutate(
        UPDATE, {"code": code, "version": v3, "stage": "CONSTRUCTION_START"}, token
    )
    assert done["errors"] == []
    assert api.scalar("SELECT actual_start FROM project WHERE code = :c", c=code) == TODAY


async def test_two_concurrent_updates_with_one_version_exactly_one_wins(api: Api) -> None:
    code = api.scalar("SELECT code FROM project WHERE county_code = :c ORDER BY code LIMIT 1", c=A)
    v = version_of(api, "project", code)
    counts = api.counts()
    results = await asyncio.gather(
        api.mutate(UPDATE, {"code": code, "version": v, "progressTarget": "甲"}, admin(api)),
        api.mutate(UPDATE, {"code": code, "version": v, "progressTarget": "乙"}, officer(api)),
    )
    ok = [r for r in results if not r["errors"]]
    stale = [r["errors"] for r in results if r["errors"]]
    assert len(ok) == 1 and len(stale) == 1
    assert [(e["code"], e["sentVersion"], e["currentVersion"]) for e in stale[0]] == [
        ("STALE_VERSION", v, v + 1)
    ]
    row = api.one("SELECT version, progress_target FROM project WHERE code = :c", c=code)
    assert row.version == v + 1
    assert row.progress_target == ("甲" if not results[0]["errors"] else "乙")
    assert api.counts()["audit_log"] == counts["audit_log"] + 1


async def test_set_project_key_list(api: Api) -> None:
    code = api.scalar(
        "SELECT code FROM project WHERE NOT is_key AND county_code = :c ORDER BY code LIMIT 1", c=A
    )
    v = version_of(api, "project", code)
    counts = api.counts()
    bad = await api.mutate(SET_KEY, {"code": code, "version": v, "isKey": True}, admin(api))
    assert sorted((e["code"], tuple(e["field"])) for e in bad["errors"]) == [
        ("BAD_USER_INPUT", ("input", "categories")),
        ("BAD_USER_INPUT", ("input", "keyListYear")),
    ]
    assert api.counts() == counts
    ok = await api.mutate(
        SET_KEY,
        {
            "code": code,
            "version": v,
            "isKey": True,
            "keyListYear": 2026,
            "categories": ["PROVINCIAL_KEY", "CITY_COUNTY_KEY"],
        },
        admin(api),
    )
    assert ok["errors"] == []
    assert ok["project"]["isKey"] is True and ok["project"]["keyListYear"] == 2026
    row = api.one(
        "SELECT is_key, key_list_year, categories::text[] AS c, version FROM project WHERE code = :c",
        c=code,
    )
    assert (row.is_key, row.key_list_year, row.c, row.version) == (
        True,
        2026,
        ["PROVINCIAL_KEY", "CITY_COUNTY_KEY"],
        v + 1,
    )
    assert api.counts()["audit_log"] == counts["audit_log"] + 1


# ================================================================ links and land demand


async def demand_ha(api: Api, county: str) -> float:
    body = await api.call(
        "query($y: Int!, $c: String) { landGuarantee(year: $y, countyCode: $c) { countyCode demandHa } }",
        {"y": TODAY.year, "c": county},
    )
    (row,) = body["data"]["landGuarantee"]
    return float(row["demandHa"])


async def test_unlink_and_link_move_the_county_land_demand(api: Api) -> None:
    demo = demo_objects(api, A)
    token = officer(api)
    area_ha = crs.ha(round(demo.parcel_area_m2, 2))
    start = await demand_ha(api, A)
    counts, since = api.counts(), max_audit(api)

    already = await api.mutate(
        LINK,
        {
            "projectCode": demo.other_project,
            "parcelCode": demo.parcel,
            "linkedOn": TODAY.isoformat(),
        },
        token,
    )
    assert [
        (e["__typename"], e["code"], e["parcelCode"], e["otherProjectCode"])
        for e in already["errors"]
    ] == [("ParcelAlreadyLinkedError", "PARCEL_ALREADY_LINKED", demo.parcel, demo.project)]
    blank = await api.mutate(
        UNLINK,
        {
            "projectCode": demo.project,
            "parcelCode": demo.parcel,
            "unlinkedOn": TODAY.isoformat(),
            "reason": " ",
        },
        token,
    )
    assert [(e["code"], e["field"]) for e in blank["errors"]] == [
        ("BAD_USER_INPUT", ["input", "reason"])
    ]
    linked_on = api.scalar(
        "SELECT linked_on FROM project_parcel l JOIN parcel p ON p.id = l.parcel_id"
        " WHERE p.code = :c AND l.unlinked_on IS NULL",
        c=demo.parcel,
    )
    early = await api.mutate(
        UNLINK,
        {
            "projectCode": demo.project,
            "parcelCode": demo.parcel,
            "unlinkedOn": (linked_on - dt.timedelta(days=1)).isoformat(),
            "reason": "调整",
        },
        token,
    )
    assert [(e["code"], e["field"]) for e in early["errors"]] == [
        ("BAD_USER_INPUT", ["input", "unlinkedOn"])
    ]
    wrong = await api.mutate(
        UNLINK,
        {
            "projectCode": demo.other_project,
            "parcelCode": demo.parcel,
            "unlinkedOn": TODAY.isoformat(),
            "reason": "调整",
        },
        token,
    )
    assert [e["code"] for e in wrong["errors"]] == ["NOT_FOUND"]
    assert api.counts() == counts and await demand_ha(api, A) == start

    un = await api.mutate(
        UNLINK,
        {
            "projectCode": demo.project,
            "parcelCode": demo.parcel,
            "unlinkedOn": TODAY.isoformat(),
            "reason": "项目调整选址",
        },
        token,
    )
    assert un["errors"] == []
    assert un["parcel"]["project"] is None
    assert demo.parcel not in [p["code"] for p in un["project"]["parcels"]]
    row = api.one(
        "SELECT unlinked_on, unlink_reason FROM project_parcel l JOIN parcel p ON p.id = l.parcel_id"
        " WHERE p.code = :c ORDER BY l.id DESC LIMIT 1",
        c=demo.parcel,
    )
    assert tuple(row) == (TODAY, "项目调整选址")
    after_unlink = await demand_ha(api, A)
    assert after_unlink == pytest.approx(start - area_ha, abs=1e-6)

    link = await api.mutate(
        LINK,
        {
            "projectCode": demo.other_project,
            "parcelCode": demo.parcel,
            "linkedOn": TODAY.isoformat(),
        },
        token,
    )
    assert link["errors"] == []
    assert link["parcel"]["project"]["code"] == demo.other_project
    # the other project may be completed-free but already carry demand: the county total is what moves
    assert await demand_ha(api, A) == pytest.approx(start, abs=1e-6)

    c = api.counts()
    assert c["project_parcel"] == counts["project_parcel"] + 1  # links are dated, never deleted
    assert c["audit_log"] == counts["audit_log"] + 2
    unlink_audit = audit_rows(api, "project_parcel", demo.project, since)
    link_audit = audit_rows(api, "project_parcel", demo.other_project, since)
    assert [(r.action, r.actor_sub, r.county_code) for r in unlink_audit] == [
        ("UPDATE", "officer-140521", A)
    ]
    assert unlink_audit[0].after["unlink_reason"] == "项目调整选址"
    assert unlink_audit[0].before["unlinked_on"] is None
    assert [(r.action, r.after["parcel_code"]) for r in link_audit] == [("INSERT", demo.parcel)]


async def test_concurrent_double_link_one_wins_other_parcel_already_linked(api: Api) -> None:
    demo = demo_objects(api, A)
    third = api.scalar(
        "SELECT code FROM project WHERE county_code = :c AND stage <> 'COMPLETED' AND code NOT IN (:p, :o) ORDER BY code LIMIT 1",
        c=A,
        p=demo.project,
        o=demo.other_project,
    )
    un = await api.mutate(
        UNLINK,
        {
            "projectCode": demo.project,
            "parcelCode": demo.parcel,
            "unlinkedOn": TODAY.isoformat(),
            "reason": "重新分配",
        },
        admin(api),
    )
    assert un["errors"] == []
    counts = api.counts()
    results = await asyncio.gather(
        *(
            api.mutate(
                LINK,
                {"projectCode": p, "parcelCode": demo.parcel, "linkedOn": TODAY.isoformat()},
                admin(api),
            )
            for p in (demo.other_project, third, demo.other_project, third)
        )
    )
    winners = [r for r in results if not r["errors"]]
    assert len(winners) == 1
    winner = winners[0]["project"]["code"]
    for r in results:
        if r["errors"]:
            assert [(e["code"], e["otherProjectCode"]) for e in r["errors"]] == [
                ("PARCEL_ALREADY_LINKED", winner)
            ]
    active = api.one(
        "SELECT count(*) AS n, min(pr.code) AS code FROM project_parcel l JOIN parcel p ON p.id = l.parcel_id"
        " JOIN project pr ON pr.id = l.project_id WHERE p.code = :c AND l.unlinked_on IS NULL",
        c=demo.parcel,
    )
    assert tuple(active) == (1, winner)
    c = api.counts()
    assert c["project_parcel"] == counts["project_parcel"] + 1
    assert c["audit_log"] == counts["audit_log"] + 1


async def test_racing_link_insert_is_refused_by_the_unique_index_with_the_winner(
    fresh_db_url: str,
) -> None:
    """Deterministic race: B's pre-check cannot see A's uncommitted link, so B's INSERT
    waits on the index entry and fails once A commits — as PARCEL_ALREADY_LINKED naming A's
    project (not an IntegrityError)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    engine = create_async_engine(sync_url(fresh_db_url))
    sync = create_engine(sync_url(fresh_db_url))
    try:
        with sync.begin() as conn:
            parcel, first, second = conn.execute(
                text(
                    "WITH l AS (SELECT l.id, p.code FROM project_parcel l JOIN parcel p ON p.id = l.parcel_id"
                    " ORDER BY l.id LIMIT 1), u AS (UPDATE project_parcel SET unlinked_on = linked_on"
                    " WHERE id = (SELECT id FROM l)) SELECT (SELECT code FROM l),"
                    " (SELECT code FROM project ORDER BY code LIMIT 1),"
                    " (SELECT code FROM project ORDER BY code DESC LIMIT 1)"
                )
            ).one()
        actor = Actor(sub="race", role=Role.CITY_ADMIN)
        async with AsyncSession(engine) as a, AsyncSession(engine) as b:
            await a.begin()
            await bind_actor(a, actor)
            await project_links.link_parcel(
                a, project_code=first, parcel_code=parcel, linked_on=TODAY, today=TODAY
            )
            await b.begin()
            await bind_actor(b, actor)
            racing = asyncio.create_task(
                project_links.link_parcel(
                    b, project_code=second, parcel_code=parcel, linked_on=TODAY, today=TODAY
                )
            )
            await blocked_on_a_lock(sync)
            assert not racing.done()  # waiting on A's index entry
            await a.commit()
            with pytest.raises(ParcelAlreadyLinked) as refused:
                await racing
            assert refused.value.other_project_code == first
            await b.rollback()
        with sync.connect() as conn:
            n = conn.execute(
                text(
                    "SELECT count(*) FROM project_parcel l JOIN parcel p ON p.id = l.parcel_id"
                    " WHERE p.code = :c AND l.unlinked_on IS NULL"
                ),
                {"c": parcel},
            ).scalar()
        assert n == 1
    finally:
        await engine.dispose()
        sync.dispose()


# ================================================================ approval items


async def test_approval_item_create_and_status_chain(api: Api) -> None:
    demo = demo_objects(api, A)
    task_force = api.token("TASK_FORCE", sub="tf-1")
    counts, since = api.counts(), max_audit(api)
    n_items = api.scalar(
        "SELECT count(*) FROM approval_item i JOIN project p ON p.id = i.project_id WHERE p.code = :c",
        c=demo.project,
    )
    created = await api.mutate(
        CREATE_ITEM,
        {
            "projectCode": demo.project,
            "itemType": "ENERGY_REVIEW",
            "name": "节能审查",
            "handlingLevel": "MUNICIPAL",
            "deadline": (TODAY + dt.timedelta(days=20)).isoformat(),
            "leader": "李某",
            "handler": "张某",
            "handlerPhone": "0356-1234567",
            "measures": "专班协调",
        },
        task_force,
    )
    assert created["errors"] == []
    item = created["approvalItem"]
    code = item["code"]
    assert code.startswith(demo.project + "-A")
    assert (item["status"], item["version"], item["handlerPhone"]) == (
        "NOT_STARTED",
        1,
        "0356-1234567",
    )
    row = api.one(
        "SELECT i.status::text, i.handling_level::text, i.item_type::text, i.deadline, i.handler_phone,"
        " p.code AS project FROM approval_item i JOIN project p ON p.id = i.project_id WHERE i.code = :c",
        c=code,
    )
    assert tuple(row) == (
        "NOT_STARTED",
        "MUNICIPAL",
        "ENERGY_REVIEW",
        TODAY + dt.timedelta(days=20),
        "0356-1234567",
        demo.project,
    )
    assert (
        api.scalar(
            "SELECT count(*) FROM approval_item i JOIN project p ON p.id = i.project_id WHERE p.code = :c",
            c=demo.project,
        )
        == n_items + 1
    )
    (audit,) = audit_rows(api, "approval_item", code, since)
    assert (audit.action, audit.actor_sub, audit.actor_role, audit.county_code) == (
        "INSERT",
        "tf-1",
        "TASK_FORCE",
        A,
    )

    async def update(**changes: Any) -> Any:
        v = version_of(api, "approval_item", code)
        return await api.mutate(UPDATE_ITEM, {"code": code, "version": v, **changes}, officer(api))

    bad = await update(status="COMPLETED")
    assert [(e["code"], e["fromStatus"], e["allowed"]) for e in bad["errors"]] == [
        ("INVALID_TRANSITION", "NOT_STARTED", ["IN_PROGRESS", "BLOCKED"])
    ]
    started = TODAY - dt.timedelta(days=5)
    ok = await update(status="IN_PROGRESS", statusDate=started.isoformat(), handler="赵某")
    assert ok["errors"] == [] and ok["approvalItem"]["startedOn"] == started.isoformat()
    blocked = await update(status="BLOCKED", measures="等待用地预审")
    assert blocked["errors"] == [] and blocked["approvalItem"]["status"] == "BLOCKED"
    again = await update(status="IN_PROGRESS")
    assert again["approvalItem"]["startedOn"] == started.isoformat()  # first start kept
    too_early = await update(
        status="COMPLETED", statusDate=(started - dt.timedelta(days=1)).isoformat()
    )
    assert [(e["code"], e["field"]) for e in too_early["errors"]] == [
        ("BAD_USER_INPUT", ["input", "statusDate"])
    ]
    done = await update(status="COMPLETED", statusDate=TODAY.isoformat(), deadline=None)
    assert done["errors"] == []
    row = api.one(
        "SELECT status::text, started_on, completed_on, deadline, handler, measures, version FROM approval_item WHERE code = :c",
        c=code,
    )
    assert tuple(row) == ("COMPLETED", started, TODAY, None, "赵某", "等待用地预审", 5)
    final = await update(status="IN_PROGRESS")
    assert [(e["code"], e["allowed"]) for e in final["errors"]] == [("INVALID_TRANSITION", [])]
    phone = await update(handlerPhone="call me")
    assert [(e["code"], e["field"]) for e in phone["errors"]] == [
        ("BAD_USER_INPUT", ["input", "handlerPhone"])
    ]
    stale = await api.mutate(UPDATE_ITEM, {"code": code, "version": 1, "leader": "x"}, admin(api))
    assert [(e["code"], e["currentVersion"]) for e in stale["errors"]] == [("STALE_VERSION", 5)]
    # one audit row per successful write: insert + 4 updates
    assert api.counts()["audit_log"] == counts["audit_log"] + 5
    assert [r.action for r in audit_rows(api, "approval_item", code, since)] == ["INSERT"] + [
        "UPDATE"
    ] * 4


# ================================================================ the permission matrix

ROLES = ("CITY_ADMIN", "LAND_BUREAU", "COUNTY_OFFICER", "TASK_FORCE", "ANALYST")
# mutation → role → (own county, other county); "own" is the county officer's county (A).
# City-level roles have no county: both columns are the same object kinds in A and B.
EXPECTED: dict[str, dict[str, tuple[bool, bool]]] = {
    "createProject": {
        "CITY_ADMIN": (True, True),
        "LAND_BUREAU": (False, False),
        "COUNTY_OFFICER": (True, False),
        "TASK_FORCE": (False, False),
        "ANALYST": (False, False),
    },
    "updateProject": {
        "CITY_ADMIN": (True, True),
        "LAND_BUREAU": (False, False),
        "COUNTY_OFFICER": (True, False),
        "TASK_FORCE": (False, False),
        "ANALYST": (False, False),
    },
    "setProjectKeyList": {
        "CITY_ADMIN": (True, True),
        "LAND_BUREAU": (False, False),
        "COUNTY_OFFICER": (False, False),
        "TASK_FORCE": (False, False),
        "ANALYST": (False, False),
    },
    "linkParcel": {
        "CITY_ADMIN": (True, True),
        "LAND_BUREAU": (True, True),
        "COUNTY_OFFICER": (True, False),
        "TASK_FORCE": (False, False),
        "ANALYST": (False, False),
    },
    "unlinkParcel": {
        "CITY_ADMIN": (True, True),
        "LAND_BUREAU": (True, True),
        "COUNTY_OFFICER": (True, False),
        "TASK_FORCE": (False, False),
        "ANALYST": (False, False),
    },
    "createApprovalItem": {
        "CITY_ADMIN": (True, True),
        "LAND_BUREAU": (False, False),
        "COUNTY_OFFICER": (True, False),
        "TASK_FORCE": (True, True),
        "ANALYST": (False, False),
    },
    "updateApprovalItem": {
        "CITY_ADMIN": (True, True),
        "LAND_BUREAU": (False, False),
        "COUNTY_OFFICER": (True, False),
        "TASK_FORCE": (True, True),
        "ANALYST": (False, False),
    },
}
AUDIT_TABLE = {
    "createProject": "project",
    "updateProject": "project",
    "setProjectKeyList": "project",
    "linkParcel": "project_parcel",
    "unlinkParcel": "project_parcel",
    "createApprovalItem": "approval_item",
    "updateApprovalItem": "approval_item",
}


class Matrix:
    """Builds one call per (mutation, county) against the demo objects, preparing the
    state it needs (a free parcel to link, a linked one to unlink) as the owner first."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.demo = {A: demo_objects(api, A), B: demo_objects(api, B)}
        self.serial = itertools.count(1)

    def _ensure_link(self, county: str, linked: bool) -> None:
        d = self.demo[county]
        self.api.run(
            "UPDATE project_parcel SET unlinked_on = linked_on, unlink_reason = 'matrix setup'"
            " WHERE unlinked_on IS NULL AND parcel_id = (SELECT id FROM parcel WHERE code = :c)",
            c=d.parcel,
        )
        if linked:
            self.api.run(
                "INSERT INTO project_parcel (project_id, parcel_id, linked_on)"
                " SELECT pr.id, pa.id, :d FROM project pr, parcel pa WHERE pr.code = :p AND pa.code = :c",
                p=d.project,
                c=d.parcel,
                d=TODAY - dt.timedelta(days=30),
            )

    def call(self, mutation: str, county: str) -> tuple[str, dict[str, Any], str]:
        """(query, input, audited object code) for one case."""
        d, n, api = self.demo[county], next(self.serial), self.api
        if mutation == "createProject":
            code = f"MATRIX-{county}-{n}"
            return CREATE, new_project_input(code, county), code
        if mutation == "updateProject":
            v = version_of(api, "project", d.project)
            return UPDATE, {"code": d.project, "version": v, "progressTarget": f"m{n}"}, d.project
        if mutation == "setProjectKeyList":
            v = version_of(api, "project", d.project)
            data = {
                "code": d.project,
                "version": v,
                "isKey": True,
                "keyListYear": 2026,
                "categories": ["CITY_COUNTY_KEY"],
            }
            return SET_KEY, data, d.project
        if mutation == "linkParcel":
            self._ensure_link(county, linked=False)
            data = {
                "projectCode": d.other_project,
                "parcelCode": d.parcel,
                "linkedOn": TODAY.isoformat(),
            }
            return LINK, data, d.other_project
        if mutation == "unlinkParcel":
            self._ensure_link(county, linked=True)
            data = {
                "projectCode": d.project,
                "parcelCode": d.parcel,
                "unlinkedOn": TODAY.isoformat(),
                "reason": f"m{n}",
            }
            return UNLINK, data, d.project
        if mutation == "createApprovalItem":
            code = f"MATRIX-ITEM-{county}-{n}"
            data = {
                "projectCode": d.project,
                "code": code,
                "itemType": "OTHER",
                "name": "事项",
                "handlingLevel": "COUNTY",
            }
            return CREATE_ITEM, data, code
        v = version_of(api, "approval_item", d.item)
        return UPDATE_ITEM, {"code": d.item, "version": v, "measures": f"m{n}"}, d.item


async def test_role_county_mutation_matrix(api: Api) -> None:
    matrix = Matrix(api)
    seen: dict[str, dict[str, tuple[bool, bool]]] = {}
    for mutation in EXPECTED:
        seen[mutation] = {}
        for role in ROLES:
            outcome = []
            for county in (A, B):
                sub = f"m-{role.lower()}"
                token = api.token(role, A if role == "COUNTY_OFFICER" else None, sub=sub)
                query, data, object_code = matrix.call(mutation, county)
                counts, fingerprint, since = api.counts(), api.versions(), max_audit(api)
                payload = await api.mutate(
                    query, data, token, request_id=f"{mutation}-{role}-{county}"
                )
                allowed = not payload["errors"]
                outcome.append(allowed)
                if allowed:
                    rows = audit_rows(api, AUDIT_TABLE[mutation], object_code, since)
                    assert [
                        (r.actor_sub, r.actor_role, r.county_code, r.request_id) for r in rows
                    ] == [(sub, role, county, f"{mutation}-{role}-{county}")], (
                        mutation,
                        role,
                        county,
                    )
                    assert api.counts()["audit_log"] == counts["audit_log"] + 1
                else:
                    assert [(e["__typename"], e["code"]) for e in payload["errors"]] == [
                        ("ForbiddenError", "FORBIDDEN")
                    ], (mutation, role, county, payload)
                    assert api.counts() == counts and api.versions() == fingerprint
            seen[mutation][role] = (outcome[0], outcome[1])
    assert seen == EXPECTED


async def test_anonymous_callers_write_nothing(api: Api) -> None:
    matrix = Matrix(api)
    for mutation in EXPECTED:
        query, data, _ = matrix.call(mutation, A)
        counts, fingerprint = api.counts(), api.versions()
        payload = await api.mutate(query, data, None)
        assert [(e["__typename"], e["code"]) for e in payload["errors"]] == [
            ("ForbiddenError", "UNAUTHENTICATED")
        ], mutation
        assert api.counts() == counts and api.versions() == fingerprint


async def test_cross_county_probes_change_nothing(api: Api) -> None:
    """A county officer of A aims at B's objects by code: refused, B's rows untouched."""
    d = demo_objects(api, B)
    token = officer(api, A)
    before = api.one(
        "SELECT p.version, p.name, p.progress_target, i.version AS iv, i.measures"
        " FROM project p JOIN approval_item i ON i.project_id = p.id WHERE p.code = :p AND i.code = :i",
        p=d.project,
        i=d.item,
    )
    counts = api.counts()
    probes = [
        (UPDATE, {"code": d.project, "version": before.version, "name": "劫持"}),
        (
            UPDATE,
            {"code": d.project, "version": before.version, "stage": "COMPLETED", "stageNote": "x"},
        ),
        (SET_KEY, {"code": d.project, "version": before.version, "isKey": False}),
        (
            UNLINK,
            {
                "projectCode": d.project,
                "parcelCode": d.parcel,
                "unlinkedOn": TODAY.isoformat(),
                "reason": "x",
            },
        ),
        (
            LINK,
            {
                "projectCode": demo_objects(api, A).project,
                "parcelCode": d.parcel,
                "linkedOn": TODAY.isoformat(),
            },
        ),
        (UPDATE_ITEM, {"code": d.item, "version": before.iv, "measures": "劫持"}),
        (
            CREATE_ITEM,
            {"projectCode": d.project, "itemType": "OTHER", "name": "x", "handlingLevel": "COUNTY"},
        ),
    ]
    for query, data in probes:
        payload = await api.mutate(query, data, token)
        assert [e["code"] for e in payload["errors"]] == ["FORBIDDEN"], (query, payload)
    assert api.counts() == counts
    after = api.one(
        "SELECT p.version, p.name, p.progress_target, i.version AS iv, i.measures"
        " FROM project p JOIN approval_item i ON i.project_id = p.id WHERE p.code = :p AND i.code = :i",
        p=d.project,
        i=d.item,
    )
    assert tuple(after) == tuple(before)


# ================================================================ auditTrail


async def test_audit_trail_for_admins_only_newest_first_paged(api: Api) -> None:
    code = api.scalar("SELECT code FROM project WHERE county_code = :c ORDER BY code LIMIT 1", c=A)
    for n in range(3):
        v = version_of(api, "project", code)
        r = await api.mutate(
            UPDATE,
            {"code": code, "version": v, "progressTarget": f"第{n}次"},
            officer(api),
            request_id=f"rq-{n}",
        )
        assert r["errors"] == []
    expected = api.scalar(
        "SELECT count(*) FROM audit_log WHERE table_name = 'project' AND object_code = :c", c=code
    )
    assert expected >= 3

    body = await api.call(TRAIL, {"t": "PROJECT", "c": code, "f": 2}, token=admin(api))
    assert "errors" not in body, body
    trail = body["data"]["auditTrail"]
    assert trail["totalCount"] == expected
    assert trail["pageInfo"]["hasNextPage"] is True
    first, second = (e["node"] for e in trail["edges"])
    assert (first["requestId"], second["requestId"]) == ("rq-2", "rq-1")
    assert first["action"] == "UPDATE" and first["actorSub"] == "officer-140521"
    assert (first["actorRole"], first["countyCode"], first["objectCode"]) == (
        "COUNTY_OFFICER",
        A,
        code,
    )
    assert first["changedFields"] == ["progress_target"]
    assert (first["before"]["progress_target"], first["after"]["progress_target"]) == (
        "第1次",
        "第2次",
    )
    assert first["after"]["version"] == first["before"]["version"] + 1
    assert first["occurredAt"] >= second["occurredAt"]
    rest = await api.call(
        TRAIL,
        {"t": "PROJECT", "c": code, "f": 100, "a": trail["pageInfo"]["endCursor"]},
        token=admin(api),
    )
    nodes = [e["node"] for e in rest["data"]["auditTrail"]["edges"]]
    assert len(nodes) == expected - 2 and nodes[0]["requestId"] == "rq-0"
    assert rest["data"]["auditTrail"]["pageInfo"]["hasNextPage"] is False

    # the cost estimate counts the row images (schema/cost.py: AuditEntry.before/after)
    cost_body = await api.call(TRAIL, {"t": "PROJECT", "c": code, "f": 2}, token=admin(api))
    # connection 1 + totalCount 1 + pageInfo 1 + 2 edges + 2 nodes + 2 × (before, after)
    assert cost_body["extensions"]["cost"]["estimated"] == 1 + 1 + 1 + 2 + 2 + 2 * 2

    too_big = await api.call(TRAIL, {"t": "PROJECT", "c": code, "f": 501}, token=admin(api))
    assert [e["extensions"]["code"] for e in too_big["errors"]] == ["PAGE_TOO_LARGE"]
    bad_cursor = await api.call(
        TRAIL, {"t": "PROJECT", "c": code, "a": "bm9wZQ=="}, token=admin(api)
    )
    assert [e["extensions"]["code"] for e in bad_cursor["errors"]] == ["INVALID_CURSOR"]

    for role, county in (
        ("LAND_BUREAU", None),
        ("COUNTY_OFFICER", A),
        ("TASK_FORCE", None),
        ("ANALYST", None),
    ):
        refused = await api.call(TRAIL, {"t": "PROJECT", "c": code}, token=api.token(role, county))
        assert refused["data"] == {"auditTrail": None}
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"], role
    anonymous = await api.call(TRAIL, {"t": "PROJECT", "c": code})
    assert anonymous["data"] == {"auditTrail": None}
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]


async def test_audit_trail_of_links_and_items(api: Api) -> None:
    demo = demo_objects(api, A)
    un = await api.mutate(
        UNLINK,
        {
            "projectCode": demo.project,
            "parcelCode": demo.parcel,
            "unlinkedOn": TODAY.isoformat(),
            "reason": "核减",
        },
        officer(api),
    )
    assert un["errors"] == []
    body = await api.call(
        TRAIL, {"t": "PROJECT_PARCEL", "c": demo.project, "f": 1}, token=admin(api)
    )
    (edge,) = body["data"]["auditTrail"]["edges"]
    assert edge["node"]["changedFields"] == ["unlink_reason", "unlinked_on"]
    assert edge["node"]["after"]["parcel_code"] == demo.parcel
    body = await api.call(TRAIL, {"t": "APPROVAL_ITEM", "c": "NO-SUCH-ITEM"}, token=admin(api))
    assert (
        body["data"]["auditTrail"]["edges"] == [] and body["data"]["auditTrail"]["totalCount"] == 0
    )


async def test_readme_mutation_example_runs(api: Api) -> None:
    """README "Writing (mutations)": the curl body, sent as written, succeeds."""
    import json
    import re

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Projects, parcel links and approval items", 1)[1]
    body = json.loads(re.search(r"-d '(\{.*?\})'\n```", section, re.S).group(1))  # type: ignore[union-attr]
    response = await api.client.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {officer(api)}"}
    )
    payload = response.json()["data"]["updateProject"]
    assert payload == {
        "project": {"code": "2310-140521-48-03-419428", "stage": "PROCEDURES", "version": 2},
        "errors": [],
    }


async def test_database_refusals_come_back_as_the_same_typed_errors(fresh_db_url: str) -> None:
    """Past the Python pre-checks the database still refuses, and geo/writes reports it the
    same way: row-level security (API role, county A bound, row of county B) → FORBIDDEN;
    a duplicate code that raced the pre-check → DUPLICATE_CODE."""
    from decimal import Decimal

    from sqlalchemy.ext.asyncio import AsyncSession

    from geo.actor import API_DB_ROLE
    from geo.db import create_engine as create_api_engine
    from geo.enums import PlanType, ProjectStage
    from geo.writes import projects
    from geo.writes.project_errors import DuplicateCode, Forbidden

    def values() -> projects.ProjectValues:
        return projects.ProjectValues(
            name="RLS",
            plan_type=PlanType.PRE_STAGE,
            stage=ProjectStage.FILING,
            total_investment=Decimal("10.00"),
        )

    engine = create_api_engine(fresh_db_url, role=API_DB_ROLE)
    sync = create_engine(sync_url(fresh_db_url))
    officer_a = Actor(sub="rls", role=Role.COUNTY_OFFICER, counties=frozenset({A}))
    city = Actor(sub="race", role=Role.CITY_ADMIN)
    common = {"stage_date": TODAY, "today": TODAY}
    try:
        async with AsyncSession(engine) as s, s.begin():
            await bind_actor(s, officer_a)
            with pytest.raises(Forbidden) as refused:
                await projects.create_project(
                    s, code="RLS-B-1", county_code=B, values=values(), actor_sub="rls", **common
                )
            assert refused.value.code == "FORBIDDEN"
        async with AsyncSession(engine) as a, AsyncSession(engine) as b:
            await a.begin()
            await bind_actor(a, city)
            await projects.create_project(
                a, code="RACE-1", county_code=A, values=values(), actor_sub="race", **common
            )
            await b.begin()
            await bind_actor(b, city)
            racing = asyncio.create_task(
                projects.create_project(
                    b, code="RACE-1", county_code=A, values=values(), actor_sub="race", **common
                )
            )
            await blocked_on_a_lock(sync)
            assert not racing.done()  # waiting on A's unique index entry
            await a.commit()
            with pytest.raises(DuplicateCode):
                await racing
            await b.rollback()
    finally:
        await engine.dispose()
        sync.dispose()


async def test_create_project_in_the_development_zone(api: Api) -> None:
    data = new_project_input("2611-140502-44-01-000009", county="140502", devZoneCode="140571")
    payload = await api.mutate(CREATE, data, api.token("COUNTY_OFFICER", "140502"))
    assert payload["errors"] == []
    row = api.one("SELECT county_code, dev_zone_code FROM project WHERE code = :c", c=data["code"])
    assert tuple(row) == ("140502", "140571")
