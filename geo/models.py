"""SQLAlchemy 2 / GeoAlchemy2 mappings of the tables migrations 0001–0005 create.

The migration is the source of truth for the schema (constraints, triggers, generated
columns); these mappings exist so queries in `geo/` are written against typed columns
instead of strings. Relationships are deliberately absent: loading is explicit and
batched (DataLoaders), never lazy.

`version` (project, parcel, approval_item, project_issue) is bumped by a database trigger
on every UPDATE (migration 0004); the mappings declare it a server-side version counter,
so an ORM flush updates `WHERE version = <loaded>` and raises StaleDataError when another
writer got there first. Core `update()` statements add that condition themselves.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, ClassVar

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    Uuid,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo import enums as E
from geo.crs import STORAGE_SRID


def pg_enum(enum: type[E.DomainEnum], name: str) -> SAEnum:
    return SAEnum(
        enum, name=name, create_type=False, values_callable=lambda e: [m.value for m in e]
    )


class Base(DeclarativeBase):
    pass


class AdminArea(Base):
    __tablename__ = "admin_area"
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[E.AdminKind] = mapped_column(pg_enum(E.AdminKind, "admin_kind"))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("admin_area.code"))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False)
    )
    area_m2: Mapped[float] = mapped_column(Double, Computed("ST_Area(geom::geography)"))
    source: Mapped[str | None] = mapped_column(Text)


class Project(Base):
    __tablename__ = "project"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(Text)
    county_code: Mapped[str] = mapped_column(ForeignKey("admin_area.code"))
    dev_zone_code: Mapped[str | None] = mapped_column(ForeignKey("admin_area.code"))
    plan_type: Mapped[E.PlanType] = mapped_column(pg_enum(E.PlanType, "plan_type"))
    stage: Mapped[E.ProjectStage] = mapped_column(pg_enum(E.ProjectStage, "project_stage"))
    industry: Mapped[str | None] = mapped_column(Text)
    is_key: Mapped[bool]
    key_list_year: Mapped[int | None] = mapped_column(SmallInteger)
    categories: Mapped[list[E.KeyCategory]] = mapped_column(
        ARRAY(pg_enum(E.KeyCategory, "key_category"))
    )
    total_investment: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    annual_target: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    progress_target: Mapped[str | None] = mapped_column(Text)
    planned_start: Mapped[dt.date | None] = mapped_column(Date)
    planned_finish: Mapped[dt.date | None] = mapped_column(Date)
    actual_start: Mapped[dt.date | None] = mapped_column(Date)
    lead_official: Mapped[str | None] = mapped_column(Text)
    lead_official_title: Mapped[str | None] = mapped_column(Text)
    responsible_entity: Mapped[str | None] = mapped_column(Text)
    signing_status: Mapped[E.SigningStatus | None] = mapped_column(
        pg_enum(E.SigningStatus, "signing_status")
    )
    stats_status: Mapped[E.StatsStatus] = mapped_column(pg_enum(E.StatsStatus, "stats_status"))
    location: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=STORAGE_SRID, spatial_index=False)
    )
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    """bumped by trigger on every UPDATE (migration 0004)"""
    __mapper_args__: ClassVar[dict[str, Any]] = {
        "version_id_col": version,
        "version_id_generator": False,
    }
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ProjectStageEvent(Base):
    __tablename__ = "project_stage_event"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    stage: Mapped[E.ProjectStage] = mapped_column(pg_enum(E.ProjectStage, "project_stage"))
    entered_on: Mapped[dt.date] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class Parcel(Base):
    __tablename__ = "parcel"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    county_code: Mapped[str] = mapped_column(ForeignKey("admin_area.code"))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False)
    )
    gk_srid: Mapped[int] = mapped_column(Integer, Computed("gk_srid"))
    area_m2: Mapped[float] = mapped_column(Double, Computed("area_m2"))
    land_class: Mapped[E.LandClass] = mapped_column(pg_enum(E.LandClass, "land_class"))
    new_construction_area_m2: Mapped[float] = mapped_column(
        Double, Computed("new_construction_area_m2")
    )
    farmland_area_m2: Mapped[float] = mapped_column(Double, Computed("farmland_area_m2"))
    procedure_status: Mapped[E.LandStatus] = mapped_column(pg_enum(E.LandStatus, "land_status"))
    status_date: Mapped[dt.date] = mapped_column(Date)
    supply_method: Mapped[E.SupplyMethod | None] = mapped_column(
        pg_enum(E.SupplyMethod, "supply_method")
    )
    agreed_start_date: Mapped[dt.date | None] = mapped_column(Date)
    approval_doc: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    """bumped by trigger on every UPDATE (migration 0004)"""
    __mapper_args__: ClassVar[dict[str, Any]] = {
        "version_id_col": version,
        "version_id_generator": False,
    }


class ParcelStatusEvent(Base):
    __tablename__ = "parcel_status_event"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id"))
    status: Mapped[E.LandStatus] = mapped_column(pg_enum(E.LandStatus, "land_status"))
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)


class ProjectParcel(Base):
    __tablename__ = "project_parcel"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id"))
    linked_on: Mapped[dt.date] = mapped_column(Date)
    unlinked_on: Mapped[dt.date | None] = mapped_column(Date)
    unlink_reason: Mapped[str | None] = mapped_column(Text)
    """migration 0005"""


class LandQuotaEntry(Base):
    __tablename__ = "land_quota_entry"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger)
    holder_code: Mapped[str] = mapped_column(ForeignKey("admin_area.code"))
    kind: Mapped[E.QuotaKind] = mapped_column(pg_enum(E.QuotaKind, "quota_kind"))
    entry_type: Mapped[E.LedgerEntryType] = mapped_column(
        pg_enum(E.LedgerEntryType, "ledger_entry_type")
    )
    amount_m2: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    parcel_id: Mapped[int | None] = mapped_column(ForeignKey("parcel.id"))
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    effective_on: Mapped[dt.date] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    document_no: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class LandQuotaBalance(Base):
    __tablename__ = "land_quota_balance"
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    holder_code: Mapped[str] = mapped_column(ForeignKey("admin_area.code"), primary_key=True)
    kind: Mapped[E.QuotaKind] = mapped_column(pg_enum(E.QuotaKind, "quota_kind"), primary_key=True)
    balance_m2: Mapped[Decimal] = mapped_column(Numeric(14, 2))


class ApprovalItem(Base):
    __tablename__ = "approval_item"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    item_type: Mapped[E.ApprovalItemType] = mapped_column(
        pg_enum(E.ApprovalItemType, "approval_item_type")
    )
    name: Mapped[str] = mapped_column(Text)
    handling_level: Mapped[E.HandlingLevel] = mapped_column(
        pg_enum(E.HandlingLevel, "handling_level")
    )
    measures: Mapped[str | None] = mapped_column(Text)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    leader: Mapped[str | None] = mapped_column(Text)
    handler: Mapped[str | None] = mapped_column(Text)
    handler_phone: Mapped[str | None] = mapped_column(Text)
    status: Mapped[E.ApprovalStatus] = mapped_column(pg_enum(E.ApprovalStatus, "approval_status"))
    started_on: Mapped[dt.date | None] = mapped_column(Date)
    completed_on: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    """bumped by trigger on every UPDATE (migration 0004)"""
    __mapper_args__: ClassVar[dict[str, Any]] = {
        "version_id_col": version,
        "version_id_generator": False,
    }


class ProtectedZone(Base):
    __tablename__ = "protected_zone"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[E.ZoneKind] = mapped_column(pg_enum(E.ZoneKind, "zone_kind"))
    name: Mapped[str] = mapped_column(Text)
    county_code: Mapped[str | None] = mapped_column(ForeignKey("admin_area.code"))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False)
    )
    area_m2: Mapped[float] = mapped_column(Double, Computed("ST_Area(geom::geography)"))
    source: Mapped[str | None] = mapped_column(Text)


class ProjectIssue(Base):
    __tablename__ = "project_issue"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    category: Mapped[E.IssueCategory] = mapped_column(pg_enum(E.IssueCategory, "issue_category"))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    level: Mapped[E.DispatchLevel] = mapped_column(pg_enum(E.DispatchLevel, "dispatch_level"))
    status: Mapped[E.IssueStatus] = mapped_column(pg_enum(E.IssueStatus, "issue_status"))
    raised_on: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    resolved_on: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    """bumped by trigger on every UPDATE (migration 0004)"""
    __mapper_args__: ClassVar[dict[str, Any]] = {
        "version_id_col": version,
        "version_id_generator": False,
    }


class IssueEscalation(Base):
    __tablename__ = "issue_escalation"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("project_issue.id"))
    from_level: Mapped[E.DispatchLevel] = mapped_column(pg_enum(E.DispatchLevel, "dispatch_level"))
    to_level: Mapped[E.DispatchLevel] = mapped_column(pg_enum(E.DispatchLevel, "dispatch_level"))
    escalated_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)


class InvestmentReport(Base):
    __tablename__ = "investment_report"
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    month: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    completed_investment: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    reported_on: Mapped[dt.date] = mapped_column(Date)


class ParcelOverlay(Base):
    """三区三线 overlay cache of a parcel (migration 0002), kept current by triggers."""

    __tablename__ = "parcel_overlay"
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id"), primary_key=True)
    basic_farmland_m2: Mapped[float] = mapped_column(Double)
    redline_m2: Mapped[float] = mapped_column(Double)
    urban_boundary_m2: Mapped[float] = mapped_column(Double)
    conflict: Mapped[bool]
    outside_urban: Mapped[bool]


class AuditLog(Base):
    """审计日志 (migration 0004): written only by triggers, append-only; the API role reads it."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor_sub: Mapped[str] = mapped_column(Text)
    actor_role: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    county_code: Mapped[str | None] = mapped_column(String(12))
    table_name: Mapped[str] = mapped_column(Text)
    object_id: Mapped[int | None] = mapped_column(BigInteger)
    object_code: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class PromotionTrip(Base):
    """招商引资外出 (migration 0005): one promotion trip of a county leader or a bureau."""

    __tablename__ = "promotion_trip"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("admin_area.code"))
    promoter_kind: Mapped[str] = mapped_column(Text)
    promoter: Mapped[str] = mapped_column(Text)
    trip_on: Mapped[dt.date] = mapped_column(Date)
    destination: Mapped[str] = mapped_column(Text)
    projects_pitched: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
