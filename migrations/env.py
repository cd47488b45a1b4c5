"""Alembic environment: runs on a connection handed in by ``core.migrations`` (the usual path) or, for the
plain ``alembic`` command, on a new async engine from ``PHR_DATABASE_URL``."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from core.db import to_asyncpg_url
from core.models import Base

target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_with_new_engine() -> None:
    url = os.environ.get("PHR_DATABASE_URL")
    if not url:
        raise SystemExit("set PHR_DATABASE_URL, or use `phr migrate`, which also starts the embedded database")
    engine = create_async_engine(to_asyncpg_url(url))
    async with engine.begin() as conn:
        await conn.run_sync(run_on)
    await engine.dispose()


given = context.config.attributes.get("connection")
if given is not None:
    run_on(given)
else:
    asyncio.run(run_with_new_engine())
