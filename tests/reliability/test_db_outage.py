"""The API through a database outage, served for real (granian in its own process) under a steady load.

The database first freezes (every server process stopped with SIGSTOP: connections open but nothing answers, as
behind a network partition), then goes down (``pg_ctl stop -m fast``), then comes back. Throughout, the API answers
503 problem+json with ``Retry-After`` and never a 500; no request waits 10 s; service is back within 30 s of the
restart; every write the API acknowledged with a 2xx is in the database afterwards.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from api.errors import PROBLEM_JSON, TITLES
from core.db import Database
from core.ids import uuid7
from core.models import Account, AccountCitizen, Citizen, Sex, Vital
from core.settings import load_settings
from tests.reliability.conftest import process_env
from tests.reliability.pg import ThrowawayPostgres
from tests.scale import scaled, scaled_seconds
from tests.support import login

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = scaled(6, 16)
FROZEN_SECONDS = scaled_seconds(12, 30)  # longer than MAX_LATENCY: an unbounded wait cannot pass unseen
DOWN_SECONDS = scaled_seconds(4, 60)
AFTER_SECONDS = scaled_seconds(5, 35)  # load kept on after the restart
MAX_LATENCY = 10.0
MAX_RECOVERY = 30.0


@dataclass
class Outcome:
    started: float
    seconds: float
    status: int | str  # a status code, or the transport error's name
    retry_after: str | None = None
    content_type: str | None = None
    problem: dict[str, object] | None = None


@dataclass
class Load:
    outcomes: list[Outcome] = field(default_factory=list)
    acknowledged: list[uuid.UUID] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def served_api(env: dict[str, str], log: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app as ``phr serve`` runs it (granian, the app factory, settings from the environment), one worker."""
    port = free_port()
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--no-access-log"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1", "api.app:create_app_from_env"),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        # A client timeout well past MAX_LATENCY: a hung request is measured, not cut short.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            async with asyncio.timeout(30):
                while True:
                    try:
                        if (await http.get("/health/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            yield http
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def people(database: Database, env: dict[str, str], count: int) -> list[tuple[uuid.UUID, dict[str, str]]]:
    """``count`` citizens, each on their own phone, logged in: (citizen id, request headers)."""
    settings = load_settings(env)
    made = []
    async with database.transaction() as session:
        for n in range(count):
            citizen = Citizen(id=uuid7(), full_name="Người Thử", sex=Sex.female, date_of_birth=dt.date(1985, 3, 8))
            account = Account(id=uuid7(), phone=f"+84907{n:06d}")
            session.add_all([citizen, account])
            await session.flush()
            session.add(AccountCitizen(account_id=account.id, citizen_id=citizen.id))
            made.append((citizen.id, await login(session, settings, account.id)))
    return made


async def client_loop(
    http: httpx.AsyncClient, citizen_id: uuid.UUID, headers: dict[str, str], load: Load, t0: float, stop: asyncio.Event
) -> None:
    """Alternate a write (a self-measured weight) and a read of the vitals; remember every acknowledged write."""
    n = 0
    while not stop.is_set():
        n += 1
        started = time.monotonic()
        try:
            if n % 2:
                body = {"kind": "weight", "measured_at": dt.datetime.now(dt.UTC).isoformat(), "value": 50 + n % 40}
                response = await http.post(f"/v1/citizens/{citizen_id}/record/vitals", json=body, headers=headers)
                if response.is_success:
                    load.acknowledged.append(uuid.UUID(response.json()["id"]))
            else:
                response = await http.get(f"/v1/citizens/{citizen_id}/record/sections/vitals", headers=headers)
        except httpx.TransportError as exc:
            load.outcomes.append(Outcome(started - t0, time.monotonic() - started, type(exc).__name__))
            await asyncio.sleep(0.2)
            continue
        failed = response.status_code >= 400
        load.outcomes.append(
            Outcome(
                started - t0,
                time.monotonic() - started,
                response.status_code,
                response.headers.get("retry-after"),
                response.headers.get("content-type"),
                response.json() if failed else None,
            )
        )
        if failed:
            await asyncio.sleep(0.2)  # a polite client; it does not honour the full Retry-After, to keep the load on


async def test_the_api_answers_503_through_an_outage_and_loses_no_acknowledged_write(
    throwaway_pg: ThrowawayPostgres, tmp_path: Path
) -> None:
    url = await throwaway_pg.create_database()
    env = process_env(url, tmp_path / "data")
    database = Database.from_url(url)
    try:
        logged_in = await people(database, env, CLIENTS)
    finally:
        await database.dispose()

    load, stop = Load(), asyncio.Event()
    async with served_api(env, tmp_path / "api.log") as http:
        t0 = time.monotonic()
        clients = [asyncio.create_task(client_loop(http, c, h, load, t0, stop)) for c, h in logged_in]
        await asyncio.sleep(1.5)
        outage = time.monotonic() - t0
        await asyncio.to_thread(throwaway_pg.freeze)
        await asyncio.sleep(FROZEN_SECONDS)
        await asyncio.to_thread(throwaway_pg.thaw)
        await asyncio.to_thread(throwaway_pg.stop, "fast")
        await asyncio.sleep(DOWN_SECONDS)
        await asyncio.to_thread(throwaway_pg.start)
        restarted = time.monotonic() - t0
        await asyncio.sleep(AFTER_SECONDS)
        stop.set()
        await asyncio.gather(*clients)

    outcomes = load.outcomes
    statuses = Counter(o.status for o in outcomes)
    unavailable = [o for o in outcomes if o.status == 503]
    during = [o for o in outcomes if outage <= o.started < restarted]
    after = [o for o in outcomes if o.started >= restarted]
    failed_after = [o for o in after if o.status not in (200, 201)]
    recovered_in = max((o.started + o.seconds for o in failed_after), default=restarted) - restarted
    longest = max(o.seconds for o in outcomes)
    print(
        f"\n{len(outcomes)} requests by {CLIENTS} clients: {dict(statuses)}; outage {FROZEN_SECONDS:.0f} s frozen + "
        f"{DOWN_SECONDS:.0f} s down; {len(unavailable)} × 503; slowest {longest:.2f} s "
        f"(during the outage: {max((o.seconds for o in during), default=0):.2f} s); recovered {recovered_in:.2f} s "
        f"after the restart; {len(load.acknowledged)} acknowledged writes"
    )

    assert set(statuses) <= {200, 201, 503}, f"only successes and 503s, never a 500 or a dropped connection: {statuses}"
    assert len(unavailable) >= CLIENTS, "the outage was seen"
    for outcome in unavailable:
        assert outcome.content_type == PROBLEM_JSON
        assert outcome.retry_after is not None and int(outcome.retry_after) > 0
        assert outcome.problem is not None
        assert outcome.problem["type"] == "urn:phr:problem:unavailable"
        assert outcome.problem["title"] == TITLES["unavailable"][0]
    assert longest < MAX_LATENCY, f"a request waited {longest:.1f} s"
    assert recovered_in <= MAX_RECOVERY
    assert sum(o.status in (200, 201) for o in after) >= CLIENTS, "service came back"

    database = Database.from_url(url)
    try:
        async with database.sessionmaker() as session:
            stored = set((await session.scalars(select(Vital.id))).all())
    finally:
        await database.dispose()
    assert load.acknowledged, "writes were acknowledged"
    missing = set(load.acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged writes are not in the database"
