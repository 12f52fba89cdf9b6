"""Parcel-level reads of the land guarantee (rules: geo/guarantee_rules.py): a project's
parcels with their procedure status on a date, the protected zones each parcel conflicts
with and by how much, and the parcel overlay cache. Each is one statement for a batch."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Row, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Date

from geo.enums import ZoneKind

PARCEL_COLUMNS = (
    "p.id, p.code, p.name, p.county_code, p.land_class, p.procedure_status, p.status_date, "
    "p.area_m2, p.gk_srid, p.new_construction_area_m2, p.farmland_area_m2, p.supply_method, "
    "p.agreed_start_date, p.approval_doc, p.version"
)
"""The columns `schema.types.Parcel.from_row` reads (with a `project_id`)."""

STATUS_NOW = "p.procedure_status"
STATUS_ON = (
    "(SELECT e.status FROM parcel_status_event e WHERE e.parcel_id = p.id AND e.occurred_on <= :d "
    "ORDER BY e.occurred_on DESC, e.id DESC LIMIT 1)"
)
"""A parcel's status on D: its latest procedure step dated ≤ D (NULL before its first)."""

CONFLICT_KINDS = (ZoneKind.BASIC_FARMLAND, ZoneKind.ECOLOGICAL_REDLINE)

_IDS = bindparam("ids", type_=ARRAY(BigInteger))


def status_expression(current: bool) -> str:
    return STATUS_NOW if current else STATUS_ON


def _link_open(current: bool) -> str:
    """Not unlinked by D. Today that is the active link (`unlinked_on IS NULL`, which the
    partial index project_parcel_project_idx serves); an unlink is never dated ahead."""
    return "l.unlinked_on IS NULL" if current else "(l.unlinked_on IS NULL OR l.unlinked_on > :d)"


async def project_parcels_on(
    session: AsyncSession, project_ids: Sequence[int], *, on: dt.date, current: bool
) -> dict[int, list[Row[Any]]]:
    """Parcels linked to each project on `on`, with `status_on` (the current status when
    `current`, else rebuilt from the dated steps) and the overlay areas; by code."""
    stmt = text(
        f"""
        SELECT l.project_id, {PARCEL_COLUMNS}, s.status AS status_on,
               coalesce(o.basic_farmland_m2, 0) AS basic_farmland_m2,
               coalesce(o.redline_m2, 0) AS redline_m2,
               coalesce(o.conflict, false) AS conflict,
               coalesce(o.outside_urban, true) AS outside_urban
          FROM project_parcel l
          JOIN parcel p ON p.id = l.parcel_id
         CROSS JOIN LATERAL (SELECT {status_expression(current)} AS status) s
          LEFT JOIN parcel_overlay o ON o.parcel_id = p.id
         WHERE l.project_id = ANY(:ids) AND l.linked_on <= :d AND {_link_open(current)}
           AND s.status IS NOT NULL
         ORDER BY l.project_id, p.code"""
    ).bindparams(_IDS, bindparam("d", type_=Date))
    grouped: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in (await session.execute(stmt, {"ids": list(project_ids), "d": on})).all():
        grouped[row.project_id].append(row)
    return grouped


async def parcel_conflicts(
    session: AsyncSession, parcel_ids: Sequence[int]
) -> dict[int, list[Row[Any]]]:
    """Each parcel's basic-farmland and red-line zones sharing interior with it, with the
    shared area measured like the parcel area: both geometries transformed into the
    parcel's Gauss-Krüger zone, then intersected (geo/queries/overlay.py does the same).
    Parcels the overlay cache marks conflict-free are skipped without geometry work."""
    kinds = ", ".join(f"'{k.value}'" for k in CONFLICT_KINDS)
    stmt = text(
        f"""
        SELECT p.id AS parcel_id, z.id, z.code, z.kind, z.name, z.county_code, z.area_m2, z.source,
               ST_Area(ST_Intersection(ST_Transform(z.geom, p.gk_srid),
                                       ST_Transform(p.geom, p.gk_srid))) AS overlap_m2
          FROM parcel p
          JOIN parcel_overlay o ON o.parcel_id = p.id AND o.conflict
          JOIN protected_zone z ON z.geom && p.geom AND z.kind IN ({kinds})
                               AND ST_Relate(z.geom, p.geom, '2********')
         WHERE p.id = ANY(:ids)
         ORDER BY p.id, z.kind, overlap_m2 DESC, z.code"""
    ).bindparams(_IDS)
    grouped: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in (await session.execute(stmt, {"ids": list(parcel_ids)})).all():
        grouped[row.parcel_id].append(row)
    return grouped


async def parcel_overlays(session: AsyncSession, parcel_ids: Sequence[int]) -> dict[int, Row[Any]]:
    """The overlay cache rows (migration 0002) of the parcels."""
    stmt = text(
        "SELECT parcel_id, basic_farmland_m2, redline_m2, urban_boundary_m2, conflict, outside_urban "
        "FROM parcel_overlay WHERE parcel_id = ANY(:ids)"
    ).bindparams(_IDS)
    return {r.parcel_id: r for r in (await session.execute(stmt, {"ids": list(parcel_ids)})).all()}
