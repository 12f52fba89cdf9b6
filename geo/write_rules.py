"""The write rules the database enforces (migration 0004), as named constants.

The API validates input against the same numbers before it writes, so a bad geometry is
refused with a precise message instead of a constraint error; the database refuses it
anyway when anyone writes directly. Migration 0004 keeps frozen copies of these values
(a test checks they still agree), and the mutation layer maps the constraint names and
SQLSTATEs below to GraphQL error codes.
"""

from __future__ import annotations

from typing import Final

# ------------------------------------------------------------------ parcel geometry

JINCHENG_BBOX: Final = (111.90, 35.15, 113.70, 36.10)
"""(min lon, min lat, max lon, max lat), CGCS2000 degrees. The city's boundary
(geo/data/jincheng-counties/140500.geojson) spans 111.9414–113.6250 °E and
35.1870–36.0627 °N; the box adds a margin of at least 0.04° (≈ 4 km) on each side.
A parcel outside it is a unit, axis-order or CRS mistake (or not Jincheng's business)."""

MAX_PARCEL_VERTICES: Final = 20_000
"""ST_NPoints cap per parcel. Surveyed cadastral parcels have tens to a few hundred
vertices; 20,000 leaves room for densely digitised curves while bounding the cost of
the validity, overlap and overlay computations each write triggers. Equal to
geo.geometry_input.DEFAULT_MAX_VERTICES, the cap the input parser and the bulk import
already apply (a test keeps them equal)."""

MIN_PARCEL_AREA_M2: Final = 1.0
"""Smallest legal area (m², Gauss-Krüger plane) a parcel may have: anything smaller is a
sliver or a degenerate ring, not a plot of land."""

PARCEL_WRITE_LOCK_KEY: Final = 0x4C47_0001
"""pg_advisory_xact_lock key (1279721473) serialising the no-shared-area check of every
transaction that inserts or re-shapes parcels (held until commit)."""

# CHECK constraints on parcel.geom. PostgreSQL tests CHECKs in alphabetical order of
# name, so a geometry with several faults reports the first of these: type and extent
# before the vertex cap, the cap before the (GEOS) validity test, validity before area.
CK_2D: Final = "parcel_geom_2d"
CK_EXTENT: Final = "parcel_geom_extent"
CK_FINITE: Final = "parcel_geom_finite"
"""Not a CHECK but a BEFORE trigger raising check_violation (23514) under this name: NaN
coordinates slip past bounding-box tests and would break the generated legal area."""
CK_MAX_VERTICES: Final = "parcel_geom_max_vertices"
CK_NOT_EMPTY: Final = "parcel_geom_not_empty"
CK_POLYGONAL: Final = "parcel_geom_polygonal"
CK_VALID: Final = "parcel_geom_valid"
CK_VALID_AREA: Final = "parcel_geom_valid_area"
NO_SHARED_AREA: Final = "parcel_no_shared_area"
"""Reported as the constraint name of SQLSTATE_PARCEL_OVERLAP errors."""

# ------------------------------------------------------------------ SQLSTATEs

SQLSTATE_PARCEL_OVERLAP: Final = "LG001"
"""Two parcels would share area. MESSAGE names both codes and the shared area; DETAIL is
JSON {"parcelCode", "otherParcelCode", "sharedAreaM2"}; HINT is PARCEL_OVERLAP."""
SQLSTATE_NO_ACTOR: Final = "LG002"
"""The API role wrote an audited table without `landguard.sub` set (bind_actor missing)."""
SQLSTATE_ISOLATION: Final = "LG003"
"""Parcel geometry written under REPEATABLE READ: the overlap check cannot see rows
committed after the snapshot, so it is refused (READ COMMITTED and SERIALIZABLE work)."""
SQLSTATE_GEOMETRY_TYPMOD: Final = "22023"
"""PostGIS refusing a geometry whose type, dimension or SRID does not match the column."""
SQLSTATE_CHECK: Final = "23514"
SQLSTATE_RLS: Final = "42501"
"""insufficient_privilege: a row-level-security WITH CHECK or a missing grant."""

# ------------------------------------------------------------------ error-code mapping

CONSTRAINT_ERROR_CODES: Final = {
    CK_2D: "INVALID_GEOMETRY",
    CK_EXTENT: "COORDINATE_OUT_OF_RANGE",
    CK_FINITE: "COORDINATE_OUT_OF_RANGE",
    CK_MAX_VERTICES: "TOO_MANY_VERTICES",
    CK_NOT_EMPTY: "INVALID_GEOMETRY",
    CK_POLYGONAL: "INVALID_GEOMETRY",
    CK_VALID: "INVALID_GEOMETRY",
    CK_VALID_AREA: "INVALID_GEOMETRY",
    NO_SHARED_AREA: "PARCEL_OVERLAP",
}
"""Suggested GraphQL error code per constraint (the mutation layer owns ErrorCode)."""
