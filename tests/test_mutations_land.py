"""Parcel and quota mutations (schema/mutations_land.py) through the real app and PostGIS.

Each writing test gets its own clone of the demo database and an app with a dev key and
`LANDGUARD_REFERENCE_DATE` 2024-11-30 (the demo set is a 2024 snapshot). Expected numbers
are worked out by hand (squares built in Gauss-Krüger metres) or by an independent SQL
query on the database the app wrote; every refusal is checked to have changed nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import shapely
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from api.settings import AuthSettings
from geo.actor import API_DB_ROLE, Actor, Role, bind_actor
from geo.db import create_engine as create_async_engine
from geo.db import session_factory
from geo.enums import LandClass
from geo.geometry_input import parse_geometry
from geo.writes import parcels as parcel_writes
from geo.writes.refusals import GeometryRefused, OverlapRefused, WriteRefused
from tests.geometry_corpus import (
    BASE_LAT,
    BASE_LON,
    BadGeometry,
    StoredParcel,
    overlap_cases,
    static_cases,
)
from tests.test_auth import Running, claims, dev_sign, start

REF = dt.date(2024, 11, 30)
SIX = ["140502", "140521", "140522", "140524", "140525", "140581"]
M2_PER_MU = 10000 / 15

# Quiet spots (no demo parcel within ~3 km, county boundary ≥ 3 km away), EPSG:4490.
GOOD_SPOT = (112.55, 35.95)  # 沁水县 140521, east of 112.5°E: Gauss-Krüger zone EPSG:4547
CORPUS_SPOT = (112.25, 35.85)  # 沁水县 140521, zone EPSG:4546
RACE_SPOT = (112.10, 35.75)  # 沁水县 140521
SPOT_525 = (113.05, 35.55)  # 泽州县 140525
ACTIVE_PROJECT_521 = "2007-140521-44-01-338032"  # IN_PROGRESS in the demo set

ERR = """
fragment E on UserError {
  __typename code message field
  ... on GeometryError { reason location }
  ... on ParcelOverlapError { otherParcelCode sharedAreaM2 sharedAreaMu }
  ... on InsufficientQuotaError { holderCode year kind balanceM2 requestedM2 }
  ... on StaleVersionError { sentVersion currentVersion }
  ... on InvalidTransitionError { fromStatus toStatus allowed }
  ... on ForbiddenError { action countyCode }
  ... on NotFoundError { objectType key }
}
"""
PARCEL = """
fragment P on Parcel {
  code version areaM2 areaMu areaHa gkZoneSrid newConstructionAreaM2 procedureStatus
  statusDate supplyMethod county { code }
}
"""
CREATE = (
    ERR
    + PARCEL
    + "mutation($input: CreateParcelInput!) { createParcel(input: $input) "
    + "{ parcel { ...P } errors { ...E } } }"
)
UPDATE = (
    ERR
    + PARCEL
    + "mutation($input: UpdateParcelInput!) { updateParcel(input: $input) "
    + "{ parcel { ...P } errors { ...E } } }"
)
STATUS = (
    ERR
    + PARCEL
    + "mutation($input: ChangeParcelStatusInput!) { changeParcelStatus(input: $input) "
    + "{ parcel { ...P } errors { ...E } } }"
)
QUOTA = "year holderCode kind allocated { m2 } fromPool { m2 } balance { m2 } entryCount"
ALLOCATE = (
    ERR
    + "mutation($input: AllocateQuotaInput!) { allocateQuota(input: $input) "
    + f"{{ quota {{ {QUOTA} }} errors {{ ...E }} }} }}"
)
TRANSFER = (
    ERR
    + "mutation($input: TransferQuotaFromPoolInput!) { transferQuotaFromPool(input: $input) "
    + f"{{ transferId pool {{ {QUOTA} }} county {{ {QUOTA} }} errors {{ ...E }} }} }}"
)
GUARANTEE = """query($c: String!) { landGuarantee(year: 2024, countyCode: $c) {
  demand { total { m2 } } quotaRemainingHa quotaUsedHa quotaFromPoolHa } }"""


# --------------------------------------------------------------------------- harness


@dataclass
class Land:
    running: Running
    key: Path
    db: Engine

    def token(self, role: str, county: str | None = None, sub: str = "tester") -> str:
        return dev_sign(
            self.key,
            claims(sub=sub, landguard_role=role, counties=[county] if county else None),
        )

    async def gql(
        self, query: str, variables: dict[str, Any], token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.running.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text[:500]
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def admin(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await self.gql(query, variables, self.token("CITY_ADMIN", sub="admin"))

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.db.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.db.connect() as conn:
            return list(conn.execute(text(sql), params).all())

    def counts(self) -> dict[str, int]:
        """What a refused write must leave untouched."""
        return {
            t: int(self.scalar(f"SELECT count(*) FROM {t}"))
            for t in ("parcel", "parcel_status_event", "land_quota_entry", "audit_log")
        } | {
            "parcel_versions": int(self.scalar("SELECT coalesce(sum(version), 0) FROM parcel")),
            "balance_cents": int(
                self.scalar("SELECT coalesce(sum(balance_m2 * 100), 0) FROM land_quota_balance")
            ),
        }

    def last_audit_id(self) -> int:
        return int(self.scalar("SELECT coalesce(max(id), 0) FROM audit_log"))

    def audit_since(self, after: int) -> list[Any]:
        return self.rows(
            "SELECT table_name, action, object_code, actor_sub, actor_role, county_code "
            "FROM audit_log WHERE id > :a ORDER BY id",
            a=after,
        )


@pytest.fixture(scope="module")
def key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "dev.pem"


@pytest.fixture
async def land(fresh_db_url: str, key_path: Path) -> AsyncIterator[Land]:
    db = create_engine(fresh_db_url)
    try:
        async with start(
            fresh_db_url, auth=AuthSettings(dev_key_path=key_path), reference_date=REF
        ) as running:
            yield Land(running, key_path, db)
    finally:
        db.dispose()


def payload(data: dict[str, Any]) -> dict[str, Any]:
    (only,) = data.values()
    result: dict[str, Any] = only
    return result


def error_of(data: dict[str, Any]) -> dict[str, Any]:
    body = payload(data)
    assert len(body["errors"]) == 1, body
    err: dict[str, Any] = body["errors"][0]
    return err


def ok(data: dict[str, Any]) -> dict[str, Any]:
    body = payload(data)
    assert body["errors"] == [], body["errors"]
    return body


def gk_square(
    db: Engine, spot: tuple[float, float], srid: int, dx: float, dy: float, side: float
) -> str:
    """WKT (EPSG:4490) of a square of `side` metres, built in Gauss-Krüger zone `srid`
    metres, its south-west corner `dx`, `dy` metres from the spot rounded to whole metres."""
    with db.connect() as conn:
        x0, y0 = conn.execute(
            text(
                "SELECT round(ST_X(p)), round(ST_Y(p)) FROM (SELECT ST_Transform("
                "ST_SetSRID(ST_Point(:lon, :lat), 4490), :srid) AS p) s"
            ),
            {"lon": spot[0], "lat": spot[1], "srid": srid},
        ).one()
        wkt: str = conn.execute(
            text(
                "SELECT ST_AsText(ST_Transform(ST_MakeEnvelope(:x0, :y0, :x1, :y1, :srid), 4490), 15)"
            ),
            {
                "x0": float(x0) + dx,
                "y0": float(y0) + dy,
                "x1": float(x0) + dx + side,
                "y1": float(y0) + dy + side,
                "srid": srid,
            },
        ).scalar_one()
    return wkt


def parcel_input(code: str, wkt: str, county: str = "140521", **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "countyCode": county,
        "landClass": "FARMLAND",
        "geometry": {"wkt": wkt},
        "name": f"测试地块 {code}",
        **extra,
    }


# --------------------------------------------------------------------------- corpus


DX, DY = CORPUS_SPOT[0] - BASE_LON, CORPUS_SPOT[1] - BASE_LAT
_NUMBER = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")


def _shift(wkt: str) -> str:
    """Move the corpus's shapes (built around 112.05, 35.95, outside Jincheng) to a quiet
    spot of 沁水县, so the fault each case carries is the one refused (not the county)."""

    def move(m: re.Match[str]) -> str:
        v = float(m.group(0))
        if 111.95 < v < 112.2:
            return repr(v + DX)
        if 35.9 < v < 36.05:
            return repr(v + DY)
        return m.group(0)

    return _NUMBER.sub(move, wkt)


def _ewkb_to_ewkt(hexed: str) -> str:
    """The corpus's hex EWKB (one polygon, or none) as EWKT with the same rings, unclosed
    or non-finite as they are: the API takes GeoJSON, WKT and EWKT, not WKB."""
    raw = bytes.fromhex(hexed)
    _, _, srid, parts = struct.unpack_from("<BIII", raw, 0)
    if parts == 0:
        return f"SRID={srid};MULTIPOLYGON EMPTY"
    offset = 13 + 9
    (nrings,) = struct.unpack_from("<I", raw, offset - 4)
    rings = []
    for _ in range(nrings):
        (n,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        pts = [struct.unpack_from("<dd", raw, offset + 16 * i) for i in range(n)]
        offset += 16 * n
        rings.append("(" + ", ".join(f"{x!r} {y!r}" for x, y in pts) + ")")
    return f"SRID={srid};MULTIPOLYGON((" + ", ".join(rings) + "))"


def corpus_input(case: BadGeometry) -> dict[str, Any]:
    literal = case.literal
    if not re.match(r"^[A-Z]", literal) or re.match(r"^[0-9A-F]+$", literal):
        literal = _ewkb_to_ewkt(literal)
    if case.family not in ("outside Jincheng", "wrong SRID") or "4326" in case.name:
        literal = _shift(literal)
    if literal.startswith("SRID="):
        return {"ewkt": literal}
    return {"wkt": literal}  # no SRID: the API's default, EPSG:4490


INVALID_WKT_NAMES = ("WKT ring of 2 points", "WKT unclosed ring", "EWKB unclosed ring")


def expected_code(case: BadGeometry) -> str:
    """The API's code for each corpus case (geo.geometry_input first, then PostGIS)."""
    family, name = case.family, case.name
    if family in (
        "bow-tie",
        "self-touching ring",
        "spike",
        "bad hole",
        "overlapping parts",
        "zero-area ring",
        "non-finite",
        "below 1 m²",
    ):
        return "INVALID_GEOMETRY"
    if family in ("too-short ring", "unclosed ring"):
        return "INVALID_WKT" if name.startswith(INVALID_WKT_NAMES) else "INVALID_GEOMETRY"
    if family == "outside Jincheng":
        return "COORDINATE_OUT_OF_RANGE"
    if family == "wrong SRID":
        return "COORDINATE_OUT_OF_RANGE" if name.startswith("no SRID") else "UNSUPPORTED_SRID"
    if family == "Z/M":
        return "UNSUPPORTED_GEOMETRY_TYPE" if name == "3-D point" else "NOT_2D"
    if family == "wrong type":
        if name == "GEOMETRYCOLLECTION EMPTY":
            return "EMPTY_GEOMETRY"
        if name in ("TRIANGLE", "TIN", "POLYHEDRALSURFACE"):
            return "INVALID_WKT"  # GEOS's WKT reader does not know them
        return "UNSUPPORTED_GEOMETRY_TYPE"
    if family == "empty":
        return "EMPTY_GEOMETRY"
    if family == "too many vertices":
        return "TOO_MANY_VERTICES"
    raise AssertionError(f"no expected code for {family}: {name}")


ACCEPTED_BY_API = {"SRID 4326 on a 4490 column", "POLYGON (not multi)"}
"""Not bad input for the API: 4326 is transformed, a Polygon promoted (checked below)."""


def isolated_demo_parcels(db: Engine, n: int) -> list[StoredParcel]:
    """Demo parcels with no other parcel within 600 m and ≥ 2 km inside their county, so a
    1.5× enlargement overlaps only them and stays in the county."""
    rows = db.connect().execute(
        text(
            """
            SELECT p.code, p.county_code, ST_AsText(ST_ExteriorRing(ST_GeometryN(p.geom, 1)))
              FROM parcel p JOIN admin_area a ON a.code = p.county_code
             WHERE ST_NumGeometries(p.geom) = 1 AND ST_NumInteriorRings(ST_GeometryN(p.geom, 1)) = 0
               AND NOT EXISTS (SELECT 1 FROM parcel q WHERE q.id <> p.id
                                  AND ST_DWithin(q.geom::geography, p.geom::geography, 600))
               AND ST_Distance(ST_Boundary(a.geom)::geography, p.geom::geography) > 2000
               AND ST_Equals(ST_ConvexHull(p.geom), ST_GeometryN(p.geom, 1))
             ORDER BY p.code LIMIT :n
            """
        ),
        {"n": n},
    )
    out = []
    for code, county, ring in rows:
        coords = list(shapely.from_wkt(ring).coords)
        out.append(StoredParcel(code, county, [(float(x), float(y)) for x, y in coords]))
    assert len(out) == n
    return out


async def test_bad_geometry_corpus_refused_through_create_parcel(land: Land) -> None:
    cases = [c for c in static_cases() if c.name not in ACCEPTED_BY_API]
    stored = isolated_demo_parcels(land.db, 3)
    others = {p.code: next(c for c in SIX if c != p.county_code) for p in stored}
    overlaps = [case for p in stored for case in overlap_cases([p], others[p.code])]
    assert len(cases) + len(overlaps) >= 100
    before = land.counts()
    seen: dict[str, int] = {}
    for i, case in enumerate(cases):
        variables = {"input": parcel_input(f"BAD-{i:03d}", "", **{})}
        variables["input"]["geometry"] = corpus_input(case)
        response = await land.running.client.post(
            "/graphql",
            json={"query": CREATE, "variables": variables},
            headers={"Authorization": f"Bearer {land.token('LAND_BUREAU')}"},
        )
        want = expected_code(case)
        if response.status_code == 413:
            # megabytes of WKT: the body limit (1 MiB) answers before any parsing or SQL
            assert len(response.request.content) > 1024 * 1024, case.name
            assert want == "TOO_MANY_VERTICES", case.name
            code = want = response.json()["errors"][0]["extensions"]["code"]
            assert code == "REQUEST_TOO_LARGE"
        else:
            assert response.status_code == 200, (case.name, response.text[:300])
            body = response.json()
            assert "errors" not in body, (case.name, body)
            err = error_of(body["data"])
            assert err["__typename"] == "GeometryError", (case.name, err)
            assert err["field"] == ["input", "geometry"], (case.name, err)
            assert err["reason"], case.name
            code = err["code"]
        assert code == want, (case.name, case.family, code)
        seen[code] = seen.get(code, 0) + 1
    for i, case in enumerate(overlaps):
        ring_wkt = case.literal.split(";", 1)[1]
        data = await land.gql(
            CREATE,
            {"input": parcel_input(f"OVL-{i:03d}", ring_wkt, county=case.county_code)},
            land.token("CITY_ADMIN"),
        )
        err = error_of(data)
        if case.family == "overlap across counties":
            assert err["code"] == "OUTSIDE_COUNTY", (case.name, err)
        else:
            target = case.name.rsplit(" of ", 1)[1]
            assert err["code"] == "PARCEL_OVERLAP", (case.name, err)
            assert err["otherParcelCode"] == target
            shared = land.scalar(
                "SELECT round(ST_Area(ST_Transform(ST_Intersection(g, p.geom), "
                "CASE WHEN ST_X(ST_Centroid(g)) < 112.5 THEN 4546 ELSE 4547 END))::numeric, 2) "
                "FROM parcel p, (SELECT ST_GeomFromText(:w, 4490) AS g) s WHERE p.code = :c",
                w=ring_wkt,
                c=target,
            )
            assert err["sharedAreaM2"] == pytest.approx(float(shared), abs=0.005)
            assert err["sharedAreaMu"] == pytest.approx(float(shared) / M2_PER_MU, abs=1e-4)
        seen[err["code"]] = seen.get(err["code"], 0) + 1
    assert land.counts() == before
    # 119 static cases and 21 overlaps, each answered with the code the table above gives
    assert seen == {
        "INVALID_GEOMETRY": 59,
        "COORDINATE_OUT_OF_RANGE": 20,
        "INVALID_WKT": 12,
        "UNSUPPORTED_GEOMETRY_TYPE": 10,
        "UNSUPPORTED_SRID": 5,
        "NOT_2D": 5,
        "EMPTY_GEOMETRY": 4,
        "TOO_MANY_VERTICES": 3,
        "REQUEST_TOO_LARGE": 1,
        "PARCEL_OVERLAP": 18,
        "OUTSIDE_COUNTY": 3,
    }

    # the two cases that are not bad input for the API: 4326 is transformed, a Polygon
    # promoted; both are the same 100 m square, so the second overlaps the first
    by_name = {c.name: c for c in static_cases()}
    first = ok(
        await land.gql(
            CREATE,
            {
                "input": parcel_input("WGS84-SQUARE", "")
                | {"geometry": corpus_input(by_name["SRID 4326 on a 4490 column"])}
            },
            land.token("LAND_BUREAU"),
        )
    )["parcel"]
    assert first["areaM2"] == pytest.approx(10_000, rel=0.01)
    second = error_of(
        await land.gql(
            CREATE,
            {
                "input": parcel_input("POLYGON-SQUARE", "")
                | {"geometry": corpus_input(by_name["POLYGON (not multi)"])}
            },
            land.token("LAND_BUREAU"),
        )
    )
    assert second["code"] == "PARCEL_OVERLAP"
    assert second["otherParcelCode"] == "WGS84-SQUARE"
    assert second["sharedAreaM2"] == pytest.approx(first["areaM2"], abs=0.01)


# --------------------------------------------------------------------------- good parcels


async def test_good_parcel_areas_4326_and_neighbours(land: Land) -> None:
    square = gk_square(land.db, GOOD_SPOT, 4547, 0, 0, 1000)
    after = land.last_audit_id()
    a = ok(await land.admin(CREATE, {"input": parcel_input("GOOD-A", square)}))["parcel"]
    # 1 km × 1 km in EPSG:4547 metres: 1,000,000 m² = 1,500 亩 = 100 公顷
    assert a["areaM2"] == pytest.approx(1_000_000, abs=0.01)
    assert a["areaMu"] == pytest.approx(1_500, abs=1e-5)
    assert a["areaHa"] == pytest.approx(100, abs=1e-6)
    assert a["gkZoneSrid"] == 4547
    assert a["newConstructionAreaM2"] == a["areaM2"]  # farmland: all of it is new construction
    assert (a["procedureStatus"], a["statusDate"], a["version"]) == ("DEMAND", str(REF), 1)
    assert a["county"]["code"] == "140521"
    independent = land.scalar(
        "SELECT ST_Area(ST_Transform(geom, 4547)) FROM parcel WHERE code = 'GOOD-A'"
    )
    assert a["areaM2"] == pytest.approx(independent, abs=1e-6)
    assert land.scalar(
        "SELECT GeometryType(geom) = 'MULTIPOLYGON' AND ST_IsPolygonCCW(geom) FROM parcel "
        "WHERE code = 'GOOD-A'"
    )
    assert land.audit_since(after) == [
        ("parcel", "INSERT", "GOOD-A", "admin", "CITY_ADMIN", "140521")
    ]
    assert land.rows(
        "SELECT e.status::text, e.occurred_on, e.actor FROM parcel_status_event e "
        "JOIN parcel p ON p.id = e.parcel_id WHERE p.code = 'GOOD-A'"
    ) == [("DEMAND", REF, "admin")]

    # the east neighbour, sharing A's east edge, given as GeoJSON in EPSG:4326
    east = gk_square(land.db, GOOD_SPOT, 4547, 1000, 0, 1000)
    east_shape = shapely.from_wkt(east)
    geojson = shapely.geometry.mapping(east_shape)
    b = ok(
        await land.admin(
            CREATE,
            {
                "input": parcel_input("GOOD-B", "")
                | {"geometry": {"geojson": geojson, "srid": 4326}, "landClass": "CONSTRUCTION"}
            },
        )
    )["parcel"]
    assert b["areaM2"] == pytest.approx(1_000_000, abs=0.01)
    assert b["newConstructionAreaM2"] == 0  # already construction land
    # 4326 input is stored exactly as the same coordinates given in 4490
    assert land.scalar(
        "SELECT ST_Equals(geom, ST_Multi(ST_GeomFromText(:w, 4490))) "
        "AND ST_HausdorffDistance(geom, ST_Multi(ST_GeomFromText(:w, 4490))) < 1e-12 "
        "FROM parcel WHERE code = 'GOOD-B'",
        w=east,
    )
    assert land.scalar(
        "SELECT ST_Touches(a.geom, b.geom) FROM parcel a, parcel b "
        "WHERE a.code = 'GOOD-A' AND b.code = 'GOOD-B'"
    )

    # overlapping A by 750 m × 600 m = 450,000 m² = 675 亩 (and B by 250 m × 600 m)
    before = land.counts()
    d = gk_square(land.db, GOOD_SPOT, 4547, 250, 400, 1000)
    err = error_of(await land.admin(CREATE, {"input": parcel_input("GOOD-D", d)}))
    assert err["__typename"] == "ParcelOverlapError"
    assert err["code"] == "PARCEL_OVERLAP" and err["otherParcelCode"] == "GOOD-A"
    assert err["sharedAreaM2"] == pytest.approx(450_000, abs=1.0)
    assert err["sharedAreaMu"] == pytest.approx(675, abs=0.002)
    assert land.counts() == before

    # the same code again, and a county that is not one of the six
    far = gk_square(land.db, GOOD_SPOT, 4547, 0, 2000, 500)
    dup = error_of(await land.admin(CREATE, {"input": parcel_input("GOOD-A", far)}))
    assert (dup["code"], dup["field"]) == ("DUPLICATE_CODE", ["input", "code"])
    zone = error_of(await land.admin(CREATE, {"input": parcel_input("X", far, county="140571")}))
    assert (zone["code"], zone["field"]) == ("BAD_USER_INPUT", ["input", "countyCode"])
    wrong = error_of(await land.admin(CREATE, {"input": parcel_input("X", far, county="140525")}))
    assert wrong["code"] == "OUTSIDE_COUNTY" and "140521" in wrong["message"]
    assert land.counts() == before


async def test_create_links_project_and_edge_cases(land: Land) -> None:
    wkt = gk_square(land.db, CORPUS_SPOT, 4546, 0, 0, 300)
    after = land.last_audit_id()
    data = await land.gql(
        CREATE,
        {"input": parcel_input("LINKED", wkt, projectCode=ACTIVE_PROJECT_521)},
        land.token("COUNTY_OFFICER", "140521", sub="officer-521"),
    )
    assert ok(data)["parcel"]["areaM2"] == pytest.approx(90_000, abs=0.01)
    assert (
        land.scalar(
            "SELECT pr.code FROM project_parcel pp JOIN project pr ON pr.id = pp.project_id "
            "JOIN parcel p ON p.id = pp.parcel_id WHERE p.code = 'LINKED' AND pp.unlinked_on IS NULL"
        )
        == ACTIVE_PROJECT_521
    )
    audit = land.audit_since(after)
    assert sorted(audit) == sorted(
        [
            ("parcel", "INSERT", "LINKED", "officer-521", "COUNTY_OFFICER", "140521"),
            (
                "project_parcel",
                "INSERT",
                ACTIVE_PROJECT_521,
                "officer-521",
                "COUNTY_OFFICER",
                "140521",
            ),
        ]
    )
    before = land.counts()
    other = gk_square(land.db, CORPUS_SPOT, 4546, 1000, 0, 300)
    missing = error_of(
        await land.admin(CREATE, {"input": parcel_input("NOPROJ", other, projectCode="NOPE")})
    )
    assert (missing["code"], missing["field"]) == ("NOT_FOUND", ["input", "projectCode"])
    two = error_of(
        await land.admin(
            CREATE, {"input": parcel_input("TWO", "") | {"geometry": {"wkt": other, "ewkt": other}}}
        )
    )
    assert two["code"] == "BAD_USER_INPUT"
    future = error_of(
        await land.admin(
            CREATE, {"input": parcel_input("FUT", other, registeredOn=str(REF + dt.timedelta(1)))}
        )
    )
    assert (future["code"], future["field"]) == ("BAD_USER_INPUT", ["input", "registeredOn"])
    assert land.counts() == before


# --------------------------------------------------------------------------- concurrency


async def test_fifty_concurrent_overlapping_creates(land: Land) -> None:
    token = land.token("LAND_BUREAU", sub="racer")
    shapes = [gk_square(land.db, RACE_SPOT, 4546, 2.0 * i, 1.0 * i, 200) for i in range(50)]
    after = land.last_audit_id()
    results = await asyncio.gather(
        *(
            land.gql(CREATE, {"input": parcel_input(f"RACE-{i:02d}", w)}, token)
            for i, w in enumerate(shapes)
        )
    )
    winners = [payload(r)["parcel"]["code"] for r in results if payload(r)["parcel"]]
    assert len(winners) == 1, winners
    losers = [error_of(r) for r in results if not payload(r)["parcel"]]
    assert len(losers) == 49
    assert {e["code"] for e in losers} == {"PARCEL_OVERLAP"}
    assert {e["otherParcelCode"] for e in losers} == {winners[0]}
    assert all(e["sharedAreaM2"] > 0 for e in losers)
    assert land.scalar("SELECT count(*) FROM parcel WHERE code LIKE 'RACE-%'") == 1
    assert (
        land.scalar(
            "SELECT count(*) FROM parcel a JOIN parcel b ON a.id < b.id "
            "AND ST_Relate(a.geom, b.geom, '2********')"
        )
        == 0
    )
    assert land.audit_since(after) == [
        ("parcel", "INSERT", winners[0], "racer", "LAND_BUREAU", "140521")
    ]


async def test_two_concurrent_updates_same_version(land: Land) -> None:
    wkt = gk_square(land.db, RACE_SPOT, 4546, 0, 1000, 200)
    ok(await land.admin(CREATE, {"input": parcel_input("EDIT", wkt)}))
    after = land.last_audit_id()
    token = land.token("LAND_BUREAU", sub="editor")
    moved = gk_square(land.db, RACE_SPOT, 4546, 50, 1000, 200)
    results = await asyncio.gather(
        land.gql(UPDATE, {"input": {"code": "EDIT", "version": 1, "name": "甲"}}, token),
        land.gql(
            UPDATE, {"input": {"code": "EDIT", "version": 1, "geometry": {"wkt": moved}}}, token
        ),
    )
    wins = [payload(r) for r in results if payload(r)["parcel"]]
    fails = [error_of(r) for r in results if not payload(r)["parcel"]]
    assert len(wins) == 1 and len(fails) == 1
    assert wins[0]["parcel"]["version"] == 2
    assert fails[0]["__typename"] == "StaleVersionError"
    assert (fails[0]["sentVersion"], fails[0]["currentVersion"]) == (1, 2)
    assert land.scalar("SELECT version FROM parcel WHERE code = 'EDIT'") == 2
    assert land.audit_since(after) == [
        ("parcel", "UPDATE", "EDIT", "editor", "LAND_BUREAU", "140521")
    ]
    # a stale version later, too: nothing changes
    before = land.counts()
    stale = error_of(
        await land.admin(UPDATE, {"input": {"code": "EDIT", "version": 1, "name": "乙"}})
    )
    assert stale["code"] == "STALE_VERSION" and stale["currentVersion"] == 2
    assert land.counts() == before


async def test_update_geometry_rules(land: Land) -> None:
    a = gk_square(land.db, RACE_SPOT, 4546, 0, 0, 200)
    b = gk_square(land.db, RACE_SPOT, 4546, 400, 0, 200)
    ok(await land.admin(CREATE, {"input": parcel_input("UA", a)}))
    ok(await land.admin(CREATE, {"input": parcel_input("UB", b)}))
    before = land.counts()
    # grow UA eastwards by 300 m: it would take 100 m × 200 m of UB
    wide = land.scalar(
        "SELECT ST_AsText(ST_Transform(ST_MakeEnvelope(ST_XMin(e), ST_YMin(e), ST_XMin(e) + 500, "
        "ST_YMax(e), 4546), 4490), 15) FROM (SELECT ST_Transform(ST_GeomFromText(:w, 4490), 4546) "
        "AS e) s",
        w=a,
    )
    err = error_of(
        await land.admin(UPDATE, {"input": {"code": "UA", "version": 1, "geometry": {"wkt": wide}}})
    )
    assert err["code"] == "PARCEL_OVERLAP" and err["otherParcelCode"] == "UB"
    assert err["sharedAreaM2"] == pytest.approx(20_000, abs=0.5)
    # an invalid outline is refused with reason and location, never repaired
    x0, y0, x1, y1 = shapely.from_wkt(a).bounds
    bow = f"POLYGON(({x0} {y0}, {x1} {y1}, {x1} {y0}, {x0} {y1}, {x0} {y0}))"
    bad = error_of(
        await land.admin(UPDATE, {"input": {"code": "UA", "version": 1, "geometry": {"wkt": bow}}})
    )
    assert bad["code"] == "INVALID_GEOMETRY" and "Self-intersection" in bad["reason"]
    assert bad["location"][0] == pytest.approx((x0 + x1) / 2, abs=1e-6)
    nothing = error_of(await land.admin(UPDATE, {"input": {"code": "UA", "version": 1}}))
    assert nothing["code"] == "BAD_USER_INPUT"
    supply = error_of(
        await land.admin(UPDATE, {"input": {"code": "UA", "version": 1, "supplyMethod": "AUCTION"}})
    )
    assert (supply["code"], supply["field"]) == ("BAD_USER_INPUT", ["input", "supplyMethod"])
    missing = error_of(
        await land.admin(UPDATE, {"input": {"code": "NOPE", "version": 1, "name": "x"}})
    )
    assert missing["code"] == "NOT_FOUND"
    # who may not edit parcels at all learns nothing about which codes exist
    probe = {"input": {"code": "NOPE", "version": 1, "name": "x"}}
    assert error_of(await land.gql(UPDATE, probe))["code"] == "UNAUTHENTICATED"
    assert error_of(await land.gql(UPDATE, probe, land.token("ANALYST")))["code"] == "FORBIDDEN"
    assert land.counts() == before
    # shrinking it (sharing UB's edge is fine) and changing the class move the area
    edge = land.scalar(
        "SELECT ST_AsText(ST_Transform(ST_MakeEnvelope(ST_XMin(e), ST_YMin(e), ST_XMin(e) + 400, "
        "ST_YMax(e), 4546), 4490), 15) FROM (SELECT ST_Transform(ST_GeomFromText(:w, 4490), 4546) "
        "AS e) s",
        w=a,
    )
    after = land.last_audit_id()
    done = ok(
        await land.admin(
            UPDATE,
            {
                "input": {
                    "code": "UA",
                    "version": 1,
                    "geometry": {"wkt": edge},
                    "landClass": "CONSTRUCTION",
                    "agreedStartDate": "2025-03-01",
                }
            },
        )
    )["parcel"]
    assert done["areaM2"] == pytest.approx(80_000, abs=0.01)
    assert done["newConstructionAreaM2"] == 0 and done["version"] == 2
    assert land.audit_since(after) == [("parcel", "UPDATE", "UA", "admin", "CITY_ADMIN", "140521")]


# --------------------------------------------------------------------------- status chain


async def _step(land: Land, code: str, status: str, on: str, **extra: Any) -> dict[str, Any]:
    version = land.scalar("SELECT version FROM parcel WHERE code = :c", c=code)
    return await land.gql(
        STATUS,
        {"input": {"code": code, "version": version, "status": status, "occurredOn": on, **extra}},
        land.token("LAND_BUREAU", sub="bureau"),
    )


def ledger_sum(land: Land, county: str, year: int = 2024) -> Decimal:
    return Decimal(
        land.scalar(
            "SELECT coalesce(sum(amount_m2), 0) FROM land_quota_entry WHERE year = :y "
            "AND holder_code = :h AND kind = 'NEW_CONSTRUCTION'",
            y=year,
            h=county,
        )
    )


async def test_status_chain_quota_and_guarantee(land: Land) -> None:
    # 2,300 m × 2,300 m = 5,290,000 m² of farmland: more than 沁水县's 2024 balance
    big = gk_square(land.db, CORPUS_SPOT, 4546, -1150, -1150, 2300)
    created = ok(
        await land.admin(
            CREATE,
            {
                "input": parcel_input(
                    "BIG", big, projectCode=ACTIVE_PROJECT_521, registeredOn="2024-11-01"
                )
            },
        )
    )["parcel"]
    area = Decimal(str(created["newConstructionAreaM2"])).quantize(Decimal("0.01"))
    assert float(area) == pytest.approx(5_290_000, abs=0.01)

    for status, on in (("PRE_REVIEWED", "2024-11-02"), ("DOSSIER_PREP", "2024-11-03")):
        assert ok(await _step(land, "BIG", status, on))["parcel"]["procedureStatus"] == status
    before = land.counts()
    skip = error_of(await _step(land, "BIG", "APPROVED_UNSUPPLIED", "2024-11-04"))
    assert skip["__typename"] == "InvalidTransitionError"
    assert (skip["fromStatus"], skip["toStatus"]) == ("DOSSIER_PREP", "APPROVED_UNSUPPLIED")
    assert skip["allowed"] == ["SUBMITTED", "DEMAND", "PRE_REVIEWED"]
    back = error_of(await _step(land, "BIG", "DEMAND", "2024-11-04"))
    assert back["code"] == "INVALID_TRANSITION" and "reason" in back["message"]
    blank = error_of(await _step(land, "BIG", "DEMAND", "2024-11-04", reason="  "))
    assert blank["code"] == "INVALID_TRANSITION"
    future = error_of(await _step(land, "BIG", "SUBMITTED", "2024-12-01"))
    assert (future["code"], future["field"]) == ("BAD_USER_INPUT", ["input", "occurredOn"])
    early = error_of(await _step(land, "BIG", "SUBMITTED", "2024-11-02"))
    assert (early["code"], early["field"]) == ("BAD_USER_INPUT", ["input", "occurredOn"])
    stale = error_of(
        await land.gql(
            STATUS,
            {
                "input": {
                    "code": "BIG",
                    "version": 1,
                    "status": "SUBMITTED",
                    "occurredOn": "2024-11-04",
                }
            },
            land.token("LAND_BUREAU"),
        )
    )
    assert stale["code"] == "STALE_VERSION"
    assert land.counts() == before
    # back with a reason is a step too (dated, with its reason), then forward again
    ok(await _step(land, "BIG", "PRE_REVIEWED", "2024-11-04", reason="材料退回补正"))
    assert (
        land.scalar(
            "SELECT e.reason FROM parcel_status_event e JOIN parcel p ON p.id = e.parcel_id "
            "WHERE p.code = 'BIG' ORDER BY e.id DESC LIMIT 1"
        )
        == "材料退回补正"
    )
    ok(await _step(land, "BIG", "DOSSIER_PREP", "2024-11-05"))
    ok(await _step(land, "BIG", "SUBMITTED", "2024-11-06"))

    g0 = (await land.admin(GUARANTEE, {"c": "140521"}))["landGuarantee"][0]
    county_before = ledger_sum(land, "140521")
    assert county_before < area  # 4,937,156.98 m² in the demo set

    before = land.counts()
    short = error_of(
        await _step(
            land, "BIG", "APPROVED_UNSUPPLIED", "2024-11-07", approvalDoc="晋政土〔2024〕1号"
        )
    )
    assert short["__typename"] == "InsufficientQuotaError"
    assert (short["holderCode"], short["year"], short["kind"]) == (
        "140521",
        2024,
        "NEW_CONSTRUCTION",
    )
    assert Decimal(str(short["balanceM2"])) == county_before
    assert Decimal(str(short["requestedM2"])) == area
    assert land.counts() == before  # status, events, ledger, balances and audit untouched
    assert (
        land.scalar("SELECT procedure_status::text FROM parcel WHERE code = 'BIG'") == "SUBMITTED"
    )

    # 400,000 m² from the city pool (720,000.01 m² in the demo set) covers it
    pool_before = ledger_sum(land, "140500")
    after = land.last_audit_id()
    moved = ok(
        await land.gql(
            TRANSFER,
            {
                "input": {
                    "year": 2024,
                    "countyCode": "140521",
                    "kind": "NEW_CONSTRUCTION",
                    "amountMu": "600",
                    "effectiveOn": "2024-11-07",
                    "reason": "重点项目调剂",
                    "documentNo": "晋自然资〔2024〕9号",
                }
            },
            land.token("LAND_BUREAU", sub="bureau"),
        )
    )
    assert moved["pool"]["balance"]["m2"] == pytest.approx(float(pool_before - 400_000), abs=0.001)
    assert moved["county"]["balance"]["m2"] == pytest.approx(
        float(county_before + 400_000), abs=0.001
    )
    audit = land.audit_since(after)
    assert sorted(audit) == sorted(
        [
            (
                "land_quota_entry",
                "INSERT",
                "2024/140500/NEW_CONSTRUCTION",
                "bureau",
                "LAND_BUREAU",
                "140500",
            ),
            (
                "land_quota_entry",
                "INSERT",
                "2024/140521/NEW_CONSTRUCTION",
                "bureau",
                "LAND_BUREAU",
                "140521",
            ),
        ]
    )
    g1 = (await land.admin(GUARANTEE, {"c": "140521"}))["landGuarantee"][0]
    assert g1["quotaRemainingHa"] - g0["quotaRemainingHa"] == pytest.approx(40, abs=1e-6)
    assert g1["demand"]["total"]["m2"] == pytest.approx(g0["demand"]["total"]["m2"], abs=1e-6)

    after = land.last_audit_id()
    approved = ok(
        await _step(
            land, "BIG", "APPROVED_UNSUPPLIED", "2024-11-07", approvalDoc="晋政土〔2024〕1号"
        )
    )["parcel"]
    assert approved["procedureStatus"] == "APPROVED_UNSUPPLIED"
    assert ledger_sum(land, "140521") == county_before + 400_000 - area
    assert (
        land.scalar(
            "SELECT balance_m2 FROM land_quota_balance WHERE year = 2024 AND holder_code = '140521' "
            "AND kind = 'NEW_CONSTRUCTION'"
        )
        == county_before + 400_000 - area
    )
    assert sorted(land.audit_since(after)) == sorted(
        [
            (
                "land_quota_entry",
                "INSERT",
                "2024/140521/NEW_CONSTRUCTION",
                "bureau",
                "LAND_BUREAU",
                "140521",
            ),
            ("parcel", "UPDATE", "BIG", "bureau", "LAND_BUREAU", "140521"),
        ]
    )
    g2 = (await land.admin(GUARANTEE, {"c": "140521"}))["landGuarantee"][0]
    assert g1["demand"]["total"]["m2"] - g2["demand"]["total"]["m2"] == pytest.approx(
        float(area), abs=0.01
    )
    assert g1["quotaRemainingHa"] - g2["quotaRemainingHa"] == pytest.approx(
        float(area) / 10_000, abs=1e-6
    )
    assert g2["quotaUsedHa"] - g1["quotaUsedHa"] == pytest.approx(float(area) / 10_000, abs=1e-6)

    # SUPPLIED needs a supply method; then back (with a reason) to the approval clears it
    nomethod = error_of(await _step(land, "BIG", "SUPPLIED", "2024-11-08"))
    assert (nomethod["code"], nomethod["field"]) == ("BAD_USER_INPUT", ["input", "supplyMethod"])
    supplied = ok(await _step(land, "BIG", "SUPPLIED", "2024-11-08", supplyMethod="LISTING"))
    assert supplied["parcel"]["supplyMethod"] == "LISTING"
    far_back = error_of(await _step(land, "BIG", "DOSSIER_PREP", "2024-11-09", reason="x"))
    assert far_back["allowed"] == ["LAND_PLANNING_PERMIT", "IDLE", "APPROVED_UNSUPPLIED"]
    undone = ok(
        await _step(land, "BIG", "APPROVED_UNSUPPLIED", "2024-11-09", reason="供地公告撤销")
    )
    assert undone["parcel"]["supplyMethod"] is None
    assert ledger_sum(land, "140521") == county_before + 400_000 - area  # no second debit

    # the withdrawal (撤回) back to the dossier credits exactly the debit back
    after = land.last_audit_id()
    withdrawn = ok(await _step(land, "BIG", "DOSSIER_PREP", "2024-11-10", reason="批复撤回"))
    assert withdrawn["parcel"]["procedureStatus"] == "DOSSIER_PREP"
    assert ledger_sum(land, "140521") == county_before + 400_000
    assert sorted(land.audit_since(after)) == sorted(
        [
            (
                "land_quota_entry",
                "INSERT",
                "2024/140521/NEW_CONSTRUCTION",
                "bureau",
                "LAND_BUREAU",
                "140521",
            ),
            ("parcel", "UPDATE", "BIG", "bureau", "LAND_BUREAU", "140521"),
        ]
    )
    g3 = (await land.admin(GUARANTEE, {"c": "140521"}))["landGuarantee"][0]
    assert g3["demand"]["total"]["m2"] == pytest.approx(g1["demand"]["total"]["m2"], abs=0.01)
    assert g3["quotaRemainingHa"] == pytest.approx(g1["quotaRemainingHa"], abs=1e-6)
    steps = land.rows(
        "SELECT e.status::text, e.occurred_on::text FROM parcel_status_event e "
        "JOIN parcel p ON p.id = e.parcel_id WHERE p.code = 'BIG' ORDER BY e.id"
    )
    assert [s for s, _ in steps] == [
        "DEMAND",
        "PRE_REVIEWED",
        "DOSSIER_PREP",
        "PRE_REVIEWED",
        "DOSSIER_PREP",
        "SUBMITTED",
        "APPROVED_UNSUPPLIED",
        "SUPPLIED",
        "APPROVED_UNSUPPLIED",
        "DOSSIER_PREP",
    ]


async def test_allocate_quota(land: Land) -> None:
    after = land.last_audit_id()
    data = await land.gql(
        ALLOCATE,
        {
            "input": {
                "year": 2025,
                "holderCode": "140525",
                "kind": "NEW_CONSTRUCTION",
                "amountMu": "1",
                "effectiveOn": "2024-11-30",
                "reason": "2025年度计划指标下达",
                "documentNo": "晋自然资〔2024〕10号",
            }
        },
        land.token("LAND_BUREAU", sub="bureau"),
    )
    quota = ok(data)["quota"]
    # 1 亩 = 10000/15 m² = 666.666… m², booked to the cent half-even: 666.67 m²
    assert (quota["year"], quota["holderCode"], quota["entryCount"]) == (2025, "140525", 1)
    assert quota["allocated"]["m2"] == 666.67 and quota["balance"]["m2"] == 666.67
    assert land.audit_since(after) == [
        (
            "land_quota_entry",
            "INSERT",
            "2025/140525/NEW_CONSTRUCTION",
            "bureau",
            "LAND_BUREAU",
            "140525",
        )
    ]
    before = land.counts()
    base = {
        "year": 2025,
        "holderCode": "140525",
        "kind": "NEW_CONSTRUCTION",
        "effectiveOn": "2024-11-30",
        "reason": "r",
        "documentNo": "d",
    }
    for bad, code in (
        ({"amountM2": "1.001"}, "BAD_USER_INPUT"),
        ({"amountM2": "-5"}, "BAD_USER_INPUT"),
        ({"amountM2": "5", "amountMu": "1"}, "BAD_USER_INPUT"),
        ({}, "BAD_USER_INPUT"),
        ({"amountM2": "5", "year": 1999}, "BAD_USER_INPUT"),
        ({"amountM2": "5", "reason": " "}, "BAD_USER_INPUT"),
        ({"amountM2": "5", "holderCode": "999999"}, "NOT_FOUND"),
    ):
        err = error_of(await land.admin(ALLOCATE, {"input": base | bad}))
        assert err["code"] == code, (bad, err)
    pool_short = error_of(
        await land.admin(
            TRANSFER,
            {
                "input": {
                    "year": 2024,
                    "countyCode": "140522",
                    "kind": "NEW_CONSTRUCTION",
                    "amountM2": "720000.02",
                    "effectiveOn": "2024-11-30",
                    "reason": "r",
                    "documentNo": "d",
                }
            },
        )
    )
    assert pool_short["code"] == "INSUFFICIENT_QUOTA"
    assert (pool_short["holderCode"], pool_short["balanceM2"], pool_short["requestedM2"]) == (
        "140500",
        720000.01,
        720000.02,
    )
    assert land.counts() == before


# --------------------------------------------------------------------------- permissions

ROLES: dict[str, tuple[str | None, str | None]] = {
    "anonymous": (None, None),
    "CITY_ADMIN": ("CITY_ADMIN", None),
    "LAND_BUREAU": ("LAND_BUREAU", None),
    "COUNTY_OFFICER 140521": ("COUNTY_OFFICER", "140521"),
    "COUNTY_OFFICER 140525": ("COUNTY_OFFICER", "140525"),
    "TASK_FORCE": ("TASK_FORCE", None),
    "ANALYST": ("ANALYST", None),
}
MUTATIONS = [
    "createParcel 140521",
    "createParcel 140525",
    "updateParcel 140521",
    "updateParcel 140521→140525",
    "changeParcelStatus 140521",
    "allocateQuota 140521",
    "allocateQuota 140500",
    "transferQuotaFromPool →140521",
]
Y, N = True, False
#                                   anon admin bureau off521 off525 task analyst
ALLOWED: dict[str, tuple[bool, ...]] = {
    "createParcel 140521":            (N, Y, Y, Y, N, N, N),
    "createParcel 140525":            (N, Y, Y, N, Y, N, N),
    "updateParcel 140521":            (N, Y, Y, Y, N, N, N),
    "updateParcel 140521→140525":     (N, Y, Y, N, N, N, N),
    "changeParcelStatus 140521":      (N, Y, Y, N, N, N, N),
    "allocateQuota 140521":           (N, Y, Y, N, N, N, N),
    "allocateQuota 140500":           (N, Y, Y, N, N, N, N),
    "transferQuotaFromPool →140521":  (N, Y, Y, N, N, N, N),
}  # fmt: skip
AUDITED: dict[str, list[tuple[str, str, str]]] = {
    # (table, action, county) of the audit rows one allowed call writes: one per changed row
    "createParcel 140521": [("parcel", "INSERT", "140521")],
    "createParcel 140525": [("parcel", "INSERT", "140525")],
    "updateParcel 140521": [("parcel", "UPDATE", "140521")],
    "updateParcel 140521→140525": [("parcel", "UPDATE", "140525")],
    "changeParcelStatus 140521": [("parcel", "UPDATE", "140521")],
    "allocateQuota 140521": [("land_quota_entry", "INSERT", "140521")],
    "allocateQuota 140500": [("land_quota_entry", "INSERT", "140500")],
    "transferQuotaFromPool →140521": [
        ("land_quota_entry", "INSERT", "140500"),
        ("land_quota_entry", "INSERT", "140521"),
    ],
}


async def test_role_county_mutation_matrix(land: Land) -> None:
    n = 0

    def fresh(spot: tuple[float, float], srid: int) -> str:
        nonlocal n
        n += 1
        return gk_square(land.db, spot, srid, 300.0 * (n % 10), 300.0 * (n // 10), 200)

    async def setup_parcel() -> str:
        wkt = fresh(RACE_SPOT, 4546)
        code = f"M-{n:03d}"
        ok(await land.admin(CREATE, {"input": parcel_input(code, wkt)}))
        return code

    def request(mutation: str) -> Any:
        async def build() -> tuple[str, dict[str, Any]]:
            quota = {
                "kind": "NEW_CONSTRUCTION",
                "amountM2": "100",
                "effectiveOn": "2024-11-30",
                "reason": "matrix",
                "documentNo": "d",
                "year": 2024,
            }
            if mutation == "createParcel 140521":
                return CREATE, {"input": parcel_input(f"C-{n:03d}", fresh(RACE_SPOT, 4546))}
            if mutation == "createParcel 140525":
                wkt = fresh(SPOT_525, 4547)
                return CREATE, {"input": parcel_input(f"C-{n:03d}", wkt, county="140525")}
            if mutation == "updateParcel 140521":
                code = await setup_parcel()
                return UPDATE, {"input": {"code": code, "version": 1, "name": "改名"}}
            if mutation == "updateParcel 140521→140525":
                code = await setup_parcel()
                wkt = fresh(SPOT_525, 4547)
                return UPDATE, {"input": {"code": code, "version": 1, "geometry": {"wkt": wkt}}}
            if mutation == "changeParcelStatus 140521":
                code = await setup_parcel()
                return STATUS, {
                    "input": {
                        "code": code,
                        "version": 1,
                        "status": "PRE_REVIEWED",
                        "occurredOn": str(REF),
                    }
                }
            if mutation == "allocateQuota 140521":
                return ALLOCATE, {"input": quota | {"holderCode": "140521"}}
            if mutation == "allocateQuota 140500":
                return ALLOCATE, {"input": quota | {"holderCode": "140500"}}
            if mutation == "transferQuotaFromPool →140521":
                return TRANSFER, {"input": quota | {"countyCode": "140521"}}
            raise AssertionError(mutation)

        return build

    observed: dict[str, tuple[bool, ...]] = {}
    for mutation in MUTATIONS:
        row = []
        for label, (role, county) in ROLES.items():
            query, variables = await request(mutation)()
            token = land.token(role, county, sub=f"m-{label}") if role else None
            before = land.counts()
            after = land.last_audit_id()
            data = await land.gql(query, variables, token)
            body = payload(data)
            allowed = body["errors"] == []
            row.append(allowed)
            if allowed:
                audit = land.audit_since(after)
                assert (
                    sorted((a.table_name, a.action, a.county_code) for a in audit)
                    == (AUDITED[mutation])
                ), (mutation, label, audit)
                assert {(a.actor_sub, a.actor_role) for a in audit} == {(f"m-{label}", role)}
            else:
                err = body["errors"][0]
                assert err["__typename"] == "ForbiddenError", (mutation, label, err)
                assert err["code"] == ("UNAUTHENTICATED" if role is None else "FORBIDDEN")
                assert land.counts() == before, (mutation, label)
        observed[mutation] = tuple(row)
    assert observed == ALLOWED
    # the moved parcel follows its geometry into 泽州县
    assert (
        land.scalar(
            "SELECT count(*) FROM audit_log WHERE table_name = 'parcel' AND action = 'UPDATE' "
            "AND before->>'county_code' = '140521' AND after->>'county_code' = '140525'"
        )
        == 2
    )


# --------------------------------------------------------------------------- the last line


@pytest.fixture
async def api_sessions(fresh_db_url: str) -> AsyncIterator[Any]:
    engine = create_async_engine(fresh_db_url, pool_size=2, role=API_DB_ROLE)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _direct_create(
    sessions: Any, actor: Actor, code: str, g: Any, county: str, prechecks: bool
) -> WriteRefused | None:
    try:
        async with sessions() as s, s.begin():
            session: AsyncSession = s
            await bind_actor(session, actor)
            await parcel_writes.create_parcel(
                session,
                code=code,
                county_code=county,
                geometry=g,
                land_class=LandClass.FARMLAND,
                name=None,
                registered_on=REF,
                actor_sub=actor.sub,
                all_counties=SIX,
                prechecks=prechecks,
            )
    except WriteRefused as exc:
        return exc
    return None


def _unchecked(wkt: str) -> Any:
    """An InputGeometry that skipped geo.geometry_input (as a buggy caller might send)."""
    from geo.geometry_input import InputGeometry

    shape = shapely.from_wkt(wkt)
    return InputGeometry(
        wkb=shapely.to_wkb(shape),
        srid=4490,
        geom_type=shape.geom_type,
        vertices=int(shapely.get_num_coordinates(shape)),
        bounds=tuple(shape.bounds),  # type: ignore[arg-type]
    )


async def test_database_refusals_map_to_the_precheck_errors(
    api_sessions: Any, fresh_db_url: str
) -> None:
    """Without the PostGIS pre-checks, the database's own refusals (named CHECKs, LG001,
    row-level security) come back as the same typed refusals the pre-checks give."""
    admin = Actor(sub="direct", role=Role.CITY_ADMIN)
    db = create_engine(fresh_db_url)
    try:
        square = gk_square(db, RACE_SPOT, 4546, 0, 0, 200)
        shifted = gk_square(db, RACE_SPOT, 4546, 100, 0, 200)
        x0, y0, x1, y1 = shapely.from_wkt(square).bounds
        bow = f"MULTIPOLYGON((({x0} {y0}, {x1} {y1}, {x1} {y0}, {x0} {y1}, {x0} {y0})))"
        tiny = gk_square(db, RACE_SPOT, 4546, 0, 500, 0.5)
        outside = "POLYGON((112.55 37.87, 112.56 37.87, 112.56 37.88, 112.55 37.87))"
        assert (
            await _direct_create(api_sessions, admin, "OK", _unchecked(square), "140521", True)
            is None
        )
        cases = [
            ("bow-tie", _unchecked(bow), GeometryRefused, "INVALID_GEOMETRY"),
            ("0.25 m²", parse_geometry(tiny, fmt="WKT"), GeometryRefused, "INVALID_GEOMETRY"),
            (
                "Taiyuan",
                parse_geometry(outside, fmt="WKT"),
                GeometryRefused,
                "COORDINATE_OUT_OF_RANGE",
            ),
            ("overlap", parse_geometry(shifted, fmt="WKT"), OverlapRefused, "PARCEL_OVERLAP"),
        ]
        for name, g, kind, code in cases:
            checked = await _direct_create(api_sessions, admin, name, g, "140521", True)
            unchecked = await _direct_create(api_sessions, admin, name, g, "140521", False)
            assert isinstance(checked, kind) and isinstance(unchecked, kind), (
                name,
                checked,
                unchecked,
            )
            assert checked.code == unchecked.code == code, name
        overlap = await _direct_create(
            api_sessions, admin, "OVL", parse_geometry(shifted, fmt="WKT"), "140521", False
        )
        assert isinstance(overlap, OverlapRefused)
        assert overlap.other_code == "OK"
        assert overlap.shared_m2 == pytest.approx(20_000, abs=0.5)  # 100 m × 200 m
        # a resolver that forgot the permission check: row-level security refuses it
        officer = Actor(sub="o", role=Role.COUNTY_OFFICER, counties=frozenset({"140525"}))
        far = gk_square(db, RACE_SPOT, 4546, 0, 1000, 200)
        refused = await _direct_create(
            api_sessions, officer, "RLS", parse_geometry(far, fmt="WKT"), "140521", True
        )
        assert refused is not None and refused.code == "FORBIDDEN"
        with db.connect() as conn:
            assert (
                conn.execute(
                    text(
                        "SELECT count(*) FROM parcel WHERE code IN ('RLS', 'OVL', 'bow-tie', 'overlap')"
                    )
                ).scalar()
                == 0
            )
    finally:
        db.dispose()


async def test_database_refuses_unbound_actor_and_direct_balance_writes(
    api_sessions: Any, fresh_db_url: str
) -> None:
    """LG002 (the API role writing without an actor) comes back as FORBIDDEN; the API role
    may lock quota balance rows (geo.ledger) but not write them."""
    db = create_engine(fresh_db_url)
    try:
        wkt = gk_square(db, RACE_SPOT, 4546, 0, 0, 200)
    finally:
        db.dispose()
    g = parse_geometry(wkt, fmt="WKT")
    try:
        async with api_sessions() as s, s.begin():
            await s.execute(text("SELECT set_config('landguard.counties', '*', true)"))
            await parcel_writes.create_parcel(
                s,
                code="NO-ACTOR",
                county_code="140521",
                geometry=g,
                land_class=LandClass.FARMLAND,
                name=None,
                registered_on=REF,
                actor_sub="nobody",
                all_counties=SIX,
            )
        raise AssertionError("written without an actor")
    except WriteRefused as exc:
        assert exc.code == "FORBIDDEN" and "no actor" in exc.message
    async with api_sessions() as s, s.begin():
        await bind_actor(s, Actor(sub="direct", role=Role.LAND_BUREAU))
        locked = await s.execute(
            text(
                "SELECT balance_m2 FROM land_quota_balance WHERE year = 2024 "
                "AND holder_code = '140500' AND kind = 'NEW_CONSTRUCTION' FOR NO KEY UPDATE"
            )
        )
        assert locked.scalar_one() == Decimal("720000.01")
        with pytest.raises(DBAPIError, match="kept by the ledger trigger"):
            async with s.begin_nested():
                await s.execute(text("UPDATE land_quota_balance SET balance_m2 = 1"))


def test_transition_table() -> None:
    from geo.enums import LandStatus as S
    from geo.writes.parcel_status import back_targets, forward_targets

    assert forward_targets(S.DEMAND) == [S.PRE_REVIEWED]
    assert forward_targets(S.SUBMITTED) == [S.APPROVED_UNSUPPLIED]
    assert forward_targets(S.APPROVED_UNSUPPLIED) == [S.SUPPLIED, S.LAPSED]
    assert forward_targets(S.SUPPLIED) == [S.LAND_PLANNING_PERMIT, S.IDLE]
    assert forward_targets(S.REGISTERED) == [S.IDLE]
    assert forward_targets(S.IDLE) == [] and forward_targets(S.LAPSED) == []
    assert back_targets(S.DEMAND) == []
    assert back_targets(S.SUBMITTED) == [S.DEMAND, S.PRE_REVIEWED, S.DOSSIER_PREP]
    assert back_targets(S.APPROVED_UNSUPPLIED) == [S.DOSSIER_PREP]
    assert back_targets(S.REGISTERED) == [S.APPROVED_UNSUPPLIED, S.SUPPLIED, S.LAND_PLANNING_PERMIT]
    assert back_targets(S.IDLE) == [S.SUPPLIED, S.LAND_PLANNING_PERMIT, S.REGISTERED]
    assert back_targets(S.LAPSED) == [S.APPROVED_UNSUPPLIED]


async def test_readme_worked_example(land: Land) -> None:
    """README "Writing (mutations)": the curl example's body, its answer and the repeats."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start_at = readme.index("### Parcels and land quotas")
    block = readme[start_at:].split("-d @- <<'JSON'\n", 1)[1].split("\nJSON\n", 1)[0]
    body = json.loads(block)
    token = land.token("LAND_BUREAU", sub="bureau-1")
    parcel = ok(await land.gql(body["query"], body["variables"], token))["parcel"]
    assert parcel["code"] == "DK-140521-90001"
    assert round(parcel["areaM2"], 2) == 1001426.93
    assert round(parcel["areaMu"], 2) == 1502.14
    assert (parcel["gkZoneSrid"], parcel["procedureStatus"], parcel["version"]) == (
        4547,
        "DEMAND",
        1,
    )
    again = error_of(await land.gql(body["query"], body["variables"], token))
    assert again["code"] == "DUPLICATE_CODE"
    other = body["variables"]["input"] | {"code": "DK-140521-90002"}
    overlap = await land.gql(CREATE, {"input": other}, token)
    err = error_of(overlap)
    assert (err["code"], err["otherParcelCode"]) == ("PARCEL_OVERLAP", "DK-140521-90001")
    assert err["sharedAreaM2"] == 1001426.93
