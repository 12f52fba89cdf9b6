"""HTTP edge: health, readiness, offline GraphiQL, CORS, request ids, masked failures."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette

from api.app import alembic_head, create_app
from api.settings import Settings
from tests.conftest import url_for


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["revision"] == body["head"] == alembic_head() and body["postgis"].startswith("3.")


async def test_graphiql_is_served_offline(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "GraphiQL" in page.text
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page.text, re.I), (
        "external URL in page"
    )
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 4
    for asset in assets:
        assert asset.startswith("/")
        response = await client.get(asset)
        assert response.status_code == 200 and len(response.content) > 1000, asset


async def test_cors_preflight_for_graphql(client: httpx.AsyncClient) -> None:
    allowed = await client.options(
        "/graphql",
        headers={
            "origin": "http://localhost:5173",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,authorization",
        },
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    refused = await client.options(
        "/graphql",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    simple = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": "http://localhost:5173"}
    )
    assert simple.headers["access-control-allow-origin"] == "http://localhost:5173"


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz", headers={"x-request-id": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{16}", generated.headers["x-request-id"])


async def test_bad_json_body_is_a_400_not_a_500(client: httpx.AsyncClient) -> None:
    for body in (b'{"query": NaN}', b"{not json", b'{"query": "{ __typename }"} trailing'):
        response = await client.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, body


async def test_database_failure_is_masked() -> None:
    app: Starlette = create_app(Settings(database_url=url_for("lgtest_no_such_database")))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        ready = await c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
        response = await c.post("/graphql", json={"query": '{ project(code: "x") { code } }'})
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    assert "lgtest_no_such_database" not in response.text and "psycopg" not in response.text
