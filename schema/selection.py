"""Look-ahead into the query so a list fetches geometry only when it is asked for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField


def _fields(selections: Iterable[Any]) -> Iterable[SelectedField]:
    for sel in selections:
        if isinstance(sel, FragmentSpread | InlineFragment):
            yield from _fields(sel.selections)
        elif isinstance(sel, SelectedField):
            yield sel


def selected(info: Any, *path: str) -> list[SelectedField]:
    """Every occurrence of the path under the current field (fragments flattened)."""
    level: list[SelectedField] = list(info.selected_fields)
    for name in path:
        level = [f for parent in level for f in _fields(parent.selections) if f.name == name]
    return level


def selects(info: Any, *path: str) -> bool:
    return bool(selected(info, *path))
