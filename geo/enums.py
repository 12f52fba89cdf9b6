"""Domain enumerations with their Chinese names (DESIGN.md §2).

The English value is what the database enum type and the GraphQL enum carry; the
Chinese name travels beside it in every GraphQL description. The migration creates
the PostgreSQL enum types from these same lists, so the two never drift.
"""

from __future__ import annotations

from enum import StrEnum


class DomainEnum(StrEnum):
    """A str enum whose members carry a Chinese name (`zh`) and an English label (`en`)."""

    zh: str
    en: str

    def __new__(cls, value: str, zh: str, en: str) -> DomainEnum:
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.zh = zh
        obj.en = en
        return obj

    @classmethod
    def values(cls) -> list[str]:
        return [m.value for m in cls]


class AdminKind(DomainEnum):
    CITY = "CITY", "市", "prefecture-level city"
    DISTRICT = "DISTRICT", "区", "city district"
    COUNTY = "COUNTY", "县", "county"
    COUNTY_CITY = "COUNTY_CITY", "县级市", "county-level city"
    DEV_ZONE = "DEV_ZONE", "开发区", "development zone"


class ProjectStage(DomainEnum):
    FILING = "FILING", "备案审批", "filing and approval"
    PROCEDURES = "PROCEDURES", "手续办理", "pre-construction procedures"
    FACTORS = "FACTORS", "要素配置", "factor allocation (land, funds, energy)"
    CONSTRUCTION_START = "CONSTRUCTION_START", "开工建设", "construction start"
    IN_PROGRESS = "IN_PROGRESS", "实施进度", "under construction"
    COMPLETED = "COMPLETED", "竣工投产", "completed / in production"


class PlanType(DomainEnum):
    PLANNED_START = "PLANNED_START", "计划开工", "planned to start this year"
    PRE_STAGE = "PRE_STAGE", "前期", "pre-stage"
    CONTINUING = "CONTINUING", "续建", "continuing construction"


class KeyCategory(DomainEnum):
    ANNUAL_PLAN_BILLION = "ANNUAL_PLAN_BILLION", "年度投资计划亿元以上", "annual investment ≥ 1亿元"
    PROVINCIAL_KEY = "PROVINCIAL_KEY", "省级重点工程", "provincial key project"
    MUNICIPAL_GOV_INVESTED = (
        "MUNICIPAL_GOV_INVESTED",
        "市本级政府投资",
        "municipal government-invested",
    )
    CITY_COUNTY_KEY = "CITY_COUNTY_KEY", "市县两级重点推进", "city/county key project"


class SigningStatus(DomainEnum):
    ABOUT_TO_SIGN = "ABOUT_TO_SIGN", "拟签约", "about to sign"
    SIGNED = "SIGNED", "已签约拟落地", "signed, about to land"
    LANDED = "LANDED", "已落地", "landed"


class StatsStatus(DomainEnum):
    NOT_ELIGIBLE = "NOT_ELIGIBLE", "未达入库条件", "not yet eligible"
    ELIGIBLE = "ELIGIBLE", "具备入库条件", "eligible for inclusion"
    INCLUDED = "INCLUDED", "已入库纳统", "included in statistics"


class LandClass(DomainEnum):
    FARMLAND = "FARMLAND", "耕地", "farmland"
    GARDEN = "GARDEN", "园地", "garden / orchard land"
    FOREST = "FOREST", "林地", "forest land"
    GRASSLAND = "GRASSLAND", "草地", "grassland"
    CONSTRUCTION = "CONSTRUCTION", "建设用地", "construction land"
    UNUSED = "UNUSED", "未利用地", "unused land"


class LandStatus(DomainEnum):
    DEMAND = "DEMAND", "需求登记", "demand registered"
    PRE_REVIEWED = "PRE_REVIEWED", "预审选址已发", "pre-examination and siting opinion issued"
    DOSSIER_PREP = "DOSSIER_PREP", "组卷中", "conversion dossier in preparation"
    SUBMITTED = "SUBMITTED", "已上报", "conversion/expropriation package submitted"
    APPROVED_UNSUPPLIED = "APPROVED_UNSUPPLIED", "已批未供", "approved, not yet supplied"
    SUPPLIED = "SUPPLIED", "已供地", "supplied"
    LAND_PLANNING_PERMIT = "LAND_PLANNING_PERMIT", "用地规划许可", "land-use planning permit issued"
    REGISTERED = "REGISTERED", "已登记", "real-estate title registered"
    IDLE = "IDLE", "闲置", "idle (no start > 1 year after agreed start)"
    LAPSED = "LAPSED", "批文失效", "approval lapsed (unused 2 years)"


class SupplyMethod(DomainEnum):
    ALLOCATION = "ALLOCATION", "划拨", "allocation"
    TENDER = "TENDER", "招标出让", "transfer by tender"
    AUCTION = "AUCTION", "拍卖出让", "transfer by auction"
    LISTING = "LISTING", "挂牌出让", "transfer by listing"
    AGREEMENT = "AGREEMENT", "协议出让", "transfer by agreement"


class QuotaKind(DomainEnum):
    NEW_CONSTRUCTION = "NEW_CONSTRUCTION", "新增建设用地计划指标", "new construction-land quota"
    FARMLAND_OFFSET = "FARMLAND_OFFSET", "补充耕地指标", "farmland offset quota"
    LINKAGE_SURPLUS = "LINKAGE_SURPLUS", "增减挂钩节余指标", "urban-rural linkage surplus"


class LedgerEntryType(DomainEnum):
    ALLOCATION = "ALLOCATION", "指标下达", "allocation"
    POOL_TRANSFER_OUT = "POOL_TRANSFER_OUT", "调节库调出", "transfer out of the city pool"
    POOL_TRANSFER_IN = "POOL_TRANSFER_IN", "调节库调入", "transfer in from the city pool"
    APPROVAL_DEBIT = "APPROVAL_DEBIT", "批地扣减", "debit on approval"
    WITHDRAWAL_CREDIT = "WITHDRAWAL_CREDIT", "撤回返还", "credit on withdrawal"


class ApprovalItemType(DomainEnum):
    PROJECT_FILING = "PROJECT_FILING", "项目备案/核准/审批", "project filing / approval"
    LAND_PRE_EXAMINATION = (
        "LAND_PRE_EXAMINATION",
        "用地预审与选址意见书",
        "land pre-examination and siting",
    )
    LAND_PLANNING_PERMIT = "LAND_PLANNING_PERMIT", "建设用地规划许可证", "land-use planning permit"
    ENGINEERING_PLANNING_PERMIT = (
        "ENGINEERING_PLANNING_PERMIT",
        "建设工程规划许可证",
        "engineering planning permit",
    )
    ENVIRONMENTAL_ASSESSMENT = (
        "ENVIRONMENTAL_ASSESSMENT",
        "环境影响评价",
        "environmental impact assessment",
    )
    ENERGY_REVIEW = "ENERGY_REVIEW", "节能审查", "energy-saving review"
    SOIL_WATER_PLAN = "SOIL_WATER_PLAN", "水土保持方案", "soil and water conservation plan"
    CONSTRUCTION_PERMIT = "CONSTRUCTION_PERMIT", "施工许可证", "construction permit"
    OTHER = "OTHER", "其他事项", "other"


class HandlingLevel(DomainEnum):
    NATIONAL = "NATIONAL", "国家", "national"
    PROVINCIAL = "PROVINCIAL", "省", "provincial"
    MUNICIPAL = "MUNICIPAL", "市", "municipal"
    COUNTY = "COUNTY", "县", "county"


class ApprovalStatus(DomainEnum):
    NOT_STARTED = "NOT_STARTED", "未启动", "not started"
    IN_PROGRESS = "IN_PROGRESS", "办理中", "in progress"
    COMPLETED = "COMPLETED", "已办结", "completed"
    BLOCKED = "BLOCKED", "受阻", "blocked"


class ZoneKind(DomainEnum):
    BASIC_FARMLAND = "BASIC_FARMLAND", "永久基本农田", "permanent basic farmland"
    ECOLOGICAL_REDLINE = "ECOLOGICAL_REDLINE", "生态保护红线", "ecological protection red line"
    URBAN_BOUNDARY = "URBAN_BOUNDARY", "城镇开发边界", "urban development boundary"


class IssueCategory(DomainEnum):
    LAND = "LAND", "用地", "land"
    APPROVAL = "APPROVAL", "审批", "approvals"
    FUNDS = "FUNDS", "资金", "funds"
    RELOCATION = "RELOCATION", "征迁", "relocation"
    ENERGY = "ENERGY", "能耗/电力", "energy and power"
    OTHER = "OTHER", "其他", "other"


class DispatchLevel(DomainEnum):
    COMMAND_OFFICE = "COMMAND_OFFICE", "指挥部办公室", "command office (every ten days)"
    VICE_MAYOR = "VICE_MAYOR", "分管副市长", "vice-mayor in charge (monthly)"
    EXECUTIVE_VICE_MAYOR = "EXECUTIVE_VICE_MAYOR", "常务副市长", "executive vice-mayor (monthly)"
    MAYOR = "MAYOR", "市长", "mayor (bi-monthly)"


class IssueStatus(DomainEnum):
    OPEN = "OPEN", "待解决", "open"
    IN_PROGRESS = "IN_PROGRESS", "协调中", "being coordinated"
    RESOLVED = "RESOLVED", "已解决", "resolved"


# Order matters: migrations create the database types in this order and drop them in reverse.
ALL_ENUMS: dict[str, type[DomainEnum]] = {
    "admin_kind": AdminKind,
    "project_stage": ProjectStage,
    "plan_type": PlanType,
    "key_category": KeyCategory,
    "signing_status": SigningStatus,
    "stats_status": StatsStatus,
    "land_class": LandClass,
    "land_status": LandStatus,
    "supply_method": SupplyMethod,
    "quota_kind": QuotaKind,
    "ledger_entry_type": LedgerEntryType,
    "approval_item_type": ApprovalItemType,
    "handling_level": HandlingLevel,
    "approval_status": ApprovalStatus,
    "zone_kind": ZoneKind,
    "issue_category": IssueCategory,
    "dispatch_level": DispatchLevel,
    "issue_status": IssueStatus,
}
