"""The worker loop outlives a database that is down when it claims, and delivers once the database is back."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.models import DeliveryStatus, Notification
from notifications.circuit import CircuitBreaker
from notifications.dispatcher import Dispatcher
from notifications.fake_fcm import FakeFcm
from notifications.push import build_push_sender
from notifications.sms import ConsoleSmsSender, GuardedSmsSender
from notifications.worker import PgSmsBudget, Worker
from tests.notifications.conftest import T0, add_accounts, queue
from tests.reliability.pg import ThrowawayPostgres

pytestmark = pytest.mark.reliability


async def sent(database: Database) -> int:
    async with database.sessionmaker() as session:
        query = select(func.count()).select_from(Notification).where(Notification.status == DeliveryStatus.sent)
        return int(await session.scalar(query) or 0)


async def test_the_worker_waits_out_a_stopped_database_and_then_delivers(throwaway_pg: ThrowawayPostgres) -> None:
    database = Database.from_url(await throwaway_pg.create_database())
    async with FakeFcm() as fake:
        try:
            accounts = await add_accounts(database, 20)
            ids = await queue(database, [a for a, _ in accounts], template="checkup_due")
            worker = Worker(
                database,
                Dispatcher(
                    push=build_push_sender("fcm", fcm_url=fake.url, project_id="phr-test"),
                    sms=GuardedSmsSender(
                        ConsoleSmsSender(), budget=PgSmsBudget(database, 10), breaker=CircuitBreaker()
                    ),
                    secret="s" * 32,
                    rate_per_second=1000,
                ),
                poll_interval=0.2,
                clock=lambda: T0,  # outside quiet hours, whatever the time of the run
            )
            await asyncio.to_thread(throwaway_pg.stop, "fast")
            stop = asyncio.Event()
            running = asyncio.create_task(worker.run(stop))
            await asyncio.sleep(2)  # several claims meet a missing server
            assert not running.done(), "the worker died with the database"
            await asyncio.to_thread(throwaway_pg.start)
            async with asyncio.timeout(30):
                while await sent(database) < len(ids):
                    await asyncio.sleep(0.1)
            stop.set()
            await running
            await worker.dispatcher.push.aclose()
        finally:
            await database.dispose()
    assert Counter(fake.delivered) == Counter({str(i): 1 for i in ids})
