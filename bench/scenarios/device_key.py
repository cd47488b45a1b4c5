"""Scenario 5: the everyday login, by device key: ``POST /v1/auth/device/challenge`` then ``…/session`` with the
nonce signed by the phone's Ed25519 key. No SMS; this is how the app re-opens a session every day.

Keys are registered once per person before the clock starts. A challenge is single use, so each journey signs a
fresh nonce; signing happens in the harness between the two calls and is not counted in the latency.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from joserfc import jws
from joserfc.jwk import OKPKey

from bench.journeys import Step, run_journeys
from bench.results import headline
from bench.scenarios import BenchContext, Figures
from bench.tokens import citizen_tokens

PEOPLE = 200  # each opens many sessions: the per-key state is one row, the cost is per login
CONCURRENCY = 32
SKIP = 50_000  # a stripe of accounts the other scenarios do not use


async def register_keys(ctx: BenchContext) -> list[tuple[str, OKPKey]]:
    # A device key is registered right after an SMS login: sessions of that method, as the app would have.
    pairs = await citizen_tokens(ctx.db, ctx.settings, PEOPLE, skip=SKIP, method="otp")
    keys: list[tuple[str, OKPKey]] = []
    async with httpx.AsyncClient(base_url=ctx.server_url or "", timeout=30) as client:
        for _, token in pairs:
            private = OKPKey.generate_key("Ed25519")
            registered = await client.post(
                "/v1/auth/device/keys",
                json={"algorithm": "Ed25519", "public_key": private.as_dict(private=False), "label": "bench"},
                headers={"Authorization": f"Bearer {token}"},
            )
            if registered.status_code != 201:
                raise RuntimeError(f"registering a device key answered {registered.status_code}")
            keys.append((registered.json()["key_id"], private))
    return keys


async def run(ctx: BenchContext) -> Figures:
    assert ctx.server_url is not None
    keys = await register_keys(ctx)

    async def journey(client: httpx.AsyncClient, item: tuple[str, Any]) -> Step:
        key_id, private = item
        step = Step()
        answer = await step.call(client.post("/v1/auth/device/challenge", json={"key_id": key_id}), expect=200)
        if not step.ok:
            return step
        challenge = answer.json()
        signature = jws.serialize_compact({"alg": "Ed25519"}, challenge["nonce"], private, algorithms=["Ed25519"])
        await step.call(
            client.post(
                "/v1/auth/device/session",
                json={"challenge_id": challenge["challenge_id"], "signature": signature},
            ),
            expect=200,
        )
        return step

    result = await run_journeys(
        ctx.server_url,
        list(itertools.islice(itertools.cycle(keys), 10**6)),
        journey,
        concurrency=CONCURRENCY,
        seconds=ctx.seconds,
    )
    return {
        "headlines": [
            headline("device-key session (challenge + session) /s", round(result.per_second, 1), "sessions/s"),
            headline("device-key session p99", round(result.percentile(99), 1), "ms"),
        ],
        "figures": {"concurrency": CONCURRENCY, "keys": len(keys), **result.figures()},
    }
