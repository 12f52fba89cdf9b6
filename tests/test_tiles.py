"""Vector tiles and TileJSON (api/tiles.py, geo/tiles.py) against the demo data.

Expected answers come from plain SQL over the stored geometry with tile bounds computed
here by the slippy-map formulas (not PostGIS's ST_TileEnvelope), and from the decoded
tile bytes (mapbox_vector_tile), never from the code under test.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import mapbox_vector_tile
import pytest
import shapely
from shapely.geometry import Point, box, shape
from sqlalchemy import Engine, create_engine, text
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from tests.conftest import url_for

MVT = "application/vnd.mapbox-vector-tile"
EXTENT = 4096
ORIGIN = "http://localhost:5173"  # one of the development CORS origins
CONFLICT_SQL = (
    "EXISTS (SELECT 1 FROM protected_zone z WHERE z.kind IN ('BASIC_FARMLAND', "
    "'ECOLOGICAL_REDLINE') AND ST_Relate(z.geom, p.geom, '2********'))"
)


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class XYZ:
    z: int
    x: int
    y: int

    @property
    def url(self) -> str:
        return f"{self.z}/{self.x}/{self.y}.mvt"

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """west, south, east, north in degrees (slippy-map formulas)."""
        n = 2**self.z

        def lat(y: int) -> float:
            return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))

        return self.x / n * 360 - 180, lat(self.y + 1), (self.x + 1) / n * 360 - 180, lat(self.y)

    def to_tile_units(self, lon: float, lat: float) -> tuple[float, float]:
        """Lon/lat → this tile's coordinates, y up (mapbox_vector_tile.decode's default)."""
        n = 2**self.z
        mx = (lon + 180) / 360 * n - self.x
        my = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n - self.y
        return mx * EXTENT, (1 - my) * EXTENT


def tile_of(lon: float, lat: float, z: int) -> XYZ:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return XYZ(z, x, y)


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def parcels_in(engine: Engine, t: XYZ, where: str = "TRUE", **params: Any) -> set[str]:
    w, s, e, n = t.bounds
    sql = (
        "SELECT p.code FROM parcel p WHERE ST_Intersects(p.geom, "
        f"ST_MakeEnvelope(:env_w, :env_s, :env_e, :env_n, 4490)) AND {where}"
    )
    envelope = {"env_w": w, "env_s": s, "env_e": e, "env_n": n}
    return {r[0] for r in rows(engine, sql, **envelope, **params)}


def features(response: httpx.Response, layer: str = "parcels") -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MVT
    decoded = mapbox_vector_tile.decode(response.content)
    assert set(decoded) == {layer}
    assert decoded[layer]["extent"] == EXTENT
    return list(decoded[layer]["features"])


def codes(response: httpx.Response, layer: str = "parcels") -> set[str]:
    found = [f["properties"]["code"] for f in features(response, layer)]
    assert len(found) == len(set(found)), "a feature appears twice"
    return set(found)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == code, body
    assert "SELECT" not in body["message"] and "Traceback" not in body["message"]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def dense(demo_sync_engine: Engine) -> XYZ:
    """The z14 tile holding the most parcel centroids of the county with most parcels."""
    county = rows(
        demo_sync_engine,
        "SELECT county_code FROM parcel GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
    )[0][0]
    centroids = rows(
        demo_sync_engine,
        "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) c FROM parcel "
        "WHERE county_code = :county) s",
        county=county,
    )
    counts = Counter(tile_of(lon, lat, 14) for lon, lat in centroids)
    best, _ = min(counts.items(), key=lambda kv: (-kv[1], kv[0].x, kv[0].y))
    return best


@pytest.fixture(scope="module")
def conflict_tile(demo_sync_engine: Engine) -> XYZ:
    """The z14 tile around a parcel that conflicts with basic farmland or the red line."""
    lon, lat = rows(
        demo_sync_engine,
        f"SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM parcel p "
        f"WHERE {CONFLICT_SQL} ORDER BY code LIMIT 1",
    )[0]
    return tile_of(lon, lat, 14)


# --------------------------------------------------------------------------- tiles


async def test_dense_tile_has_exactly_the_intersecting_parcels(
    client: httpx.AsyncClient, demo_sync_engine: Engine, dense: XYZ, count_sql: Any
) -> None:
    expected = parcels_in(demo_sync_engine, dense)
    assert len(expected) >= 15, "the densest tile should be dense"
    with count_sql() as sql:
        response = await client.get(f"/tiles/parcels/{dense.url}")
    assert sql.count == 1, "one SQL statement per tile"
    assert codes(response) == expected


async def test_properties_match_independent_sql(
    client: httpx.AsyncClient, demo_sync_engine: Engine, dense: XYZ, conflict_tile: XYZ
) -> None:
    seen_conflict = False
    for t in (dense, conflict_tile):
        decoded = {
            f["properties"]["code"]: f
            for f in features(await client.get(f"/tiles/parcels/{t.url}"))
        }
        truth = {
            r.code: r
            for r in rows(
                demo_sync_engine,
                "SELECT p.code, p.name, p.county_code, p.land_class::text AS land_class, "
                "p.procedure_status::text AS procedure_status, p.area_m2, "
                "pr.code AS project_code, coalesce(pr.is_key, false) AS is_key, "
                f"{CONFLICT_SQL} AS conflict, ST_X(ST_PointOnSurface(p.geom)) AS lon, "
                "ST_Y(ST_PointOnSurface(p.geom)) AS lat "
                "FROM parcel p LEFT JOIN project_parcel pp ON pp.parcel_id = p.id "
                "AND pp.unlinked_on IS NULL LEFT JOIN project pr ON pr.id = pp.project_id "
                "WHERE p.code = ANY(:codes)",
                codes=list(decoded),
            )
        }
        assert set(truth) == set(decoded)
        for code, feature in decoded.items():
            props, row = feature["properties"], truth[code]
            assert props["land_class"] == row.land_class
            assert props["procedure_status"] == row.procedure_status
            assert props["county_code"] == row.county_code
            assert props["conflict"] is row.conflict
            assert props["is_key"] is row.is_key
            assert props.get("project_code") == row.project_code
            assert props.get("name") == row.name
            assert props["area_mu"] == pytest.approx(row.area_m2 * 15 / 10000, abs=0.006)
            seen_conflict |= row.conflict
            # the geometry sits where the parcel is: a point on its surface, in tile units
            w, s, e, n = t.bounds
            if w < row.lon < e and s < row.lat < n:
                px = Point(t.to_tile_units(row.lon, row.lat))
                assert shape(feature["geometry"]).buffer(2).contains(px), code
    assert seen_conflict, "no conflicting parcel was checked"


async def test_filters(client: httpx.AsyncClient, demo_sync_engine: Engine, dense: XYZ) -> None:
    base = f"/tiles/parcels/{dense.url}"
    everything = parcels_in(demo_sync_engine, dense)
    statuses = Counter(
        r[0]
        for r in rows(
            demo_sync_engine,
            "SELECT procedure_status::text FROM parcel WHERE code = ANY(:c)",
            c=list(everything),
        )
    )
    status = statuses.most_common(1)[0][0]
    county = rows(
        demo_sync_engine, "SELECT county_code FROM parcel WHERE code = :c", c=min(everything)
    )[0][0]

    by_status = parcels_in(demo_sync_engine, dense, "p.procedure_status::text = :s", s=status)
    assert 0 < len(by_status) < len(everything)
    assert codes(await client.get(base, params={"procedure_status": status})) == by_status

    by_county = parcels_in(demo_sync_engine, dense, "p.county_code = :c", c=county)
    assert codes(await client.get(base, params={"county_code": county})) == by_county
    both = await client.get(base, params={"county_code": county, "procedure_status": status})
    assert codes(both) == by_status & by_county

    key = parcels_in(
        demo_sync_engine,
        dense,
        "EXISTS (SELECT 1 FROM project_parcel pp JOIN project pr ON pr.id = pp.project_id "
        "WHERE pp.parcel_id = p.id AND pp.unlinked_on IS NULL AND pr.is_key)",
    )
    response = await client.get(base, params={"is_key": "true"})
    assert (codes(response) if key else set()) == key

    other = await client.get(base, params={"county_code": "140500"})  # the city has no parcels
    assert other.status_code == 204 and other.content == b""


async def test_bad_requests(client: httpx.AsyncClient, dense: XYZ) -> None:
    base = f"/tiles/parcels/{dense.url}"
    assert_error(await client.get(base, params={"colour": "red"}), 400, "UNKNOWN_FILTER")
    assert_error(await client.get(base, params={"stage": "FILING"}), 400, "UNKNOWN_FILTER")
    for bad in ({"procedure_status": "APPROVED"}, {"is_key": "maybe"}, {"county_code": ""}):
        assert_error(await client.get(base, params=bad), 400, "INVALID_FILTER")
    twice = await client.get(f"{base}?county_code=140525&county_code=140521")
    assert_error(twice, 400, "INVALID_FILTER")
    nul = await client.get(f"{base}?county_code=14%000525")
    assert_error(nul, 400, "INVALID_FILTER")
    for path in ("23/0/0", "14/16384/0", "14/0/16384", "14/-1/0", "a/0/0", "14/0/99999999999999"):
        assert_error(await client.get(f"/tiles/parcels/{path}.mvt"), 400, "INVALID_TILE")
    assert_error(await client.get(f"/tiles/roads/{dense.url}"), 404, "UNKNOWN_LAYER")
    assert_error(await client.get("/tiles/roads.json"), 404, "UNKNOWN_LAYER")
    assert (
        await client.get(f"/tiles/parcels/{dense.z}/{dense.x}/{dense.y}.png")
    ).status_code == 404


async def test_min_zoom_and_empty_tiles(
    client: httpx.AsyncClient, demo_sync_engine: Engine, dense: XYZ
) -> None:
    w, s, e, n = dense.bounds
    lon, lat = (w + e) / 2, (s + n) / 2
    below = await client.get(f"/tiles/parcels/{tile_of(lon, lat, 9).url}")
    assert below.status_code == 204 and below.content == b""
    assert below.headers["x-tile-status"] == "below-min-zoom"
    assert below.headers["x-tile-min-zoom"] == "10"
    at_min = tile_of(lon, lat, 10)
    assert codes(await client.get(f"/tiles/parcels/{at_min.url}")) == parcels_in(
        demo_sync_engine, at_min
    )
    ocean = await client.get(f"/tiles/parcels/{tile_of(150.0, 0.0, 14).url}")  # Pacific
    assert ocean.status_code == 204 and ocean.content == b""
    assert ocean.headers["x-tile-status"] == "empty"
    assert "etag" not in ocean.headers and "content-type" not in ocean.headers
    # projects (points) start at z6; admin areas from z0
    assert (await client.get("/tiles/projects/5/26/12.mvt")).status_code == 204
    world = await client.get("/tiles/admin_areas/0/0/0.mvt")
    assert "140500" in codes(world, "admin_areas")


async def test_other_layers_match_independent_sql(
    client: httpx.AsyncClient, demo_sync_engine: Engine, dense: XYZ
) -> None:
    w, s, e, n = dense.bounds
    lon, lat = (w + e) / 2, (s + n) / 2
    for layer, table, geom, z in (
        ("projects", "project", "location", 10),
        ("protected_zones", "protected_zone", "geom", 12),
        ("admin_areas", "admin_area", "geom", 8),
    ):
        t = tile_of(lon, lat, z)
        expected = {
            r[0]
            for r in rows(
                demo_sync_engine,
                f"SELECT code FROM {table} WHERE ST_Intersects({geom}, "
                "ST_MakeEnvelope(:w, :s, :e, :n, 4490))",
                **dict(zip("wsen", t.bounds, strict=True)),
            )
        }
        assert expected, layer
        found = features(await client.get(f"/tiles/{layer}/{t.url}"), layer)
        assert {f["properties"]["code"] for f in found} == expected, layer
        kinds = {f["properties"].get("kind") or f["properties"].get("stage") for f in found}
        assert all(isinstance(k, str) and k.isupper() for k in kinds), kinds  # enum values


async def test_low_zoom_tiles_are_simplified_and_valid(
    client: httpx.AsyncClient, demo_sync_engine: Engine
) -> None:
    """At z6 the city's outline keeps its shape within about two pixels (16 units of
    4096 in a 512-px tile) with a fraction of the stored vertices. The tile's geometry is
    clipped at the tile edge plus the 64-unit buffer."""
    wkb, lon, lat = rows(
        demo_sync_engine,
        "SELECT ST_AsBinary(geom), ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) "
        "FROM admin_area WHERE code = '140500'",
    )[0]
    t = tile_of(lon, lat, 6)
    found = features(await client.get(f"/tiles/admin_areas/{t.url}"), "admin_areas")
    city = shape(next(f for f in found if f["properties"]["code"] == "140500")["geometry"])
    assert city.is_valid, shapely.is_valid_reason(city)
    projected = shapely.transform(
        shapely.from_wkb(bytes(wkb)), lambda xy: [t.to_tile_units(lo, la) for lo, la in xy]
    )
    expected = projected.intersection(box(-64, -64, EXTENT + 64, EXTENT + 64))
    assert expected.area > 1e5  # a substantial part of the city is in this tile
    assert shapely.get_num_coordinates(city) < shapely.get_num_coordinates(expected) / 5
    assert shapely.hausdorff_distance(city, expected) < 16
    assert city.area == pytest.approx(expected.area, rel=0.02)


async def test_etag_cache_headers_and_304(client: httpx.AsyncClient, dense: XYZ) -> None:
    url = f"/tiles/parcels/{dense.url}"
    first, second = await client.get(url), await client.get(url)
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 10  # strong
    assert second.headers["etag"] == etag and second.content == first.content
    assert first.headers["cache-control"] == "public, max-age=60"
    assert "Origin" in first.headers["vary"]
    for header in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
        cached = await client.get(url, headers={"if-none-match": header})
        assert cached.status_code == 304 and cached.content == b"", header
        assert cached.headers["etag"] == etag
        assert cached.headers["cache-control"] == "public, max-age=60"
    stale = await client.get(url, headers={"if-none-match": '"something-else"'})
    assert stale.status_code == 200 and stale.content == first.content
    # a filtered tile is a different representation with its own tag
    filtered = await client.get(url, params={"procedure_status": "DEMAND"})
    assert filtered.status_code == 204 or filtered.headers["etag"] != etag


@pytest.fixture
async def fresh_client(fresh_db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app: Starlette = create_app(Settings(database_url=fresh_db_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as c,
    ):
        yield c


async def test_a_write_changes_the_etag(
    fresh_client: httpx.AsyncClient, fresh_db_url: str, dense: XYZ
) -> None:
    url = f"/tiles/parcels/{dense.url}"
    before = await fresh_client.get(url)
    etag = before.headers["etag"]
    feature = min(features(before), key=lambda f: f["properties"]["code"])
    code, old = feature["properties"]["code"], feature["properties"]["land_class"]
    new = "UNUSED" if old != "UNUSED" else "GARDEN"
    engine = create_engine(fresh_db_url)
    try:
        with engine.begin() as conn:
            changed = conn.execute(
                text("UPDATE parcel SET land_class = :new WHERE code = :code"),
                {"new": new, "code": code},
            ).rowcount
        assert changed == 1
    finally:
        engine.dispose()
    after = await fresh_client.get(url, headers={"if-none-match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    updated = {f["properties"]["code"]: f["properties"] for f in features(after)}
    assert updated[code]["land_class"] == new
    assert (
        await fresh_client.get(url, headers={"if-none-match": after.headers["etag"]})
    ).status_code == 304


# --------------------------------------------------------------------------- TileJSON


@pytest.mark.parametrize(
    ("layer", "table", "geom", "minzoom"),
    [
        ("parcels", "parcel", "geom", 10),
        ("projects", "project", "location", 6),
        ("protected_zones", "protected_zone", "geom", 8),
        ("admin_areas", "admin_area", "geom", 0),
    ],
)
async def test_tilejson(
    client: httpx.AsyncClient,
    demo_sync_engine: Engine,
    layer: str,
    table: str,
    geom: str,
    minzoom: int,
) -> None:
    response = await client.get(f"/tiles/{layer}.json")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.headers["etag"] and response.headers["cache-control"] == "public, max-age=60"
    doc = response.json()
    assert doc["tilejson"] == "3.0.0" and doc["name"] == layer and doc["description"]
    assert doc["tiles"] == [f"http://testserver/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"]
    assert doc["minzoom"] == minzoom and doc["maxzoom"] == 22
    extent = rows(
        demo_sync_engine,
        f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
        f"FROM (SELECT ST_Extent({geom}) e FROM {table}) s",
    )[0]
    assert doc["bounds"] == pytest.approx(list(extent), abs=1e-9)
    lon, lat, zoom = doc["center"]
    assert extent[0] <= lon <= extent[2] and extent[1] <= lat <= extent[3]
    assert minzoom <= zoom <= 22
    (vector_layer,) = doc["vector_layers"]
    assert vector_layer["id"] == layer
    fields = vector_layer["fields"]
    assert "code" in fields and all(isinstance(v, str) and v for v in fields.values())
    # the fields describe what the tiles carry
    lon_c, lat_c = (extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2
    for t in (tile_of(lon_c, lat_c, max(minzoom, 10)), tile_of(extent[0], extent[3], minzoom)):
        tile = await client.get(f"/tiles/{layer}/{t.url}")
        if tile.status_code == 200:
            for feature in features(tile, layer):
                assert set(feature["properties"]) <= set(fields)


async def test_tilejson_fields_and_filters(
    client: httpx.AsyncClient, demo_sync_engine: Engine
) -> None:
    doc = (await client.get("/tiles/parcels.json")).json()
    fields = doc["vector_layers"][0]["fields"]
    assert {"code", "name", "land_class", "procedure_status", "is_key", "conflict"} <= set(fields)
    assert fields["conflict"].startswith("Boolean") and fields["area_mu"].startswith("Number")
    assert "APPROVED_UNSUPPLIED" in fields["procedure_status"]
    filtered = await client.get(
        "/tiles/parcels.json", params={"procedure_status": "SUPPLIED", "county_code": "140525"}
    )
    body = filtered.json()
    assert body["tiles"] == [
        "http://testserver/tiles/parcels/{z}/{x}/{y}.mvt?county_code=140525&procedure_status=SUPPLIED"
    ]
    extent = rows(
        demo_sync_engine,
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e "
        "FROM parcel WHERE county_code = '140525' AND procedure_status = 'SUPPLIED') s",
    )[0]
    assert body["bounds"] == pytest.approx(list(extent), abs=1e-9)
    assert_error(
        await client.get("/tiles/parcels.json", params={"kind": "x"}), 400, "UNKNOWN_FILTER"
    )


async def test_index_lists_the_layers(client: httpx.AsyncClient) -> None:
    response = await client.get("/tiles/")
    assert response.status_code == 200
    layers = response.json()["layers"]
    assert [x["name"] for x in layers] == [
        "parcels",
        "projects",
        "protected_zones",
        "admin_areas",
        "warnings",
    ]
    for entry in layers:
        assert entry["tilejson"] == f"http://testserver/tiles/{entry['name']}.json"
        doc = (await client.get(entry["tilejson"])).json()
        assert doc["tiles"] == [entry["tiles"]]
    bare = await client.get("/tiles", follow_redirects=True)  # Starlette redirects to /tiles/
    assert bare.status_code == 200 and bare.json()["layers"] == layers


# --------------------------------------------------------------------------- CORS, failures


async def test_cors_preflight_and_simple_request(client: httpx.AsyncClient, dense: XYZ) -> None:
    url = f"/tiles/parcels/{dense.url}"
    preflight = await client.options(
        url,
        headers={
            "origin": ORIGIN,
            "access-control-request-method": "GET",
            "access-control-request-headers": "if-none-match",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "GET" in preflight.headers["access-control-allow-methods"]
    simple = await client.get(url, headers={"origin": ORIGIN})
    assert simple.status_code == 200 and simple.headers["access-control-allow-origin"] == ORIGIN
    assert "etag" in simple.headers["access-control-expose-headers"].lower()
    assert "Origin" in simple.headers["vary"]
    for path in ("/tiles/parcels.json", "/tiles/"):
        response = await client.get(path, headers={"origin": ORIGIN})
        assert response.headers["access-control-allow-origin"] == ORIGIN, path
    foreign = await client.get(url, headers={"origin": "https://evil.example"})
    assert foreign.status_code == 200 and "access-control-allow-origin" not in foreign.headers
    assert "Origin" in foreign.headers["vary"]


async def test_database_failure_is_masked() -> None:
    app: Starlette = create_app(Settings(database_url=url_for("lgtest_no_such_database")))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        for path in ("/tiles/parcels/14/13298/6450.mvt", "/tiles/parcels.json"):
            response = await c.get(path)
            assert response.status_code == 500
            body = response.json()
            assert body["code"] == "INTERNAL_SERVER_ERROR"
            assert body["request_id"] == response.headers["x-request-id"]
            assert "lgtest_no_such_database" not in response.text
            assert "psycopg" not in response.text and "SELECT" not in response.text
