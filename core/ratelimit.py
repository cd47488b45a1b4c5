"""Fixed-window counters in PostgreSQL, shared by every API replica (nothing is counted in process memory)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import RateLimited

# One statement: start a new window or add to the current one, atomically, and say where the count stands.
_HIT = text(
    """
    INSERT INTO rate_counters AS rc (key, window_start, count) VALUES (:key, :window_start, 1)
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN rc.window_start < :window_start THEN 1 ELSE rc.count + 1 END,
        window_start = GREATEST(rc.window_start, :window_start)
    RETURNING count, window_start
    """
)


async def hit(session: AsyncSession, key: str, *, limit: int, window: dt.timedelta, now: dt.datetime, code: str) -> int:
    """Count one event under ``key``; raise RateLimited (with the seconds left in the window) past ``limit``."""
    seconds = int(window.total_seconds())
    window_start = dt.datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, dt.UTC)
    count, current_start = (await session.execute(_HIT, {"key": key, "window_start": window_start})).one()
    if count > limit:
        retry = int((current_start + window - now).total_seconds()) + 1
        raise RateLimited("too many requests", retry_after=max(1, retry), code=code, keep_changes=True)
    return int(count)
