"""Keyset pagination: the page-size rule, opaque cursors (the sort key — a date or an aware datetime — and the item
id), cutting a page from rows fetched one past the limit, and the query of a list kept in creation order.

Every paged list answers ``{"items": [...], "next_cursor": "..." | null}`` and takes ``limit`` (1..100) and
``cursor`` (the ``next_cursor`` of the page before) as query parameters.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from core.errors import Invalid

MAX_PAGE = 100  # API convention (DESIGN.md): a page holds at most 100 items
MAX_CURSOR = 200  # ours are ~60 characters; a longer one is not ours, and is refused before any decoding
T = TypeVar("T")
SelectT = TypeVar("SelectT", bound=Select[Any])


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be 1..{MAX_PAGE}", code="bad_limit", field="limit")


def split_page(
    rows: Sequence[T], limit: int, key: Callable[[T], tuple[dt.date | dt.datetime, uuid.UUID]]
) -> tuple[list[T], str | None]:
    """``rows`` fetched with ``LIMIT limit + 1``: the page, and the cursor after its last row when more follow."""
    page = list(rows[:limit])
    return page, encode_cursor(*key(page[-1])) if len(rows) > limit and page else None


def encode_cursor(key: dt.date | dt.datetime, item_id: uuid.UUID) -> str:
    raw = f"{key.isoformat()}|{item_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.date | dt.datetime, uuid.UUID]:
    """The key and id a cursor of ours carries; anything else is a 422 that names the cursor."""
    if len(cursor) > MAX_CURSOR:
        raise Invalid("the cursor is not one this server gave out", code="bad_cursor", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, item = raw.partition("|")
        key: dt.date | dt.datetime
        if "T" in stamp:
            key = dt.datetime.fromisoformat(stamp)
            if key.tzinfo is None:  # every time we sort by is aware; a naive one was not made here
                raise ValueError("naive time")
        else:
            key = dt.date.fromisoformat(stamp)
        return key, uuid.UUID(item)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid("the cursor is not one this server gave out", code="bad_cursor", field="cursor") from exc


def decode_time_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    """The cursor of a list sorted by a time: one carrying a date (another list's) is refused like any stranger's."""
    key, item_id = decode_cursor(cursor)
    if not isinstance(key, dt.datetime):
        raise Invalid("the cursor is not one this server gave out", code="bad_cursor", field="cursor")
    return key, item_id


def keyset(
    query: SelectT,
    at: QueryableAttribute[dt.datetime],
    item_id: QueryableAttribute[uuid.UUID],
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool = True,
) -> SelectT:
    """``query`` ordered by (``at``, ``item_id``), after the cursor, one row past the page (for ``split_page``)."""
    check_limit(limit)
    if cursor:
        after = decode_time_cursor(cursor)
        key = tuple_(at, item_id)
        query = query.where(key < after if newest_first else key > after)
    order = (at.desc(), item_id.desc()) if newest_first else (at.asc(), item_id.asc())
    return query.order_by(*order).limit(limit + 1)


async def fetch_page(
    session: AsyncSession,
    query: Select[tuple[T]],
    at: QueryableAttribute[dt.datetime],
    item_id: QueryableAttribute[uuid.UUID],
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool = True,
) -> tuple[list[T], str | None]:
    """One page of the mapped objects ``query`` selects, in (``at``, ``item_id``) order: ``keyset`` and
    ``split_page`` together, the cursor read from the same two attributes the list is sorted by."""
    paged = keyset(query, at, item_id, limit=limit, cursor=cursor, newest_first=newest_first)
    rows = (await session.scalars(paged)).all()
    return split_page(rows, limit, lambda row: (getattr(row, at.key), getattr(row, item_id.key)))
