"""FeatureCollections, 三区三线 overlay and county land summaries, checked by hand-built
fixtures and independent SQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import shapely
from sqlalchemy import Engine, create_engine, text

from api.app import create_app
from api.settings import Settings


def sql(engine: Engine, query: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(query), params).all()


async def test_feature_collection_is_valid_geojson_with_properties(gql, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    body = await gql(
        "{ featureCollection(layer: PARCELS, first: 5000, "
        'filter: {countyCode: "140522", procedureStatus: SUPPLIED}, simplifyMeters: 1) }'
    )
    fc = body["data"]["featureCollection"]
    expected = sql(
        demo_sync_engine,
        "SELECT p.code, EXISTS (SELECT 1 FROM protected_zone z WHERE z.kind IN ('BASIC_FARMLAND', "
        "'ECOLOGICAL_REDLINE') AND ST_Relate(z.geom, p.geom, '2********')) AS conflict, p.land_class::text "
        "FROM parcel p WHERE county_code = '140522' AND procedure_status = 'SUPPLIED' ORDER BY code",
    )
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == len(expected) > 0
    for feature, row in zip(fc["features"], expected, strict=True):
        assert feature["type"] == "Feature" and feature["id"] == row.code
        props = feature["properties"]
        assert props["code"] == row.code and props["conflict"] is row.conflict
        assert props["land_class"] == row.land_class and props["procedure_status"] == "SUPPLIED"
        assert props["area_mu"] == pytest.approx(props["area_m2"] * 15 / 10000)
        geom = shapely.from_geojson(json.dumps(feature["geometry"]))
        assert geom.is_valid and geom.geom_type == "MultiPolygon"
    only = await gql(
        '{ featureCollection(layer: PROJECTS, first: 3, properties: ["code", "stage"]) }'
    )
    for feature in only["data"]["featureCollection"]["features"]:
        assert (
            set(feature["properties"]) == {"code", "stage"}
            and feature["geometry"]["type"] == "Point"
        )


async def test_feature_collection_refuses_filters_the_layer_lacks(gql) -> None:  # type: ignore[no-untyped-def]
    body = await gql("{ featureCollection(layer: ADMIN_AREAS, filter: {stage: FILING}) }")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql('{ featureCollection(layer: PARCELS, properties: ["nope"]) }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql("{ featureCollection(layer: PARCELS, first: 10001) }")
    assert body["errors"][0]["extensions"]["code"] == "PAGE_TOO_LARGE"


@pytest.fixture
async def fresh_gql(fresh_db_url: str) -> AsyncIterator[Any]:
    app = create_app(Settings(database_url=fresh_db_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):

        async def run(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
            response = await c.post("/graphql", json={"query": query, "variables": variables or {}})
            return response.json()  # type: ignore[no-any-return]

        yield run


# A 1000 m × 1000 m red-line square in the CM 114°E Gauss-Krüger zone (EPSG:4547) in 陵川县
# (far from the synthetic data), and a drawn 1000 m × 1000 m square shifted 400 m east:
# they share 600 m × 1000 m = 600,000 m² = 900 亩 = 60 ha by construction.
ZONE_SQUARE = (420000, 3960000, 421000, 3961000)
DRAWN_SQUARE = (420400, 3960000, 421400, 3961000)


async def test_zone_overlap_of_a_drawn_geometry_is_the_hand_worked_area(
    fresh_gql, fresh_db_url
) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(fresh_db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM protected_zone WHERE ST_Intersects(geom, ST_Transform(ST_MakeEnvelope(419000, 3959000, 422500, 3962000, 4547), 4490))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO protected_zone (code, kind, name, county_code, geom) VALUES ('T-RED', "
                "'ECOLOGICAL_REDLINE', '测试红线', '140524', ST_Multi(ST_Transform(ST_MakeEnvelope(:a, :b, :c, :d, 4547), 4490)))"
            ),
            dict(zip("abcd", ZONE_SQUARE, strict=True)),
        )
        drawn = conn.execute(
            text(
                "SELECT ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(:a, :b, :c, :d, 4547), 4490), 12)"
            ),
            dict(zip("abcd", DRAWN_SQUARE, strict=True)),
        ).scalar_one()
    engine.dispose()
    body = await fresh_gql(
        "query($g: GeoJSON) { zoneOverlaps(geometry: {geojson: $g}) { gkZoneSrid subjectArea { m2 } conflict "
        "overlaps { zone { code kind } overlap { m2 mu ha } } byKind { kind overlap { ha } } } }",
        {"g": json.loads(drawn)},
    )
    report = body["data"]["zoneOverlaps"]
    assert report["gkZoneSrid"] == 4547 and report["conflict"] is True
    assert report["subjectArea"]["m2"] == pytest.approx(1_000_000, abs=0.01)
    (overlap,) = [o for o in report["overlaps"] if o["zone"]["code"] == "T-RED"]
    assert overlap["overlap"]["m2"] == pytest.approx(600_000, abs=0.01)
    assert overlap["overlap"]["mu"] == pytest.approx(900, abs=0.01)
    assert overlap["overlap"]["ha"] == pytest.approx(60, abs=0.001)


async def test_zone_overlaps_of_a_parcel_match_sql(gql, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    (row,) = sql(
        demo_sync_engine,
        "SELECT p.code, count(*) AS n FROM parcel p JOIN protected_zone z ON ST_Relate(z.geom, p.geom, '2********') "
        "WHERE z.kind = 'BASIC_FARMLAND' GROUP BY p.code ORDER BY p.code LIMIT 1",
    )
    expected = sql(
        demo_sync_engine,
        "SELECT z.code, ST_Area(ST_Intersection(ST_Transform(z.geom, p.gk_srid), ST_Transform(p.geom, p.gk_srid))) AS m2 "
        "FROM parcel p JOIN protected_zone z ON ST_Relate(z.geom, p.geom, '2********') WHERE p.code = :c",
        c=row.code,
    )
    body = await gql(
        "query($c: String) { zoneOverlaps(parcelCode: $c) { conflict overlaps { zone { code } overlap { m2 } } } "
        'none: zoneOverlaps(parcelCode: "NO-SUCH") { conflict } }',
        {"c": row.code},
    )
    report = body["data"]["zoneOverlaps"]
    assert report["conflict"] is True and body["data"]["none"] is None
    got = {o["zone"]["code"]: o["overlap"]["m2"] for o in report["overlaps"]}
    assert got == pytest.approx({r.code: r.m2 for r in expected})


async def test_county_land_summary_adds_up(gql, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    body = await gql(
        '{ countyLandSummary(countyCode: "140581") { county { name } total { parcelCount area { m2 } } '
        "cells { landClass procedureStatus parcelCount area { m2 mu } } "
        "byLandClass { landClass procedureStatus parcelCount area { m2 } } "
        "byProcedureStatus { procedureStatus parcelCount } } "
        'unknown: countyLandSummary(countyCode: "999999") { total { parcelCount } } }'
    )
    s = body["data"]["countyLandSummary"]
    assert s["county"]["name"] == "高平市" and body["data"]["unknown"] is None
    expected = {
        (r.land_class, r.procedure_status): r
        for r in sql(
            demo_sync_engine,
            "SELECT land_class::text, procedure_status::text, count(*) n, sum(area_m2) a FROM parcel "
            "WHERE county_code = '140581' GROUP BY 1, 2",
        )
    }
    assert len(s["cells"]) == len(expected)
    for cell in s["cells"]:
        e = expected[(cell["landClass"], cell["procedureStatus"])]
        assert cell["parcelCount"] == e.n and cell["area"]["m2"] == pytest.approx(e.a)
    assert s["total"]["parcelCount"] == sum(e.n for e in expected.values())
    assert s["total"]["area"]["m2"] == pytest.approx(sum(e.a for e in expected.values()))
    assert all(c["procedureStatus"] is None for c in s["byLandClass"])
    assert sum(c["parcelCount"] for c in s["byProcedureStatus"]) == s["total"]["parcelCount"]
