"""The REAL firebase-admin async send path (via notifications.fcm_client) against FakeFcm."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notifications.fake_fcm import FakeFcm
from notifications.fcm_client import (
    MAX_BATCH,
    PushMessage,
    PushResult,
    close_app,
    create_app_from_service_account,
    create_app_with_token,
    parse_retry_after,
    send_batch,
)

PROJECT = "phr-test"


def push(to: str = "tok-1", *, platform: str = "android", notification_id: str | None = None) -> PushMessage:
    data = {"kind": "reminder"} | ({"notification_id": notification_id} if notification_id else {})
    return PushMessage(
        token=to,
        title="Nhắc lịch tiêm",
        body="Ngày mai 8:00",
        data=data,
        collapse_id="appt-42",
        ttl_seconds=3600,
        platform=platform,  # type: ignore[arg-type]
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeFcm]:
    async with FakeFcm() as server:
        yield server


@pytest.fixture
async def app(fake: FakeFcm) -> AsyncIterator[Any]:
    firebase_app = create_app_with_token(project_id=PROJECT, fcm_url=fake.url)
    yield firebase_app
    await close_app(firebase_app)


async def test_success_records_payload_with_collapse_ids(fake: FakeFcm, app: Any) -> None:
    results = await send_batch(app, [push("tok-a"), push("tok-i", platform="ios"), push("tok-w", platform="web")])

    assert [r.ok for r in results] == [True, True, True]
    assert all(r.message_id and r.message_id.startswith(f"projects/{PROJECT}/messages/") for r in results)
    assert {r.http_status for r in results} == {200}
    by_token = {m["token"]: m for m in fake.messages}
    assert set(by_token) == {"tok-a", "tok-i", "tok-w"}  # sent as `token`, not `fid`
    android = by_token["tok-a"]
    assert android["notification"] == {"title": "Nhắc lịch tiêm", "body": "Ngày mai 8:00"}
    assert android["data"] == {"kind": "reminder"}
    assert android["android"] == {"ttl": "3600s", "notification": {"tag": "appt-42"}}
    assert "apns" not in android
    apns_headers = by_token["tok-i"]["apns"]["headers"]
    assert apns_headers["apns-collapse-id"] == "appt-42"
    expiry = int(apns_headers["apns-expiration"]) - dt.datetime.now(dt.UTC).timestamp()
    assert 3590 < expiry <= 3600
    assert by_token["tok-w"]["webpush"] == {"headers": {"TTL": "3600"}, "notification": {"tag": "appt-42"}}
    assert {r.project for r in fake.received} == {PROJECT}
    assert {r.authorization for r in fake.received} == {"Bearer fake"}
    assert not any(r.validate_only for r in fake.received)  # module-level send_each_async: dry_run=False
    assert {r.http_version for r in fake.received} == {"HTTP/2"}  # h2c prior knowledge by default


async def test_http1_fallback_like_stock_firebase_admin(fake: FakeFcm) -> None:
    # firebase-admin's own client (http2=True, http1=True) speaks HTTP/1.1 to http:// URLs.
    http1_app = create_app_with_token(project_id=PROJECT, fcm_url=fake.url, h2c=False)
    fake.fail_token("bad", code="UNREGISTERED", retry_after=5)
    try:
        results = await send_batch(http1_app, [push("a"), push("bad")])
    finally:
        await close_app(http1_app)
    assert results[0].ok
    assert results[1] == PushResult(False, None, "UNREGISTERED", 5.0, 404)
    assert {r.http_version for r in fake.received} == {"HTTP/1.1"}


ERRORS = [
    ("UNREGISTERED", 404),
    ("INVALID_ARGUMENT", 400),
    ("SENDER_ID_MISMATCH", 403),
    ("QUOTA_EXCEEDED", 429),
    ("UNAVAILABLE", 503),
    ("INTERNAL", 500),
    ("THIRD_PARTY_AUTH_ERROR", 401),
    ("UNAUTHENTICATED", 401),
    ("PERMISSION_DENIED", 403),
]


@pytest.mark.parametrize(("code", "status"), ERRORS)
async def test_error_codes_map_and_are_not_retried(fake: FakeFcm, app: Any, code: str, status: int) -> None:
    fake.fail_token("bad", code=code)

    bad, good = await send_batch(app, [push("bad"), push("good")])

    token_invalid = code == "INVALID_ARGUMENT"  # the fake's text for it names the registration token
    assert bad == PushResult(
        ok=False,
        message_id=None,
        error_code=code,
        retry_after_seconds=None,
        http_status=status,
        token_invalid=token_invalid,
    )
    assert good.ok
    # Exactly one request per message: firebase-admin's 500/503 retries and 401 re-sends are off.
    assert sorted(r.status for r in fake.received) == sorted([200, status])


async def test_invalid_argument_about_the_payload_keeps_the_token(fake: FakeFcm, app: Any) -> None:
    fake.fail_next(1, code="INVALID_ARGUMENT", message='Invalid JSON payload received. Unknown name "bogus"')
    (result,) = await send_batch(app, [push("t")])
    assert result.error_code == "INVALID_ARGUMENT"
    assert result.token_invalid is False


async def test_error_body_has_real_fcm_shape(fake: FakeFcm) -> None:
    fake.fail_next(1, code="UNREGISTERED")
    async with httpx.AsyncClient() as client:
        resp = await client.post(
            fake.url.format(PROJECT), json={"message": {"token": "t"}}, headers={"Authorization": "Bearer x"}
        )
    assert resp.status_code == 404
    assert resp.json() == {
        "error": {
            "code": 404,
            "message": "Requested entity was not found.",
            "status": "NOT_FOUND",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}],
        }
    }


async def test_retry_after_seconds_is_parsed(fake: FakeFcm, app: Any) -> None:
    fake.fail_next(1, code="UNAVAILABLE", retry_after=30)

    [result] = await send_batch(app, [push()])

    assert result.error_code == "UNAVAILABLE"
    assert result.http_status == 503
    assert result.retry_after_seconds == 30.0
    assert len(fake.received) == 1


async def test_retry_after_http_date_is_parsed(fake: FakeFcm, app: Any) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    fake.fail_next(1, code="QUOTA_EXCEEDED", retry_after=email.utils.format_datetime(when, usegmt=True))

    [result] = await send_batch(app, [push()])

    assert result.error_code == "QUOTA_EXCEEDED"
    assert result.retry_after_seconds is not None
    assert 110 < result.retry_after_seconds <= 120


def test_parse_retry_after_edge_cases() -> None:
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert parse_retry_after(None) is None
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after("Wed, 01 Jan 2025 00:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("Tue, 31 Dec 2024 00:00:00 GMT", now=now) == 0.0  # past -> now
    assert parse_retry_after("soon") is None


async def test_fail_next_then_default_success(fake: FakeFcm, app: Any) -> None:
    fake.fail_next(2, code="INTERNAL")

    first = await send_batch(app, [push("a")])
    second = await send_batch(app, [push("a")])
    third = await send_batch(app, [push("a")])

    assert [first[0].error_code, second[0].error_code, third[0].ok] == ["INTERNAL", "INTERNAL", True]


async def test_set_default_applies_to_unmatched_requests(fake: FakeFcm, app: Any) -> None:
    fake.set_default(code="UNAVAILABLE")
    assert [r.error_code for r in await send_batch(app, [push("a"), push("b")])] == ["UNAVAILABLE"] * 2
    fake.set_default()
    assert all(r.ok for r in await send_batch(app, [push("a")]))


async def test_duplicates_are_counted_by_notification_id_else_token(fake: FakeFcm, app: Any) -> None:
    fake.fail_next(1, code="UNAVAILABLE")  # a failed attempt is received but not delivered
    await send_batch(app, [push("t1", notification_id="n-1")])
    await send_batch(app, [push("t1", notification_id="n-1"), push("t2", notification_id="n-2")])
    await send_batch(app, [push("t1", notification_id="n-1"), push("t3"), push("t3")])

    assert fake.duplicates() == {"n-1": 2, "t3": 2}
    assert fake.delivered["n-2"] == 1
    assert len(fake.received) == 6


async def test_more_than_500_messages_raises(fake: FakeFcm, app: Any) -> None:
    with pytest.raises(ValueError, match="at most 500"):
        await send_batch(app, [push(f"t{i}") for i in range(MAX_BATCH + 1)])
    assert fake.received == []


async def test_full_batch_of_500(fake: FakeFcm, app: Any) -> None:
    fake.fail_token("t7", code="UNREGISTERED")
    results = await send_batch(app, [push(f"t{i}") for i in range(MAX_BATCH)])
    assert len(results) == MAX_BATCH
    assert [i for i, r in enumerate(results) if not r.ok] == [7]
    assert len(fake.received) == MAX_BATCH


async def test_timeout_maps_to_timeout(fake: FakeFcm) -> None:
    fake.latency = 2.0
    slow_app = create_app_with_token(project_id=PROJECT, fcm_url=fake.url, timeout_seconds=0.2)
    try:
        [result] = await send_batch(slow_app, [push()])
    finally:
        await close_app(slow_app)
    assert result == PushResult(False, None, "TIMEOUT", None, None)


async def test_connection_refused_maps_to_unavailable() -> None:
    async with FakeFcm() as gone:
        url = gone.url
    dead_app = create_app_with_token(project_id=PROJECT, fcm_url=url)
    try:
        [result] = await send_batch(dead_app, [push()])
    finally:
        await close_app(dead_app)
    assert result == PushResult(False, None, "UNAVAILABLE", None, None)


async def test_empty_batch_sends_nothing(fake: FakeFcm, app: Any) -> None:
    assert await send_batch(app, []) == []
    assert fake.received == []


def test_push_message_validation_and_repr_hides_token() -> None:
    assert "tok-secret" not in repr(push("tok-secret"))
    with pytest.raises(ValueError, match="collapse_id"):
        PushMessage("t", "a", "b", {}, "x" * 65, 60, "android")
    with pytest.raises(ValueError, match="ttl_seconds"):
        PushMessage("t", "a", "b", {}, "c", -1, "ios")


async def test_service_account_path_fetches_token_from_fake(fake: FakeFcm, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "phr-sa-project",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "fcm@phr-sa-project.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": fake.token_uri,
    }
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    sa_app = create_app_from_service_account(path, fcm_url=fake.url)
    try:
        first = await send_batch(sa_app, [push("a")])
        second = await send_batch(sa_app, [push("b")])
    finally:
        await close_app(sa_app)
    assert first[0].ok
    assert second[0].ok
    assert fake.token_requests == 1  # refreshed once (off-loop), then cached
    assert {r.project for r in fake.received} == {"phr-sa-project"}
    assert {r.authorization for r in fake.received} == {"Bearer fake-sa-token"}


def test_start_in_thread_serves_sync_callers() -> None:
    with FakeFcm.start_in_thread() as handle:
        handle.fake.fail_token("gone", code="UNREGISTERED")
        with httpx.Client() as client:
            ok = client.post(
                handle.url.format("p"), json={"message": {"token": "x"}}, headers={"Authorization": "Bearer t"}
            )
            gone = client.post(
                handle.url.format("p"), json={"message": {"token": "gone"}}, headers={"Authorization": "Bearer t"}
            )
        assert ok.status_code == 200
        assert ok.json()["name"].startswith("projects/p/messages/")
        assert gone.status_code == 404
        assert [r.message["token"] for r in handle.fake.received] == ["x", "gone"]
