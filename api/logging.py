"""JSON log lines carrying the request id and the principal, so one failure is one
greppable record."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
request_state_var: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "request_state", default=None
)
"""The ASGI scope's `state` dict of the current request: the principal is read from it
lazily (`actor`, set by authentication), so lines logged after authentication carry it."""


def principal(state: dict[str, Any] | None) -> dict[str, str]:
    """`sub` and `role` of the request's actor, when there is one. Read defensively: the
    actor is any object with those attributes (geo.actor.Actor)."""
    actor = (state or {}).get("actor")
    if actor is None:
        return {}
    out: dict[str, str] = {}
    sub = getattr(actor, "sub", None)
    if sub is not None:
        out["sub"] = str(sub)
    role = getattr(actor, "role", None)
    if role is not None:
        out["role"] = str(getattr(role, "value", role))
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
            **principal(request_state_var.get()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
