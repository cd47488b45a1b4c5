"""Which errors mean "the database is unreachable, retry later" (503 in the API, wait-and-retry in the worker)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from core.db import is_connection_failure


def wrapped(error: Exception, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    """As SQLAlchemy raises it: the adapter's error, caused by asyncpg's, wrapped in a DBAPIError."""
    adapted = Exception(str(error))
    adapted.sqlstate = getattr(error, "sqlstate", None)  # type: ignore[attr-defined]
    adapted.__cause__ = error
    return sa_exc.DBAPIError("SELECT 1", {}, adapted, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(),
        FileNotFoundError(".s.PGSQL.5432"),  # a stopped server's unix socket is gone
        TimeoutError(),  # connect or command timeout: a frozen or partitioned server
        sa_exc.TimeoutError("QueuePool limit reached"),
        asyncpg.CannotConnectNowError("the database system is starting up"),  # raised by connect() unwrapped
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        wrapped(asyncpg.AdminShutdownError("terminating connection due to administrator command")),
        wrapped(asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")),
        wrapped(asyncpg.InterfaceError("another operation is in progress"), invalidated=True),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_unreachable_database_is_a_connection_failure(error: Exception) -> None:
    assert is_connection_failure(error)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(asyncpg.UniqueViolationError("duplicate key")),
        wrapped(asyncpg.UndefinedTableError("relation does not exist")),
        wrapped(asyncpg.QueryCanceledError("canceling statement due to statement timeout")),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_wrong_statement_is_not(error: Exception) -> None:
    assert not is_connection_failure(error)
