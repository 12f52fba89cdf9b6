"""`me`: who the server thinks the caller is, and what it may write (for the front end)."""

from __future__ import annotations

import strawberry

from geo.actor import Actor
from geo.actor import Role as DomainRole
from schema.enums import _graphql_enum
from schema.permissions import allowed_actions
from schema.types import Info

Role = _graphql_enum(
    DomainRole, "用户角色 Role of an authenticated principal (schema/permissions.py)"
)


@strawberry.type(description="当前用户 The authenticated principal of this request")
class Principal:
    sub: str = strawberry.field(description="令牌主体 The token's `sub`")
    role: Role  # type: ignore[valid-type]
    counties: list[str] | None = strawberry.field(
        description="可操作的县（市、区） GB/T 2260 codes a county officer may write in; "
        "null = every county (city-level roles)"
    )
    actions: list[str] = strawberry.field(
        description="可执行的写操作 Actions this role may perform (e.g. `parcel.create`); "
        "county-scoped ones only within `counties`"
    )

    @classmethod
    def from_actor(cls, actor: Actor) -> Principal:
        return cls(
            sub=actor.sub,
            role=Role[actor.role.value],
            counties=None if actor.counties is None else sorted(actor.counties),
            actions=[a.value for a in allowed_actions(actor)],
        )


@strawberry.type
class MeQuery:
    @strawberry.field(description="当前用户 The caller's principal; null for an anonymous request")
    def me(self, info: Info) -> Principal | None:
        actor = info.context.actor
        return Principal.from_actor(actor) if actor is not None else None
