"""A small load generator for multi-step journeys (BENCHMARKS.md: "for multi-step journeys a small Python harness
is fine"): OTP request + verify, device-key challenge + session, share redeem + first scoped read.

``concurrency`` tasks each take the next prepared item and run one journey on it, for at most ``seconds`` or until
the items run out; the latency of a journey is the time of its HTTP calls only (the harness's own work between
them, such as reading the SMS code from the outbox or signing a nonce, is excluded and reported separately).
Clients can be spread over many loopback source addresses (127.x.y.z all reach the server), because the
service limits OTP requests per client address and one address would measure the limiter, not the login.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Step:
    """What a journey reports: the seconds spent in HTTP calls, and whether every call answered as expected."""

    http_seconds: float = 0.0
    ok: bool = True
    status: int | None = None

    async def call(self, coro: Awaitable[httpx.Response], *, expect: int) -> httpx.Response:
        started = time.perf_counter()
        response = await coro
        self.http_seconds += time.perf_counter() - started
        if response.status_code != expect:
            self.ok = False
            self.status = response.status_code
        return response


@dataclass
class JourneyRun:
    completed: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000

    def figures(self) -> dict[str, Any]:
        return {
            "completed": self.completed,
            "failed": self.failed,
            "failures_by_status": self.failures,
            "seconds": round(self.seconds, 2),
            "per_s": round(self.per_second, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else None,
        }


def loopback_addresses(count: int) -> list[str]:
    """``count`` distinct 127/8 addresses in a block picked at random, so a rerun within the hour starts with
    fresh per-address counters."""
    second = random.randint(1, 254)  # noqa: S311 - spreading load, not security
    return [f"127.{second}.{i // 250 + 1}.{i % 250 + 1}" for i in range(count)]


async def run_journeys(
    base_url: str,
    items: Sequence[Any],
    journey: Callable[[httpx.AsyncClient, Any], Awaitable[Step]],
    *,
    concurrency: int,
    seconds: float,
    addresses: Sequence[str] | None = None,
    uses_per_client: int | None = None,
) -> JourneyRun:
    """Run ``journey(client, item)`` over ``items`` with ``concurrency`` tasks for at most ``seconds``.

    With ``addresses``, each client is bound to one of them and replaced after ``uses_per_client`` journeys.
    """
    result = JourneyRun()
    queue = iter(items)
    deadline = time.perf_counter() + seconds
    pool = list(addresses or [])

    def client_for() -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(local_address=pool.pop()) if pool else None
        return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30)

    async def worker() -> None:
        client = client_for()
        uses = 0
        try:
            while time.perf_counter() < deadline:
                item = next(queue, None)
                if item is None:
                    return
                if uses_per_client is not None and uses >= uses_per_client:
                    if not pool:
                        return  # every address used up: the run ends rather than hitting the per-address limit
                    await client.aclose()
                    client, uses = client_for(), 0
                uses += 1
                step = await journey(client, item)
                if step.ok:
                    result.completed += 1
                    result.latencies.append(step.http_seconds)
                else:
                    result.failed += 1
                    key = str(step.status)
                    result.failures[key] = result.failures.get(key, 0) + 1
        finally:
            await client.aclose()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result
