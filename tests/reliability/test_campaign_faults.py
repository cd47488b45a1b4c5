"""A campaign delivered through faults: worker processes SIGKILLed twice and PostgreSQL crashed and restarted once.

The province and the launch are those of the 100,000-person campaign test; the workers are ``phr worker``'s
(``build_worker`` + ``Worker.run``), one process each, restarted after each kill as a supervisor would. Afterwards
every recipient's notification is in exactly one terminal state, none is lost, and the only duplicates are what
the killed workers had sent but not yet recorded: at most one slice (``RECORD_EVERY``) per killed worker, each
carrying the notification id as its collapse id, so the phone shows it once.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import Database
from core.models import Notification
from notifications.fake_fcm import FakeFcm
from notifications.worker import RECORD_EVERY
from tests.notifications.conftest import T0
from tests.notifications.test_campaign_delivery import launch, statuses
from tests.reliability.conftest import process_env
from tests.reliability.pg import ThrowawayPostgres
from tests.scale import LONG, scaled, scaled_seconds

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
RECIPIENTS = scaled(6_000, 100_000)
WORKERS = 2
LEASE_SECONDS = 10  # how soon a killed worker's rows are reclaimed
DOWN_SECONDS = scaled_seconds(3, 10)  # long enough for every worker to find the database gone
TERMINAL = frozenset({"sent", "failed", "expired", "cancelled"})

# ``phr worker`` minus the daily reminder sweep and device pruning, on a clock that starts at the test's T0 and runs
# at the wall clock's pace (the same in every process, so a killed worker's leases really run out).
WORKER_PROCESS = """
import asyncio, datetime as dt, os, signal, time
from core.db import Database
from core.settings import load_settings
from notifications.runner import build_worker

async def main() -> None:
    settings = load_settings()
    database = Database.from_settings(settings)
    t0, wall0 = dt.datetime.fromisoformat(os.environ["TEST_NOW"]), float(os.environ["TEST_WALL0"])
    worker = build_worker(settings, database, clock=lambda: t0 + dt.timedelta(seconds=time.time() - wall0))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await worker.run(stop)
    finally:
        await worker.dispatcher.push.aclose()
        await database.dispose()

asyncio.run(main())
"""


async def wait_until(
    what: str, check: Callable[[], Awaitable[bool]], workers: list[asyncio.subprocess.Process], seconds: float
) -> None:
    """Wait for ``check``; a worker that exits meanwhile (it should outlive the database restart) fails at once."""
    try:
        async with asyncio.timeout(seconds):
            while not await check():
                dead = [p.returncode for p in workers if p.returncode is not None]
                assert not dead, f"a worker exited (code {dead}) while waiting for {what}"
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def outage_warnings(folder: Path) -> int:
    return sum(path.read_text().count("database unavailable") for path in folder.glob("worker-*.log"))


async def test_a_campaign_survives_killed_workers_and_a_database_restart(
    throwaway_pg: ThrowawayPostgres, tmp_path: Path
) -> None:
    url = await throwaway_pg.create_database()
    database = Database.from_url(url)
    try:
        await run_campaign_through_faults(throwaway_pg, database, url, tmp_path)
    finally:
        await database.dispose()


async def run_campaign_through_faults(pg: ThrowawayPostgres, database: Database, url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    campaign_id = await launch(database, RECIPIENTS)
    launched = time.monotonic()
    async with FakeFcm() as fake:
        env = process_env(
            url,
            tmp_path / "data",
            PHR_PUSH_SENDER="fcm",
            PHR_FCM_URL=fake.url,
            PHR_FCM_PROJECT_ID="phr-test",
            PHR_PUSH_RATE_PER_SECOND="100000",
            PHR_WORKER_LEASE_SECONDS=str(LEASE_SECONDS),
            PHR_WORKER_POLL_SECONDS="0.5",
            TEST_NOW=T0.isoformat(),
            TEST_WALL0=str(time.time()),
        )
        logs = [(tmp_path / f"worker-{n}.log").open("wb") for n in range(3 * WORKERS)]
        spawned: list[asyncio.subprocess.Process] = []

        async def spawn() -> list[asyncio.subprocess.Process]:
            procs = []
            for _ in range(WORKERS):
                log = logs[len(spawned)]
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", WORKER_PROCESS, cwd=ROOT, env=env, stdout=log, stderr=log
                )
                spawned.append(proc)
                procs.append(proc)
            return procs

        async def kill(procs: list[asyncio.subprocess.Process]) -> None:
            for proc in procs:
                proc.send_signal(signal.SIGKILL)
            for proc in procs:
                await proc.wait()

        def reached(fraction: float) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return len(fake.delivered) >= fraction * RECIPIENTS

            return check

        async def all_terminal() -> bool:
            return set(await statuses(database, campaign_id)) <= TERMINAL

        kills = restarts = 0
        try:
            workers = await spawn()
            await wait_until("a fifth delivered", reached(0.2), workers, 300)
            await kill(workers)
            kills += 1
            workers = await spawn()
            await wait_until("two fifths delivered", reached(0.4), workers, 300)
            await asyncio.to_thread(pg.stop, "immediate")  # a crash: no goodbye to any client
            await asyncio.sleep(DOWN_SECONDS)
            await asyncio.to_thread(pg.start)
            restarts += 1
            await wait_until("three fifths delivered", reached(0.6), workers, 300)
            await kill(workers)
            kills += 1
            workers = await spawn()
            await wait_until("every notification in a terminal state", all_terminal, workers, 600)
            for proc in workers:
                proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(60):
                codes = [await proc.wait() for proc in workers]
        finally:
            for proc in spawned:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            for log in logs:
                log.close()
        delivered_in = time.monotonic() - launched
        waited = outage_warnings(tmp_path)
        assert codes == [0] * WORKERS, "the workers outlived the restart and stopped cleanly on SIGTERM"

        async with database.sessionmaker() as session:
            ids = {
                str(i)
                for i in (
                    await session.scalars(select(Notification.id).where(Notification.campaign_id == campaign_id))
                ).all()
            }
        final = await statuses(database, campaign_id)
        duplicates = fake.duplicates()
        extra = sum(count - 1 for count in duplicates.values())
        lost = ids - set(fake.delivered)
        print(
            f"\n{RECIPIENTS:,} recipients, {kills} × SIGKILL of {WORKERS} workers, {restarts} PostgreSQL restart: "
            f"{final}; {len(lost)} lost; {extra} duplicate sends ({extra / RECIPIENTS:.3%}) of {len(duplicates)} "
            f"notifications; launched in {launched - started:.1f} s, delivered in {delivered_in:.1f} s; "
            f"{waited} outage warnings in the workers' logs"
        )
        assert waited > 0, "the workers met the outage (and outlived it)"

        assert len(ids) == RECIPIENTS
        assert final == {"sent": RECIPIENTS}, "every recipient's notification in exactly one terminal state"
        assert not lost, f"{len(lost)} notifications never reached FCM"
        assert set(fake.delivered) == ids, "nothing but the campaign was sent"
        # What a killed worker had sent but not recorded goes out again: at most one slice per killed worker.
        assert extra <= kills * WORKERS * RECORD_EVERY
        if LONG:
            assert extra <= RECIPIENTS // 1000, "at most 0.1 % sent twice"
        for message in fake.messages:
            notification_id = message["data"]["notification_id"]
            assert message["android"]["notification"]["tag"] == notification_id, "a duplicate collapses on the phone"
        assert {uuid.UUID(i) for i in duplicates} <= {uuid.UUID(i) for i in ids}
