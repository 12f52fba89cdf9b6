"""Abuse limits, all enforced before any resolver (so before any SQL) runs.

- Token limit: graphql-core's parser stops after `max_tokens` tokens (comments count too,
  so a comment-padded document is cut early); error_policy gives it TOO_MANY_TOKENS.
- Depth and alias limits: one validation rule, so the validation memo
  (schema/document_memo.py) keeps the verdict per document (QUERY_TOO_DEEP, TOO_MANY_ALIASES). Fragments are expanded where spread.
  Introspection subtrees (`__schema`, `__type`) do not count towards the depth — the
  standard introspection query alone is 15 levels deep (`ofType` chains); introspection
  is off in production and the token limit bounds it in development. Aliases inside
  them count.
- Cost: schema/cost.py estimates the operation from the document and the variables just
  before execution (QUERY_TOO_COMPLEX above `max_cost`), remembered per document and
  variables; every executed response reports `extensions.cost = {estimated, limit}`.
- Introspection (`__schema`, `__type`) refused when disabled (production).

The rule class is built once per schema and the extension is passed as a factory: a
schema extension instance holds per-request state and must never be shared.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)
from graphql.language import SKIP
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension

from schema.cost import MAX_SELECTIONS, ExpansionTooLarge, estimate
from schema.document_memo import COSTS, MISSING, variables_key
from schema.errors import ErrorCode, LandguardError

_OPERATION_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")


@dataclass(frozen=True)
class QueryLimits:
    """What the GraphQL layer enforces per request (api.settings fills it from the env)."""

    max_depth: int = 12
    max_aliases: int = 100
    max_tokens: int = 5000
    max_cost: int = 20000
    default_page_size: int = 50
    introspection: bool = True
    field_suggestions: bool = True


def _shape(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    memo: dict[str, tuple[int, int]],
    seen: frozenset[str],
) -> tuple[int, int]:
    """(depth, aliases) of a selection set with fragments expanded. Per-fragment results
    are memoised, so a fragment spread many times is walked once (no exponential blow-up)."""
    if selection_set is None:
        return 0, 0
    depth = aliases = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            d, a = _shape(sel.selection_set, fragments, memo, seen)
            if not sel.name.value.startswith("__"):  # introspection: see the docstring
                depth = max(depth, d + 1)
            aliases += a + (1 if sel.alias else 0)
        elif isinstance(sel, InlineFragmentNode):
            d, a = _shape(sel.selection_set, fragments, memo, seen)
            depth, aliases = max(depth, d), aliases + a
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:  # unknown / cyclic: other rules report it
                continue
            if name not in memo:
                memo[name] = _shape(fragment.selection_set, fragments, memo, seen | {name})
            d, a = memo[name]
            depth, aliases = max(depth, d), aliases + a
    return depth, aliases


def shape_rule(max_depth: int, max_aliases: int) -> type[ASTValidationRule]:
    """A validation rule refusing operations nested deeper than `max_depth` fields or with
    more than `max_aliases` aliases."""

    class QueryShapeRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
            fragments = {
                d.name.value: d
                for d in self.context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            depth, aliases = _shape(node.selection_set, fragments, {}, frozenset())
            if depth > max_depth:
                self.report_error(
                    LandguardError(
                        ErrorCode.QUERY_TOO_DEEP,
                        f"The query is nested {depth} levels deep; at most {max_depth} "
                        "are allowed 查询嵌套过深",
                        depth=depth,
                        maximum=max_depth,
                    )
                )
            if aliases > max_aliases:
                self.report_error(
                    LandguardError(
                        ErrorCode.TOO_MANY_ALIASES,
                        f"The query uses {aliases} aliases; at most {max_aliases} are "
                        "allowed 别名过多",
                        aliases=aliases,
                        maximum=max_aliases,
                    )
                )
            return SKIP

    return QueryShapeRule


def _note(context: Any, name: str, value: Any) -> None:
    """Leave a fact on the HTTP request's state for the access log and the metrics."""
    state = getattr(getattr(context, "request", None), "state", None)
    if state is not None:
        setattr(state, name, value)


def _refuse(message: str, **details: Any) -> ExecutionResult:
    """A result standing in for execution: strawberry skips executing when one is set."""
    return ExecutionResult(
        data=None, errors=[LandguardError(ErrorCode.QUERY_TOO_COMPLEX, message, **details)]
    )


class RequestLimits(SchemaExtension):
    """Per-request enforcement of QueryLimits (see the module docstring)."""

    def __init__(self, *, limits: QueryLimits, rules: tuple[type[ASTValidationRule], ...]):
        super().__init__()
        self.limits = limits
        self.rules = rules
        self.cost: int | None = None

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        ec.parse_options["max_tokens"] = self.limits.max_tokens
        ec.validation_rules = ec.validation_rules + self.rules
        yield
        name = ec.operation_name if ec.graphql_document is not None else None
        _note(
            ec.context, "graphql_operation", name if name and _OPERATION_NAME.match(name) else None
        )

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.result is None and ec.graphql_document is not None:
            try:
                self.cost = self._estimate()
            except ExpansionTooLarge:
                ec.result = _refuse(
                    f"The query expands to more than {MAX_SELECTIONS} selections 查询过于复杂",
                    maximum=MAX_SELECTIONS,
                )
            else:
                _note(ec.context, "graphql_cost", self.cost)
                if self.cost is not None and self.cost > self.limits.max_cost:
                    ec.result = _refuse(
                        f"The query's estimated cost is {self.cost}; at most "
                        f"{self.limits.max_cost} is allowed (cost model: schema/cost.py, "
                        "README) 查询过于复杂",
                        cost=self.cost,
                        maximum=self.limits.max_cost,
                    )
        yield

    def _estimate(self) -> int | None:
        """schema/cost.estimate, remembered per document and variables (document_memo)."""
        ec = self.execution_context
        schema, document, page = (
            ec.schema._schema,
            ec.graphql_document,
            self.limits.default_page_size,
        )
        variables = variables_key(ec.variables)
        key = (schema, ec.operation_name, variables, page)
        cost = COSTS.get(document, key) if variables is not None else MISSING
        if cost is MISSING:
            cost = estimate(
                schema, document, ec.operation_name, ec.variables, default_page_size=page
            )
            if variables is not None:
                COSTS.put(document, key, cost)
        return cost

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:
            return {}
        return {"cost": {"estimated": self.cost, "limit": self.limits.max_cost}}


def extensions(limits: QueryLimits) -> list[Callable[[], SchemaExtension]]:
    """Factories for the schema: the rule classes are made once (stable for the
    ValidationCache key), each request gets a fresh extension instance."""
    rules: tuple[type[ASTValidationRule], ...] = (shape_rule(limits.max_depth, limits.max_aliases),)
    if not limits.introspection:
        rules += (NoSchemaIntrospectionCustomRule,)
    return [lambda: RequestLimits(limits=limits, rules=rules)]
