"""The GraphQL read contract against the demo data set, each number checked by an
independent SQL query on the same database."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import Engine, text

from geo.crs import DEV_ZONE_CODE

README_KM2 = {  # geo/data/jincheng-counties/README.md
    "140502": 148.6,
    "140521": 2626.9,
    "140522": 1936.1,
    "140524": 1684.1,
    "140525": 2033.5,
    "140581": 993.9,
}


def sql(engine: Engine, query: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(query), params).all()


async def test_admin_areas_are_the_real_counties(gql, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    body = await gql("{ adminAreas { code name kind parentCode areaM2 areaMu areaHa } }")
    areas = {a["code"]: a for a in body["data"]["adminAreas"]}
    assert set(README_KM2) <= set(areas)
    assert areas["140500"]["kind"] == "CITY" and areas["140500"]["parentCode"] is None
    assert areas[DEV_ZONE_CODE]["kind"] == "DEV_ZONE"
    for code, km2 in README_KM2.items():
        assert areas[code]["areaM2"] / 1e6 == pytest.approx(km2, rel=0.01), code
        assert areas[code]["areaMu"] == pytest.approx(areas[code]["areaM2"] * 15 / 10000)
        assert areas[code]["areaHa"] == pytest.approx(areas[code]["areaM2"] / 10000)
    counties = await gql("{ adminAreas(kind: COUNTY) { code } }")
    expected = sql(
        demo_sync_engine, "SELECT code FROM admin_area WHERE kind = 'COUNTY' ORDER BY code"
    )
    assert [a["code"] for a in counties["data"]["adminAreas"]] == [r.code for r in expected]


async def test_admin_area_geometry_is_a_geojson_object(gql) -> None:  # type: ignore[no-untyped-def]
    body = await gql(
        '{ adminArea(code: "140502") { name geometry } unknown: adminArea(code: "999999") { code } }'
    )
    area = body["data"]["adminArea"]
    assert area["name"] == "城区"
    geometry = area["geometry"]
    assert isinstance(geometry, dict) and geometry["type"] == "MultiPolygon"
    assert "crs" not in geometry  # RFC 7946
    lon, lat = geometry["coordinates"][0][0][0]
    assert 112 < lon < 113.5 and 35 < lat < 36  # lon/lat order
    assert body["data"]["unknown"] is None


async def _walk(gql, field: str, filter_: str, size: int) -> list[str]:  # type: ignore[no-untyped-def]
    codes: list[str] = []
    after = None
    while True:
        body = await gql(
            f"query($after: String) {{ {field}({filter_} first: {size}, after: $after) "
            "{ totalCount edges { cursor node { code } } pageInfo { hasNextPage endCursor } } }",
            {"after": after},
        )
        page = body["data"][field]
        codes += [e["node"]["code"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return codes
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]


async def test_projects_pagination_walks_everything_once(gql, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    codes = await _walk(gql, "projects", "", 317)
    expected = [r.code for r in sql(demo_sync_engine, "SELECT code FROM project ORDER BY code")]
    assert codes == expected and len(set(codes)) == len(codes)


async def test_filtered_parcel_pagination_matches_sql(gql, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    codes = await _walk(gql, "parcels", 'filter: {countyCode: "140525", landClass: FARMLAND},', 37)
    expected = sql(
        demo_sync_engine,
        "SELECT code FROM parcel WHERE county_code = '140525' AND land_class = 'FARMLAND' ORDER BY code",
    )
    assert codes == [r.code for r in expected] and len(codes) > 37
    body = await gql(
        '{ parcels(filter: {countyCode: "140525", landClass: FARMLAND}, first: 1) { totalCount } }'
    )
    assert body["data"]["parcels"]["totalCount"] == len(expected)


async def test_project_filters_and_key_list(gql, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    body = await gql(
        "{ all: projects(filter: {isKey: true}) { totalCount }"
        '  prov: projects(filter: {isKey: true, category: PROVINCIAL_KEY, countyCode: "140581"}) { totalCount }'
        "  started: projects(filter: {stage: CONSTRUCTION_START}) { totalCount } }"
    )
    data = body["data"]
    assert data["all"]["totalCount"] == 300
    (prov,) = sql(
        demo_sync_engine,
        "SELECT count(*) FROM project WHERE is_key AND 'PROVINCIAL_KEY' = ANY(categories) AND county_code = '140581'",
    )
    assert data["prov"]["totalCount"] == prov[0]
    (started,) = sql(
        demo_sync_engine, "SELECT count(*) FROM project WHERE stage = 'CONSTRUCTION_START'"
    )
    assert data["started"]["totalCount"] == started[0]


async def test_project_contract_fields(gql, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    (row,) = sql(
        demo_sync_engine,
        "SELECT p.code, p.county_code, count(pp.id) AS n FROM project p JOIN project_parcel pp "
        "ON pp.project_id = p.id AND pp.unlinked_on IS NULL WHERE p.is_key "
        "GROUP BY p.id ORDER BY count(pp.id) DESC, p.code LIMIT 1",
    )
    body = await gql(
        "query($c: String!) { project(code: $c) { code name county { code name } stage isKey categories "
        "totalInvestment annualTarget leadOfficial responsibleEntity "
        "parcels { code areaM2 county { code } project { code } } approvalItems { code deadline overdue } } "
        'missing: project(code: "NO-SUCH") { code } }',
        {"c": row.code},
    )
    p = body["data"]["project"]
    assert p["code"] == row.code and p["isKey"] is True and p["categories"]
    assert p["county"]["code"] == row.county_code
    assert p["leadOfficial"] and p["responsibleEntity"]
    assert len(p["parcels"]) == row.n
    assert {x["project"]["code"] for x in p["parcels"]} == {row.code}
    assert body["data"]["missing"] is None


async def test_parcel_areas_are_postgis_legal_areas(gql, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    rows = sql(
        demo_sync_engine,
        "SELECT code, ST_Area(ST_Transform(geom, CASE WHEN ST_X(ST_Centroid(geom)) < 112.5 "
        "THEN 4546 ELSE 4547 END)) AS m2, CASE WHEN ST_X(ST_Centroid(geom)) < 112.5 THEN 4546 ELSE 4547 END AS srid "
        "FROM parcel WHERE county_code IN ('140521', '140525') ORDER BY code LIMIT 400",
    )
    by_code = {r.code: r for r in rows}
    assert {r.srid for r in rows} == {4546, 4547}  # both zones exercised
    codes = list(by_code)
    found: dict[str, Any] = {}
    for code in codes:
        body = await gql(
            "query($c: String!) { parcel(code: $c) { code areaM2 areaMu areaHa gkZoneSrid geometry "
            "newConstructionArea { m2 mu ha } } }",
            {"c": code},
        )
        found[code] = body["data"]["parcel"]
        if len(found) >= 40 and {f["gkZoneSrid"] for f in found.values()} == {4546, 4547}:
            break
    for code, p in found.items():
        assert p["areaM2"] == pytest.approx(by_code[code].m2, rel=1e-9)
        assert p["gkZoneSrid"] == by_code[code].srid
        assert p["areaMu"] == pytest.approx(p["areaM2"] * 15 / 10000)
        assert p["areaHa"] == pytest.approx(p["areaM2"] / 10000)
        assert p["geometry"]["type"] == "MultiPolygon"


async def test_land_quotas_are_the_ledger_sums(gql, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    body = await gql(
        "{ landQuotas(year: 2024) { holderCode kind allocated { m2 mu } fromPool { m2 } used { m2 } "
        "balance { m2 mu ha } entryCount holder { name } } }"
    )
    quotas = body["data"]["landQuotas"]
    expected = {
        (r.holder_code, r.kind): r
        for r in sql(
            demo_sync_engine,
            "SELECT holder_code, kind::text, sum(amount_m2) AS total, count(*) AS n, "
            "sum(amount_m2) FILTER (WHERE entry_type = 'ALLOCATION') AS allocated "
            "FROM land_quota_entry WHERE year = 2024 GROUP BY 1, 2",
        )
    }
    assert len(quotas) == len(expected) >= 7
    for q in quotas:
        e = expected[(q["holderCode"], q["kind"])]
        assert q["balance"]["m2"] == pytest.approx(float(e.total), abs=0.005)
        assert q["entryCount"] == e.n
        assert q["allocated"]["m2"] == pytest.approx(float(e.allocated or 0), abs=0.005)
        assert q["balance"]["mu"] == pytest.approx(q["balance"]["m2"] * 15 / 10000)
    pool = [q for q in quotas if q["holderCode"] == "140500"]
    assert pool and pool[0]["holder"]["name"] == "晋城市"


async def test_overdue_approval_items_as_of_a_date(gql, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    body = await gql(
        '{ approvalItems(filter: {overdue: true}, asOf: "2024-10-31", first: 5) '
        "{ totalCount edges { node { code deadline status overdue daysOverdue } } } }"
    )
    conn = body["data"]["approvalItems"]
    (expected,) = sql(
        demo_sync_engine,
        "SELECT count(*) FROM approval_item WHERE status <> 'COMPLETED' AND deadline < DATE '2024-10-31'",
    )
    assert conn["totalCount"] == expected[0] > 0
    for edge in conn["edges"]:
        node = edge["node"]
        assert node["overdue"] and node["status"] != "COMPLETED"
        deadline = node["deadline"]
        from datetime import date

        assert node["daysOverdue"] == (date(2024, 10, 31) - date.fromisoformat(deadline)).days


async def test_nested_lists_use_a_constant_number_of_statements(gql, count_sql) -> None:  # type: ignore[no-untyped-def]
    query = (
        "query($n: Int!) { projects(first: $n) { edges { node { code county { code name } "
        "parcels { code areaM2 county { code } } approvalItems { code status } } } } }"
    )
    with count_sql() as small:
        body = await gql(query, {"n": 5})
    assert len(body["data"]["projects"]["edges"]) == 5
    with count_sql() as large:
        body = await gql(query, {"n": 50})
    edges = body["data"]["projects"]["edges"]
    assert len(edges) == 50 and sum(len(e["node"]["parcels"]) for e in edges) > 50
    # projects page, parcels batch, approval-items batch, admin-area batch
    assert large.count == small.count == 4, large.statements


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ projects(first: 501) { totalCount } }", "PAGE_TOO_LARGE"),
        ("{ parcels(first: -1) { totalCount } }", "BAD_USER_INPUT"),
        ('{ parcels(after: "bm90LWEtY3Vyc29y") { totalCount } }', "INVALID_CURSOR"),
        ("{ projects(filter: {stage: FLYING}) { totalCount } }", "GRAPHQL_VALIDATION_FAILED"),
        ('{ projects(first: "ten") { totalCount } }', "GRAPHQL_VALIDATION_FAILED"),
        ("{ project { code } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ projects { nope } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ projects(first: 1 { totalCount } }", "GRAPHQL_PARSE_FAILED"),
        ("{ landQuotas(year: 99999) { kind } }", "BAD_USER_INPUT"),
        ('{ parcel(code: "") { code } }', "BAD_USER_INPUT"),
    ],
)
async def test_malformed_arguments_get_coded_errors(gql, query: str, code: str) -> None:  # type: ignore[no-untyped-def]
    body = await gql(query)
    assert body["errors"], body
    assert body["errors"][0]["extensions"]["code"] == code
    text_ = json.dumps(body, ensure_ascii=False)
    assert "Traceback" not in text_ and not re.search(r"\bSELECT\b", text_)


async def test_page_size_cap_is_configurable_and_exact(gql) -> None:  # type: ignore[no-untyped-def]
    body = await gql("{ parcels(first: 500) { edges { cursor } pageInfo { hasNextPage } } }")
    assert len(body["data"]["parcels"]["edges"]) == 500
    assert body["data"]["parcels"]["pageInfo"]["hasNextPage"] is True


async def test_key_filter_partitions_all_parcels(gql, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    body = await gql(
        "{ key: parcels(filter: {isKey: true}) { totalCount } other: parcels(filter: {isKey: false}) { totalCount } "
        "all: parcels { totalCount } }"
    )
    data = body["data"]
    (unlinked,) = sql(
        demo_sync_engine,
        "SELECT count(*) FROM parcel p WHERE NOT EXISTS (SELECT 1 FROM project_parcel pp "
        "WHERE pp.parcel_id = p.id AND pp.unlinked_on IS NULL)",
    )
    assert data["key"]["totalCount"] + data["other"]["totalCount"] == data["all"]["totalCount"]
    assert data["other"]["totalCount"] >= unlinked[0]


async def test_reference_date_decides_overdue(demo_db_url, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from api.app import create_app
    from api.settings import Settings

    (expected,) = sql(
        demo_sync_engine,
        "SELECT count(*) FROM approval_item WHERE status <> 'COMPLETED' AND deadline < DATE '2024-06-30'",
    )
    app = create_app(
        Settings(database_url=demo_db_url, reference_date=__import__("datetime").date(2024, 6, 30))
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        body = (
            await c.post(
                "/graphql",
                json={"query": "{ approvalItems(filter: {overdue: true}) { totalCount } }"},
            )
        ).json()
    assert body["data"]["approvalItems"]["totalCount"] == expected[0]
