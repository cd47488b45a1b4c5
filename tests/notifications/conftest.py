"""Fixtures for delivery tests: a fake FCM on loopback, committed data, and workers built around them."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.db import Database
from core.ids import uuid7
from core.models import Account, Device, Platform
from core.outbox import Draft, notify_many
from core.settings import Settings
from notifications.circuit import CircuitBreaker
from notifications.dispatcher import Dispatcher
from notifications.fake_fcm import FakeFcm
from notifications.push import build_push_sender
from notifications.sms import ConsoleSmsSender, GuardedSmsSender
from notifications.worker import PgSmsBudget, Worker

# 10:00 in Quảng Ngãi: well outside quiet hours, so tests are not at the mercy of the wall clock.
T0 = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def fake_fcm() -> AsyncIterator[FakeFcm]:
    async with FakeFcm() as fake:
        yield fake


@pytest.fixture
def make_worker(committed: Database, fake_fcm: FakeFcm, settings: Settings, clock: Clock) -> Callable[..., Worker]:
    made: list[Worker] = []

    def make(database: Database | None = None, **options: Any) -> Worker:
        rate = options.pop("rate_per_second", 100_000.0)
        monotonic = options.pop("monotonic", None)
        dispatcher = Dispatcher(
            push=build_push_sender("fcm", fcm_url=fake_fcm.url, project_id="phr-test"),
            sms=GuardedSmsSender(
                ConsoleSmsSender(),
                budget=PgSmsBudget(database or committed, 1000, clock),
                breaker=CircuitBreaker(),
            ),
            secret=settings.secret_key,
            rate_per_second=rate,
            monotonic=monotonic,
        )
        worker = Worker(database or committed, dispatcher, clock=options.pop("clock", clock), **options)
        made.append(worker)
        return worker

    return make


_PHONES = itertools.count(1)


async def add_accounts(
    database: Database, count: int, *, platforms: tuple[str, ...] = ("android",), locale: str = "vi"
) -> list[tuple[uuid.UUID, list[str]]]:
    """Accounts with one device per platform; returns (account id, tokens)."""
    made: list[tuple[uuid.UUID, list[str]]] = []
    async with database.transaction() as session:
        accounts = [Account(id=uuid7(), phone=f"+8490{next(_PHONES):07d}", locale=locale) for _ in range(count)]
        session.add_all(accounts)
        await session.flush()
        for account in accounts:
            tokens = []
            for platform in platforms:
                token = f"tok-{platform}-{account.id.hex}"
                session.add(
                    Device(
                        account_id=account.id,
                        installation_id=f"inst-{platform}-{account.id.hex}",
                        token=token,
                        platform=Platform(platform),
                        locale=locale,
                    )
                )
                tokens.append(token)
            made.append((account.id, tokens))
    return made


async def queue(
    database: Database,
    account_ids: list[uuid.UUID],
    *,
    template: str = "checkup_due",
    per_account: int = 1,
    now: dt.datetime = T0,
    **fields: Any,
) -> list[uuid.UUID]:
    drafts = [
        Draft(template=template, dedupe_key=f"test:{account}:{n}", account_id=account, **fields)
        for account in account_ids
        for n in range(per_account)
    ]
    async with database.transaction() as session:
        return await notify_many(session, drafts, now=now)
