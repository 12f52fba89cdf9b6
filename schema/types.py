"""GraphQL object types. Resolvers are thin: rows come from geo/, nested lists through
per-request DataLoaders, areas are PostGIS's numbers converted to 亩 and 公顷 only."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row

from geo import crs
from geo.guarantee_rules import approval_authority
from geo.queries.geojson import GeometryOptions
from schema import enums as G
from schema.context import Context
from schema.geometry import geometry_options
from schema.permissions import sensitive_read_allowed
from schema.scalars import GeoJSON

if TYPE_CHECKING:
    from schema.guarantee import ProjectLandStatus
    from schema.progress import InvestmentProgress, ProjectLifecycle

Info = strawberry.Info[Context, None]


SridArg = Annotated[
    int, strawberry.argument(description="Output CRS: 4490 CGCS2000 (default) or 4326 WGS84")
]
SimplifyArg = Annotated[
    float | None,
    strawberry.argument(
        description="Simplification tolerance in metres (topology-preserving, stays valid) 简化容差（米）"
    ),
]
PrecisionArg = Annotated[
    int | None,
    strawberry.argument(description="Decimal digits of the coordinates (default 8 ≈ 1 mm)"),
]


async def _geometry(
    info: Info,
    preloaded: tuple[str, GeometryOptions] | None,
    loader: Any,
    key: Any,
    srid: int,
    simplify_meters: float | None,
    precision: int | None,
) -> GeoJSON | None:
    """The row's preloaded GeoJSON when it was fetched with these options, else the loader."""
    options = geometry_options(
        info.context.config.geojson_precision, srid, simplify_meters, precision
    )
    if preloaded is not None and preloaded[1] == options:
        return GeoJSON(preloaded[0])
    text = await loader.load((key, options))
    return None if text is None else GeoJSON(text)


def _preloaded(
    row: Row[Any], options: GeometryOptions | None
) -> tuple[str, GeometryOptions] | None:
    text = getattr(row, "geojson", None)
    return None if text is None or options is None else (text, options)


def _g(graphql_enum: Any, value: Any) -> Any:
    return (
        None if value is None else graphql_enum(value.value if hasattr(value, "value") else value)
    )


@strawberry.type(description="Base of the types that have an area: the same m² in 亩 and 公顷")
class AreaUnits:
    area_m2: float

    @strawberry.field(description="面积（亩）")
    def area_mu(self) -> float:
        return crs.mu(self.area_m2)

    @strawberry.field(description="面积（公顷）")
    def area_ha(self) -> float:
        return crs.ha(self.area_m2)


@strawberry.type(description="Area in the three units people read: m², 亩 and 公顷 (ha)")
class Area:
    m2: float = strawberry.field(description="square metres 平方米")

    @strawberry.field(description="亩 (1 亩 = 10000/15 m²)")
    def mu(self) -> float:
        return crs.mu(self.m2)

    @strawberry.field(description="公顷 hectares")
    def ha(self) -> float:
        return crs.ha(self.m2)


@strawberry.type(
    description="行政区 Administrative area (GB/T 2260 code; the development zone has a custom code)"
)
class AdminArea(AreaUnits):
    code: str
    name: str
    name_en: str | None
    kind: G.AdminKind  # type: ignore[valid-type]
    parent_code: str | None
    area_m2: float = strawberry.field(
        description="Spheroidal area in m², computed by PostGIS 面积（平方米）"
    )
    source: str | None = strawberry.field(description="Data source and licence 数据来源")
    _geojson: strawberry.Private[tuple[str, GeometryOptions] | None] = None

    @classmethod
    def from_row(cls, row: Row[Any], geometry: GeometryOptions | None = None) -> AdminArea:
        return cls(
            code=row.code,
            name=row.name,
            name_en=row.name_en,
            kind=_g(G.AdminKind, row.kind),
            parent_code=row.parent_code,
            area_m2=row.area_m2,
            source=row.source,
            _geojson=_preloaded(row, geometry),
        )

    @strawberry.field(description="Boundary as GeoJSON (EPSG:4490) 边界")
    async def geometry(
        self,
        info: Info,
        srid: SridArg = 4490,
        simplify_meters: SimplifyArg = None,
        precision: PrecisionArg = None,
    ) -> GeoJSON | None:
        loader = info.context.loaders.admin_area_geometry
        return await _geometry(
            info, self._geojson, loader, self.code, srid, simplify_meters, precision
        )

    @strawberry.field(description="上级行政区 Parent area")
    async def parent(self, info: Info) -> AdminArea | None:
        if self.parent_code is None:
            return None
        row = await info.context.loaders.admin_area.load(self.parent_code)
        return AdminArea.from_row(row) if row else None


async def _admin_area(info: Info, code: str | None) -> AdminArea | None:
    if code is None:
        return None
    row = await info.context.loaders.admin_area.load(code)
    return AdminArea.from_row(row) if row else None


@strawberry.type(description="地块用地手续节点 One dated step of a parcel's land procedure")
class ParcelStatusStep:
    status: G.LandStatus  # type: ignore[valid-type]
    occurred_on: dt.date
    actor: str
    reason: str | None


@strawberry.type(
    description="地块 Land parcel. Areas are legal plane areas in its CGCS2000 Gauss-Krüger zone."
)
class Parcel(AreaUnits):
    code: str
    name: str | None
    land_class: G.LandClass = strawberry.field(description="地类 current land class")  # type: ignore[valid-type]
    procedure_status: G.LandStatus = strawberry.field(description="用地手续状态")  # type: ignore[valid-type]
    status_date: dt.date = strawberry.field(
        description="Date the current status was reached 状态日期"
    )
    area_m2: float = strawberry.field(
        description="Legal plane area (m²) in zone gkZoneSrid 面积（平方米）"
    )
    gk_zone_srid: int = strawberry.field(
        description="EPSG code of the 3-degree Gauss-Krüger zone the area is measured in (4546 CM 111°E, 4547 CM 114°E) 高斯-克吕格投影带"
    )
    new_construction_area_m2: float = strawberry.field(description="新增建设用地面积（平方米）")
    farmland_area_m2: float = strawberry.field(description="耕地面积（平方米）")
    supply_method: G.SupplyMethod | None = strawberry.field(description="供地方式")  # type: ignore[valid-type]
    agreed_start_date: dt.date | None = strawberry.field(description="约定开工日期")
    approval_doc: str | None = strawberry.field(description="批准文号")
    version: int
    distance_m: float | None = strawberry.field(
        description="Distance (m) to orderBy.nearestTo 距离（米）"
    )
    _id: strawberry.Private[int]
    _county_code: strawberry.Private[str]
    _project_id: strawberry.Private[int | None]
    _geojson: strawberry.Private[tuple[str, GeometryOptions] | None] = None

    @classmethod
    def from_row(cls, row: Row[Any], geometry: GeometryOptions | None = None) -> Parcel:
        return cls(
            code=row.code,
            name=row.name,
            land_class=_g(G.LandClass, row.land_class),
            procedure_status=_g(G.LandStatus, row.procedure_status),
            status_date=row.status_date,
            area_m2=row.area_m2,
            gk_zone_srid=row.gk_srid,
            new_construction_area_m2=row.new_construction_area_m2,
            farmland_area_m2=row.farmland_area_m2,
            supply_method=_g(G.SupplyMethod, row.supply_method),
            agreed_start_date=row.agreed_start_date,
            approval_doc=row.approval_doc,
            version=row.version,
            _id=row.id,
            _county_code=row.county_code,
            distance_m=getattr(row, "distance_m", None),
            _project_id=row.project_id,
            _geojson=_preloaded(row, geometry),
        )

    @strawberry.field(description="新增建设用地面积 in m², 亩 and 公顷")
    def new_construction_area(self) -> Area:
        return Area(m2=self.new_construction_area_m2)

    @strawberry.field(description="耕地面积 in m², 亩 and 公顷")
    def farmland_area(self) -> Area:
        return Area(m2=self.farmland_area_m2)

    @strawberry.field(description="所在县（市、区） County-level unit")
    async def county(self, info: Info) -> AdminArea | None:
        return await _admin_area(info, self._county_code)

    @strawberry.field(description="The active project this parcel serves 所属项目")
    async def project(self, info: Info) -> Project | None:
        if self._project_id is None:
            return None
        row = await info.context.loaders.project.load(self._project_id)
        return Project.from_row(row) if row else None

    @strawberry.field(description="Parcel outline as GeoJSON MultiPolygon (EPSG:4490) 地块范围")
    async def geometry(
        self,
        info: Info,
        srid: SridArg = 4490,
        simplify_meters: SimplifyArg = None,
        precision: PrecisionArg = None,
    ) -> GeoJSON | None:
        loader = info.context.loaders.parcel_geometry
        return await _geometry(
            info, self._geojson, loader, self._id, srid, simplify_meters, precision
        )

    @strawberry.field(description="Dated land-procedure steps, oldest first 手续办理节点")
    async def status_history(self, info: Info) -> list[ParcelStatusStep]:
        rows = await info.context.loaders.parcel_history.load(self._id)
        return [
            ParcelStatusStep(
                status=_g(G.LandStatus, r.status),
                occurred_on=r.occurred_on,
                actor=r.actor,
                reason=r.reason,
            )
            for r in rows
        ]

    @strawberry.field(
        description=(
            "三区三线冲突 Each permanent-basic-farmland or ecological-red-line zone sharing "
            "interior with the parcel, with the shared area measured like the parcel area "
            "(both transformed into the parcel's Gauss-Krüger zone, then intersected); "
            "largest first per kind. Empty when there is no conflict."
        )
    )
    async def conflicts(self, info: Info) -> list[ParcelConflict]:
        rows = await info.context.loaders.parcel_conflicts.load(self._id)
        return [
            ParcelConflict(zone=ProtectedZone.from_row(r), overlap_m2=float(r.overlap_m2))
            for r in rows
        ]

    @strawberry.field(
        description=(
            "农转用/征收审批机关 Who must approve the parcel's conversion and expropriation "
            "(土地管理法 第四十六条): the State Council when it takes permanent basic farmland, "
            "more than 35 ha of farmland or more than 70 ha of other land; otherwise the province"
        )
    )
    async def approval_authority(self, info: Info) -> ApprovalAuthority:
        overlay = await info.context.loaders.parcel_overlay.load(self._id)
        basic_farmland = float(overlay.basic_farmland_m2) if overlay is not None else 0.0
        level, reason = approval_authority(
            basic_farmland_m2=basic_farmland,
            farmland_m2=self.farmland_area_m2,
            area_m2=self.area_m2,
        )
        return ApprovalAuthority(
            level=_g(G.ApprovalAuthorityLevel, level),
            reason=reason,
            basic_farmland=Area(m2=basic_farmland),
            farmland=Area(m2=self.farmland_area_m2),
            other_land=Area(m2=max(0.0, self.area_m2 - self.farmland_area_m2)),
        )


@strawberry.type(
    description="地块与一个三区三线管控区的冲突 A parcel's overlap with one protected zone"
)
class ParcelConflict:
    zone: ProtectedZone
    overlap_m2: float = strawberry.field(
        description="Shared area (m², Gauss-Krüger plane of the parcel) 重叠面积（平方米）"
    )

    @strawberry.field(description="重叠面积（亩）")
    def overlap_mu(self) -> float:
        return crs.mu(self.overlap_m2)

    @strawberry.field(description="重叠面积（公顷）")
    def overlap_ha(self) -> float:
        return crs.ha(self.overlap_m2)

    @strawberry.field(description="Shared area in m², 亩 and 公顷")
    def overlap(self) -> Area:
        return Area(m2=self.overlap_m2)


@strawberry.type(
    description="农转用/征收审批机关 Approving authority of a parcel's conversion, with the reason"
)
class ApprovalAuthority:
    level: G.ApprovalAuthorityLevel  # type: ignore[valid-type]
    reason: str = strawberry.field(description="依据 Which rule applies (Chinese — English)")
    basic_farmland: Area = strawberry.field(description="占用永久基本农田 basic farmland taken")
    farmland: Area = strawberry.field(description="耕地 farmland part")
    other_land: Area = strawberry.field(description="其他土地 the non-farmland part")


@strawberry.type(
    description="审批事项 Approval item of a project (handling level, measures, deadline, leader, handler)"
)
class ApprovalItem:
    code: str
    item_type: G.ApprovalItemType  # type: ignore[valid-type]
    name: str
    handling_level: G.HandlingLevel = strawberry.field(description="办理层级")  # type: ignore[valid-type]
    measures: str | None = strawberry.field(description="办理措施")
    deadline: dt.date | None = strawberry.field(description="办理时限")
    leader: str | None = strawberry.field(description="责任领导")
    handler: str | None = strawberry.field(description="承办人")
    status: G.ApprovalStatus  # type: ignore[valid-type]
    started_on: dt.date | None
    completed_on: dt.date | None
    overdue: bool = strawberry.field(
        description="逾期: deadline passed and not completed (as of the query date)"
    )
    days_overdue: int = strawberry.field(description="逾期天数 (0 when not overdue)")
    version: int
    _project_id: strawberry.Private[int]
    _handler_phone: strawberry.Private[str | None] = None

    @classmethod
    def from_row(cls, row: Row[Any]) -> ApprovalItem:
        return cls(
            code=row.code,
            item_type=_g(G.ApprovalItemType, row.item_type),
            name=row.name,
            handling_level=_g(G.HandlingLevel, row.handling_level),
            measures=row.measures,
            deadline=row.deadline,
            leader=row.leader,
            handler=row.handler,
            status=_g(G.ApprovalStatus, row.status),
            started_on=row.started_on,
            completed_on=row.completed_on,
            overdue=bool(row.overdue),
            days_overdue=int(row.days_overdue or 0),
            version=row.version,
            _project_id=row.project_id,
            _handler_phone=row.handler_phone,
        )

    @strawberry.field(
        description="承办人联系电话 Handler's phone number: sensitive, null unless the caller's "
        "role may read it (city-level roles; a county officer in its own county)"
    )
    async def handler_phone(self, info: Info) -> str | None:
        actor = info.context.actor
        if self._handler_phone is None or actor is None:
            return None
        county = None
        if actor.counties is not None:  # county-scoped: the item's county is its project's
            row = await info.context.loaders.project.load(self._project_id)
            county = row.county_code if row is not None else None
        if not sensitive_read_allowed(actor, county):
            return None
        return self._handler_phone

    @strawberry.field(description="所属项目")
    async def project(self, info: Info) -> Project | None:
        row = await info.context.loaders.project.load(self._project_id)
        return Project.from_row(row) if row else None


@strawberry.type(description="项目 Major project of the 1355 mechanism; money in 万元")
class Project:
    code: str = strawberry.field(description="项目代码 (national investment-project code)")
    name: str
    plan_type: G.PlanType  # type: ignore[valid-type]
    stage: G.ProjectStage  # type: ignore[valid-type]
    industry: str | None
    is_key: bool = strawberry.field(description="On the key-project list (300个重点项目清单)")
    key_list_year: int | None
    categories: list[G.KeyCategory]  # type: ignore[valid-type]
    total_investment: float = strawberry.field(description="总投资（万元）")
    annual_target: float | None = strawberry.field(description="年度投资目标（万元）")
    progress_target: str | None = strawberry.field(description="进度目标")
    planned_start: dt.date | None
    planned_finish: dt.date | None
    actual_start: dt.date | None
    lead_official: str | None = strawberry.field(description="包联领导")
    lead_official_title: str | None
    responsible_entity: str | None = strawberry.field(description="责任主体")
    signing_status: G.SigningStatus | None  # type: ignore[valid-type]
    stats_status: G.StatsStatus  # type: ignore[valid-type]
    location: GeoJSON | None = strawberry.field(
        description="Representative point (EPSG:4490) 项目位置"
    )
    version: int
    distance_m: float | None = strawberry.field(
        description="Distance (m) to orderBy.nearestTo 距离（米）"
    )
    _id: strawberry.Private[int]
    _county_code: strawberry.Private[str]
    _dev_zone_code: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, row: Row[Any]) -> Project:
        return cls(
            code=row.code,
            name=row.name,
            plan_type=_g(G.PlanType, row.plan_type),
            stage=_g(G.ProjectStage, row.stage),
            industry=row.industry,
            is_key=row.is_key,
            key_list_year=row.key_list_year,
            categories=[_g(G.KeyCategory, c) for c in (row.categories or [])],
            total_investment=float(row.total_investment),
            annual_target=None if row.annual_target is None else float(row.annual_target),
            progress_target=row.progress_target,
            planned_start=row.planned_start,
            planned_finish=row.planned_finish,
            actual_start=row.actual_start,
            lead_official=row.lead_official,
            lead_official_title=row.lead_official_title,
            responsible_entity=row.responsible_entity,
            signing_status=_g(G.SigningStatus, row.signing_status),
            stats_status=_g(G.StatsStatus, row.stats_status),
            location=None if row.location is None else GeoJSON(row.location),
            version=row.version,
            distance_m=getattr(row, "distance_m", None),
            _id=row.id,
            _county_code=row.county_code,
            _dev_zone_code=row.dev_zone_code,
        )

    @strawberry.field(description="总投资（亿元）")
    def total_investment_yi(self) -> float:
        return self.total_investment / 10000

    @strawberry.field(description="所在县（市、区）")
    async def county(self, info: Info) -> AdminArea | None:
        return await _admin_area(info, self._county_code)

    @strawberry.field(description="所在开发区 Development zone, when the project lies in one")
    async def dev_zone(self, info: Info) -> AdminArea | None:
        return await _admin_area(info, self._dev_zone_code)

    @strawberry.field(description="项目用地 Active parcels of the project, by code")
    async def parcels(self, info: Info) -> list[Parcel]:
        rows = await info.context.loaders.parcels_of_project.load(self._id)
        return [Parcel.from_row(r) for r in rows]

    @strawberry.field(description="审批事项清单 Approval items, by code")
    async def approval_items(self, info: Info) -> list[ApprovalItem]:
        rows = await info.context.loaders.approval_items_of_project.load(self._id)
        return [ApprovalItem.from_row(r) for r in rows]

    @strawberry.field(
        description=(
            "用地保障情况 The project's land: parcels by procedure step, new construction land "
            "still needed, conflicts, cover by the county's remaining quota in priority order, "
            "and the next procedure step with its deadline — on `asOf` (default today) for plan "
            "year `year` (default the year of `asOf`)"
        )
    )
    async def land_status(
        self,
        info: Info,
        year: Annotated[
            int | None, strawberry.argument(description="计划年度 (default: year of asOf)")
        ] = None,
        as_of: Annotated[
            dt.date | None, strawberry.argument(description="截至日期 (default: today)")
        ] = None,
    ) -> Annotated[ProjectLandStatus, strawberry.lazy("schema.guarantee")]:
        from schema.guarantee import project_land_status

        return await project_land_status(info, self, year=year, as_of=as_of)

    @strawberry.field(
        description=(
            "全生命周期 The project's path through the six stages as dated events (entered, "
            "left, by whom), the current stage and days in it, and its open bottleneck issues"
        )
    )
    async def lifecycle(
        self, info: Info
    ) -> Annotated[ProjectLifecycle, strawberry.lazy("schema.progress")]:
        from schema.progress import project_lifecycle

        return await project_lifecycle(info, self)

    @strawberry.field(
        description=(
            "投资完成进度 Year-to-date completed investment through `month` against the annual "
            "target and 时序进度 (default: this year, this month)"
        )
    )
    async def investment_progress(
        self,
        info: Info,
        year: Annotated[
            int | None, strawberry.argument(description="年度 (default: this year)")
        ] = None,
        month: Annotated[
            int | None, strawberry.argument(description="截至月份 1–12 (default: this month)")
        ] = None,
    ) -> Annotated[InvestmentProgress, strawberry.lazy("schema.progress")]:
        from schema.progress import project_investment_progress

        return await project_investment_progress(info, self, year, month)


@strawberry.type(description="用地计划指标台账分录 One entry of the land-quota ledger")
class LandQuotaEntry:
    entry_type: G.LedgerEntryType  # type: ignore[valid-type]
    amount: Area = strawberry.field(description="Signed amount: positive in, negative out")
    effective_on: dt.date
    actor: str
    reason: str
    document_no: str | None
    parcel_id: strawberry.Private[int | None]
    transfer_id: str | None


@strawberry.type(
    description="用地计划指标 Land quota of one holder (county or 市级调节库 city pool), year and kind; derived from the ledger"
)
class LandQuota:
    year: int
    holder_code: str
    kind: G.QuotaKind  # type: ignore[valid-type]
    allocated: Area = strawberry.field(description="指标下达 allocations")
    from_pool: Area = strawberry.field(description="调节库调入 received from the city pool")
    transferred_out: Area = strawberry.field(description="调节库调出 given out of the pool")
    used: Area = strawberry.field(description="已使用: approval debits minus withdrawal credits")
    balance: Area = strawberry.field(description="剩余 remaining balance (equals the ledger sum)")
    entry_count: int

    @classmethod
    def from_row(cls, row: Row[Any]) -> LandQuota:
        return cls(
            year=row.year,
            holder_code=row.holder_code,
            kind=_g(G.QuotaKind, row.kind),
            allocated=Area(m2=float(row.allocated_m2)),
            from_pool=Area(m2=float(row.from_pool_m2)),
            transferred_out=Area(m2=float(row.transferred_out_m2)),
            used=Area(m2=float(row.debited_m2 - row.credited_m2)),
            balance=Area(m2=float(row.balance_m2)),
            entry_count=row.entry_count,
        )

    @strawberry.field(description="指标持有方 County, or 晋城市 for the city pool")
    async def holder(self, info: Info) -> AdminArea | None:
        return await _admin_area(info, self.holder_code)

    @strawberry.field(description="台账分录 The ledger entries behind the balance, oldest first")
    async def entries(self, info: Info) -> list[LandQuotaEntry]:
        rows = await info.context.loaders.quota_entries.load(
            (self.year, self.holder_code, self.kind.value)
        )
        return [
            LandQuotaEntry(
                entry_type=_g(G.LedgerEntryType, e.entry_type),
                amount=Area(m2=float(e.amount_m2)),
                effective_on=e.effective_on,
                actor=e.actor,
                reason=e.reason,
                document_no=e.document_no,
                parcel_id=e.parcel_id,
                transfer_id=None if e.transfer_id is None else str(e.transfer_id),
            )
            for e in rows
        ]


@strawberry.type(
    description="三区三线 Protected zone: basic farmland, ecological red line or urban development boundary"
)
class ProtectedZone(AreaUnits):
    code: str
    kind: G.ZoneKind  # type: ignore[valid-type]
    name: str
    area_m2: float = strawberry.field(description="Spheroidal area (m²) 面积")
    source: str | None
    distance_m: float | None = strawberry.field(
        description="Distance (m) to orderBy.nearestTo 距离（米）"
    )
    _id: strawberry.Private[int]
    _county_code: strawberry.Private[str | None]
    _geojson: strawberry.Private[tuple[str, GeometryOptions] | None] = None

    @classmethod
    def from_row(cls, row: Row[Any], geometry: GeometryOptions | None = None) -> ProtectedZone:
        return cls(
            code=row.code,
            kind=_g(G.ZoneKind, row.kind),
            name=row.name,
            area_m2=row.area_m2,
            source=row.source,
            distance_m=getattr(row, "distance_m", None),
            _id=row.id,
            _county_code=row.county_code,
            _geojson=_preloaded(row, geometry),
        )

    @strawberry.field(description="所在县（市、区）")
    async def county(self, info: Info) -> AdminArea | None:
        return await _admin_area(info, self._county_code)

    @strawberry.field(description="Zone outline as GeoJSON (EPSG:4490)")
    async def geometry(
        self,
        info: Info,
        srid: SridArg = 4490,
        simplify_meters: SimplifyArg = None,
        precision: PrecisionArg = None,
    ) -> GeoJSON | None:
        loader = info.context.loaders.zone_geometry
        return await _geometry(
            info, self._geojson, loader, self._id, srid, simplify_meters, precision
        )
