"""Typed refusals of the write paths, and the database's own refusals mapped onto them.

The write functions check everything they can before they write (so a refusal carries the
reason, the location, the other parcel …); the database (migration 0004) refuses the same
things again for any writer. `from_db_error` turns each of its refusals — a named CHECK,
SQLSTATE LG001 with its JSON DETAIL, row-level security, LG002 — into the refusal the
pre-check would have raised, so a client sees one error whichever line caught it.
"""

from __future__ import annotations

import json
from typing import Any

from geo import write_rules as W

SQLSTATE_UNIQUE = "23505"
SQLSTATE_FOREIGN_KEY = "23503"

DB_CONSTRAINT_CODES: dict[str, str] = {
    **W.CONSTRAINT_ERROR_CODES,
    # geo.geometry_input reports a NaN/Infinity coordinate as INVALID_GEOMETRY ("coordinates
    # must be finite numbers"): the database's refusal of the same input says the same.
    W.CK_FINITE: "INVALID_GEOMETRY",
    W.CK_POLYGONAL: "UNSUPPORTED_GEOMETRY_TYPE",
    W.CK_NOT_EMPTY: "EMPTY_GEOMETRY",
    W.CK_2D: "NOT_2D",
}
"""Constraint name → error code, as the Python pre-checks name the same faults."""


class WriteRefused(Exception):
    """A write the store refuses; `code` is the client's error code, `field` the input path."""

    def __init__(self, code: str, message: str, *, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class GeometryRefused(WriteRefused):
    """Bad geometry: `reason` from GEOS/PostGIS, `location` [lon, lat] when one is named."""

    def __init__(
        self,
        code: str,
        reason: str,
        *,
        location: tuple[float, float] | None = None,
        field: list[str] | None = None,
    ) -> None:
        super().__init__(code, f"几何无效 invalid geometry: {reason}", field=field)
        self.reason = reason
        self.location = location


class OverlapRefused(WriteRefused):
    """No two parcels share area (edge- or vertex-sharing neighbours are fine)."""

    def __init__(self, parcel_code: str, other_code: str, shared_m2: float) -> None:
        super().__init__(
            "PARCEL_OVERLAP",
            f"地块重叠 parcel {parcel_code} would share {shared_m2:,.2f} m² with parcel {other_code}",
            field=["input", "geometry"],
        )
        self.parcel_code = parcel_code
        self.other_code = other_code
        self.shared_m2 = shared_m2


class StaleVersion(WriteRefused):
    def __init__(self, what: str, key: str, sent: int, current: int) -> None:
        super().__init__(
            "STALE_VERSION",
            f"版本过期 {what} {key} is at version {current}, not {sent}: re-read and retry",
            field=["input", "version"],
        )
        self.sent = sent
        self.current = current


class NotFoundRefused(WriteRefused):
    def __init__(self, what: str, key: str, *, field: list[str] | None = None) -> None:
        super().__init__("NOT_FOUND", f"未找到 not found: {what} {key}", field=field)
        self.what = what
        self.key = key


class TransitionRefused(WriteRefused):
    def __init__(self, current: str, wanted: str, allowed: list[str], why: str) -> None:
        super().__init__(
            "INVALID_TRANSITION",
            f"用地手续状态不能从 {current} 变为 {wanted} invalid transition: {why}",
            field=["input", "status"],
        )
        self.current = current
        self.wanted = wanted
        self.allowed = allowed


class ForbiddenRefused(WriteRefused):
    """The database refused the actor (row-level security, or no actor bound at all)."""

    def __init__(self, message: str, county_code: str | None = None) -> None:
        super().__init__("FORBIDDEN", message)
        self.county_code = county_code


def _diag(exc: BaseException) -> tuple[str | None, Any]:
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None), getattr(orig, "diag", None)


def from_db_error(exc: BaseException, *, code: str | None = None) -> WriteRefused | None:
    """The typed refusal for a database error raised by a write, or None (a bug: re-raise).

    `code` names the object written, for messages (the database names it in LG001)."""
    sqlstate, diag = _diag(exc)
    if sqlstate is None:
        return None
    constraint = getattr(diag, "constraint_name", None)
    if sqlstate == W.SQLSTATE_PARCEL_OVERLAP:
        detail = json.loads(getattr(diag, "message_detail", None) or "{}")
        return OverlapRefused(
            str(detail.get("parcelCode", code or "?")),
            str(detail.get("otherParcelCode", "?")),
            float(detail.get("sharedAreaM2", 0.0)),
        )
    if sqlstate == W.SQLSTATE_CHECK and constraint in DB_CONSTRAINT_CODES:
        return GeometryRefused(
            DB_CONSTRAINT_CODES[constraint],
            f"the database refused the geometry ({constraint})",
            field=["input", "geometry"],
        )
    if sqlstate == W.SQLSTATE_CHECK:
        return WriteRefused(
            "BAD_USER_INPUT", f"输入无效 the database refused the values ({constraint})"
        )
    if sqlstate == W.SQLSTATE_GEOMETRY_TYPMOD:
        return GeometryRefused(
            "INVALID_GEOMETRY",
            "the database refused the geometry's type, dimension or SRID",
            field=["input", "geometry"],
        )
    if sqlstate == W.SQLSTATE_RLS:
        return ForbiddenRefused(
            "无权操作 row-level security: this actor may not write that county's rows"
        )
    if sqlstate == W.SQLSTATE_NO_ACTOR:
        return ForbiddenRefused("无权操作 no actor is bound to this write")
    if sqlstate == SQLSTATE_UNIQUE:
        return WriteRefused(
            "DUPLICATE_CODE",
            f"编码已存在 the code {code or ''} is already taken ({constraint})".replace("  ", " "),
            field=["input", "code"],
        )
    if sqlstate == SQLSTATE_FOREIGN_KEY:
        return NotFoundRefused("referenced row 关联对象", str(constraint))
    return None
