"""Test fixtures: a real PostgreSQL built by the real migrations, one rolled-back transaction per test.

The server is the embedded one (``pgserver``, in ``.phr-data/pg-test``) unless ``PHR_TEST_DATABASE_URL`` points
at a server where the tests may create databases. Each test session creates a fresh database, migrates it to
head, and drops it at the end.
"""

from __future__ import annotations

import io
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from api.app import create_app
from core.db import Database, EmbeddedPostgres, start_embedded_postgres, to_asyncpg_url
from core.logging import build_formatter, configure_logging
from core.migrations import upgrade
from core.models import Base
from core.settings import Settings, load_settings
from tests.support import serving

ROOT = Path(__file__).resolve().parents[1]

# Secrets the tests handled (OTP codes, refresh tokens, …): none may show up in any log line of the run.
LEAK_CANARIES: set[str] = set()
_PHONE_IN_LOG = re.compile(r"(?<![\w+])(?:\+?84|0)[35789][0-9]{8}(?![0-9])")
_JWT_IN_LOG = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


@pytest.fixture(scope="session", autouse=True)
def log_scan() -> Iterator[None]:
    """Everything logged during the whole run, through the production formatter, is scanned at the end."""
    configure_logging("INFO", "json")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(build_formatter("json"))
    logging.getLogger().addHandler(handler)
    logging.getLogger("phr.tests").info("log scan started")
    yield
    logging.getLogger().removeHandler(handler)
    text = buffer.getvalue()
    leaks = [f"phone {m[-3:]}" for m in _PHONE_IN_LOG.findall(text)]
    leaks += ["a JWT" for _ in _JWT_IN_LOG.findall(text)]
    leaks += [f"canary …{c[-3:]}" for c in LEAK_CANARIES if re.search(rf"(?<![0-9.]){re.escape(c)}(?![0-9])", text)]
    assert leaks == [], f"secrets or personal data in the logs: {leaks[:10]}"
    assert "log scan started" in text, "the scan did not see its own first line: the capture is broken"


class PgCluster:
    """Where test databases are created: the embedded server or an external one."""

    def __init__(self) -> None:
        external = os.environ.get("PHR_TEST_DATABASE_URL")
        self.embedded: EmbeddedPostgres | None = None
        if external:
            self.admin_url = to_asyncpg_url(external)
        else:
            self.embedded = start_embedded_postgres(ROOT / ".phr-data" / "pg-test", database=None)
            self.admin_url = self.embedded.url("postgres")

    def url(self, database: str) -> str:
        if self.embedded is not None:
            return self.embedded.url(database)
        head, _, tail = self.admin_url.rpartition("/")
        query = tail.partition("?")[2]
        return f"{head}/{database}" + (f"?{query}" if query else "")

    async def create_database(self, prefix: str) -> str:
        name = f"{prefix}_{secrets.token_hex(4)}"
        engine = create_async_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        await engine.dispose()
        return name

    async def drop_database(self, name: str) -> None:
        engine = create_async_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await engine.dispose()


@pytest.fixture(scope="session")
def pg_cluster() -> PgCluster:
    return PgCluster()


@pytest.fixture(scope="session")
async def database_url(pg_cluster: PgCluster) -> AsyncIterator[str]:
    """A fresh database for this test session, migrated to head by the real migrations."""
    name = await pg_cluster.create_database("phr_test")
    url = pg_cluster.url(name)
    engine = create_async_engine(url, poolclass=NullPool)
    await upgrade(engine)
    await engine.dispose()
    yield url
    await pg_cluster.drop_database(name)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, pool_size=5, max_overflow=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Settings:
    return load_settings({}, env="test", data_dir=str(tmp_path_factory.mktemp("phr-data")), database_url=database_url)


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One connection per test inside a transaction that is always rolled back."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            if transaction.is_active:
                await transaction.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    # Sessions commit to savepoints inside the test's transaction, so code under test may "commit" freely.
    return async_sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


@pytest.fixture
def database(engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]) -> Database:
    return Database(engine, sessionmaker)


@pytest.fixture
def make_app(settings: Settings, database: Database) -> Callable[..., Litestar]:
    def make(**overrides: object) -> Litestar:
        import msgspec

        return create_app(msgspec.structs.replace(settings, **overrides) if overrides else settings, database)

    return make


@pytest.fixture
async def client(make_app: Callable[..., Litestar]) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(make_app()) as http:
        yield http


# Every table the models know (which is every table the migrations make, as test_migrations checks), except the
# reference data the migrations seed.
REFERENCE_TABLES = frozenset({"vaccines"})
TRUNCATE_ALL = (
    "TRUNCATE "
    + ", ".join(t.name for t in Base.metadata.sorted_tables if t.name not in REFERENCE_TABLES)
    + " RESTART IDENTITY"
)


@pytest.fixture
async def committed(database_url: str) -> AsyncIterator[Database]:
    """A database whose transactions really commit: for workers, concurrency and other processes.

    Everything is truncated afterwards, so the rolled-back tests that follow still start from empty tables.
    """
    database = Database.from_url(database_url, pool_size=10, max_overflow=20)
    try:
        yield database
    finally:
        async with database.engine.begin() as conn:
            await conn.execute(text(TRUNCATE_ALL))
        await database.dispose()
