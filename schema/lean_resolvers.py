"""Lean resolvers: Strawberry's per-call resolver wrapper, minus the work that is a no-op.

For every field with a resolver, Strawberry wraps the function in a closure that, on each
call, builds its Info, converts each argument (`convert_argument`: a chain of isinstance
tests and a function-level import, even for an `int`), folds the field extensions with
`reduce`, and only then calls the function. For a field with no field extension (so no
permission check), no exception handler, and arguments that are all scalars — whose
conversion returns the value unchanged — that work is the identity. Such a field's
`resolve` is replaced, once per schema, by a closure that renames the arguments to
their Python names, builds the same Info and calls the same function: ~15 µs less per
call (`atRiskProjects` is called once per county of every landGuarantee answer).

Anything else keeps Strawberry's wrapper. graphql-core still builds the ResolveInfo,
coerces the arguments (variables, defaults, errors) and handles what the function
returns or raises, so answers and errors are the same (tests/test_execution.py compares
them with Strawberry's own resolvers on a toy schema and on the demo).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from weakref import WeakKeyDictionary

import strawberry
from graphql import GraphQLField, GraphQLSchema, is_object_type
from strawberry.relay.types import GlobalID
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.field import StrawberryField

_ORIGINALS: WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], Callable[..., Any]]] = (
    WeakKeyDictionary()
)


def install(schema: strawberry.Schema) -> list[tuple[str, str]]:
    """Replace the resolver of every qualifying field of `schema`; the (type, field) pairs
    replaced. Idempotent."""
    gql = schema._schema
    if gql in _ORIGINALS:
        return sorted(_ORIGINALS[gql])
    converter = schema.schema_converter
    originals: dict[tuple[str, str], Callable[..., Any]] = {}
    for named in gql.type_map.values():
        if not is_object_type(named) or named.name.startswith("__"):
            continue
        for field_name, field in named.fields.items():
            lean = lean_resolver(field, converter)
            if lean is not None:
                originals[(named.name, field_name)] = field.resolve  # type: ignore[assignment]
                field.resolve = lean
    _ORIGINALS[gql] = originals
    return sorted(originals)


def lean_resolver(
    field: GraphQLField, converter: GraphQLCoreConverter
) -> Callable[..., Any] | None:
    """The lean resolver for `field`, or None when it must keep Strawberry's."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or definition.base_resolver is None:
        return None
    if definition.extensions or definition.permission_classes or field.resolve is None:
        return None
    if converter._get_field_exception_handlers(definition):
        return None
    resolver = definition.base_resolver
    if not callable(resolver.wrapped_func):
        return None
    registry = converter.scalar_registry
    if not all(_unchanged_by_conversion(a.type, registry) for a in definition.arguments):
        return None
    renames = tuple(
        (converter.config.name_converter.from_argument(a), a.python_name)
        for a in definition.arguments
    )
    function = resolver.wrapped_func
    pass_self = resolver.self_parameter is not None
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    source_names = tuple(
        p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p is not None
    )
    info_class = converter.config.info_class

    def resolve(source: Any, info: Any, **arguments: Any) -> Any:
        kwargs = {python: arguments[name] for name, python in renames if name in arguments}
        for name in source_names:
            kwargs[name] = source
        if info_name is not None:
            kwargs[info_name] = info_class(_raw_info=info, _field=definition)
        return function(source, **kwargs) if pass_self else function(**kwargs)

    return resolve


def _unchanged_by_conversion(type_: Any, registry: Any) -> bool:
    """Strawberry's convert_argument returns values of these types as they are: a scalar
    (built-in or from the scalar map, except GlobalID), optional or not; not Maybe."""
    if isinstance(type_, StrawberryMaybe):
        return False
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    try:
        return type_ is not GlobalID and type_ in registry
    except TypeError:  # an unhashable annotation
        return False


@contextmanager
def strawberry_resolvers(schema: strawberry.Schema) -> Iterator[None]:
    """Strawberry's own resolvers back for the duration (tests compare the two)."""
    gql = schema._schema
    originals = _ORIGINALS.get(gql, {})
    lean = {}
    for (type_name, field_name), original in originals.items():
        field = gql.type_map[type_name].fields[field_name]  # type: ignore[union-attr]
        lean[(type_name, field_name)] = field.resolve
        field.resolve = original
    try:
        yield
    finally:
        for (type_name, field_name), resolve in lean.items():
            gql.type_map[type_name].fields[field_name].resolve = resolve  # type: ignore[union-attr]
