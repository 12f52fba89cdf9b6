"""`auditTrail`: who changed an object, when, and what (audit_log of migration 0004).

For city administrators only (Action.AUDIT_READ). A refusal is a top-level GraphQL error
with code UNAUTHENTICATED or FORBIDDEN, as for every query (typed payload errors are
for mutations); the field is nullable so other root fields of the request still answer.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from geo.queries import audit
from schema.errors import ErrorCode, LandguardError, bad_input
from schema.pagination import Connection, Edge, PageInfo, page_size
from schema.permissions import Action, require
from schema.types import Info

CURSOR_PREFIX = "lg1a:"
CODE_MAX = 64


@strawberry.enum(description="审计对象类型 Kind of audited object (one audited table each)")
class AuditObjectType(Enum):
    PROJECT = strawberry.enum_value("project", description="项目 project (by its code)")
    PARCEL = strawberry.enum_value("parcel", description="地块 parcel (by its code)")
    PROJECT_PARCEL = strawberry.enum_value(
        "project_parcel", description="项目用地关联 the parcel links of a project (project code)"
    )
    LAND_QUOTA_ENTRY = strawberry.enum_value(
        "land_quota_entry",
        description="用地计划指标台账 ledger entries of one account: code `year/holder/kind`, "
        "e.g. 2024/140521/NEW_CONSTRUCTION",
    )
    APPROVAL_ITEM = strawberry.enum_value(
        "approval_item", description="审批事项 approval item (by its code)"
    )
    PROJECT_ISSUE = strawberry.enum_value(
        "project_issue", description="问题台账 project issue (by its code)"
    )


@strawberry.enum(description="写操作类型 Kind of write")
class AuditAction(Enum):
    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


@strawberry.type(
    description="审计记录 One audited write of one row, made in the writing transaction"
)
class AuditEntry:
    occurred_at: dt.datetime = strawberry.field(description="写入时间 When (database clock)")
    actor_sub: str = strawberry.field(
        description="操作人 The token's `sub` (system:<db role> for jobs)"
    )
    actor_role: str | None = strawberry.field(description="操作人角色 Role of the writer")
    request_id: str | None = strawberry.field(description="请求编号 X-Request-ID of the write")
    county_code: str | None = strawberry.field(description="所属县（市、区） County of the row")
    object_code: str | None
    action: AuditAction
    before: JSON | None = strawberry.field(
        description="修改前 Row image before the write (JSON, column names; null on INSERT)"
    )
    after: JSON | None = strawberry.field(
        description="修改后 Row image after the write (JSON; null on DELETE). Parcel images "
        "carry geom_md5 and geom_vertices instead of the geometry"
    )
    changed_fields: list[str] = strawberry.field(
        description="变更字段 Columns the write changed (UPDATE: differing values, version "
        "and updated_at aside; INSERT/DELETE: the columns with a value), sorted"
    )

    @classmethod
    def from_row(cls, row: Any) -> AuditEntry:
        return cls(
            occurred_at=row.occurred_at,
            actor_sub=row.actor_sub,
            actor_role=row.actor_role,
            request_id=row.request_id,
            county_code=row.county_code,
            object_code=row.object_code,
            action=AuditAction(row.action),
            before=row.before,
            after=row.after,
            changed_fields=audit.changed_fields(row.action, row.before, row.after),
        )


def _cursor(row: Any) -> str:
    raw = f"{CURSOR_PREFIX}{row.occurred_at.isoformat()}|{row.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(cursor: str | None) -> tuple[dt.datetime, int] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        stamp, _, ident = raw.removeprefix(CURSOR_PREFIX).rpartition("|")
        if not raw.startswith(CURSOR_PREFIX):
            raise ValueError
        return dt.datetime.fromisoformat(stamp), int(ident)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise LandguardError(
            ErrorCode.INVALID_CURSOR, f"`after` is not a cursor auditTrail issued: {cursor!r}"
        ) from None


@strawberry.type
class AuditQuery:
    @strawberry.field(
        description=(
            "审计轨迹 Every audited write of one object, newest first (city administrators "
            "only: UNAUTHENTICATED / FORBIDDEN otherwise)"
        )
    )
    async def audit_trail(
        self,
        info: Info,
        object_type: AuditObjectType,
        code: str,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEntry] | None:
        require(info.context.actor, Action.AUDIT_READ)
        cfg = info.context.config
        limit = page_size(first, default=cfg.default_page_size, maximum=cfg.max_page_size)
        if not code or len(code) > CODE_MAX:
            raise bad_input(f"`code` must be 1–{CODE_MAX} characters", argument="code")
        table: str = object_type.value
        position = _decode(after)
        async with info.context.sessions() as s:
            rows = await audit.audit_trail(s, table=table, code=code, after=position, limit=limit)

        async def count() -> int:
            async with info.context.sessions() as s:
                return await audit.count_audit_trail(s, table=table, code=code)

        page = rows[:limit]
        edges: list[Any] = [Edge(cursor=_cursor(r), node=AuditEntry.from_row(r)) for r in page]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > limit,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            _count=count,
        )
