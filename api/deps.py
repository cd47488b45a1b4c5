"""Request-scoped dependencies. The database session here is the request's one commit point (STYLE rule 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

from litestar import Request
from litestar.datastructures import State
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.errors import DomainError
from core.immunization.service import Programme
from core.settings import Settings


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_database(state: State) -> Database:
    db: Database = state.db
    return db


OPEN_SESSIONS = "phr.open_db_sessions"


async def provide_db_session(state: State, scope: Scope) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed after the handler returns, rolled back if it raises.

    Litestar runs this cleanup before the response is sent, so a failed COMMIT becomes a 5xx instead of a
    success the client would trust. The session is also registered in the scope for ``close_leftover_sessions``.
    """
    db: Database = state.db
    leftovers: list[AsyncSession] = cast(dict[str, Any], scope).setdefault(OPEN_SESSIONS, [])
    async with db.sessionmaker() as session:
        leftovers.append(session)
        try:
            yield session
        except DomainError as exc:
            if exc.keep_changes:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()
        finally:
            leftovers.remove(session)


def close_leftover_sessions(app: ASGIApp) -> ASGIApp:
    """Roll back and close sessions whose dependency never got to clean up.

    Litestar only finalises generator dependencies once all of a handler's dependencies are resolved. When a
    later one raises (a guard refusing the token), the session generator is left suspended until garbage
    collection, holding its connection and transaction. This middleware ends it as soon as the response is out.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            for session in cast(dict[str, Any], scope).pop(OPEN_SESSIONS, []):
                await session.close()

    return middleware


def programme_of(request: Request[Any, Any, Any]) -> Programme:
    """The province's immunization programme (schedule + optional series), for services that re-evaluate it."""
    settings: Settings = request.app.state.settings
    return Programme.from_settings(settings)
