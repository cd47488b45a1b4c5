"""The fuzzed app and the world it runs on: the authorization matrix's world, committed in a database of its own.

schemathesis drives an ASGI app from one event loop of its own, in a thread of its own. So the app owns its
database pool (made, used and disposed on that loop by the app's lifespan), and the world is rebuilt from yet
another thread (a blocking portal) through an engine without a pool, so no connection crosses event loops.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import msgspec
from anyio.from_thread import BlockingPortal, start_blocking_portal
from litestar import Litestar
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from api.app import create_app
from core.identity.machines import SCOPE_HIS_EPISODES, SCOPE_IMMUNIZATION
from core.identity.sessions import SessionService
from core.identity.tokens import mint_access_token
from core.ids import uuid7
from core.models import Account, Base, SubjectKind
from core.settings import Settings
from tests.api.test_authorization_matrix import World, build_world
from tests.conftest import REFERENCE_TABLES

# The world is a few dozen rows: deleting them is much faster than TRUNCATE, which rewrites every table's files.
CLEAR_ALL = [
    f'DELETE FROM "{t.name}"'  # noqa: S608 - our own models' table names
    for t in reversed(Base.metadata.sorted_tables)
    if t.name not in REFERENCE_TABLES
]

CITIZEN_A_PHONE = "+84905900001"  # as build_world registers citizen A's account

# A well-formed bearer token no server issued: signed by nobody, for the "garbage token" probes.
GARBAGE_TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJub2JvZHkifQ.c2lnbmF0dXJl"


@dataclass
class FuzzWorld:
    """The matrix's world plus the callers the fuzzer adds: a machine with every scope, and a logout-only session."""

    world: World
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def id(self, name: str) -> str:
        return str(self.world.ids[name])


class WorldBuilder:
    """Truncates the fuzz database and builds a fresh world in it, from a thread of its own."""

    def __init__(self, portal: BlockingPortal, engine: AsyncEngine, settings: Settings) -> None:
        self.portal = portal
        self.engine = engine
        self.settings = settings

    def rebuild(self) -> FuzzWorld:
        return self.portal.call(self._rebuild)

    async def _rebuild(self) -> FuzzWorld:
        async with self.engine.begin() as conn:
            for statement in CLEAR_ALL:
                await conn.execute(text(statement))
        async with async_sessionmaker(self.engine, expire_on_commit=False)() as session:
            world = await build_world(session, self.settings)
            await session.commit()
        headers = dict(world.headers)
        machine = mint_access_token(
            self.settings.jwt_private_key_pem,
            uuid7(),
            kind="machine",
            extra={"scope": f"{SCOPE_HIS_EPISODES} {SCOPE_IMMUNIZATION}"},
        )
        headers["machine"] = {"Authorization": f"Bearer {machine}"}
        # Logout ends the session it is called with: it gets one of its own, not citizen A's.
        async with async_sessionmaker(self.engine, expire_on_commit=False)() as session:
            account_a = await session.scalar(select(Account.id).where(Account.phone == CITIZEN_A_PHONE))
            assert account_a is not None
            pair = await SessionService(session, self.settings).start(SubjectKind.account, account_a, method="otp")
            await session.commit()
        headers["logout"] = {"Authorization": f"Bearer {pair.access_token}"}
        return FuzzWorld(world=world, headers=headers)


@contextmanager
def fuzz_target(settings: Settings, database_url: str) -> Iterator[tuple[Litestar, WorldBuilder]]:
    """The app under fuzzing (owning its pool) and the world builder, both on the fuzz database."""
    app = create_app(msgspec.structs.replace(settings, database_url=database_url, db_pool_size=4, db_max_overflow=4))
    # Made, used and disposed only in the portal's event loop, so it may keep a connection between rebuilds.
    engine = create_async_engine(database_url, pool_size=1, max_overflow=1)
    with start_blocking_portal() as portal:
        try:
            yield app, WorldBuilder(portal, engine, settings)
        finally:
            portal.call(engine.dispose)
