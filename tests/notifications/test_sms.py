"""SMS senders against a real HTTP server on 127.0.0.1 that records requests and answers scripted statuses."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import http
import json
import logging
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from notifications.circuit import CircuitBreaker
from notifications.sms import (
    ConsoleSmsSender,
    GuardedSmsSender,
    HttpGatewaySmsSender,
    SmsResult,
    build_sms_sender,
    parse_retry_after,
    seconds_until_vn_midnight,
)

PHONE = "+84912345456"
CODE = "482913"
TEXT = f"Mã xác thực PHR của bạn là {CODE}. Không chia sẻ mã này."
API_KEY = "Bearer s3cr3t-key-7f3a"
NOON_VN = dt.datetime(2025, 3, 14, 5, 0, tzinfo=dt.UTC)  # 12:00 in Vietnam: 12 h to local midnight


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"id": "prov-1"}'
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer (until the server stops): the client must time out


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedGateway:
    """A minimal HTTP/1.1 server (keep-alive, Content-Length bodies) answering replies in order, then ``default``."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.default = Reply()
        self.requests: list[Recorded] = []
        self._stop = asyncio.Event()
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/api/sms/send"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def stop(self) -> None:
        self._stop.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        await asyncio.gather(*self._handlers)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while request := await self._read_request(reader):
                self.requests.append(request)
                reply = self.replies.pop(0) if self.replies else self.default
                if reply.hang:
                    await self._stop.wait()
                    break
                writer.write(self._encode(reply))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up (timeout) or closed its pooled connection
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> Recorded | None:
        request_line = await reader.readline()
        if not request_line:
            return None
        method, path, _version = request_line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Recorded(method, path, headers, body)

    @staticmethod
    def _encode(reply: Reply) -> bytes:
        phrase = http.HTTPStatus(reply.status).phrase
        head = [f"HTTP/1.1 {reply.status} {phrase}", f"Content-Length: {len(reply.body)}"]
        head += [f"{name}: {value}" for name, value in {"Content-Type": "application/json", **reply.headers}.items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body


@pytest.fixture
async def gateway() -> AsyncIterator[ScriptedGateway]:
    server = ScriptedGateway()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def sender(gateway: ScriptedGateway) -> AsyncIterator[HttpGatewaySmsSender]:
    http_sender = HttpGatewaySmsSender(
        url=gateway.url, brandname="SYT-TEST", auth_header="Authorization", auth_value=API_KEY, timeout=5.0
    )
    yield http_sender
    await http_sender.aclose()


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class MemoryBudget:
    """The worker's daily SMS budget (PgSmsBudget), in memory."""

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self.used = 0

    async def take(self) -> bool:
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    async def refund(self) -> None:
        self.used -= 1


def guarded(inner: Any, *, budget: MemoryBudget | None = None) -> GuardedSmsSender:
    breaker = CircuitBreaker(failure_threshold=5, cooldown_seconds=30.0, now=FakeMonotonic())
    return GuardedSmsSender(inner, budget=budget or MemoryBudget(), breaker=breaker, wall_clock=lambda: NOON_VN)


async def test_http_sender_posts_the_default_template_with_the_auth_header(
    gateway: ScriptedGateway, sender: HttpGatewaySmsSender
) -> None:
    result = await sender.send(PHONE, TEXT)

    assert result == SmsResult(ok=True, provider_id="prov-1")
    [request] = gateway.requests
    assert (request.method, request.path) == ("POST", "/api/sms/send")
    assert request.headers["authorization"] == API_KEY
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert re.fullmatch(r"[0-9a-f]{32}", body.pop("id"))  # uuid4 hex, for the provider's dedupe
    assert body == {"to": PHONE, "from": "SYT-TEST", "text": TEXT}


async def test_http_sender_renders_a_nested_template_from_settings(gateway: ScriptedGateway) -> None:
    template = {
        "Auth": {"ApiKey": "literal-in-body"},
        "Phone": "{phone_local}",
        "Content": "{text}",
        "Brandname": "{brandname}",
        "RequestId": "phr-{request_id}",
        "SmsType": 2,
        "IsUnicode": True,
        "Tags": ["otp", "{brandname}", None],
    }
    gateway.script(Reply(body=b'{"data": {"message_id": 98765}}'))
    sms = HttpGatewaySmsSender(
        url=gateway.url,
        brandname="SYT",
        auth_header="X-Api-Key",
        auth_value="k-123",
        body_template=template,
        provider_id_field="data.message_id",
    )
    try:
        # A placeholder typed inside the message stays literal: substituted values are not rendered again.
        result = await sms.send(PHONE, "{phone} {request_id}", request_id="outbox-42")
    finally:
        await sms.aclose()

    assert result.provider_id == "98765"
    [request] = gateway.requests
    assert request.headers["x-api-key"] == "k-123"
    assert "authorization" not in request.headers
    assert request.json() == {
        "Auth": {"ApiKey": "literal-in-body"},
        "Phone": "0912345456",
        "Content": "{phone} {request_id}",
        "Brandname": "SYT",
        "RequestId": "phr-outbox-42",
        "SmsType": 2,
        "IsUnicode": True,
        "Tags": ["otp", "SYT", None],
    }


async def test_http_sender_uses_a_fresh_request_id_per_send_unless_given(
    gateway: ScriptedGateway, sender: HttpGatewaySmsSender
) -> None:
    await sender.send(PHONE, TEXT)
    await sender.send(PHONE, TEXT)
    await sender.send(PHONE, TEXT, request_id="outbox-7")
    ids = [request.json()["id"] for request in gateway.requests]
    assert ids[0] != ids[1]
    assert ids[2] == "outbox-7"


def http_date(seconds_from_now: float) -> str:
    return email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds_from_now), usegmt=True)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(200, b'{"id": "abc"}'), SmsResult(ok=True, provider_id="abc")),
        (Reply(201, b'{"id": 17}'), SmsResult(ok=True, provider_id="17")),
        (Reply(200, b'{"status": "queued"}'), SmsResult(ok=True)),  # no id field
        (Reply(202, b"accepted"), SmsResult(ok=True)),  # not JSON at all
        (Reply(204, b""), SmsResult(ok=True)),
        (Reply(400, b'{"error": "bad number"}'), SmsResult(ok=False, error_code="SMS_REJECTED_400")),
        (Reply(401), SmsResult(ok=False, error_code="SMS_REJECTED_401")),
        (Reply(403, headers={"Retry-After": "5"}), SmsResult(ok=False, error_code="SMS_REJECTED_403")),
        (Reply(422), SmsResult(ok=False, error_code="SMS_REJECTED_422")),
        (Reply(429), SmsResult(ok=False, error_code="SMS_RATE_LIMITED", retryable=True)),
        (
            Reply(429, headers={"Retry-After": "30"}),
            SmsResult(ok=False, error_code="SMS_RATE_LIMITED", retryable=True, retry_after=30.0),
        ),
        (Reply(500), SmsResult(ok=False, error_code="SMS_GATEWAY_500", retryable=True)),
        (Reply(502), SmsResult(ok=False, error_code="SMS_GATEWAY_502", retryable=True)),
        (
            Reply(503, headers={"Retry-After": "120"}),
            SmsResult(ok=False, error_code="SMS_GATEWAY_503", retryable=True, retry_after=120.0),
        ),
        (
            Reply(503, headers={"Retry-After": "soon"}),
            SmsResult(ok=False, error_code="SMS_GATEWAY_503", retryable=True),
        ),
        (Reply(504), SmsResult(ok=False, error_code="SMS_GATEWAY_504", retryable=True)),
        (Reply(302, headers={"Location": "http://elsewhere.invalid/"}), SmsResult(False, "SMS_GATEWAY_302", True)),
    ],
    ids=lambda value: str(value.status) + "-" + "-".join(value.headers.values()) if isinstance(value, Reply) else "",
)
async def test_http_status_maps_to_outcome(
    gateway: ScriptedGateway, sender: HttpGatewaySmsSender, reply: Reply, expected: SmsResult
) -> None:
    gateway.script(reply)
    assert await sender.send(PHONE, TEXT) == expected
    assert len(gateway.requests) == 1  # no transport retry, no redirect followed


async def test_retry_after_as_an_http_date(gateway: ScriptedGateway, sender: HttpGatewaySmsSender) -> None:
    gateway.script(Reply(503, headers={"Retry-After": http_date(90)}))
    result = await sender.send(PHONE, TEXT)
    assert result.retryable
    assert result.retry_after == pytest.approx(90, abs=2)  # HTTP-dates have whole seconds


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        (" 45 ", 45.0),
        ("Fri, 14 Mar 2025 05:02:00 GMT", 120.0),
        ("Fri, 14 Mar 2025 04:00:00 GMT", 0.0),  # in the past: now
        ("-5", None),
        ("1.5", None),
        ("tomorrow", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOON_VN) == seconds


async def test_timeout_is_retryable(gateway: ScriptedGateway) -> None:
    gateway.script(Reply(hang=True))
    sms = HttpGatewaySmsSender(url=gateway.url, brandname="SYT", timeout=0.2)
    try:
        result = await sms.send(PHONE, TEXT)
    finally:
        await sms.aclose()
    assert result == SmsResult(ok=False, error_code="SMS_TIMEOUT", retryable=True)
    assert len(gateway.requests) == 1


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_connection_refused_is_retryable() -> None:
    sms = HttpGatewaySmsSender(url=f"http://127.0.0.1:{unused_port()}/send", brandname="SYT", timeout=2.0)
    try:
        result = await sms.send(PHONE, TEXT)
    finally:
        await sms.aclose()
    assert result == SmsResult(ok=False, error_code="SMS_UNREACHABLE", retryable=True)


@pytest.mark.parametrize("phone", ["0912345456", "+842412345678", "+14155550100", ""])
async def test_non_e164_vn_mobile_is_refused_before_the_gateway(
    gateway: ScriptedGateway, sender: HttpGatewaySmsSender, phone: str
) -> None:
    assert await sender.send(phone, TEXT) == SmsResult(ok=False, error_code="SMS_INVALID_PHONE")
    assert gateway.requests == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"body_template": {"to": "{phnoe}"}}, "phnoe"),
        ({"body_template": {"a": [{"b": "{secret}"}]}}, "secret"),
        ({"auth_header": "Authorization"}, "together"),
        ({"auth_value": API_KEY}, "together"),
    ],
)
def test_misconfiguration_stops_the_start(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        HttpGatewaySmsSender(url="http://127.0.0.1:9/", brandname="SYT", **kwargs)
    assert "s3cr3t" not in str(caught.value)


async def test_http_sender_never_logs_or_returns_the_phone_text_or_credentials(
    gateway: ScriptedGateway, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway.script(Reply(200), Reply(400, b'{"error": "invalid"}'), Reply(503), Reply(hang=True))
    sms = HttpGatewaySmsSender(
        url=gateway.url, brandname="SYT", auth_header="Authorization", auth_value=API_KEY, timeout=0.3
    )
    refused = HttpGatewaySmsSender(
        url=f"http://127.0.0.1:{unused_port()}/", brandname="SYT", auth_value=API_KEY, auth_header="Authorization"
    )
    try:
        results = [await sms.send(PHONE, TEXT, request_id="req-leak-test") for _ in range(4)]
        results.append(await refused.send(PHONE, TEXT, request_id="req-leak-test"))
    finally:
        await sms.aclose()
        await refused.aclose()

    assert [r.error_code for r in results] == [
        None,
        "SMS_REJECTED_400",
        "SMS_GATEWAY_503",
        "SMS_TIMEOUT",
        "SMS_UNREACHABLE",
    ]
    captured = capsys.readouterr()
    everything = "\n".join([caplog.text, captured.out, captured.err, *map(repr, results)])
    assert "sms.gateway_response" in everything  # the outcomes were logged: the check below is not vacuous
    for secret in (PHONE, "912345456", CODE, "Không chia sẻ", "s3cr3t-key"):
        assert secret not in everything


async def test_console_sender_prints_the_masked_phone_and_the_full_text(capsys: pytest.CaptureFixture[str]) -> None:
    sms = build_sms_sender("console")
    assert isinstance(sms, ConsoleSmsSender)
    assert (await sms.send(PHONE, TEXT)).ok
    assert (await sms.send(PHONE, "line one\nline two")).ok
    await sms.aclose()

    err = capsys.readouterr().err
    assert err == f"[sms console] to +84******456: {TEXT}\n[sms console] to +84******456: line one\\nline two\n"
    assert PHONE not in err


async def test_guard_opens_the_circuit_after_5_gateway_failures_and_stops_calling_it(
    gateway: ScriptedGateway, sender: HttpGatewaySmsSender
) -> None:
    gateway.default = Reply(503)
    guard = guarded(sender)
    clock = guard.breaker.now
    assert isinstance(clock, FakeMonotonic)
    for _ in range(5):
        assert (await guard.send(PHONE, TEXT)).error_code == "SMS_GATEWAY_503"
    assert guard.breaker.retry_at() == clock.t + 30  # open for the cooldown

    refused = await guard.send(PHONE, TEXT)
    assert refused == SmsResult(ok=False, error_code="SMS_CIRCUIT_OPEN", retryable=True, retry_after=30.0)
    assert len(gateway.requests) == 5  # the refused send never reached the gateway

    # After the cooldown one probe goes through; the gateway has recovered, so the circuit closes.
    clock.t += 30
    gateway.default = Reply(200)
    assert (await guard.send(PHONE, TEXT)).ok
    assert guard.breaker.state == "closed"
    assert len(gateway.requests) == 6


async def test_guard_transport_failures_count_against_the_circuit() -> None:
    sms = HttpGatewaySmsSender(url=f"http://127.0.0.1:{unused_port()}/", brandname="SYT", timeout=2.0)
    guard = guarded(sms)
    try:
        results = [await guard.send(PHONE, TEXT) for _ in range(6)]
    finally:
        await guard.aclose()
    assert [r.error_code for r in results] == ["SMS_UNREACHABLE"] * 5 + ["SMS_CIRCUIT_OPEN"]


async def test_guard_rejected_numbers_do_not_trip_the_circuit(
    gateway: ScriptedGateway, sender: HttpGatewaySmsSender
) -> None:
    gateway.default = Reply(400)
    guard = guarded(sender)
    results = [await guard.send(PHONE, TEXT) for _ in range(8)]
    assert {r.error_code for r in results} == {"SMS_REJECTED_400"}
    assert guard.breaker.state == "closed"
    assert len(gateway.requests) == 8


async def test_guard_refuses_over_the_daily_budget_until_local_midnight(
    gateway: ScriptedGateway, sender: HttpGatewaySmsSender
) -> None:
    budget = MemoryBudget(limit=2)
    guard = guarded(sender, budget=budget)
    for _ in range(2):
        assert (await guard.send(PHONE, TEXT)).ok

    refused = await guard.send(PHONE, TEXT)
    assert refused == SmsResult(ok=False, error_code="SMS_DAILY_BUDGET", retryable=True, retry_after=12 * 3600.0)
    assert len(gateway.requests) == 2
    assert guard.breaker.state == "closed"  # a spent budget is not an outage


async def test_a_send_worth_retrying_gives_its_reservation_back(
    gateway: ScriptedGateway, sender: HttpGatewaySmsSender
) -> None:
    budget = MemoryBudget(limit=1)
    guard = guarded(sender, budget=budget)
    gateway.default = Reply(503)
    assert (await guard.send(PHONE, TEXT)).retryable
    assert budget.used == 0, "an outage does not burn the day's budget"
    gateway.default = Reply(400)
    assert not (await guard.send(PHONE, TEXT)).ok
    assert budget.used == 1, "a rejected message was handed to the gateway: it counts"


async def test_guard_over_budget_does_not_waste_the_half_open_probe(
    gateway: ScriptedGateway, sender: HttpGatewaySmsSender
) -> None:
    budget = MemoryBudget(limit=1)
    guard = guarded(sender, budget=budget)
    guard.breaker.trip(10)
    assert isinstance(guard.breaker.now, FakeMonotonic)
    guard.breaker.now.t += 10
    budget.used = 1
    assert (await guard.send(PHONE, TEXT)).error_code == "SMS_DAILY_BUDGET"
    budget.used = 0  # a new day
    assert (await guard.send(PHONE, TEXT)).ok  # the probe was still available
    assert guard.breaker.state == "closed"


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        (dt.datetime(2025, 3, 14, 5, 0, tzinfo=dt.UTC), 12 * 3600.0),
        (dt.datetime(2025, 3, 14, 16, 59, 59, tzinfo=dt.UTC), 1.0),  # 23:59:59 in Vietnam
        (dt.datetime(2025, 3, 14, 17, 0, tzinfo=dt.UTC), 24 * 3600.0),  # just turned midnight
        (dt.datetime(2025, 12, 31, 20, 0, tzinfo=dt.UTC), 21 * 3600.0),  # 03:00 on 1 Jan
        (dt.datetime(2025, 3, 14, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=7))), 1800.0),
    ],
)
def test_seconds_until_vn_midnight(now: dt.datetime, seconds: float) -> None:
    assert seconds_until_vn_midnight(now) == seconds


async def test_build_sms_sender_knows_console_and_http(gateway: ScriptedGateway) -> None:
    sms = build_sms_sender("http", url=gateway.url, brandname="SYT")
    assert isinstance(sms, HttpGatewaySmsSender)
    await sms.aclose()
    with pytest.raises(ValueError, match="allowed: console, http"):
        build_sms_sender("twilio")
