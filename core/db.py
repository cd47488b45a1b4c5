"""Database access: the async engine, the session maker, and the embedded PostgreSQL used in development.

PostgreSQL is the only stateful part of the service (DESIGN.md). With no ``PHR_DATABASE_URL`` the service
starts its own server from the ``pgserver`` package in ``PHR_DATA_DIR/pg`` so a newcomer needs nothing
installed; the same migrations and code paths run against it as against a production server.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

if TYPE_CHECKING:
    from core.settings import Settings

EMBEDDED_DB_NAME = "phr"


def to_asyncpg_url(url: str) -> str:
    """Accept the usual spellings of a PostgreSQL URL and point SQLAlchemy at asyncpg."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("PHR_DATABASE_URL must be a postgresql:// URL")


@dataclass(frozen=True, slots=True)
class EmbeddedPostgres:
    """A running embedded server; ``handle`` keeps pgserver's reference so it stops when the process exits."""

    socket_dir: str
    handle: Any

    def url(self, database: str = EMBEDDED_DB_NAME) -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    def psql(self, sql: str) -> str:
        result: str = self.handle.psql(sql)
        return result


def start_embedded_postgres(pg_dir: Path, database: str | None = EMBEDDED_DB_NAME) -> EmbeddedPostgres:
    """Start (or attach to) the embedded server in ``pg_dir`` and make sure ``database`` exists."""
    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    # pgserver keeps its inter-process lock in the XDG runtime dir and warns when it is unset; keep that lock
    # beside the data instead of in a system folder that a fresh machine may not have.
    runtime = (pg_dir.parent / "run").resolve()
    runtime.mkdir(exist_ok=True)
    runtime.chmod(0o700)  # platformdirs ignores a runtime dir others can read
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    # Imported here: it is a development convenience, never loaded in production.
    from pgserver.postgres_server import get_server

    handle = get_server(pg_dir, cleanup_mode="stop")
    query = parse_qs(urlsplit(handle.get_uri()).query)
    server = EmbeddedPostgres(socket_dir=query["host"][0], handle=handle)
    if database is not None:
        ensure_database(server, database)
    return server


def ensure_database(server: EmbeddedPostgres, database: str) -> None:
    if not database.replace("_", "").isalnum():
        raise ValueError("database names are plain identifiers")
    # psql takes no bind parameters; the name was checked to be a plain identifier just above.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        # Another process may create it between the check and now; that is fine.
        with contextlib.suppress(subprocess.CalledProcessError):
            server.psql(f'CREATE DATABASE "{database}";')


class Database:
    """The engine and the session maker the rest of the service asks for sessions."""

    def __init__(self, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession] | None = None):
        self.engine = engine
        self.sessionmaker = sessionmaker or async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 10, max_overflow: int = 10) -> Database:
        engine = create_async_engine(
            to_asyncpg_url(url),
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=True,
            connect_args={"server_settings": {"application_name": "phr", "timezone": "UTC"}},
        )
        return cls(engine)

    @classmethod
    def from_settings(cls, settings: Settings, url: str | None = None) -> Database:
        url = url or settings.database_url
        if url is None:
            raise ValueError("no database URL: start the embedded server first")
        return cls.from_url(url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed on success and rolled back on error (the one commit point)."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
