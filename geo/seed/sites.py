"""Project sites and parcel layouts.

One global square grid in EPSG:4547 metres covers the city. A cell is usable for a county
when it lies inside the county shrunk by `zones.COUNTY_MARGIN_M`, which keeps every
parcel drawn in it `ST_Within` the county in EPSG:4490 after the transform. Each project
gets its own cell (its "site"); cells in the urban boundary or touching the development
zone are split into four quarter sites, so towns and parks hold more, smaller projects
(as they do). Sites near the county seat are preferred for urban industries, and sites
touching basic farmland or the red line are drawn rarely, so only a few percent of
parcels conflict with them. Inside a site, parcels are rectangles or irregular
quadrilaterals separated by road gaps, so parcels never overlap. A few neighbouring
pairs share one exact full edge to exercise edge-touching.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo.crs import DEV_ZONE_CODE, STORAGE_SRID
from geo.seed.admin import COUNTIES, GRID_SRID

DEMO_CELL_M = 1200.0
"""Side of a site in the demo; the benchmark shrinks it so that every project gets a cell."""

CREATE_ZONE_M = text(
    """
    CREATE TEMP TABLE seed_zone_m ON COMMIT DROP AS
    SELECT kind::text AS kind, ST_Transform(geom, :grid) AS geom_m FROM protected_zone
    UNION ALL
    SELECT 'DEV_ZONE', ST_Transform(geom, :grid) FROM admin_area WHERE code = :dz
    """
)

CREATE_CELL = text(
    """
    CREATE TEMP TABLE seed_cell (
        county_code text NOT NULL, i integer NOT NULL, j integer NOT NULL, q integer NOT NULL,
        urban boolean NOT NULL, conflict boolean NOT NULL, devzone boolean NOT NULL
    ) ON COMMIT DROP
    """
)

# One statement per county, so that PostGIS keeps the county geometry prepared across cells.
# q = -1 marks a whole cell; its devzone flag here means "touches the zone".
INSERT_CELLS = text(
    """
    INSERT INTO seed_cell (county_code, i, j, q, urban, conflict, devzone)
    SELECT c.code, g.i, g.j, -1,
           EXISTS (SELECT 1 FROM seed_zone_m z WHERE z.kind = 'URBAN_BOUNDARY'
                   AND ST_Intersects(z.geom_m, ST_Centroid(g.geom))),
           EXISTS (SELECT 1 FROM seed_zone_m z
                   WHERE z.kind IN ('BASIC_FARMLAND', 'ECOLOGICAL_REDLINE')
                   AND ST_Intersects(z.geom_m, g.geom)),
           EXISTS (SELECT 1 FROM seed_zone_m z WHERE z.kind = 'DEV_ZONE'
                   AND ST_Intersects(z.geom_m, g.geom))
    FROM seed_county c, ST_SquareGrid(:side, c.inner_m) AS g
    WHERE c.code = :county AND ST_Within(g.geom, c.inner_m)
    """
)

# Urban cells (and cells touching the development zone) are split into four quarter sites
# q = 0..3, each flagged on its own; devzone then means "entirely inside the zone".
INSERT_QUARTERS = text(
    """
    INSERT INTO seed_cell (county_code, i, j, q, urban, conflict, devzone)
    SELECT c.county_code, c.i, c.j, g.q,
           EXISTS (SELECT 1 FROM seed_zone_m z WHERE z.kind = 'URBAN_BOUNDARY'
                   AND ST_Intersects(z.geom_m, ST_Centroid(g.geom))),
           EXISTS (SELECT 1 FROM seed_zone_m z
                   WHERE z.kind IN ('BASIC_FARMLAND', 'ECOLOGICAL_REDLINE')
                   AND ST_Intersects(z.geom_m, g.geom)),
           EXISTS (SELECT 1 FROM seed_zone_m z WHERE z.kind = 'DEV_ZONE'
                   AND ST_Within(g.geom, z.geom_m))
    FROM seed_cell c,
         LATERAL (SELECT q, ST_MakeEnvelope(
                      (c.i + (q % 2) * 0.5) * :side, (c.j + (q / 2) * 0.5) * :side,
                      (c.i + (q % 2) * 0.5 + 0.5) * :side, (c.j + (q / 2) * 0.5 + 0.5) * :side,
                      :grid) AS geom
                  FROM generate_series(0, 3) AS q) AS g
    WHERE c.q = -1 AND (c.urban OR c.devzone)
    """
)


@dataclass(frozen=True, slots=True)
class Cell:
    """A project site: a grid cell, or a quarter of one in urban areas (EPSG:4547 metres)."""

    county: str
    x0: float
    y0: float
    size: float
    dist_m: float
    urban: bool
    conflict: bool
    devzone: bool


def county_areas(conn: Connection) -> dict[str, float]:
    """Usable (shrunk) area per county in m², to size the grid."""
    rows = conn.execute(text("SELECT code, ST_Area(inner_m) FROM seed_county ORDER BY code"))
    return {code: float(area) for code, area in rows}


def load_cells(conn: Connection, side: float) -> dict[str, list[Cell]]:
    """Sites per county with their zone flags and distance to the county seat."""
    conn.execute(CREATE_ZONE_M, {"grid": GRID_SRID, "dz": DEV_ZONE_CODE})
    conn.execute(text("CREATE INDEX ON seed_zone_m USING gist (geom_m)"))
    conn.execute(text("ANALYZE seed_zone_m"))
    conn.execute(CREATE_CELL)
    for county in COUNTIES:
        conn.execute(INSERT_CELLS, {"side": side, "county": county.code})
    conn.execute(INSERT_QUARTERS, {"side": side, "grid": GRID_SRID})
    seats = _seats_m(conn)
    rows = conn.execute(
        text(
            "SELECT county_code, i, j, q, urban, conflict, devzone FROM seed_cell"
            " WHERE q >= 0 OR NOT (urban OR devzone) ORDER BY 1, 2, 3, 4"
        )
    )
    cells: dict[str, list[Cell]] = {c.code: [] for c in COUNTIES}
    for county, i, j, q, urban, conflict, devzone in rows:
        size = side if q < 0 else side / 2
        x0 = i * side + (0 if q < 0 else (q % 2) * size)
        y0 = j * side + (0 if q < 0 else (q // 2) * size)
        sx, sy = seats[county]
        dist = math.hypot(x0 + size / 2 - sx, y0 + size / 2 - sy)
        whole_in_zone = devzone and q >= 0
        cells[county].append(Cell(county, x0, y0, size, dist, urban, conflict, whole_in_zone))
    return cells


def _seats_m(conn: Connection) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for c in COUNTIES:
        x, y = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat),"
                " :srid), :grid) AS p"
            ),
            {"lon": c.seat_lon, "lat": c.seat_lat, "srid": STORAGE_SRID, "grid": GRID_SRID},
        ).one()
        out[c.code] = (float(x), float(y))
    return out


def pick_cells(
    rng: random.Random, cells: Sequence[Cell], count: int, weight: Callable[[Cell], float]
) -> list[Cell]:
    """Weighted sample without replacement (Efraimidis–Spirakis), in rank order."""
    if count > len(cells):
        raise ValueError(f"need {count} sites but only {len(cells)} cells are free")
    keyed = ((math.log(1.0 - rng.random()) / weight(c), n) for n, c in enumerate(cells))
    return [cells[n] for _, n in heapq.nlargest(count, keyed)]


def urban_weight(cell: Cell, *, prefer_devzone: bool) -> float:
    """Parks near the seat first, the development zone for industry, conflicts rare."""
    w = math.exp(-cell.dist_m / 7000.0) + 0.04
    if cell.urban:
        w *= 3.0
    if prefer_devzone and cell.devzone:
        w *= 25.0
    if cell.conflict:
        w *= 0.12
    return w


def rural_weight(cell: Cell) -> float:
    """Anywhere in the county; protected land mostly avoided, never fully."""
    w = 1.0
    if cell.urban:
        w *= 0.3
    if cell.conflict:
        w *= 0.12
    return w


Ring = list[tuple[float, float]]


def layout_site(
    rng: random.Random,
    cell: Cell,
    areas: Sequence[float],
    *,
    min_area: float,
    share_edge: bool,
) -> list[Ring]:
    """Rings (closed, EPSG:4547 metres) for parcels of about `areas` m² inside one cell.

    Shelf packing with road gaps; areas shrink together until they fit (below `min_area`
    only in sites too small for it, which happens at benchmark scale). When `share_edge`
    is set, the first two parcels sit side by side with no gap and the same height, so they
    share one exact full edge.
    """
    side = cell.size
    margin, avail, gap = 0.05 * side, 0.9 * side, 0.025 * side
    areas = list(areas)
    aspects = [rng.uniform(0.55, 1.8) for _ in areas]
    for attempt in range(200):
        boxes = _shelf_pack(areas, aspects, avail, gap, share_edge)
        if boxes is not None:
            break
        # Shrink together, not below `min_area` at first; dense benchmark sites may have to.
        floor = min_area if attempt < 40 else 0.0
        areas = [max(a * 0.88, floor) for a in areas]
    else:
        raise RuntimeError("parcel layout did not converge")
    used_w = max(x + w for x, _, w, _ in boxes)
    used_h = max(y + h for _, y, _, h in boxes)
    shift_x, shift_y = rng.uniform(0, avail - used_w), rng.uniform(0, avail - used_h)
    boxes = [(x + shift_x, y + shift_y, w, h) for x, y, w, h in boxes]
    theta = math.radians(rng.uniform(-4.0, 4.0))
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    ox, oy = cell.x0, cell.y0
    centre = side / 2.0

    def place(x: float, y: float) -> tuple[float, float]:
        dx, dy = margin + x - centre, margin + y - centre
        return (
            round(ox + centre + dx * cos_t - dy * sin_t, 3),
            round(oy + centre + dx * sin_t + dy * cos_t, 3),
        )

    rings: list[Ring] = []
    for n, (x, y, w, h) in enumerate(boxes):
        shared_right = share_edge and n == 0
        shared_left = share_edge and n == 1
        corners = _jittered(
            rng, x, y, w, h, min_area, keep_right=shared_right, keep_left=shared_left
        )
        ring = [place(px, py) for px, py in corners]
        ring.append(ring[0])
        rings.append(ring)
    return rings


def _shelf_pack(
    areas: Sequence[float], aspects: Sequence[float], avail: float, gap: float, share_edge: bool
) -> list[tuple[float, float, float, float]] | None:
    """Boxes (x, y, w, h) in generation order, or None when they do not fit."""
    dims: list[tuple[float, float]] = []
    for n, (a, r) in enumerate(zip(areas, aspects, strict=True)):
        if share_edge and n == 1:
            h = dims[0][1]
            w = a / h
        else:
            w = min(math.sqrt(a * r), avail)
            h = a / w
        if h > avail or w > avail:
            return None
        dims.append((w, h))
    boxes: list[tuple[float, float, float, float]] = []
    x = y = shelf_h = 0.0
    for n, (w, h) in enumerate(dims):
        glue = share_edge and n == 1
        if not glue and x > 0 and x + w > avail:
            x, y, shelf_h = 0.0, y + shelf_h + gap, 0.0
        if x + w > avail or y + h > avail:
            return None
        boxes.append((x, y, w, h))
        shelf_h = max(shelf_h, h)
        x += w + (0.0 if share_edge and n == 0 else gap)
    return boxes


def _jittered(
    rng: random.Random,
    x: float,
    y: float,
    w: float,
    h: float,
    min_area: float,
    *,
    keep_right: bool,
    keep_left: bool,
) -> Ring:
    """Corners of the box, each pulled inward a little; shared-edge corners stay put."""
    box = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]  # counter-clockwise
    if rng.random() < 0.3:
        return box
    jx, jy = 0.12 * w, 0.12 * h
    moved: Ring = []
    for k, (px, py) in enumerate(box):
        on_right, on_left = k in (1, 2), k in (0, 3)
        if (keep_right and on_right) or (keep_left and on_left):
            moved.append((px, py))
            continue
        sx = 1.0 if on_left else -1.0
        sy = 1.0 if k in (0, 1) else -1.0
        moved.append((px + sx * rng.uniform(0, jx), py + sy * rng.uniform(0, jy)))
    return moved if ring_area(moved) >= min_area else box


def ring_area(ring: Sequence[tuple[float, float]]) -> float:
    """Plane area of a ring (closed or not) by the shoelace formula."""
    n = len(ring)
    return 0.5 * abs(
        sum(ring[k][0] * ring[(k + 1) % n][1] - ring[(k + 1) % n][0] * ring[k][1] for k in range(n))
    )


def ring_wkt(ring: Ring) -> str:
    return "POLYGON((" + ",".join(f"{x:.3f} {y:.3f}" for x, y in ring) + "))"
