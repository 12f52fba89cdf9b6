"""Execution context with a short path for plain data leaves.

A landGuarantee answer completes about 430 fields, nearly all of them attributes of objects
the resolver has already built (figures, codes, enums, reasons). graphql-core spends most of
a request's Python time on those: a ResolveInfo per field, Strawberry's resolver wrapper,
an awaitable test and a dispatch on the return type, before the one `serialize` call that
produces the value (profiled: ~20 µs of ~25 µs per field).

Here a field takes the short path only when all of this holds, decided once per schema:
- Strawberry treats it as basic (no resolver, no field extension, no permission class —
  the same test Strawberry uses to skip building its own Info);
- its type is a scalar or enum, non-null or not, or a list of non-null scalars or enums;
- no schema extension hooks field resolution in this request (no graphql-core middleware).

The value is read with Strawberry's default resolver and passed to the very `serialize`
graphql-core would call. Anything unusual — null for a non-null field, a value `serialize`
refuses, a list that is not a plain list — goes down the standard path instead, so errors,
their paths and their messages are exactly graphql-core's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from math import isfinite
from operator import attrgetter
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLInt,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    Undefined,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter


class PlainLeaf(NamedTuple):
    """How to produce one plain field's value without the general machinery."""

    read: Callable[[Any], Any]
    serialize: Callable[[Any], Any]
    nullable: bool
    is_list: bool


def plain_leaf(field: GraphQLField) -> PlainLeaf | None:
    """The short path for `field`, or None when it must take the standard one."""
    if not getattr(field.resolve, "_is_default", False):  # Strawberry's basic-field mark
        return None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None or definition.base_resolver or definition.extensions:
        return None
    nullable = not is_non_null_type(field.type)
    of = get_nullable_type(field.type)
    is_list = is_list_type(of)
    if is_list:
        if not is_non_null_type(of.of_type):
            return None
        of = of.of_type.of_type
    if not is_leaf_type(of):
        return None
    serialize = _BUILTIN.get(of.name) if any(of is t for t in _BUILTIN_TYPES) else None
    if isinstance(of, CustomGraphQLEnumType):
        serialize = _enum_serializer(of)
    name = definition.python_name
    default = definition.default_resolver
    read = attrgetter(name) if default is getattr else partial(_read_with, default, name)
    return PlainLeaf(read, serialize or of.serialize, nullable, is_list)


_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _float(value: Any) -> Any:
    return value if type(value) is float and isfinite(value) else GraphQLFloat.serialize(value)


def _int(value: Any) -> Any:
    if type(value) is int and _INT_MIN <= value <= _INT_MAX:
        return value
    return GraphQLInt.serialize(value)


def _string(value: Any) -> Any:
    return value if type(value) is str else GraphQLString.serialize(value)


def _boolean(value: Any) -> Any:
    return value if type(value) is bool else GraphQLBoolean.serialize(value)


_BUILTIN = {"Float": _float, "Int": _int, "String": _string, "Boolean": _boolean}
"""For a value of exactly these Python types (a finite float, a 32-bit int) graphql-core's
serializers return it unchanged; anything else is passed to them."""
_BUILTIN_TYPES = (GraphQLFloat, GraphQLInt, GraphQLString, GraphQLBoolean)


def _enum_serializer(of: CustomGraphQLEnumType) -> Callable[[Any], Any]:
    """Strawberry's enum serialize, precomputed: a member of the enum class gets the first
    GraphQL name whose value equals its value (what Strawberry scans for on every call);
    anything else goes to Strawberry's own serialize."""
    names: dict[Any, str] = {}
    for member in of.wrapped_cls:
        for name, value in of.values.items():
            if member.value == value.value:
                names[member] = name
                break
    cls, standard = of.wrapped_cls, of.serialize

    def serialize(value: Any) -> Any:
        if type(value) is cls and value in names:
            return names[value]
        return standard(value)

    return serialize


def _read_with(resolver: Callable[[Any, str], Any], name: str, source: Any) -> Any:
    return resolver(source, name)


_PLANS: WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], PlainLeaf]] = WeakKeyDictionary()


def plain_leaves(schema: GraphQLSchema) -> dict[tuple[str, str], PlainLeaf]:
    """(object type, field) → PlainLeaf for every field of `schema` that qualifies."""
    plans = _PLANS.get(schema)
    if plans is None:
        plans = {}
        for named in schema.type_map.values():
            if is_object_type(named) and not named.name.startswith("__"):
                for field_name, field in named.fields.items():
                    leaf = plain_leaf(field)
                    if leaf is not None:
                        plans[(named.name, field_name)] = leaf
        _PLANS[schema] = plans
    return plans


class FieldPlan(NamedTuple):
    """One object type's selection in one request: each response name with its PlainLeaf
    (None when it takes the standard path) and graphql-core's field details."""

    entries: tuple[tuple[str, PlainLeaf | None, Any], ...]
    all_leaves: bool


class LandguardExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with the short path for plain leaves."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        hooked = manager is not None and manager._middleware_resolvers is not None
        self._leaves = {} if hooked else plain_leaves(self.schema)
        self._field_plans: dict[tuple[str, int], tuple[Any, FieldPlan]] = {}

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> FieldPlan:
        """Per request and selection: graphql-core collects an object type's sub-selection
        once per request (memoized on the field nodes), so its identity is a stable key
        while it is kept alive here."""
        key = (parent_type.name, id(grouped_field_set))
        cached = self._field_plans.get(key)
        if cached is not None:
            return cached[1]
        leaves, type_name = self._leaves, parent_type.name
        entries = tuple(
            (response_name, leaves.get((type_name, details[0].node.name.value)), details)
            for response_name, details in grouped_field_set.items()
        )
        plan = FieldPlan(entries, all(leaf is not None for _, leaf, _ in entries))
        self._field_plans[key] = (grouped_field_set, plan)
        return plan

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_fields with plain leaves read in line (no Path, no
        ResolveInfo); any other field, or a leaf whose value is unusual, goes through
        the standard execute_field."""
        plan = self._plan(parent_type, grouped_field_set)
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        standard = super().execute_field
        awaitable_fields: list[str] = []
        try:
            for response_name, leaf, details in plan.entries:
                if leaf is not None:
                    value = _short(leaf, source_value)
                    if value is not _STANDARD:
                        results[response_name] = value
                        continue
                result = standard(
                    parent_type,
                    source_value,
                    details,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                name = awaitable_fields[0]
                results[name] = await results[name]
            else:
                awaited = await gather_with_cancel(*(results[n] for n in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def complete_list_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A plain list of objects whose selected fields are all plain leaves (the at-risk
        projects of every county) is completed in one loop, without graphql-core's
        per-item completion frames; anything else (a null item, an unusual value, a type
        with is_type_of, @defer/@stream) takes the standard path for the whole list."""
        completed = self._plain_list(return_type, field_details_list, path, result)
        if completed is not None:
            return completed
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _plain_list(
        self, return_type: Any, field_details_list: Any, path: Any, result: Any
    ) -> list[dict[str, Any]] | None:
        """`result` completed in one loop, or None when it must take the standard path."""
        of = get_nullable_type(return_type.of_type)
        if (
            type(result) is not list
            or not is_object_type(of)
            or of.is_type_of is not None
            or self.get_stream_usage(field_details_list, path) is not None
        ):
            return None
        grouped, new_defers, _ = self.collect_subfields(of, field_details_list)
        plan = None if new_defers else self._plan(of, grouped)
        if plan is None or not plan.all_leaves:
            return None
        completed = []
        for item in result:
            done = None if item is None else _leaf_object(plan, item)
            if done is None:
                return None
            completed.append(done)
        return completed


def _leaf_object(plan: FieldPlan, source: Any) -> dict[str, Any] | None:
    """An all-leaf object's completed value, or None when a field must take the standard
    path (the caller then completes the whole object the standard way)."""
    results = {}
    for response_name, leaf, _ in plan.entries:
        value = _short(leaf, source)  # type: ignore[arg-type]
        if value is _STANDARD:
            return None
        results[response_name] = value
    return results


_STANDARD = object()
"""`_short`'s answer when the field must take the standard path."""


def _short(leaf: PlainLeaf, source: Any) -> Any:
    """The serialized value of a plain leaf, or _STANDARD when anything is unusual."""
    try:
        value = leaf.read(source)
        if value is None:
            return None if leaf.nullable else _STANDARD
        if leaf.is_list:
            if type(value) is not list:
                return _STANDARD
            out = [leaf.serialize(item) for item in value]
            return _STANDARD if None in out or Undefined in out else out
        out = leaf.serialize(value)
        return _STANDARD if out is None or out is Undefined else out
    except Exception:
        return _STANDARD
