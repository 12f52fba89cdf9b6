"""地块 Creating and editing parcels: geometry checked in PostGIS before the write.

A parcel's geometry has passed geo.geometry_input (strict parse, type, 2-D, range, GEOS
validity) before it gets here. These functions check the rest in PostGIS, in the order
the database's CHECKs would (validity with ST_IsValidDetail's reason and location,
Jincheng's extent, the vertex cap, a legal area of at least 1 m²), then the county (the
geometry must lie in the parcel's county) and the no-shared-area rule, and only then
write. The database refuses all of it again (migration 0004) — concurrent inserts that
both passed the overlap pre-check meet its lock — and geo.writes.refusals maps its
refusals to the same errors.

Input in EPSG:4326 is transformed to 4490 by PostGIS (CGCS2000 and WGS84 agree to
centimetres here; PROJ's transformation between them is the identity). A Polygon is
stored as a one-part MultiPolygon. Areas are generated columns: never typed in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from geo import write_rules as W
from geo.crs import GK_EAST_SRID, GK_WEST_SRID, GK_ZONE_BOUNDARY_LON, STORAGE_SRID
from geo.enums import LandClass, LandStatus, SupplyMethod
from geo.geometry_input import InputGeometry
from geo.writes.refusals import (
    GeometryRefused,
    NotFoundRefused,
    OverlapRefused,
    StaleVersion,
    WriteRefused,
    from_db_error,
)

OUTSIDE_COUNTY_TOLERANCE_M2 = 1.0
"""A parcel may stick out of its county's boundary by less than this much area (m², the
parcel's Gauss-Krüger plane): the boundaries (geo/data/jincheng-counties) and surveyed
parcels come from different sources and disagree by centimetres along shared lines; any
real part of a parcel (≥ MIN_PARCEL_AREA_M2 = 1 m²) outside the county is refused."""

SUPPLIED_STATUSES = (
    LandStatus.SUPPLIED,
    LandStatus.LAND_PLANNING_PERMIT,
    LandStatus.REGISTERED,
    LandStatus.IDLE,
)
"""Statuses in which a parcel has a supply method (the parcel table's CHECKs)."""

GEOMETRY_FIELD = ["input", "geometry"]

_GK = (
    f"(CASE WHEN ST_X(ST_Centroid(g)) < {GK_ZONE_BOUNDARY_LON} "
    f"THEN {GK_WEST_SRID} ELSE {GK_EAST_SRID} END)"
)
"""The Gauss-Krüger zone of the parcel, as migration 0001's generated column chooses it."""


def geometry_sql(g: InputGeometry, param: str = "wkb") -> str:
    """SQL of the input as a 4490 MultiPolygon (4326 transformed by PostGIS)."""
    raw = f"ST_GeomFromWKB(:{param}, {int(g.srid)})"
    if g.srid != STORAGE_SRID:
        raw = f"ST_Transform({raw}, {STORAGE_SRID})"
    return f"ST_Multi({raw})"


_X0, _Y0, _X1, _Y1 = W.JINCHENG_BBOX


def _facts_sql(g: InputGeometry) -> str:
    return f"""
    WITH i AS (SELECT {geometry_sql(g)} AS g),
         f AS (SELECT g, ST_IsValidDetail(g) AS d, {_GK} AS gk FROM i)
    SELECT (d).valid AS valid, (d).reason AS reason,
           ST_X((d).location) AS loc_x, ST_Y((d).location) AS loc_y,
           ST_XMin(g) AS x0, ST_YMin(g) AS y0, ST_XMax(g) AS x1, ST_YMax(g) AS y1,
           ST_NPoints(g) AS npoints, gk,
           CASE WHEN (d).valid AND ST_XMin(g) >= {_X0} AND ST_XMax(g) <= {_X1}
                     AND ST_YMin(g) >= {_Y0} AND ST_YMax(g) <= {_Y1}
                THEN ST_Area(ST_Transform(g, gk)) END AS area_m2
      FROM f
    """


@dataclass(frozen=True)
class GeometryFacts:
    gk_srid: int
    area_m2: float


async def check_shape(session: AsyncSession, g: InputGeometry) -> GeometryFacts:
    """The database's geometry rules, checked first so the refusal says why and where."""
    r = (await session.execute(text(_facts_sql(g)), {"wkb": g.wkb})).one()
    if not r.valid:
        location = None if r.loc_x is None else (float(r.loc_x), float(r.loc_y))
        raise GeometryRefused(
            "INVALID_GEOMETRY", str(r.reason), location=location, field=GEOMETRY_FIELD
        )
    if not (r.x0 >= _X0 and r.x1 <= _X1 and r.y0 >= _Y0 and r.y1 <= _Y1):
        raise GeometryRefused(
            "COORDINATE_OUT_OF_RANGE",
            f"extent ({r.x0:.6f}, {r.y0:.6f}) – ({r.x1:.6f}, {r.y1:.6f}) is outside "
            f"Jincheng's box {W.JINCHENG_BBOX} (EPSG:4490 lon/lat)",
            location=(float(r.x0), float(r.y0)),
            field=GEOMETRY_FIELD,
        )
    if r.npoints > W.MAX_PARCEL_VERTICES:
        raise GeometryRefused(
            "TOO_MANY_VERTICES",
            f"{r.npoints} vertices; a parcel has at most {W.MAX_PARCEL_VERTICES}",
            field=GEOMETRY_FIELD,
        )
    if r.area_m2 is None or r.area_m2 < W.MIN_PARCEL_AREA_M2:
        raise GeometryRefused(
            "INVALID_GEOMETRY",
            f"legal area {r.area_m2 or 0:.4f} m² (EPSG:{r.gk}) is below the minimum "
            f"{W.MIN_PARCEL_AREA_M2:g} m²: a sliver or degenerate ring, not a parcel",
            field=GEOMETRY_FIELD,
        )
    return GeometryFacts(int(r.gk), float(r.area_m2))


_COUNTY_SQL = """
    WITH i AS (SELECT {g} AS g)
    SELECT a.code,
           ST_CoveredBy(i.g, a.geom) AS covered,
           ST_Area(ST_Transform(ST_Intersection(i.g, a.geom), :gk)) AS inside_m2
      FROM i JOIN admin_area a ON a.geom && i.g AND ST_Intersects(a.geom, i.g)
     WHERE a.code = ANY(:counties)
"""


async def county_of(
    session: AsyncSession, g: InputGeometry, facts: GeometryFacts, counties: list[str]
) -> tuple[str | None, float]:
    """The county (among `counties`) the geometry lies in, within the tolerance, else None;
    with the area (m²) that lies outside the best-matching county."""
    rows = (
        await session.execute(
            text(_COUNTY_SQL.format(g=geometry_sql(g))),
            {"wkb": g.wkb, "gk": facts.gk_srid, "counties": counties},
        )
    ).all()
    best, outside = None, facts.area_m2
    for code, covered, inside_m2 in rows:
        out = 0.0 if covered else max(0.0, facts.area_m2 - float(inside_m2 or 0.0))
        if out < outside:
            best, outside = code, out
    return (best if outside < OUTSIDE_COUNTY_TOLERANCE_M2 else None), outside


async def check_in_county(
    session: AsyncSession,
    g: InputGeometry,
    facts: GeometryFacts,
    county_code: str,
    all_counties: list[str],
) -> None:
    """Refuse OUTSIDE_COUNTY unless the geometry lies in `county_code` (within tolerance)."""
    found, outside = await county_of(session, g, facts, [county_code])
    if found == county_code:
        return
    elsewhere, left_over = await county_of(session, g, facts, all_counties)
    if elsewhere:
        hint = f"; it lies in {elsewhere}"
    elif left_over >= facts.area_m2 - OUTSIDE_COUNTY_TOLERANCE_M2:
        hint = "; it lies outside all six county-level units"
    else:
        hint = "; it crosses a county boundary"
    raise WriteRefused(
        "OUTSIDE_COUNTY",
        f"地块不在所填县（市、区）内 the geometry is not inside county {county_code}: "
        f"{outside:,.2f} m² lie outside it{hint}",
        field=GEOMETRY_FIELD,
    )


_OVERLAP_SQL = """
    WITH i AS (SELECT {g} AS g)
    SELECT p.code, round(ST_Area(ST_Transform(ST_Intersection(i.g, p.geom), :gk))::numeric, 2)
      FROM i JOIN parcel p ON p.geom && i.g AND ST_Relate(i.g, p.geom, '2********')
     WHERE p.id IS DISTINCT FROM :exclude
     ORDER BY 2 DESC, p.code
     LIMIT 1
"""


async def check_no_shared_area(
    session: AsyncSession,
    g: InputGeometry,
    facts: GeometryFacts,
    *,
    code: str,
    exclude_id: int | None = None,
) -> None:
    """Refuse PARCEL_OVERLAP (with the other parcel and the shared area, measured as the
    database measures it) when the geometry shares interior with another parcel. Not
    locked: the database's trigger repeats it under its lock for concurrent writers."""
    hit = (
        await session.execute(
            text(_OVERLAP_SQL.format(g=geometry_sql(g))),
            {"wkb": g.wkb, "gk": facts.gk_srid, "exclude": exclude_id},
        )
    ).first()
    if hit is not None:
        raise OverlapRefused(code, hit[0], float(hit[1]))


async def _guarded(session: AsyncSession, stmt: Any, params: dict[str, Any], code: str) -> Any:
    """Run a write; the database's refusals come back as the pre-checks' refusals."""
    try:
        async with session.begin_nested():
            return await session.execute(stmt, params)
    except DBAPIError as exc:
        refusal = from_db_error(exc, code=code)
        if refusal is None:
            raise
        raise refusal from exc


async def check_geometry(
    session: AsyncSession,
    g: InputGeometry,
    *,
    code: str,
    county_code: str,
    all_counties: list[str],
    exclude_id: int | None = None,
) -> GeometryFacts:
    """Every pre-check of a parcel geometry, in the order the errors are reported."""
    facts = await check_shape(session, g)
    await check_in_county(session, g, facts, county_code, all_counties)
    await check_no_shared_area(session, g, facts, code=code, exclude_id=exclude_id)
    return facts


async def create_parcel(
    session: AsyncSession,
    *,
    code: str,
    county_code: str,
    geometry: InputGeometry,
    land_class: LandClass,
    name: str | None,
    registered_on: dt.date,
    actor_sub: str,
    all_counties: list[str],
    project_id: int | None = None,
    prechecks: bool = True,
) -> int:
    """需求登记: insert a parcel at DEMAND with its dated first step (and the project link).

    `prechecks=False` skips the PostGIS pre-checks (tests use it to prove the database's
    own refusals map to the same errors); the API always checks first."""
    exists = await session.execute(text("SELECT 1 FROM parcel WHERE code = :c"), {"c": code})
    if exists.first() is not None:
        raise WriteRefused(
            "DUPLICATE_CODE",
            f"编码已存在 parcel code {code} is already taken",
            field=["input", "code"],
        )
    if prechecks:
        await check_geometry(
            session, geometry, code=code, county_code=county_code, all_counties=all_counties
        )
    result = await _guarded(
        session,
        text(
            "INSERT INTO parcel (code, name, county_code, geom, land_class, procedure_status, "
            f"status_date) VALUES (:code, :name, :county, {geometry_sql(geometry)}, "
            "CAST(:land_class AS land_class), 'DEMAND', :on) RETURNING id"
        ),
        {
            "code": code,
            "name": name,
            "county": county_code,
            "wkb": geometry.wkb,
            "land_class": land_class.value,
            "on": registered_on,
        },
        code,
    )
    parcel_id = int(result.scalar_one())
    await session.execute(
        text(
            "INSERT INTO parcel_status_event (parcel_id, status, occurred_on, actor, reason) "
            "VALUES (:id, 'DEMAND', :on, :actor, :reason)"
        ),
        {"id": parcel_id, "on": registered_on, "actor": actor_sub, "reason": "需求登记 created"},
    )
    if project_id is not None:
        await _guarded(
            session,
            text(
                "INSERT INTO project_parcel (project_id, parcel_id, linked_on) "
                "VALUES (:project, :parcel, :on)"
            ),
            {"project": project_id, "parcel": parcel_id, "on": registered_on},
            code,
        )
    return parcel_id


@dataclass(frozen=True)
class LockedParcel:
    id: int
    code: str
    county_code: str
    status: LandStatus
    status_date: dt.date
    supply_method: SupplyMethod | None
    version: int


async def lock_parcel(session: AsyncSession, code: str, version: int) -> LockedParcel:
    """Lock the parcel row (writers of one parcel queue here) and compare versions:
    NOT_FOUND, or STALE_VERSION with the current version."""
    row = (
        await session.execute(
            text(
                "SELECT id, code, county_code, procedure_status::text AS status, status_date, "
                "supply_method::text AS supply_method, version FROM parcel WHERE code = :code "
                "FOR NO KEY UPDATE"
            ),
            {"code": code},
        )
    ).first()
    if row is None:
        raise NotFoundRefused("parcel 地块", code, field=["input", "code"])
    if row.version != version:
        raise StaleVersion("parcel 地块", code, version, row.version)
    return LockedParcel(
        row.id,
        row.code,
        row.county_code,
        LandStatus(row.status),
        row.status_date,
        None if row.supply_method is None else SupplyMethod(row.supply_method),
        row.version,
    )


async def update_parcel(
    session: AsyncSession,
    parcel: LockedParcel,
    *,
    geometry: InputGeometry | None = None,
    new_county_code: str | None = None,
    land_class: LandClass | None = None,
    name: str | None = None,
    supply_method: SupplyMethod | None = None,
    agreed_start_date: dt.date | None = None,
) -> None:
    """Change the given fields of a locked parcel (None = unchanged), version-checked.

    The geometry has been checked by the caller (check_geometry, excluding this parcel);
    `new_county_code` is the county it lies in (the parcel moves with it)."""
    sets: list[str] = []
    params: dict[str, Any] = {"id": parcel.id, "version": parcel.version}
    if geometry is not None:
        sets.append(f"geom = {geometry_sql(geometry)}")
        params["wkb"] = geometry.wkb
    if new_county_code is not None and new_county_code != parcel.county_code:
        sets.append("county_code = :county")
        params["county"] = new_county_code
    if land_class is not None:
        sets.append("land_class = CAST(:land_class AS land_class)")
        params["land_class"] = land_class.value
    if name is not None:
        sets.append("name = :name")
        params["name"] = name
    if supply_method is not None:
        if parcel.status not in SUPPLIED_STATUSES:
            raise WriteRefused(
                "BAD_USER_INPUT",
                f"供地方式只能在供地后填写 a supply method belongs to supplied land; parcel "
                f"{parcel.code} is {parcel.status.value} (use changeParcelStatus to SUPPLIED)",
                field=["input", "supplyMethod"],
            )
        sets.append("supply_method = CAST(:supply AS supply_method)")
        params["supply"] = supply_method.value
    if agreed_start_date is not None:
        sets.append("agreed_start_date = :agreed")
        params["agreed"] = agreed_start_date
    if not sets:
        raise WriteRefused("BAD_USER_INPUT", "nothing to change: give at least one field")
    result = await _guarded(
        session,
        text(
            f"UPDATE parcel SET {', '.join(sets)} WHERE id = :id AND version = :version "
            "RETURNING version"
        ),
        params,
        parcel.code,
    )
    if result.first() is None:  # cannot happen under the row lock; kept as the rule
        raise StaleVersion("parcel 地块", parcel.code, parcel.version, -1)
