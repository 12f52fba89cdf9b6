"""The Starlette application factory. Nothing connects at import time: the engine is
created in the lifespan and disposed when the server stops."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from alembic.config import Config
from alembic.script import ScriptDirectory
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from strawberry.asgi import GraphQL

from api import export, graphiql, ogc, tiles
from api.middleware import RequestId
from api.settings import Settings
from geo.db import create_engine, read_connections, session_factory
from geo.health import database_status
from schema import error_policy
from schema.build import build_schema
from schema.context import Context, SchemaConfig

log = logging.getLogger("landguard")
ROOT = Path(__file__).resolve().parent.parent


def alembic_head() -> str | None:
    cfg = Config(str(ROOT / "alembic.ini"))
    return ScriptDirectory.from_config(cfg).get_current_head()


def _request_id(request: Any) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


class LandguardGraphQL(GraphQL):  # type: ignore[type-arg]
    """Strawberry's ASGI view with our typed context, orjson and an offline GraphiQL."""

    def __init__(self, *, config: SchemaConfig, graphiql_enabled: bool) -> None:
        super().__init__(build_schema(), graphql_ide="graphiql" if graphiql_enabled else None)
        self.config = config

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(
            sessions=request.app.state.sessions,
            config=self.config,
            request_id=_request_id(request),
            request=request,
            response=response,
            today=self.config.reference_date or dt.date.today(),
        )

    async def process_result(self, request: Any, result: Any) -> Any:
        result.errors = error_policy.apply(result.errors, _request_id(request))
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """orjson refuses the NaN/Infinity tokens Python's json.loads lets through; its
        JSONDecodeError subclasses json's, so Strawberry still answers 400."""
        return orjson.loads(data)

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return HTMLResponse(graphiql.page_html())


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    head = request.app.state.alembic_head
    try:
        async with request.app.state.sessions() as session:
            postgis, revision = await database_status(session)
    except Exception as exc:  # any failure to reach the database means "not ready"
        log.warning("readiness check failed: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    ready = revision == head
    body = {
        "status": "ready" if ready else "migrations pending",
        "database": "ok",
        "postgis": postgis,
        "revision": revision,
        "head": head,
    }
    return JSONResponse(body, status_code=200 if ready else 503)


async def index(request: Request) -> Response:
    return JSONResponse(
        {
            "name": "landguard",
            "description": "晋城市项目建设“1355”推进机制 用地保障 GraphQL + PostGIS API",
            "graphql": "/graphql",
            "health": "/healthz",
            "ready": "/readyz",
        }
    )


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            statement_timeout_ms=settings.statement_timeout_ms,
            role=settings.db_role or None,
        )
        app.state.engine = engine
        app.state.sessions = read_connections(engine)
        app.state.tx_sessions = session_factory(engine)
        app.state.alembic_head = alembic_head()
        log.info(
            "landguard ready on %s:%s (%s)", settings.host, settings.port, settings.environment
        )
        try:
            yield
        finally:
            await engine.dispose()

    config = SchemaConfig(
        max_page_size=settings.max_page_size,
        default_page_size=settings.default_page_size,
        geojson_precision=settings.geojson_precision,
        reference_date=settings.reference_date,
    )
    graphql_app = LandguardGraphQL(config=config, graphiql_enabled=not settings.is_production)
    routes = [
        Route("/", index),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/graphql", graphql_app, methods=["GET", "POST"]),
        Mount(graphiql.ASSETS_PATH, StaticFiles(directory=graphiql.ASSETS_DIR, check_dir=False)),
        Route("/tiles", tiles.index, name="tiles_root"),
        Mount("/tiles", routes=tiles.routes),
        Mount("/ogc", routes=ogc.routes),
        Mount("/export", routes=export.routes),
    ]
    middleware = [
        Middleware(RequestId),
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["authorization", "content-type", "x-request-id", "if-none-match"],
            expose_headers=[
                "etag",
                "x-request-id",
                "content-crs",
                "content-disposition",
                "x-tile-status",
                "x-tile-min-zoom",
            ],
            max_age=600,
        ),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.settings = settings
    return app


def app_from_env() -> Starlette:
    """Entry point for uvicorn --factory."""
    from api import logging as lg

    settings = Settings.from_env()
    lg.configure(settings.log_level)
    return create_app(settings)
