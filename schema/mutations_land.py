"""地块与指标 Writes of parcels, land-procedure steps and land quotas (issue #5).

Every mutation follows schema/mutation_base.py: permission first (schema/permissions.py,
once per county the write touches), one transaction with the actor bound, typed errors in
the payload, nothing written when refused. The work is done by geo/writes/ (parcels,
parcel_status, quotas) and geo/ledger.py; this module parses input, decides which
counties a write touches and maps every refusal — the pre-checks' and the database's
(geo.writes.refusals), the ledger's, the permission table's — to one UserError type.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from geo import ledger
from geo import write_rules as W
from geo.crs import CITY_CODE
from geo.enums import LandClass, LandStatus, QuotaKind, SupplyMethod
from geo.geometry_input import GeometryInputError, InputGeometry, parse_geometry
from geo.queries import parcels as parcel_queries
from geo.queries import quotas as quota_queries
from geo.writes import parcel_status, parcels, quotas
from geo.writes.refusals import (
    GeometryRefused,
    NotFoundRefused,
    WriteRefused,
    from_db_error,
)
from schema import enums as G
from schema.context import Context
from schema.errors import ErrorCode
from schema.geometry import GeometryInput
from schema.mutation_base import (
    InputError,
    InsufficientQuotaError,
    InvalidTransitionError,
    NotFoundError,
    UserError,
    expected_errors,
    write_transaction,
)
from schema.permissions import COUNTY_CODES, PERMISSIONS, Action, require
from schema.types import LandQuota, Parcel

Info = strawberry.Info[Context, None]

PARCEL_TYPES = frozenset({"Polygon", "MultiPolygon"})
SIX_COUNTIES = sorted(COUNTY_CODES)


# --------------------------------------------------------------------------- inputs


@strawberry.input(description="新建地块 A new parcel (需求登记): starts at DEMAND, dated")
class CreateParcelInput:
    code: str = strawberry.field(description="地块编码 unique parcel code")
    county_code: str = strawberry.field(
        description="所在县（市、区） one of the six county-level units; the geometry must lie in it"
    )
    land_class: G.LandClass = strawberry.field(description="地类 current land class")  # type: ignore[valid-type]
    geometry: GeometryInput = strawberry.field(
        description="Polygon or MultiPolygon, GeoJSON/WKT/EWKT in EPSG:4490 or 4326 地块范围"
    )
    name: str | None = strawberry.field(default=None, description="地块名称")
    project_code: str | None = strawberry.field(
        default=None, description="所属项目 link the parcel to this project (optional)"
    )
    registered_on: dt.date | None = strawberry.field(
        default=None, description="需求登记日期 date of the DEMAND step (default today)"
    )


@strawberry.input(description="修改地块 Change a parcel; only the given fields change")
class UpdateParcelInput:
    code: str
    version: int = strawberry.field(description="The version you read (optimistic concurrency)")
    geometry: GeometryInput | None = strawberry.field(
        default=None, description="New outline; the parcel's county follows the geometry"
    )
    land_class: G.LandClass | None = None  # type: ignore[valid-type]
    name: str | None = None
    supply_method: G.SupplyMethod | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="供地方式 (supplied land only)"
    )
    agreed_start_date: dt.date | None = strawberry.field(
        default=None, description="约定开工日期 agreed start of works"
    )


@strawberry.input(description="用地手续节点 One dated step of the parcel's land procedure")
class ChangeParcelStatusInput:
    code: str
    version: int
    status: G.LandStatus  # type: ignore[valid-type]
    occurred_on: dt.date = strawberry.field(
        description="Date of the step: not in the future, not before the current status's date"
    )
    reason: str | None = strawberry.field(
        default=None, description="理由 required when going back along the chain"
    )
    approval_doc: str | None = strawberry.field(default=None, description="批准文号")
    supply_method: G.SupplyMethod | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="供地方式, required for the step to SUPPLIED"
    )


@strawberry.input(description="指标下达 Quota issued to a county or the city pool (140500)")
class AllocateQuotaInput:
    year: int
    holder_code: str = strawberry.field(description="County code, or 140500 for the city pool")
    kind: G.QuotaKind  # type: ignore[valid-type]
    effective_on: dt.date
    reason: str
    document_no: str = strawberry.field(description="文号 the allocation document")
    amount_m2: Decimal | None = strawberry.field(
        default=None, description="Amount in m² (at most 2 decimals); or amountMu"
    )
    amount_mu: Decimal | None = strawberry.field(
        default=None, description="Amount in 亩 (× 10000/15 m², rounded to 0.01 m²)"
    )


@strawberry.input(description="调节库调剂 Quota moved from the city pool to a county")
class TransferQuotaFromPoolInput:
    year: int
    county_code: str
    kind: G.QuotaKind  # type: ignore[valid-type]
    effective_on: dt.date
    reason: str
    document_no: str
    amount_m2: Decimal | None = None
    amount_mu: Decimal | None = None


# --------------------------------------------------------------------------- payloads


@strawberry.type(description="地块写操作结果 The parcel as written (null when refused) and errors")
class ParcelPayload:
    parcel: Parcel | None
    errors: list[UserError]


@strawberry.type(description="指标写操作结果 The account's resulting balance and errors")
class LandQuotaPayload:
    quota: LandQuota | None = strawberry.field(
        description="The holder's account (year, kind) after the write"
    )
    errors: list[UserError]


@strawberry.type(description="调节库调剂结果 Both accounts after the transfer, and errors")
class QuotaTransferPayload:
    transfer_id: str | None
    pool: LandQuota | None = strawberry.field(description="市级调节库 the city pool's account")
    county: LandQuota | None = strawberry.field(description="The receiving county's account")
    errors: list[UserError]


# --------------------------------------------------------------------------- errors


def land_user_error(exc: BaseException) -> list[UserError] | None:
    """The typed errors for an expected refusal (ledger refusals and the database's own
    named refusals included), or None for a bug (re-raise it)."""
    if isinstance(exc, ledger.LedgerError):
        return [_ledger_error(exc)]
    if isinstance(exc, DBAPIError):
        refusal = from_db_error(exc)
        return None if refusal is None else land_user_error(refusal)
    return expected_errors(exc)


def _ledger_error(exc: ledger.LedgerError) -> UserError:
    message = str(exc)
    if isinstance(exc, ledger.InsufficientQuota):
        return InsufficientQuotaError(
            code=ErrorCode.INSUFFICIENT_QUOTA.value,
            message=message,
            field=None,
            holder_code=exc.holder_code,
            year=exc.year,
            kind=exc.kind.value,
            balance_m2=float(exc.balance_m2),
            requested_m2=float(exc.requested_m2),
        )
    if isinstance(exc, ledger.InvalidTransition):
        return InvalidTransitionError(
            code=ErrorCode.INVALID_TRANSITION.value,
            message=message,
            field=["input", "status"],
            from_status=exc.current.value,
            to_status=exc.wanted.value,
            allowed=[s.value for s in parcel_status.forward_targets(exc.current)],
        )
    if isinstance(exc, ledger.NotFound):
        return NotFoundError(
            code=ErrorCode.NOT_FOUND.value,
            message=message,
            field=None,
            object_type=exc.what,
            key=str(exc.key),
        )
    field = ["input"]  # BadAmount: amountM2 or amountMu, whichever was given
    if isinstance(exc, ledger.BadInput):
        field = ["input", _LEDGER_FIELDS.get(exc.field, _camel(exc.field))]
    return InputError(code=ErrorCode.BAD_USER_INPUT.value, message=message, field=field)


_LEDGER_FIELDS = {
    "approved_on": "occurredOn",
    "withdrawn_on": "occurredOn",
    "to_holder_code": "countyCode",
}
"""geo.ledger's argument names → this module's input fields, where they differ."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _parcel_geometry(value: GeometryInput, field: list[str]) -> InputGeometry:
    """Strict parse (geo.geometry_input) for a parcel: Polygon/MultiPolygon, the vertex cap."""
    given = [
        (fmt, v)
        for fmt, v in (("GEOJSON", value.geojson), ("WKT", value.wkt), ("EWKT", value.ewkt))
        if v is not None
    ]
    if len(given) != 1:
        raise WriteRefused(
            "BAD_USER_INPUT", "give exactly one of geojson, wkt or ewkt", field=field
        )
    fmt, raw = given[0]
    try:
        return parse_geometry(
            raw,
            fmt=fmt,
            srid=value.srid,
            max_vertices=W.MAX_PARCEL_VERTICES,
            allowed_types=PARCEL_TYPES,
        )
    except GeometryInputError as exc:
        raise GeometryRefused(exc.code, exc.reason, location=exc.location, field=field) from None


def _domain(enum: Any, value: Any) -> Any:
    return None if value is None else enum(value.value if hasattr(value, "value") else value)


def _require_role(info: Info, action: Action) -> None:
    """UNAUTHENTICATED/FORBIDDEN before anything is read, when the role cannot do `action`
    in any county (the county half of the check needs the object, read next)."""
    actor = info.context.actor
    if actor is None or action not in PERMISSIONS.get(actor.role, frozenset()):
        require(actor, action, None)


async def _parcel_county(info: Info, code: str, action: Action) -> str:
    """The parcel's county (read before the write: the permission check needs it)."""
    _require_role(info, action)
    async with info.context.sessions() as s:
        county = (
            await s.execute(text("SELECT county_code FROM parcel WHERE code = :c"), {"c": code})
        ).scalar_one_or_none()
    if county is None:
        raise NotFoundRefused("parcel 地块", code, field=["input", "code"])
    return str(county)


async def _parcel(session: AsyncSession, code: str) -> Parcel:
    row = await parcel_queries.parcel_by_code(session, code, geometry=None)
    assert row is not None
    return Parcel.from_row(row)


async def _quota(
    session: AsyncSession, year: int, holder: str, kind: QuotaKind
) -> LandQuota | None:
    rows = await quota_queries.land_quotas(session, year=year, holder_code=holder)
    return next((LandQuota.from_row(r) for r in rows if QuotaKind(r.kind) is kind), None)


def _sub(info: Info) -> str:
    actor = info.context.actor
    assert actor is not None  # write_transaction's require() refused anonymous callers
    return actor.sub


# --------------------------------------------------------------------------- mutations


@strawberry.type
class LandMutation:
    @strawberry.mutation(
        description=(
            "新建地块 Register a parcel (DEMAND, dated): geometry checked (validity with reason "
            "and location, Jincheng's extent, vertex cap, ≥ 1 m², inside its county, no shared "
            "area with another parcel); areas are computed by PostGIS. Roles: CITY_ADMIN, "
            "LAND_BUREAU, COUNTY_OFFICER (own county; linking a project needs its county too)"
        )
    )
    async def create_parcel(self, info: Info, input: CreateParcelInput) -> ParcelPayload:
        try:
            async with write_transaction(info, Action.PARCEL_CREATE, [input.county_code]) as s:
                if input.county_code not in COUNTY_CODES:
                    raise WriteRefused(
                        "BAD_USER_INPUT",
                        f"countyCode must be one of the six county-level units {SIX_COUNTIES}",
                        field=["input", "countyCode"],
                    )
                geometry = _parcel_geometry(input.geometry, ["input", "geometry"])
                project_id = None
                if input.project_code is not None:
                    row = (
                        await s.execute(
                            text("SELECT id, county_code FROM project WHERE code = :c"),
                            {"c": input.project_code},
                        )
                    ).first()
                    if row is None:
                        raise NotFoundRefused(
                            "project 项目", input.project_code, field=["input", "projectCode"]
                        )
                    require(info.context.actor, Action.PROJECT_LINK_PARCEL, row.county_code)
                    project_id = int(row.id)
                on = input.registered_on or info.context.today
                if on > info.context.today:
                    raise WriteRefused(
                        "BAD_USER_INPUT",
                        f"registeredOn {on} is in the future",
                        field=["input", "registeredOn"],
                    )
                await parcels.create_parcel(
                    s,
                    code=input.code,
                    county_code=input.county_code,
                    geometry=geometry,
                    land_class=LandClass(input.land_class.value),
                    name=input.name,
                    registered_on=on,
                    actor_sub=_sub(info),
                    all_counties=SIX_COUNTIES,
                    project_id=project_id,
                )
                parcel = await _parcel(s, input.code)
            return ParcelPayload(parcel=parcel, errors=[])
        except Exception as exc:
            errors = land_user_error(exc)
            if errors is None:
                raise
            return ParcelPayload(parcel=None, errors=errors)

    @strawberry.mutation(
        description=(
            "修改地块 Change a parcel's geometry, land class, name, supply method or agreed start "
            "(STALE_VERSION on an old version; an invalid geometry is refused, never repaired). "
            "A new geometry may move the parcel to another county: both counties must be yours"
        )
    )
    async def update_parcel(self, info: Info, input: UpdateParcelInput) -> ParcelPayload:
        try:
            county = await _parcel_county(info, input.code, Action.PARCEL_UPDATE)
            async with write_transaction(info, Action.PARCEL_UPDATE, [county]) as s:
                locked = await parcels.lock_parcel(s, input.code, input.version)
                if locked.county_code != county:  # moved meanwhile: check its county now
                    require(info.context.actor, Action.PARCEL_UPDATE, locked.county_code)
                geometry, new_county = None, None
                if input.geometry is not None:
                    geometry = _parcel_geometry(input.geometry, ["input", "geometry"])
                    facts = await parcels.check_shape(s, geometry)
                    new_county, outside = await parcels.county_of(s, geometry, facts, SIX_COUNTIES)
                    if new_county is None:
                        raise WriteRefused(
                            "OUTSIDE_COUNTY",
                            f"地块须位于一个县（市、区）内 the new geometry does not lie in one "
                            f"county: {outside:,.2f} m² lie outside the best-matching county",
                            field=["input", "geometry"],
                        )
                    require(info.context.actor, Action.PARCEL_UPDATE, new_county)
                    await parcels.check_no_shared_area(
                        s, geometry, facts, code=input.code, exclude_id=locked.id
                    )
                await parcels.update_parcel(
                    s,
                    locked,
                    geometry=geometry,
                    new_county_code=new_county,
                    land_class=_domain(LandClass, input.land_class),
                    name=input.name,
                    supply_method=_domain(SupplyMethod, input.supply_method),
                    agreed_start_date=input.agreed_start_date,
                )
                parcel = await _parcel(s, input.code)
            return ParcelPayload(parcel=parcel, errors=[])
        except Exception as exc:
            errors = land_user_error(exc)
            if errors is None:
                raise
            return ParcelPayload(parcel=None, errors=errors)

    @strawberry.mutation(
        description=(
            "用地手续节点 Move a parcel one dated step along the land procedure (or back with a "
            "reason). The step to APPROVED_UNSUPPLIED debits the county's new-construction quota "
            "by the parcel's new-construction area (INSUFFICIENT_QUOTA: nothing changes); the "
            "withdrawal back to DOSSIER_PREP credits it back. Roles: CITY_ADMIN, LAND_BUREAU"
        )
    )
    async def change_parcel_status(
        self, info: Info, input: ChangeParcelStatusInput
    ) -> ParcelPayload:
        try:
            county = await _parcel_county(info, input.code, Action.PARCEL_STATUS)
            async with write_transaction(info, Action.PARCEL_STATUS, [county]) as s:
                locked = await parcels.lock_parcel(s, input.code, input.version)
                if locked.county_code != county:
                    require(info.context.actor, Action.PARCEL_STATUS, locked.county_code)
                await parcel_status.change_status(
                    s,
                    locked,
                    to=LandStatus(input.status.value),
                    occurred_on=input.occurred_on,
                    today=info.context.today,
                    actor_sub=_sub(info),
                    reason=input.reason,
                    approval_doc=input.approval_doc,
                    supply_method=_domain(SupplyMethod, input.supply_method),
                )
                parcel = await _parcel(s, input.code)
            return ParcelPayload(parcel=parcel, errors=[])
        except Exception as exc:
            errors = land_user_error(exc)
            if errors is None:
                raise
            return ParcelPayload(parcel=None, errors=errors)

    @strawberry.mutation(
        description=(
            "指标下达 Allocate quota to a county or the city pool (140500), in m² or 亩. "
            "Roles: CITY_ADMIN, LAND_BUREAU"
        )
    )
    async def allocate_quota(self, info: Info, input: AllocateQuotaInput) -> LandQuotaPayload:
        try:
            async with write_transaction(info, Action.QUOTA_ALLOCATE, [input.holder_code]) as s:
                kind = QuotaKind(input.kind.value)
                await quotas.allocate(
                    s,
                    year=input.year,
                    holder_code=input.holder_code,
                    kind=kind,
                    amount=quotas.amount_m2(input.amount_m2, input.amount_mu),
                    effective_on=input.effective_on,
                    reason=input.reason,
                    document_no=input.document_no,
                    actor_sub=_sub(info),
                )
                quota = await _quota(s, input.year, input.holder_code, kind)
            return LandQuotaPayload(quota=quota, errors=[])
        except Exception as exc:
            errors = land_user_error(exc)
            if errors is None:
                raise
            return LandQuotaPayload(quota=None, errors=errors)

    @strawberry.mutation(
        description=(
            "调节库调剂 Transfer quota from the city pool (市级计划指标调节库) to a county "
            "(INSUFFICIENT_QUOTA when the pool cannot cover it). Roles: CITY_ADMIN, LAND_BUREAU"
        )
    )
    async def transfer_quota_from_pool(
        self, info: Info, input: TransferQuotaFromPoolInput
    ) -> QuotaTransferPayload:
        try:
            counties = [CITY_CODE, input.county_code]
            async with write_transaction(info, Action.QUOTA_TRANSFER, counties) as s:
                if input.county_code not in COUNTY_CODES:
                    raise WriteRefused(
                        "BAD_USER_INPUT",
                        f"countyCode must be one of the six county-level units {SIX_COUNTIES}",
                        field=["input", "countyCode"],
                    )
                kind = QuotaKind(input.kind.value)
                transfer_id = await quotas.transfer_from_pool(
                    s,
                    year=input.year,
                    county_code=input.county_code,
                    kind=kind,
                    amount=quotas.amount_m2(input.amount_m2, input.amount_mu),
                    effective_on=input.effective_on,
                    reason=input.reason,
                    document_no=input.document_no,
                    actor_sub=_sub(info),
                )
                pool = await _quota(s, input.year, CITY_CODE, kind)
                county = await _quota(s, input.year, input.county_code, kind)
            return QuotaTransferPayload(
                transfer_id=transfer_id, pool=pool, county=county, errors=[]
            )
        except Exception as exc:
            errors = land_user_error(exc)
            if errors is None:
                raise
            return QuotaTransferPayload(transfer_id=None, pool=None, county=None, errors=errors)
