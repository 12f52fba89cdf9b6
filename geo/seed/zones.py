"""Synthetic 三区三线 (protected zones) for the demo set.

Drawn in EPSG:4547 metres inside each county shrunk by a margin, so every zone is
`ST_Within` its county after the transform to EPSG:4490. Zones of one kind never share
area, and basic farmland keeps a gap to the urban boundary, the red line and the
development zone (the red line keeps 2 km from the urban boundary). These are not the
official zones (those are not public); they exist to exercise the conflict checks.
Everything random is drawn from the seeded generator or `ST_GeneratePoints(…, seed)`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo.crs import CITY_CODE, DEV_ZONE_CODE, STORAGE_SRID
from geo.seed.admin import COUNTIES, COUNTY_BY_CODE, DEV_ZONE_COUNTIES, GRID_SRID

ZONE_SOURCE = "synthetic demo zone (not the official 三区三线 data)"
COUNTY_MARGIN_M = 150.0
"""Inner margin to the county outline: absorbs the 4547 ↔ 4490 transform and AMap generalisation."""


@dataclass(frozen=True)
class RedLineArea:
    """A mountainous side of a county where the red line sits, and its landscape name."""

    county_code: str
    side: str  # 'west', 'east' or 'south'
    name: str
    patches: int


RED_LINE_AREAS = (
    RedLineArea("140521", "west", "历山—中条山", 7),
    RedLineArea("140524", "east", "王莽岭—太行山", 6),
    RedLineArea("140522", "south", "蟒河—析城山", 5),
)

CREATE_COUNTY_M = text(
    """
    CREATE TEMP TABLE seed_county ON COMMIT DROP AS
    SELECT code,
           ST_Transform(geom, :grid) AS geom_m,
           ST_Buffer(ST_Transform(geom, :grid), -:margin) AS inner_m
    FROM admin_area
    WHERE parent_code = :city AND kind <> 'DEV_ZONE'
    """
)

INSERT_URBAN = text(
    """
    WITH c AS (SELECT * FROM seed_county WHERE code = :county),
    discs AS (
        SELECT ST_Buffer(ST_Translate(ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), :srid), :grid),
                                      dx, dy), r, 'quad_segs=6') AS g
        FROM unnest(CAST(:dx AS float8[]), CAST(:dy AS float8[]), CAST(:r AS float8[])) AS u(dx, dy, r)
        UNION ALL  -- the development zone lies inside the city's urban boundary
        SELECT ST_Buffer(ST_Transform(a.geom, :grid), 300) FROM admin_area a
        WHERE a.code = :dz AND :county = ANY(CAST(:dz_counties AS text[]))
    )
    INSERT INTO protected_zone (code, kind, name, county_code, geom, source)
    SELECT :code, 'URBAN_BOUNDARY', :name, c.code,
           ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Transform(
               ST_Intersection(c.inner_m, (SELECT ST_Union(g) FROM discs)), :srid)), 3)),
           :source
    FROM c
    """
)

# Red line patches: seeded points in the mountainous side of the county, buffered, unioned,
# dumped into parts; away from the urban boundary.
INSERT_RED_LINE = text(
    """
    WITH c AS (SELECT * FROM seed_county WHERE code = :county),
    side AS (
        SELECT ST_Difference(
                   ST_Intersection(c.inner_m, ST_MakeEnvelope(
                       CASE WHEN :side = 'east' THEN ST_XMax(c.inner_m) - 0.3 * (ST_XMax(c.inner_m) - ST_XMin(c.inner_m))
                            ELSE ST_XMin(c.inner_m) END,
                       ST_YMin(c.inner_m),
                       CASE WHEN :side = 'west' THEN ST_XMin(c.inner_m) + 0.3 * (ST_XMax(c.inner_m) - ST_XMin(c.inner_m))
                            ELSE ST_XMax(c.inner_m) END,
                       CASE WHEN :side = 'south' THEN ST_YMin(c.inner_m) + 0.3 * (ST_YMax(c.inner_m) - ST_YMin(c.inner_m))
                            ELSE ST_YMax(c.inner_m) END,
                       :grid)),
                   COALESCE((SELECT ST_Buffer(ST_Transform(z.geom, :grid), 2000) FROM protected_zone z
                             WHERE z.kind = 'URBAN_BOUNDARY' AND z.county_code = :county),
                            'GEOMETRYCOLLECTION EMPTY'::geometry)) AS g
        FROM c
    ),
    pts AS (
        SELECT d.path[1] AS n, d.geom AS p
        FROM side, ST_Dump(ST_GeneratePoints(side.g, :npts, :seed)) AS d
    ),
    blob AS (
        SELECT ST_Intersection(side.g, ST_Union(ST_Buffer(pts.p, u.r, 'quad_segs=8'))) AS g
        FROM side, pts JOIN unnest(CAST(:r AS float8[])) WITH ORDINALITY AS u(r, n) USING (n)
        GROUP BY side.g
    ),
    parts AS (
        SELECT row_number() OVER (ORDER BY ST_XMin(d.geom), ST_YMin(d.geom)) AS k, d.geom AS g
        FROM blob, ST_Dump(blob.g) AS d
        WHERE ST_Area(d.geom) >= :min_area
    )
    INSERT INTO protected_zone (code, kind, name, county_code, geom, source)
    SELECT :code_prefix || lpad(k::text, 2, '0'), 'ECOLOGICAL_REDLINE',
           :name_prefix || k::text || '号片区', :county,
           ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Transform(g, :srid)), 3)), :source
    FROM parts ORDER BY k
    """
)

# Basic farmland: dozens of irregular patches (a buffered short segment each) outside the
# urban boundary and the red line, with a gap to both so no two kinds ever share area.
INSERT_FARMLAND = text(
    """
    WITH c AS (SELECT * FROM seed_county WHERE code = :county),
    free AS (
        SELECT ST_Difference(c.inner_m, COALESCE(
                   (SELECT ST_Union(ST_Buffer(ST_Transform(z.geom, :grid), :gap)) FROM (
                        SELECT geom FROM protected_zone
                        WHERE county_code = :county AND kind IN ('URBAN_BOUNDARY', 'ECOLOGICAL_REDLINE')
                        UNION ALL SELECT geom FROM admin_area WHERE code = :dz) AS z),
                   'GEOMETRYCOLLECTION EMPTY'::geometry)) AS g
        FROM c
    ),
    pts AS (
        SELECT d.path[1] AS n, d.geom AS p
        FROM free, ST_Dump(ST_GeneratePoints(free.g, :npts, :seed)) AS d
    ),
    blob AS (
        SELECT ST_Intersection(free.g, ST_Union(ST_Buffer(
                   ST_MakeLine(pts.p, ST_Translate(pts.p, u.dx, u.dy)), u.r, 'quad_segs=4'))) AS g
        FROM free, pts JOIN unnest(CAST(:dx AS float8[]), CAST(:dy AS float8[]), CAST(:r AS float8[]))
                            WITH ORDINALITY AS u(dx, dy, r, n) USING (n)
        GROUP BY free.g
    ),
    parts AS (
        SELECT row_number() OVER (ORDER BY ST_XMin(d.geom), ST_YMin(d.geom)) AS k, d.geom AS g
        FROM blob, ST_Dump(blob.g) AS d
        WHERE ST_Area(d.geom) >= :min_area
    )
    INSERT INTO protected_zone (code, kind, name, county_code, geom, source)
    SELECT :code_prefix || lpad(k::text, 3, '0'), 'BASIC_FARMLAND',
           :name_prefix || lpad(k::text, 3, '0') || '号保护片块', :county,
           ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Transform(g, :srid)), 3)), :source
    FROM parts ORDER BY k
    """
)


def load_zones(conn: Connection, rng: random.Random) -> None:
    """Build the county working table, then urban boundaries, red lines and basic farmland."""
    conn.execute(CREATE_COUNTY_M, {"grid": GRID_SRID, "margin": COUNTY_MARGIN_M, "city": CITY_CODE})
    for county in COUNTIES:
        _urban_boundary(conn, rng, county.code)
    for area in RED_LINE_AREAS:
        _red_line(conn, rng, area)
    for county in COUNTIES:
        _basic_farmland(conn, rng, county.code)


def _urban_boundary(conn: Connection, rng: random.Random, county_code: str) -> None:
    """An irregular union of discs around the county seat, a few km across."""
    county = COUNTY_BY_CODE[county_code]
    big = county_code in DEV_ZONE_COUNTIES  # the city core spans both
    n = 14 if big else 10
    reach = 5500.0 if big else 3600.0
    dx, dy, r = [0.0], [0.0], [rng.uniform(2000, 2500) if big else rng.uniform(1500, 2000)]
    for _ in range(n - 1):
        ang = rng.uniform(0, 2 * math.pi)
        dist = rng.uniform(0.3, 1.0) * reach
        dx.append(round(dist * math.cos(ang), 1))
        dy.append(round(dist * math.sin(ang), 1))
        r.append(round(rng.uniform(900, 1800 if big else 1500), 1))
    conn.execute(
        INSERT_URBAN,
        {
            "code": f"CZKFBJ-{county_code}",
            "name": f"{county.name}城镇开发边界",
            "county": county_code,
            "lon": county.seat_lon,
            "lat": county.seat_lat,
            "dx": dx,
            "dy": dy,
            "r": r,
            "dz": DEV_ZONE_CODE,
            "dz_counties": list(DEV_ZONE_COUNTIES),
            "grid": GRID_SRID,
            "srid": STORAGE_SRID,
            "source": ZONE_SOURCE,
        },
    )


def _red_line(conn: Connection, rng: random.Random, area: RedLineArea) -> None:
    """A few large patches on the mountainous side of the county (west, east or south)."""
    county = COUNTY_BY_CODE[area.county_code]
    conn.execute(
        INSERT_RED_LINE,
        {
            "county": area.county_code,
            "side": area.side,
            "npts": area.patches,
            "seed": rng.randrange(1, 2**31),
            "r": [round(rng.uniform(2400, 4200), 1) for _ in range(area.patches)],
            "min_area": 1_000_000.0,
            "code_prefix": f"STBHHX-{area.county_code}-",
            "name_prefix": f"{county.name}{area.name}生态保护红线",
            "grid": GRID_SRID,
            "srid": STORAGE_SRID,
            "source": ZONE_SOURCE,
        },
    )


def _basic_farmland(conn: Connection, rng: random.Random, county_code: str) -> None:
    """Dozens of irregular patches (buffered short segments, unioned, dumped into parts)."""
    county = COUNTY_BY_CODE[county_code]
    npts = 14 if county_code == "140502" else 110
    dx, dy, r = [], [], []
    for _ in range(npts):
        ang = rng.uniform(0, 2 * math.pi)
        length = rng.uniform(200, 1600)
        dx.append(round(length * math.cos(ang), 1))
        dy.append(round(length * math.sin(ang), 1))
        r.append(round(rng.uniform(250, 800), 1))
    conn.execute(
        INSERT_FARMLAND,
        {
            "county": county_code,
            "npts": npts,
            "seed": rng.randrange(1, 2**31),
            "dx": dx,
            "dy": dy,
            "r": r,
            "gap": 40.0,
            "dz": DEV_ZONE_CODE,
            "min_area": 50_000.0,
            "code_prefix": f"YJJBNT-{county_code}-",
            "name_prefix": f"{county.name}永久基本农田",
            "grid": GRID_SRID,
            "srid": STORAGE_SRID,
            "source": ZONE_SOURCE,
        },
    )
