"""Database readiness facts for /readyz."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def database_status(session: AsyncSession) -> tuple[str, str | None]:
    """PostGIS version and the Alembic revision the database is at (None if unmigrated)."""
    postgis = await session.scalar(text("SELECT postgis_lib_version()"))
    exists = await session.scalar(text("SELECT to_regclass('public.alembic_version') IS NOT NULL"))
    revision = (
        await session.scalar(text("SELECT version_num FROM alembic_version")) if exists else None
    )
    return str(postgis), revision
