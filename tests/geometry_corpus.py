"""A corpus of bad parcel geometries, each with the reason the database refuses it.

Reusable by any test that writes parcels (direct SQL here, the GraphQL mutations later):
`static_cases()` needs nothing; `overlap_cases(existing)` builds overlaps of parcels that
are already stored. Geometries are EWKT, or hex EWKB where WKT cannot express the fault
(unclosed rings, infinite coordinates); `BadGeometry.literal` is what a SQL
`CAST(:g AS geometry)` reads.

`reason` is the constraint name the error carries (geo/write_rules.py: the CHECKs,
parcel_geom_finite, and parcel_no_shared_area for SQLSTATE LG001), or else its SQLSTATE:
22023 for a type/dimension/SRID the column refuses, XX000 for text PostGIS cannot
parse at all (too-short or unclosed rings, in WKT and in WKB alike).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from geo.write_rules import (
    CK_EXTENT,
    CK_FINITE,
    CK_MAX_VERTICES,
    CK_NOT_EMPTY,
    CK_VALID,
    CK_VALID_AREA,
    MAX_PARCEL_VERTICES,
    NO_SHARED_AREA,
    SQLSTATE_GEOMETRY_TYPMOD,
)

PARSE_ERROR = "XX000"  # PostGIS lwerror: the literal is not a geometry at all

# A quiet spot in 沁水县 (no demo parcel within kilometres); local metres → degrees.
BASE_LON, BASE_LAT = 112.05, 35.95
M_PER_DEG_LAT = 110_950.0  # one degree of latitude at 36°N
M_PER_DEG_LON = 111_413.0 * math.cos(math.radians(BASE_LAT))  # and of longitude (≈0.1 %)

Point = tuple[float, float]


@dataclass(frozen=True)
class BadGeometry:
    name: str
    family: str
    literal: str
    """EWKT or hex EWKB, as `CAST(:literal AS geometry)` reads it."""
    reason: str
    """constraint name or SQLSTATE the database answers with"""
    county_code: str = "140521"


def lonlat(dx: float, dy: float, lon0: float = BASE_LON, lat0: float = BASE_LAT) -> Point:
    return (lon0 + dx / M_PER_DEG_LON, lat0 + dy / M_PER_DEG_LAT)


def _fmt(p: Point) -> str:
    return f"{p[0]!r} {p[1]!r}"


def ring_wkt(points: Sequence[Point]) -> str:
    return "(" + ", ".join(_fmt(p) for p in points) + ")"


def multipolygon(*polygons: Sequence[Sequence[Point]], srid: int = 4490) -> str:
    """EWKT of a MultiPolygon; each polygon is a list of rings (closed by the caller)."""
    body = ", ".join("(" + ", ".join(ring_wkt(r) for r in poly) + ")" for poly in polygons)
    return f"SRID={srid};MULTIPOLYGON({body})"


def square(x: float, y: float, side: float, ccw: bool = True) -> list[Point]:
    pts = [(x, y), (x + side, y), (x + side, y + side), (x, y + side), (x, y)]
    pts = [lonlat(*p) for p in pts]
    return pts if ccw else pts[::-1]


def ewkb_multipolygon(rings: Sequence[Sequence[Point]], srid: int = 4490) -> str:
    """Hex EWKB of a one-polygon MultiPolygon, rings written exactly as given (WKB can
    carry unclosed rings and non-finite numbers that WKT cannot)."""
    poly = struct.pack("<BII", 1, 3, len(rings))
    for ring in rings:
        poly += struct.pack("<I", len(ring))
        for x, y in ring:
            poly += struct.pack("<dd", x, y)
    head = struct.pack("<BII", 1, 6 | 0x20000000, srid) + struct.pack("<I", 1)
    return (head + poly).hex().upper()


def circle(n: int, radius: float = 200.0, dx: float = 0.0, dy: float = 0.0) -> list[Point]:
    pts = [
        lonlat(
            dx + radius * math.cos(2 * math.pi * i / n), dy + radius * math.sin(2 * math.pi * i / n)
        )
        for i in range(n)
    ]
    return [*pts, pts[0]]


# --------------------------------------------------------------------------- families


def _bow_ties() -> Iterable[BadGeometry]:
    for size in (10.0, 50.0, 200.0, 1000.0, 5000.0):
        for flip in (False, True):
            a, b, c, d = (0, 0), (size, size), (size, 0), (0, size)
            ring = [a, b, c, d, a] if not flip else [a, d, c, b, a]
            yield BadGeometry(
                f"bow-tie {size:g} m{' flipped' if flip else ''}",
                "bow-tie",
                multipolygon([[lonlat(*p) for p in ring]]),
                CK_VALID,
            )


def _self_touching() -> Iterable[BadGeometry]:
    # A shell that returns to one of its own vertices (an "inverted" ring) and a figure
    # of two squares joined at a single vertex inside one ring.
    for size in (20.0, 100.0, 800.0):
        s = size
        inverted = [(0, 0), (2 * s, 0), (2 * s, 2 * s), (s, 0), (0, 2 * s), (0, 0)]
        yield BadGeometry(
            f"inverted ring touching itself {s:g} m",
            "self-touching ring",
            multipolygon([[lonlat(*p) for p in inverted]]),
            CK_VALID,
        )
        two = [
            (0, 0),
            (s, 0),
            (s, s),
            (2 * s, s),
            (2 * s, 2 * s),
            (s, 2 * s),
            (s, s),
            (0, s),
            (0, 0),
        ]
        yield BadGeometry(
            f"ring through one vertex twice {s:g} m",
            "self-touching ring",
            multipolygon([[lonlat(*p) for p in two]]),
            CK_VALID,
        )


def _spikes() -> Iterable[BadGeometry]:
    for length in (5.0, 50.0, 500.0, 2000.0):
        # the spike goes out and comes back along the same segment
        ring = [
            (0, 0),
            (100, 0),
            (100, 50),
            (100 + length, 50),
            (100, 50),
            (100, 100),
            (0, 100),
            (0, 0),
        ]
        yield BadGeometry(
            f"spike {length:g} m",
            "spike",
            multipolygon([[lonlat(*p) for p in ring]]),
            CK_VALID,
        )


def _bad_holes_and_parts() -> Iterable[BadGeometry]:
    for s in (50.0, 300.0, 1500.0):
        shell = square(0, 0, s)
        outside = square(2 * s, 2 * s, s / 4, ccw=False)
        crossing = square(s * 0.75, s * 0.25, s / 2, ccw=False)
        yield BadGeometry(
            f"hole outside its shell {s:g} m",
            "bad hole",
            multipolygon([shell, outside]),
            CK_VALID,
        )
        yield BadGeometry(
            f"hole crossing its shell {s:g} m",
            "bad hole",
            multipolygon([shell, crossing]),
            CK_VALID,
        )
        yield BadGeometry(
            f"hole equal to its shell {s:g} m",
            "bad hole",
            multipolygon([shell, square(0, 0, s, ccw=False)]),
            CK_VALID,
        )
        yield BadGeometry(
            f"overlapping parts of one multipolygon {s:g} m",
            "overlapping parts",
            multipolygon([square(0, 0, s)], [square(s / 2, s / 2, s)]),
            CK_VALID,
        )
        yield BadGeometry(
            f"parts sharing an edge {s:g} m",  # OGC: multipolygon parts may touch only at points
            "overlapping parts",
            multipolygon([square(0, 0, s)], [square(s, 0, s)]),
            CK_VALID,
        )


def _collapsed() -> Iterable[BadGeometry]:
    for n, s in ((4, 100.0), (5, 300.0), (6, 1000.0), (4, 2.0)):
        line = [(i * s / (n - 2), 0.0) for i in range(n - 1)]
        ring = [*line, line[0]]
        yield BadGeometry(
            f"collinear ring of {n} points, {s:g} m",
            "zero-area ring",
            multipolygon([[lonlat(*p) for p in ring]]),
            CK_VALID,
        )
    yield BadGeometry(
        "ring of four equal points",
        "zero-area ring",
        multipolygon([[lonlat(0, 0)] * 4]),
        CK_VALID,
    )


def _too_short_and_unclosed() -> Iterable[BadGeometry]:
    for s in (10.0, 100.0, 1000.0):
        a, b, c = lonlat(0, 0), lonlat(s, 0), lonlat(s, s)
        # WKT: PostGIS refuses to parse rings of fewer than 4 points or unclosed rings
        yield BadGeometry(
            f"WKT ring of 3 points (closed) {s:g} m",
            "too-short ring",
            f"SRID=4490;MULTIPOLYGON((({_fmt(a)}, {_fmt(b)}, {_fmt(a)})))",
            PARSE_ERROR,
        )
        yield BadGeometry(
            f"WKT ring of 2 points {s:g} m",
            "too-short ring",
            f"SRID=4490;MULTIPOLYGON((({_fmt(a)}, {_fmt(b)})))",
            PARSE_ERROR,
        )
        yield BadGeometry(
            f"WKT unclosed ring {s:g} m",
            "unclosed ring",
            f"SRID=4490;MULTIPOLYGON((({_fmt(a)}, {_fmt(b)}, {_fmt(c)}, {_fmt(lonlat(0, s))})))",
            PARSE_ERROR,
        )
        yield BadGeometry(
            f"EWKB unclosed ring {s:g} m",
            "unclosed ring",
            ewkb_multipolygon([[a, b, c, lonlat(0, s)]]),
            PARSE_ERROR,
        )
        yield BadGeometry(
            f"EWKB ring of 3 points (closed) {s:g} m",
            "too-short ring",
            ewkb_multipolygon([[a, b, a]]),
            PARSE_ERROR,
        )


def _non_finite() -> Iterable[BadGeometry]:
    sq = square(0, 0, 100)
    for i in (1, 2):
        for axis in (0, 1):
            nan = list(sq)
            p = list(nan[i])
            p[axis] = math.nan
            nan[i] = (p[0], p[1])
            yield BadGeometry(
                f"NaN {'xy'[axis]} at vertex {i} (EWKB)",
                "non-finite",
                ewkb_multipolygon([nan]),
                CK_FINITE,
            )
            inf = list(sq)
            q = list(inf[i])
            q[axis] = math.inf if axis == 0 else -math.inf
            inf[i] = (q[0], q[1])
            yield BadGeometry(
                f"infinite {'xy'[axis]} at vertex {i} (EWKB)",
                "non-finite",
                ewkb_multipolygon([inf]),
                CK_FINITE,
            )
    yield BadGeometry(
        "NaN in WKT",
        "non-finite",
        "SRID=4490;MULTIPOLYGON(((112.05 35.95, NaN 35.95, 112.06 35.96, 112.05 35.95)))",
        CK_FINITE,
    )


def _out_of_range() -> Iterable[BadGeometry]:
    def box(x0: float, y0: float, d: float = 0.01) -> str:
        ring = [(x0, y0), (x0 + d, y0), (x0 + d, y0 + d), (x0, y0 + d), (x0, y0)]
        return multipolygon([ring])

    cases = {
        "axis order swapped (lat, lon)": box(35.95, 112.05),
        "latitude 112": box(112.05, 112.0),
        "longitude 200": box(200.0, 35.9),
        "longitude -112": box(-112.05, 35.9),
        "latitude -35.9": box(112.05, -35.9),
        "latitude 95": box(112.05, 95.0),
        "Gauss-Krüger metres as degrees": box(395000.0, 3930000.0, 1000.0),
        "Web Mercator metres as degrees": box(12473000.0, 4290000.0, 1000.0),
        "Beijing": box(116.40, 39.90),
        "Taiyuan": box(112.55, 37.87),
        "Zhengzhou": box(113.62, 34.75),
        "Changzhi (north of Jincheng)": box(113.11, 36.20),
        "Jiyuan (south of Jincheng)": box(112.60, 35.07),
        "Yuncheng (west of Jincheng)": box(111.00, 35.03),
        "Xinxiang (east of Jincheng)": box(113.90, 35.30),
        "straddling the east edge of the box": box(113.695, 35.5),
        "straddling the north edge of the box": box(112.8, 36.095),
        "0.001° south of the box": box(112.8, 35.15 - 0.011),
    }
    for name, wkt in cases.items():
        yield BadGeometry(name, "outside Jincheng", wkt, CK_EXTENT)


def _wrong_srid() -> Iterable[BadGeometry]:
    ring = ring_wkt(square(0, 0, 100))
    for srid in (4326, 3857, 4547, 4546, 999999):
        yield BadGeometry(
            f"SRID {srid} on a 4490 column",
            "wrong SRID",
            f"SRID={srid};MULTIPOLYGON(({ring}))",
            SQLSTATE_GEOMETRY_TYPMOD,
        )
    # PostGIS gives SRID-0 input the column's SRID (before any CHECK or trigger), so the
    # database can only catch the usual cause: projected metres that lost their SRID.
    metres = "((12473000 4290000, 12474000 4290000, 12474000 4291000, 12473000 4290000))"
    gk = "((395000 3930000, 396000 3930000, 396000 3931000, 395000 3930000))"
    yield BadGeometry(
        "SRID 0, Web Mercator metres", "wrong SRID", f"SRID=0;MULTIPOLYGON({metres})", CK_EXTENT
    )
    yield BadGeometry(
        "no SRID, Web Mercator metres", "wrong SRID", f"MULTIPOLYGON({metres})", CK_EXTENT
    )
    yield BadGeometry(
        "no SRID, Gauss-Krüger metres", "wrong SRID", f"MULTIPOLYGON({gk})", CK_EXTENT
    )


def _dimensions() -> Iterable[BadGeometry]:
    pts = square(0, 0, 100)
    z = "(" + ", ".join(f"{x!r} {y!r} 850" for x, y in pts) + ")"
    zm = "(" + ", ".join(f"{x!r} {y!r} 850 1" for x, y in pts) + ")"
    yield BadGeometry("MULTIPOLYGON Z", "Z/M", f"SRID=4490;MULTIPOLYGON Z(({z}))", "22023")
    yield BadGeometry("MULTIPOLYGON M", "Z/M", f"SRID=4490;MULTIPOLYGON M(({z}))", "22023")
    yield BadGeometry("MULTIPOLYGON ZM", "Z/M", f"SRID=4490;MULTIPOLYGON ZM(({zm}))", "22023")
    yield BadGeometry(
        "MULTIPOLYGON Z with z = 0",
        "Z/M",
        f"SRID=4490;MULTIPOLYGON Z(({z.replace(' 850', ' 0')}))",
        "22023",
    )
    yield BadGeometry("POLYGON Z", "Z/M", f"SRID=4490;POLYGON Z({z})", "22023")
    yield BadGeometry("3-D point", "Z/M", "SRID=4490;POINT Z(112.05 35.95 850)", "22023")


def _wrong_types() -> Iterable[BadGeometry]:
    pts = square(0, 0, 100)
    ring = ring_wkt(pts)
    a, b = _fmt(pts[0]), _fmt(pts[2])
    cases = {
        "POINT": f"POINT({a})",
        "MULTIPOINT": f"MULTIPOINT(({a}), ({b}))",
        "LINESTRING": f"LINESTRING({a}, {b})",
        "closed LINESTRING": f"LINESTRING{ring}",
        "MULTILINESTRING": f"MULTILINESTRING(({a}, {b}))",
        "POLYGON (not multi)": f"POLYGON({ring})",
        "GEOMETRYCOLLECTION of a polygon": f"GEOMETRYCOLLECTION(POLYGON({ring}))",
        "GEOMETRYCOLLECTION EMPTY": "GEOMETRYCOLLECTION EMPTY",
        "TRIANGLE": f"TRIANGLE(({a}, {_fmt(pts[1])}, {b}, {a}))",
        "TIN": f"TIN((({a}, {_fmt(pts[1])}, {b}, {a})))",
        "POLYHEDRALSURFACE": f"POLYHEDRALSURFACE(({ring}))",
        "CURVEPOLYGON": f"CURVEPOLYGON(CIRCULARSTRING({a}, {b}, {a}))",
        "MULTISURFACE": f"MULTISURFACE(CURVEPOLYGON(CIRCULARSTRING({a}, {b}, {a})))",
        "CIRCULARSTRING": f"CIRCULARSTRING({a}, {_fmt(pts[1])}, {b})",
    }
    for name, wkt in cases.items():
        yield BadGeometry(name, "wrong type", f"SRID=4490;{wkt}", SQLSTATE_GEOMETRY_TYPMOD)


def _empty() -> Iterable[BadGeometry]:
    yield BadGeometry("MULTIPOLYGON EMPTY", "empty", "SRID=4490;MULTIPOLYGON EMPTY", CK_NOT_EMPTY)
    yield BadGeometry(
        "MULTIPOLYGON of an empty polygon",
        "empty",
        "SRID=4490;MULTIPOLYGON(EMPTY)",
        CK_NOT_EMPTY,
    )
    yield BadGeometry(
        "EWKB MultiPolygon with no parts",
        "empty",
        (struct.pack("<BII", 1, 6 | 0x20000000, 4490) + struct.pack("<I", 0)).hex().upper(),
        CK_NOT_EMPTY,
    )


def _too_many_vertices() -> Iterable[BadGeometry]:
    # A circle of n distinct points has n + 1 vertices (closing point).
    for n in (MAX_PARCEL_VERTICES, MAX_PARCEL_VERTICES + 1000, 2 * MAX_PARCEL_VERTICES):
        yield BadGeometry(
            f"circle of {n + 1} vertices",
            "too many vertices",
            multipolygon([circle(n)]),
            CK_MAX_VERTICES,
        )
    n_parts = MAX_PARCEL_VERTICES // 2001 + 1  # each part 2,001 vertices: just over the cap
    parts = [[circle(2000, 50.0, dx=150.0 * i)] for i in range(n_parts)]
    yield BadGeometry(
        f"{n_parts} parts of 2,001 vertices",
        "too many vertices",
        multipolygon(*parts),
        CK_MAX_VERTICES,
    )


def _too_small() -> Iterable[BadGeometry]:
    for side in (0.05, 0.5, 0.9):
        yield BadGeometry(
            f"square of {side * side:g} m²",
            "below 1 m²",
            multipolygon([square(0, 0, side)]),
            CK_VALID_AREA,
        )
    thin = [(0, 0), (500, 0), (500, 0.001), (0, 0.001), (0, 0)]
    yield BadGeometry(
        "sliver 500 m × 1 mm",
        "below 1 m²",
        multipolygon([[lonlat(*p) for p in thin]]),
        CK_VALID_AREA,
    )


FAMILIES = (
    _bow_ties,
    _self_touching,
    _spikes,
    _bad_holes_and_parts,
    _collapsed,
    _too_short_and_unclosed,
    _non_finite,
    _out_of_range,
    _wrong_srid,
    _dimensions,
    _wrong_types,
    _empty,
    _too_many_vertices,
    _too_small,
)


def static_cases() -> list[BadGeometry]:
    """Every bad geometry that does not depend on stored data."""
    return [case for family in FAMILIES for case in family()]


# --------------------------------------------------------------------------- overlaps


@dataclass(frozen=True)
class StoredParcel:
    code: str
    county_code: str
    exterior: Sequence[Point]
    """the exterior ring of its first polygon (lon, lat), counter-clockwise"""


def _scaled(ring: Sequence[Point], factor: float) -> list[Point]:
    cx = sum(p[0] for p in ring[:-1]) / (len(ring) - 1)
    cy = sum(p[1] for p in ring[:-1]) / (len(ring) - 1)
    return [(cx + (x - cx) * factor, cy + (y - cy) * factor) for x, y in ring]


def _shifted(ring: Sequence[Point], fx: float, fy: float) -> list[Point]:
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    dx, dy = (max(xs) - min(xs)) * fx, (max(ys) - min(ys)) * fy
    return [(x + dx, y + dy) for x, y in ring]


def overlap_cases(stored: Sequence[StoredParcel], other_county: str) -> list[BadGeometry]:
    """Shapes sharing area with stored parcels (convex ones: scaling about the vertex
    centroid keeps them inside). `other_county` ≠ the parcel's county gives the
    across-the-border variant."""
    out: list[BadGeometry] = []
    for p in stored:
        ring = list(p.exterior)
        kinds = {
            "identical": ring,
            "contained (scaled 0.5)": _scaled(ring, 0.5),
            "containing (scaled 1.5)": _scaled(ring, 1.5),
            "partial (shifted half east)": _shifted(ring, 0.5, 0.0),
            "partial (shifted 90 % north-east)": _shifted(ring, 0.1, 0.1),
            "reversed ring, identical": ring[::-1],
        }
        for kind, shape in kinds.items():
            out.append(
                BadGeometry(
                    f"{kind} of {p.code}",
                    "overlap",
                    multipolygon([shape]),
                    NO_SHARED_AREA,
                    county_code=p.county_code,
                )
            )
        out.append(
            BadGeometry(
                f"contained in {p.code}, filed under county {other_county}",
                "overlap across counties",
                multipolygon([_scaled(ring, 0.3)]),
                NO_SHARED_AREA,
                county_code=other_county,
            )
        )
    return out
