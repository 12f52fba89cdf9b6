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


class LandguardExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with the short path for plain leaves."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        hooked = manager is not None and manager._middleware_resolvers is not None
        self._leaves = {} if hooked else plain_leaves(self.schema)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """An object whose selected fields are all plain leaves (e.g. each at-risk project
        of a landGuarantee answer) is completed in one loop; otherwise field by field."""
        leaves, type_name = self._leaves, parent_type.name
        plan = [
            (response_name, leaves.get((type_name, details[0].node.name.value)))
            for response_name, details in grouped_field_set.items()
        ]
        if all(leaf is not None for _, leaf in plan):
            results = {}
            for response_name, leaf in plan:
                value = _short(leaf, source_value)  # type: ignore[arg-type]
                if value is _STANDARD:
                    break
                results[response_name] = value
            else:
                return results
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        leaf = self._leaves.get((parent_type.name, field_details_list[0].node.name.value))
        if leaf is not None:
            value = _short(leaf, source)
            if value is not _STANDARD:
                return value
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )


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
