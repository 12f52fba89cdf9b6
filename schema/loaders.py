"""Per-request DataLoaders. Each batch opens its own session: Strawberry resolves sibling
fields concurrently and one AsyncSession must never serve two coroutines at once."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from geo.db import SessionFactory
from geo.queries import admin, approvals, parcels, projects, quotas, zones
from geo.queries.geojson import GeometryOptions

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _geometry_batch(
    sessions: SessionFactory,
    fetch: Callable[[AsyncSession, list[Any], GeometryOptions], Awaitable[dict[Any, str]]],
) -> DataLoader[tuple[Any, GeometryOptions], str | None]:
    """Geometry keyed by (id, output options); one statement per distinct option set."""

    async def load(keys: Sequence[tuple[Any, GeometryOptions]]) -> list[str | None]:
        by_options: dict[GeometryOptions, list[Any]] = defaultdict(list)
        for ident, options in keys:
            by_options[options].append(ident)
        found: dict[tuple[Any, GeometryOptions], str] = {}
        async with sessions() as session:
            for options, ids in by_options.items():
                for ident, text in (await fetch(session, ids, options)).items():
                    found[(ident, options)] = text
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


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
    def __init__(self, sessions: SessionFactory, *, today: dt.date) -> None:
        self.admin_area: DataLoader[str, Row[Any] | None] = _batch(
            sessions, lambda s, k: admin.admin_areas_by_code(s, k)
        )
        self.admin_area_geometry = _geometry_batch(sessions, admin.geometry_by_code)
        self.project: DataLoader[int, Row[Any] | None] = _batch(sessions, projects.projects_by_id)
        self.parcels_of_project: DataLoader[int, list[Row[Any]]] = _batch(
            sessions, parcels.parcels_by_project, list
        )
        self.parcel_geometry = _geometry_batch(sessions, parcels.geometry_by_id)
        self.parcel_history: DataLoader[int, list[Row[Any]]] = _batch(
            sessions, parcels.status_history, list
        )
        self.approval_items_of_project: DataLoader[int, list[Row[Any]]] = _batch(
            sessions, lambda s, k: approvals.approval_items_by_project(s, k, as_of=today), list
        )
        self.zone_geometry = _geometry_batch(sessions, zones.geometry_by_id)
        self.quota_entries: DataLoader[tuple[int, str, str], list[Any]] = _batch(
            sessions, quotas.entries_by_account, list
        )
