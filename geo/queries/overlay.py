"""Overlay questions the land bureau asks daily: which protected zones a parcel or a
drawn geometry overlaps and by how much; a county's parcel area by class and status.

Overlaps are measured like parcel areas: plane area in the CGCS2000 Gauss-Krüger zone
of the subject geometry (its centroid's side of 112.5°E)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, case, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from geo.crs import GK_EAST_SRID, GK_WEST_SRID, GK_ZONE_BOUNDARY_LON
from geo.geometry_input import InputGeometry
from geo.models import Parcel, ProtectedZone
from geo.spatial import as_stored


def gk_zone(geom: Any) -> Any:
    """The Gauss-Krüger zone (EPSG) of a geometry, by its centroid — the parcel rule."""
    return case(
        (func.ST_X(func.ST_Centroid(geom)) < GK_ZONE_BOUNDARY_LON, literal(GK_WEST_SRID)),
        else_=literal(GK_EAST_SRID),
    )


async def subject_of_parcel(session: AsyncSession, code: str) -> Any | None:
    """The stored geometry of a parcel as a scalar subquery, or None if unknown."""
    exists_ = await session.scalar(select(Parcel.id).where(Parcel.code == code))
    if exists_ is None:
        return None
    return select(Parcel.geom).where(Parcel.code == code).scalar_subquery()


def subject_of_input(g: InputGeometry) -> Any:
    return as_stored(g)


async def zone_overlaps(
    session: AsyncSession, subject: Any
) -> tuple[int, float, Sequence[Row[Any]]]:
    """(zone EPSG, subject area m², one row per overlapped zone with overlap_m2 > 0)."""
    subj = select(subject.label("g")).cte("subject")
    srid = gk_zone(subj.c.g)
    head = (
        await session.execute(select(srid, func.ST_Area(func.ST_Transform(subj.c.g, srid))))
    ).one()
    # Intersect in the Gauss-Krüger plane, like the parcel area: the vertices are the
    # legal boundary and straight edges between them are straight in the projection.
    shared = func.ST_Intersection(
        func.ST_Transform(ProtectedZone.geom, srid), func.ST_Transform(subj.c.g, srid)
    )
    overlap = func.ST_Area(shared).label("overlap_m2")
    stmt = (
        select(
            ProtectedZone.id,
            ProtectedZone.code,
            ProtectedZone.kind,
            ProtectedZone.name,
            ProtectedZone.county_code,
            ProtectedZone.area_m2,
            ProtectedZone.source,
            overlap,
        )
        .select_from(ProtectedZone)
        .join(subj, ProtectedZone.geom.op("&&")(subj.c.g))
        .where(func.ST_Relate(ProtectedZone.geom, subj.c.g, "2********"))
        .order_by(ProtectedZone.kind, overlap.desc(), ProtectedZone.code)
    )
    rows = (await session.execute(stmt)).all()
    return int(head[0]), float(head[1] or 0), rows


async def land_summary(session: AsyncSession, county_code: str) -> Sequence[Row[Any]]:
    """Parcel count and areas of a county by land class × procedure status, with the
    subtotals per class, per status and the total (GROUPING SETS: one statement)."""
    stmt = (
        select(
            Parcel.land_class,
            Parcel.procedure_status,
            func.grouping(Parcel.land_class).label("all_classes"),
            func.grouping(Parcel.procedure_status).label("all_statuses"),
            func.count().label("parcel_count"),
            func.coalesce(func.sum(Parcel.area_m2), 0).label("area_m2"),
            func.coalesce(func.sum(Parcel.new_construction_area_m2), 0).label(
                "new_construction_m2"
            ),
            func.coalesce(func.sum(Parcel.farmland_area_m2), 0).label("farmland_m2"),
        )
        .where(Parcel.county_code == county_code)
        .group_by(
            func.grouping_sets(
                tuple_(Parcel.land_class, Parcel.procedure_status),
                tuple_(Parcel.land_class),
                tuple_(Parcel.procedure_status),
                tuple_(),
            )
        )
        .order_by(Parcel.land_class, Parcel.procedure_status)
    )
    return (await session.execute(stmt)).all()
