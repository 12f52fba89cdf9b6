"""Bulk import (geo/imports, `python -m api import`) against a real PostGIS, each test on its
own clone of the demo database.

Input files are made here: GeoJSON by hand, Shapefile and GeoPackage with pyogrio from the
same features, Excel with openpyxl. Expected numbers are worked out by hand (a 1 km square in
EPSG:4547 is 1,000,000 m² = 1,500 亩 = 100 公顷) or by an independent PostGIS query; rows
are counted before and after to prove what was (not) stored.

The area around EPSG:4547 (388000–393000, 3938000–3943000), in 泽州县 north-west of the
city, has no demo parcel (seed 2024), so new parcels go there.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyogrio import raw
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from api.cli import main
from geo.imports import ImportOptions, Kind, run_import
from geo.imports import fields as F
from geo.imports.report import IMPORT_CODES, ImportFileError
from schema.errors import ErrorCode

X0, Y0 = 388000.0, 3938000.0  # empty corner, EPSG:4547 metres
TODAY = dt.date(2026, 11, 27)
M2_PER_MU = 10000 / 15


@pytest.fixture
def db(fresh_db_url: str) -> Iterator[Engine]:
    engine = create_engine(fresh_db_url)
    yield engine
    engine.dispose()


def count(db: Engine, table: str, where: str = "true") -> int:
    with db.connect() as c:
        return int(c.execute(text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one())


def counts(db: Engine) -> dict[str, int]:
    tables = ("parcel", "parcel_status_event", "project_parcel", "project", "protected_zone")
    return {t: count(db, t) for t in tables}


def square(x: float, y: float, side: float) -> list[list[list[float]]]:
    return [[[x, y], [x + side, y], [x + side, y + side], [x, y + side], [x, y]]]


def to_degrees(db: Engine, x: float, y: float, side: float) -> list[list[list[float]]]:
    """A square drawn in EPSG:4547 metres, its corners transformed to 4490 by PostGIS."""
    with db.connect() as c:
        ring = c.execute(
            text(
                "SELECT ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(:x, :y, :x2, :y2, 4547), 4490), 12)"
            ),
            {"x": x, "y": y, "x2": x + side, "y2": y + side},
        ).scalar_one()
    coords: list[list[list[float]]] = json.loads(ring)["coordinates"]
    return coords


def feature(fid: str, props: dict[str, Any], geometry: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "properties": props, "geometry": geometry}


def polygon(coords: Any) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": coords}


def write_geojson(path: Path, features: list[dict[str, Any]], srid: int | None = 4490) -> Path:
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if srid is not None:
        doc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def parcel_props(
    code: str, county: str = "泽州县", land: str = "耕地", **extra: Any
) -> dict[str, Any]:
    return {"地块编号": code, "行政区代码": county, "地类": land, **extra}


def options(kind: Kind, path: Path, **kw: Any) -> ImportOptions:
    return ImportOptions(kind=kind, path=path, today=TODAY, **kw)


# --------------------------------------------------------------------------- good files


def test_gk_square_imports_with_hand_worked_area(db: Engine, tmp_path: Path) -> None:
    """A 1 km × 1 km square in EPSG:4547 → 1,000,000 m² = 1,500 亩 = 100 公顷, stored in 4490."""
    path = write_geojson(
        tmp_path / "gk.geojson",
        [feature("1", parcel_props("IMP-GK-1", "140525"), polygon(square(X0, Y0, 1000)))],
        srid=4547,
    )
    before = counts(db)
    result = run_import(db, options(Kind.PARCELS, path))
    assert result.errors == []
    assert (result.rows_read, result.valid, result.written) == (1, 1, 1)
    assert result.source_srid == 4547
    with db.connect() as c:
        srid, gk, area, back = c.execute(
            text(
                "SELECT ST_SRID(geom), gk_srid, area_m2, ST_Area(ST_Transform(geom, 4547))"
                " FROM parcel WHERE code = 'IMP-GK-1'"
            )
        ).one()
    assert (srid, gk) == (4490, 4547)
    assert area == pytest.approx(1_000_000, abs=0.01)
    assert area == pytest.approx(back, abs=1e-6)
    assert area / M2_PER_MU == pytest.approx(1500, abs=1e-5)
    assert area / 10000 == pytest.approx(100, abs=1e-6)
    assert result.valid_area_m2 == pytest.approx(1_000_000, abs=0.01)
    assert result.written_area_m2 == pytest.approx(area, abs=1e-6)
    summary = result.summary()
    assert summary["written_area"]["mu"] == pytest.approx(1500, abs=1e-3)
    assert summary["written_area"]["ha"] == pytest.approx(100, abs=1e-3)
    after = counts(db)
    assert after["parcel"] == before["parcel"] + 1
    assert after["parcel_status_event"] == before["parcel_status_event"] + 1


def test_dry_run_writes_then_rolls_back(db: Engine, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "d.geojson",
        [
            feature(str(i), parcel_props(f"D-{i}"), polygon(square(X0 + i * 200, Y0, 100)))
            for i in range(3)
        ],
        srid=4547,
    )
    before = counts(db)
    result = run_import(db, options(Kind.PARCELS, path, dry_run=True))
    assert (result.errors, result.written, result.would_write) == ([], 0, 3)
    assert result.valid_area_m2 == pytest.approx(30_000, abs=0.01)
    assert counts(db) == before


def test_wgs84_and_cgcs2000_files_store_4490_with_the_same_numbers(
    db: Engine, tmp_path: Path
) -> None:
    """4326 and 4490 lon/lat are the same numbers here; the stored SRID is 4490 either way and
    the area is the independent GK-zone area of the input ring."""
    ring = to_degrees(db, X0, Y0, 500)
    shifted = to_degrees(db, X0 + 1000, Y0, 500)
    a = write_geojson(
        tmp_path / "a.geojson", [feature("a", parcel_props("W-1"), polygon(ring))], 4326
    )
    b = write_geojson(
        tmp_path / "b.geojson", [feature("b", parcel_props("C-1"), polygon(shifted))], None
    )
    assert run_import(db, options(Kind.PARCELS, a)).written == 1
    assert run_import(db, options(Kind.PARCELS, b)).written == 1  # no crs member = RFC 7946 4326
    with db.connect() as c:
        rows = c.execute(
            text(
                "SELECT p.code, ST_SRID(p.geom), p.area_m2,"
                " ST_Area(ST_Transform(ST_GeomFromGeoJSON(:g), 4547)),"
                " ST_HausdorffDistance(p.geom, ST_SetSRID(ST_GeomFromGeoJSON(:g), 4490))"
                " FROM parcel p WHERE p.code = 'W-1'"
            ),
            {"g": json.dumps(polygon(ring))},
        ).one()
    assert rows[1] == 4490
    assert rows[2] == pytest.approx(rows[3], rel=1e-9)
    assert rows[2] == pytest.approx(250_000, abs=0.5)
    assert rows[4] < 1e-9  # coordinates unchanged by the 4326 → 4490 transform


def test_edge_sharing_neighbours_are_not_overlaps(db: Engine, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "n.geojson",
        [
            feature("1", parcel_props("N-1"), polygon(square(X0, Y0, 100))),
            feature("2", parcel_props("N-2"), polygon(square(X0 + 100, Y0, 100))),
            feature("3", parcel_props("N-3"), polygon(square(X0 + 200, Y0 + 100, 100))),  # corner
        ],
        srid=4547,
    )
    result = run_import(db, options(Kind.PARCELS, path))
    assert result.errors == []
    assert result.written == 3
    assert result.written_area_m2 == pytest.approx(30_000, abs=0.01)


# --------------------------------------------------------------------------- bad rows


def _demo_parcel(db: Engine) -> tuple[str, str, dict[str, Any]]:
    with db.connect() as c:
        code, county, gj = c.execute(
            text(
                "SELECT code, county_code, ST_AsGeoJSON(geom, 12) FROM parcel"
                " WHERE ST_NumGeometries(geom) = 1 ORDER BY code LIMIT 1"
            )
        ).one()
    return code, county, json.loads(gj)


def _bad_file(db: Engine, tmp_path: Path) -> tuple[Path, dict[int, str], list[str]]:
    """Good rows and one bad row of each kind; returns the file, {row: code} of the bad rows
    and the codes of the good rows."""
    demo_code, demo_county, demo_geom = _demo_parcel(db)
    cell = iter(range(100))

    def deg(side: float = 200) -> dict[str, Any]:
        k = next(cell)
        return polygon(to_degrees(db, X0 + (k % 10) * 400, Y0 + (k // 10) * 400, side))

    bow_tie = [
        [[112.77, 35.57], [112.78, 35.58], [112.78, 35.57], [112.77, 35.58], [112.77, 35.57]]
    ]
    unclosed = [[[112.77, 35.57], [112.78, 35.57], [112.78, 35.58], [112.77, 35.58]]]
    many = deg()["coordinates"][0][0]
    circle = [
        [many[0] + 0.001 * math.cos(t), many[1] + 0.001 * math.sin(t)]
        for t in np.linspace(0, 2 * math.pi, 80, endpoint=False)
    ]
    circle.append(circle[0])
    overlap_mine = deg(200)
    overlap_again = {
        "type": "Polygon",
        "coordinates": [[[x + 0.0005, y] for x, y in overlap_mine["coordinates"][0]]],
    }
    rows: list[tuple[dict[str, Any], dict[str, Any] | None, str | None]] = [
        (parcel_props("G-01"), deg(), None),
        (parcel_props("B-02"), polygon(bow_tie), "INVALID_GEOMETRY"),
        (parcel_props("B-03"), polygon(unclosed), "INVALID_GEOJSON"),
        (
            parcel_props("B-04"),
            {
                "type": "Polygon",
                "coordinates": [
                    [
                        [112.77, 35.57, 900.0],
                        [112.78, 35.57, 900.0],
                        [112.78, 35.58, 900.0],
                        [112.77, 35.57, 900.0],
                    ]
                ],
            },
            "NOT_2D",
        ),
        (
            parcel_props("B-05"),
            polygon([[[35.57, 112.77], [35.58, 112.77], [35.58, 112.78], [35.57, 112.77]]]),
            "COORDINATE_OUT_OF_RANGE",
        ),
        (
            parcel_props("B-06"),
            {"type": "Point", "coordinates": [112.77, 35.57]},
            "UNSUPPORTED_GEOMETRY_TYPE",
        ),
        (parcel_props("B-07"), polygon([circle]), "TOO_MANY_VERTICES"),
        (parcel_props("B-08", county="火星区"), deg(), "UNKNOWN_COUNTY"),
        (parcel_props("G-01"), deg(), "DUPLICATE_CODE"),
        (parcel_props(demo_code), deg(), "DUPLICATE_CODE"),
        ({"地块编号": "B-11", "行政区代码": "140525"}, deg(), "MISSING_FIELD"),
        (parcel_props("B-12", land="月球土"), deg(), "BAD_VALUE"),
        (parcel_props("B-13", county=demo_county), demo_geom, "PARCEL_OVERLAP"),
        (parcel_props("G-14"), overlap_mine, None),
        (parcel_props("B-15"), overlap_again, "PARCEL_OVERLAP"),
        (parcel_props("B-16"), polygon(square(116.39, 39.90, 0.01)), "COORDINATE_OUT_OF_RANGE"),
        (parcel_props("B-17", 项目代码="NO-SUCH-PROJECT"), deg(), "UNKNOWN_PROJECT"),
        (parcel_props("B-18", 用地状态="已供地"), deg(), "MISSING_FIELD"),
        (parcel_props("B-19"), None, "EMPTY_GEOMETRY"),
        (parcel_props("G-20", 用地状态="已供地", 供地方式="划拨"), deg(), None),
        (parcel_props("G-21", land="CONSTRUCTION"), deg(), None),
    ]
    features = [feature(f"f{i}", p, g) for i, (p, g, _) in enumerate(rows, start=1)]
    text_doc = json.dumps(
        {
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": "EPSG:4490"}},
            "features": features,
        },
        ensure_ascii=False,
    )
    # a NaN coordinate, as some exporters write it (json.dumps cannot produce it in a list)
    nan_feature = json.dumps(feature("f22", parcel_props("B-22"), None))[:-1]
    nan_feature = nan_feature.replace(
        '"geometry": null',
        '"geometry": {"type": "Polygon", "coordinates": [[[112.77, NaN], [112.78, 35.57], [112.78, 35.58], [112.77, NaN]]]}',
    )
    text_doc = text_doc[:-2] + ", " + nan_feature + "}]}"
    path = tmp_path / "bad.geojson"
    path.write_text(text_doc, encoding="utf-8")
    expected = {i: code for i, (_, _, code) in enumerate(rows, start=1) if code}
    expected[22] = "INVALID_GEOJSON"
    good = [p["地块编号"] for p, _, code in rows if code is None]
    return path, expected, good


def test_every_bad_row_reported_with_its_code_and_nothing_stored(
    db: Engine, tmp_path: Path
) -> None:
    path, expected, _ = _bad_file(db, tmp_path)
    before = counts(db)
    result = run_import(db, options(Kind.PARCELS, path, max_vertices=60))
    assert result.rows_read == 22
    assert {(e.row, e.code) for e in result.errors} == set(expected.items())
    assert result.bad_rows == sorted(expected)
    assert result.invalid == len(expected) == 18
    assert result.written == 0
    assert counts(db) == before
    by_row = {e.row: e for e in result.errors}
    assert by_row[2].fid == "f2" and by_row[2].record_code == "B-02"
    assert "Self-intersection" in by_row[2].message and by_row[2].details
    assert by_row[8].column == "行政区代码"
    assert by_row[9].details == {"first_row": 1}
    assert by_row[11].column == "地类"
    assert by_row[15].details["other_row"] == 14
    assert by_row[13].details["other_code"] == _demo_parcel(db)[0]
    with db.connect() as c:
        demo_area = c.execute(
            text("SELECT area_m2 FROM parcel WHERE code = :c"), {"c": _demo_parcel(db)[0]}
        ).scalar_one()
    assert by_row[13].details["shared_area_m2"] == pytest.approx(demo_area, rel=1e-5)


def test_skip_invalid_stores_exactly_the_good_rows(db: Engine, tmp_path: Path) -> None:
    path, expected, good = _bad_file(db, tmp_path)
    before = counts(db)
    result = run_import(db, options(Kind.PARCELS, path, max_vertices=60, skip_invalid=True))
    assert {(e.row, e.code) for e in result.errors} == set(expected.items())
    assert result.written == len(good) == 4
    after = counts(db)
    assert after["parcel"] == before["parcel"] + 4
    assert after["parcel_status_event"] == before["parcel_status_event"] + 4
    with db.connect() as c:
        stored = c.execute(
            text(
                "SELECT code, procedure_status, supply_method, land_class FROM parcel"
                " WHERE code = ANY(:codes) ORDER BY code"
            ),
            {"codes": good + [f"B-{i:02d}" for i in range(2, 23)]},
        ).all()
        total = c.execute(
            text("SELECT sum(area_m2) FROM parcel WHERE code = ANY(:codes)"), {"codes": good}
        ).scalar_one()
    assert [r[0] for r in stored] == sorted(good)
    assert ("G-20", "SUPPLIED", "ALLOCATION", "FARMLAND") in [tuple(r) for r in stored]
    assert ("G-21", "DEMAND", None, "CONSTRUCTION") in [tuple(r) for r in stored]
    assert result.written_area_m2 == pytest.approx(total, rel=1e-12)


def test_unsupported_crs_refused_as_a_whole(db: Engine, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "m.geojson",
        [feature("1", parcel_props("M-1"), polygon(square(12_560_000, 4_230_000, 1000)))],
        srid=3857,
    )
    before = counts(db)
    with pytest.raises(ImportFileError) as info:
        run_import(db, options(Kind.PARCELS, path))
    assert info.value.code == "UNSUPPORTED_SRID"
    assert counts(db) == before


# --------------------------------------------------------------------------- Shapefile, GPKG


def _write_ogr(
    path: Path, features: list[tuple[dict[str, Any], Any]], *, srid: int, **kw: Any
) -> None:
    columns = list(features[0][0])
    geoms = np.array([shapely.to_wkb(g) for _, g in features], dtype=object)
    values = [np.array([p[c] for p, _ in features], dtype=object) for c in columns]
    driver = "GPKG" if path.suffix == ".gpkg" else "ESRI Shapefile"
    raw.write(
        path,
        geoms,
        values,
        columns,
        crs=f"EPSG:{srid}",
        geometry_type="Polygon",
        driver=driver,
        **kw,
    )


NAMES = ("晋城市泽州县金村镇地块", "巴公镇北石店工业园地块", "高都镇东沟村地块")


def _named_features() -> list[tuple[dict[str, Any], Any]]:
    return [
        (
            {"dkbh": f"SHP-{i}", "dkmc": name, "xzqdm": "140525", "dlmc": "林地"},
            shapely.box(X0 + i * 300, Y0 + 2000, X0 + i * 300 + 200, Y0 + 2200),
        )
        for i, name in enumerate(NAMES)
    ]


def test_shapefile_with_gbk_cpg_round_trips_chinese_names(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "gbk.shp"
    _write_ogr(path, _named_features(), srid=4547, encoding="GBK")
    assert path.with_suffix(".cpg").read_text().strip().upper() == "GBK"
    dbf = path.with_suffix(".dbf").read_bytes()
    assert NAMES[0].encode("gbk") in dbf and NAMES[0].encode("utf-8") not in dbf
    result = run_import(db, options(Kind.PARCELS, path))
    assert result.errors == [] and result.written == 3
    with db.connect() as c:
        stored = dict(
            c.execute(text("SELECT code, name FROM parcel WHERE code LIKE 'SHP-%'")).all()
        )
        areas = c.execute(
            text("SELECT min(area_m2), max(area_m2) FROM parcel WHERE code LIKE 'SHP-%'")
        ).one()
    assert stored == {f"SHP-{i}": n for i, n in enumerate(NAMES)}
    assert areas[0] == pytest.approx(40_000, abs=0.01) and areas[1] == pytest.approx(
        40_000, abs=0.01
    )


def test_shapefile_without_cpg_takes_the_encoding_option(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "nocpg.shp"
    _write_ogr(path, _named_features(), srid=4547, encoding="GBK")
    path.with_suffix(".cpg").unlink()
    result = run_import(db, options(Kind.PARCELS, path, encoding="GBK"))
    assert result.written == 3
    with db.connect() as c:
        assert (
            c.execute(text("SELECT name FROM parcel WHERE code = 'SHP-1'")).scalar_one() == NAMES[1]
        )


def test_geopackage_layers_and_crs(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "p.gpkg"
    _write_ogr(path, _named_features(), srid=4547, layer="parcels")
    _write_ogr(path, _named_features(), srid=3857, layer="web")
    with pytest.raises(ImportFileError) as many:
        run_import(db, options(Kind.PARCELS, path))
    assert many.value.code == "UNSUPPORTED_FORMAT" and "--layer" in many.value.message
    with pytest.raises(ImportFileError) as web:
        run_import(db, options(Kind.PARCELS, path, layer="web"))
    assert web.value.code == "UNSUPPORTED_SRID"
    result = run_import(db, options(Kind.PARCELS, path, layer="parcels"))
    assert (result.written, result.source_srid) == (3, 4547)
    assert result.written_area_m2 == pytest.approx(120_000, abs=0.05)


# --------------------------------------------------------------------------- zones, admin areas


def test_zones_and_admin_areas_with_chinese_labels(db: Engine, tmp_path: Path) -> None:
    zones = write_geojson(
        tmp_path / "z.geojson",
        [
            feature(
                "1",
                {"编号": "Z-1", "类型": "永久基本农田", "名称": "测试基本农田"},
                polygon(square(X0, Y0, 1000)),
            ),
            feature(
                "2",
                {"编号": "Z-2", "类型": "生态保护红线", "名称": "测试红线", "县区": "泽州县"},
                polygon(square(X0 + 500, Y0, 1000)),
            ),
            feature(
                "3",
                {"编号": "Z-3", "类型": "URBAN_BOUNDARY", "名称": "测试边界"},
                polygon(square(X0, Y0 + 1000, 1000)),
            ),
            feature(
                "4",
                {"编号": "Z-4", "类型": "农田?", "名称": "坏"},
                polygon(square(X0, Y0 + 3000, 100)),
            ),
        ],
        srid=4547,
    )
    before = count(db, "protected_zone")
    bad = run_import(db, options(Kind.ZONES, zones))
    assert [(e.row, e.code) for e in bad.errors] == [(4, "BAD_VALUE")]
    assert count(db, "protected_zone") == before
    ok = run_import(db, options(Kind.ZONES, zones, skip_invalid=True))
    assert ok.written == 3  # zones may overlap each other: no overlap check
    with db.connect() as c:
        rows = c.execute(
            text(
                "SELECT code, kind, county_code, source, area_m2, ST_Area(geom::geography)"
                " FROM protected_zone WHERE code LIKE 'Z-%' ORDER BY code"
            )
        ).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("Z-1", "BASIC_FARMLAND", None),
        ("Z-2", "ECOLOGICAL_REDLINE", "140525"),
        ("Z-3", "URBAN_BOUNDARY", None),
    ]
    assert all(r[3] == "z.geojson" and r[4] == pytest.approx(r[5]) for r in rows)
    # upsert: same code updates the row, insert mode refuses it
    again = write_geojson(
        tmp_path / "z2.geojson",
        [
            feature(
                "1",
                {"编号": "Z-1", "类型": "生态红线", "名称": "改名"},
                polygon(square(X0, Y0, 1000)),
            )
        ],
        srid=4547,
    )
    refused = run_import(db, options(Kind.ZONES, again))
    assert [e.code for e in refused.errors] == ["DUPLICATE_CODE"]
    upserted = run_import(db, options(Kind.ZONES, again, mode="upsert"))
    assert (upserted.written, upserted.updated) == (1, 1)
    with db.connect() as c:
        assert c.execute(
            text("SELECT kind, name FROM protected_zone WHERE code = 'Z-1'")
        ).one() == (
            "ECOLOGICAL_REDLINE",
            "改名",
        )

    areas = write_geojson(
        tmp_path / "a.geojson",
        [
            feature(
                "1",
                {"code": "140598", "name": "测试园区", "kind": "开发区", "parent": "140500"},
                polygon(square(X0, Y0, 2000)),
            ),
            feature(
                "2",
                {"code": "140599", "name": "测试分园", "kind": "DEV_ZONE", "parent": "140598"},
                polygon(square(X0, Y0, 500)),
            ),
            feature(
                "3",
                {"code": "140597", "name": "孤儿", "kind": "DEV_ZONE", "parent": "149999"},
                polygon(square(X0, Y0, 500)),
            ),
            feature(
                "4",
                {"code": "14A", "name": "坏码", "kind": "DEV_ZONE", "parent": "140500"},
                polygon(square(X0, Y0, 500)),
            ),
            feature(
                "5",
                {"code": "140596", "name": "孤儿之子", "kind": "DEV_ZONE", "parent": "140597"},
                polygon(square(X0, Y0, 300)),
            ),
        ],
        srid=4547,
    )
    result = run_import(db, options(Kind.ADMIN_AREAS, areas, skip_invalid=True))
    assert sorted((e.row, e.code) for e in result.errors) == [
        (3, "UNKNOWN_ADMIN_AREA"),
        (4, "BAD_VALUE"),
        (5, "UNKNOWN_ADMIN_AREA"),  # its parent is row 3, which is bad
    ]
    assert result.written == 2  # a child whose parent is in the same file
    with db.connect() as c:
        assert (
            c.execute(text("SELECT parent_code FROM admin_area WHERE code = '140599'")).scalar_one()
            == "140598"
        )


# --------------------------------------------------------------------------- Excel project lists

HEADINGS = [
    "序号",
    "项目名称",
    "项目代码",
    "县（市、区）",
    "建设内容",
    "总投资（万元）",
    "年度计划投资（万元）",
    "计划开工时间",
    "计划竣工时间",
    "责任单位",
    "包联领导",
    "项目类别",
    "是否重点",
    "阶段",
    "签约状态",
    "项目类型",
]


def _sheet(path: Path, rows: list[list[Any]]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "2026年重点项目"
    ws.append(["2026年晋城市重点工程项目计划表"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADINGS))
    ws.append(HEADINGS)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


GOOD_PROJECTS = [
    ["一、城区（2个）"],
    [
        1,
        "凤城智能装备产业园",
        "XM-2026-001",
        "城区",
        "新建厂房 5 万平方米",
        52000,
        12000.5,
        dt.datetime(2026, 3, 1),
        "2027年12月",
        "城区发改局",
        "张三（副市长）",
        "省级重点工程、市县两级重点推进",
        "是",
        "开工建设",
        "已签约拟落地",
        "计划开工",
    ],
    [
        2,
        "城区老旧小区改造",
        "XM-2026-002",
        "140502",
        "改造 30 个小区",
        "8,000",
        None,
        "2026.4",
        "2026-11-30",
        "城区住建局",
        "李四",
        None,
        "否",
        None,
        None,
        "续建",
    ],
    ["二、沁水县"],
    [
        3,
        "沁水煤层气综合利用",
        "XM-2026-003",
        "沁水",
        None,
        150000,
        30000,
        "2026年5月",
        "2028年",
        "沁水县能源局",
        None,
        "年度投资计划亿元以上",
        None,
        "手续办理",
        None,
        "前期",
    ],
    ["合计", None, None, None, None, 210000],
]


def test_project_sheet_maps_counties_dates_money_and_categories(db: Engine, tmp_path: Path) -> None:
    path = _sheet(tmp_path / "p.xlsx", GOOD_PROJECTS)
    before = counts(db)
    events = count(db, "project_stage_event")
    result = run_import(db, options(Kind.PROJECTS, path, key_list_year=2026))
    assert result.errors == []
    assert (result.rows_read, result.written) == (3, 3)
    assert result.skipped_rows == [3, 6, 8]
    assert "建设内容" in result.ignored_columns
    assert count(db, "project") == before["project"] + 3
    assert count(db, "project_stage_event") == events + 3
    with db.connect() as c:
        rows = {
            r.code: r
            for r in c.execute(
                text(
                    "SELECT code, name, county_code, plan_type, stage, is_key, key_list_year,"
                    " categories::text[] AS categories, total_investment, annual_target,"
                    " planned_start, planned_finish, lead_official, lead_official_title,"
                    " responsible_entity, signing_status, version FROM project"
                    " WHERE code LIKE 'XM-2026-%'"
                )
            )
        }
        actor = (
            c.execute(
                text(
                    "SELECT DISTINCT actor FROM project_stage_event e JOIN project p ON p.id = e.project_id"
                    " WHERE p.code LIKE 'XM-2026-%'"
                )
            )
            .scalars()
            .all()
        )
    one, two, three = rows["XM-2026-001"], rows["XM-2026-002"], rows["XM-2026-003"]
    assert (one.county_code, one.plan_type, one.stage, one.is_key, one.key_list_year) == (
        "140502",
        "PLANNED_START",
        "CONSTRUCTION_START",
        True,
        2026,
    )
    assert one.categories == ["PROVINCIAL_KEY", "CITY_COUNTY_KEY"]
    assert (one.total_investment, one.annual_target) == (Decimal("52000.00"), Decimal("12000.50"))
    assert (one.planned_start, one.planned_finish) == (dt.date(2026, 3, 1), dt.date(2027, 12, 31))
    assert (one.lead_official, one.lead_official_title) == ("张三", "副市长")
    assert one.signing_status == "SIGNED"
    assert (two.county_code, two.total_investment, two.annual_target) == (
        "140502",
        Decimal("8000.00"),
        None,
    )
    assert (two.planned_start, two.planned_finish, two.is_key, two.categories) == (
        dt.date(2026, 4, 1),
        dt.date(2026, 11, 30),
        False,
        [],
    )
    assert (two.plan_type, two.stage) == ("CONTINUING", "IN_PROGRESS")  # stage from the plan type
    assert (three.county_code, three.is_key, three.categories) == (
        "140521",
        True,
        ["ANNUAL_PLAN_BILLION"],
    )
    assert (three.planned_start, three.planned_finish) == (
        dt.date(2026, 5, 1),
        dt.date(2028, 12, 31),
    )
    assert actor == ["system:import"]


def test_project_sheet_bad_rows_with_row_numbers(db: Engine, tmp_path: Path) -> None:
    rows = [
        *GOOD_PROJECTS[:3],
        [
            3,
            "不存在县的项目",
            "XM-2026-B3",
            "火星县",
            None,
            100,
            None,
            None,
            None,
            None,
            None,
            None,
            "否",
            None,
            None,
            "前期",
        ],
        [
            4,
            "日期错的项目",
            "XM-2026-B4",
            "陵川县",
            None,
            100,
            None,
            "明年春天",
            None,
            None,
            None,
            None,
            "否",
            None,
            None,
            "前期",
        ],
        [
            5,
            None,
            "XM-2026-B5",
            "高平市",
            None,
            100,
            None,
            None,
            None,
            None,
            None,
            None,
            "否",
            None,
            None,
            "前期",
        ],
        [
            6,
            "年度超总额",
            "XM-2026-B6",
            "阳城县",
            None,
            100,
            200,
            None,
            None,
            None,
            None,
            None,
            "否",
            None,
            None,
            "前期",
        ],
        [
            7,
            "重复代码",
            "XM-2026-001",
            "阳城县",
            None,
            100,
            None,
            None,
            None,
            None,
            None,
            None,
            "否",
            None,
            None,
            "前期",
        ],
        [
            8,
            "开发区项目",
            "XM-2026-B8",
            "晋城经济技术开发区",
            None,
            100,
            None,
            None,
            None,
            None,
            None,
            None,
            "否",
            None,
            None,
            "前期",
        ],
        [
            9,
            "好项目",
            "XM-2026-G9",
            "泽州县",
            None,
            "1.5亿元",
            None,
            "2026/6/15",
            None,
            None,
            None,
            None,
            "否",
            None,
            None,
            "前期",
        ],
    ]
    path = _sheet(tmp_path / "bad.xlsx", rows)
    before = count(db, "project")
    result = run_import(db, options(Kind.PROJECTS, path))
    got = sorted((e.row, e.code, e.column) for e in result.errors)
    assert got == [
        (6, "UNKNOWN_COUNTY", "D 县（市、区）"),
        (7, "BAD_VALUE", "H 计划开工时间"),
        (8, "MISSING_FIELD", "B 项目名称"),
        (9, "BAD_VALUE", "G 年度计划投资（万元）"),
        (10, "DUPLICATE_CODE", "C 项目代码"),
        (11, "UNKNOWN_COUNTY", "D 县（市、区）"),
    ]
    assert result.written == 0 and count(db, "project") == before
    assert "not a county-level unit" in next(e.message for e in result.errors if e.row == 11)
    skipped = run_import(db, options(Kind.PROJECTS, path, skip_invalid=True))
    assert skipped.written == 3
    with db.connect() as c:
        assert c.execute(
            text("SELECT total_investment, planned_start FROM project WHERE code = 'XM-2026-G9'")
        ).one() == (Decimal("15000.00"), dt.date(2026, 6, 15))


def test_project_upsert_updates_and_dates_stage_changes(db: Engine, tmp_path: Path) -> None:
    first = _sheet(tmp_path / "a.xlsx", GOOD_PROJECTS)
    assert run_import(db, options(Kind.PROJECTS, first)).written == 3
    changed = [list(r) for r in GOOD_PROJECTS]
    changed[1][13] = "实施进度"  # 凤城 moves on to IN_PROGRESS
    changed[1][5] = 60000
    second = _sheet(tmp_path / "b.xlsx", changed)
    refused = run_import(db, options(Kind.PROJECTS, second))
    assert {e.code for e in refused.errors} == {"DUPLICATE_CODE"} and refused.invalid == 3
    events = count(db, "project_stage_event")
    result = run_import(db, options(Kind.PROJECTS, second, mode="upsert"))
    assert (result.written, result.updated) == (3, 3)
    assert count(db, "project_stage_event") == events + 1
    with db.connect() as c:
        assert c.execute(
            text("SELECT stage, total_investment, version FROM project WHERE code = 'XM-2026-001'")
        ).one() == ("IN_PROGRESS", Decimal("60000.00"), 2)


# --------------------------------------------------------------------------- transaction, CLI


def test_a_failure_at_write_time_leaves_nothing(db: Engine, tmp_path: Path) -> None:
    """The status events are written after the parcels, in the same transaction: make them
    fail and no parcel may remain. The trigger also shows the actor bound to the transaction."""
    with db.begin() as c:
        c.execute(
            text(
                """
                CREATE FUNCTION fail_import() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'refused for %', current_setting('landguard.sub', true);
                END $$;
                CREATE TRIGGER fail_import BEFORE INSERT ON parcel_status_event
                    FOR EACH ROW EXECUTE FUNCTION fail_import();
                """
            )
        )
    path = write_geojson(
        tmp_path / "t.geojson",
        [
            feature(str(i), parcel_props(f"T-{i}"), polygon(square(X0 + i * 200, Y0, 100)))
            for i in range(5)
        ],
        srid=4547,
    )
    before = counts(db)
    with pytest.raises(DBAPIError) as info:
        run_import(db, options(Kind.PARCELS, path, actor_sub="user:王五"))
    assert "refused for user:王五" in str(info.value)
    assert counts(db) == before


def test_cli_exit_codes_report_and_actor(
    fresh_db_url: str,
    db: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    path, expected, good = _bad_file(db, tmp_path)
    report = tmp_path / "bad.csv"
    before = counts(db)
    rc = main(["import", "parcels", str(path), "--max-vertices", "60", "--report", str(report)])
    out = capsys.readouterr()
    assert rc == 1
    assert "rows read 22 · valid 4 · invalid 18 · written 0" in out.out
    assert out.err.count("\n") == len(expected)
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 + len(expected) and lines[0].startswith("row,fid,record_code")
    assert counts(db) == before
    assert main(["import", "parcels", str(path), "--max-vertices", "60", "--dry-run"]) == 1
    assert counts(db) == before
    rc = main(
        [
            "import",
            "parcels",
            str(path),
            "--max-vertices",
            "60",
            "--skip-invalid",
            "--as",
            "user:zhao",
            "--report",
            str(tmp_path / "r.json"),
        ]
    )
    assert rc == 0
    body = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert body["summary"]["written"] == len(good) and len(body["errors"]) == len(expected)
    assert count(db, "parcel_status_event", "actor = 'user:zhao'") == len(good)
    assert main(["import", "parcels", str(tmp_path / "missing.geojson")]) == 2


# --------------------------------------------------------------------------- values, codes


def test_import_codes_are_error_codes() -> None:
    assert IMPORT_CODES.issubset(c.value for c in ErrorCode)


@pytest.mark.parametrize(
    ("text_in", "end", "expected"),
    [
        ("2024-03-01", False, dt.date(2024, 3, 1)),
        ("2024年3月", False, dt.date(2024, 3, 1)),
        ("2024年3月", True, dt.date(2024, 3, 31)),
        ("2024.3", False, dt.date(2024, 3, 1)),
        ("2024/3/15", False, dt.date(2024, 3, 15)),
        ("2024年3月15日", False, dt.date(2024, 3, 15)),
        ("2024年", True, dt.date(2024, 12, 31)),
        ("２０２４－０２", True, dt.date(2024, 2, 29)),
    ],
)
def test_dates_as_people_type_them(text_in: str, end: bool, expected: dt.date) -> None:
    assert F.date_value(text_in, end=end) == expected


def test_values_refused_and_converted() -> None:
    for bad in ("明年", "2024-13-01", "2024-02-30", "1999年"):
        with pytest.raises(F.FieldError):
            F.date_value(bad)
    assert F.date_value(2024.1, number_format="0.00") == dt.date(2024, 10, 1)
    assert F.money_value("1.2亿元", None) == Decimal("12000.00")
    assert F.money_value(3, "亿元") == Decimal("30000.00")
    assert F.money_value("3,500万", None) == Decimal("3500.00")
    with pytest.raises(F.FieldError):
        F.money_value("-5", None)
    assert F.enum_values(F.E.KeyCategory, "省重点、市本级；亿元以上") == [
        "PROVINCIAL_KEY",
        "MUNICIPAL_GOV_INVESTED",
        "ANNUAL_PLAN_BILLION",
    ]


# --------------------------------------------------------------------------- speed


def test_speed_of_10000_parcels_from_a_geopackage(db: Engine, tmp_path: Path) -> None:
    """10,000 squares of 40 m × 40 m on a 50 m grid (5 km × 5 km, EPSG:4547). Prints seconds."""
    n = 100
    features = [
        (
            {"dkbh": f"SPD-{i:03d}-{j:03d}", "xzqdm": "140525", "dlmc": "耕地"},
            shapely.box(X0 + i * 50, Y0 + j * 50, X0 + i * 50 + 40, Y0 + j * 50 + 40),
        )
        for i in range(n)
        for j in range(n)
    ]
    path = tmp_path / "speed.gpkg"
    _write_ogr(path, features, srid=4547, layer="parcels")
    before = count(db, "parcel")
    started = time.perf_counter()
    result = run_import(db, options(Kind.PARCELS, path))
    took = time.perf_counter() - started
    print(f"\nimported 10,000 parcels from a GeoPackage in {took:.1f} s")
    assert result.errors == []
    assert result.written == 10_000 and count(db, "parcel") == before + 10_000
    assert result.written_area_m2 == pytest.approx(10_000 * 1600, abs=1.0)
