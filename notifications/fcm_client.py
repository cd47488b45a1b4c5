"""The one module of the project that imports ``firebase_admin``.

Verified against firebase-admin 7.7.0 (tests in tests/notifications/test_fake_fcm.py pin it):

* ``messaging._MessagingService.__init__`` formats the class attribute ``FCM_URL`` once into
  the *instance* attribute ``_fcm_url``. We override that instance attribute per app instead of
  the class attribute, so no global state is mutated and apps cannot race each other.
* ``send_each_async`` sends each message via ``service._async_client.request(...)``. The
  stock client (``_http_client.HttpxAsyncClient``) retries 500/503 up to 4 times with
  exponential backoff (``DEFAULT_HTTPX_RETRY_CONFIG``: 0+1+2+4 s), and its auth flow *resends*
  a request after a 401 following ``credential.refresh()``, up to twice (THIRD_PARTY_AUTH_ERROR
  is a 401 too; with a static token the refresh raises and the whole batch fails). Our delivery
  worker owns retry policy, so each app's service gets ``_FcmHttpClient`` instead: a plain
  httpx client (transport retries=0) that sends exactly once. One message == one request.
* HTTP/2: firebase-admin requires the ``h2`` package (its transport forces ``http2=True``), but
  over ``http://`` httpcore never upgrades and silently speaks HTTP/1.1. For ``http://`` URLs
  (the fake) we use HTTP/2 prior knowledge (h2c) unless ``h2c=False``, so tests and benchmarks
  multiplex like production does over TLS+ALPN.
* ``Message(token=...)`` emits a DeprecationWarning in 7.x in favour of ``fid`` (Firebase
  installation ID). An FID is a *different identifier*; our apps register FCM registration
  tokens, which FCM still accepts under ``token``. We set the ``token`` attribute after
  construction: same wire format, no warning, and no process-global ``warnings`` filter
  juggling (``catch_warnings`` is not thread-safe).
* Errors arrive as ``SendResponse.exception``; the class is chosen from the FcmError
  ``errorCode`` detail, else the google.rpc ``status``; ``exc.http_response`` is the
  ``httpx.Response`` (headers, status), ``None`` for transport errors.

Tokens are never logged; ``PushMessage.token`` is excluded from its repr.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

import firebase_admin
import google.auth.credentials
import google.auth.exceptions
import google.oauth2.credentials
import httpx
from firebase_admin import credentials, exceptions, messaging
from google.auth.transport.requests import Request as GoogleAuthRequest

from notifications.retry_after import parse_retry_after

MAX_BATCH: Final = 500  # send_each_async's own limit
MAX_TTL_SECONDS: Final = 28 * 24 * 3600  # FCM's maximum message lifetime
DEFAULT_TIMEOUT_SECONDS: Final = 10.0  # firebase-admin's default is 120 s: far too long for a worker

Platform = Literal["android", "ios", "web"]
ErrorCode = Literal[
    "UNREGISTERED",
    "INVALID_ARGUMENT",
    "SENDER_ID_MISMATCH",
    "QUOTA_EXCEEDED",
    "UNAVAILABLE",
    "INTERNAL",
    "THIRD_PARTY_AUTH_ERROR",
    "UNAUTHENTICATED",
    "PERMISSION_DENIED",
    "TIMEOUT",
    "UNKNOWN",
]


@dataclass(frozen=True, slots=True)
class PushMessage:
    token: str = field(repr=False)  # an FCM registration token: a credential, keep out of logs
    title: str
    body: str
    data: dict[str, str]
    collapse_id: str
    ttl_seconds: int
    platform: Platform

    def __post_init__(self) -> None:
        if not self.token:
            raise ValueError("token must be non-empty")
        if not 0 <= self.ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl_seconds must be within 0..{MAX_TTL_SECONDS}")
        if not self.collapse_id or len(self.collapse_id.encode()) > 64:  # APNs limit
            raise ValueError("collapse_id must be 1..64 bytes")
        if self.platform not in get_args(Platform):
            raise ValueError(f"unknown platform {self.platform!r}")


@dataclass(frozen=True, slots=True)
class PushResult:
    ok: bool
    message_id: str | None
    error_code: ErrorCode | None
    retry_after_seconds: float | None
    http_status: int | None
    # INVALID_ARGUMENT is either about the token (delete it) or about our message (our bug): FCM only says which
    # in the error text, e.g. "The registration token is not a valid FCM registration token".
    token_invalid: bool = False


# Most specific first: the messaging errors subclass the generic platform ones.
_ERROR_CODES: Final[tuple[tuple[type[exceptions.FirebaseError], ErrorCode], ...]] = (
    (messaging.UnregisteredError, "UNREGISTERED"),
    (messaging.SenderIdMismatchError, "SENDER_ID_MISMATCH"),
    (messaging.QuotaExceededError, "QUOTA_EXCEEDED"),
    (messaging.ThirdPartyAuthError, "THIRD_PARTY_AUTH_ERROR"),  # also APNS_AUTH_ERROR
    (exceptions.InvalidArgumentError, "INVALID_ARGUMENT"),
    (exceptions.UnavailableError, "UNAVAILABLE"),  # also connection refused
    (exceptions.InternalError, "INTERNAL"),
    (exceptions.UnauthenticatedError, "UNAUTHENTICATED"),
    (exceptions.PermissionDeniedError, "PERMISSION_DENIED"),
    (exceptions.ResourceExhaustedError, "QUOTA_EXCEEDED"),  # 429 without an FcmError detail
    (exceptions.DeadlineExceededError, "TIMEOUT"),  # httpx timeout, incl. pool wait
)


class _SendOnceAuth(httpx.Auth):
    """Attach the OAuth bearer token; never resend (unlike firebase-admin's auth flow)."""

    def __init__(self, credential: google.auth.credentials.Credentials) -> None:
        self._credential = credential
        self._auth_request = GoogleAuthRequest()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # Refreshes only if the token is missing/expired; send_batch refreshes off-loop first.
        self._credential.before_request(self._auth_request, request.method, str(request.url), request.headers)
        yield request


class _FcmHttpClient:
    """Stand-in for ``HttpxAsyncClient`` with the two methods ``_MessagingService`` uses."""

    def __init__(self, credential: google.auth.credentials.Credentials, timeout: float, h2c: bool) -> None:
        # http1=False + http2=True is httpcore's "HTTP/2 with prior knowledge" switch.
        self._client = httpx.AsyncClient(http1=not h2c, http2=True, timeout=timeout, auth=_SendOnceAuth(credential))

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        # Same contract as HttpxAsyncClient.request: firebase-admin maps HTTPStatusError to
        # its exception classes (and httpx timeouts to DeadlineExceededError).
        return (await self._client.request(method, url, **kwargs)).raise_for_status()

    async def aclose(self) -> None:
        await self._client.aclose()


def create_app_from_service_account(
    path: str | os.PathLike[str],
    *,
    fcm_url: str | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    h2c: bool = True,
) -> firebase_admin.App:
    """Production: an isolated App from a service-account JSON (project id read from it)."""
    return _create_app(credentials.Certificate(os.fspath(path)), None, fcm_url, timeout_seconds, h2c)


def create_app_with_token(
    *,
    project_id: str,
    fcm_url: str,
    token: str = "fake",  # noqa: S107  # a bearer token only the fake server ever sees
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    h2c: bool = True,
) -> firebase_admin.App:
    """Tests/benchmarks: a static bearer token (never expires, never refreshed) + URL override.

    ``initialize_app`` accepts a google-auth credential directly (it wraps it in
    ``credentials._ExternalCredentials``), so no ``credentials.Base`` subclass is needed.
    """
    credential = google.oauth2.credentials.Credentials(token=token)
    return _create_app(credential, project_id, fcm_url, timeout_seconds, h2c)


def _create_app(
    credential: credentials.Base | google.auth.credentials.Credentials,
    project_id: str | None,
    fcm_url: str | None,
    timeout_seconds: float,
    h2c: bool,
) -> firebase_admin.App:
    """``h2c`` only matters for ``http://`` URLs; https always negotiates HTTP/2 via ALPN."""
    options = {"projectId": project_id} if project_id else {}
    app = firebase_admin.initialize_app(credential, options, name=f"phr-fcm-{uuid.uuid4().hex}")
    service = messaging._get_messaging_service(app)  # created (and cached on the app) now
    for attr in ("_fcm_url", "_async_client"):
        if not hasattr(service, attr):  # fail loudly if an upgrade moves the internals we patch
            raise RuntimeError(f"firebase-admin {firebase_admin.__version__}: no _MessagingService.{attr}")
    if fcm_url is not None:
        # Accept both firebase-admin's positional "{0}" and a readable "{project_id}" template.
        service._fcm_url = fcm_url.format(app.project_id, project_id=app.project_id)
    cleartext = service._fcm_url.startswith("http://")
    google_credential = app.credential.get_credential()
    # The replaced stock client never opened a connection, so dropping it leaks nothing.
    service._async_client = _FcmHttpClient(google_credential, timeout_seconds, h2c and cleartext)
    return app


async def close_app(app: firebase_admin.App) -> None:
    """Close the HTTP client and delete the App. Use instead of ``firebase_admin.delete_app``.

    ``delete_app`` calls ``_MessagingService.close()``, which does ``asyncio.run(aclose())`` and
    so fails inside a running loop; we close the client here, then run ``delete_app`` in a thread
    where that ``asyncio.run`` is legal (and a no-op on the already-closed client).
    """
    await messaging._get_messaging_service(app)._async_client.aclose()
    await asyncio.to_thread(firebase_admin.delete_app, app)


def to_fcm_message(msg: PushMessage) -> messaging.Message:
    """Convert to firebase-admin's Message; only the target platform's block is included."""
    android = apns = webpush = None
    if msg.platform == "android":
        android = messaging.AndroidConfig(
            ttl=msg.ttl_seconds, notification=messaging.AndroidNotification(tag=msg.collapse_id)
        )
    elif msg.platform == "ios":
        # apns-expiration is an absolute UNIX time; "0" means "deliver now or never".
        expiry = int(dt.datetime.now(dt.UTC).timestamp()) + msg.ttl_seconds if msg.ttl_seconds else 0
        apns = messaging.APNSConfig(headers={"apns-collapse-id": msg.collapse_id, "apns-expiration": str(expiry)})
    else:
        webpush = messaging.WebpushConfig(
            headers={"TTL": str(msg.ttl_seconds)}, notification=messaging.WebpushNotification(tag=msg.collapse_id)
        )
    message = messaging.Message(
        data=dict(msg.data),
        notification=messaging.Notification(title=msg.title, body=msg.body),
        android=android,
        apns=apns,
        webpush=webpush,
    )
    message.token = msg.token  # not Message(token=...): see module docstring (DeprecationWarning)
    return message


async def send_batch(app: firebase_admin.App, messages: Sequence[PushMessage]) -> list[PushResult]:
    """Send up to 500 messages concurrently; one PushResult per message, in order.

    Never retries. Failures that hit the whole batch (e.g. the OAuth token cannot be fetched)
    are reported on every message rather than raised, so the worker has a single code path.
    """
    if len(messages) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} messages per batch, got {len(messages)}")
    if not messages:
        return []
    fcm_messages = [to_fcm_message(m) for m in messages]
    credential = app.credential.get_credential()
    try:
        if not credential.valid:  # refresh in a thread: google-auth's refresh is blocking I/O
            await asyncio.to_thread(credential.refresh, GoogleAuthRequest())
        batch = await messaging.send_each_async(fcm_messages, app=app)
    except google.auth.exceptions.GoogleAuthError:
        return [PushResult(False, None, "UNAUTHENTICATED", None, None)] * len(messages)
    except exceptions.FirebaseError:  # send_each_async wraps any non-HTTP failure as UnknownError
        return [PushResult(False, None, "UNKNOWN", None, None)] * len(messages)
    return [_to_result(r) for r in batch.responses]


def _to_result(response: messaging.SendResponse) -> PushResult:
    if response.success:
        return PushResult(True, response.message_id, None, None, 200)
    exc = response.exception
    if exc is None:  # a 2xx without a message name
        return PushResult(False, None, "UNKNOWN", None, None)
    code: ErrorCode = next((c for t, c in _ERROR_CODES if isinstance(exc, t)), "UNKNOWN")
    http = exc.http_response  # httpx.Response for HTTP errors, None for transport errors
    token_invalid = code == "INVALID_ARGUMENT" and "registration token" in str(exc).lower()
    if http is None:
        return PushResult(False, None, code, None, None, token_invalid)
    retry_after = parse_retry_after(http.headers.get("Retry-After"))
    return PushResult(False, None, code, retry_after, http.status_code, token_invalid)
