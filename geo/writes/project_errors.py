"""Typed refusals of the project, link and approval-item writes (geo/writes/projects.py,
project_links.py, approvals.py) and the one place that turns a database refusal into them.

geo/ knows nothing of GraphQL: each refusal carries a machine-readable `code` (the same
string the API reports), a message (Chinese — English) and the input `field` at fault.
They share the base and the common kinds (not found, stale version, transition,
forbidden) of geo/writes/refusals.py, so schema/mutation_base.refusal_errors turns every
write's refusal into the payload's typed errors in one place. A
constraint the Python pre-check should have caught (a concurrent writer, a direct SQL
rule) comes back through `translate()` as the same refusal the pre-check gives.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from sqlalchemy.exc import DBAPIError

from geo.write_rules import SQLSTATE_RLS
from geo.writes import refusals


class WriteRefused(refusals.WriteRefused):
    """Base of the project-side refusals: the shared refusal (geo/writes/refusals.py) with
    the class's `code` and the input field named as in GraphQL (path ["input", field])."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(type(self).code, message, field=_path(field))


def _path(field: str | None) -> list[str] | None:
    return None if field is None else ["input", field]


class InvalidInput(WriteRefused):
    """One or more fields break a rule of the table (the CHECKs of migration 0001)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(m for _, m in problems), problems[0][0] if problems else None)
        self.problems = problems


class DuplicateCode(WriteRefused):
    code = "DUPLICATE_CODE"

    def __init__(self, object_type: str, key: str) -> None:
        super().__init__(f"代码已存在 {object_type} code {key!r} is already taken", "code")
        self.object_type = object_type
        self.key = key


class NotFound(refusals.NotFoundRefused):
    code = "NOT_FOUND"

    def __init__(self, object_type: str, key: str, field: str | None = None) -> None:
        refusals.WriteRefused.__init__(
            self, self.code, f"未找到 no {object_type} {key!r}", field=_path(field)
        )
        self.what = self.object_type = object_type
        self.key = key


class StaleVersion(refusals.StaleVersion):
    code = "STALE_VERSION"

    def __init__(self, object_type: str, key: str, sent: int, current: int) -> None:
        refusals.WriteRefused.__init__(
            self,
            self.code,
            f"数据已被他人修改 {object_type} {key} is at version {current}, not {sent}: "
            "re-read it and apply your change again",
            field=_path("version"),
        )
        self.sent = sent
        self.current = current


class InvalidTransition(refusals.TransitionRefused):
    code = "INVALID_TRANSITION"

    def __init__(
        self, current: str, wanted: str, allowed: list[str], why: str, field: str = "stage"
    ) -> None:
        refusals.WriteRefused.__init__(
            self, self.code, f"状态变更不允许 {current} → {wanted}: {why}", field=_path(field)
        )
        self.current = current
        self.wanted = wanted
        self.allowed = allowed


class ParcelAlreadyLinked(WriteRefused):
    code = "PARCEL_ALREADY_LINKED"

    def __init__(self, parcel_code: str, other_project_code: str) -> None:
        super().__init__(
            f"地块已被其他项目使用 parcel {parcel_code} already serves project "
            f"{other_project_code}: unlink it there first (a parcel serves one active project)",
            "parcelCode",
        )
        self.parcel_code = parcel_code
        self.other_project_code = other_project_code


class Forbidden(refusals.ForbiddenRefused):
    """Row-level security refused the row (the resolver's permission check is the first
    line; this is the database's second)."""

    code = "FORBIDDEN"

    def __init__(self, message: str) -> None:
        super().__init__(f"无权限 {message}")


@contextlib.contextmanager
def translate(constraints: Mapping[str, WriteRefused]) -> Iterator[None]:
    """Re-raise a database refusal as its typed WriteRefused: a named constraint from
    `constraints`, or row-level security (42501) as Forbidden. Anything else is a bug
    and propagates unchanged (masked as INTERNAL_SERVER_ERROR by the API)."""
    try:
        yield
    except DBAPIError as exc:
        diag = getattr(exc.orig, "diag", None)
        name = getattr(diag, "constraint_name", None)
        if name in constraints:
            raise constraints[name] from exc
        if getattr(exc.orig, "sqlstate", None) == SQLSTATE_RLS:
            raise Forbidden(str(getattr(diag, "message_primary", "") or exc.orig)) from exc
        raise
