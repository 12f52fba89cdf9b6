"""A progress bar on stderr for long files; silent when stderr is not a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], *, total: int, desc: str, enabled: bool) -> Iterator[T]:
    if not enabled or not sys.stderr.isatty() or total < 200:
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, total=total, desc=desc, unit="row", file=sys.stderr, leave=False)


def phase(message: str, *, enabled: bool) -> None:
    """One line naming the next long step (the bar above only covers reading)."""
    if enabled and sys.stderr.isatty():
        print(f"… {message}", file=sys.stderr, flush=True)
