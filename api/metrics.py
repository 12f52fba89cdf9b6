"""Prometheus metrics at `/metrics` (text exposition format).

One registry per application instance, so several apps in one process (the tests) never
collide. With `LANDGUARD_WORKERS` > 1 each uvicorn worker is a separate process with its
own registry and a scrape reaches whichever worker accepts it: the documented deployment
is one worker per container, one scrape target per container (see README); Prometheus's
multiprocess mode is not used.

Label cardinality is bounded: routes are a fixed set, operation names are GraphQL names
(anonymous operations → "anonymous", more than `max_operations` distinct names → "other"),
error codes are ErrorCode values (anything else → "OTHER").
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from api.graphiql import ASSETS_PATH
from schema.errors import ErrorCode

ROUTES = frozenset(
    {"/graphql", "/healthz", "/readyz", "/metrics", "/tiles", "/ogc", "/export", ASSETS_PATH}
)
_CODES = frozenset(c.value for c in ErrorCode)
ANONYMOUS = "anonymous"
OTHER = "other"
NOT_GRAPHQL = ""  # operation label of the non-GraphQL routes
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def route_label(path: str) -> str:
    """The route as a bounded label: "/", one of ROUTES by its first segment, or "other"."""
    if path == "/":
        return "/"
    head = "/" + path.lstrip("/").split("/", 1)[0]
    return head if head in ROUTES else OTHER


class _PoolCollector(Collector):
    """Reads the SQLAlchemy QueuePool of the app's engine at scrape time."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = getattr(self.state, "engine", None)
        if engine is None:  # before the lifespan started / after it stopped
            return
        pool = engine.sync_engine.pool
        checked_out, idle = pool.checkedout(), pool.checkedin()
        figures = {
            "size": ("Configured pool size (connections kept open)", pool.size()),
            "checked_out": ("Connections in use by a request", checked_out),
            "idle": ("Open connections waiting in the pool", idle),
            "overflow": ("Connections open beyond the pool size", max(pool.overflow(), 0)),
        }
        for name, (doc, value) in figures.items():
            yield GaugeMetricFamily(f"landguard_db_pool_{name}", doc, value=value)


class Metrics:
    def __init__(self, *, max_operations: int) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.max_operations = max_operations
        self._operations: set[str] = set()
        self._lock = threading.Lock()
        r = self.registry
        self.requests = Counter(
            "landguard_http_requests",
            "HTTP requests by route, method, status and GraphQL operation",
            ["route", "method", "status", "operation"],
            registry=r,
        )
        self.latency = Histogram(
            "landguard_http_request_duration_seconds",
            "HTTP request latency by route and GraphQL operation",
            ["route", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "landguard_graphql_errors",
            "GraphQL (and HTTP-level) errors returned to clients, by code",
            ["code"],
            registry=r,
        )

    def watch_pool(self, app_state: Any) -> None:
        """Report the pool of `app_state.engine` (set by the lifespan) at each scrape."""
        self.registry.register(_PoolCollector(app_state))

    def operation_label(self, name: str | None) -> str:
        if not name:
            return ANONYMOUS
        with self._lock:
            if name in self._operations:
                return name
            if len(self._operations) < self.max_operations:
                self._operations.add(name)
                return name
        return OTHER

    def observe(
        self,
        *,
        path: str,
        method: str,
        status: int,
        seconds: float,
        operation: str | None,
        error_codes: Iterable[str],
    ) -> None:
        route = route_label(path)
        op = self.operation_label(operation) if route == "/graphql" else NOT_GRAPHQL
        method = method if method in ("GET", "POST", "HEAD", "OPTIONS") else OTHER
        self.requests.labels(route, method, str(status), op).inc()
        self.latency.labels(route, op).observe(seconds)
        for code in error_codes:
            self.errors.labels(code if code in _CODES else "OTHER").inc()

    def exposition(self) -> bytes:
        return _generate_latest(self.registry)


async def endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
