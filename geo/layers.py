"""Map layers: one registry of what each layer is (table, geometry, the properties a
map styles by, the property filters), shared by GraphQL FeatureCollections, GeoJSON
downloads, vector tiles and OGC API – Features — the same data by the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, Text, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from geo import enums as E
from geo.crs import M2_PER_HA, M2_PER_MU
from geo.models import AdminArea, Parcel, ParcelOverlay, Project, ProjectParcel, ProtectedZone
from geo.queries.geojson import GeometryOptions, as_geojson
from geo.spatial import SpatialFilter, apply_spatial
from geo.warnings import warnings_layer_source

CONFLICT_KINDS = (E.ZoneKind.BASIC_FARMLAND, E.ZoneKind.ECOLOGICAL_REDLINE)


class UnknownFilter(ValueError):
    """A property filter the layer does not offer."""


@dataclass(frozen=True)
class Layer:
    name: str
    title: str
    description: str
    geometry_type: str
    min_zoom: int
    geom: Any
    key: Any
    properties: Mapping[str, Any]
    filters: Mapping[str, Any]  # filter name → column compared with =
    joins: Callable[[Select[Any]], Select[Any]] = field(default=lambda s: s)

    def select(
        self,
        *columns: Any,
        filters: Mapping[str, Any] | None = None,
        spatial: SpatialFilter | None = None,
    ) -> Select[Any]:
        """SELECT columns FROM the layer, property filters (=) and spatial predicates applied."""
        stmt = self.joins(select(*columns))
        for name, value in (filters or {}).items():
            if name not in self.filters:
                raise UnknownFilter(
                    f"layer {self.name} has no filter {name!r}; offered: {sorted(self.filters)}"
                )
            stmt = stmt.where(self.filters[name] == value)
        return apply_spatial(stmt, self.geom, spatial)

    def property_columns(self, names: list[str] | None = None) -> list[Any]:
        chosen = names if names else list(self.properties)
        unknown = [n for n in chosen if n not in self.properties]
        if unknown:
            raise UnknownFilter(
                f"layer {self.name} has no properties {unknown}; offered: {sorted(self.properties)}"
            )
        return [self.properties[n].label(n) for n in chosen]


_ACTIVE_LINK = and_(ProjectParcel.parcel_id == Parcel.id, ProjectParcel.unlinked_on.is_(None))

PARCELS = Layer(
    name="parcels",
    title="地块 Parcels",
    description="Land parcels: land class, procedure status, key-project flag and 三区三线 conflict flag; areas are Gauss-Krüger legal areas",
    geometry_type="MultiPolygon",
    min_zoom=10,
    geom=Parcel.geom,
    key=Parcel.code,
    properties={
        "code": Parcel.code,
        "name": Parcel.name,
        "county_code": Parcel.county_code,
        "project_code": Project.code,
        "is_key": func.coalesce(Project.is_key, False),
        "land_class": Parcel.land_class,
        "procedure_status": Parcel.procedure_status,
        "area_m2": Parcel.area_m2,
        "area_mu": Parcel.area_m2 / M2_PER_MU,
        "area_ha": Parcel.area_m2 / M2_PER_HA,
        "gk_srid": Parcel.gk_srid,
        # from the overlay cache (kept by triggers) instead of an ST_Relate per feature:
        # it halves a dense tile's database time
        "conflict": func.coalesce(ParcelOverlay.conflict, False),
    },
    filters={
        "county_code": Parcel.county_code,
        "procedure_status": Parcel.procedure_status,
        "land_class": Parcel.land_class,
        "project_code": Project.code,
        "is_key": func.coalesce(Project.is_key, False),  # no active project: not key
    },
    joins=lambda s: (
        s.select_from(Parcel)
        .outerjoin(ProjectParcel, _ACTIVE_LINK)
        .outerjoin(Project, Project.id == ProjectParcel.project_id)
        .outerjoin(ParcelOverlay, ParcelOverlay.parcel_id == Parcel.id)
    ),
)

PROJECTS = Layer(
    name="projects",
    title="项目 Projects",
    description="Projects at their representative point: stage, key-list flag, plan type, investment (万元)",
    geometry_type="Point",
    min_zoom=6,
    geom=Project.location,
    key=Project.code,
    properties={
        "code": Project.code,
        "name": Project.name,
        "county_code": Project.county_code,
        "stage": Project.stage,
        "plan_type": Project.plan_type,
        "is_key": Project.is_key,
        "industry": Project.industry,
        "total_investment": Project.total_investment,
        "annual_target": Project.annual_target,
        "lead_official": Project.lead_official,
        "responsible_entity": Project.responsible_entity,
    },
    filters={
        "county_code": Project.county_code,
        "stage": Project.stage,
        "plan_type": Project.plan_type,
        "is_key": Project.is_key,
    },
    joins=lambda s: s.select_from(Project).where(Project.location.is_not(None)),
)

PROTECTED_ZONES = Layer(
    name="protected_zones",
    title="三区三线 Protected zones",
    description="Permanent basic farmland, ecological red line and urban development boundary",
    geometry_type="MultiPolygon",
    min_zoom=8,
    geom=ProtectedZone.geom,
    key=ProtectedZone.code,
    properties={
        "code": ProtectedZone.code,
        "name": ProtectedZone.name,
        "kind": ProtectedZone.kind,
        "county_code": ProtectedZone.county_code,
        "area_m2": ProtectedZone.area_m2,
        "area_mu": ProtectedZone.area_m2 / M2_PER_MU,
    },
    filters={"county_code": ProtectedZone.county_code, "kind": ProtectedZone.kind},
    joins=lambda s: s.select_from(ProtectedZone),
)

ADMIN_AREAS = Layer(
    name="admin_areas",
    title="行政区 Admin areas",
    description="Jincheng, its six county-level units and the development zone (GB/T 2260 codes)",
    geometry_type="MultiPolygon",
    min_zoom=0,
    geom=AdminArea.geom,
    key=AdminArea.code,
    properties={
        "code": AdminArea.code,
        "name": AdminArea.name,
        "name_en": AdminArea.name_en,
        "kind": AdminArea.kind,
        "parent_code": AdminArea.parent_code,
        "area_m2": AdminArea.area_m2,
    },
    filters={"kind": AdminArea.kind, "parent_code": AdminArea.parent_code, "code": AdminArea.code},
    joins=lambda s: s.select_from(AdminArea),
)

_W = warnings_layer_source()

WARNINGS = Layer(
    name="warnings",
    title="智能预警 Warnings",
    description=(
        "预警点位 Warnings of geo/warning_rules.py as points (the project's location, a parcel's "
        "point on surface), as of the server's reference date (LANDGUARD_REFERENCE_DATE) or "
        "today; objects without a location are not drawn (GraphQL `warnings` lists them all)"
    ),
    geometry_type="Point",
    min_zoom=6,
    geom=_W.c.geom,
    key=_W.c.code,
    properties={
        "code": _W.c.code,
        "rule": _W.c.rule,
        "severity": _W.c.severity,
        "severity_rank": _W.c.rank,
        "object_type": _W.c.object_type,
        "object_code": _W.c.object_code,
        "name": _W.c.object_name,
        "project_code": _W.c.project_code,
        "county_code": _W.c.county_code,
    },
    filters={
        "county_code": _W.c.county_code,
        "project_code": _W.c.project_code,
        "severity": _W.c.severity,
        "rule": _W.c.rule,
    },
    joins=lambda s: s.select_from(_W).where(_W.c.geom.is_not(None)),
)

LAYERS: dict[str, Layer] = {
    layer.name: layer for layer in (PARCELS, PROJECTS, PROTECTED_ZONES, ADMIN_AREAS, WARNINGS)
}


def feature_text(
    layer: Layer, geometry: GeometryOptions, properties: list[str] | None = None
) -> Any:
    """One RFC 7946 Feature as JSON text, built by PostgreSQL (json for the properties,
    ST_AsGeoJSON for the geometry) so Python only joins the texts."""
    props = func.json_build_object(
        *[x for col in layer.property_columns(properties) for x in (col.name, col.element)]
    )
    return func.concat(
        '{"type":"Feature","id":',
        func.to_json(layer.key).cast(text_type()),
        ',"geometry":',
        as_geojson(layer.geom, geometry),
        ',"properties":',
        props.cast(text_type()),
        "}",
    )


def text_type() -> Any:
    return Text()


async def feature_collection(
    session: AsyncSession,
    layer: Layer,
    *,
    filters: Mapping[str, Any] | None,
    spatial: SpatialFilter | None,
    geometry: GeometryOptions,
    properties: list[str] | None,
    limit: int,
    offset: int = 0,
) -> tuple[str, int]:
    """A FeatureCollection as one JSON text, assembled by string_agg inside PostgreSQL
    (cheaper than json_agg, which re-parses every feature), and the number of features."""
    rows = (
        layer.select(
            feature_text(layer, geometry, properties).label("f"), filters=filters, spatial=spatial
        )
        .order_by(layer.key)
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    stmt = select(
        func.concat(
            '{"type":"FeatureCollection","features":[',
            func.coalesce(func.string_agg(rows.c.f, ","), ""),
            "]}",
        ),
        func.count(),
    )
    text_, count = (await session.execute(stmt)).one()
    return text_, int(count)
