"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar
from sqlalchemy import String, Text, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.identity.sessions import SessionService
from core.models import Base, Clinician, SubjectKind
from core.records.exclusion import DEFAULT_POLICY
from core.settings import Settings


@asynccontextmanager
async def serving(app: Litestar, *, raise_app_exceptions: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP through the ASGI interface in the test's own event loop, with the app's lifespan running.

    The lifespan runs in a task of its own: pytest-asyncio may set a fixture up and tear it down in different
    tasks, and the lifespan's task group must be entered and left by the same one.
    """
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run_lifespan())
    await started.wait()
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://phr.test") as http:
            yield http
    finally:
        stop.set()
        await task


async def login(
    session: AsyncSession, settings: Settings, account_id: uuid.UUID, *, now: dt.datetime | None = None
) -> dict[str, str]:
    """Headers of a request made by ``account_id`` through a real session (as the OTP login would create)."""
    pair = await SessionService(session, settings, now=now).start(SubjectKind.account, account_id, method="test")
    await session.flush()
    return {"Authorization": f"Bearer {pair.access_token}"}


async def login_clinician(session: AsyncSession, settings: Settings, clinician: Clinician) -> dict[str, str]:
    """Headers of a request made by a clinician or station staff member through a real session."""
    pair = await SessionService(session, settings).start(
        SubjectKind.clinician,
        clinician.id,
        method="test",
        claims={"role": clinician.role.value, "fac": str(clinician.facility_id)},
    )
    await session.flush()
    return {"Authorization": f"Bearer {pair.access_token}"}


# Tables whose text is not a person's data: rule ids of receipts, and the vaccine catalogue.
SCAN_SKIPPED_TABLES = frozenset({"exclusion_receipts", "vaccines"})


async def scan_every_column(conn: AsyncConnection) -> list[str]:
    """``table.column: rule`` for every deny-listed code or word stored in any text, code or JSON column."""
    found: list[str] = []
    for table in Base.metadata.sorted_tables:
        if table.name in SCAN_SKIPPED_TABLES:
            continue
        columns = [c for c in table.columns if isinstance(c.type, String | Text | JSONB)]
        if not columns:
            continue
        for row in (await conn.execute(select(*columns))).all():
            for column, value in zip(columns, row, strict=True):
                if value is None:
                    continue
                hits = DEFAULT_POLICY.scan(value if isinstance(value, dict | list) else {column.name: value})
                found += [f"{table.name}.{column.name}: {hit.rule_id}" for hit in hits]
    return found
