"""Coordinate reference systems and area units, in one place (DESIGN.md §2)."""

from __future__ import annotations

STORAGE_SRID = 4490
"""CGCS2000 geographic: the only CRS the natural-resources system accepts since 2018."""

ACCEPTED_INPUT_SRIDS = (4490, 4326)
"""Input may be CGCS2000 or WGS84 (they agree to centimetres here); stored as 4490."""

GK_ZONE_BOUNDARY_LON = 112.5
GK_WEST_SRID = 4546  # CGCS2000 / 3-degree Gauss-Krüger CM 111E
GK_EAST_SRID = 4547  # CGCS2000 / 3-degree Gauss-Krüger CM 114E

M2_PER_MU = 10000 / 15
"""1 亩 = 10000/15 m² ≈ 666.67 m²."""
M2_PER_HA = 10000.0

DEV_ZONE_CODE = "140571"
"""晋城经济技术开发区 has no GB/T 2260 code; 140571 follows the 7x convention the NBS
statistical division codes (统计用区划代码) use for development zones. Custom, documented."""

CITY_CODE = "140500"
"""晋城市; also the holder of the city pool (市级计划指标调节库) in the quota ledger."""


def gk_srid_for_lon(lon: float) -> int:
    """The Gauss-Krüger zone a longitude falls in (the database computes the same per parcel)."""
    return GK_WEST_SRID if lon < GK_ZONE_BOUNDARY_LON else GK_EAST_SRID


UNIT_DIGITS = 8
"""亩 and 公顷 are rounded to 8 decimals: finer than the 0.01 m² areas are kept to (1.5e-5 亩,
1e-6 ha), and it drops binary noise such as 8.935424000000001 ha."""


def mu(m2: float) -> float:
    return round(m2 / M2_PER_MU, UNIT_DIGITS)


def ha(m2: float) -> float:
    return round(m2 / M2_PER_HA, UNIT_DIGITS)
