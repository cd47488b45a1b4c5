"""``phr bench profile``: where a request of the hot paths spends its time, by pyinstrument.

    PHR_DATA_DIR=/tmp/bench .venv/bin/phr bench profile                      # record and booking, 400 requests each
    .venv/bin/phr bench profile --only record --requests 1000 --concurrency 16

The benchmarks (``phr bench run``) say how fast; this says why. The app runs in this process (the production
``create_app``, no granian: a profiler sees one interpreter only) and httpx drives it through its ASGI interface,
``--concurrency`` requests in flight, with real access tokens (``bench/tokens.py``) against the database of the
settings, which must hold a seeded province. Only the timed requests are profiled: token minting, slot picking and
a short warm-up happen outside. Each scenario writes ``bench/results/<date>-profile-<scenario>.txt`` (the call
tree as text) and ``.html`` (the same, to explore in a browser).

Bookings are real and stay, like the booking scenario's: they go to slots of a later day than the scenario's hot
slots, by people outside both the record scenario's and the booking scenario's slices (see ``booking_calls``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pyinstrument import Profiler
from sqlalchemy import text

from api.app import create_app
from bench.results import ROOT, git_commit, load_average
from bench.run import database_facts
from bench.scenarios.booking import HOT_SLOT_ROWS, HOT_SLOTS
from bench.scenarios.booking import SKIP_RANGE as BOOKING_SKIP_RANGE
from bench.scenarios.record import PEOPLE as RECORD_PEOPLE
from bench.tokens import citizen_tokens
from core.db import Database
from core.settings import Settings

SCENARIOS = ("record", "booking")
# People who book: past the record scenario's (their records stay as the record scenario measures them) and before
# the booking scenario's random stripe (who would get 409 already_booked on a day we had booked them for). A random
# offset, so a second profile books mostly other people.
BOOKING_PEOPLE = (RECORD_PEOPLE, BOOKING_SKIP_RANGE[0])
OWN_SLOTS = 20


@dataclass
class ProfileOptions:
    only: list[str] = field(default_factory=lambda: list(SCENARIOS))
    requests: int = 400
    concurrency: int = 8
    out: Path = ROOT / "bench" / "results"
    warmup: int = 16  # unprofiled first requests: pool connections, prepared statements, Litestar's first calls
    interval: float = 0.001  # pyinstrument's sampling interval, seconds


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    headers: dict[str, str]
    json: dict[str, str] | None = None


@dataclass
class Drive:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


@dataclass(frozen=True)
class ProfileReport:
    scenario: str
    text_path: Path
    html_path: Path
    drive: Drive


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def record_calls(db: Database, settings: Settings, count: int) -> list[Call]:
    """``count`` record summaries, rotating through the people the record scenario reads."""
    pairs = await citizen_tokens(db, settings, min(count, RECORD_PEOPLE), method="bench-profile")
    if not pairs:
        raise RuntimeError("no account acts as its own citizen: run `phr bench seed` first")
    rotation = (pairs[i % len(pairs)] for i in range(count))
    return [Call("GET", f"/v1/citizens/{citizen}/record", bearer(token)) for citizen, token in rotation]


async def own_slots(db: Database, need: int) -> list[uuid.UUID]:
    """``OWN_SLOTS`` slots a day or more after the booking scenario's hot ones, with room for ``need`` bookings.

    One booking per person, service and day is the rule: on the hot slots' day our people could stand in the way of
    the scenario's (and the scenario fills some of those slots on purpose). The latest slots are the furthest away.
    """
    async with db.transaction() as session:
        ids = list(
            (
                await session.scalars(
                    text(
                        f"WITH hot AS (SELECT starts_at {HOT_SLOT_ROWS}) "  # noqa: S608 - the booking module's constant
                        "SELECT id FROM slots WHERE starts_at > (SELECT max(starts_at) FROM hot) + interval '1 day' "
                        "ORDER BY starts_at DESC, id LIMIT :own"
                    ),
                    {"n": HOT_SLOTS, "own": OWN_SLOTS},
                )
            ).all()
        )
        if not ids:
            raise RuntimeError("no slots after the booking scenario's day: seed with more --slot-days")
        # Room for every booking: the profile is of the path that books, not of 409 slot_full.
        await session.execute(
            text("UPDATE slots SET capacity = greatest(capacity, booked + :seats) WHERE id = ANY(:ids)"),
            {"seats": -(-need // len(ids)), "ids": ids},
        )
    return ids


async def booking_calls(db: Database, settings: Settings, count: int) -> list[Call]:
    """``count`` bookings by as many different people, each with its own Idempotency-Key, as booking.py makes."""
    async with db.transaction() as session:
        accounts = int(
            await session.scalar(
                text(
                    "SELECT count(*) FROM account_citizens ac "
                    "JOIN accounts a ON a.id = ac.account_id AND a.status = 'active'"
                )
            )
            or 0
        )
    low, high = BOOKING_PEOPLE
    top = min(high, accounts) - count
    skip = random.randint(low, top) if top > low else 0  # noqa: S311 - a spread of people, not a secret
    pairs = await citizen_tokens(db, settings, count, skip=skip, method="bench-profile")
    if len(pairs) < count:
        raise RuntimeError(f"{count} bookings need {count} people with the app; the database has {len(pairs)}")
    slots = await own_slots(db, count)
    run_id = uuid.uuid4().hex[:8]  # a key seen before would replay that run's stored answer
    return [
        Call(
            "POST",
            f"/v1/citizens/{citizen}/appointments/",
            bearer(token) | {"Idempotency-Key": f"profile-{run_id}-{i}"},
            {"slot_id": str(slots[i % len(slots)])},
        )
        for i, (citizen, token) in enumerate(pairs)
    ]


BUILDERS = {"record": record_calls, "booking": booking_calls}


async def drive(http: httpx.AsyncClient, calls: list[Call], concurrency: int) -> Drive:
    """Every call, ``concurrency`` at a time: each worker takes the next call when its last one is answered."""
    result = Drive()
    queue = iter(calls)  # shared; no await between next() and the request, so no two workers take one call

    async def worker() -> None:
        for call in queue:
            started = time.perf_counter()
            response = await http.request(call.method, call.url, headers=call.headers, json=call.json)
            result.latencies.append(time.perf_counter() - started)
            result.statuses[response.status_code] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


def header(scenario: str, options: ProfileOptions, result: Drive, load: list[float]) -> str:
    count = len(result.latencies)
    mean_ms = 1000 * sum(result.latencies) / count if count else 0.0
    statuses = ", ".join(f"{code} × {n}" for code, n in sorted(result.statuses.items()))
    return "\n".join(
        [
            f"PHR profile: {scenario}",
            f"date (UTC):   {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
            f"requests:     {count} ({statuses}), concurrency {options.concurrency}, after {options.warmup} unprofiled",
            f"wall time:    {result.seconds:.2f} s, {count / result.seconds if result.seconds else 0:.1f} req/s",
            f"per request:  {mean_ms:.2f} ms mean latency, {1000 * result.seconds / max(count, 1):.2f} ms of wall time",
            f"machine:      {os.cpu_count()} CPUs, load average before {load}",
            f"git commit:   {git_commit()}",
            "note:         in-process and under the profiler: compare the shares of the tree, not the absolute times",
            "",
            "",
        ]
    )


async def profile_scenario(
    http: httpx.AsyncClient, scenario: str, calls: list[Call], options: ProfileOptions, stamp: str
) -> ProfileReport:
    await drive(http, calls[: options.warmup], options.concurrency)
    load = load_average()
    # async_mode "enabled": time a request spends awaiting (the database, mostly) is charged to the line of our
    # code that awaited, not to the event loop or to whichever other request happened to run meanwhile. The
    # workers are created inside the profiled context, so all of them are seen.
    profiler = Profiler(interval=options.interval, async_mode="enabled")
    profiler.start()
    try:
        result = await drive(http, calls[options.warmup :], options.concurrency)
    finally:
        profiler.stop()
    options.out.mkdir(parents=True, exist_ok=True)
    text_path = options.out / f"{stamp}-profile-{scenario}.txt"
    html_path = text_path.with_suffix(".html")
    text_path.write_text(header(scenario, options, result, load) + profiler.output_text(unicode=True, color=False))
    html_path.write_text(profiler.output_html())
    return ProfileReport(scenario, text_path, html_path, result)


async def profile_scenarios(
    settings: Settings, options: ProfileOptions, say: Callable[[str], None] = print
) -> list[ProfileReport]:
    """The core of the command, for a resolved and migrated database; the caller owns the database's lifetime."""
    unknown = [name for name in options.only if name not in BUILDERS]
    if unknown:
        raise ValueError(f"unknown scenarios: {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    if options.requests < 1 or options.concurrency < 1:
        raise ValueError("--requests and --concurrency must be at least 1")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H%M")
    db = Database.from_settings(settings)  # for the set-up only; the app opens its own pool, as in production
    reports: list[ProfileReport] = []
    try:
        if (await database_facts(settings))[1] == 0:
            raise RuntimeError("the database has no citizens: run `phr bench seed` first")
        app = create_app(settings)
        async with app.lifespan():
            # Litestar types its ASGI scopes more narrowly than httpx's plain mappings; the protocol is the same.
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://phr.bench") as http:
                for name in options.only:
                    # Tokens live 15 minutes: minted right before their scenario, not all at the start.
                    calls = await BUILDERS[name](db, settings, options.warmup + options.requests)
                    report = await profile_scenario(http, name, calls, options, stamp)
                    say(f"{name}: {dict(report.drive.statuses)} in {report.drive.seconds:.1f} s -> {report.text_path}")
                    reports.append(report)
    finally:
        await db.dispose()
    return reports


def run_profile(settings: Settings, options: ProfileOptions, say: Callable[[str], None] = print) -> list[ProfileReport]:
    # One line per request from httpx would bury the summary lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return asyncio.run(profile_scenarios(settings, options, say))
