"""Per-request DataLoaders of issue 6's project fields (lifecycle, investment progress):
one statement per batch of projects, whatever the number of projects in the answer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row
from strawberry.dataloader import DataLoader

from geo import progress
from geo.db import SessionFactory

InvestmentKey = tuple[int, int, int]
"""(project id, year, month)."""


def _lists(sessions: SessionFactory, fetch: Any) -> DataLoader[int, list[Row[Any]]]:
    async def load(keys: Sequence[int]) -> list[list[Row[Any]]]:
        async with sessions() as session:
            found = await fetch(session, list(dict.fromkeys(keys)))
        return [list(found.get(k, [])) for k in keys]

    return DataLoader(load_fn=load)


def _investment(sessions: SessionFactory) -> DataLoader[InvestmentKey, Row[Any] | None]:
    """One statement per distinct (year, month) in the batch."""

    async def load(keys: Sequence[InvestmentKey]) -> list[Row[Any] | None]:
        by_period: dict[tuple[int, int], list[int]] = defaultdict(list)
        for project_id, year, month in keys:
            by_period[(year, month)].append(project_id)
        found: dict[InvestmentKey, Row[Any]] = {}
        async with sessions() as session:
            for (year, month), ids in by_period.items():
                rows = await progress.project_investment(session, ids, year=year, month=month)
                for pid, row in rows.items():
                    found[(pid, year, month)] = row
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


class ProgressLoaders:
    def __init__(self, sessions: SessionFactory) -> None:
        self.stage_events = _lists(sessions, progress.stage_events)
        self.open_issues = _lists(sessions, progress.open_issues)
        self.investment = _investment(sessions)
