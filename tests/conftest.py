"""Test fixtures against a real PostgreSQL + PostGIS server (never SQLite, never mocks).

DATABASE_URL names a server where we may create databases (make test points it at the
embedded cluster). One template database is migrated with Alembic and loaded with the
demo set once per session; read-only tests share one clone of it, tests that write get
their own clone (CREATE DATABASE … TEMPLATE), so each test is isolated.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

from api.app import create_app
from api.cli import migrate
from api.settings import Settings
from geo.db import sync_url

PREFIX = f"lgtest_{os.getpid()}"


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.exit("DATABASE_URL is not set: run the suite with `make test`", returncode=2)
    return sync_url(url)


def url_for(database: str) -> str:
    return make_url(_server_url()).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def admin_engine() -> Iterator[Engine]:
    engine = create_engine(_server_url(), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def create_database(admin: Engine, name: str, template: str | None = None) -> str:
    sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    for attempt in range(20):
        try:
            with admin.connect() as conn:
                conn.execute(text(sql))
            break
        except Exception as exc:  # the template may still have a closing connection
            if "being accessed by other users" not in str(exc) or attempt == 19:
                raise
            time.sleep(0.1)
    if template is None:
        engine = create_engine(url_for(name))
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        engine.dispose()
    return url_for(name)


def drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def template_db(admin_engine: Engine) -> Iterator[str]:
    """Name of a database migrated to head and loaded with the demo set (seed 2024)."""
    from geo.seed.demo import load_demo

    name = f"{PREFIX}_tpl"
    drop_database(admin_engine, name)
    url = create_database(admin_engine, name)
    migrate(Settings(database_url=url))
    engine = create_engine(url)
    with engine.begin() as conn:
        load_demo(conn, seed=2024)
    engine.dispose()
    yield name
    drop_database(admin_engine, name)


@pytest.fixture(scope="session")
def demo_db_url(admin_engine: Engine, template_db: str) -> Iterator[str]:
    """A clone of the demo database shared by read-only tests."""
    name = f"{PREFIX}_ro"
    url = create_database(admin_engine, name, template=template_db)
    yield url
    drop_database(admin_engine, name)


@pytest.fixture(scope="session")
def demo_sync_engine(demo_db_url: str) -> Iterator[Engine]:
    engine = create_engine(demo_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def fresh_db_url(admin_engine: Engine, template_db: str) -> Iterator[str]:
    """A private clone of the demo database for a test that writes."""
    name = f"{PREFIX}_{uuid.uuid4().hex[:8]}"
    url = create_database(admin_engine, name, template=template_db)
    yield url
    drop_database(admin_engine, name)


@pytest.fixture
def empty_db_url(admin_engine: Engine) -> Iterator[str]:
    """An empty database with only PostGIS, for migration tests."""
    name = f"{PREFIX}_{uuid.uuid4().hex[:8]}"
    url = create_database(admin_engine, name)
    yield url
    drop_database(admin_engine, name)


def make_settings(url: str, **overrides: Any) -> Settings:
    return Settings(database_url=url, **overrides)


@pytest.fixture(scope="session")
async def app(demo_db_url: str) -> AsyncIterator[Starlette]:
    application = create_app(make_settings(demo_db_url))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


GQL = Callable[..., Any]


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GQL:
    """POST a GraphQL operation; return the decoded JSON body (data and errors)."""

    async def run(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return run


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_sql(app: Starlette) -> Callable[[], Any]:
    """Context manager counting the SQL statements the app's engine sends."""

    @contextmanager
    def counting() -> Iterator[StatementCounter]:
        counter = StatementCounter()
        engine = app.state.engine.sync_engine

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            counter.statements.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting
