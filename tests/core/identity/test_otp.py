"""OTP rules at the service level, with an injected clock."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import unseal
from core.errors import RateLimited, Unauthenticated
from core.identity.otp import OtpService
from core.models import Notification, PhoneGuard
from core.outbox import SEAL_PURPOSE
from core.settings import Settings

T0 = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
PHONE = "0905600001"


async def issue(session: AsyncSession, settings: Settings, now: dt.datetime) -> tuple[str, str]:
    issued = await OtpService(session, settings, now).request_code(PHONE, client_ip="203.0.113.9")
    row = (
        await session.scalars(select(Notification).where(Notification.dedupe_key == f"otp:{issued.challenge_id}"))
    ).one()
    assert row.sealed is not None
    return str(issued.challenge_id), json.loads(unseal(settings.secret_key, SEAL_PURPOSE, row.sealed))["code"]


async def wrong(session: AsyncSession, settings: Settings, challenge: str, code: str, now: dt.datetime) -> Exception:
    bad = f"{(int(code) + 1) % 1_000_000:06d}"
    with pytest.raises((Unauthenticated, RateLimited)) as refused:
        await OtpService(session, settings, now).verify(uuid.UUID(challenge), bad)
    return refused.value


async def test_eleven_failures_lock_the_phone_even_across_resends(session: AsyncSession, settings: Settings) -> None:
    now = T0
    failures = 0
    while True:
        challenge, code = await issue(session, settings, now)
        for _ in range(min(4, 10 - failures)):
            error = await wrong(session, settings, challenge, code, now)
            assert isinstance(error, Unauthenticated)
            failures += 1
        if failures == 10:
            break
        now += dt.timedelta(minutes=20)  # past any resend cool-down: a new code does not reset the count
    guard = (await session.scalars(select(PhoneGuard).execution_options(populate_existing=True))).one()
    assert guard.locked_until == now + dt.timedelta(minutes=15)
    # The eleventh try is refused by the lock, even with the right code, and no fresh code can be asked for.
    with pytest.raises(RateLimited) as locked:
        await OtpService(session, settings, now).verify(uuid.UUID(challenge), code)
    assert locked.value.code == "otp_locked"
    with pytest.raises(RateLimited):
        await OtpService(session, settings, now).request_code(PHONE, client_ip=None)


async def test_the_lock_grows_15_min_then_1_h(session: AsyncSession, settings: Settings) -> None:
    now = T0
    locks = []
    for _ in range(2):
        failures = 0
        while failures < 10:
            challenge, code = await issue(session, settings, now)
            for _ in range(min(5, 10 - failures)):
                await wrong(session, settings, challenge, code, now)
                failures += 1
            now += dt.timedelta(minutes=16)
        guard = (await session.scalars(select(PhoneGuard).execution_options(populate_existing=True))).one()
        assert guard.locked_until is not None
        locks.append(guard.locked_until - (now - dt.timedelta(minutes=16)))
        now = guard.locked_until + dt.timedelta(seconds=1)
    assert locks == [dt.timedelta(minutes=15), dt.timedelta(hours=1)]


async def test_a_code_expires_after_five_minutes(session: AsyncSession, settings: Settings) -> None:
    challenge, code = await issue(session, settings, T0)
    with pytest.raises(Unauthenticated):
        await OtpService(session, settings, T0 + dt.timedelta(minutes=5, seconds=1)).verify(uuid.UUID(challenge), code)
    login = await OtpService(session, settings, T0 + dt.timedelta(minutes=4)).verify(uuid.UUID(challenge), code)
    assert login.needs_link
