"""Spatial filters, nearest ordering and geometry output, each checked against an answer
computed independently (shapely on the stored geometry, or plain SQL without the
API's index tricks)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import shapely
from shapely.geometry import Point, box, mapping
from sqlalchemy import Engine, text

PARCEL_PAGE = (
    "query($f: ParcelFilter, $after: String) { parcels(filter: $f, first: 500, after: $after) "
    "{ totalCount edges { node { code } } pageInfo { hasNextPage endCursor } } }"
)


@pytest.fixture(scope="module")
def stored_parcels(demo_sync_engine: Engine) -> dict[str, Any]:
    """Every parcel's geometry as shapely, read as WKB (no PostGIS predicate involved)."""
    with demo_sync_engine.connect() as conn:
        rows = conn.execute(text("SELECT code, county_code, ST_AsBinary(geom) FROM parcel")).all()
    return {code: (county, shapely.from_wkb(bytes(wkb))) for code, county, wkb in rows}


async def _codes(gql, spatial: dict[str, Any], **extra: Any) -> list[str]:  # type: ignore[no-untyped-def]
    codes: list[str] = []
    after = None
    while True:
        body = await gql(PARCEL_PAGE, {"f": {"spatial": spatial, **extra}, "after": after})
        assert "errors" not in body, body
        page = body["data"]["parcels"]
        codes += [e["node"]["code"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            assert page["totalCount"] == len(codes)
            return codes
        after = page["pageInfo"]["endCursor"]


def _county_border_box(demo_sync_engine: Engine) -> Any:
    """A 0.3° box centred on a point of the 城区/泽州县 border, so it crosses counties."""
    with demo_sync_engine.connect() as conn:
        x, y = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1) p "
                "FROM admin_area WHERE code = '140502') s"
            )
        ).one()
    return box(x - 0.15, y - 0.15, x + 0.15, y + 0.15)


async def test_bbox_and_intersects_cross_county_borders(
    gql, demo_sync_engine, stored_parcels
) -> None:  # type: ignore[no-untyped-def]
    area = _county_border_box(demo_sync_engine)
    expected = sorted(c for c, (_, g) in stored_parcels.items() if g.intersects(area))
    counties = {stored_parcels[c][0] for c in expected}
    assert len(expected) > 20 and {"140502", "140525"} <= counties
    assert await _codes(gql, {"bbox": list(area.bounds)}) == expected
    assert await _codes(gql, {"intersects": {"geojson": mapping(area)}}) == expected
    assert await _codes(gql, {"intersects": {"wkt": area.wkt, "srid": 4326}}) == expected
    assert await _codes(gql, {"intersects": {"ewkt": f"SRID=4490;{area.wkt}"}}) == expected
    # combined with an ordinary filter
    assert await _codes(gql, {"bbox": list(area.bounds)}, countyCode="140502") == [
        c for c in expected if stored_parcels[c][0] == "140502"
    ]


async def test_within_with_a_hole(gql, demo_sync_engine, stored_parcels) -> None:  # type: ignore[no-untyped-def]
    outer = _county_border_box(demo_sync_engine)
    inside = [g for c, (_, g) in sorted(stored_parcels.items()) if g.within(outer)]
    hole = inside[len(inside) // 2].buffer(0.002).envelope  # one parcel sits in the hole
    holed = shapely.Polygon(outer.exterior.coords, [hole.exterior.coords])
    assert holed.is_valid
    expected = sorted(c for c, (_, g) in stored_parcels.items() if g.within(holed))
    assert 0 < len(expected) < len(inside)
    assert await _codes(gql, {"within": {"geojson": mapping(holed)}}) == expected
    intersecting = sorted(c for c, (_, g) in stored_parcels.items() if g.intersects(holed))
    assert await _codes(gql, {"intersects": {"geojson": mapping(holed)}}) == intersecting


async def test_contains_a_point_and_a_point_on_an_edge(gql, stored_parcels) -> None:  # type: ignore[no-untyped-def]
    code, (_, geom) = sorted(stored_parcels.items())[100]
    inner = geom.representative_point()
    assert await _codes(gql, {"contains": {"geojson": mapping(inner)}}) == [code]
    corner = Point(shapely.get_coordinates(geom)[0])
    edge_point = Point(
        (shapely.get_coordinates(geom)[0] + shapely.get_coordinates(geom)[1]) / 2
    )  # midpoint of the first edge: on the boundary, not in the interior
    for on_boundary in (corner, edge_point):
        expected_contains = sorted(
            c for c, (_, g) in stored_parcels.items() if g.contains(on_boundary)
        )
        expected_intersects = sorted(
            c for c, (_, g) in stored_parcels.items() if g.intersects(on_boundary)
        )
        assert code not in expected_contains and code in expected_intersects
        assert (
            await _codes(gql, {"contains": {"geojson": mapping(on_boundary)}}) == expected_contains
        )
        assert (
            await _codes(gql, {"intersects": {"geojson": mapping(on_boundary)}})
            == expected_intersects
        )


async def test_dwithin_matches_plain_geography_sql(gql, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    point = {"type": "Point", "coordinates": [112.85, 35.5]}
    with demo_sync_engine.connect() as conn:
        expected = (
            conn.execute(
                text(
                    "SELECT code FROM parcel WHERE ST_Distance(geom::geography, "
                    "ST_SetSRID(ST_Point(112.85, 35.5), 4490)::geography) <= 3000 ORDER BY code"
                )
            )
            .scalars()
            .all()
        )
    assert expected
    got = await _codes(gql, {"dwithin": {"geometry": {"geojson": point}, "meters": 3000}})
    assert got == list(expected)


async def test_nearest_first_is_exact_and_pages(gql, demo_sync_engine) -> None:  # type: ignore[no-untyped-def]
    with demo_sync_engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT code, ST_Distance(geom::geography, ST_SetSRID(ST_Point(112.2, 35.7), 4490)::geography) d "
                "FROM parcel WHERE county_code = '140521' ORDER BY d, code LIMIT 25"
            )
        ).all()
    query = (
        'query($after: String) { parcels(filter: {countyCode: "140521"}, first: 10, after: $after, '
        'orderBy: {nearestTo: {wkt: "POINT(112.2 35.7)"}}) '
        "{ edges { node { code distanceM } } pageInfo { hasNextPage endCursor } } }"
    )
    nodes: list[dict[str, Any]] = []
    after = None
    for _ in range(3):
        page = (await gql(query, {"after": after}))["data"]["parcels"]
        nodes += [e["node"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
    nodes = nodes[:25]
    assert [n["code"] for n in nodes] == [r.code for r in expected]
    for node, row in zip(nodes, expected, strict=True):
        assert node["distanceM"] == pytest.approx(row.d, abs=0.01)


async def test_output_geometry_reprojection_simplification_precision(gql) -> None:  # type: ignore[no-untyped-def]
    body = await gql(
        '{ adminArea(code: "140500") { full: geometry ws: geometry(srid: 4326) '
        "simple: geometry(simplifyMeters: 500) coarse: geometry(precision: 3) } }"
    )
    area = body["data"]["adminArea"]
    full = shapely.from_geojson(json.dumps(area["full"]))
    simple = shapely.from_geojson(json.dumps(area["simple"]))
    assert (
        simple.is_valid
        and shapely.get_num_coordinates(simple) < shapely.get_num_coordinates(full) / 2
    )
    assert simple.symmetric_difference(full).area / full.area < 0.02
    assert shapely.equals_exact(shapely.from_geojson(json.dumps(area["ws"])), full, tolerance=1e-7)
    coords = shapely.get_coordinates(shapely.from_geojson(json.dumps(area["coarse"])))
    assert (abs(coords * 1000 - (coords * 1000).round()) < 1e-6).all()


BAD = [
    (
        {
            "intersects": {
                "geojson": {
                    "type": "Polygon",
                    "coordinates": [[[112.8, 35.5], [112.9, 35.5], [112.9, 35.6]]],
                }
            }
        },
        "INVALID_GEOJSON",
    ),
    (
        {
            "intersects": {
                "geojson": {
                    "type": "Polygon",
                    "coordinates": [
                        [[112.8, 35.5], [112.9, 35.6], [112.9, 35.5], [112.8, 35.6], [112.8, 35.5]]
                    ],
                }
            }
        },
        "INVALID_GEOMETRY",
    ),
    (
        {"intersects": {"geojson": {"type": "Point", "coordinates": [35.5, 112.85]}}},
        "COORDINATE_OUT_OF_RANGE",
    ),
    ({"intersects": {"wkt": "POLYGON EMPTY"}}, "EMPTY_GEOMETRY"),
    ({"intersects": {"ewkt": "SRID=3857;POINT(12565000 4230000)"}}, "UNSUPPORTED_SRID"),
    ({"intersects": {"wkt": "POINT(112.85 35.5)", "srid": 4547}}, "UNSUPPORTED_SRID"),
    ({"intersects": {"wkt": "POINT Z (112.85 35.5 900)"}}, "NOT_2D"),
    ({"intersects": {"wkt": "POLYGON((112.8 35.5, 112.9 35.5"}}, "INVALID_WKT"),
    ({"intersects": {"geojson": {"type": "Point", "coordinates": ["112", 35]}}}, "INVALID_GEOJSON"),
    ({"intersects": {"geojson": "not an object"}}, "INVALID_GEOJSON"),
    (
        {
            "intersects": {
                "geojson": {"type": "Point", "coordinates": [112.8, 35.5]},
                "wkt": "POINT(1 2)",
            }
        },
        "BAD_USER_INPUT",
    ),
    ({"bbox": [112.9, 35.5, 112.8, 35.6]}, "INVALID_BBOX"),
    ({"bbox": [112.8, 35.5, 112.9]}, "INVALID_BBOX"),
    ({"dwithin": {"geometry": {"wkt": "POINT(112.85 35.5)"}, "meters": -5}}, "INVALID_DISTANCE"),
    (
        {"intersects": {"geojson": mapping(Point(112.85, 35.5).buffer(0.01, quad_segs=6000))}},
        "TOO_MANY_VERTICES",
    ),
]


@pytest.mark.parametrize(("spatial", "code"), BAD, ids=[c for _, c in BAD])
async def test_bad_spatial_input_is_refused_with_its_code(
    gql, spatial: dict[str, Any], code: str
) -> None:  # type: ignore[no-untyped-def]
    body = await gql(PARCEL_PAGE, {"f": {"spatial": spatial}})
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == code, error
    assert "SELECT" not in error["message"] and "psycopg" not in json.dumps(body)


async def test_bad_output_srid_is_refused(gql) -> None:  # type: ignore[no-untyped-def]
    body = await gql('{ adminArea(code: "140502") { geometry(srid: 3857) } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "4490" in body["errors"][0]["message"]
