"""``POST /v1/auth/otp`` takes as long for a registered number as for an unknown one: the answer's timing must not
tell an attacker who has an account (privacy-and-security.md, "SMS codes": the same answer for every number).

Known and unknown numbers are asked for in random interleaved pairs, each number once, against a database that
really commits. The verdict: a two-sided Mann–Whitney U test finds no difference (p > 0.01) and the medians are
less than 5 ms apart. ``test_the_timing_test_catches_a_slower_known_path`` shows the same check failing when the
known path does a little more work.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import random
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select

from api.app import create_app
from core.db import Database
from core.identity.otp import OtpService
from core.ids import uuid7
from core.models import Account, AccountCitizen, Citizen, Sex
from core.settings import Settings
from tests.scale import scaled
from tests.support import serving

pytestmark = pytest.mark.reliability

SAMPLES = scaled(300, 2000)  # per group
ALPHA = 0.01
MAX_MEDIAN_GAP_MS = 5.0
PAIRS_PER_IP = 12  # the service allows 30 code requests per address and hour
PER_PREFIX = 250  # and 300 per "+84 9xx x" prefix


# -- the statistic ----------------------------------------------------------------------------------------------
def mann_whitney_u(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """U of ``x`` and the two-sided p-value: normal approximation with tie and continuity correction (as scipy's
    ``mannwhitneyu(x, y, method="asymptotic")``)."""
    n1, n2 = len(x), len(y)
    n = n1 + n2
    pooled = sorted([(v, 0) for v in x] + [(v, 1) for v in y])
    rank_sum_x, ties, i = 0.0, 0.0, 0
    while i < n:
        j = i
        while j + 1 < n and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        average_rank = (i + j) / 2 + 1
        rank_sum_x += average_rank * sum(1 for k in range(i, j + 1) if pooled[k][1] == 0)
        tied = j - i + 1
        ties += tied**3 - tied
        i = j + 1
    u = rank_sum_x - n1 * (n1 + 1) / 2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return u, 1.0
    z = max(0.0, abs(u - n1 * n2 / 2) - 0.5) / math.sqrt(variance)
    return u, min(1.0, math.erfc(z / math.sqrt(2)))


def test_mann_whitney_matches_the_reference_values() -> None:
    # scipy's documentation example (males vs females): U = 17, asymptotic p = 0.11134688653314041.
    u, p = mann_whitney_u([19, 22, 16, 29, 24], [20, 11, 17, 12])
    assert u == 17
    assert p == pytest.approx(0.11134688653314041, rel=1e-9)
    # With ties, by hand: ranks 1, 3, 3, 5.5 for x → U = 2.5; tie term 24 + 6 + 6; variance 16/12·(9 − 36/56).
    u, p = mann_whitney_u([1, 2, 2, 3], [2, 3, 4, 4])
    assert u == 2.5
    assert p == pytest.approx(math.erfc((8 - 2.5 - 0.5) / math.sqrt(78 / 7) / math.sqrt(2)), rel=1e-12)
    # U counts the pairs x wins (ties half), both ways round it sums to n1·n2, and the p-value is symmetric.
    x, y = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0], [2.0, 6.0, 5.0, 3.0, 5.0]
    assert mann_whitney_u(x, y)[0] == sum((a > b) + 0.5 * (a == b) for a in x for b in y)
    assert mann_whitney_u(x, y)[0] + mann_whitney_u(y, x)[0] == len(x) * len(y)
    assert mann_whitney_u(x, y)[1] == mann_whitney_u(y, x)[1]
    assert mann_whitney_u([1.0] * 5, [1.0] * 7) == (17.5, 1.0)
    assert mann_whitney_u(list(range(100)), list(range(100, 200)))[1] < 1e-30


@dataclass(frozen=True)
class Verdict:
    known_ms: float
    unknown_ms: float
    p_value: float

    @property
    def gap_ms(self) -> float:
        return self.known_ms - self.unknown_ms

    @property
    def indistinguishable(self) -> bool:
        return self.p_value > ALPHA and abs(self.gap_ms) < MAX_MEDIAN_GAP_MS

    def __str__(self) -> str:
        return (
            f"median known {self.known_ms:.3f} ms, unknown {self.unknown_ms:.3f} ms, "
            f"difference {self.gap_ms:+.3f} ms, Mann-Whitney p = {self.p_value:.4f}"
        )


def verdict(known: Sequence[float], unknown: Sequence[float]) -> Verdict:
    return Verdict(statistics.median(known), statistics.median(unknown), mann_whitney_u(known, unknown)[1])


# -- the measurement --------------------------------------------------------------------------------------------
def numbers(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct mobile numbers, at most PER_PREFIX under one rate-limited prefix."""
    blocks = rng.sample(range(1000), math.ceil(count / PER_PREFIX))
    return [f"07{b:03d}{n:05d}" for b in blocks for n in rng.sample(range(100_000), PER_PREFIX)][:count]


def client_ip_from_header(app: Litestar) -> Callable[..., Awaitable[None]]:
    """The address the request comes from, set by the test: one address would hit the per-address limit."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            ip = dict(scope["headers"]).get(b"x-test-client-ip", b"127.0.0.1").decode()
            scope = {**scope, "client": (ip, 40000)}
        await app(scope, receive, send)  # type: ignore[arg-type]

    return wrapped


@asynccontextmanager
async def otp_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app):  # the app's lifespan
        transport = httpx.ASGITransport(app=client_ip_from_header(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://phr.test") as http:
            yield http


async def register(database: Database, phones: Sequence[str]) -> None:
    """Known numbers: an account that logs in with the number, linked to the person's record that carries it."""
    async with database.sessionmaker() as session:
        for phone in phones:
            e164 = "+84" + phone[1:]
            citizen = Citizen(
                id=uuid7(), full_name="Đã đăng ký", sex=Sex.female, date_of_birth=dt.date(1990, 1, 1), phone=e164
            )
            account = Account(id=uuid7(), phone=e164)
            session.add_all([citizen, account])
            await session.flush()
            session.add(AccountCitizen(account_id=account.id, citizen_id=citizen.id))
        await session.commit()


async def measure(
    http: httpx.AsyncClient, known: Sequence[str], unknown: Sequence[str], *, network: int
) -> tuple[list[float], ...]:
    """Milliseconds per request, the two groups asked in random interleaved pairs from rotating addresses."""
    rng = random.Random(11)
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for i, pair in enumerate(zip(known, unknown, strict=True)):
        order = [("known", pair[0]), ("unknown", pair[1])]
        rng.shuffle(order)
        address = i // PAIRS_PER_IP
        headers = {"x-test-client-ip": f"10.{network}.{address // 250}.{address % 250 + 1}"}
        for group, phone in order:
            start = time.perf_counter()
            response = await http.post("/v1/auth/otp", json={"phone": phone}, headers=headers)
            elapsed = (time.perf_counter() - start) * 1000
            assert response.status_code == 202, response.text
            times[group].append(elapsed)
    return times["known"], times["unknown"]


async def run_experiment(app: Litestar, database: Database, samples: int, seed: int) -> Verdict:
    rng = random.Random(seed)
    pool = numbers(2 * samples + 40, rng)
    rng.shuffle(pool)
    known, unknown, warm = pool[:samples], pool[samples : 2 * samples], pool[2 * samples :]
    await register(database, known)
    async with otp_client(app) as http:
        await measure(http, warm[:20], warm[20:], network=1)  # connections and caches warmed; discarded
        known_ms, unknown_ms = await measure(http, known, unknown, network=2)
    return verdict(known_ms, unknown_ms)


async def test_known_and_unknown_numbers_take_the_same_time(committed: Database, settings: Settings) -> None:
    result = await run_experiment(create_app(settings, committed), committed, SAMPLES, seed=20261111)
    print(f"\nOTP request timing, {SAMPLES} samples per group: {result}")
    assert result.indistinguishable, str(result)


SLOWER_BY = 0.010  # seconds: past the 5 ms bound, a branch a careless change could add (an extra query, an SMS)
SLOWER_SAMPLES = 60


async def test_the_timing_test_catches_a_slower_known_path(
    committed: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same check, on a service whose known-number path does more work than the unknown one, fails."""
    request_code = OtpService.request_code

    async def branching(self: OtpService, raw_phone: str, *, client_ip: str | None) -> Any:
        account = await self.session.scalar(select(Account.id).where(Account.phone == "+84" + raw_phone[1:]))
        if account is not None:
            await asyncio.sleep(SLOWER_BY)
        return await request_code(self, raw_phone, client_ip=client_ip)

    monkeypatch.setattr(OtpService, "request_code", branching)
    result = await run_experiment(create_app(settings, committed), committed, SLOWER_SAMPLES, seed=7)
    print(f"\nOTP timing, known path {SLOWER_BY * 1000:.0f} ms slower, {SLOWER_SAMPLES} samples per group: {result}")
    assert not result.indistinguishable, str(result)
    assert result.p_value <= ALPHA, "the rank test sees it, not only the median bound"
