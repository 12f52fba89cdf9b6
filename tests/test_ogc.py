"""OGC API – Features (/ogc) and the GeoJSON download (/export), against the demo data.

Every expected answer comes from an independent SQL query on the same database, not
from the code under test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, text

from api import export
from geo import ogc as ogc_queries
from geo.warnings import LAYER_TODAY, ranked_sql

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
GEOJSON = "application/geo+json"
LAYER_TABLES = {
    "parcels": ("parcel", "geom", "MultiPolygon", "TRUE"),
    "projects": ("project", "location", "Point", "location IS NOT NULL"),
    "protected_zones": ("protected_zone", "geom", "MultiPolygon", "TRUE"),
    "admin_areas": ("admin_area", "geom", "MultiPolygon", "TRUE"),
    # derived: the warnings as of the server's date (geo/warnings.py), by the same SQL
    "warnings": (f"({ranked_sql(LAYER_TODAY)}) w", "geom", "Point", "geom IS NOT NULL"),
}


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def codes(engine: Engine, sql: str, **params: Any) -> list[str]:
    return [r[0] for r in rows(engine, sql, **params)]


def local(href: str) -> str:
    """A link's path and query, for the in-process client."""
    parts = urlsplit(href)
    assert parts.netloc == "testserver", href
    return parts.path + (f"?{parts.query}" if parts.query else "")


def links(doc: dict[str, Any], rel: str) -> list[dict[str, Any]]:
    return [lk for lk in doc["links"] if lk["rel"] == rel]


async def get_json(client: httpx.AsyncClient, url: str, status: int = 200) -> Any:
    response = await client.get(url)
    assert response.status_code == status, (url, response.text)
    return response.json()


@pytest.fixture(scope="module")
def busiest(demo_sync_engine: Engine) -> tuple[str, str, int]:
    """The (county, procedure status) pair with the most parcels: several pages of them."""
    county, status, n = rows(
        demo_sync_engine,
        "SELECT county_code, procedure_status::text, count(*) FROM parcel "
        "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 1",
    )[0]
    assert n >= 10
    return county, status, n


# ---------------------------------------------------------------- landing, conformance


async def test_landing_page_links_resolve(client: httpx.AsyncClient) -> None:
    redirect = await client.get("/ogc")
    assert redirect.status_code in (307, 308) and redirect.headers["location"].endswith("/ogc/")
    landing = await get_json(client, "/ogc/")
    assert "晋城" in landing["title"]
    rels = {lk["rel"]: lk for lk in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert rels["data"]["href"] == "http://testserver/ogc/collections"
    for rel in ("self", "conformance", "data"):
        assert (await client.get(local(rels[rel]["href"]))).status_code == 200
    api = await client.get(local(rels["service-desc"]["href"]))
    assert api.status_code == 200
    assert api.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    doc = api.json()
    assert doc["openapi"].startswith("3.0")
    limit = doc["components"]["parameters"]["limit"]["schema"]
    assert (limit["default"], limit["maximum"]) == (100, 1000)
    item_params = doc["paths"]["/collections/parcels/items"]["get"]["parameters"]
    names = {p.get("name") for p in item_params}
    assert {"county_code", "procedure_status", "land_class", "is_key"} <= names


async def test_conformance(client: httpx.AsyncClient) -> None:
    body = await get_json(client, "/ogc/conformance")
    assert set(body["conformsTo"]) == {
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    }


# ---------------------------------------------------------------- collections


async def test_collections_metadata_and_extent(
    client: httpx.AsyncClient, demo_sync_engine: Engine
) -> None:
    body = await get_json(client, "/ogc/collections")
    assert links(body, "self")
    by_id = {c["id"]: c for c in body["collections"]}
    assert set(by_id) == set(LAYER_TABLES)
    for cid, (table, column, geometry_type, where) in LAYER_TABLES.items():
        coll = by_id[cid]
        assert coll == await get_json(client, f"/ogc/collections/{cid}")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in coll["title"])  # Chinese
        assert any(ch.isascii() and ch.isalpha() for ch in coll["title"])  # and English
        assert any("\u4e00" <= ch <= "\u9fff" for ch in coll["description"])
        assert coll["itemType"] == "feature"
        assert coll["geometryType"] == geometry_type
        assert coll["crs"] == [CRS84, EPSG4490]
        assert coll["storageCrs"] == EPSG4490
        items = links(coll, "items")
        assert len(items) == 1 and items[0]["type"] == GEOJSON
        assert local(items[0]["href"]) == f"/ogc/collections/{cid}/items"
        assert local(links(coll, "self")[0]["href"]) == f"/ogc/collections/{cid}"
        expected = rows(
            demo_sync_engine,
            f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            f"FROM (SELECT ST_Extent({column}) AS e FROM {table} WHERE {where}) s",
        )[0]
        assert coll["extent"]["spatial"]["crs"] == CRS84
        (bbox,) = coll["extent"]["spatial"]["bbox"]
        assert bbox == pytest.approx(list(expected), abs=1e-9)
        # Jincheng, lon/lat
        assert 111 < bbox[0] < bbox[2] < 114 and 35 < bbox[1] < bbox[3] < 36.5


async def test_unknown_collection_and_path_are_json_404(client: httpx.AsyncClient) -> None:
    for url in (
        "/ogc/collections/roads",
        "/ogc/collections/roads/items",
        "/ogc/collections/roads/items/x",
        "/ogc/nothing/here",
    ):
        body = await get_json(client, url, 404)
        assert body["code"] == "NotFound" and body["description"]


# ---------------------------------------------------------------- items


async def walk(client: httpx.AsyncClient, url: str, expected: list[str], limit: int) -> list[str]:
    """Follow the next links from `url`; check each page; return the ids seen."""
    seen: list[str] = []
    pages = 0
    next_url: str | None = url
    while next_url is not None:
        url = next_url
        response = await client.get(url)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(GEOJSON)
        assert response.headers["content-crs"] == f"<{CRS84}>"
        page = response.json()
        assert page["type"] == "FeatureCollection"
        assert page["numberMatched"] == len(expected)
        assert page["numberReturned"] == len(page["features"]) <= limit
        assert page["timeStamp"].endswith("Z")
        assert local(links(page, "self")[0]["href"]) == url
        for feature in page["features"]:
            assert feature["type"] == "Feature"
            assert feature["id"] == feature["properties"]["code"]
            seen.append(feature["id"])
        if pages > 0:
            prev = links(page, "prev")
            assert prev and parse_qs(urlsplit(prev[0]["href"]).query)["offset"] == [
                str((pages - 1) * limit)
            ]
        else:
            assert not links(page, "prev")
        nxt = links(page, "next")
        assert len(nxt) <= 1
        next_url = local(nxt[0]["href"]) if nxt else None
        if nxt:
            assert nxt[0]["type"] == GEOJSON
        pages += 1
    assert pages == max(1, -(-len(expected) // limit))
    return seen


@pytest.mark.parametrize("deferred", [False, True])
async def test_paging_walks_a_filtered_collection_exactly_once(
    client: httpx.AsyncClient,
    demo_sync_engine: Engine,
    busiest: tuple[str, str, int],
    monkeypatch: pytest.MonkeyPatch,
    deferred: bool,
) -> None:
    if deferred:  # build every page the way pages past DEFERRED_OFFSET are built
        monkeypatch.setattr(ogc_queries, "DEFERRED_OFFSET", 0)
    county, status, n = busiest
    expected = codes(
        demo_sync_engine,
        "SELECT code FROM parcel WHERE county_code = :c AND procedure_status::text = :s "
        "ORDER BY code",
        c=county,
        s=status,
    )
    limit = max(3, n // 4)
    url = (
        f"/ogc/collections/parcels/items?county_code={county}&procedure_status={status}"
        f"&limit={limit}"
    )
    seen = await walk(client, url, expected, limit)
    assert seen == expected and len(expected) > limit  # every feature once, in key order
    page = await get_json(client, f"{url}&offset={limit}")
    assert all(
        f["properties"]["county_code"] == county and f["properties"]["procedure_status"] == status
        for f in page["features"]
    )


async def test_paging_walks_every_parcel_by_maximum_pages(
    client: httpx.AsyncClient, demo_sync_engine: Engine
) -> None:
    """Pages at offsets 1000, 2000, … are built by the deferred (keys first) query."""
    expected = codes(demo_sync_engine, "SELECT code FROM parcel ORDER BY code")
    assert len(expected) > 1000 + ogc_queries.DEFERRED_OFFSET
    seen = await walk(client, "/ogc/collections/parcels/items?limit=1000", expected, 1000)
    assert seen == expected


async def test_boolean_filter_follows_the_active_project_link(
    client: httpx.AsyncClient, demo_sync_engine: Engine
) -> None:
    expected = codes(
        demo_sync_engine,
        "SELECT p.code FROM parcel p JOIN project_parcel pp ON pp.parcel_id = p.id "
        "AND pp.unlinked_on IS NULL JOIN project pr ON pr.id = pp.project_id "
        "WHERE pr.is_key ORDER BY p.code",
    )
    assert expected
    page = await get_json(client, "/ogc/collections/parcels/items?is_key=true&limit=1000")
    assert page["numberMatched"] == len(expected)
    assert [f["id"] for f in page["features"]] == expected[:1000]
    assert all(f["properties"]["is_key"] is True for f in page["features"])


async def test_number_matched_for_each_layer(
    client: httpx.AsyncClient, demo_sync_engine: Engine
) -> None:
    for cid, (table, _column, geometry_type, where) in LAYER_TABLES.items():
        (count,) = rows(demo_sync_engine, f"SELECT count(*) FROM {table} WHERE {where}")[0]
        page = await get_json(client, f"/ogc/collections/{cid}/items?limit=5")
        assert page["numberMatched"] == count
        assert page["numberReturned"] == min(5, count)
        assert {f["geometry"]["type"] for f in page["features"]} <= {geometry_type}


async def test_limit_default_and_clamp(client: httpx.AsyncClient, demo_sync_engine: Engine) -> None:
    (total,) = rows(demo_sync_engine, "SELECT count(*) FROM parcel")[0]
    assert total > 1000, "the demo set should have more than one maximum page of parcels"
    default = await get_json(client, "/ogc/collections/parcels/items")
    assert default["numberReturned"] == 100
    clamped = await get_json(client, "/ogc/collections/parcels/items?limit=5000")
    assert clamped["numberReturned"] == 1000 and clamped["numberMatched"] == total
    nxt = parse_qs(urlsplit(links(clamped, "next")[0]["href"]).query)
    assert nxt["limit"] == ["1000"] and nxt["offset"] == ["1000"]
    beyond = await get_json(client, f"/ogc/collections/parcels/items?offset={total + 5}")
    assert beyond["numberReturned"] == 0 and beyond["features"] == []
    assert not links(beyond, "next") and links(beyond, "prev")


async def test_bbox_matches_st_intersects(
    client: httpx.AsyncClient, demo_sync_engine: Engine
) -> None:
    x0, y0, x1, y1 = rows(
        demo_sync_engine,
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
        "FROM (SELECT ST_Extent(geom) e FROM parcel) s",
    )[0]
    # the middle third of the parcels' extent
    box = (x0 + (x1 - x0) / 3, y0 + (y1 - y0) / 3, x0 + 2 * (x1 - x0) / 3, y0 + 2 * (y1 - y0) / 3)
    expected = codes(
        demo_sync_engine,
        "SELECT code FROM parcel WHERE ST_Intersects(geom, "
        "ST_MakeEnvelope(:a, :b, :c, :d, 4490)) ORDER BY code",
        a=box[0],
        b=box[1],
        c=box[2],
        d=box[3],
    )
    (total,) = rows(demo_sync_engine, "SELECT count(*) FROM parcel")[0]
    assert 0 < len(expected) < min(total, 1000)
    bbox = ",".join(repr(v) for v in box)
    page = await get_json(client, f"/ogc/collections/parcels/items?bbox={bbox}&limit=1000")
    assert page["numberMatched"] == len(expected)
    assert [f["id"] for f in page["features"]] == expected
    # the same box in EPSG:4490's own axis order (lat, lon)
    lat_first = ",".join(repr(v) for v in (box[1], box[0], box[3], box[2]))
    same = await get_json(
        client,
        f"/ogc/collections/parcels/items?bbox={lat_first}&bbox-crs={EPSG4490}&limit=1000",
    )
    assert [f["id"] for f in same["features"]] == expected
    # combined with a property filter
    kind_expected = codes(
        demo_sync_engine,
        "SELECT code FROM parcel WHERE land_class = 'CONSTRUCTION' AND ST_Intersects(geom, "
        "ST_MakeEnvelope(:a, :b, :c, :d, 4490)) ORDER BY code",
        a=box[0],
        b=box[1],
        c=box[2],
        d=box[3],
    )
    both = await get_json(
        client, f"/ogc/collections/parcels/items?bbox={bbox}&land_class=CONSTRUCTION&limit=1000"
    )
    assert [f["id"] for f in both["features"]] == kind_expected


def _positions(geometry: dict[str, Any]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []

    def walk(node: Any) -> None:
        if isinstance(node[0], (int, float)):
            out.append((node[0], node[1]))
        else:
            for child in node:
                walk(child)

    walk(geometry["coordinates"])
    return out


async def test_crs_4490_is_lat_lon(client: httpx.AsyncClient) -> None:
    for cid in ("parcels", "projects"):
        base = f"/ogc/collections/{cid}/items?limit=20"
        lonlat = await client.get(base)
        latlon = await client.get(f"{base}&crs={EPSG4490}")
        assert lonlat.headers["content-crs"] == f"<{CRS84}>"
        assert latlon.headers["content-crs"] == f"<{EPSG4490}>"
        a, b = lonlat.json()["features"], latlon.json()["features"]
        assert [f["id"] for f in a] == [f["id"] for f in b] and a
        for fa, fb in zip(a, b, strict=True):
            assert fa["properties"] == fb["properties"]
            pa, pb = _positions(fa["geometry"]), _positions(fb["geometry"])
            assert pb == [(y, x) for x, y in pa]
            assert all(35 < lat < 36.5 and 111 < lon < 114 for lat, lon in pb)
    # the short forms are accepted too and answered with the URI
    short = await client.get("/ogc/collections/parcels/items?limit=1&crs=EPSG:4490")
    assert short.headers["content-crs"] == f"<{EPSG4490}>"


async def test_single_item(client: httpx.AsyncClient, demo_sync_engine: Engine) -> None:
    code = codes(demo_sync_engine, "SELECT code FROM parcel ORDER BY code DESC LIMIT 1")[0]
    response = await client.get(f"/ogc/collections/parcels/items/{code}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GEOJSON)
    feature = response.json()
    assert feature["type"] == "Feature" and feature["id"] == code
    assert local(links(feature, "collection")[0]["href"]) == "/ogc/collections/parcels"
    assert local(links(feature, "self")[0]["href"]) == f"/ogc/collections/parcels/items/{code}"
    (n_pos,) = rows(
        demo_sync_engine, "SELECT ST_NPoints(geom) FROM parcel WHERE code = :c", c=code
    )[0]
    assert len(_positions(feature["geometry"])) == n_pos
    flipped = await get_json(client, f"/ogc/collections/parcels/items/{code}?crs={EPSG4490}")
    assert _positions(flipped["geometry"]) == [(y, x) for x, y in _positions(feature["geometry"])]

    admin = await get_json(client, "/ogc/collections/admin_areas/items/140525")
    assert admin["properties"]["name"] == "泽州县"
    for url in (
        "/ogc/collections/parcels/items/NO-SUCH-CODE",
        "/ogc/collections/projects/items/140525",  # a code of another layer
        "/ogc/collections/parcels/items/" + "x" * 300,
    ):
        body = await get_json(client, url, 404)
        assert body["code"] == "NotFound"


@pytest.mark.parametrize(
    "query",
    [
        "procedure_status=SUPPLYED",  # enum typo
        "land_class=farmland",  # enum values are upper case
        "is_key=maybe",
        "stage=COMPLETED",  # a projects filter, not a parcels one
        "colour=red",  # unknown parameter
        "county_code=140525&county_code=140521",  # repeated
        "county_code=" + "1" * 20,
        "limit=0",
        "limit=ten",
        "limit=-5",
        "offset=-1",
        "offset=1.5",
        "bbox=112,35,113",
        "bbox=112,35,113,x",
        "bbox=113,35,112,36",  # min > max
        "bbox=35,112,36,113",  # lat/lon swapped in CRS84
        "bbox=112,35,113,nan",
        "bbox-crs=" + EPSG4490,  # without bbox
        "bbox=112,35,113,36&bbox-crs=EPSG:3857",
        "crs=EPSG:4326",
        "crs=http://www.opengis.net/def/crs/EPSG/0/3857",
        "datetime=yesterday",
        "f=xml",
        "filter=county_code%3D'140525'",
    ],
)
async def test_bad_parameters_are_400_json(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/ogc/collections/parcels/items?{query}")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "InvalidParameterValue" and body["description"]
    assert "SELECT" not in body["description"] and "Traceback" not in response.text


async def test_accepted_parameters(client: httpx.AsyncClient) -> None:
    for query in (
        "datetime=2024-01-01T00:00:00Z/..",
        "f=json",
        "f=geojson",
        "is_key=1",  # GDAL's OAPIF driver sends booleans as 1/0
        "bbox=112,35,0,113,36,100",  # 6 numbers: heights are ignored
        f"bbox-crs={CRS84}&bbox=112,35,113,36",
    ):
        response = await client.get(f"/ogc/collections/parcels/items?limit=1&{query}")
        assert response.status_code == 200, (query, response.text)
    for url in ("/ogc/?f=html", "/ogc/collections?x=1", "/ogc/collections/parcels/items/a?limit=1"):
        assert (await client.get(url)).status_code == 400, url


# ---------------------------------------------------------------- export


async def test_export_downloads_the_filtered_collection(
    client: httpx.AsyncClient, demo_sync_engine: Engine, busiest: tuple[str, str, int]
) -> None:
    county, status, _n = busiest
    expected = codes(
        demo_sync_engine,
        "SELECT code FROM parcel WHERE county_code = :c AND procedure_status::text = :s "
        "ORDER BY code",
        c=county,
        s=status,
    )
    response = await client.get(
        f"/export/parcels.geojson?county_code={county}&procedure_status={status}"
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GEOJSON)
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="parcels-')
    assert disposition.endswith('.geojson"')
    doc = json.loads(response.content)
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert [f["id"] for f in doc["features"]] == expected
    first = doc["features"][0]
    assert first["geometry"]["type"] == "MultiPolygon"
    assert all(111 < lon < 114 and 35 < lat < 36.5 for lon, lat in _positions(first["geometry"]))


async def test_export_whole_layer_and_bbox(
    client: httpx.AsyncClient, demo_sync_engine: Engine
) -> None:
    (total,) = rows(demo_sync_engine, "SELECT count(*) FROM project WHERE location IS NOT NULL")[0]
    whole = await client.get("/export/projects.geojson")
    assert whole.status_code == 200
    assert len(json.loads(whole.content)["features"]) == total
    expected = codes(
        demo_sync_engine,
        "SELECT code FROM project WHERE ST_Intersects(location, "
        "ST_MakeEnvelope(112.5, 35.3, 113.0, 35.7, 4490)) ORDER BY code",
    )
    boxed = await client.get("/export/projects.geojson?bbox=112.5,35.3,113.0,35.7&is_key=false")
    non_key = set(
        codes(
            demo_sync_engine, "SELECT code FROM project WHERE NOT is_key AND location IS NOT NULL"
        )
    )
    assert [f["id"] for f in json.loads(boxed.content)["features"]] == [
        c for c in expected if c in non_key
    ]


async def test_export_errors(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, demo_sync_engine: Engine
) -> None:
    assert (await client.get("/export/roads.geojson")).status_code == 404
    bad = await client.get("/export/parcels.geojson?procedure_status=NOPE")
    assert bad.status_code == 400 and bad.json()["code"] == "InvalidParameterValue"
    assert (await client.get("/export/parcels.geojson?limit=5")).status_code == 400
    (total,) = rows(demo_sync_engine, "SELECT count(*) FROM parcel")[0]
    monkeypatch.setattr(export, "EXPORT_MAX_FEATURES", total - 1)
    too_many = await client.get("/export/parcels.geojson")
    assert too_many.status_code == 413
    body = too_many.json()
    assert body["code"] == "TooManyFeatures" and str(total) in body["description"]
    assert (await client.get("/export/parcels.geojson?county_code=140525")).status_code == 200


@pytest.mark.skipif(
    shutil.which("ogrinfo") is None,
    reason="ogrinfo (Debian package gdal-bin) is not installed; scripts/bootstrap.sh installs it",
)
async def test_export_opens_in_ogrinfo(
    client: httpx.AsyncClient, demo_sync_engine: Engine, tmp_path: Path
) -> None:
    """GDAL is what QGIS reads GeoJSON with."""
    for layer, (table, _column, geometry_type, where) in LAYER_TABLES.items():
        (count,) = rows(demo_sync_engine, f"SELECT count(*) FROM {table} WHERE {where}")[0]
        response = await client.get(f"/export/{layer}.geojson")
        path = tmp_path / f"{layer}.geojson"
        path.write_bytes(response.content)
        out = subprocess.run(
            ["ogrinfo", "-ro", "-so", "-al", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        assert f"Feature Count: {count}" in out, out
        gdal_type = {"MultiPolygon": "Multi Polygon", "Point": "Point"}[geometry_type]
        assert f"Geometry: {gdal_type}" in out, out
        assert "code: String" in out
