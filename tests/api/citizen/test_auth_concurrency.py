"""Real concurrent requests against committed data: counters and single use hold under a race."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from sqlalchemy import func, select

from api.app import create_app
from core.crypto import unseal
from core.db import Database
from core.models import AuthSession, Notification, OtpChallenge, PhoneGuard
from core.outbox import SEAL_PURPOSE
from core.settings import Settings
from tests.conftest import LEAK_CANARIES
from tests.support import serving


async def code_for(database: Database, settings: Settings, challenge_id: str) -> str:
    async with database.sessionmaker() as session:
        row = (
            await session.scalars(select(Notification).where(Notification.dedupe_key == f"otp:{challenge_id}"))
        ).one()
    assert row.sealed is not None
    code: str = json.loads(unseal(settings.secret_key, SEAL_PURPOSE, row.sealed))["code"]
    LEAK_CANARIES.add(code)
    return code


async def test_100_concurrent_wrong_codes_count_exactly_five(committed: Database, settings: Settings) -> None:
    async with serving(create_app(settings, committed)) as client:
        challenge = (await client.post("/v1/auth/otp", json={"phone": "0905500001"})).json()["challenge_id"]
        code = await code_for(committed, settings, challenge)
        wrong = f"{(int(code) + 7) % 1_000_000:06d}"
        responses = await asyncio.gather(
            *(client.post("/v1/auth/otp/verify", json={"challenge_id": challenge, "code": wrong}) for _ in range(100))
        )
    assert Counter(r.status_code for r in responses) == {401: 100}
    async with committed.sessionmaker() as session:
        attempts = await session.scalar(select(OtpChallenge.attempts).where(OtpChallenge.id == challenge))
        failures = await session.scalar(select(PhoneGuard.failures).where(PhoneGuard.phone == "+84905500001"))
        sessions = await session.scalar(select(func.count()).select_from(AuthSession))
    assert attempts == 5
    assert failures == 5
    assert sessions == 0


async def test_100_concurrent_right_codes_open_one_session(committed: Database, settings: Settings) -> None:
    async with serving(create_app(settings, committed)) as client:
        challenge = (await client.post("/v1/auth/otp", json={"phone": "0905500002"})).json()["challenge_id"]
        code = await code_for(committed, settings, challenge)
        responses = await asyncio.gather(
            *(client.post("/v1/auth/otp/verify", json={"challenge_id": challenge, "code": code}) for _ in range(100))
        )
    assert Counter(r.status_code for r in responses) == {200: 1, 401: 99}
    async with committed.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(AuthSession)) == 1


async def test_concurrent_refreshes_of_one_token_leave_no_live_session(committed: Database, settings: Settings) -> None:
    async with serving(create_app(settings, committed)) as client:
        challenge = (await client.post("/v1/auth/otp", json={"phone": "0905500003"})).json()["challenge_id"]
        code = await code_for(committed, settings, challenge)
        tokens = (await client.post("/v1/auth/otp/verify", json={"challenge_id": challenge, "code": code})).json()
        responses = await asyncio.gather(
            *(client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}) for _ in range(20))
        )
    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] == 1, "one rotation wins"
    assert statuses[401] == 19
    # Every other presentation was a reuse, so the family is revoked: the winner's new token is dead too.
    async with committed.sessionmaker() as session:
        live = await session.scalar(
            select(func.count()).select_from(AuthSession).where(AuthSession.revoked_at.is_(None))
        )
    assert live == 0
