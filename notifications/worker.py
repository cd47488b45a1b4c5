"""The delivery worker: claim due notifications, deliver them, record what happened.

Several workers may run at once: claims use ``FOR UPDATE SKIP LOCKED`` so no row is claimed twice, and every
claim is a lease (``locked_until`` + ``lease_id``). A worker that dies mid-batch loses nothing: its leases run
out and another worker reclaims the rows. Outcomes are written only under the writer's own lease, so a stalled
worker that wakes up late cannot overwrite the reclaiming worker's result.

Delivery is at-least-once: whatever FCM accepted but the worker had not yet recorded when it died is sent again by
the reclaiming worker (harmless on the phone: the collapse id is the notification id). To keep that window small,
a claimed batch goes out in slices of ``record_every`` and each slice's outcomes are written before the next is
sent. A database outage stops neither the worker nor a batch in flight: outcomes are retried until the database is
back, and the loop waits and claims again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.campaigns import PAUSE_REASON, stop_campaign_rows
from core.db import Database, is_connection_failure
from core.logging import get_logger
from core.models import Account, DeliveryStatus, Device, Notification
from core.outbox import OUTBOX_CHANNEL, VN_TZ, local_date
from notifications.dispatcher import BatchReport, ClaimedRow, DeviceRow, Dispatcher

log = get_logger("phr.worker")
Clock = Callable[[], dt.datetime]
notifications = cast(Table, Notification.__table__)

# Two ways in, each walking its own partial index in order and stopping at :limit. One WHERE with an OR of both
# (as this was) is planned as a bitmap OR that reads and sorts *every* due row before the LIMIT: with a million
# campaign rows queued, each claim of 500 took ~0.5 s, a millisecond per message (found by the campaign bench).
# Expired leases go first (a dead worker's rows are the oldest); the pending side may lock a few rows beyond
# what the final LIMIT keeps, and those are released when this short transaction commits.
CLAIM_SQL = text(
    """
    WITH leased AS (
        SELECT id FROM notifications
        WHERE status = 'sending' AND locked_until < :now
        ORDER BY locked_until
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), pending AS (
        SELECT id FROM notifications
        WHERE status = 'pending' AND next_attempt_at <= :now
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), due AS (
        SELECT id FROM leased
        UNION ALL
        (SELECT id FROM pending LIMIT :limit - (SELECT count(*) FROM leased))
    )
    UPDATE notifications AS n
    SET status = 'sending', locked_until = :lease_until, lease_id = :lease_id, attempts = n.attempts + 1
    FROM due
    WHERE n.id = due.id
    RETURNING n.id, n.channel, n.account_id, n.phone, n.kind, n.template_key, n.params, n.sealed, n.attempts,
              n.expires_at, n.campaign_id
    """
)


# How long the worker waits before trying a lost database again: doubling from the first to the last.
RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 10.0
# Rows sent per slice of a claimed batch before their outcomes are written (see the module docstring): the most a
# killed worker can leave to be sent twice. Smaller costs throughput: one UPDATE and one FCM fan-out per slice.
RECORD_EVERY = 25


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Worker:
    def __init__(
        self,
        database: Database,
        dispatcher: Dispatcher,
        *,
        batch_size: int = 500,
        lease: dt.timedelta = dt.timedelta(seconds=120),
        poll_interval: float = 5.0,
        shutdown_grace: float = 20.0,
        clock: Clock = utcnow,
        campaign_pause_after: int = 50,
        record_every: int = RECORD_EVERY,
    ) -> None:
        self.db = database
        self.dispatcher = dispatcher
        self.batch_size = batch_size
        self.record_every = record_every
        self.lease = lease
        self.poll_interval = poll_interval
        self.shutdown_grace = shutdown_grace
        self.clock = clock
        self.campaign_pause_after = campaign_pause_after  # PHR_CAMPAIGN_PAUSE_AFTER_INVALID
        self.wake = asyncio.Event()
        self.delivered = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Drain due rows, then sleep until NOTIFY, the poll interval, or ``stop``. Outlives database outages."""
        listener = asyncio.create_task(self._listen(stop))
        backoff = RECONNECT_FIRST_SECONDS
        try:
            while not stop.is_set():
                try:
                    claimed = await self.run_once(stop)
                except Exception as exc:
                    if not is_connection_failure(exc):
                        raise
                    # Nothing is lost: unrecorded rows keep their lease and are reclaimed once it runs out.
                    log.warning("database unavailable; worker waits", error=type(exc).__name__, retry_in=backoff)
                    await self._sleep(stop, backoff)
                    backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)
                    continue
                backoff = RECONNECT_FIRST_SECONDS
                if claimed >= self.batch_size:
                    continue  # more is probably waiting
                self.wake.clear()
                waiters = [asyncio.create_task(self.wake.wait()), asyncio.create_task(stop.wait())]
                await asyncio.wait(waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    @staticmethod
    async def _sleep(stop: asyncio.Event | None, seconds: float) -> None:
        if stop is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

    async def run_once(self, stop: asyncio.Event | None = None) -> int:
        """One batch: claim, then per slice deliver outside any transaction and record. Returns the rows claimed."""
        lease_id = uuid.uuid4()
        rows, devices = await self._claim(lease_id)
        if not rows:
            return 0
        for start in range(0, len(rows), self.record_every):
            part = rows[start : start + self.record_every]
            delivery = asyncio.create_task(self.dispatcher.deliver(part, devices, self.clock()))
            report = await self._finish_or_release(delivery, lease_id, stop)
            if report is None:
                break  # shutting down: the slice in flight and the rest were handed back
            await self._record_until_stored(report, lease_id)
            await self._check_campaigns(part, report)
            if stop is not None and stop.is_set() and start + self.record_every < len(rows):
                await self.release(lease_id)  # shutting down: the slices not yet sent go back untouched
                break
        return len(rows)

    async def _record_until_stored(self, report: BatchReport, lease_id: uuid.UUID) -> None:
        """Write a delivered slice's outcomes, waiting out a database outage for up to one lease.

        Giving up early would have the whole slice sent again once the lease runs out; waiting past the lease gains
        nothing, as another worker may have reclaimed the rows by then (the lease check keeps its result).
        """
        deadline = time.monotonic() + self.lease.total_seconds()
        backoff = RECONNECT_FIRST_SECONDS
        while True:
            try:
                await self._record(report, lease_id)
                return
            except Exception as exc:
                if not is_connection_failure(exc) or time.monotonic() + backoff > deadline:
                    raise
                log.warning("database unavailable; outcomes kept for a retry", error=type(exc).__name__)
                await asyncio.sleep(backoff)  # not cut short by stop: these messages are already on phones
                backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)

    async def _finish_or_release(
        self, delivery: asyncio.Task[BatchReport], lease_id: uuid.UUID, stop: asyncio.Event | None
    ) -> BatchReport | None:
        """On shutdown the batch gets ``shutdown_grace`` seconds to finish; otherwise its rows are handed back."""
        if stop is None:
            return await delivery
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([delivery, stopping], return_when=asyncio.FIRST_COMPLETED)
            if not delivery.done():
                await asyncio.wait([delivery], timeout=self.shutdown_grace)
            if delivery.done():
                return delivery.result()
            delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await delivery
            await self.release(lease_id)
            return None
        finally:
            stopping.cancel()

    async def _claim(self, lease_id: uuid.UUID) -> tuple[list[ClaimedRow], list[DeviceRow]]:
        now = self.clock()
        async with self.db.transaction() as session:
            result = await session.execute(
                CLAIM_SQL,
                {"now": now, "limit": self.batch_size, "lease_until": now + self.lease, "lease_id": lease_id},
            )
            raw = result.mappings().all()
            if not raw:
                return [], []
            account_ids = list({r["account_id"] for r in raw if r["account_id"] is not None})
            accounts = await self._accounts(session, account_ids)
            devices = await self._devices(session, [r["account_id"] for r in raw if r["channel"] == "push"])
        rows = [
            ClaimedRow(
                id=r["id"],
                channel=r["channel"],
                account_id=r["account_id"],
                phone=r["phone"] or accounts.get(r["account_id"], (None, "vi"))[0],
                locale=accounts.get(r["account_id"], (None, "vi"))[1],
                kind=r["kind"],
                template_key=r["template_key"],
                params=r["params"] or {},
                sealed=r["sealed"],
                attempts=r["attempts"],
                expires_at=r["expires_at"],
                campaign_id=r["campaign_id"],
            )
            for r in raw
        ]
        return rows, devices

    @staticmethod
    async def _accounts(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
        if not ids:
            return {}
        found = await session.execute(select(Account.id, Account.phone, Account.locale).where(Account.id.in_(ids)))
        return {row.id: (row.phone, row.locale) for row in found}

    @staticmethod
    async def _devices(session: AsyncSession, account_ids: list[uuid.UUID | None]) -> list[DeviceRow]:
        ids = list({a for a in account_ids if a is not None})
        if not ids:
            return []
        found = await session.execute(
            select(Device.id, Device.account_id, Device.token, Device.platform, Device.locale).where(
                Device.account_id.in_(ids)
            )
        )
        return [DeviceRow(r.id, r.account_id, r.token, r.platform.value, r.locale) for r in found]

    async def _record(self, report: BatchReport, lease_id: uuid.UUID) -> None:
        now = self.clock()
        params: list[dict[str, Any]] = [
            {
                "b_id": o.id,
                "b_status": o.status.value,
                "b_next": o.next_attempt_at or now,
                "b_error": o.error,
                "b_sent_at": now if o.status is DeliveryStatus.sent else None,
                "b_refund": 1 if o.refund_attempt else 0,
                "b_final": o.status is not DeliveryStatus.pending,
            }
            for o in report.outcomes
        ]
        async with self.db.transaction() as session:
            if params:
                stmt = (
                    update(notifications)
                    .where(notifications.c.id == bindparam("b_id"), notifications.c.lease_id == lease_id)
                    .values(
                        status=bindparam("b_status", type_=notifications.c.status.type),
                        next_attempt_at=bindparam("b_next"),
                        last_error=bindparam("b_error"),
                        sent_at=bindparam("b_sent_at"),
                        attempts=notifications.c.attempts - bindparam("b_refund"),
                        locked_until=None,
                        lease_id=None,
                        # A sealed value (an OTP code) has no reason to outlive its delivery.
                        sealed=case((bindparam("b_final"), None), else_=notifications.c.sealed),
                    )
                )
                await session.execute(stmt, params)
            if report.dead_devices:
                await session.execute(delete(Device).where(Device.id.in_(report.dead_devices)))
        self.delivered += sum(1 for o in report.outcomes if o.status is DeliveryStatus.sent)

    async def _check_campaigns(self, rows: list[ClaimedRow], report: BatchReport) -> None:
        """Pause a campaign FCM keeps calling malformed; stop retries of a campaign stopped while in flight.

        Costs nothing when every campaign row went out: the database is only asked when one was rejected or
        put back for a retry.
        """
        campaign_of = {row.id: row.campaign_id for row in rows if row.campaign_id is not None}
        rejected: set[uuid.UUID] = set()
        retrying: set[uuid.UUID] = set()
        for outcome in report.outcomes:
            campaign_id = campaign_of.get(outcome.id)
            if campaign_id is None:
                continue
            if outcome.status is DeliveryStatus.failed and outcome.error == PAUSE_REASON:
                rejected.add(campaign_id)
            elif outcome.status is DeliveryStatus.pending:
                retrying.add(campaign_id)
        if not rejected and not retrying:
            return
        async with self.db.transaction() as session:
            paused = await stop_campaign_rows(
                session, rejected=rejected, retrying=retrying, threshold=self.campaign_pause_after, now=self.clock()
            )
        for campaign_id in paused:
            log.error("campaign paused: FCM rejects its messages", campaign_id=str(campaign_id), error=PAUSE_REASON)

    async def release(self, lease_id: uuid.UUID) -> int:
        """Hand a batch back untouched (shutdown): pending again, the attempt not counted."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(notifications)
                .where(notifications.c.lease_id == lease_id, notifications.c.status == DeliveryStatus.sending)
                .values(
                    status=DeliveryStatus.pending,
                    locked_until=None,
                    lease_id=None,
                    attempts=notifications.c.attempts - 1,
                    next_attempt_at=self.clock(),
                )
            )
        released: int = result.rowcount  # type: ignore[attr-defined]
        log.info("batch released on shutdown", rows=released)
        return released

    async def _listen(self, stop: asyncio.Event) -> None:
        """LISTEN on the outbox channel so new rows go out at once; polling covers a lost connection."""
        while not stop.is_set():
            try:
                async with self.db.engine.connect() as conn:
                    raw = await conn.get_raw_connection()
                    driver: Any = raw.driver_connection
                    lost = asyncio.Event()

                    def on_notify(*_: object) -> None:
                        self.wake.set()

                    def on_lost(*_: object, flag: asyncio.Event = lost) -> None:
                        flag.set()

                    await driver.add_listener(OUTBOX_CHANNEL, on_notify)
                    # A restarted server closes this connection without a word to a client that only waits.
                    driver.add_termination_listener(on_lost)
                    try:
                        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(lost.wait())]
                        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                        for waiter in waiters:
                            waiter.cancel()
                        if lost.is_set():
                            raise ConnectionResetError("listener connection closed")
                    finally:
                        driver.remove_termination_listener(on_lost)
                        if not driver.is_closed():
                            await driver.remove_listener(OUTBOX_CHANNEL, on_notify)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the poll loop keeps working; try to listen again shortly
                log.warning("outbox listener lost", error=type(exc).__name__)
                self.wake.set()  # rows may have arrived unheard
                await self._sleep(stop, self.poll_interval)


# One row of rate_counters holds the day's SMS count. Reserving is one statement: it starts a new day's count or
# adds one to today's, but only while today's is under the limit, so concurrent workers can never pass it.
_TAKE_SMS = text(
    """
    INSERT INTO rate_counters AS rc (key, window_start, count) VALUES (:key, :day_start, 1)
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN rc.window_start < :day_start THEN 1 ELSE rc.count + 1 END,
        window_start = GREATEST(rc.window_start, :day_start)
    WHERE rc.window_start < :day_start OR rc.count < :limit
    RETURNING count
    """
)
_REFUND_SMS = text(
    "UPDATE rate_counters SET count = count - 1 WHERE key = :key AND window_start = :day_start AND count > 0"
)
SMS_BUDGET_KEY = "sms:daily-budget"


class PgSmsBudget:
    """The daily SMS budget (``PHR_SMS_DAILY_LIMIT``) in PostgreSQL, shared by every worker; the day is Vietnam's."""

    def __init__(self, database: Database, daily_limit: int, clock: Clock = utcnow) -> None:
        self.database = database
        self.daily_limit = daily_limit
        self.clock = clock

    def _day_start(self) -> dt.datetime:
        return dt.datetime.combine(local_date(self.clock()), dt.time(0), VN_TZ)

    async def take(self) -> bool:
        if self.daily_limit <= 0:
            return False
        params = {"key": SMS_BUDGET_KEY, "day_start": self._day_start(), "limit": self.daily_limit}
        async with self.database.transaction() as session:
            return (await session.execute(_TAKE_SMS, params)).first() is not None

    async def refund(self) -> None:
        async with self.database.transaction() as session:
            await session.execute(_REFUND_SMS, {"key": SMS_BUDGET_KEY, "day_start": self._day_start()})
