"""Assemble the Strawberry schema."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from schema import limits as lim
from schema.audit import AuditQuery
from schema.dispatch import DispatchMutation, DispatchQuery
from schema.document_memo import ValidationMemo
from schema.execution import LandguardExecutionContext
from schema.guarantee import GuaranteeQuery
from schema.lean_resolvers import install as install_lean_resolvers
from schema.maps import MapQuery, OverlayQuery
from schema.me import MeQuery
from schema.mutation_base import ERROR_TYPES
from schema.mutations_land import LandMutation
from schema.mutations_projects import ProjectMutation
from schema.progress import ProgressMutation, ProgressQuery
from schema.query import Query as ListQuery
from schema.scalars import SCALAR_MAP


class LandguardSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logging happens once, in schema.error_policy, for unexpected errors only."""


Query = merge_types(
    "Query",
    (
        ListQuery,
        MapQuery,
        OverlayQuery,
        GuaranteeQuery,
        MeQuery,
        AuditQuery,
        ProgressQuery,
        DispatchQuery,
    ),
)
Mutation = merge_types(
    "Mutation", (LandMutation, ProjectMutation, ProgressMutation, DispatchMutation)
)


def build_schema(limits: lim.QueryLimits | None = None) -> strawberry.Schema:
    """`limits` default to QueryLimits() (development values), e.g. for `api schema`."""
    limits = limits or lim.QueryLimits()
    # Factories, never shared instances: an extension holds per-request state (the
    # LRU caches themselves are module-level and shared across requests).
    extensions: list[Any] = [
        *lim.extensions(limits),
        lambda: ParserCache(maxsize=256),
        ValidationMemo,
    ]
    schema = LandguardSchema(
        query=Query,
        mutation=Mutation,
        types=list(ERROR_TYPES),
        config=StrawberryConfig(
            scalar_map=SCALAR_MAP, disable_field_suggestions=not limits.field_suggestions
        ),
        extensions=extensions,
        execution_context_class=LandguardExecutionContext,
    )
    install_lean_resolvers(schema)
    return schema
