"""Per-request DataLoaders. Each batch opens its own session: Strawberry resolves sibling
fields concurrently and one AsyncSession must never serve two coroutines at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from geo.db import SessionFactory
from geo.queries import admin, approvals, parcels, projects, quotas, zones

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _batch(
    sessions: SessionFactory,
    fetch: Callable[[AsyncSession, list[K]], Awaitable[dict[K, V]]],
    default: Callable[[], Any] = lambda: None,
) -> DataLoader[K, Any]:
    async def load(keys: Sequence[K]) -> list[Any]:
        async with sessions() as session:
            found = await fetch(session, list(keys))
        return [found.get(k, default()) for k in keys]

    return DataLoader(load_fn=load)


class Loaders:
    def __init__(self, sessions: SessionFactory, *, precision: int, today: dt.date) -> None:
        self.admin_area: DataLoader[str, Row[Any] | None] = _batch(
            sessions, lambda s, k: admin.admin_areas_by_code(s, k)
        )
        self.admin_area_geometry: DataLoader[str, str | None] = _batch(
            sessions, lambda s, k: admin.geometry_by_code(s, k, precision=precision)
        )
        self.project: DataLoader[int, Row[Any] | None] = _batch(sessions, projects.projects_by_id)
        self.parcels_of_project: DataLoader[int, list[Row[Any]]] = _batch(
            sessions, parcels.parcels_by_project, list
        )
        self.parcel_geometry: DataLoader[int, str | None] = _batch(
            sessions, lambda s, k: parcels.geometry_by_id(s, k, precision=precision)
        )
        self.parcel_history: DataLoader[int, list[Row[Any]]] = _batch(
            sessions, parcels.status_history, list
        )
        self.approval_items_of_project: DataLoader[int, list[Row[Any]]] = _batch(
            sessions, lambda s, k: approvals.approval_items_by_project(s, k, as_of=today), list
        )
        self.zone_geometry: DataLoader[int, str | None] = _batch(
            sessions, lambda s, k: zones.geometry_by_id(s, k, precision=precision)
        )
        self.quota_entries: DataLoader[tuple[int, str, str], list[Any]] = _batch(
            sessions, quotas.entries_by_account, list
        )
