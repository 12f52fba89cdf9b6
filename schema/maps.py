"""Map outputs in GraphQL: one FeatureCollection per request, assembled by PostgreSQL
(geo.layers) and passed through as a JSON fragment — no Python object per feature."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import strawberry

from geo import enums as E
from geo.layers import LAYERS, UnknownFilter, feature_collection
from geo.queries import overlay
from schema import enums as G
from schema.enums import to_domain
from schema.errors import ErrorCode, LandguardError, bad_input
from schema.geometry import (
    GeometryInput,
    SpatialFilterInput,
    geometry_options,
    to_geometry,
    to_spatial,
)
from schema.scalars import GeoJSON
from schema.types import AdminArea, Area, Info, PrecisionArg, ProtectedZone, SimplifyArg, SridArg

MAX_FEATURES = 10_000


@strawberry.enum(description="地图图层 Map layer")
class MapLayer(Enum):
    PARCELS = strawberry.enum_value("parcels", description="地块 parcels")
    PROJECTS = strawberry.enum_value("projects", description="项目 projects (points)")
    PROTECTED_ZONES = strawberry.enum_value(
        "protected_zones", description="三区三线 protected zones"
    )
    ADMIN_AREAS = strawberry.enum_value("admin_areas", description="行政区 admin areas")
    WARNINGS = strawberry.enum_value(
        "warnings", description="智能预警 warnings as points (geo/warning_rules.py)"
    )


@strawberry.input(
    description="图层筛选 Filter for a map layer; a condition the layer does not offer is an error"
)
class FeatureFilterInput:
    county_code: str | None = None
    project_code: str | None = None
    procedure_status: G.LandStatus | None = None  # type: ignore[valid-type]
    land_class: G.LandClass | None = None  # type: ignore[valid-type]
    is_key: bool | None = None
    stage: G.ProjectStage | None = None  # type: ignore[valid-type]
    plan_type: G.PlanType | None = None  # type: ignore[valid-type]
    zone_kind: G.ZoneKind | None = None  # type: ignore[valid-type]
    admin_kind: G.AdminKind | None = None  # type: ignore[valid-type]
    warning_severity: str | None = strawberry.field(
        default=None, description="预警等级 SEVERE / WARNING / INFO (layer WARNINGS)"
    )
    warning_code: str | None = strawberry.field(
        default=None, description="预警规则 rule code (layer WARNINGS)"
    )
    spatial: SpatialFilterInput | None = None

    def property_filters(self) -> dict[str, Any]:
        given = {
            "county_code": self.county_code,
            "project_code": self.project_code,
            "procedure_status": to_domain(E.LandStatus, self.procedure_status),
            "land_class": to_domain(E.LandClass, self.land_class),
            "is_key": self.is_key,
            "stage": to_domain(E.ProjectStage, self.stage),
            "plan_type": to_domain(E.PlanType, self.plan_type),
            "kind": to_domain(E.ZoneKind, self.zone_kind)
            or to_domain(E.AdminKind, self.admin_kind),
            "severity": self.warning_severity,
            "rule": self.warning_code,
        }
        return {k: v for k, v in given.items() if v is not None}


@strawberry.type
class MapQuery:
    @strawberry.field(
        description=(
            "RFC 7946 FeatureCollection of a layer (lon/lat), ordered by code, for maps and "
            "QGIS: each feature has `id` = code and the layer's styling properties. 要素集合"
        )
    )
    async def feature_collection(
        self,
        info: Info,
        layer: MapLayer,
        filter: FeatureFilterInput | None = None,
        properties: Annotated[
            list[str] | None,
            strawberry.argument(description="property names to include (default: all)"),
        ] = None,
        first: Annotated[int, strawberry.argument(description=f"at most {MAX_FEATURES}")] = 1000,
        offset: int = 0,
        srid: SridArg = 4490,
        simplify_meters: SimplifyArg = None,
        precision: PrecisionArg = None,
    ) -> GeoJSON:
        if not 0 <= first <= MAX_FEATURES:
            raise LandguardError(
                ErrorCode.PAGE_TOO_LARGE,
                f"`first` must be 0–{MAX_FEATURES} features",
                maximum=MAX_FEATURES,
            )
        if offset < 0:
            raise bad_input("`offset` must be zero or positive", argument="offset")
        f = filter or FeatureFilterInput()
        options = geometry_options(
            info.context.config.geojson_precision, srid, simplify_meters, precision
        )
        spatial = to_spatial(f.spatial)
        try:
            async with info.context.sessions() as s:
                text, _ = await feature_collection(
                    s,
                    LAYERS[layer.value],
                    filters=f.property_filters(),
                    spatial=spatial,
                    geometry=options,
                    properties=properties,
                    limit=first,
                    offset=offset,
                )
        except UnknownFilter as exc:
            raise bad_input(str(exc)) from None
        return GeoJSON(text)


@strawberry.type(description="与三区三线的重叠 Overlap of a geometry with one protected zone")
class ZoneOverlap:
    zone: ProtectedZone
    overlap: Area = strawberry.field(description="Shared area (Gauss-Krüger plane area) 重叠面积")


@strawberry.type(
    description="三区三线叠加分析 Which protected zones a geometry overlaps, and by how much"
)
class ZoneOverlapReport:
    gk_zone_srid: int = strawberry.field(description="Gauss-Krüger zone the areas are measured in")
    subject_area: Area = strawberry.field(description="Area of the parcel / drawn geometry")
    overlaps: list[ZoneOverlap]

    @strawberry.field(description="Total overlap per zone kind 按类型汇总")
    def by_kind(self) -> list[KindTotal]:
        totals: dict[str, float] = {}
        for o in self.overlaps:
            totals[o.zone.kind.value] = totals.get(o.zone.kind.value, 0.0) + o.overlap.m2
        return [
            KindTotal(kind=G.ZoneKind(k), overlap=Area(m2=v)) for k, v in sorted(totals.items())
        ]

    @strawberry.field(
        description="Overlaps basic farmland or the ecological red line (conflict 冲突)"
    )
    def conflict(self) -> bool:
        return any(
            o.zone.kind.value in ("BASIC_FARMLAND", "ECOLOGICAL_REDLINE") for o in self.overlaps
        )


@strawberry.type
class KindTotal:
    kind: G.ZoneKind  # type: ignore[valid-type]
    overlap: Area


@strawberry.type(
    description="县域地块面积汇总 Parcels of one land class and/or procedure status (null = all)"
)
class LandSummaryCell:
    land_class: G.LandClass | None  # type: ignore[valid-type]
    procedure_status: G.LandStatus | None  # type: ignore[valid-type]
    parcel_count: int
    area: Area
    new_construction_area: Area = strawberry.field(description="新增建设用地")
    farmland_area: Area = strawberry.field(description="耕地")


@strawberry.type(
    description="县域地块面积汇总 A county's parcel area by land class and procedure status"
)
class CountyLandSummary:
    county: AdminArea
    cells: list[LandSummaryCell] = strawberry.field(description="land class × procedure status")
    by_land_class: list[LandSummaryCell] = strawberry.field(
        description="按地类 subtotal per land class"
    )
    by_procedure_status: list[LandSummaryCell] = strawberry.field(
        description="按手续状态 subtotal per status"
    )
    total: LandSummaryCell = strawberry.field(description="合计")


def _cell(row: Any) -> LandSummaryCell:
    return LandSummaryCell(
        land_class=None if row.all_classes else G.LandClass(row.land_class.value),
        procedure_status=None if row.all_statuses else G.LandStatus(row.procedure_status.value),
        parcel_count=row.parcel_count,
        area=Area(m2=float(row.area_m2)),
        new_construction_area=Area(m2=float(row.new_construction_m2)),
        farmland_area=Area(m2=float(row.farmland_m2)),
    )


@strawberry.type
class OverlayQuery:
    @strawberry.field(
        description=(
            "三区三线叠加分析: the protected zones a parcel (parcelCode) or a drawn geometry overlaps, "
            "with the shared area; null for an unknown parcel code"
        )
    )
    async def zone_overlaps(
        self, info: Info, geometry: GeometryInput | None = None, parcel_code: str | None = None
    ) -> ZoneOverlapReport | None:
        if (geometry is None) == (parcel_code is None):
            raise bad_input("give exactly one of `geometry` or `parcelCode`")
        async with info.context.sessions() as s:
            if parcel_code is not None:
                subject = await overlay.subject_of_parcel(s, parcel_code)
                if subject is None:
                    return None
            else:
                assert geometry is not None
                subject = overlay.subject_of_input(to_geometry(geometry, "geometry"))
            srid, area_m2, rows = await overlay.zone_overlaps(s, subject)
        return ZoneOverlapReport(
            gk_zone_srid=srid,
            subject_area=Area(m2=area_m2),
            overlaps=[
                ZoneOverlap(zone=ProtectedZone.from_row(r), overlap=Area(m2=float(r.overlap_m2)))
                for r in rows
            ],
        )

    @strawberry.field(
        description="县域地块面积汇总 by land class and procedure status; null for an unknown county"
    )
    async def county_land_summary(self, info: Info, county_code: str) -> CountyLandSummary | None:
        county = await info.context.loaders.admin_area.load(county_code)
        if county is None:
            return None
        async with info.context.sessions() as s:
            rows = await overlay.land_summary(s, county_code)
        cells = [_cell(r) for r in rows]
        both = [
            c for c, r in zip(cells, rows, strict=True) if not r.all_classes and not r.all_statuses
        ]
        by_class = [
            c for c, r in zip(cells, rows, strict=True) if not r.all_classes and r.all_statuses
        ]
        by_status = [
            c for c, r in zip(cells, rows, strict=True) if r.all_classes and not r.all_statuses
        ]
        total = next(
            (c for c, r in zip(cells, rows, strict=True) if r.all_classes and r.all_statuses),
            LandSummaryCell(
                land_class=None,
                procedure_status=None,
                parcel_count=0,
                area=Area(m2=0),
                new_construction_area=Area(m2=0),
                farmland_area=Area(m2=0),
            ),
        )
        return CountyLandSummary(
            county=AdminArea.from_row(county),
            cells=both,
            by_land_class=by_class,
            by_procedure_status=by_status,
            total=total,
        )
