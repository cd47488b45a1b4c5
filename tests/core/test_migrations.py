"""The real migrations build the schema the models describe, and go down and up again cleanly."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from core.migrations import current_revision, downgrade, upgrade
from core.models import Base
from tests.conftest import PgCluster


@pytest.fixture
async def empty_engine(pg_cluster: PgCluster) -> AsyncIterator[AsyncEngine]:
    name = await pg_cluster.create_database("phr_migrations")
    engine = create_async_engine(pg_cluster.url(name), poolclass=NullPool)
    yield engine
    await engine.dispose()
    await pg_cluster.drop_database(name)


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        return {row[0] for row in rows}


async def enum_types(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT typname FROM pg_type WHERE typtype = 'e'"))
        return {row[0] for row in rows}


async def test_up_down_up(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine)
    assert set(Base.metadata.tables) <= await table_names(empty_engine)
    head = await current_revision(empty_engine)
    assert head is not None

    await downgrade(empty_engine, "base")
    assert await table_names(empty_engine) == {"alembic_version"}
    assert await enum_types(empty_engine) == set(), "downgrade leaves no enum types behind"
    assert await current_revision(empty_engine) is None

    await upgrade(empty_engine)
    assert await current_revision(empty_engine) == head


async def test_migrations_match_the_models(engine: AsyncEngine) -> None:
    """Autogenerate against the migrated test database finds nothing to add: models and migrations agree."""
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata)
        )
    assert diff == []


async def test_check_constraints_guard_identifiers(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        with pytest.raises(Exception, match="ck_citizens_cccd_format"):
            await conn.execute(
                text(
                    "INSERT INTO citizens (id, full_name, sex, date_of_birth, cccd) "
                    "VALUES (gen_random_uuid(), 'X', 'male', '2000-01-01', '12345')"
                )
            )
        await conn.rollback()
