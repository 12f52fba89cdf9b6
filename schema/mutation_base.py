"""What every mutation shares: typed user errors, the payload shape and the write transaction.

Shape (one pattern for every mutation, so clients handle errors one way):

    mutation { createParcel(input: {...}) {
        parcel { code areaM2 version }            # the changed object, null when refused
        errors { code message field                # [] on success
                 ... on ParcelOverlapError { otherParcelCode sharedAreaM2 } } } }

A refused write returns its errors in the payload (HTTP 200, `data`), never a 500; the
transaction is rolled back, so nothing is half-written. Malformed GraphQL (wrong types,
missing arguments) and limits stay top-level `errors` with their codes, as for queries.

`write_transaction` is the only way a mutation opens a transaction: it checks the
permission table (schema/permissions.py) first, then opens a transactional session and
tells PostgreSQL who writes (geo.actor.bind_actor: row-level security and the audit
triggers read it). Each failure becomes a `UserError` through `user_error()`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from geo.actor import bind_actor
from geo.crs import M2_PER_MU
from geo.writes import project_errors, refusals
from schema.context import Context
from schema.errors import ErrorCode, LandguardError
from schema.permissions import Action, require


@strawberry.interface(
    description=(
        "被拒绝的写操作 A refused write: a machine-readable `code`, a human `message` "
        "(Chinese — English) and the input `field` path at fault (null when not one field)"
    )
)
class UserError:
    code: str
    message: str
    field: list[str] | None = None


@strawberry.type(description="输入无效 Invalid input (BAD_USER_INPUT and other input codes)")
class InputError(UserError):
    pass


@strawberry.type(
    description=(
        "几何无效 Invalid geometry (INVALID_GEOMETRY, INVALID_GEOJSON, INVALID_WKT, "
        "UNSUPPORTED_SRID, NOT_2D, TOO_MANY_VERTICES, COORDINATE_OUT_OF_RANGE, "
        "UNSUPPORTED_GEOMETRY_TYPE, EMPTY_GEOMETRY …) with PostGIS's reason and location"
    )
)
class GeometryError(UserError):
    reason: str | None = None
    location: list[float] | None = strawberry.field(
        default=None, description="[lon, lat] of the problem, when PostGIS names one"
    )


@strawberry.type(
    description="地块重叠 PARCEL_OVERLAP: the parcel would share area with another parcel"
)
class ParcelOverlapError(UserError):
    other_parcel_code: str
    shared_area_m2: float
    shared_area_mu: float


@strawberry.type(
    description="指标不足 INSUFFICIENT_QUOTA: the account cannot cover the request; nothing changed"
)
class InsufficientQuotaError(UserError):
    holder_code: str
    year: int
    kind: str
    balance_m2: float
    requested_m2: float


@strawberry.type(
    description="版本过期 STALE_VERSION: the object changed since it was read; re-read and retry"
)
class StaleVersionError(UserError):
    sent_version: int
    current_version: int


@strawberry.type(description="不存在 NOT_FOUND: no such object (or not visible to you)")
class NotFoundError(UserError):
    object_type: str
    key: str


@strawberry.type(description="无权限 FORBIDDEN / UNAUTHENTICATED: the caller may not do this")
class ForbiddenError(UserError):
    action: str
    county_code: str | None = None


@strawberry.type(
    description=(
        "状态变更不允许 INVALID_TRANSITION: the step does not follow the chain (DESIGN.md §2), "
        "or goes back without a reason"
    )
)
class InvalidTransitionError(UserError):
    from_status: str
    to_status: str
    allowed: list[str]


@strawberry.type(
    description=(
        "地块已被其他项目使用 PARCEL_ALREADY_LINKED: a parcel serves at most one active "
        "project; unlink it from `otherProjectCode` first"
    )
)
class ParcelAlreadyLinkedError(UserError):
    parcel_code: str
    other_project_code: str


ERROR_TYPES: tuple[type, ...] = (
    InputError,
    GeometryError,
    ParcelOverlapError,
    InsufficientQuotaError,
    StaleVersionError,
    NotFoundError,
    ForbiddenError,
    InvalidTransitionError,
    ParcelAlreadyLinkedError,
)
"""Every concrete UserError: build_schema registers them (`types=`), so the interface's
implementations are all in the schema even before a mutation returns one."""


class Refused(Exception):
    """Raised inside a mutation to refuse with one or more typed errors; rolls back."""

    def __init__(self, *errors: UserError) -> None:
        super().__init__(errors[0].message if errors else "refused")
        self.errors = list(errors)


def user_error(exc: BaseException) -> UserError | None:
    """The typed error for an expected failure, or None for a bug (re-raise it)."""
    if isinstance(exc, LandguardError):
        ext = dict(exc.extensions or {})
        code = str(ext.pop("code", exc.code.value))
        field = ext.get("field") or ext.get("argument")
        path = [str(field)] if isinstance(field, str) else field
        if code in (ErrorCode.FORBIDDEN.value, ErrorCode.UNAUTHENTICATED.value):
            return ForbiddenError(
                code=code,
                message=exc.message,
                field=None,
                action=str(ext.get("action", "")),
                county_code=ext.get("countyCode") or ext.get("county_code") or ext.get("county"),
            )
        if code == ErrorCode.NOT_FOUND.value:
            return NotFoundError(
                code=code,
                message=exc.message,
                field=path,
                object_type=str(ext.get("objectType", "")),
                key=str(ext.get("key", "")),
            )
        return InputError(code=code, message=exc.message, field=path)
    return None


@contextlib.asynccontextmanager
async def write_transaction(
    info: Any, action: Action, county_codes: Sequence[str | None] = (None,)
) -> AsyncIterator[AsyncSession]:
    """Check `action` for every county the write touches, open one transaction, bind the
    actor. Commit on success; any exception rolls everything back."""
    ctx: Context = info.context
    for county in county_codes:
        require(ctx.actor, action, county)
    assert ctx.actor is not None  # require() refused anonymous callers
    actor = dataclasses.replace(ctx.actor, request_id=ctx.request_id)
    factory = ctx.write_sessions
    if factory is None:
        raise RuntimeError("this context has no write sessions")
    async with factory() as session, session.begin():
        await bind_actor(session, actor)
        yield session


def expected_errors(exc: BaseException) -> list[UserError] | None:
    """The payload's typed errors for an expected refusal — a Refused, a geo write refusal,
    a coded LandguardError — or None: not an expected refusal (re-raise it)."""
    if isinstance(exc, Refused):
        return exc.errors
    if isinstance(exc, refusals.WriteRefused):
        return refusal_errors(exc)
    error = user_error(exc)
    return None if error is None else [error]


def refusal_errors(exc: refusals.WriteRefused) -> list[UserError]:
    """geo's typed refusal (geo/writes: pre-check or the database's own refusal mapped by
    `refusals.from_db_error` / `project_errors.translate`) → the payload's typed errors."""
    common = {"code": exc.code, "message": exc.message, "field": exc.field}
    if isinstance(exc, project_errors.InvalidInput):  # one error per bad field
        return [
            InputError(code=exc.code, message=message, field=["input", name])
            for name, message in exc.problems
        ]
    if isinstance(exc, refusals.GeometryRefused):
        location = None if exc.location is None else list(exc.location)
        return [GeometryError(**common, reason=exc.reason, location=location)]
    if isinstance(exc, refusals.OverlapRefused):
        return [
            ParcelOverlapError(
                **common,
                other_parcel_code=exc.other_code,
                shared_area_m2=exc.shared_m2,
                shared_area_mu=round(exc.shared_m2 / M2_PER_MU, 4),
            )
        ]
    if isinstance(exc, refusals.StaleVersion):
        return [StaleVersionError(**common, sent_version=exc.sent, current_version=exc.current)]
    if isinstance(exc, refusals.NotFoundRefused):
        return [NotFoundError(**common, object_type=exc.what, key=exc.key)]
    if isinstance(exc, refusals.TransitionRefused):
        return [
            InvalidTransitionError(
                **common, from_status=exc.current, to_status=exc.wanted, allowed=exc.allowed
            )
        ]
    if isinstance(exc, project_errors.ParcelAlreadyLinked):
        return [
            ParcelAlreadyLinkedError(
                **common, parcel_code=exc.parcel_code, other_project_code=exc.other_project_code
            )
        ]
    if isinstance(exc, refusals.ForbiddenRefused):
        return [
            ForbiddenError(
                code=exc.code, message=exc.message, field=None, action="", county_code=None
            )
        ]
    return [InputError(**common)]
