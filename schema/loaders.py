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

from geo import guarantee
from geo.db import SessionFactory
from geo.queries import admin, approvals, land_status, parcels, projects, quotas, zones
from geo.queries.geojson import GeometryOptions
from schema.loaders_progress import ProgressLoaders

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


GuaranteeKey = tuple[int, dt.date | None]
"""(plan year, as-of date or None for today's statuses)."""


def _per_key(
    sessions: SessionFactory, fetch: Callable[[Any, K], Awaitable[Sequence[Row[Any]]]]
) -> DataLoader[K, list[Row[Any]]]:
    """One statement per distinct key, all on one connection: for whole-answer queries
    (a ranking, an at-risk list) that many fields of one request share."""

    async def load(keys: Sequence[K]) -> list[list[Row[Any]]]:
        found: dict[K, list[Row[Any]]] = {}
        async with sessions() as session:
            for key in dict.fromkeys(keys):
                found[key] = list(await fetch(session, key))
        return [found[k] for k in keys]

    return DataLoader(load_fn=load)


def _guarantee_ranking(sessions: SessionFactory) -> DataLoader[GuaranteeKey, list[Row[Any]]]:
    """The city-wide project ranking (county cover and pool share) of a year and date,
    shared by atRiskProjects (as of a date), Project.landStatus and the pool plan."""
    return _per_key(sessions, lambda s, k: guarantee.project_rows(s, year=k[0], as_of=k[1]))


AtRiskKey = tuple[int, int | None]
"""(plan year, at most this many per county or None for all) — current state only."""


def _guarantee_at_risk(sessions: SessionFactory) -> DataLoader[AtRiskKey, list[Row[Any]]]:
    """Every county's at-risk projects now, first N each (the six counties of a
    landGuarantee answer share one statement)."""
    return _per_key(sessions, lambda s, k: guarantee.at_risk_rows(s, year=k[0], first=k[1]))


ParcelsOnKey = tuple[int, dt.date, bool]
"""(project id, date, whether the date is today so current statuses are read)."""


def _project_parcels_on(sessions: SessionFactory) -> DataLoader[ParcelsOnKey, list[Row[Any]]]:
    """A project's parcels with their status on a date: one statement per distinct date."""

    async def load(keys: Sequence[ParcelsOnKey]) -> list[list[Row[Any]]]:
        by_date: dict[tuple[dt.date, bool], list[int]] = defaultdict(list)
        for project_id, on, current in keys:
            by_date[(on, current)].append(project_id)
        found: dict[ParcelsOnKey, list[Row[Any]]] = {}
        async with sessions() as session:
            for (on, current), ids in by_date.items():
                rows = await land_status.project_parcels_on(session, ids, on=on, current=current)
                for project_id, parcel_rows in rows.items():
                    found[(project_id, on, current)] = parcel_rows
        return [found.get(k, []) for k in keys]

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
        self.guarantee_ranking = _guarantee_ranking(sessions)
        self.guarantee_at_risk = _guarantee_at_risk(sessions)
        self.project_parcels_on = _project_parcels_on(sessions)
        self.parcel_conflicts: DataLoader[int, list[Row[Any]]] = _batch(
            sessions, land_status.parcel_conflicts, list
        )
        self.parcel_overlay: DataLoader[int, Row[Any] | None] = _batch(
            sessions, land_status.parcel_overlays
        )
        self.progress = ProgressLoaders(sessions)
