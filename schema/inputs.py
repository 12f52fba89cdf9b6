"""Filter inputs of the list queries, converted to geo/'s plain filter dataclasses."""

from __future__ import annotations

import strawberry

from geo import enums as E
from geo.queries.approvals import ApprovalItemFilter as GeoApprovalItemFilter
from geo.queries.parcels import ParcelFilter as GeoParcelFilter
from geo.queries.projects import ProjectFilter as GeoProjectFilter
from geo.queries.zones import ZoneFilter as GeoZoneFilter
from schema import enums as G
from schema.enums import to_domain
from schema.geometry import SpatialFilterInput, to_spatial


@strawberry.input(description="项目筛选 Project filter; all given conditions must hold")
class ProjectFilter:
    county_code: str | None = strawberry.field(
        default=None, description="县（市、区）代码, e.g. 140521"
    )
    is_key: bool | None = strawberry.field(default=None, description="重点项目")
    stage: G.ProjectStage | None = None  # type: ignore[valid-type]
    category: G.KeyCategory | None = None  # type: ignore[valid-type]
    plan_type: G.PlanType | None = None  # type: ignore[valid-type]
    spatial: SpatialFilterInput | None = strawberry.field(
        default=None, description="Spatial predicates on the project's location point 项目位置"
    )

    def to_geo(self) -> GeoProjectFilter:
        return GeoProjectFilter(
            county_code=self.county_code,
            is_key=self.is_key,
            stage=to_domain(E.ProjectStage, self.stage),
            category=to_domain(E.KeyCategory, self.category),
            plan_type=to_domain(E.PlanType, self.plan_type),
            spatial=to_spatial(self.spatial),
        )


@strawberry.input(description="地块筛选 Parcel filter")
class ParcelFilter:
    county_code: str | None = None
    project_code: str | None = None
    procedure_status: G.LandStatus | None = None  # type: ignore[valid-type]
    land_class: G.LandClass | None = None  # type: ignore[valid-type]
    is_key: bool | None = strawberry.field(
        default=None, description="parcels of key-list projects 重点项目用地"
    )
    spatial: SpatialFilterInput | None = None

    def to_geo(self) -> GeoParcelFilter:
        return GeoParcelFilter(
            county_code=self.county_code,
            project_code=self.project_code,
            procedure_status=to_domain(E.LandStatus, self.procedure_status),
            land_class=to_domain(E.LandClass, self.land_class),
            is_key=self.is_key,
            spatial=to_spatial(self.spatial),
        )


@strawberry.input(description="审批事项筛选 Approval-item filter")
class ApprovalItemFilter:
    project_code: str | None = None
    county_code: str | None = None
    status: G.ApprovalStatus | None = None  # type: ignore[valid-type]
    handling_level: G.HandlingLevel | None = None  # type: ignore[valid-type]
    item_type: G.ApprovalItemType | None = None  # type: ignore[valid-type]
    overdue: bool | None = strawberry.field(
        default=None, description="逾期 only (true) or not overdue (false)"
    )

    def to_geo(self) -> GeoApprovalItemFilter:
        return GeoApprovalItemFilter(
            project_code=self.project_code,
            county_code=self.county_code,
            status=to_domain(E.ApprovalStatus, self.status),
            handling_level=to_domain(E.HandlingLevel, self.handling_level),
            item_type=to_domain(E.ApprovalItemType, self.item_type),
            overdue=self.overdue,
        )


@strawberry.input(description="三区三线筛选 Protected-zone filter")
class ProtectedZoneFilter:
    kind: G.ZoneKind | None = None  # type: ignore[valid-type]
    county_code: str | None = None
    spatial: SpatialFilterInput | None = None

    def to_geo(self) -> GeoZoneFilter:
        return GeoZoneFilter(
            kind=to_domain(E.ZoneKind, self.kind),
            county_code=self.county_code,
            spatial=to_spatial(self.spatial),
        )
