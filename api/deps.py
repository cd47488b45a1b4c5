"""Request-scoped dependencies. The database session here is the request's one commit point (STYLE rule 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.errors import DomainError
from core.settings import Settings


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_database(state: State) -> Database:
    db: Database = state.db
    return db


async def provide_db_session(state: State) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed after the handler returns, rolled back if it raises.

    Litestar runs this cleanup before the response is sent, so a failed COMMIT becomes a 5xx instead of a
    success the client would trust.
    """
    db: Database = state.db
    async with db.sessionmaker() as session:
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
