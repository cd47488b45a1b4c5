"""Scenario 7: a clinician scans a citizen's QR: ``POST /v1/clinician/shares/redeem`` then the first scoped read
``GET /v1/clinician/grants/{id}/record``, against the citizen's own record read in the same harness.

The citizens make their shares (allergies, conditions, vaccinations; read; 60 minutes) before the clock starts;
a share is single use, so each journey redeems a fresh one. The baseline is the same Python harness, concurrency
and length reading ``GET /v1/citizens/{id}/record`` as the same people: the ratio is the cost of consent (the
redeem, the grant checks, the access-log row) over a plain owner read.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from bench.journeys import Step, run_journeys
from bench.results import headline
from bench.scenarios import BenchContext, Figures
from bench.tokens import citizen_tokens
from core.identity.sessions import SessionService
from core.models import Clinician, StaffRole, SubjectKind

SHARES = 3000
CONCURRENCY = 32
SKIP = 70_000  # a stripe of accounts the other scenarios do not use
SECTIONS = ["allergies", "conditions", "vaccinations"]


async def clinician_token(ctx: BenchContext) -> str:
    """A clinician at the first health station, with a live session (as after password + TOTP)."""
    async with ctx.db.transaction() as session:
        facility = await session.scalar(text("SELECT id FROM facilities WHERE kind = 'health_station' LIMIT 1"))
        doctor = Clinician(
            facility_id=facility,
            full_name="BS. Đo Hiệu Năng",
            role=StaffRole.clinician,
            username=f"bench-{uuid.uuid4().hex[:12]}",
        )
        session.add(doctor)
        await session.flush()
        pair = await SessionService(session, ctx.settings).start(
            SubjectKind.clinician,
            doctor.id,
            method="bench",
            claims={"role": doctor.role.value, "fac": str(facility)},
        )
        return pair.access_token


async def make_shares(ctx: BenchContext, people: list[tuple[str, str]]) -> list[str]:
    """One QR payload per person, made through the API by the person (16 at a time)."""
    payloads: list[str] = []
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=ctx.server_url or "", timeout=30) as client:

        async def one(citizen: str, token: str) -> None:
            async with gate:
                made = await client.post(
                    f"/v1/citizens/{citizen}/shares",
                    json={"sections": SECTIONS, "access": "read", "duration_minutes": 60},
                    headers={"Authorization": f"Bearer {token}"},
                )
            if made.status_code != 201:
                raise RuntimeError(f"making a share answered {made.status_code}")
            payloads.append(made.json()["payload"])

        await asyncio.gather(*(one(citizen, token) for citizen, token in people))
    return payloads


async def run(ctx: BenchContext) -> Figures:
    assert ctx.server_url is not None
    people = [(str(c), t) for c, t in await citizen_tokens(ctx.db, ctx.settings, SHARES, skip=SKIP)]
    payloads = await make_shares(ctx, people)
    doctor = {"Authorization": f"Bearer {await clinician_token(ctx)}"}

    async def redeem_and_read(client: httpx.AsyncClient, payload: str) -> Step:
        step = Step()
        redeemed = await step.call(
            client.post("/v1/clinician/shares/redeem", json={"token": payload}, headers=doctor), expect=201
        )
        if step.ok:
            grant = redeemed.json()["grant_id"]
            await step.call(client.get(f"/v1/clinician/grants/{grant}/record", headers=doctor), expect=200)
        return step

    async def own_read(client: httpx.AsyncClient, person: tuple[str, str]) -> Step:
        citizen, token = person
        step = Step()
        await step.call(
            client.get(f"/v1/citizens/{citizen}/record", headers={"Authorization": f"Bearer {token}"}), expect=200
        )
        return step

    baseline = await run_journeys(ctx.server_url, people * 20, own_read, concurrency=CONCURRENCY, seconds=ctx.seconds)
    shares = await run_journeys(ctx.server_url, payloads, redeem_and_read, concurrency=CONCURRENCY, seconds=ctx.seconds)
    figures: dict[str, Any] = {
        "concurrency": CONCURRENCY,
        "shares_prepared": len(payloads),
        "redeem_and_read": shares.figures(),
        "record_read_same_harness": baseline.figures(),
    }
    return {
        "headlines": [
            headline(
                "share redeem + first scoped read /s",
                round(shares.per_second, 1),
                "journeys/s",
                baseline=round(baseline.per_second, 1),
            ),
            headline(
                "share redeem + read p99",
                round(shares.percentile(99), 1),
                "ms",
                baseline=round(baseline.percentile(99), 1),
            ),
        ],
        "figures": figures,
    }
