"""Engines and sessions. Nothing here connects at import time."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import orjson
from psycopg import AsyncRawCursor
from psycopg.rows import namedtuple_row
from psycopg.types.json import set_json_loads
from psycopg.types.numeric import FloatLoader
from sqlalchemy import URL, event, make_url
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
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
    max_overflow: int = 0,
    pool_timeout_s: float = 10.0,
    statement_timeout_ms: int | None = None,
    application_name: str = "landguard",
    role: str | None = None,
    today: dt.date | None = None,
) -> AsyncEngine:
    """The async engine the API uses; psycopg's automatic prepared statements stay on.

    `role`: every new pooled connection runs `SET ROLE <role>` first, so the API works as
    a role that does not own the tables and row-level security applies to it (migration
    0004, geo/actor.API_DB_ROLE). None or "" keeps the login role.

    `today`: the reference date (LANDGUARD_REFERENCE_DATE) as the connection setting
    `landguard.today`, which SQL that has no request parameters reads as its "today" (the
    warnings map layer, geo/warnings.LAYER_TODAY); None leaves it unset (current_date).

    `pool_size` connections at most (plus `max_overflow`, opened and closed on demand); a
    request that finds them all busy waits up to `pool_timeout_s`, then fails with
    sqlalchemy.exc.TimeoutError (typed DATABASE_BUSY by schema/error_policy)."""
    options = f"-c application_name={application_name}"
    if today is not None:
        options += f" -c landguard.today={today.isoformat()}"
    if statement_timeout_ms:
        options += f" -c statement_timeout={statement_timeout_ms}"
    engine = create_async_engine(
        sync_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_pre_ping=False,
        connect_args={"options": options},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _fast_json(dbapi_connection: Any, connection_record: Any) -> None:
        # json/jsonb columns (e.g. the at-risk rows a landGuarantee statement returns as
        # one JSON array per county) parse with orjson: ~5x faster than json.loads.
        set_json_loads(orjson.loads, connection_record.driver_connection)

    if role:
        set_role = "SET ROLE " + quote_identifier(role)

        @event.listens_for(engine.sync_engine, "connect")
        def _switch_role(dbapi_connection: Any, connection_record: Any) -> None:
            # Outside any transaction (autocommit), so the pool's rollback-on-return
            # cannot undo it; it holds for the connection's life.
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(set_role)
            finally:
                cursor.close()
                dbapi_connection.autocommit = autocommit

    return engine


def quote_identifier(name: str) -> str:
    """A PostgreSQL identifier in double quotes (embedded quotes doubled); NUL refused."""
    if not name or "\x00" in name:
        raise ValueError("an identifier must be a non-empty string without NUL")
    return '"' + name.replace('"', '""') + '"'


def session_factory(engine: AsyncEngine) -> SessionFactory:
    """Transactional ORM sessions: for writes and for server-side cursors (streaming)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def read_connections(engine: AsyncEngine) -> Callable[[], AsyncConnection]:
    """Reads run on autocommit connections: each statement is its own snapshot, with no
    BEGIN/ROLLBACK round trips and no ORM session bookkeeping (measured: −20 % latency
    on a nested project query). The geo/ query functions accept either kind."""
    return engine.execution_options(isolation_level="AUTOCOMMIT").connect


class DriverStatement:
    """A hot read statement run on the psycopg connection under a SQLAlchemy one.

    SQLAlchemy's execution layer costs ~0.5 ms of Python per statement (result metadata,
    Row objects, greenlet hops: measured 1.3 ms vs 0.75 ms for the landGuarantee
    statement); for the one statement behind every landGuarantee answer that is a tenth
    of the request. Here it is compiled once to PostgreSQL's own `$n` placeholders and
    sent through a raw cursor (psycopg re-parses `%(name)s` placeholders of statements
    over 4 kB on every call), with psycopg's prepared-statement cache; numerics come back
    as floats (the callers round every amount to the cent anyway) in named tuples.

    Listeners of SQLAlchemy's `before_cursor_execute` (the tests' statement counters,
    tracing) still see the statement; errors are psycopg's own, which
    schema/error_policy reads by SQLSTATE like wrapped ones."""

    def __init__(self, statement: Any) -> None:
        compiled = str(statement.compile(dialect=psycopg_dialect()))
        self.names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in self.names:
                self.names.append(match.group(1))
            return f"${self.names.index(match.group(1)) + 1}"

        self.sql: str = _PYFORMAT.sub(number, compiled).replace("%%", "%")

    async def rows(
        self, session: AsyncConnection | AsyncSession, params: dict[str, Any]
    ) -> list[Any]:
        conn = session if isinstance(session, AsyncConnection) else await session.connection()
        sync = conn.sync_connection
        for listener in sync.dispatch.before_cursor_execute:
            listener(sync, None, self.sql, params, None, False)
        driver = (await conn.get_raw_connection()).driver_connection
        cursor = AsyncRawCursor(driver, row_factory=namedtuple_row)
        cursor.adapters.register_loader("numeric", FloatLoader)
        async with cursor:
            await cursor.execute(self.sql, [params.get(name) for name in self.names])
            return await cursor.fetchall()


_PYFORMAT = re.compile(r"(?<!%)%\((\w+)\)s")
