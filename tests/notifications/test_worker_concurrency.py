"""Several workers, killed workers and shutdowns: nothing sent twice by the queue, nothing lost."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select, text

from core.db import Database
from core.models import TERMINAL_STATUSES, DeliveryStatus, Notification
from notifications.fake_fcm import FakeFcm
from notifications.worker import Worker
from tests.notifications.conftest import add_accounts, queue

ROOT = Path(__file__).resolve().parents[2]
ACCESS = {"actor": "BS. A", "facility": "TYT B"}  # an urgent template: quiet hours never defer it


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def status_counts(database: Database) -> dict[DeliveryStatus, int]:
    async with database.sessionmaker() as session:
        rows = await session.execute(select(Notification.status, func.count()).group_by(Notification.status))
        return {status: count for status, count in rows}


async def wait_until(predicate: Callable[[], object], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not await predicate():  # type: ignore[misc]
            await asyncio.sleep(0.1)


async def test_two_workers_send_ten_thousand_notifications_exactly_once(
    committed: Database, database_url: str, fake_fcm: FakeFcm, make_worker: Callable[..., Worker]
) -> None:
    accounts = await add_accounts(committed, 1000)
    ids = await queue(
        committed, [a for a, _ in accounts], template="record_accessed", params=ACCESS, per_account=10, now=utcnow()
    )
    assert len(ids) == 10_000
    second_db = Database.from_url(database_url)
    workers = [make_worker(clock=utcnow, poll_interval=0.2), make_worker(second_db, clock=utcnow, poll_interval=0.2)]
    stop = asyncio.Event()
    runs = [asyncio.create_task(w.run(stop)) for w in workers]

    async def drained() -> bool:
        counts = await status_counts(committed)
        return counts.get(DeliveryStatus.sent, 0) == 10_000

    try:
        await wait_until(drained, 300)
    finally:
        stop.set()
        await asyncio.gather(*runs)
        await second_db.dispose()
    assert sum(fake_fcm.delivered.values()) == 10_000
    assert fake_fcm.duplicates() == {}
    assert {str(i) for i in ids} == set(fake_fcm.delivered)
    assert all(w.delivered > 0 for w in workers), "both workers took part"
    assert workers[0].delivered + workers[1].delivered == 10_000


async def test_a_killed_worker_loses_nothing(
    committed: Database, database_url: str, fake_fcm: FakeFcm, make_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    accounts = await add_accounts(committed, 300)
    ids = await queue(committed, [a for a, _ in accounts], template="record_accessed", params=ACCESS, now=utcnow())
    fake_fcm.latency = 2.0  # keeps the first batch in flight long enough to kill the worker mid-send
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHR_")} | {
        "PHR_DATABASE_URL": database_url,
        "PHR_DATA_DIR": str(tmp_path),
        "PHR_PUSH_SENDER": "fcm",
        "PHR_FCM_URL": fake_fcm.url,
        "PHR_WORKER_BATCH_SIZE": "100",
        "PHR_WORKER_LEASE_SECONDS": "60",
        "PHR_LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "worker",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )

    async def in_flight() -> bool:
        return (await status_counts(committed)).get(DeliveryStatus.sending, 0) > 0 and len(fake_fcm.received) > 0

    try:
        await wait_until(in_flight, 60)
    finally:
        proc.send_signal(signal.SIGKILL)  # no clean-up at all: leases stay behind
        await proc.wait()
    stranded = (await status_counts(committed)).get(DeliveryStatus.sending, 0)
    assert stranded > 0, "the kill left claimed rows behind"

    fake_fcm.latency = 0.0
    later = utcnow() + dt.timedelta(seconds=61)  # the dead worker's leases have run out
    worker = make_worker(clock=lambda: later, batch_size=500)
    while await worker.run_once():
        pass
    counts = await status_counts(committed)
    assert sum(counts.get(s, 0) for s in TERMINAL_STATUSES) == len(ids)
    assert counts.get(DeliveryStatus.sent, 0) == len(ids)
    # At-least-once: rows in flight when the worker died may go out twice; the collapse id makes that harmless.
    assert {str(i) for i in ids} == set(fake_fcm.delivered)


async def test_sigterm_hands_back_a_batch_that_cannot_finish_in_time(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker]
) -> None:
    accounts = await add_accounts(committed, 5)
    await queue(committed, [a for a, _ in accounts], template="record_accessed", params=ACCESS, now=utcnow())
    fake_fcm.latency = 5.0
    worker = make_worker(clock=utcnow, shutdown_grace=0.2)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await wait_until(lambda: _has_status(committed, DeliveryStatus.sending), 10)
    stop.set()
    await running
    async with committed.sessionmaker() as session:
        rows = (await session.execute(text("SELECT status, attempts, lease_id FROM notifications"))).all()
    assert {(r.status, r.attempts, r.lease_id) for r in rows} == {("pending", 0, None)}


async def test_sigterm_lets_a_quick_batch_finish(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker]
) -> None:
    accounts = await add_accounts(committed, 5)
    await queue(committed, [a for a, _ in accounts], template="record_accessed", params=ACCESS, now=utcnow())
    fake_fcm.latency = 0.5
    worker = make_worker(clock=utcnow, shutdown_grace=10.0)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await wait_until(lambda: _has_status(committed, DeliveryStatus.sending), 10)
    stop.set()
    await running
    assert await status_counts(committed) == {DeliveryStatus.sent: 5}


async def _has_status(database: Database, status: DeliveryStatus) -> bool:
    return (await status_counts(database)).get(status, 0) > 0
