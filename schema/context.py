"""The typed per-request context: a session factory (never a shared session) and loaders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from geo.actor import Actor
from geo.db import SessionFactory
from schema.loaders import Loaders


@dataclass(frozen=True)
class SchemaConfig:
    """What the GraphQL layer needs from the settings (schema/ never imports api/)."""

    max_page_size: int = 500
    default_page_size: int = 50
    geojson_precision: int = 8
    reference_date: dt.date | None = None  # fixed 'today' (demo data is a 2024 snapshot)


@dataclass
class Context:
    sessions: SessionFactory
    config: SchemaConfig
    request_id: str = "-"
    request: Any = None
    response: Any = None
    today: dt.date = field(default_factory=dt.date.today)
    actor: Actor | None = None
    """The verified principal (api/auth.py), None for an anonymous read."""
    write_sessions: Any = None
    """Transactional session factory (async_sessionmaker) for mutations; see
    schema/mutation_base.write_transaction."""

    @cached_property
    def loaders(self) -> Loaders:
        """Built per request, on first use (~20 DataLoaders a request may never touch): a
        module-level loader would cache across users forever."""
        return Loaders(self.sessions, today=self.today)
