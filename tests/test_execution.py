"""schema/execution.py: the short path for plain leaves answers exactly what graphql-core's
standard path answers — the same data, the same errors at the same paths.

1. A toy schema built to hit every fallback: a null in a non-null field, a value the
   scalar refuses, a null inside a list of non-null items, a tuple instead of a list, an
   enum, a resolver and a field extension beside plain fields.
2. The demo: broad queries over the real schema (every argument-free field three levels
   deep under landGuarantee, projects, parcels, horseRace, warnings …) through the app,
   once with the short path and once with Strawberry's own execution context; the JSON
   bodies must be byte-identical.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import orjson
import pytest
import strawberry
from graphql import (
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_object_type,
    is_scalar_type,
)
from starlette.applications import Starlette
from strawberry.extensions import FieldExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.app import LandguardGraphQL
from schema import lean_resolvers
from schema.build import build_schema
from schema.execution import LandguardExecutionContext, plain_leaves

# --- 1. a toy schema --------------------------------------------------------------------


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Shout(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        return next_(source, info, **kwargs).upper()


@strawberry.type
class Item:
    name: str
    size: int
    colour: Colour
    tags: list[str]
    maybe: float | None = None
    loud: str = strawberry.field(default="hi", extensions=[Shout()])

    @strawberry.field
    def twice(self) -> int:
        return 2 * self.size

    @strawberry.field
    async def later(self) -> int:
        return 10 * self.size

    @strawberry.field
    def scaled(self, info: strawberry.Info, by: int = 2, label: str | None = None) -> str | None:
        if by < 0:
            raise ValueError(f"negative factor {by}")
        return f"{label or info.field_name}:{by * self.size}"


GOOD = Item(name="a", size=3, colour=Colour.GREEN, tags=["x", "y"], maybe=1.5)
ODD: list[Any] = [
    Item(name=None, size=1, colour=Colour.RED, tags=[]),  # type: ignore[arg-type]
    Item(name="b", size="many", colour=Colour.RED, tags=[]),  # type: ignore[arg-type]
    Item(name="c", size=2, colour=Colour.RED, tags=["ok", None]),  # type: ignore[list-item]
    Item(name="d", size=4, colour=Colour.RED, tags=("tu", "ple")),  # type: ignore[arg-type]
    Item(name="e", size=5, colour="purple", tags=[]),  # type: ignore[arg-type]
]


@strawberry.type
class ToyQuery:
    @strawberry.field
    def good(self) -> Item:
        return GOOD

    @strawberry.field
    def odd(self) -> list[Item | None]:
        return ODD

    @strawberry.field
    def goods(self) -> list[Item]:
        return [GOOD, ODD[3], GOOD]

    @strawberry.field
    def strict(self) -> list[Item] | None:
        return [GOOD, None]  # type: ignore[list-item]


TOY = "{ good { name size colour tags maybe loud twice } odd { name size colour tags maybe } }"


def _toy(execution_context_class: type, lean: bool = True) -> strawberry.Schema:
    schema = strawberry.Schema(query=ToyQuery, execution_context_class=execution_context_class)
    if lean:
        lean_resolvers.install(schema)
    return schema


def test_toy_plain_leaves_are_exactly_the_basic_scalar_and_enum_fields() -> None:
    plans = plain_leaves(_toy(LandguardExecutionContext)._schema)
    assert sorted(f for t, f in plans if t == "Item") == ["colour", "maybe", "name", "size", "tags"]
    assert not any(t == "ToyQuery" for t, _ in plans)  # root fields have resolvers


def test_toy_answers_and_errors_match_the_standard_path() -> None:
    fast = _toy(LandguardExecutionContext).execute_sync(TOY)
    slow = _toy(StrawberryGraphQLCoreExecutionContext).execute_sync(TOY)
    assert fast.data == slow.data
    assert fast.data is not None
    assert fast.data["good"] == {
        "name": "a",
        "size": 3,
        "colour": "GREEN",
        "tags": ["x", "y"],
        "maybe": 1.5,
        "loud": "HI",
        "twice": 6,
    }
    # the tuple is still a list to graphql-core; every other odd item is nulled by its error
    assert fast.data["odd"] == [None, None, None, _d(), None]
    as_json = [(e.message, e.path) for e in fast.errors or []]
    assert as_json == [(e.message, e.path) for e in slow.errors or []]
    assert [p for _, p in as_json] == [
        ["odd", 0, "name"],
        ["odd", 1, "size"],
        ["odd", 2, "tags", 1],
        ["odd", 4, "colour"],
    ]
    assert "Cannot return null for non-nullable field Item.name." in as_json[0][0]
    assert "Int cannot represent non-integer value: 'many'" in as_json[1][0]


def test_toy_lists_of_plain_objects_and_async_fields_match_the_standard_path() -> None:
    query = (
        "{ goods { name size colour tags } strict { name size } "
        "good { name later twice size } odd { later name } }"
    )
    fast = asyncio.run(_toy(LandguardExecutionContext).execute(query))
    slow = asyncio.run(_toy(StrawberryGraphQLCoreExecutionContext).execute(query))
    assert fast.data == slow.data
    assert fast.data is not None
    assert fast.data["goods"] == [
        {"name": "a", "size": 3, "colour": "GREEN", "tags": ["x", "y"]},
        {"name": "d", "size": 4, "colour": "RED", "tags": ["tu", "ple"]},  # a tuple
        {"name": "a", "size": 3, "colour": "GREEN", "tags": ["x", "y"]},
    ]
    assert fast.data["strict"] is None  # a null item of a non-null list nulls the list
    assert fast.data["good"] == {"name": "a", "later": 30, "twice": 6, "size": 3}
    assert list(fast.data["good"]) == ["name", "later", "twice", "size"]  # selection order
    assert [(e.message, e.path) for e in fast.errors or []] == [
        (e.message, e.path) for e in slow.errors or []
    ]
    assert [e.path for e in fast.errors or []] == [
        ["strict", 1],
        ["odd", 0, "name"],
        ["odd", 1, "later"],  # 10 * "many" is no Int
    ]


def test_lean_resolvers_answer_and_fail_like_strawberrys() -> None:
    """Arguments by default, by literal, by variable and null; the function's own error;
    a coercion error graphql-core raises before any resolver runs."""
    schema = _toy(LandguardExecutionContext)
    assert ("Item", "scaled") in lean_resolvers.install(schema)
    assert ("Item", "loud") not in lean_resolvers.install(schema)  # a field extension
    query = (
        "query Q($by: Int, $label: String) { good { a: scaled b: scaled(by: 5) "
        'c: scaled(by: $by, label: $label) d: scaled(label: null) e: scaled(by: -1, label: "x") }'
        " goods { scaled(by: 3) } }"
    )
    variables = {"by": 7, "label": "v"}
    fast = schema.execute_sync(query, variable_values=variables)
    slow = _toy(StrawberryGraphQLCoreExecutionContext, lean=False).execute_sync(
        query, variable_values=variables
    )
    assert fast.data == slow.data
    assert fast.data is not None
    assert fast.data["good"] == {
        "a": "scaled:6",
        "b": "scaled:15",
        "c": "v:21",
        "d": "scaled:6",
        "e": None,
    }
    nine, twelve = {"scaled": "scaled:9"}, {"scaled": "scaled:12"}
    assert fast.data["goods"] == [nine, twelve, nine]
    assert [(e.message, e.path) for e in fast.errors or []] == [
        (e.message, e.path) for e in slow.errors or []
    ]
    assert [(e.message, e.path) for e in fast.errors or []] == [
        ("negative factor -1", ["good", "e"])
    ]
    bad = schema.execute_sync("{ good { scaled(by: 2.5) } }")
    assert bad.errors and "Int cannot represent non-integer value: 2.5" in bad.errors[0].message


def test_a_list_of_plain_objects_is_completed_in_one_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`goods { name size }` never reaches graphql-core's per-item completion; `odd`,
    whose items are not all plain, does (the whole list falls back)."""
    seen: list[str] = []
    standard = StrawberryGraphQLCoreExecutionContext.complete_list_value

    def spy(self: Any, return_type: Any, details: Any, info: Any, *rest: Any) -> Any:
        seen.append(info.field_name)
        return standard(self, return_type, details, info, *rest)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "complete_list_value", spy)
    result = _toy(LandguardExecutionContext).execute_sync("{ goods { name size } odd { size } }")
    assert result.data is not None
    a, d = {"name": "a", "size": 3}, {"name": "d", "size": 4}
    assert result.data["goods"] == [a, d, a]
    assert seen == ["odd"]


def _d() -> dict[str, Any]:
    return {"name": "d", "size": 4, "colour": "RED", "tags": ["tu", "ple"], "maybe": None}


# --- 2. the real schema on the demo -----------------------------------------------------


def test_fields_with_resolvers_or_permissions_never_take_the_short_path() -> None:
    plans = plain_leaves(build_schema()._schema)
    assert ("ProjectLandRisk", "demandHa") in plans
    assert ("CountyLandGuarantee", "status") in plans  # an enum
    assert ("CountyLandGuarantee", "reasons") in plans  # [String!]!
    assert ("CountyLandGuarantee", "atRiskProjects") not in plans  # resolver with arguments
    assert ("ApprovalItem", "handlerPhone") not in plans  # sensitive: checked per caller
    assert ("CountyLandGuarantee", "conflictArea") not in plans  # an object, not a leaf
    assert not any(t.startswith("__") for t, _ in plans)  # introspection stays standard


def test_lean_resolvers_only_where_strawberrys_wrapper_does_nothing() -> None:
    schema = build_schema()
    lean = set(lean_resolvers.install(schema))
    assert ("CountyLandGuarantee", "atRiskProjects") in lean  # first: Int
    assert ("Query", "landGuarantee") in lean  # year: Int!, countyCode: String, asOf: Date
    assert ("ApprovalItem", "handlerPhone") in lean  # its role check is in the function
    assert ("Query", "auditTrail") not in lean  # an enum argument (AuditObjectType)
    assert ("Query", "parcels") not in lean  # an input object argument (ParcelFilter)
    assert ("Mutation", "allocateQuota") not in lean  # an input object argument
    assert ("Query", "horseRace") not in lean  # PeriodInput
    # independently, from the GraphQL side: a field with a resolver function is lean exactly
    # when each of its arguments is a scalar (not a list, enum or input object)
    g = schema._schema
    with_function = {
        (type_name, name)
        for type_name, type_ in g.type_map.items()
        if is_object_type(type_) and not type_name.startswith("__")
        for name, field in type_.fields.items()
        if getattr(field.extensions.get("strawberry-definition"), "base_resolver", None)
    }
    scalar_args = {
        (t, f)
        for t, f in with_function
        if all(
            is_scalar_type(get_nullable_type(a.type))
            for a in g.type_map[t].fields[f].args.values()  # type: ignore[union-attr]
        )
    }
    assert lean == scalar_args
    assert len(with_function) > len(lean) > 30


def _selection(schema: GraphQLSchema, type_: GraphQLObjectType, depth: int) -> str:
    """Every field of `type_` that needs no argument: leaves, and objects `depth` deep."""
    parts = []
    for name, field in type_.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) for a in field.args.values()):
            continue
        named = get_named_type(field.type)
        if is_leaf_type(named):
            parts.append(name)
        elif is_object_type(named) and depth > 0:
            inner = _selection(schema, named, depth - 1)
            if inner:
                parts.append(f"{name} {{ {inner} }}")
    return " ".join(parts)


ROOTS = {
    "landGuarantee(year: 2024)": "CountyLandGuarantee",
    "landGuaranteeCity(year: 2024)": "CityLandGuarantee",
    "poolAllocationPlan(year: 2024)": "PoolAllocationPlan",
    "projects(first: 40)": "ProjectConnection",
    "parcels(first: 40)": "ParcelConnection",
    "keyProjectSummary(year: 2024)": "KeyProjectSummary",
    "horseRace(period: {kind: MONTH, year: 2024, index: 9})": "HorseRace",
    "warnings(first: 30)": "WarningConnection",
    "landTaskList(year: 2024)": "CountyLandTaskList",
}


@contextmanager
def standard_execution(app: Starlette) -> Iterator[None]:
    views = [r.app for r in app.routes if isinstance(getattr(r, "app", None), LandguardGraphQL)]
    views += [
        r.endpoint for r in app.routes if isinstance(getattr(r, "endpoint", None), LandguardGraphQL)
    ]
    assert views, "the GraphQL view is mounted"
    schemas = {id(v.schema): v.schema for v in views}.values()
    for s in schemas:
        assert s.execution_context_class is LandguardExecutionContext
        s.execution_context_class = StrawberryGraphQLCoreExecutionContext
    try:
        with ExitStack() as stack:
            for s in schemas:
                stack.enter_context(lean_resolvers.strawberry_resolvers(s))
            yield
    finally:
        for s in schemas:
            s.execution_context_class = LandguardExecutionContext


@pytest.mark.parametrize("root", sorted(ROOTS))
async def test_demo_answers_are_byte_identical_to_the_standard_path(
    app: Starlette, client: httpx.AsyncClient, root: str
) -> None:
    graphql_schema = build_schema()._schema
    type_ = graphql_schema.get_type(ROOTS[root])
    assert isinstance(type_, GraphQLObjectType)
    depth = 3 if "first" in root else 2
    query = f"{{ {root} {{ {_selection(graphql_schema, type_, depth)} }} }}"
    fast = await client.post("/graphql", json={"query": query})
    with standard_execution(app):
        slow = await client.post("/graphql", json={"query": query})
    assert fast.status_code == slow.status_code == 200
    body = orjson.loads(fast.content)
    assert body.get("data") and body["data"][root.split("(")[0]], body.get("errors")
    strip = _without_request_ids
    assert strip(body) == strip(orjson.loads(slow.content))
    leaves = _count_leaves(body["data"])
    assert leaves > 40, leaves  # the answer is broad, not a trivial one


def _without_request_ids(body: dict[str, Any]) -> dict[str, Any]:
    for error in body.get("errors", []):
        error.get("extensions", {}).pop("requestId", None)
        error["message"] = error["message"].split(" (request id")[0]
    return body


def _count_leaves(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_count_leaves(v) for v in value.values())
    if isinstance(value, list):
        return (
            sum(_count_leaves(v) for v in value) if value and not isinstance(value[0], str) else 1
        )
    return 1
