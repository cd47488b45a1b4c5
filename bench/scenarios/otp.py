"""Scenario 4: SMS login, ``POST /v1/auth/otp`` then ``POST /v1/auth/otp/verify``, as many people at once.

Each journey is a different person (the per-number cooldown allows one code a minute) whose phone is picked at
random among the seeded accounts; clients come from many loopback addresses, 25 logins each, under the per-address
limit of 30 an hour. The harness reads each code where the SMS worker would, from the sealed outbox row; that
read is not part of the measured latency. Absolute figures: BENCHMARKS.md sets no baseline for logins.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from bench.journeys import Step, loopback_addresses, run_journeys
from bench.results import headline
from bench.scenarios import BenchContext, Figures
from core.crypto import unseal
from core.db import Database
from core.outbox import SEAL_PURPOSE

CONCURRENCY = 32
LOGINS_PER_ADDRESS = 25  # the service allows 30 code requests an hour from one address


async def random_phones(db: Database, count: int) -> list[str]:
    """Phones of active accounts, a random sample (TABLESAMPLE: no sort of 700,000 rows)."""
    async with db.transaction() as session:
        rows = await session.scalars(
            text(
                "SELECT phone FROM accounts TABLESAMPLE SYSTEM (5) WHERE status = 'active' "
                "AND phone NOT IN (SELECT phone FROM phone_guards WHERE last_sent_at > now() - interval '1 day') "
                "LIMIT :n"
            ),
            {"n": count},
        )
        phones = list(rows.all())
    random.shuffle(phones)
    return phones


def code_reader(ctx: BenchContext) -> Any:
    async def code_for(challenge_id: str) -> str:
        async with ctx.db.transaction() as session:
            sealed = await session.scalar(
                text("SELECT sealed FROM notifications WHERE dedupe_key = :key"), {"key": f"otp:{challenge_id}"}
            )
        code: str = json.loads(unseal(ctx.settings.secret_key, SEAL_PURPOSE, sealed))["code"]
        return code

    return code_for


async def run(ctx: BenchContext) -> Figures:
    assert ctx.server_url is not None
    budget = CONCURRENCY * 400  # more people than a run can log in, so the clock ends it, not the list
    phones = await random_phones(ctx.db, budget)
    code_for = code_reader(ctx)

    async def journey(client: httpx.AsyncClient, phone: str) -> Step:
        step = Step()
        issued = await step.call(client.post("/v1/auth/otp", json={"phone": phone}), expect=202)
        if not step.ok:
            return step
        challenge = issued.json()["challenge_id"]
        code = await code_for(challenge)
        await step.call(client.post("/v1/auth/otp/verify", json={"challenge_id": challenge, "code": code}), expect=200)
        return step

    addresses = loopback_addresses(len(phones) // LOGINS_PER_ADDRESS + CONCURRENCY)
    result = await run_journeys(
        ctx.server_url,
        phones,
        journey,
        concurrency=CONCURRENCY,
        seconds=ctx.seconds,
        addresses=addresses,
        uses_per_client=LOGINS_PER_ADDRESS,
    )
    return {
        "headlines": [
            headline("OTP login (request + verify) /s", round(result.per_second, 1), "logins/s"),
            headline("OTP login p99", round(result.percentile(99), 1), "ms"),
        ],
        "figures": {"concurrency": CONCURRENCY, "run_id": uuid.uuid4().hex[:8], **result.figures()},
    }
