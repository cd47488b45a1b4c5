"""The worker against real PostgreSQL and the fake FCM: every error code leads to its action."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import select

from core.db import Database
from core.models import DeliveryStatus, Device, Notification
from core.outbox import Draft, notify
from notifications.fake_fcm import FakeFcm
from notifications.worker import Worker
from tests.notifications.conftest import Clock, add_accounts, queue

ACCESS = {"actor": "BS. A", "facility": "TYT B"}
ALLOWED_MESSAGE_KEYS = {"token", "notification", "data", "android", "apns", "webpush"}


async def fetch(database: Database, notification_id: uuid.UUID) -> Notification:
    async with database.sessionmaker() as session:
        return (await session.scalars(select(Notification).where(Notification.id == notification_id))).one()


async def device_tokens(database: Database) -> set[str]:
    async with database.sessionmaker() as session:
        return set((await session.scalars(select(Device.token))).all())


async def test_a_due_notification_is_sent_once_and_marked_sent(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker]
) -> None:
    [(account, [token])] = await add_accounts(committed, 1)
    [nid] = await queue(committed, [account])
    worker = make_worker()
    assert await worker.run_once() == 1
    row = await fetch(committed, nid)
    assert row.status is DeliveryStatus.sent
    assert row.sent_at is not None
    assert (row.lease_id, row.locked_until) == (None, None)
    assert [m["token"] for m in fake_fcm.messages] == [token]
    assert await worker.run_once() == 0, "nothing is sent twice"


async def test_push_payload_carries_only_the_id_kind_and_generic_text(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker]
) -> None:
    [(account, _)] = await add_accounts(committed, 1, platforms=("android", "ios", "web"))
    [nid] = await queue(
        committed, [account], template="appointment_reminder", params={"starts_at": "08:30", "facility": "TYT Nghĩa Kỳ"}
    )
    await make_worker().run_once()
    assert len(fake_fcm.messages) == 3
    for message in fake_fcm.messages:
        assert set(message) <= ALLOWED_MESSAGE_KEYS
        assert message["data"] == {"notification_id": str(nid), "kind": "appointment"}
        assert message["notification"] == {
            "title": "Nhắc lịch hẹn",
            "body": "Bạn có lịch hẹn sắp tới. Mở ứng dụng để xem chi tiết.",
        }
        # Parameters (a time, a place) are for the inbox only, never for Google's or Apple's servers.
        assert "TYT" not in str(message)
        assert "08:30" not in str(message)
    by_platform = {
        ("android" if "android" in m else "apns" if "apns" in m else "webpush"): m for m in fake_fcm.messages
    }
    assert by_platform["android"]["android"]["notification"]["tag"] == str(nid)
    assert by_platform["apns"]["apns"]["headers"]["apns-collapse-id"] == str(nid)
    assert int(by_platform["android"]["android"]["ttl"].rstrip("s")) > 0


async def test_push_text_follows_the_device_locale(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker]
) -> None:
    [(account, _)] = await add_accounts(committed, 1, locale="en")
    await queue(committed, [account])
    await make_worker().run_once()
    assert fake_fcm.messages[0]["notification"]["title"] == "Check-up reminder"


@pytest.mark.parametrize("code", ["UNREGISTERED", "SENDER_ID_MISMATCH", "INVALID_ARGUMENT"])
async def test_dead_tokens_are_deleted_and_not_retried(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker], clock: Clock, code: str
) -> None:
    [(account, [token])] = await add_accounts(committed, 1)
    [nid] = await queue(committed, [account])
    fake_fcm.fail_token(token, code=code)  # the fake's INVALID_ARGUMENT text is about the registration token
    worker = make_worker()
    await worker.run_once()
    row = await fetch(committed, nid)
    assert row.status is DeliveryStatus.failed
    assert row.last_error == "no_valid_device"
    assert token not in await device_tokens(committed)
    clock.advance(hours=1)
    assert await worker.run_once() == 0
    assert len(fake_fcm.received) == 1


async def test_invalid_argument_about_our_message_fails_permanently_and_keeps_the_token(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker], clock: Clock
) -> None:
    [(account, [token])] = await add_accounts(committed, 1)
    [nid] = await queue(committed, [account])
    fake_fcm.fail_token(token, code="INVALID_ARGUMENT", message="Invalid value at 'message.android.ttl'")
    worker = make_worker()
    await worker.run_once()
    row = await fetch(committed, nid)
    assert (row.status, row.last_error) == (DeliveryStatus.failed, "INVALID_ARGUMENT")
    assert token in await device_tokens(committed)
    clock.advance(hours=1)
    assert await worker.run_once() == 0


@pytest.mark.parametrize("code", ["UNAVAILABLE", "INTERNAL"])
async def test_unavailable_honours_retry_after(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker], clock: Clock, code: str
) -> None:
    [(account, _)] = await add_accounts(committed, 1)
    [nid] = await queue(committed, [account])
    fake_fcm.fail_next(1, code=code, retry_after=120)
    worker = make_worker()
    await worker.run_once()
    row = await fetch(committed, nid)
    assert row.status is DeliveryStatus.pending
    assert row.next_attempt_at == clock.now + dt.timedelta(seconds=120)
    assert row.attempts == 1
    clock.advance(seconds=119)
    assert await worker.run_once() == 0, "no retry before Retry-After"
    clock.advance(seconds=1)
    assert await worker.run_once() == 1
    assert (await fetch(committed, nid)).status is DeliveryStatus.sent


async def test_unavailable_without_retry_after_backs_off_with_jitter(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker], clock: Clock
) -> None:
    [(account, _)] = await add_accounts(committed, 1)
    [nid] = await queue(committed, [account])
    fake_fcm.fail_next(1, code="UNAVAILABLE")
    await make_worker().run_once()
    row = await fetch(committed, nid)
    assert row.status is DeliveryStatus.pending
    assert clock.now <= row.next_attempt_at <= clock.now + dt.timedelta(seconds=2), "first backoff is at most 2 s"


async def test_quota_exceeded_waits_at_least_a_minute_and_slows_the_worker(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker], clock: Clock
) -> None:
    [(account, _)] = await add_accounts(committed, 1)
    [nid] = await queue(committed, [account])
    fake_fcm.fail_next(1, code="QUOTA_EXCEEDED")
    worker = make_worker(rate_per_second=1000.0)
    await worker.run_once()
    row = await fetch(committed, nid)
    assert row.status is DeliveryStatus.pending
    assert row.next_attempt_at >= clock.now + dt.timedelta(seconds=60)
    assert worker.dispatcher.bucket.rate == 500.0


async def test_retries_stop_after_eight_attempts(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker], clock: Clock
) -> None:
    [(account, _)] = await add_accounts(committed, 1)
    [nid] = await queue(committed, [account], expires_at=clock.now + dt.timedelta(days=30))
    fake_fcm.set_default(code="UNAVAILABLE")
    worker = make_worker()
    for _ in range(10):
        await worker.run_once()
        clock.advance(hours=1)
    row = await fetch(committed, nid)
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.failed, 8, "attempts_exhausted")
    assert len(fake_fcm.received) == 8


async def test_retries_never_run_past_expiry(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker], clock: Clock
) -> None:
    [(account, _)] = await add_accounts(committed, 1)
    [nid] = await queue(committed, [account], expires_at=clock.now + dt.timedelta(seconds=60))
    fake_fcm.fail_next(1, code="UNAVAILABLE", retry_after=300)
    await make_worker().run_once()
    assert (await fetch(committed, nid)).status is DeliveryStatus.expired


async def test_an_expired_notification_is_not_sent(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker], clock: Clock
) -> None:
    [(account, _)] = await add_accounts(committed, 1)
    [nid] = await queue(committed, [account], expires_at=clock.now + dt.timedelta(minutes=5))
    clock.advance(minutes=6)
    await make_worker().run_once()
    assert (await fetch(committed, nid)).status is DeliveryStatus.expired
    assert fake_fcm.received == []


async def test_third_party_auth_error_opens_the_circuit_for_that_platform_only(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker], clock: Clock
) -> None:
    accounts = await add_accounts(committed, 2, platforms=("ios",)) + await add_accounts_android(committed)
    ios_a, ios_b, android = (a for a, _ in accounts)
    fake_fcm.fail_token(accounts[0][1][0], code="THIRD_PARTY_AUTH_ERROR")
    worker = make_worker(batch_size=1)
    [first] = await queue(committed, [ios_a])
    await worker.run_once()
    row = await fetch(committed, first)
    assert row.status is DeliveryStatus.pending, "kept for after the fix"
    assert row.attempts == 0, "a circuit wait does not use up attempts"
    assert worker.dispatcher.circuits["ios"].state == "open"
    sent_before = len(fake_fcm.received)
    [second] = await queue(committed, [ios_b], now=clock.now)
    [third] = await queue(committed, [android], now=clock.now)
    await worker.run_once()
    await worker.run_once()
    assert len(fake_fcm.received) == sent_before + 1, "iOS is not attempted while its circuit is open"
    assert (await fetch(committed, second)).status is DeliveryStatus.pending
    assert (await fetch(committed, third)).status is DeliveryStatus.sent


async def add_accounts_android(committed: Database) -> list[tuple[uuid.UUID, list[str]]]:
    made = await add_accounts(committed, 1, platforms=("android",))
    return made


@pytest.mark.parametrize("code", ["UNAUTHENTICATED", "PERMISSION_DENIED"])
async def test_our_credentials_are_refreshed_once_then_the_circuit_opens(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker], code: str
) -> None:
    [(account, _)] = await add_accounts(committed, 1)
    [nid] = await queue(committed, [account])
    fake_fcm.set_default(code=code)
    worker = make_worker()
    await worker.run_once()
    assert len(fake_fcm.received) == 2, "one send, one resend after refreshing credentials"
    assert worker.dispatcher.auth_circuit.state == "open"
    row = await fetch(committed, nid)
    assert row.status is DeliveryStatus.pending
    assert row.attempts == 0


async def test_refresh_that_works_delivers(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker]
) -> None:
    [(account, _)] = await add_accounts(committed, 1)
    [nid] = await queue(committed, [account])
    fake_fcm.fail_next(1, code="UNAUTHENTICATED")
    worker = make_worker()
    await worker.run_once()
    assert (await fetch(committed, nid)).status is DeliveryStatus.sent
    assert worker.dispatcher.auth_circuit.state == "closed"


async def test_an_account_without_devices_keeps_the_message_in_its_inbox(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker]
) -> None:
    [(account, _)] = await add_accounts(committed, 1, platforms=())
    [nid] = await queue(committed, [account])
    await make_worker().run_once()
    row = await fetch(committed, nid)
    assert (row.status, row.last_error) == (DeliveryStatus.failed, "no_device")


async def test_quiet_hours_hold_a_reminder_until_seven(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker]
) -> None:
    evening = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)  # 22:00 in Quảng Ngãi
    clock = Clock(evening)
    [(account, _)] = await add_accounts(committed, 1)
    [nid] = await queue(committed, [account], now=evening)
    seven = dt.datetime(2026, 11, 24, 0, 0, tzinfo=dt.UTC)  # 07:00 local next morning
    assert (await fetch(committed, nid)).not_before == seven
    worker = make_worker(clock=clock)
    clock.now = seven - dt.timedelta(minutes=1)
    assert await worker.run_once() == 0
    assert fake_fcm.received == []
    clock.now = seven
    assert await worker.run_once() == 1
    assert (await fetch(committed, nid)).status is DeliveryStatus.sent


async def test_an_otp_sms_ignores_quiet_hours_and_its_code_is_wiped_after_sending(
    committed: Database, make_worker: Callable[..., Worker], settings: object, capsys: pytest.CaptureFixture[str]
) -> None:
    night = dt.datetime(2026, 11, 23, 16, 30, tzinfo=dt.UTC)  # 23:30 local
    async with committed.transaction() as session:
        nid = await notify(
            session,
            Draft(template="otp_sms", dedupe_key="otp:test", phone="+84905123456", sealed={"code": "482913"}),
            secret=settings.secret_key,  # type: ignore[attr-defined]
            now=night,
        )
    assert nid is not None
    stored = await fetch(committed, nid)
    assert stored.not_before == night
    assert stored.sealed is not None
    assert b"482913" not in stored.sealed, "the code is stored encrypted"
    await make_worker(clock=Clock(night)).run_once()
    row = await fetch(committed, nid)
    assert row.status is DeliveryStatus.sent
    assert row.sealed is None
    assert "482913" in capsys.readouterr().err, "the console sender shows the code to the developer"


async def test_notify_wakes_a_listening_worker(
    committed: Database, fake_fcm: FakeFcm, make_worker: Callable[..., Worker]
) -> None:
    [(account, _)] = await add_accounts(committed, 1)
    worker = make_worker(poll_interval=120.0, clock=lambda: dt.datetime.now(dt.UTC))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.5)  # first drain finds nothing; the worker now waits on LISTEN
    # An urgent template: the wall clock may be inside quiet hours when this runs.
    await queue(committed, [account], template="record_accessed", params=ACCESS, now=dt.datetime.now(dt.UTC))
    try:
        async with asyncio.timeout(15):  # far below the 120 s poll: only NOTIFY can explain the delivery
            while worker.delivered < 1:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running
    assert len(fake_fcm.messages) == 1
