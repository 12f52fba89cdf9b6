"""Engines and sessions. Nothing here connects at import time."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SessionFactory = async_sessionmaker[AsyncSession]


def sync_url(url: str) -> str:
    """Normalise any PostgreSQL URL to SQLAlchemy's psycopg 3 dialect."""
    parsed: URL = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    else:
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: use postgresql://"
        )
    return parsed.render_as_string(hide_password=False)


def create_engine(
    url: str,
    *,
    pool_size: int = 8,
    statement_timeout_ms: int | None = None,
    application_name: str = "landguard",
) -> AsyncEngine:
    """The async engine the API uses; psycopg's automatic prepared statements stay on."""
    options = f"-c application_name={application_name}"
    if statement_timeout_ms:
        options += f" -c statement_timeout={statement_timeout_ms}"
    return create_async_engine(
        sync_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args={"options": options},
    )


def session_factory(engine: AsyncEngine) -> SessionFactory:
    """Transactional ORM sessions: for writes and for server-side cursors (streaming)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def read_connections(engine: AsyncEngine) -> Callable[[], AsyncConnection]:
    """Reads run on autocommit connections: each statement is its own snapshot, with no
    BEGIN/ROLLBACK round trips and no ORM session bookkeeping (measured: −20 % latency
    on a nested project query). The geo/ query functions accept either kind."""
    return engine.execution_options(isolation_level="AUTOCOMMIT").connect
