"""Scenario 3: a province-wide reminder of ~1,000,000 pushes.

- select + materialise: the cohort (every person), the accounts acting for them (``recipients_for``) and one
  ``INSERT … SELECT`` of the notifications (``notify_from_select``, the campaign launch path), timed in one
  transaction;
- dispatch: the real worker (``build_worker``: claim, deliver, record) sending to the fake FCM on loopback for a
  bounded time, against the baseline of the same push client sending the same messages to the same fake with no
  database work; the fake time-stamps every send, so the busiest 1 s and 60 s windows are checked against the
  configured rate (PHR_PUSH_RATE_PER_SECOND, a token bucket with a burst of one second's worth).
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import time
import uuid
from typing import Any

import msgspec
from sqlalchemy import String, cast, func, literal, select, text

from bench.results import headline
from bench.scenarios import BenchContext, Figures
from core.db import Database
from core.identity.access import recipients_for
from core.messages import get_template
from core.models import Citizen
from core.outbox import VN_TZ, notify_from_select
from core.settings import Settings
from notifications.fake_fcm import FakeFcm
from notifications.fcm_client import MAX_BATCH, PushMessage
from notifications.runner import build_push, build_worker

TEMPLATE = "checkup_due"
BASELINE_MESSAGES = 10_000


class TimedFakeFcm(FakeFcm):
    """The fake FCM, also noting when each send arrived (monotonic seconds), for the rate windows."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []

    async def _answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes, version: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if target != "/token":
            self.arrivals.append(time.monotonic())
        return await super()._answer(method, target, headers, body, version)


def busiest_window(arrivals: list[float], seconds: float) -> int:
    """The most sends inside any window of ``seconds`` (sliding, each window starting at a send)."""
    ordered = sorted(arrivals)
    return max((bisect.bisect_left(ordered, t + seconds) - i for i, t in enumerate(ordered)), default=0)


def fcm_settings(settings: Settings, fake: FakeFcm) -> Settings:
    return msgspec.structs.replace(settings, push_sender="fcm", fcm_url=fake.url, fcm_project_id="phr-bench")


def daytime_before(now: dt.datetime) -> dt.datetime:
    """The last 10:00 in Vietnam: materialised 'as of' then, the rows are due at once (no quiet-hours delay)."""
    local = now.astimezone(VN_TZ)
    ten = local.replace(hour=10, minute=0, second=0, microsecond=0)
    return (ten if ten <= local else ten - dt.timedelta(days=1)).astimezone(dt.UTC)


def recipient_pairs(size: int, as_of: dt.datetime) -> Any:
    people = select(Citizen.id.label("citizen_id")).subquery()
    return recipients_for(people, now=as_of).limit(size).subquery()


async def select_only(db: Database, size: int) -> float:
    """The cohort select alone (counted, nothing written): splits the launch time into select and insert."""
    as_of = daytime_before(dt.datetime.now(dt.UTC))
    started = time.perf_counter()
    async with db.transaction() as session:
        await session.scalar(select(func.count()).select_from(recipient_pairs(size, as_of)))
    return time.perf_counter() - started


async def materialise(db: Database, size: int, run_id: str) -> tuple[int, float]:
    """One cohort-select + INSERT … SELECT of at most ``size`` reminders; (rows, seconds)."""
    as_of = daytime_before(dt.datetime.now(dt.UTC))
    pairs = recipient_pairs(size, as_of)
    recipients = select(
        pairs.c.account_id,
        pairs.c.citizen_id,
        func.concat(
            literal(f"bench:{run_id}:"), cast(pairs.c.account_id, String), ":", cast(pairs.c.citizen_id, String)
        ).label("dedupe_key"),
    )
    started = time.perf_counter()
    async with db.transaction() as session:
        written = await notify_from_select(session, template=TEMPLATE, recipients=recipients, now=as_of)
    return written, time.perf_counter() - started


async def due_messages(db: Database, run_id: str, count: int) -> list[PushMessage]:
    """The messages the worker would build for ``count`` of this run's rows, built the dispatcher's way."""
    template = get_template(TEMPLATE)
    async with db.transaction() as session:
        rows = await session.execute(
            text(
                "SELECT n.id, n.kind, d.token, d.platform, d.locale FROM notifications n "
                "JOIN devices d ON d.account_id = n.account_id WHERE n.dedupe_key LIKE :prefix LIMIT :count"
            ),
            {"prefix": f"bench:{run_id}:%", "count": count},
        )
        return [
            PushMessage(
                token=r.token,
                title=template.render_title(r.locale),
                body=template.render_body(r.locale),
                data={"notification_id": str(r.id), "kind": r.kind},
                collapse_id=str(r.id),
                ttl_seconds=14 * 24 * 3600,
                platform=r.platform,
            )
            for r in rows
        ]


async def bare_client_rate(settings: Settings, fake: FakeFcm, messages: list[PushMessage]) -> tuple[int, float]:
    """The baseline: the worker's push client sending ``messages`` in batches of 500, one batch at a time (as the
    worker does), with no database work. Returns (sent, seconds)."""
    push = build_push(fcm_settings(settings, fake))
    try:
        await push.send(messages[:1])  # the App and its HTTP/2 connection are made once, outside the timing
        started = time.perf_counter()
        sent = 0
        for start in range(1, len(messages), MAX_BATCH):  # the first went out above: each message once
            results = await push.send(messages[start : start + MAX_BATCH])
            sent += sum(1 for r in results if r.ok)
        return sent, time.perf_counter() - started
    finally:
        await push.aclose()


async def dispatch_rate(settings: Settings, db: Database, fake: TimedFakeFcm, seconds: float) -> tuple[int, float]:
    """The real worker for ``seconds``; returns (sends the fake answered, seconds)."""
    worker = build_worker(fcm_settings(settings, fake), db)
    stop = asyncio.Event()
    before = len(fake.arrivals)
    started = time.perf_counter()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    elapsed = time.perf_counter() - started
    await worker.dispatcher.push.aclose()
    await worker.dispatcher.sms.aclose()
    return len(fake.arrivals) - before, elapsed


async def settle(db: Database) -> float:
    """VACUUM ANALYZE the outbox after the launch (seconds; not part of any figure).

    A million fresh rows set off autovacuum, which then takes one of this machine's two cores for a minute or more
    in the middle of whichever dispatch measurement it lands on: the previous report's worker ran against it and
    its bare client did not. Production gets the same vacuum from autovacuum; here it runs first, on its own.
    """
    started = time.perf_counter()
    async with db.engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM (ANALYZE) notifications"))
    return time.perf_counter() - started


async def cancel_rest(db: Database, run_id: str) -> int:
    """Cancel what the bounded dispatch left: a later worker on this database must not send it."""
    async with db.transaction() as session:
        result = await session.execute(
            text("UPDATE notifications SET status = 'cancelled' WHERE dedupe_key LIKE :prefix AND status = 'pending'"),
            {"prefix": f"bench:{run_id}:%"},
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


async def run(ctx: BenchContext) -> Figures:
    run_id = uuid.uuid4().hex[:12]
    select_seconds = await select_only(ctx.db, ctx.campaign_size)
    written, materialise_seconds = await materialise(ctx.db, ctx.campaign_size, run_id)
    ctx.say(f"  {written:,} reminders selected and written in {materialise_seconds:.1f} s")
    settle_seconds = await settle(ctx.db)
    rate = ctx.settings.push_rate_per_second
    seconds = max(ctx.seconds * 2, 20)
    fake = TimedFakeFcm()
    await fake.start()
    try:
        # The bare client runs half its messages before the worker and half after, so a drift of the machine
        # during the scenario (this VM's CPU steal comes and goes) weighs on both sides alike.
        messages = await due_messages(ctx.db, run_id, min(written, BASELINE_MESSAGES))
        half = len(messages) // 2
        sent_before, seconds_before = await bare_client_rate(ctx.settings, fake, messages[:half])
        fake.arrivals.clear()
        fake.reset()
        sent, dispatch_seconds = await dispatch_rate(ctx.settings, ctx.db, fake, seconds)
        arrivals = list(fake.arrivals)
        duplicates = len(fake.duplicates())
        fake.reset()
        sent_after, seconds_after = await bare_client_rate(ctx.settings, fake, messages[half:])
        sent_bare, bare_seconds = sent_before + sent_after, seconds_before + seconds_after
    finally:
        await fake.stop()
    cancelled = await cancel_rest(ctx.db, run_id)
    bare = sent_bare / bare_seconds
    dispatched = sent / dispatch_seconds
    per_minute = busiest_window(arrivals, 60.0)
    per_second = busiest_window(arrivals, 1.0)
    limit_minute = rate * min(60.0, dispatch_seconds) + max(MAX_BATCH, rate)  # refill over the window + the burst
    return {
        "headlines": [
            headline(
                f"cohort select + materialise {written:,}",
                round(materialise_seconds, 2),
                "s",
                goal="≤ 10 s for 1 M",
                met=materialise_seconds <= 10 and written >= 900_000 if ctx.campaign_size >= 1_000_000 else None,
            ),
            headline(
                "dispatch to fake FCM",
                round(dispatched),
                "msgs/s",
                baseline=round(bare),
                goal="≥ 70 % of bare client",
                met=dispatched >= 0.7 * bare,
            ),
            headline(
                "busiest 60 s window",
                per_minute,
                "msgs",
                goal=f"≤ rate ({rate}/s) over the window",
                met=per_minute <= limit_minute,
            ),
        ],
        "figures": {
            "reminders_written": written,
            "materialise_seconds": round(materialise_seconds, 2),
            "cohort_select_alone_seconds": round(select_seconds, 2),
            "rows_per_second": round(written / materialise_seconds),
            "vacuum_analyze_after_launch_seconds": round(settle_seconds, 1),
            "bare_client": {
                "messages": sent_bare,
                "seconds": round(bare_seconds, 2),
                "msgs_per_s": round(bare),
                "before_worker_msgs_per_s": round(sent_before / seconds_before),
                "after_worker_msgs_per_s": round(sent_after / seconds_after),
            },
            "worker": {"messages": sent, "seconds": round(dispatch_seconds, 2), "msgs_per_s": round(dispatched)},
            "rate_per_second": rate,
            "busiest_1s_window": per_second,
            "busiest_60s_window": per_minute,
            "allowed_in_that_window": round(limit_minute),
            "duplicates_at_fake": duplicates,
            "left_pending_then_cancelled": cancelled,
        },
    }
