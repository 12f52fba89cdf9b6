"""Bulk loading through COPY on the caller's connection (same transaction, no round trips)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Connection, text


def raw(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under a SQLAlchemy one; COPY on it joins the open transaction."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError("load_demo needs the psycopg 3 driver (postgresql+psycopg://)")
    return driver


def copy_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """COPY rows into `table` (a trusted identifier) and return how many were written."""
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    n = 0
    with raw(conn).cursor() as cur, cur.copy(stmt) as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def id_map(conn: Connection, table: str) -> dict[str, int]:
    """code → id of every row of `table` (project, parcel, project_issue)."""
    if table not in ("project", "parcel", "project_issue"):
        raise ValueError(table)
    stmt = sql.SQL("SELECT code, id FROM {}").format(sql.Identifier(table))
    with raw(conn).cursor() as cur:
        cur.execute(stmt)
        return dict(cur.fetchall())  # type: ignore[arg-type]


def count_rows(conn: Connection, tables: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for table in tables:
        stmt = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        with raw(conn).cursor() as cur:
            cur.execute(stmt)
            row = cur.fetchone()
            out[table] = int(row[0]) if row else 0
    return out


def drop_temp(conn: Connection, tables: Sequence[str]) -> None:
    """Drop working tables now rather than at commit, so the caller's session stays clean."""
    for table in tables:
        conn.execute(text("DROP TABLE IF EXISTS " + sql.Identifier(table).as_string(raw(conn))))
