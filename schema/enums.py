"""GraphQL enums mirroring geo.enums, each value described in Chinese and English."""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

import strawberry

from geo import enums as E
from geo import guarantee_rules as R

D = TypeVar("D", bound=E.DomainEnum)


def _graphql_enum(domain: type[E.DomainEnum], description: str, name: str | None = None) -> Any:
    cls = Enum(name or domain.__name__, {m.name: m.value for m in domain}, type=str)  # type: ignore[misc]
    wrapped = strawberry.enum(cls, description=description)
    for value in wrapped.__strawberry_definition__.values:
        member = domain(value.value)
        value.description = f"{member.zh} — {member.en}"
    return wrapped


def to_domain(domain: type[D], value: Any) -> D | None:
    """GraphQL enum member (or None) → the geo enum member with the same value."""
    return None if value is None else domain(value.value if isinstance(value, Enum) else value)


AdminKind = _graphql_enum(E.AdminKind, "行政区类型 Kind of administrative area")
ProjectStage = _graphql_enum(E.ProjectStage, "项目阶段 Stage of a project in the 1355 closed loop")
PlanType = _graphql_enum(E.PlanType, "项目类型 Planned-start, pre-stage or continuing project")
KeyCategory = _graphql_enum(E.KeyCategory, "重点项目来源 Source of a key-list project (四类)")
SigningStatus = _graphql_enum(
    E.SigningStatus, "招商项目签约状态 Signing status of a promoted project"
)
StatsStatus = _graphql_enum(E.StatsStatus, "入库纳统状态 Statistics-inclusion status")
LandClass = _graphql_enum(E.LandClass, "地类 Current land class of a parcel")
LandStatus = _graphql_enum(E.LandStatus, "用地手续状态 Land-procedure status of a parcel")
SupplyMethod = _graphql_enum(E.SupplyMethod, "供地方式 Land supply method")
QuotaKind = _graphql_enum(E.QuotaKind, "指标类型 Kind of land quota")
LedgerEntryType = _graphql_enum(E.LedgerEntryType, "台账分录类型 Kind of quota ledger entry")
ApprovalItemType = _graphql_enum(E.ApprovalItemType, "审批事项类型 Kind of approval item")
HandlingLevel = _graphql_enum(E.HandlingLevel, "办理层级 Level that handles an approval item")
ApprovalStatus = _graphql_enum(E.ApprovalStatus, "审批事项状态 Status of an approval item")
ZoneKind = _graphql_enum(E.ZoneKind, "三区三线 Kind of protected zone")
GuaranteeStatus = _graphql_enum(
    R.GuaranteeStatus,
    "用地保障状态 Land-guarantee status of a county (rules: geo/guarantee_rules.py)",
)
CoverStatus = _graphql_enum(
    R.CoverStatus, "指标覆盖情况 How far the county's remaining quota covers a project's demand"
)
ApprovalAuthorityLevel = _graphql_enum(
    R.ApprovalAuthority,
    "农转用/征收审批机关 Who approves a parcel's conversion and expropriation",
    name="ApprovalAuthorityLevel",
)
