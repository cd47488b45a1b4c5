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

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

if TYPE_CHECKING:
    from core.settings import Settings

EMBEDDED_DB_NAME = "phr"

# How long a new connection may take to open (asyncpg's own default is 60 s). Opening one is milliseconds when the
# server is up; past this it is down or unreachable, and the caller should hear so instead of waiting.
CONNECT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class RequestBounds:
    """Limits for a process that answers people (the API): a request must fail fast, never hang, when the database
    is gone. A frozen or partitioned server accepts the socket and then says nothing, so only client-side timeouts
    end the wait; a stopped one refuses at once. Worst case for one request, frozen server: ``checkout`` in the pool
    queue + ``statement`` for the pre-ping + ~2 s for SQLAlchemy's graceful close of the dead connection: 8 s.
    """

    checkout: float = 2.0  # pool_timeout: waiting for a pooled connection (SQLAlchemy's default is 30 s)
    connect: float = 3.0  # asyncpg connect timeout
    statement: float = 4.0  # asyncpg command_timeout: any one statement, including the pre-ping and COMMIT


# Statement timeouts are for request-serving processes only: the worker's daily sweep, imports and migrations run
# statements that legitimately take minutes.
REQUEST_BOUNDS = RequestBounds()

# Failures that say "the server is gone or unreachable", not "this statement is wrong": SQLSTATE class 08
# (connection exception), 57P01-57P03 (administrator or crash shutdown, "the database system is starting up /
# shutting down") and 53300 (too many connections). asyncpg raises the last ones from connect() unwrapped.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def is_connection_failure(exc: BaseException | None) -> bool:
    """Does ``exc`` (or what it wraps) mean the database cannot be reached right now, so a retry later may work?"""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        # OSError covers refused and reset connections, a missing unix socket and TimeoutError (connect or command
        # timeout); sqlalchemy's TimeoutError is the pool checkout timeout; OperationalError is what other drivers
        # raise for a lost server.
        if isinstance(exc, OSError | sa_exc.TimeoutError | sa_exc.DisconnectionError | sa_exc.OperationalError):
            return True
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return True
        sqlstate = getattr(exc, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        exc = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc.__cause__
    return False


def _discard_connections_in_doubt(context: ExceptionContext) -> None:
    """A connection that timed out or lost its server is in an unknown state: invalidate it (and the pool).

    SQLAlchemy only recognises asyncpg's "connection is closed". A command timeout leaves the connection mid-query
    ("another operation is in progress" on its next use) and an administrator shutdown leaves it dead; returned to
    the pool, either would fail the next request that checks it out. Marking them as disconnects makes SQLAlchemy
    close them and refresh the rest of the pool, so the service recovers as soon as the server is back.
    """
    if not context.is_disconnect and is_connection_failure(context.original_exception):
        context.is_disconnect = True


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
    def from_url(
        cls, url: str, *, pool_size: int = 10, max_overflow: int = 10, bounds: RequestBounds | None = None
    ) -> Database:
        """An engine that survives a database restart; with ``bounds``, one whose callers never wait long.

        ``_discard_connections_in_doubt`` throws away the whole pool on the first lost connection, so after a
        restart one request (per process) gets a 503 and the next ones get fresh connections. The worker and the
        CLI also ``pool_pre_ping`` (a round trip on every checkout) so their long-lived pools fail nothing; the
        API does not: the ping was a quarter of an authenticated request's database CPU (issue 10's profile).
        """
        connect_args: dict[str, Any] = {
            "server_settings": {"application_name": "phr", "timezone": "UTC"},
            "timeout": bounds.connect if bounds else CONNECT_TIMEOUT_SECONDS,
        }
        if bounds is not None:
            connect_args["command_timeout"] = bounds.statement
        engine = create_async_engine(
            to_asyncpg_url(url),
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=bounds is None,
            pool_timeout=bounds.checkout if bounds else 30.0,
            connect_args=connect_args,
        )
        event.listen(engine.sync_engine, "handle_error", _discard_connections_in_doubt)
        return cls(engine)

    @classmethod
    def from_settings(
        cls, settings: Settings, url: str | None = None, *, bounds: RequestBounds | None = None
    ) -> Database:
        url = url or settings.database_url
        if url is None:
            raise ValueError("no database URL: start the embedded server first")
        return cls.from_url(url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow, bounds=bounds)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed on success and rolled back on error (the one commit point)."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
