"""Relay-style connections with keyset cursors over each list's unique code."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from schema.errors import ErrorCode, LandguardError, bad_input

T = TypeVar("T")

CURSOR_PREFIX = "lg1:"  # keyset: the code of the last row
OFFSET_PREFIX = "lg1o:"  # position: used when ordering by distance


def _encode(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


def encode_cursor(code: str) -> str:
    return _encode(CURSOR_PREFIX + code)


def _raw(cursor: str, prefix: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith(prefix):
        raise LandguardError(
            ErrorCode.INVALID_CURSOR,
            f"`after` is not a cursor this API issued for this ordering: {cursor!r}",
        )
    return raw[len(prefix) :]


def decode_cursor(cursor: str | None) -> str | None:
    return None if cursor is None else _raw(cursor, CURSOR_PREFIX)


def decode_offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    raw = _raw(cursor, OFFSET_PREFIX)
    if not raw.isdigit():
        raise LandguardError(
            ErrorCode.INVALID_CURSOR, f"`after` is not a cursor this API issued: {cursor!r}"
        )
    return int(raw)


def page_size(first: int | None, *, default: int, maximum: int) -> int:
    """Validate `first`: the cap protects the server and is a clear, typed error."""
    if first is None:
        return default
    if first < 0:
        raise bad_input("`first` must be zero or positive", argument="first")
    if first > maximum:
        raise LandguardError(
            ErrorCode.PAGE_TOO_LARGE,
            f"`first` may be at most {maximum} (got {first}); page with `after` instead",
            maximum=maximum,
            requested=first,
        )
    return first


@strawberry.type(description="Relay page information 分页信息")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Total number of items matching the filter 符合条件的总数")
    async def total_count(self) -> int:
        return await self._count()

    @classmethod
    def build(
        cls,
        rows: Sequence[Any],
        *,
        limit: int,
        to_node: Callable[[Any], T],
        count: Callable[[], Awaitable[int]],
        offset: int | None = None,
    ) -> Connection[T]:
        """`offset` given: position cursors (distance ordering); otherwise keyset on code."""
        page = rows[:limit]
        if offset is None:
            edges = [Edge(cursor=encode_cursor(r.code), node=to_node(r)) for r in page]
        else:
            edges = [
                Edge(cursor=_encode(f"{OFFSET_PREFIX}{offset + i + 1}"), node=to_node(r))
                for i, r in enumerate(page)
            ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > limit,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            _count=count,
        )
