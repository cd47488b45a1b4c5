"""Deliver one claimed batch: fan pushes out to devices, send SMS, and turn every result into an outcome.

No database access here: the worker hands in the rows and the devices it loaded in the claim transaction and
writes back the outcomes this returns. That keeps network I/O outside any transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.crypto import unseal
from core.logging import get_logger
from core.messages import get_template
from core.models import DeliveryStatus
from core.outbox import SEAL_PURPOSE
from notifications.circuit import CircuitBreaker, TokenBucket
from notifications.fcm_client import MAX_BATCH, PushMessage, PushResult
from notifications.policy import Action, decide, may_retry, retry_at
from notifications.push import PushSender
from notifications.sms import SmsSender

log = get_logger("phr.dispatch")
PLATFORMS = ("android", "ios", "web")
SMS_CONCURRENCY = 20


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    id: uuid.UUID
    channel: str
    account_id: uuid.UUID | None
    phone: str | None  # the row's own phone, or the account's for SMS to an account
    locale: str
    kind: str
    template_key: str
    params: dict[str, Any]
    sealed: bytes | None
    attempts: int  # including the attempt now under way
    expires_at: dt.datetime
    campaign_id: uuid.UUID | None = None  # the worker pauses a campaign FCM keeps rejecting (core/campaigns.py)


@dataclass(frozen=True, slots=True)
class DeviceRow:
    id: uuid.UUID
    account_id: uuid.UUID
    token: str
    platform: str
    locale: str


@dataclass(frozen=True, slots=True)
class Outcome:
    id: uuid.UUID
    status: DeliveryStatus
    next_attempt_at: dt.datetime | None = None
    error: str | None = None
    refund_attempt: bool = False  # not really attempted (circuit open): do not count it


@dataclass
class BatchReport:
    outcomes: list[Outcome] = field(default_factory=list)
    dead_devices: set[uuid.UUID] = field(default_factory=set)


class Dispatcher:
    def __init__(
        self,
        *,
        push: PushSender,
        sms: SmsSender,
        secret: str,
        rate_per_second: float,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.push = push
        self.sms = sms
        self.secret = secret
        self.rate = rate_per_second
        # The burst covers one full FCM call, so a batch is never split by the bucket itself.
        self.bucket = TokenBucket(rate_per_second, burst=max(float(MAX_BATCH), rate_per_second))
        mono = monotonic or time.monotonic
        # One circuit per platform (APNs / web-push credentials) and one for our own Google credentials.
        self.circuits = {p: CircuitBreaker(failure_threshold=1, cooldown_seconds=300, now=mono) for p in PLATFORMS}
        self.auth_circuit = CircuitBreaker(failure_threshold=1, cooldown_seconds=300, now=mono)
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.quota_slowdowns = 0

    async def deliver(self, rows: Sequence[ClaimedRow], devices: Sequence[DeviceRow], now: dt.datetime) -> BatchReport:
        report = BatchReport()
        live: list[ClaimedRow] = []
        for row in rows:
            if row.expires_at <= now:
                report.outcomes.append(Outcome(row.id, DeliveryStatus.expired, error="expired"))
            else:
                live.append(row)
        pushes = [r for r in live if r.channel == "push"]
        texts = [r for r in live if r.channel == "sms"]
        if pushes:
            await self._deliver_pushes(pushes, devices, now, report)
        if texts:
            await self._deliver_sms(texts, now, report)
        return report

    # -- push ---------------------------------------------------------------------------------------------
    async def _deliver_pushes(
        self, rows: list[ClaimedRow], devices: Sequence[DeviceRow], now: dt.datetime, report: BatchReport
    ) -> None:
        by_account: dict[uuid.UUID, list[DeviceRow]] = defaultdict(list)
        for device in devices:
            by_account[device.account_id].append(device)
        closed = {p for p in PLATFORMS if self.circuits[p].allow()} if self.auth_circuit.allow() else set()
        plan: list[tuple[ClaimedRow, DeviceRow]] = []
        waiting: dict[uuid.UUID, dt.datetime] = {}
        for row in rows:
            targets = by_account.get(row.account_id) if row.account_id else None
            if not targets:
                # The inbox still holds it; there is just no phone to ring.
                report.outcomes.append(Outcome(row.id, DeliveryStatus.failed, error="no_device"))
                continue
            sendable = [d for d in targets if d.platform in closed]
            if not sendable:
                waiting[row.id] = self._circuit_retry(targets, now)
            plan += [(row, d) for d in sendable]

        results = await self._send_pushes([self._message(row, device, now) for row, device in plan])
        results = await self._refresh_once_if_needed(plan, results, now)

        per_row: dict[uuid.UUID, list[tuple[DeviceRow, PushResult]]] = defaultdict(list)
        quota_hit = False
        for (row, device), result in zip(plan, results, strict=True):
            per_row[row.id].append((device, result))
            decision = decide(result.error_code, token_invalid=result.token_invalid)
            quota_hit |= decision.quota
            if decision.action is Action.drop_token:
                report.dead_devices.add(device.id)
            elif decision.action is Action.circuit_platform:
                self.circuits[device.platform].trip()
                log.error("push circuit opened", platform=device.platform, error=result.error_code)
            elif decision.action is Action.permanent:
                log.error("push rejected as malformed", notification_id=str(row.id), error=result.error_code)
            elif decision.action is Action.done:
                # A success closes a half-open circuit (it was the probe).
                self.circuits[device.platform].record_success()
                self.auth_circuit.record_success()
        self._adjust_rate(quota_hit)

        for row in rows:
            if row.id in waiting:
                report.outcomes.append(
                    Outcome(row.id, DeliveryStatus.pending, waiting[row.id], "circuit_open", refund_attempt=True)
                )
            elif row.id in per_row:
                report.outcomes.append(self._push_outcome(row, per_row[row.id], now))

    def _message(self, row: ClaimedRow, device: DeviceRow, now: dt.datetime) -> PushMessage:
        template = get_template(row.template_key)
        # TTL = what is left until expires_at: an appointment reminder delivered after the appointment is noise.
        ttl = max(0, int((row.expires_at - now).total_seconds()))
        return PushMessage(
            token=device.token,
            title=template.render_title(device.locale),
            body=template.render_body(device.locale),
            # Only the id and the kind: the app fetches everything else over the authenticated API.
            data={"notification_id": str(row.id), "kind": row.kind},
            collapse_id=str(row.id),
            ttl_seconds=min(ttl, 28 * 24 * 3600),
            platform=device.platform,  # type: ignore[arg-type]
        )

    async def _send_pushes(self, messages: list[PushMessage]) -> list[PushResult]:
        results: list[PushResult] = []
        for start in range(0, len(messages), MAX_BATCH):
            chunk = messages[start : start + MAX_BATCH]
            await self.bucket.acquire(len(chunk))
            results += await self.push.send(chunk)
        return results

    async def _refresh_once_if_needed(
        self, plan: list[tuple[ClaimedRow, DeviceRow]], results: list[PushResult], now: dt.datetime
    ) -> list[PushResult]:
        """UNAUTHENTICATED / PERMISSION_DENIED: refresh our credentials once and resend; still failing → circuit."""
        again = [i for i, r in enumerate(results) if decide(r.error_code).action is Action.refresh_credentials]
        if not again:
            return results
        await self.push.refresh_credentials()
        retried = await self._send_pushes([self._message(*plan[i], now) for i in again])
        results = list(results)
        for index, result in zip(again, retried, strict=True):
            results[index] = result
        if any(decide(r.error_code).action is Action.refresh_credentials for r in retried):
            self.auth_circuit.trip()
            log.error("push credentials rejected after refresh: circuit opened")
        return results

    def _push_outcome(self, row: ClaimedRow, results: list[tuple[DeviceRow, PushResult]], now: dt.datetime) -> Outcome:
        decisions = [
            (device, result, decide(result.error_code, token_invalid=result.token_invalid))
            for device, result in results
        ]
        if any(d.action is Action.done for _, _, d in decisions):
            return Outcome(row.id, DeliveryStatus.sent)
        waits: list[dt.datetime] = []
        refund = True
        for device, result, decision in decisions:
            if decision.action is Action.retry:
                refund = False
                waits.append(
                    retry_at(
                        now, row.attempts, retry_after=result.retry_after_seconds, quota=decision.quota, rng=self.rng
                    )
                )
            elif decision.action in (Action.circuit_platform, Action.refresh_credentials):
                waits.append(self._circuit_retry([device], now))
        last_error = next((r.error_code for _, r, _ in reversed(decisions) if r.error_code), None)
        if waits:
            next_at = max(waits)
            attempts_used = row.attempts - (1 if refund else 0)
            if may_retry(attempts_used, next_at, row.expires_at):
                return Outcome(row.id, DeliveryStatus.pending, next_at, last_error, refund_attempt=refund)
            if next_at >= row.expires_at:
                return Outcome(row.id, DeliveryStatus.expired, error=last_error)
            return Outcome(row.id, DeliveryStatus.failed, error="attempts_exhausted")
        if all(d.action is Action.drop_token for _, _, d in decisions):
            return Outcome(row.id, DeliveryStatus.failed, error="no_valid_device")
        return Outcome(row.id, DeliveryStatus.failed, error=last_error)

    def _circuit_retry(self, devices: Sequence[DeviceRow], now: dt.datetime) -> dt.datetime:
        """When these devices may be tried again: our credentials' circuit, then the soonest platform circuit."""
        platform_wait = min(self.circuits[d.platform].seconds_until_retry() for d in devices)
        wait = max(self.auth_circuit.seconds_until_retry(), platform_wait, 1.0)
        return now + dt.timedelta(seconds=wait)

    def _adjust_rate(self, quota_hit: bool) -> None:
        # QUOTA_EXCEEDED lowers the global rate; each clean batch afterwards wins a quarter of it back.
        current = self.bucket.rate
        if quota_hit:
            self.quota_slowdowns += 1
            self.bucket.set_rate(max(1.0, current / 2))
        elif current < self.rate:
            self.bucket.set_rate(min(self.rate, current * 1.25))

    # -- SMS ----------------------------------------------------------------------------------------------
    async def _deliver_sms(self, rows: list[ClaimedRow], now: dt.datetime, report: BatchReport) -> None:
        gate = asyncio.Semaphore(SMS_CONCURRENCY)

        async def one(row: ClaimedRow) -> Outcome:
            async with gate:
                return await self._send_sms(row, now)

        report.outcomes += await asyncio.gather(*(one(row) for row in rows))

    async def _send_sms(self, row: ClaimedRow, now: dt.datetime) -> Outcome:
        if not row.phone:
            return Outcome(row.id, DeliveryStatus.failed, error="no_phone")
        template = get_template(row.template_key)
        values: dict[str, Any] = dict(row.params)
        if row.sealed is not None:
            values |= json.loads(unseal(self.secret, SEAL_PURPOSE, row.sealed))
        text = template.render_body(row.locale).format_map(values)
        result = await self.sms.send(row.phone, text, request_id=row.id.hex)
        if result.ok:
            return Outcome(row.id, DeliveryStatus.sent)
        if not result.retryable:
            return Outcome(row.id, DeliveryStatus.failed, error=result.error_code)
        next_at = retry_at(now, row.attempts, retry_after=result.retry_after, rng=self.rng)
        if may_retry(row.attempts, next_at, row.expires_at):
            return Outcome(row.id, DeliveryStatus.pending, next_at, result.error_code)
        return Outcome(row.id, DeliveryStatus.expired, error=result.error_code)
