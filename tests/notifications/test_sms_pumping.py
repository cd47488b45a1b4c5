"""SMS pumping: thousands of code requests to random numbers, from one address and from many.

Whatever gets past the request limits (per address, per number range, per number), the daily budget — reserved
atomically in PostgreSQL before each send, by two workers at once here — caps what reaches the gateway; foreign
numbers never get an SMS at all. CI runs 2,000 requests, ``make reliability`` 10,000 (tests/scale.py).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx
import msgspec
import pytest
from sqlalchemy import func, select

from api.app import create_app
from core.db import Database
from core.models import Channel, DeliveryStatus, Notification
from core.settings import Settings
from notifications.circuit import CircuitBreaker
from notifications.dispatcher import Dispatcher
from notifications.push import build_push_sender
from notifications.sms import GuardedSmsSender, SmsResult
from notifications.worker import PgSmsBudget, Worker
from tests.scale import scaled
from tests.support import serving

REQUESTS = scaled(2000, 10_000)

pytestmark = pytest.mark.reliability
BUDGET = 40
MOBILE_PREFIXES = ("32", "33", "34", "35", "36", "37", "38", "39", "70", "76", "77", "78", "79", "81", "82", "83")
MOBILE_PREFIXES += ("84", "85", "86", "88", "89", "90", "91", "93", "94", "96", "97", "98")
FOREIGN = ("+12025550123", "+447700900123", "+8613800138000", "+85512345678", "+6591234567")


class Gateway:
    """A gateway that records what it was asked to send (the count is what a pumping attacker is paid for)."""

    name = "recording"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, phone_e164: str, text: str, *, request_id: str | None = None) -> SmsResult:
        await asyncio.sleep(0)  # let the other worker interleave between the budget and the send
        self.sent.append(phone_e164)
        return SmsResult(ok=True)

    async def aclose(self) -> None:
        return None


async def _ask(app_client: httpx.AsyncClient, phone: str) -> int:
    return (await app_client.post("/v1/auth/otp", json={"phone": phone})).status_code


async def test_pumping_never_gets_past_the_daily_budget(committed: Database, settings: Settings) -> None:
    rng = random.Random(2026)
    app = create_app(msgspec.structs.replace(settings, sms_daily_limit=BUDGET), committed)
    statuses: Counter[int] = Counter()
    async with serving(app):
        # One address: the per-address limit stops it early. Many addresses, ten numbers each: only the number-
        # range and per-number limits and, in the end, the budget stand in the way.
        addresses = ["198.51.100.7"] + [f"203.0.{n // 250}.{n % 250 + 1}" for n in range(REQUESTS // 20)]
        plan = [(addresses[0], n) for n in range(REQUESTS // 2)]
        plan += [(addresses[1 + n % (len(addresses) - 1)], n) for n in range(REQUESTS // 2)]
        clients = {
            address: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://phr.test"
            )
            for address in addresses
        }
        try:
            for start in range(0, len(plan), 100):
                batch = plan[start : start + 100]
                numbers = [f"0{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10_000_000):07d}" for _ in batch]
                results = await asyncio.gather(
                    *(_ask(clients[address], number) for (address, _n), number in zip(batch, numbers, strict=True))
                )
                statuses.update(results)
            foreign = await asyncio.gather(*(_ask(clients[addresses[-1]], phone) for phone in FOREIGN * 20))
        finally:
            await asyncio.gather(*(c.aclose() for c in clients.values()))
    assert set(statuses) <= {202, 429}, statuses
    assert statuses[429] >= REQUESTS // 2 - 30, "one address gets 30 an hour"
    assert set(foreign) == {422}, "only Vietnamese mobiles get codes"

    async with committed.sessionmaker() as session:
        queued = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.channel == Channel.sms)
        )
        foreign_rows = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.phone.not_like("+84%"))
        )
    assert foreign_rows == 0
    assert queued is not None and queued > BUDGET, "the request limits alone let more through than the budget"

    gateway = Gateway()

    def worker() -> Worker:
        sms = GuardedSmsSender(gateway, budget=PgSmsBudget(committed, BUDGET), breaker=CircuitBreaker())
        dispatcher = Dispatcher(
            push=build_push_sender("log"), sms=sms, secret=settings.secret_key, rate_per_second=100_000.0
        )
        return Worker(committed, dispatcher, batch_size=50)

    async def drain(w: Worker) -> None:
        while await w.run_once():
            pass

    await asyncio.gather(drain(worker()), drain(worker()))
    assert len(gateway.sent) == BUDGET, "exactly the budget reached the gateway, with two workers racing"
    assert len(set(gateway.sent)) == BUDGET
    async with committed.sessionmaker() as session:
        sent = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.status == DeliveryStatus.sent)
        )
        held_back = dict(
            (
                await session.execute(
                    select(Notification.status, func.count())
                    .where(Notification.status != DeliveryStatus.sent, Notification.last_error == "SMS_DAILY_BUDGET")
                    .group_by(Notification.status)
                )
            ).all()
        )
    assert sent == BUDGET
    # The rest would have to wait for tomorrow's budget; a code lives five minutes, so it expires instead.
    assert sum(held_back.values()) == queued - BUDGET
    assert set(held_back) <= {DeliveryStatus.pending, DeliveryStatus.expired}
