"""Test fixtures: a real PostgreSQL built by the real migrations, one rolled-back transaction per test.

The server is the embedded one (``pgserver``, in ``.phr-data/pg-test``) unless ``PHR_TEST_DATABASE_URL`` points
at a server where the tests may create databases. Each test session creates a fresh database, migrates it to
head, and drops it at the end.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

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

# Secrets and personal data the tests handled: none may show up in any log line of the run. Tests add what they
# seed (a health-data canary, a national id); the taps below add every OTP code, token and share token the code
# under test issues anywhere in the suite. Phone numbers and JWTs are found by pattern, whoever issued them.
LEAK_CANARIES: set[str] = set()
_PHONE_IN_LOG = re.compile(r"(?<![\w+])(?:\+?84|0)[35789][0-9]{8}(?![0-9])")
_JWT_IN_LOG = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
# A number standing alone: not part of a longer number, a fraction, or a run of hex digits (a UUID in a logged URL
# holds six-digit runs often enough to match one of the suite's ~2,000 OTP codes by chance).
_NUMBER_IN_LOG = re.compile(r"(?<![0-9A-Za-z.])[0-9]+(?![0-9A-Za-z])")


def find_leaks(text: str, canaries: Iterable[str]) -> list[str]:
    """What of ``canaries`` (and any phone number or JWT) the log ``text`` holds, named without repeating it.

    A number (an OTP code, a national id) counts only standing alone, not inside a longer number, a fraction or a
    hex string; anything else counts anywhere. Numbers are looked up in one pass, so thousands of codes cost one scan.
    """
    leaks = [f"phone {m[-3:]}" for m in _PHONE_IN_LOG.findall(text)]
    leaks += ["a JWT" for _ in _JWT_IN_LOG.findall(text)]
    numbers = set(_NUMBER_IN_LOG.findall(text))
    for canary in canaries:
        if canary in numbers if canary.isdigit() else canary in text:
            leaks.append(f"canary …{canary[-3:]} in {_where(text, canary)}")
    return leaks


def _where(text: str, canary: str) -> str:
    """The first log line holding ``canary``, told by logger and field with every digit masked: enough to find the
    code that logged it, nothing of the secret itself."""
    for line in text.splitlines():
        if canary not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            return "a non-JSON line"
        if not isinstance(record, dict):
            return "a non-object line"
        fields = [key for key, value in record.items() if canary in str(value)]
        event = re.sub(r"[0-9]", "#", str(record.get("event", "")).replace(canary, "…"))[:160]
        return f"logger={record.get('logger')} fields={fields} event={event!r}"
    return "an unknown line"


@pytest.fixture(scope="session", autouse=True)
def canary_taps() -> Iterator[None]:
    """Every OTP code, access and refresh token and share token issued during the run becomes a canary."""
    from core.consent.shares import ShareService
    from core.identity import otp
    from core.identity.sessions import SessionService

    issue_tokens, create_share, rotate_share, queue = (
        SessionService._issue,
        ShareService.create,
        ShareService.rotate,
        otp.notify,
    )

    async def tokens(self: Any, *args: Any, **kwargs: Any) -> Any:
        pair = await issue_tokens(self, *args, **kwargs)
        LEAK_CANARIES.update(t for t in (pair.access_token, pair.refresh_token) if t)
        return pair

    def share(original: Any) -> Any:
        async def issued(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = await original(self, *args, **kwargs)
            LEAK_CANARIES.add(result.payload.partition(":")[2] or result.payload)  # the token, with or without prefix
            return result

        return issued

    async def otp_sms(session: Any, draft: Any, **kwargs: Any) -> Any:
        LEAK_CANARIES.add(draft.sealed["code"])
        return await queue(session, draft, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SessionService, "_issue", tokens)
        patch.setattr(ShareService, "create", share(create_share))
        patch.setattr(ShareService, "rotate", share(rotate_share))
        patch.setattr(otp, "notify", otp_sms)
        yield


@pytest.fixture(scope="session", autouse=True)
def log_scan(canary_taps: None) -> Iterator[None]:
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
    leaks = find_leaks(text, LEAK_CANARIES)
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

    async def migrated_database(self, prefix: str) -> tuple[str, str]:
        """A new database built by the real migrations: (name, URL)."""
        name = await self.create_database(prefix)
        url = self.url(name)
        engine = create_async_engine(url, poolclass=NullPool)
        await upgrade(engine)
        await engine.dispose()
        return name, url

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
    name, url = await pg_cluster.migrated_database("phr_test")
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
