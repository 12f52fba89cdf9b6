"""Abuse limits and error hygiene: every limit refuses with its code before any SQL runs,
limits at the cap pass, the cost estimate is reported and equals a hand computation,
HTTP-level refusals are JSON with a code, production mode hides the schema, statement
timeouts are typed, and /metrics counts exactly what was sent."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
from graphql import parse
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, event, text
from starlette.applications import Starlette

from api.app import create_app
from api.logging import JsonFormatter, request_id_var, request_state_var
from api.metrics import ANONYMOUS, OTHER, Metrics, route_label
from api.settings import Settings, default_pool_size
from geo.actor import Actor, Role
from schema.document_memo import COSTS, MISSING, VALIDATIONS, DocumentMemo
from tests.conftest import StatementCounter, make_settings

MIB = 1024 * 1024


@asynccontextmanager
async def serve(url: str, **overrides: Any) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = create_app(make_settings(url, **overrides))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        yield app, c


@contextmanager
def counting(app: Starlette) -> Iterator[StatementCounter]:
    """The conftest `count_sql` helper, for an app other than the session one."""
    counter = StatementCounter()
    engine = app.state.engine.sync_engine

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counter.statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def post(c: httpx.AsyncClient, query: str, **extra: Any) -> dict[str, Any]:
    response = await c.post("/graphql", json={"query": query, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def chain(levels: int) -> str:
    """project → parcels → project … nested until the innermost `code` is field `levels`."""
    names = ['project(code: "P")'] + ["parcels", "project"] * levels
    inner = "code"
    for name in reversed(names[: levels - 1]):
        inner = f"{name} {{ {inner} }}"
    return "{ " + inner + " }"


def aliases(n: int, field: str = 'adminArea(code: "x") { code }') -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(n)) + " }"


def tokens(n: int) -> str:
    """A document of exactly n lexical tokens: `{`, n-2 × `__typename`, `}`."""
    return "{ " + "__typename " * (n - 2) + "}"


# --- each default limit refuses before any SQL -------------------------------------------

REFUSED = [
    pytest.param(chain(13), "QUERY_TOO_DEEP", id="depth-13"),
    pytest.param(aliases(101), "TOO_MANY_ALIASES", id="aliases-101"),
    pytest.param(tokens(5001), "TOO_MANY_TOKENS", id="tokens-5001"),
    pytest.param("#pad\n" * 6000 + "{ __typename }", "TOO_MANY_TOKENS", id="comment-padding"),
    pytest.param(
        # 3 × featureCollection(first: 10000) = 30000 > 20000 (a leaf with `first`)
        "{ "
        + " ".join(f"f{i}: featureCollection(layer: PARCELS, first: 10000)" for i in range(3))
        + " }",
        "QUERY_TOO_COMPLEX",
        id="cost-30000",
    ),
    pytest.param(
        "{ parcels(first: 1000000) { edges { node { code } } } }",
        "QUERY_TOO_COMPLEX",
        id="cost-huge-first",
    ),
    pytest.param(
        # fragments spreading fragments twice, 20 levels: 2^20 leaf selections if expanded
        "{ ...F0 } "
        + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(20))
        + " fragment F20 on Query { __typename }",
        "QUERY_TOO_COMPLEX",
        id="fragment-bomb",
    ),
]


@pytest.mark.parametrize(("query", "code"), REFUSED)
async def test_default_limits_refuse_before_any_sql(
    client: httpx.AsyncClient, count_sql: Callable[[], Any], query: str, code: str
) -> None:
    with count_sql() as sql:
        body = await post(client, query)
    assert codes(body) == [code], body
    assert body.get("data") is None
    assert sql.count == 0, sql.statements


# --- at the cap passes, one over refuses (an app with tight limits) ----------------------


@pytest.fixture(scope="module")
async def tight(demo_db_url: str) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    async with serve(
        demo_db_url, max_query_depth=4, max_aliases=3, max_tokens=40, max_query_cost=100
    ) as pair:
        yield pair


@pytest.mark.parametrize(
    ("ok", "refused", "code"),
    [
        (chain(4), chain(5), "QUERY_TOO_DEEP"),
        (aliases(3, "__typename"), aliases(4, "__typename"), "TOO_MANY_ALIASES"),
        (tokens(40), tokens(41), "TOO_MANY_TOKENS"),
        # projects 1 + totalCount 1 + edges N + node N: N = 49 → 100, N = 50 → 102
        (
            "{ projects(first: 49) { totalCount edges { node { code } } } }",
            "{ projects(first: 50) { totalCount edges { node { code } } } }",
            "QUERY_TOO_COMPLEX",
        ),
    ],
    ids=["depth", "aliases", "tokens", "cost"],
)
async def test_at_the_cap_passes_one_over_is_refused(
    tight: tuple[Starlette, httpx.AsyncClient], ok: str, refused: str, code: str
) -> None:
    app, c = tight
    passed = await post(c, ok)
    assert "errors" not in passed, passed
    with counting(app) as sql:
        body = await post(c, refused)
    assert codes(body) == [code] and sql.count == 0, (body, sql.statements)


async def test_depth_counts_through_fragments(
    tight: tuple[Starlette, httpx.AsyncClient],
) -> None:
    _, c = tight
    query = (
        '{ project(code: "P") { ...A } } fragment A on Project { parcels { ...B } } '
        "fragment B on Parcel { project { parcels { code } } }"
    )  # project 1, parcels 2, project 3, parcels 4, code 5
    assert codes(await post(c, query)) == ["QUERY_TOO_DEEP"]


# --- the cost estimate ------------------------------------------------------------------


async def test_cost_is_reported_and_matches_the_hand_computation(gql: Any) -> None:
    # projects 1; totalCount 1 (LEAF_COST); edges first=10 → 10; node 1 per edge → 10;
    # parcels: no argument, nominal DEFAULT_LIST_SIZE 10 per project × 10 → 100.
    # 1 + 1 + 10 + 10 + 100 = 122
    q1 = "{ projects(first: 10) { totalCount edges { node { code parcels { code } } } } }"
    body = await gql(q1)
    assert "errors" not in body
    assert body["extensions"]["cost"] == {"estimated": 122, "limit": 20000}

    # landStock: nominal 7 counties → 7; county 1 each → 7;
    # approvedNotSupplied 7; its parcels sized by listLimit $n = 5 → 5 × 7 = 35;
    # each parcel's `parcel` object → 35 (count, status: free leaves);
    # idle 7; its parcels 35; adminAreas nominal 8; geometry LEAF_COST 1 × 8 = 8.
    # 7 + 7 + 7 + 35 + 35 + 7 + 35 + 8 + 8 = 149
    q2 = """
      query Stock($n: Int!) {
        landStock(listLimit: $n) {
          county { name }
          approvedNotSupplied { count parcels { status parcel { code } } }
          idle { count parcels { status } }
        }
        adminAreas { code geometry }
      }"""
    body = await gql(q2, {"n": 5})
    assert "errors" not in body, body
    assert body["extensions"]["cost"] == {"estimated": 149, "limit": 20000}
    # the estimate bounds what came back
    stock = body["data"]["landStock"]
    assert len(stock) <= 7 and all(len(s["approvedNotSupplied"]["parcels"]) <= 5 for s in stock)


async def test_repeated_documents_reuse_validation_and_cost_but_never_across_variables(
    gql: Any,
) -> None:
    """schema/document_memo.py: the same query text is validated once and its cost
    estimated once per variables; other variables get their own (hand-computed) cost, and
    a refusal stays a refusal when it comes from the memo."""
    q = "query P($n: Int) { projects(first: $n) { totalCount edges { node { code } } } }"
    before_v, before_c = len(VALIDATIONS), len(COSTS)
    # 1 (projects) + 1 (totalCount) + n (edges) + n (node) = 2 + 2n
    for n, cost in ((3, 8), (3, 8), (40, 82), (3, 8)):
        body = await gql(q, {"n": n})
        assert "errors" not in body, body
        assert body["extensions"]["cost"]["estimated"] == cost
        assert len(body["data"]["projects"]["edges"]) == n
    assert len(VALIDATIONS) == min(before_v + 1, VALIDATIONS.maxsize)
    assert len(COSTS) == min(before_c + 2, COSTS.maxsize)
    deep = chain(13)  # one level past the default maximum of 12
    first, again = await gql(deep), await gql(deep)
    assert codes(first) == codes(again) == ["QUERY_TOO_DEEP"]


def test_document_memo_finds_entries_by_identity_and_evicts_the_oldest() -> None:
    memo = DocumentMemo(maxsize=2)
    a, a_again, b = parse("{ a }"), parse("{ a }"), parse("{ b }")
    memo.put(a, "k", 1)
    assert memo.get(a, "k") == 1
    assert memo.get(a_again, "k") is MISSING  # equal text, another object: not found
    assert memo.get(a, "other key") is MISSING
    memo.put(b, "k", 2)
    memo.get(a, "k")  # a is now the most recent
    memo.put(a_again, "k", 3)  # evicts b
    assert (memo.get(a, "k"), memo.get(a_again, "k"), memo.get(b, "k")) == (1, 3, MISSING)
    assert len(memo) == 2


async def test_connections_without_first_use_the_default_page_size(gql: Any) -> None:
    # parcels 1 + edges 50 (default page size) + node 50 + geometry 50 = 151
    body = await gql("{ parcels { edges { node { geometry } } } }")
    assert body["extensions"]["cost"]["estimated"] == 151


async def test_at_risk_projects_first_is_bounded(gql: Any, count_sql: Callable[[], Any]) -> None:
    body = await gql("{ landGuarantee(year: 2024) { atRiskProjects(first: 501) { tier } } }")
    assert "PAGE_TOO_LARGE" in codes(body)
    body = await gql("{ landGuarantee(year: 2024) { atRiskProjects(first: 2) { tier } } }")
    assert "errors" not in body and all(
        len(c["atRiskProjects"]) <= 2 for c in body["data"]["landGuarantee"]
    )


# --- HTTP-level refusals -----------------------------------------------------------------


async def test_batching_is_refused_with_a_json_400(
    client: httpx.AsyncClient, count_sql: Callable[[], Any]
) -> None:
    with count_sql() as sql:
        response = await client.post(
            "/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}]
        )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert codes(response.json()) == ["BATCHING_NOT_SUPPORTED"] and sql.count == 0


def padded(size: int) -> bytes:
    """A valid GraphQL JSON body of exactly `size` bytes (whitespace is not a token)."""
    head, tail = b'{"query": "{ __typename', b' }"}'
    return head + b" " * (size - len(head) - len(tail)) + tail


async def test_body_size_limit(client: httpx.AsyncClient, count_sql: Callable[[], Any]) -> None:
    headers = {"content-type": "application/json"}
    ok = await client.post("/graphql", content=padded(MIB), headers=headers)
    assert ok.status_code == 200 and ok.json()["data"] == {"__typename": "Query"}

    async def chunks(body: bytes) -> AsyncIterator[bytes]:
        for i in range(0, len(body), 64 * 1024):
            yield body[i : i + 64 * 1024]

    with count_sql() as sql:
        declared = await client.post("/graphql", content=padded(MIB + 1), headers=headers)
        chunked = await client.post("/graphql", content=chunks(padded(MIB + 1)), headers=headers)
    assert "content-length" not in chunked.request.headers
    assert chunked.request.headers["transfer-encoding"] == "chunked"
    for response in (declared, chunked):
        assert response.status_code == 413
        assert codes(response.json()) == ["REQUEST_TOO_LARGE"]
    assert sql.count == 0
    streamed_ok = await client.post("/graphql", content=chunks(padded(MIB)), headers=headers)
    assert streamed_ok.status_code == 200


async def test_mutations_are_refused_over_get(client: httpx.AsyncClient) -> None:
    # The schema has no Mutation type yet: GET refuses a mutation by its operation type
    # before validation; over POST the same document reaches validation instead.
    refused = await client.get("/graphql", params={"query": "mutation { noSuchThing }"})
    assert refused.status_code == 400 and codes(refused.json()) == ["OPERATION_NOT_ALLOWED"]
    over_post = await post(client, "mutation { noSuchThing }")
    assert codes(over_post) == ["GRAPHQL_VALIDATION_FAILED"]
    query = await client.get("/graphql", params={"query": "{ __typename }"})
    assert query.status_code == 200 and query.json()["data"] == {"__typename": "Query"}


# --- production vs development -----------------------------------------------------------

INTROSPECTION = "{ __schema { queryType { name } } }"
TYPO = "{ projcts(first: 1) { totalCount } }"
ENUM_TYPO = "{ parcels(filter: {landClass: FARMLAN}) { totalCount } }"


async def test_development_keeps_introspection_suggestions_and_graphiql(
    client: httpx.AsyncClient,
) -> None:
    body = await post(client, INTROSPECTION)
    assert body["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    typo = await post(client, TYPO)
    assert "Did you mean 'projects'" in typo["errors"][0]["message"]
    enum = await post(client, ENUM_TYPO)
    assert "Did you mean the enum value 'FARMLAND'" in enum["errors"][0]["message"]
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "GraphiQL" in page.text


async def test_production_hides_introspection_suggestions_and_graphiql(
    demo_db_url: str,
) -> None:
    async with serve(demo_db_url, environment="production") as (app, c):
        with counting(app) as sql:
            body = await post(c, INTROSPECTION)
            typo = await post(c, TYPO)
        enum = await post(c, ENUM_TYPO)
        ok = await post(c, "{ __typename projects(first: 1) { totalCount } }")
        page = await c.get("/graphql", headers={"accept": "text/html"})
    assert body.get("data") is None and set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "introspection" in body["errors"][0]["message"].lower()
    assert codes(typo) == ["GRAPHQL_VALIDATION_FAILED"]
    message = typo["errors"][0]["message"]
    assert "projcts" in message and "Did you mean" not in message and "projects" not in message
    assert sql.count == 0
    assert enum["errors"] and all("Did you mean" not in e["message"] for e in enum["errors"])
    assert all("FARMLAND" not in e["message"] for e in enum["errors"])
    assert "errors" not in ok and ok["data"]["__typename"] == "Query"
    assert page.status_code == 404 and codes(page.json()) == ["NOT_FOUND"]
    assert "GraphiQL" not in page.text


# --- statement timeout -------------------------------------------------------------------


async def test_statement_timeout_is_a_typed_error_and_leaks_nothing(
    fresh_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A lock held elsewhere makes the API's SELECT wait; statement_timeout cuts it."""
    locker = create_engine(fresh_db_url)
    try:
        with locker.connect() as conn:
            conn.execute(text("BEGIN; LOCK TABLE project IN ACCESS EXCLUSIVE MODE"))
            async with serve(fresh_db_url, statement_timeout_ms=300) as (_, c):
                with caplog.at_level(logging.WARNING, logger="landguard.graphql"):
                    response = await c.post(
                        "/graphql", json={"query": '{ project(code: "x") { code } }'}
                    )
            conn.execute(text("ROLLBACK"))
    finally:
        locker.dispose()
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TIMEOUT"
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    for leak in ("canceling statement", "statement_timeout", "psycopg", "SELECT", "Traceback"):
        assert leak.lower() not in response.text.lower(), leak
    timeouts = [r for r in caplog.records if "statement timeout" in r.getMessage()]
    assert len(timeouts) == 1 and timeouts[0].exc_info is None


# --- connection pool ---------------------------------------------------------------------


async def test_busy_pool_is_a_typed_retryable_error_then_recovers(
    demo_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """One connection per worker, held by someone else: the request waits the pool timeout
    (0.3 s here), then gets DATABASE_BUSY; once the connection is back, the same request
    answers."""
    query = {"query": "{ projects(first: 1, filter: {isKey: true}) { totalCount } }"}
    async with serve(demo_db_url, db_pool_size=1, db_pool_timeout_s=0.3) as (app, c):
        pool = app.state.engine.sync_engine.pool
        assert pool.size() == 1
        held = await app.state.engine.connect()
        try:
            with caplog.at_level(logging.WARNING, logger="landguard.graphql"):
                busy = await c.post("/graphql", json=query)
        finally:
            await held.close()
        again = await c.post("/graphql", json=query)
    assert busy.status_code == 200
    error = busy.json()["errors"][0]
    assert error["extensions"] == {
        "code": "DATABASE_BUSY",
        "retryable": True,
        "requestId": busy.headers["x-request-id"],
    }
    for leak in ("QueuePool", "sqlalche", "Traceback", "overflow"):
        assert leak.lower() not in busy.text.lower(), leak
    assert [r.exc_info for r in caplog.records if "no free database" in r.getMessage()] == [None]
    assert again.status_code == 200 and "errors" not in again.json()
    assert again.json()["data"]["projects"]["totalCount"] == 300


def test_pool_size_defaults_to_four_per_core_over_the_workers() -> None:
    assert default_pool_size(workers=2, cores=2) == 4
    assert default_pool_size(workers=1, cores=2) == 8
    assert default_pool_size(workers=3, cores=2) == 2  # 8 // 3
    assert default_pool_size(workers=8, cores=2) == 2  # never fewer than 2
    assert default_pool_size(workers=2, cores=16) == 32
    env = {"DATABASE_URL": "postgresql://x/y", "LANDGUARD_WORKERS": "2"}
    assert Settings.from_env(env).pool_size == default_pool_size(2)
    explicit = Settings.from_env({**env, "LANDGUARD_DB_POOL_SIZE": "9"})
    assert explicit.pool_size == 9 and explicit.db_pool_timeout_s == 10.0
    short = Settings.from_env({**env, "LANDGUARD_DB_POOL_TIMEOUT_S": "2.5"})
    assert short.db_pool_timeout_s == 2.5


# --- metrics -----------------------------------------------------------------------------


async def scrape(c: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await c.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def sample(data: dict[Any, float], name: str, **labels: str) -> float:
    return data.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_count_requests_operations_and_error_codes(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    probe = {"route": "/graphql", "method": "POST", "status": "200"}
    before = await scrape(client)
    for _ in range(3):
        await post(client, "query MetricsProbe { __typename }")
    await post(client, "{ __typename }")
    for _ in range(2):
        await post(client, "query BigPage { projects(first: 501) { totalCount } }")
    await client.get("/healthz")
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    total = "landguard_http_requests_total"
    assert delta(total, **probe, operation="MetricsProbe") == 3
    assert delta(total, **probe, operation=ANONYMOUS) == 1
    assert delta(total, **probe, operation="BigPage") == 2
    assert delta(total, route="/healthz", method="GET", status="200", operation="") == 1
    # the first scrape itself was counted once it had answered
    assert delta(total, route="/metrics", method="GET", status="200", operation="") == 1
    assert delta("landguard_graphql_errors_total", code="PAGE_TOO_LARGE") == 2
    hist = "landguard_http_request_duration_seconds_count"
    assert delta(hist, route="/graphql", operation="MetricsProbe") == 3
    pool = app.state.engine.sync_engine.pool
    # no LANDGUARD_DB_POOL_SIZE in the test settings: four per core over one worker
    assert (
        sample(after, "landguard_db_pool_size") == pool.size() == max(2, 4 * (os.cpu_count() or 1))
    )
    assert sample(after, "landguard_db_pool_checked_out") == 0
    assert sample(after, "landguard_db_pool_idle") >= 1
    assert ("landguard_db_pool_overflow", frozenset()) in after


def test_metric_labels_are_bounded() -> None:
    m = Metrics(max_operations=2)
    assert [m.operation_label(n) for n in ("A", "B", "C", "A", None, "")] == [
        "A",
        "B",
        OTHER,
        "A",
        ANONYMOUS,
        ANONYMOUS,
    ]
    assert route_label("/ogc/collections/parcels/items") == "/ogc"
    assert route_label("/wp-admin/setup.php") == OTHER and route_label("/") == "/"


async def test_metrics_can_be_disabled(demo_db_url: str) -> None:
    async with serve(demo_db_url, metrics_enabled=False) as (_, c):
        assert (await c.get("/metrics")).status_code == 404


# --- logs --------------------------------------------------------------------------------


async def test_one_access_line_per_request_with_operation_and_codes(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="landguard.access"):
        response = await client.post(
            "/graphql",
            json={"query": "query Big { projects(first: 501) { totalCount } }"},
            headers={"x-request-id": "acc-1"},
        )
    lines = [r for r in caplog.records if r.name == "landguard.access"]
    assert len(lines) == 1
    fields = lines[0].fields  # type: ignore[attr-defined]
    assert fields["operation"] == "Big" and fields["status"] == response.status_code == 200
    assert fields["error_codes"] == ["PAGE_TOO_LARGE"] and fields["duration_ms"] >= 0


def test_json_log_lines_carry_request_id_and_principal() -> None:
    record = logging.LogRecord("landguard.x", logging.INFO, __file__, 1, "hello", None, None)
    record.fields = {"status": 200}
    rid, state = (
        request_id_var.set("req-9"),
        request_state_var.set({"actor": Actor(sub="officer-7", role=Role.COUNTY_OFFICER)}),
    )
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_state_var.reset(state)
        request_id_var.reset(rid)
    assert line["request_id"] == "req-9" and line["msg"] == "hello" and line["status"] == 200
    assert line["sub"] == "officer-7" and line["role"] == "COUNTY_OFFICER"
    anonymous = json.loads(JsonFormatter().format(record))
    assert "sub" not in anonymous and anonymous["request_id"] == "-"


def test_settings_read_every_limit_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://x/y",
            "LANDGUARD_MAX_QUERY_DEPTH": "7",
            "LANDGUARD_MAX_ALIASES": "8",
            "LANDGUARD_MAX_TOKENS": "900",
            "LANDGUARD_MAX_QUERY_COST": "1234",
            "LANDGUARD_MAX_BODY_BYTES": "2048",
            "LANDGUARD_METRICS_ENABLED": "0",
            "LANDGUARD_MAX_METRIC_OPERATIONS": "5",
        }
    )
    assert (s.max_query_depth, s.max_aliases, s.max_tokens, s.max_query_cost) == (7, 8, 900, 1234)
    assert (s.max_body_bytes, s.metrics_enabled, s.max_metric_operations) == (2048, False, 5)
    d = Settings.from_env({"DATABASE_URL": "postgresql://x/y"})
    assert (d.max_query_depth, d.max_aliases, d.max_tokens, d.max_query_cost) == (
        12,
        100,
        5000,
        20000,
    )
    assert d.max_body_bytes == MIB and d.metrics_enabled
