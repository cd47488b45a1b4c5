"""A fake Firebase Cloud Messaging (HTTP v1) server for tests and benchmarks.

Speaks ``POST /v1/projects/{project}/messages:send`` well enough for the *real* firebase-admin
async path (``messaging.send_each_async``):

* HTTP/1.1 and HTTP/2 with prior knowledge (h2c), told apart by the first bytes. firebase-admin's
  stock httpx client (``http2=True``) can only negotiate HTTP/2 via TLS ALPN, so over ``http://``
  it speaks HTTP/1.1, which works, but 500 concurrent HTTP/1.1 requests thrash httpcore's
  100-connection pool (~10 s of client CPU per batch). Production multiplexes over HTTP/2, so
  ``fcm_client`` uses h2c for ``http://`` URLs and benchmarks measure something comparable.
* Error bodies have the real FCM v1 shape. firebase-admin picks its exception class from the
  ``google.firebase.fcm.v1.FcmError`` detail's ``errorCode`` first, then ``error.status``
  (google.rpc code name), then the HTTP status.
* ``POST /token`` mimics Google's OAuth token endpoint: a service-account JSON whose
  ``token_uri`` points here runs the production credential path offline.

    async with FakeFcm() as fake:            # fake.url is an FCM_URL-style template ("{0}")
        fake.fail_token("tok-1", code="UNREGISTERED")
    with FakeFcm.start_in_thread() as handle:  # sync callers: handle.fake, handle.url, .stop()
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
from collections import Counter, deque
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Self

import h2.config
import h2.connection
import h2.events
import h2.exceptions

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

# code -> (HTTP status, google.rpc status name, has an FcmError detail, message), as real FCM
# answers. UNAUTHENTICATED and PERMISSION_DENIED are Google front-end errors, not FcmError codes,
# so real FCM sends them without the FcmError detail.
FCM_ERRORS: dict[str, tuple[int, str, bool, str]] = {
    "UNREGISTERED": (404, "NOT_FOUND", True, "Requested entity was not found."),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT", True, "The registration token is not a valid FCM token"),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", True, "SenderId mismatch"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", True, "Quota exceeded for message sending."),
    "UNAVAILABLE": (503, "UNAVAILABLE", True, "The service is currently unavailable."),
    "INTERNAL": (500, "INTERNAL", True, "Internal error encountered."),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", True, "Auth error from APNS or Web Push Service"),
    "UNAUTHENTICATED": (401, "UNAUTHENTICATED", False, "Request had invalid authentication credentials."),
    "PERMISSION_DENIED": (403, "PERMISSION_DENIED", False, "Permission 'cloudmessaging.messages.create' denied"),
}
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_SEND_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")


@dataclass(frozen=True, slots=True)
class FakeReply:
    """One scripted error answer."""

    code: str
    status: int
    retry_after: str | None = None
    message: str | None = None  # overrides FCM's usual text (INVALID_ARGUMENT about the payload, not the token)

    @classmethod
    def make(
        cls, code: str, status: int | None, retry_after: float | str | None, message: str | None = None
    ) -> FakeReply:
        if status is None:
            if code not in FCM_ERRORS:
                raise ValueError(f"unknown FCM code {code!r}: pass status= explicitly")
            status = FCM_ERRORS[code][0]
        # Numbers become delta-seconds; strings pass through (e.g. an HTTP-date).
        ra = None if retry_after is None else str(int(retry_after)) if not isinstance(retry_after, str) else retry_after
        return cls(code, status, ra, message)

    def body(self) -> dict[str, Any]:
        _, rpc_status, fcm_detail, text = FCM_ERRORS.get(self.code, (self.status, self.code, False, self.code))
        error: dict[str, Any] = {"code": self.status, "message": self.message or text, "status": rpc_status}
        if fcm_detail:
            error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": self.code}]
        return {"error": error}


@dataclass(frozen=True, slots=True)
class Received:
    """One send request as the fake saw it (including ones it answered with an error)."""

    project: str
    message: dict[str, Any]
    validate_only: bool
    authorization: str | None
    status: int  # what the fake answered
    http_version: str  # "HTTP/1.1" or "HTTP/2"


def dedup_key(message: dict[str, Any]) -> str:
    """data["notification_id"] if present, else the target (token / fid / topic / condition)."""
    data = message.get("data") or {}
    if "notification_id" in data:
        return str(data["notification_id"])
    return str(next((message[k] for k in ("token", "fid", "topic", "condition") if k in message), ""))


class FakeFcm:
    """In-process fake FCM v1 endpoint on 127.0.0.1:<ephemeral>.

    Answer precedence per request: ``fail_next`` queue (an outage hits every token), then
    ``fail_token`` rules, then the ``set_default`` reply (success unless changed).
    State is guarded by a ``threading.Lock`` so tests may script a fake served from another
    thread (``start_in_thread``); the lock is never held across an ``await``.
    """

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency  # seconds slept before answering each send (concurrently)
        self._lock = threading.Lock()
        self._next: deque[FakeReply] = deque()
        self._by_token: dict[str, FakeReply] = {}
        self._default: FakeReply | None = None
        self._received: list[Received] = []
        self._delivered: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self.token_requests = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self.port = 0

    # -- scripting ---------------------------------------------------------------------------
    def fail_next(
        self,
        n: int = 1,
        code: str = "UNAVAILABLE",
        status: int | None = None,
        retry_after: float | str | None = None,
        message: str | None = None,
    ) -> None:
        reply = FakeReply.make(code, status, retry_after, message)
        with self._lock:
            self._next.extend([reply] * n)

    def fail_token(
        self,
        token: str,
        code: str = "UNREGISTERED",
        status: int | None = None,
        retry_after: float | str | None = None,
        message: str | None = None,
    ) -> None:
        reply = FakeReply.make(code, status, retry_after, message)
        with self._lock:
            self._by_token[token] = reply

    def set_default(
        self, code: str | None = None, status: int | None = None, retry_after: float | str | None = None
    ) -> None:
        """Reply for requests no other rule matched; ``code=None`` restores plain success."""
        reply = None if code is None else FakeReply.make(code, status, retry_after)
        with self._lock:
            self._default = reply

    def reset(self) -> None:
        """Forget scripted replies and everything recorded."""
        with self._lock:
            self._next.clear()
            self._by_token.clear()
            self._default = None
            self._received.clear()
            self._delivered.clear()
            self.token_requests = 0

    # -- inspection --------------------------------------------------------------------------
    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [r.message for r in self.received]

    @property
    def delivered(self) -> Counter[str]:
        """Successful (200, not validate_only) sends per dedup key: what a device would show."""
        with self._lock:
            return Counter(self._delivered)

    def duplicates(self) -> dict[str, int]:
        """Dedup keys delivered more than once, with their delivery counts."""
        return {k: c for k, c in self.delivered.items() if c > 1}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Send URL template in the exact format of ``_MessagingService.FCM_URL`` (``{0}``)."""
        return self.base_url + "/v1/projects/{0}/messages:send"

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        # Python 3.11's wait_closed() does not wait for (or close) live keep-alive connections,
        # so cancel their handlers ourselves; each one closes its writer in `finally`.
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    def start_in_thread(cls, *, latency: float = 0.0) -> FakeFcmThread:
        """Serve from a private event loop in a daemon thread, for synchronous callers."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-fcm", daemon=True)
        thread.start()
        fake = asyncio.run_coroutine_threadsafe(cls(latency=latency).start(), loop).result(timeout=10)
        return FakeFcmThread(fake, loop, thread)

    # -- transport ---------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            first = await reader.readline()
            if first == _H2_PREFACE[:16]:
                await self._serve_h2(reader, writer, first + await reader.readexactly(len(_H2_PREFACE) - 16))
            elif first:
                await self._serve_http1(reader, writer, first)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, h2.exceptions.H2Error):
            pass  # client went away mid-request (e.g. its timeout fired) or sent garbage
        except asyncio.CancelledError:
            pass  # stop(): end quietly (3.11's start_server logs a cancelled handler as an error)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve_http1(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: bytes) -> None:
        """HTTP/1.1 with keep-alive: what firebase-admin's own client speaks over http://."""
        while line:
            method, target, *_ = line.decode("latin-1").split()
            headers: dict[str, str] = {}
            while (raw_header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = raw_header.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            body = await reader.readexactly(length) if length else b""
            status, payload, extra = await self._answer(method, target, headers, body, "HTTP/1.1")
            raw = json.dumps(payload).encode()
            head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "Content-Type: application/json"]
            head += [f"{k}: {v}" for k, v in extra.items()] + [f"Content-Length: {len(raw)}"]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + raw)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                return
            line = await reader.readline()

    async def _serve_h2(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, preface: bytes) -> None:
        """HTTP/2 with prior knowledge (h2c): many concurrent streams on one connection, like
        production's ALPN-negotiated HTTP/2 to fcm.googleapis.com. No outbound flow-control
        handling: httpcore grants 16 MiB windows per connection and stream, and each of our
        responses is well under 1 KiB."""
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        conn.receive_data(preface)
        streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        answering: set[asyncio.Task[None]] = set()

        async def respond(stream_id: int, headers: dict[str, str], body: bytes) -> None:
            status, payload, extra = await self._answer(headers[":method"], headers[":path"], headers, body, "HTTP/2")
            raw = json.dumps(payload).encode()
            response = [(":status", str(status)), ("content-type", "application/json"), *extra.items()]
            with contextlib.suppress(h2.exceptions.H2Error):  # stream reset by a client timeout
                conn.send_headers(stream_id, [*response, ("content-length", str(len(raw)))])
                conn.send_data(stream_id, raw, end_stream=True)
                writer.write(conn.data_to_send())

        try:
            writer.write(conn.data_to_send())
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        streams[event.stream_id] = (dict(event.headers or []), bytearray())  # type: ignore[arg-type]
                    elif isinstance(event, h2.events.DataReceived) and event.stream_id in streams:
                        streams[event.stream_id][1].extend(event.data or b"")
                        conn.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded) and event.stream_id in streams:
                        headers, body = streams.pop(event.stream_id)
                        answer = asyncio.create_task(respond(event.stream_id, headers, bytes(body)))
                        answering.add(answer)
                        answer.add_done_callback(answering.discard)
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        return
                writer.write(conn.data_to_send())
                await writer.drain()
        finally:
            for answer in answering:
                answer.cancel()
            await asyncio.gather(*answering, return_exceptions=True)

    async def _answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes, version: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if method == "POST" and target == "/token":
            with self._lock:
                self.token_requests += 1
            return 200, {"access_token": "fake-sa-token", "expires_in": 3600, "token_type": "Bearer"}, {}
        match = _SEND_PATH.match(target)
        if method != "POST" or match is None:
            return 404, FakeReply("NOT_FOUND", 404).body(), {}
        auth = headers.get("authorization")
        try:
            parsed = json.loads(body)
            message = parsed["message"]
            if not isinstance(message, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return 400, FakeReply("INVALID_ARGUMENT", 400).body(), {}
        reply: FakeReply | None
        with self._lock:  # decide and record at arrival, so order == arrival order
            if not auth or not auth.startswith("Bearer "):
                reply = FakeReply("UNAUTHENTICATED", 401)
            elif self._next:
                reply = self._next.popleft()
            else:
                reply = self._by_token.get(str(message.get("token") or message.get("fid")), self._default)
            validate_only = bool(parsed.get("validate_only"))
            status = reply.status if reply else 200
            self._received.append(Received(match["project"], message, validate_only, auth, status, version))
            if reply is None and not validate_only:
                self._delivered[dedup_key(message)] += 1
            message_id = next(self._ids)
        if self.latency:
            await asyncio.sleep(self.latency)
        if reply is not None:
            return reply.status, reply.body(), {"Retry-After": reply.retry_after} if reply.retry_after else {}
        return 200, {"name": f"projects/{match['project']}/messages/0:{message_id}%fake"}, {}


class FakeFcmThread:
    """Handle for a FakeFcm served from a background thread; call ``stop()`` when done."""

    def __init__(self, fake: FakeFcm, loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
        self.fake = fake
        self._loop = loop
        self._thread = thread

    @property
    def url(self) -> str:
        return self.fake.url

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
