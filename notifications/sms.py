"""Sending SMS (OTP codes for enrolment and recovery): a console sender for development, a configurable HTTP
gateway adapter, and a guard that enforces the daily SMS budget and a circuit breaker around either.

Phone numbers, message texts (they carry OTP codes) and gateway credentials are never logged and never put into
exception messages or results; only ``ConsoleSmsSender`` prints a text, by design, in development.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import httpx

from core.identifiers import InvalidIdentifier, is_vn_mobile_e164, mask_phone
from core.logging import get_logger
from core.outbox import VN_TZ
from notifications.circuit import CircuitBreaker
from notifications.retry_after import parse_retry_after

log = get_logger("phr.notifications.sms")

DEFAULT_TIMEOUT_SECONDS: Final = 10.0
DEFAULT_BODY_TEMPLATE: Final[Mapping[str, Any]] = {
    "to": "{phone}",
    "from": "{brandname}",
    "text": "{text}",
    "id": "{request_id}",
}
PLACEHOLDERS: Final = frozenset({"phone", "phone_local", "text", "brandname", "request_id"})
SENDER_KINDS: Final = ("console", "http")
# Vietnam has had no daylight saving time since 1975: local midnight is always 17:00 UTC.

_PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class SmsResult:
    ok: bool
    error_code: str | None = None
    retryable: bool = False
    retry_after: float | None = None  # seconds from now
    provider_id: str | None = None


class SmsSender(Protocol):
    name: str

    # request_id: pass a stable id (e.g. the outbox row's) so the gateway can drop a retried duplicate; a fresh
    # one is generated when omitted, which only dedupes the transport's own resends.
    async def send(self, phone_e164: str, text: str, *, request_id: str | None = None) -> SmsResult: ...

    async def aclose(self) -> None: ...


class ConsoleSmsSender:
    """Development default: "send" by printing to the server's stderr so a developer can read the code."""

    name = "console"

    async def send(self, phone_e164: str, text: str, *, request_id: str | None = None) -> SmsResult:
        try:
            masked = mask_phone(phone_e164)
        except InvalidIdentifier:
            masked = "[not a +84 mobile]"
        # The one place in the project where an OTP code may be printed, and only in this development mode: it is
        # how a developer logs in without a gateway. Written to sys.stderr directly, not through logging, because
        # the log scrubber would (rightly) mask the code. Newlines are escaped to keep it one line.
        one_line = text.replace("\r", "\\r").replace("\n", "\\n")
        sys.stderr.write(f"[sms console] to {masked}: {one_line}\n")
        sys.stderr.flush()
        return SmsResult(ok=True, provider_id=request_id)

    async def aclose(self) -> None:
        return None


class HttpGatewaySmsSender:
    """A JSON-over-HTTP SMS gateway, described entirely by settings (URL, auth header, brandname, body template).

    Transport retries are off: the delivery worker owns retry policy, and a resend here would hide failures from
    the circuit breaker.
    """

    def __init__(
        self,
        *,
        url: str,
        brandname: str,
        auth_header: str | None = None,
        auth_value: str | None = None,
        body_template: Mapping[str, Any] | None = None,
        provider_id_field: str | None = "id",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        name: str = "http",
    ) -> None:
        if (auth_header is None) != (auth_value is None):
            raise ValueError("auth_header and auth_value must be given together")
        template = DEFAULT_BODY_TEMPLATE if body_template is None else body_template
        unknown = _placeholders_in(template) - PLACEHOLDERS
        if unknown:  # a typo in settings must stop the start, not send "{phnoe}" to every citizen
            allowed = ", ".join(sorted(PLACEHOLDERS))
            raise ValueError(f"unknown placeholders in SMS body template: {sorted(unknown)}; allowed: {allowed}")
        self.name = name
        self.url = url
        self.brandname = brandname
        self.body_template = template
        self.provider_id_field = provider_id_field
        headers = {auth_header: auth_value} if auth_header and auth_value else {}
        # follow_redirects=False: a redirect would re-post the body (a phone number and a code) somewhere else.
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout, follow_redirects=False)

    async def send(self, phone_e164: str, text: str, *, request_id: str | None = None) -> SmsResult:
        if not is_vn_mobile_e164(phone_e164):
            return SmsResult(ok=False, error_code="SMS_INVALID_PHONE")
        request_id = request_id or uuid.uuid4().hex
        values = {
            "phone": phone_e164,
            "phone_local": "0" + phone_e164[3:],
            "text": text,
            "brandname": self.brandname,
            "request_id": request_id,
        }
        body = render_template(self.body_template, values)
        started = time.monotonic()
        try:
            response = await self._client.post(self.url, json=body)
        except httpx.TimeoutException:
            result = SmsResult(ok=False, error_code="SMS_TIMEOUT", retryable=True)
        except httpx.TransportError:
            result = SmsResult(ok=False, error_code="SMS_UNREACHABLE", retryable=True)
        except httpx.HTTPError:
            # Anything else httpx raises is about our request or the wire, never about the recipient. Only the
            # class name is kept: exception messages may quote the request.
            result = SmsResult(ok=False, error_code="SMS_GATEWAY_ERROR", retryable=True)
        else:
            result = self._classify(response)
        # Only non-personal facts: which gateway, which request, what came back, how long it took.
        log.info(
            "sms.gateway_response",
            sender=self.name,
            request_id=request_id,
            ok=result.ok,
            error_code=result.error_code,
            elapsed_ms=round((time.monotonic() - started) * 1000),
        )
        return result

    def _classify(self, response: httpx.Response) -> SmsResult:
        status = response.status_code
        if 200 <= status < 300:
            return SmsResult(ok=True, provider_id=self._provider_id(response))
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429:
            return SmsResult(ok=False, error_code="SMS_RATE_LIMITED", retryable=True, retry_after=retry_after)
        if 400 <= status < 500:
            # The gateway refused this message (bad number, blocked content...): retrying cannot help, and it
            # says nothing about the gateway's health, so the guard does not count it against the circuit.
            return SmsResult(ok=False, error_code=f"SMS_REJECTED_{status}")
        # 5xx, and 1xx/3xx which a JSON API should never answer: treat as the gateway misbehaving.
        return SmsResult(ok=False, error_code=f"SMS_GATEWAY_{status}", retryable=True, retry_after=retry_after)

    def _provider_id(self, response: httpx.Response) -> str | None:
        if not self.provider_id_field:
            return None
        try:
            node: Any = response.json()
        except ValueError:
            return None
        for key in self.provider_id_field.split("."):  # "data.message_id" reaches into nested objects
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return None if node is None or isinstance(node, dict | list) else str(node)

    async def aclose(self) -> None:
        await self._client.aclose()


class SmsBudget(Protocol):
    """Today's SMS allowance: ``take`` reserves one message atomically (False when spent); ``refund`` gives back a
    reservation whose send failed in a way worth retrying, so an outage does not burn the day's budget."""

    async def take(self) -> bool: ...

    async def refund(self) -> None: ...


class GuardedSmsSender:
    """Enforce the daily SMS budget and a circuit breaker around any sender (SMS pumping and outage defence).

    The budget is reserved *before* each send, one message at a time and atomically (``notifications/worker.py``
    keeps it in PostgreSQL for every worker process), so however many workers send at once, the number of messages
    handed to the gateway in a day never exceeds ``PHR_SMS_DAILY_LIMIT``.
    """

    def __init__(
        self,
        inner: SmsSender,
        *,
        budget: SmsBudget,
        breaker: CircuitBreaker,
        wall_clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.budget = budget
        self.breaker = breaker
        self._wall_clock = wall_clock

    async def send(self, phone_e164: str, text: str, *, request_id: str | None = None) -> SmsResult:
        if not self.breaker.allow():
            wait = self.breaker.seconds_until_retry()
            return SmsResult(ok=False, error_code="SMS_CIRCUIT_OPEN", retryable=True, retry_after=wait)
        try:
            allowed = await self.budget.take()
        except BaseException:
            self.breaker.release()  # the database failed, not the gateway: hand back a half-open probe
            raise
        if not allowed:
            self.breaker.release()  # the budget says nothing about the gateway either
            wait = seconds_until_vn_midnight(self._wall_clock())
            return SmsResult(ok=False, error_code="SMS_DAILY_BUDGET", retryable=True, retry_after=wait)
        try:
            result = await self.inner.send(phone_e164, text, request_id=request_id)
        except Exception:
            self.breaker.record_failure()  # a sender that raises instead of answering is as broken as an outage
            await self.budget.refund()
            raise
        except BaseException:
            self.breaker.release()  # cancelled: no verdict on the gateway (and maybe sent: the budget keeps it)
            raise
        if not result.ok and result.retryable:
            await self.budget.refund()
        if result.ok or not result.retryable:
            # A rejected message (a bad number) proves the gateway is up and answering: it must not trip the
            # circuit, and as a half-open probe it closes it.
            self.breaker.record_success()
        else:
            self.breaker.record_failure()
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()


def build_sms_sender(kind: str, **options: Any) -> SmsSender:
    """Build the sender named in settings: "console" (development) or "http" (a configured gateway)."""
    if kind == "console":
        return ConsoleSmsSender(**options)
    if kind == "http":
        return HttpGatewaySmsSender(**options)
    raise ValueError(f"unknown SMS sender kind {kind!r}; allowed: {', '.join(SENDER_KINDS)}")


def render_template(template: Any, values: Mapping[str, str]) -> Any:
    """Substitute ``{name}`` placeholders in every string of a JSON-like template; other values are kept.

    Substituted values are not scanned again, so a "{phone}" typed inside a message stays literal text.
    """
    if isinstance(template, str):
        return _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), template)
    if isinstance(template, Mapping):
        return {key: render_template(value, values) for key, value in template.items()}
    if isinstance(template, list | tuple):
        return [render_template(item, values) for item in template]
    return template


def seconds_until_vn_midnight(now: dt.datetime) -> float:
    """Seconds from ``now`` (timezone-aware) to the next midnight in Vietnam, when the daily budget resets."""
    local = now.astimezone(VN_TZ)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=VN_TZ)
    return (midnight - local).total_seconds()


def _placeholders_in(template: Any) -> set[str]:
    if isinstance(template, str):
        return set(_PLACEHOLDER_RE.findall(template))
    children: list[Any] = []
    if isinstance(template, Mapping):
        children = list(template.values())
    elif isinstance(template, list | tuple):
        children = list(template)
    found: set[str] = set()
    for child in children:
        found |= _placeholders_in(child)
    return found
