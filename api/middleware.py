"""Pure ASGI middleware (no BaseHTTPMiddleware overhead): request ids, the access log with
metrics, and the request body size limit."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logging import request_id_var, request_state_var
from api.metrics import Metrics
from schema.errors import ErrorCode

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
access_log = logging.getLogger("landguard.access")


async def send_json_error(
    send: Send, status: int, code: ErrorCode, message: str, scope: Scope | None = None
) -> None:
    """A GraphQL-shaped JSON error body for refusals made outside GraphQL execution."""
    if scope is not None:
        scope.setdefault("state", {})["error_codes"] = [code.value]
    body = orjson.dumps({"errors": [{"message": message, "extensions": {"code": code.value}}]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestId:
    """Take a sane X-Request-ID from the client or make one; echo it in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex[:16]
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        token = request_id_var.set(rid)
        state_token = request_state_var.set(state)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_state_var.reset(state_token)
            request_id_var.reset(token)


class AccessLog:
    """One log line per request (method, path, status, duration, GraphQL operation, error
    codes, principal) and the request metrics. Sits inside RequestId."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server sends if the app raises before responding

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            seconds = time.perf_counter() - started
            state: dict[str, Any] = scope.get("state", {})
            codes = list(state.get("error_codes", ()))
            operation = state.get("graphql_operation")
            access_log.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "fields": {
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "operation": operation,
                        "cost": state.get("graphql_cost"),
                        "error_codes": codes,
                    }
                },
            )
            if self.metrics is not None:
                self.metrics.observe(
                    path=scope["path"],
                    method=scope["method"],
                    status=status,
                    seconds=seconds,
                    operation=operation,
                    error_codes=codes,
                )


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413 REQUEST_TOO_LARGE.

    A declared Content-Length over the limit is refused before reading anything; otherwise
    the body is read from the ASGI stream and counted as it arrives (a chunked upload or a
    lying Content-Length cannot get past), then replayed to the app."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, scope: Scope, send: Send) -> None:
        await send_json_error(
            send,
            413,
            ErrorCode.REQUEST_TOO_LARGE,
            f"The request body is larger than {self.max_bytes} bytes 请求体过大",
            scope,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
