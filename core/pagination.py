"""Keyset pagination: the page-size rule, opaque cursors (the sort key — a date or an aware datetime — and the item
id), and cutting a page from rows fetched one past the limit."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

from core.errors import Invalid

MAX_PAGE = 100  # API convention (DESIGN.md): a page holds at most 100 items
T = TypeVar("T")


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
