"""The Starlette application factory. Nothing connects at import time: the engine is
created in the lifespan and disposed when the server stops."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from alembic.config import Config
from alembic.script import ScriptDirectory
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.schema.exceptions import InvalidOperationTypeError

from api import bulletins, bulletins_progress, export, graphiql, ogc, tiles
from api import metrics as prom
from api.auth import Authenticate, Authenticator
from api.middleware import AccessLog, BodyLimit, RequestId, send_json_error
from api.settings import Settings
from geo.db import create_engine, read_connections, session_factory
from geo.health import database_status
from schema import error_policy
from schema.build import build_schema
from schema.context import Context, SchemaConfig
from schema.errors import ErrorCode
from schema.limits import QueryLimits

log = logging.getLogger("landguard")
ROOT = Path(__file__).resolve().parent.parent


def alembic_head() -> str | None:
    cfg = Config(str(ROOT / "alembic.ini"))
    return ScriptDirectory.from_config(cfg).get_current_head()


def _request_id(request: Any) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


class CodedHTTPError(HTTPException):
    """An HTTP-level refusal with our error code (rendered as a JSON error body)."""

    def __init__(self, status_code: int, code: ErrorCode, reason: str) -> None:
        super().__init__(status_code, reason)
        self.code = code


_HTTP_CODES = {
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.REQUEST_TOO_LARGE,
}


class LandguardGraphQL(GraphQL):  # type: ignore[type-arg]
    """Strawberry's ASGI view with our typed context, orjson, an offline GraphiQL, the
    error policy and the abuse limits (schema/limits.py)."""

    def __init__(
        self, *, config: SchemaConfig, graphiql_enabled: bool, limits: QueryLimits
    ) -> None:
        super().__init__(build_schema(limits), graphql_ide="graphiql" if graphiql_enabled else None)
        self.config = config
        self.hide_suggestions = not limits.field_suggestions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry answers HTTP-level refusals in plain text; ours are JSON with a code."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            code = getattr(exc, "code", None) or _HTTP_CODES.get(
                exc.status_code, ErrorCode.BAD_REQUEST
            )
            await send_json_error(send, exc.status_code, code, exc.reason, scope)
            return
        await response(scope, receive, send)

    def _validate_batch_request(self, request_data: Any, protocol: Any) -> None:
        raise CodedHTTPError(
            400,
            ErrorCode.BATCHING_NOT_SUPPORTED,
            "Batched requests (a JSON array of operations) are not supported; send one "
            "operation per request 不支持批量请求",
        )

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                raise CodedHTTPError(
                    exc.status_code, ErrorCode.OPERATION_NOT_ALLOWED, exc.reason
                ) from exc
            raise

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(
            sessions=request.app.state.sessions,
            config=self.config,
            request_id=_request_id(request),
            request=request,
            response=response,
            today=self.config.reference_date or dt.date.today(),
            actor=request.scope.get("state", {}).get("actor"),
            write_sessions=request.app.state.tx_sessions,
        )

    async def process_result(self, request: Any, result: Any) -> Any:
        result.errors = error_policy.apply(
            result.errors, _request_id(request), hide_suggestions=self.hide_suggestions
        )
        request.state.error_codes = [
            str((e.extensions or {}).get("code", "")) for e in result.errors or ()
        ]
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


def create_app(settings: Settings, *, freeze_gc: bool = False) -> Starlette:
    """`freeze_gc` (the server process, not tests): after startup, move everything alive
    (modules, schema, pool) out of the garbage collector's reach (gc.freeze), so its
    collections walk only the objects requests create."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url,
            pool_size=settings.pool_size,
            pool_timeout_s=settings.db_pool_timeout_s,
            statement_timeout_ms=settings.statement_timeout_ms,
            role=settings.db_role or None,
            today=settings.reference_date,
        )
        app.state.engine = engine
        app.state.sessions = read_connections(engine)
        app.state.tx_sessions = session_factory(engine)
        app.state.alembic_head = alembic_head()
        log.info(
            "landguard ready on %s:%s (%s)", settings.host, settings.port, settings.environment
        )
        if freeze_gc:
            gc.collect()
            gc.freeze()
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
    development = not settings.is_production
    limits = QueryLimits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        max_cost=settings.max_query_cost,
        default_page_size=settings.default_page_size,
        introspection=development,
        field_suggestions=development,
    )
    authenticator = Authenticator(settings.auth, production=settings.is_production)
    graphql_app = LandguardGraphQL(config=config, graphiql_enabled=development, limits=limits)
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
        *bulletins_progress.routes,
        Mount("/bulletins", routes=bulletins.routes),
    ]
    metrics = (
        prom.Metrics(max_operations=settings.max_metric_operations)
        if settings.metrics_enabled
        else None
    )
    if metrics is not None:
        routes.append(Route("/metrics", prom.endpoint))
    middleware = [
        Middleware(RequestId),
        Middleware(AccessLog, metrics=metrics),
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
        Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
        # Innermost: CORS answers preflights without it and adds its headers to a 401 too.
        Middleware(Authenticate, authenticator=authenticator),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.authenticator = authenticator
    if metrics is not None:
        metrics.watch_pool(app.state)
    return app


def app_from_env() -> Starlette:
    """Entry point for uvicorn --factory."""
    from api import logging as lg

    settings = Settings.from_env()
    lg.configure(settings.log_level)
    return create_app(settings, freeze_gc=True)
