"""Clinician sign-in: a password (argon2id), then a TOTP code, or one of the recovery codes kept on paper.

The password step hands out a login token (random, 256 bits, stored as a keyed hash): 5 minutes, ≤ 5 code
attempts, single use, consumed under a row lock so concurrent attempts serialise. A clinician without TOTP
enrols on that same token: a pending secret, then a confirming code, then ten recovery codes shown once.

``failed_logins`` counts consecutive failures of *either* step and only a completed sign-in resets it. Counting
the second step matters: with a stolen password an attacker could otherwise open fresh login tokens forever, five
TOTP guesses each. Every tenth failure locks the clinician, longer each time (15 min, 1 h, then 24 h); the count
is derived from the counter itself, so no extra column is needed. Counters are updated in PostgreSQL, never in
process memory, and failures are committed even though the answer is an error (``keep_changes``).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Literal, NoReturn

import anyio.to_thread
import pyotp
from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import keyed_hash, seal, unseal
from core.errors import Conflict, RateLimited, Unauthenticated
from core.identity.passwords import PASSWORDS, hash_secret, verify_secret
from core.identity.sessions import SessionService, TokenPair
from core.logging import get_logger
from core.models import Clinician, ClinicianLoginChallenge, RecoveryCode, SubjectKind
from core.qr import render_qr_svg
from core.settings import Settings

log = get_logger("phr.identity.clinicians")

LOGIN_TTL = dt.timedelta(minutes=5)
MAX_CODE_ATTEMPTS = 5
FAILURES_PER_LOCK = 10
LOCKS = (dt.timedelta(minutes=15), dt.timedelta(hours=1), dt.timedelta(hours=24))
TOTP_ISSUER = "PHR Quảng Ngãi"
RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: the codes are read off paper and typed by hand. 12 characters of 31 ≈ 59 bits.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
TOTP_PURPOSE = "clinician-totp"
LOGIN_PURPOSE = "clinician-login-token"
RECOVERY_PURPOSE = "clinician-recovery-code"


def normalize_recovery_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _retry_after(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, int((until - now).total_seconds() + 0.999))


@dataclass(frozen=True, slots=True)
class LoginStarted:
    login_token: str
    next: Literal["totp", "enrol_totp"]
    expires_in: int


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True, slots=True)
class EnrolledLogin:
    tokens: TokenPair
    recovery_codes: list[str]


class ClinicianLoginService:
    def __init__(self, session: AsyncSession, settings: Settings, now: dt.datetime | None = None) -> None:
        self.session = session
        self.settings = settings
        self.now = now or dt.datetime.now(dt.UTC)

    async def login(self, username: str, password: str) -> LoginStarted:
        """Step one. Unknown name, wrong password and inactive clinician get the very same answer."""
        clinician = await self.session.scalar(
            select(Clinician).where(Clinician.username == username).execution_options(populate_existing=True)
        )
        if clinician is not None and clinician.active:
            self._refuse_if_locked(clinician)  # before hashing: a locked account learns nothing about guesses
        ok = await verify_secret(clinician.password_hash if clinician else None, password)
        if clinician is None or not clinician.active or not ok:
            if clinician is not None and clinician.active and clinician.password_hash is not None:
                await self._count_failure(clinician.id, "password")
            log.info("clinician login refused", clinician_id=str(clinician.id) if clinician else None)
            raise Unauthenticated("wrong username or password", code="invalid_credentials", keep_changes=True)
        # A lock set by a concurrent wrong guess after our first look wins over this correct password.
        clinician = await self._lock_clinician(clinician.id)
        self._refuse_if_locked(clinician)
        assert clinician.password_hash is not None
        if PASSWORDS.check_needs_rehash(clinician.password_hash):
            clinician.password_hash = await hash_secret(password)
        token = secrets.token_urlsafe(32)
        self.session.add(
            ClinicianLoginChallenge(
                clinician_id=clinician.id, token_hash=self._token_hash(token), expires_at=self.now + LOGIN_TTL
            )
        )
        step: Literal["totp", "enrol_totp"] = "totp" if clinician.totp_sealed is not None else "enrol_totp"
        return LoginStarted(token, step, int(LOGIN_TTL.total_seconds()))

    async def verify_totp(self, login_token: str, code: str, *, client_label: str | None = None) -> TokenPair:
        challenge, clinician = await self._open(login_token)
        if clinician.totp_sealed is None:
            raise Conflict("TOTP is not set up yet", code="totp_not_enrolled")
        step = self._matching_step(clinician.totp_sealed, code)
        if step is None:
            await self._wrong_code(challenge, "invalid_totp_code")
        if clinician.totp_last_step is not None and step <= clinician.totp_last_step:
            # Each code (time step) signs in once: a code seen over a shoulder or in a proxy log is spent.
            await self._wrong_code(challenge, "totp_code_reused")
        clinician.totp_last_step = step
        return await self._finish(challenge, clinician, method="password_totp", client_label=client_label)

    async def start_enrolment(self, login_token: str) -> TotpEnrolment:
        """A new pending secret (replacing any earlier unconfirmed one) as an otpauth:// URI and its QR code."""
        _challenge, clinician = await self._open(login_token)
        if clinician.totp_sealed is not None:
            raise Conflict("TOTP is already set up", code="totp_already_enrolled")
        secret = pyotp.random_base32()  # 160 bits
        clinician.totp_pending_sealed = seal(self.settings.secret_key, TOTP_PURPOSE, secret.encode())
        uri = pyotp.TOTP(secret).provisioning_uri(name=clinician.username, issuer_name=TOTP_ISSUER)
        svg = await anyio.to_thread.run_sync(render_qr_svg, uri)
        return TotpEnrolment(otpauth_uri=uri, qr_svg=svg)

    async def confirm_enrolment(self, login_token: str, code: str, *, client_label: str | None = None) -> EnrolledLogin:
        """A code from the new authenticator proves it works: TOTP is on, recovery codes are issued."""
        challenge, clinician = await self._open(login_token)
        if clinician.totp_sealed is not None:
            raise Conflict("TOTP is already set up", code="totp_already_enrolled")
        pending = clinician.totp_pending_sealed
        if pending is None:
            raise Conflict("no TOTP enrolment in progress", code="totp_enrolment_not_started")
        step = self._matching_step(pending, code)
        if step is None:
            await self._wrong_code(challenge, "invalid_totp_code")
        clinician.totp_sealed, clinician.totp_pending_sealed = pending, None
        clinician.totp_enabled_at = self.now
        clinician.totp_last_step = step
        codes = await self._replace_recovery_codes(clinician.id)
        tokens = await self._finish(challenge, clinician, method="password_totp", client_label=client_label)
        return EnrolledLogin(tokens=tokens, recovery_codes=codes)

    async def use_recovery_code(
        self, login_token: str, recovery_code: str, *, client_label: str | None = None
    ) -> TokenPair:
        challenge, clinician = await self._open(login_token)
        # One statement finds and spends the code, so two requests cannot both use it.
        used = await self.session.scalar(
            update(RecoveryCode)
            .where(
                RecoveryCode.clinician_id == clinician.id,
                RecoveryCode.code_hash == self._recovery_hash(clinician.id, recovery_code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=self.now)
            .returning(RecoveryCode.id)
            .execution_options(synchronize_session=False)
        )
        if used is None:
            await self._wrong_code(challenge, "invalid_recovery_code")
        return await self._finish(challenge, clinician, method="recovery_code", client_label=client_label)

    # -- the login token ------------------------------------------------------------------------------------------

    def _token_hash(self, token: str) -> bytes:
        return keyed_hash(self.settings.secret_key, LOGIN_PURPOSE, token)

    async def _open(self, login_token: str) -> tuple[ClinicianLoginChallenge, Clinician]:
        """The live challenge and its clinician, both row-locked (always in this order) until the commit."""
        challenge = await self.session.scalar(
            select(ClinicianLoginChallenge)
            .where(ClinicianLoginChallenge.token_hash == self._token_hash(login_token))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if (
            challenge is None
            or challenge.consumed_at is not None
            or challenge.expires_at <= self.now
            or challenge.attempts >= MAX_CODE_ATTEMPTS
        ):
            raise Unauthenticated("login token unknown, used or expired", code="login_token_invalid")
        clinician = await self._lock_clinician(challenge.clinician_id)
        if not clinician.active:
            raise Unauthenticated("login token unknown, used or expired", code="login_token_invalid")
        self._refuse_if_locked(clinician)
        return challenge, clinician

    async def _wrong_code(self, challenge: ClinicianLoginChallenge, code: str) -> NoReturn:
        challenge.attempts += 1
        await self._count_failure(challenge.clinician_id, code)
        raise Unauthenticated(
            "wrong code",
            code=code,
            extra={"remaining_attempts": MAX_CODE_ATTEMPTS - challenge.attempts},
            keep_changes=True,
        )

    async def _finish(
        self, challenge: ClinicianLoginChallenge, clinician: Clinician, *, method: str, client_label: str | None
    ) -> TokenPair:
        challenge.consumed_at = self.now
        clinician.failed_logins = 0
        clinician.locked_until = None
        log.info("clinician signed in", clinician_id=str(clinician.id), method=method)
        return await SessionService(self.session, self.settings, self.now).start(
            SubjectKind.clinician,
            clinician.id,
            method=method,
            client_label=client_label,
            claims={"role": clinician.role.value, "fac": str(clinician.facility_id)},
        )

    # -- TOTP and recovery codes ----------------------------------------------------------------------------------

    def _matching_step(self, sealed: bytes, code: str) -> int | None:
        """The time step whose code this is, within one step either side (pyotp's ``valid_window=1``).

        ``TOTP.verify`` only answers yes or no; the step is needed to refuse a second use of the same code.
        """
        totp = pyotp.TOTP(unseal(self.settings.secret_key, TOTP_PURPOSE, sealed).decode())
        current = totp.timecode(self.now)
        given = code.strip().encode()
        steps = [
            s for s in (current - 1, current, current + 1) if hmac.compare_digest(totp.generate_otp(s).encode(), given)
        ]
        return max(steps, default=None)

    def _recovery_hash(self, clinician_id: uuid.UUID, code: str) -> bytes:
        value = f"{clinician_id}:{normalize_recovery_code(code)}"
        return keyed_hash(self.settings.secret_key, RECOVERY_PURPOSE, value)

    async def _replace_recovery_codes(self, clinician_id: uuid.UUID) -> list[str]:
        await self.session.execute(delete(RecoveryCode).where(RecoveryCode.clinician_id == clinician_id))
        codes = []
        for _ in range(RECOVERY_CODE_COUNT):
            raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(12))
            codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
        self.session.add_all(
            RecoveryCode(clinician_id=clinician_id, code_hash=self._recovery_hash(clinician_id, c)) for c in codes
        )
        return codes

    # -- failures and locks ---------------------------------------------------------------------------------------

    async def _lock_clinician(self, clinician_id: uuid.UUID) -> Clinician:
        clinician = await self.session.scalar(
            select(Clinician)
            .where(Clinician.id == clinician_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert clinician is not None  # the foreign key and ON DELETE CASCADE guarantee it
        return clinician

    def _refuse_if_locked(self, clinician: Clinician) -> None:
        if clinician.locked_until is not None and clinician.locked_until > self.now:
            raise RateLimited(
                "too many failed sign-ins",
                retry_after=_retry_after(clinician.locked_until, self.now),
                code="clinician_locked",
            )

    async def _count_failure(self, clinician_id: uuid.UUID, reason: str) -> None:
        """One statement adds the failure and, on every tenth, sets the next lock. Refuses if already locked."""
        now = self.now
        failures = Clinician.failed_logins + 1
        lock_until = case(
            (failures % FAILURES_PER_LOCK != 0, Clinician.locked_until),
            (failures == FAILURES_PER_LOCK, now + LOCKS[0]),
            (failures == 2 * FAILURES_PER_LOCK, now + LOCKS[1]),
            else_=now + LOCKS[2],
        )
        counted = (
            await self.session.execute(
                update(Clinician)
                .where(
                    Clinician.id == clinician_id,
                    or_(Clinician.locked_until.is_(None), Clinician.locked_until <= now),
                )
                .values(failed_logins=failures, locked_until=lock_until)
                .returning(Clinician.failed_logins)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one_or_none()
        log.info("clinician sign-in failure", clinician_id=str(clinician_id), reason=reason, failures=counted)
        if counted is None:  # a concurrent failure locked the account first; this guess gets no answer
            until = await self.session.scalar(select(Clinician.locked_until).where(Clinician.id == clinician_id))
            raise RateLimited(
                "too many failed sign-ins",
                retry_after=_retry_after(until or now, now),
                code="clinician_locked",
                keep_changes=True,
            )
