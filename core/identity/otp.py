"""SMS one-time codes: enrolment and recovery login for citizens (privacy-and-security.md, "SMS codes").

- 6 digits from pyotp over a fresh CSPRNG secret, valid 5 minutes, single use, bound to its challenge, stored as
  a keyed hash of (challenge id, code) and compared in constant time;
- ≤ 5 attempts per code; ≤ 10 consecutive failures per phone across codes, then a lock of 15 min → 1 h → 24 h;
  a new code does not reset the failures; all counters are rows updated under a row lock in PostgreSQL;
- the same answer for every phone number, known or not; the SMS goes through the outbox, so the gateway's
  latency never shows in the response;
- SMS pumping defences: Vietnamese mobiles only, a growing resend cool-down, per-phone, per-IP and per-prefix
  limits (and the worker's daily budget).
"""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from dataclasses import dataclass

import pyotp
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import keyed_hash
from core.errors import Invalid, RateLimited, Unauthenticated
from core.identifiers import InvalidIdentifier, normalize_vn_mobile
from core.identity.sessions import SessionService, TokenPair
from core.ids import uuid7
from core.models import Account, AccountCitizen, AccountStatus, OtpChallenge, PhoneGuard, SubjectKind
from core.outbox import Draft, notify
from core.ratelimit import hit
from core.settings import Settings

CODE_TTL = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 5
MAX_FAILURES = 10
LOCKS = (dt.timedelta(minutes=15), dt.timedelta(hours=1), dt.timedelta(hours=24))
COOLDOWNS = (dt.timedelta(seconds=60), dt.timedelta(seconds=120), dt.timedelta(minutes=5), dt.timedelta(minutes=15))
SENDS_RESET_AFTER = dt.timedelta(hours=1)  # a quiet hour brings the cool-down back to 60 s
PER_PHONE_PER_DAY = 10
PER_IP_PER_HOUR = 30
PER_PREFIX_PER_HOUR = 300  # "+84905 12…": pumping attacks walk a number range
OTP_PURPOSE = "otp-code"


@dataclass(frozen=True, slots=True)
class ChallengeIssued:
    challenge_id: uuid.UUID
    expires_in: int
    resend_after: int


@dataclass(frozen=True, slots=True)
class OtpLogin:
    tokens: TokenPair
    account_id: uuid.UUID
    needs_link: bool


class OtpService:
    def __init__(self, session: AsyncSession, settings: Settings, now: dt.datetime | None = None) -> None:
        self.session = session
        self.settings = settings
        self.now = now or dt.datetime.now(dt.UTC)

    def _hash(self, challenge_id: uuid.UUID, code: str) -> bytes:
        return keyed_hash(self.settings.secret_key, OTP_PURPOSE, f"{challenge_id}:{code}")

    async def request_code(self, raw_phone: str, *, client_ip: str | None) -> ChallengeIssued:
        try:
            phone = normalize_vn_mobile(raw_phone)
        except InvalidIdentifier as exc:
            raise Invalid("a Vietnamese mobile number is required", code=exc.code, field="phone") from exc
        now = self.now
        if client_ip:
            await hit(
                self.session,
                f"otp:ip:{client_ip}",
                limit=PER_IP_PER_HOUR,
                window=dt.timedelta(hours=1),
                now=now,
                code="otp_ip_limit",
            )
        await hit(
            self.session,
            f"otp:prefix:{phone[:7]}",
            limit=PER_PREFIX_PER_HOUR,
            window=dt.timedelta(hours=1),
            now=now,
            code="otp_prefix_limit",
        )
        guard = await self._guard(phone)
        if guard.locked_until and guard.locked_until > now:
            raise RateLimited("phone locked", retry_after=_seconds(guard.locked_until - now), code="otp_locked")
        if guard.next_send_at and guard.next_send_at > now:
            raise RateLimited(
                "wait before asking again", retry_after=_seconds(guard.next_send_at - now), code="otp_cooldown"
            )
        await hit(
            self.session,
            f"otp:phone:{phone}",
            limit=PER_PHONE_PER_DAY,
            window=dt.timedelta(days=1),
            now=now,
            code="otp_phone_limit",
        )
        if guard.last_sent_at is None or now - guard.last_sent_at > SENDS_RESET_AFTER:
            guard.sends = 0
        cooldown = COOLDOWNS[min(guard.sends, len(COOLDOWNS) - 1)]
        guard.sends += 1
        guard.last_sent_at = now
        guard.next_send_at = now + cooldown

        challenge_id = uuid7()
        code = pyotp.HOTP(pyotp.random_base32(), digits=6).at(0)
        self.session.add(
            OtpChallenge(
                id=challenge_id, phone=phone, code_hash=self._hash(challenge_id, code), expires_at=now + CODE_TTL
            )
        )
        await notify(
            self.session,
            Draft(
                template="otp_sms",
                dedupe_key=f"otp:{challenge_id}",
                phone=phone,
                sealed={"code": code},
                expires_at=now + CODE_TTL,
            ),
            secret=self.settings.secret_key,
            now=now,
        )
        return ChallengeIssued(challenge_id, int(CODE_TTL.total_seconds()), int(cooldown.total_seconds()))

    async def _guard(self, phone: str) -> PhoneGuard:
        await self.session.execute(insert(PhoneGuard).values(phone=phone).on_conflict_do_nothing())
        guard = await self.session.scalar(
            select(PhoneGuard)
            .where(PhoneGuard.phone == phone)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert guard is not None
        return guard

    async def verify(self, challenge_id: uuid.UUID, code: str, *, client_label: str | None = None) -> OtpLogin:
        now = self.now
        # The row lock serialises concurrent guesses on one challenge: exactly five are ever counted.
        challenge = await self.session.scalar(
            select(OtpChallenge).where(OtpChallenge.id == challenge_id).with_for_update()
        )
        if challenge is None:
            raise Unauthenticated("wrong or expired code", code="otp_invalid")
        guard = await self._guard(challenge.phone)
        if guard.locked_until and guard.locked_until > now:
            raise RateLimited("phone locked", retry_after=_seconds(guard.locked_until - now), code="otp_locked")
        if challenge.consumed_at is not None or challenge.expires_at <= now or challenge.attempts >= MAX_ATTEMPTS:
            raise Unauthenticated("wrong or expired code", code="otp_invalid", extra={"remaining_attempts": 0})
        if not hmac.compare_digest(self._hash(challenge_id, code.strip()), challenge.code_hash):
            challenge.attempts += 1
            guard.failures += 1
            if guard.failures >= MAX_FAILURES:
                guard.locked_until = now + LOCKS[min(guard.locks, len(LOCKS) - 1)]
                guard.locks += 1
                guard.failures = 0
            raise Unauthenticated(
                "wrong or expired code",
                code="otp_invalid",
                extra={"remaining_attempts": MAX_ATTEMPTS - challenge.attempts},
                keep_changes=True,  # the failed attempt must be counted even though the answer is an error
            )
        challenge.consumed_at = now
        guard.failures = 0
        guard.locks = 0
        account = await self._account(challenge.phone)
        if account.status is not AccountStatus.active:
            raise Unauthenticated("account not active", code="account_inactive", keep_changes=True)
        account.last_login_at = now
        tokens = await SessionService(self.session, self.settings, now).start(
            SubjectKind.account, account.id, method="otp", client_label=client_label
        )
        linked = await self.session.scalar(
            select(AccountCitizen.citizen_id).where(AccountCitizen.account_id == account.id).limit(1)
        )
        return OtpLogin(tokens=tokens, account_id=account.id, needs_link=linked is None)

    async def _account(self, phone: str) -> Account:
        await self.session.execute(
            insert(Account).values(id=uuid7(), phone=phone).on_conflict_do_nothing(index_elements=["phone"])
        )
        account = await self.session.scalar(select(Account).where(Account.phone == phone))
        assert account is not None
        return account


def _seconds(delta: dt.timedelta) -> int:
    return max(1, int(delta.total_seconds()) + (1 if delta.microseconds else 0))
