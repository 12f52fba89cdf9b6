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


def selects(info: Any, *path: str) -> bool:
    """True when the current field's selection contains the given path (fragments flattened)."""
    level: list[SelectedField] = list(info.selected_fields)
    for name in path:
        level = [f for parent in level for f in _fields(parent.selections) if f.name == name]
        if not level:
            return False
    return True
