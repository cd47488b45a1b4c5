"""Clinician sign-in rules, on a fake clock: locks, TOTP time steps, replay, expiry, recovery codes."""

from __future__ import annotations

import datetime as dt
import statistics
import time

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import keyed_hash, unseal
from core.errors import Conflict, RateLimited, Unauthenticated
from core.identity.clinicians import (
    LOGIN_PURPOSE,
    PASSWORDS,
    TOTP_PURPOSE,
    ClinicianLoginService,
    normalize_recovery_code,
    verify_secret,
)
from core.models import AuthSession, ClinicianLoginChallenge, RecoveryCode
from core.settings import Settings
from tests.core.identity.factories import NOW, PASSWORD, make_clinician, reload, wrong_code

SECRET = pyotp.random_base32()


def service(session: AsyncSession, settings: Settings, at: dt.datetime = NOW) -> ClinicianLoginService:
    return ClinicianLoginService(session, settings, now=at)


async def fail_password(session: AsyncSession, settings: Settings, at: dt.datetime, times: int) -> None:
    for _ in range(times):
        with pytest.raises(Unauthenticated) as refused:
            await service(session, settings, at).login("bs.nguyen", "sai-mat-khau")
        assert refused.value.code == "invalid_credentials"
        assert refused.value.keep_changes, "the failure must be committed although the answer is an error"


async def test_every_tenth_failure_locks_for_longer(session: AsyncSession, settings: Settings) -> None:
    clinician = await make_clinician(session, settings)
    at = NOW
    for lock in (dt.timedelta(minutes=15), dt.timedelta(hours=1), dt.timedelta(hours=24), dt.timedelta(hours=24)):
        await fail_password(session, settings, at, 10)
        assert (await reload(session, clinician)).locked_until == at + lock
        with pytest.raises(RateLimited) as locked:
            await service(session, settings, at + dt.timedelta(seconds=1)).login("bs.nguyen", PASSWORD)
        assert locked.value.retry_after == int(lock.total_seconds()) - 1, "even the right password waits"
        at += lock + dt.timedelta(seconds=1)
    assert (await reload(session, clinician)).failed_logins == 40


async def test_nine_failures_do_not_lock(session: AsyncSession, settings: Settings) -> None:
    await make_clinician(session, settings)
    await fail_password(session, settings, NOW, 9)
    started = await service(session, settings).login("bs.nguyen", PASSWORD)
    assert started.next == "enrol_totp"


async def test_only_a_completed_sign_in_resets_the_failures(session: AsyncSession, settings: Settings) -> None:
    clinician = await make_clinician(session, settings, totp_secret=SECRET)
    await fail_password(session, settings, NOW, 9)
    started = await service(session, settings).login("bs.nguyen", PASSWORD)
    assert (await reload(session, clinician)).failed_logins == 9, "a password alone proves too little"
    await service(session, settings).verify_totp(started.login_token, pyotp.TOTP(SECRET).at(NOW))
    fresh = await reload(session, clinician)
    assert (fresh.failed_logins, fresh.locked_until) == (0, None)


async def test_wrong_codes_on_fresh_login_tokens_still_lock(session: AsyncSession, settings: Settings) -> None:
    """A stolen password must not buy unlimited TOTP guesses, five per login token."""
    await make_clinician(session, settings, totp_secret=SECRET)
    for _ in range(2):
        started = await service(session, settings).login("bs.nguyen", PASSWORD)
        for _ in range(5):
            with pytest.raises(Unauthenticated):
                await service(session, settings).verify_totp(started.login_token, wrong_code(SECRET, NOW))
    with pytest.raises(RateLimited) as locked:
        await service(session, settings).login("bs.nguyen", PASSWORD)
    assert locked.value.retry_after == 15 * 60


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)])
async def test_one_time_step_either_side_is_accepted(
    session: AsyncSession, settings: Settings, offset: int, accepted: bool
) -> None:
    await make_clinician(session, settings, totp_secret=SECRET)
    started = await service(session, settings).login("bs.nguyen", PASSWORD)
    code = pyotp.TOTP(SECRET).at(NOW, counter_offset=offset)
    if accepted:
        tokens = await service(session, settings).verify_totp(started.login_token, code)
        assert tokens.access_token
    else:
        with pytest.raises(Unauthenticated) as refused:
            await service(session, settings).verify_totp(started.login_token, code)
        assert refused.value.code == "invalid_totp_code"
        assert refused.value.extra == {"remaining_attempts": 4}


async def test_a_code_signs_in_once_even_with_a_new_login_token(session: AsyncSession, settings: Settings) -> None:
    await make_clinician(session, settings, totp_secret=SECRET)
    code = pyotp.TOTP(SECRET).at(NOW)
    first = await service(session, settings).login("bs.nguyen", PASSWORD)
    await service(session, settings).verify_totp(first.login_token, code)
    later = NOW + dt.timedelta(seconds=20)  # still inside the validity window of that code
    second = await service(session, settings, later).login("bs.nguyen", PASSWORD)
    with pytest.raises(Unauthenticated) as refused:
        await service(session, settings, later).verify_totp(second.login_token, code)
    assert refused.value.code == "totp_code_reused"
    older = pyotp.TOTP(SECRET).at(NOW, counter_offset=-1)
    with pytest.raises(Unauthenticated):
        await service(session, settings, later).verify_totp(second.login_token, older)
    newer = pyotp.TOTP(SECRET).at(NOW, counter_offset=1)
    assert await service(session, settings, later).verify_totp(second.login_token, newer)


async def test_login_tokens_expire_after_five_minutes(session: AsyncSession, settings: Settings) -> None:
    await make_clinician(session, settings, totp_secret=SECRET)
    started = await service(session, settings).login("bs.nguyen", PASSWORD)
    late = NOW + dt.timedelta(minutes=5)
    with pytest.raises(Unauthenticated) as refused:
        await service(session, settings, late).verify_totp(started.login_token, pyotp.TOTP(SECRET).at(late))
    assert refused.value.code == "login_token_invalid"


async def test_login_token_is_kept_only_as_a_keyed_hash(session: AsyncSession, settings: Settings) -> None:
    clinician = await make_clinician(session, settings)
    started = await service(session, settings).login("bs.nguyen", PASSWORD)
    assert len(started.login_token) >= 43, "at least 256 bits of randomness"
    [challenge] = (await session.scalars(select(ClinicianLoginChallenge))).all()
    assert challenge.clinician_id == clinician.id
    assert challenge.token_hash == keyed_hash(settings.secret_key, LOGIN_PURPOSE, started.login_token)
    assert started.login_token.encode() not in challenge.token_hash
    assert challenge.expires_at == NOW + dt.timedelta(minutes=5)


async def test_enrolment_keeps_the_secret_sealed_and_issues_hashed_recovery_codes(
    session: AsyncSession, settings: Settings
) -> None:
    clinician = await make_clinician(session, settings)
    started = await service(session, settings).login("bs.nguyen", PASSWORD)
    with pytest.raises(Conflict):
        await service(session, settings).confirm_enrolment(started.login_token, "123456")
    enrolment = await service(session, settings).start_enrolment(started.login_token)
    secret = pyotp.parse_uri(enrolment.otpauth_uri).secret
    pending = (await reload(session, clinician)).totp_pending_sealed
    assert pending is not None
    assert secret.encode() not in pending
    assert unseal(settings.secret_key, TOTP_PURPOSE, pending).decode() == secret
    enrolled = await service(session, settings).confirm_enrolment(started.login_token, pyotp.TOTP(secret).at(NOW))
    fresh = await reload(session, clinician)
    assert (fresh.totp_sealed, fresh.totp_pending_sealed, fresh.totp_enabled_at) == (pending, None, NOW)
    assert len(set(enrolled.recovery_codes)) == 10
    stored = (await session.scalars(select(RecoveryCode.code_hash))).all()
    assert len(stored) == 10
    assert not any(normalize_recovery_code(code).encode() in h for code in enrolled.recovery_codes for h in stored)


async def test_recovery_codes_are_forgiving_to_type_and_single_use(session: AsyncSession, settings: Settings) -> None:
    await make_clinician(session, settings)
    started = await service(session, settings).login("bs.nguyen", PASSWORD)
    enrolment = await service(session, settings).start_enrolment(started.login_token)
    code = pyotp.TOTP(pyotp.parse_uri(enrolment.otpauth_uri).secret).at(NOW)
    enrolled = await service(session, settings).confirm_enrolment(started.login_token, code)
    typed = " " + enrolled.recovery_codes[3].upper().replace("-", " ") + " "
    again = await service(session, settings).login("bs.nguyen", PASSWORD)
    assert again.next == "totp"
    await service(session, settings).use_recovery_code(again.login_token, typed)
    third = await service(session, settings).login("bs.nguyen", PASSWORD)
    with pytest.raises(Unauthenticated) as refused:
        await service(session, settings).use_recovery_code(third.login_token, enrolled.recovery_codes[3])
    assert refused.value.code == "invalid_recovery_code"
    methods = (await session.scalars(select(AuthSession.method).order_by(AuthSession.created_at))).all()
    assert sorted(methods) == ["password_totp", "recovery_code"]


async def test_an_old_password_hash_is_upgraded_on_login(session: AsyncSession, settings: Settings) -> None:
    clinician = await make_clinician(session, settings)
    assert PASSWORDS.check_needs_rehash(clinician.password_hash or "")
    await service(session, settings).login("bs.nguyen", PASSWORD)
    upgraded = (await reload(session, clinician)).password_hash
    assert upgraded is not None
    assert not PASSWORDS.check_needs_rehash(upgraded)
    assert await verify_secret(upgraded, PASSWORD)


async def test_unknown_names_are_checked_against_a_dummy_hash() -> None:
    assert await verify_secret(None, "") is False
    assert await verify_secret(None, "anything") is False
    assert await verify_secret("not-an-argon2-hash", "anything") is False


async def test_unknown_names_take_about_as_long_as_wrong_passwords(session: AsyncSession, settings: Settings) -> None:
    """Loose bounds (medians, a factor of 3): skipping the hash for unknown names would be ~50 times faster."""
    clinician = await make_clinician(session, settings)
    clinician.password_hash = PASSWORDS.hash(PASSWORD)  # the service's real cost, as in production
    await session.flush()

    async def median_seconds(username: str) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            with pytest.raises(Unauthenticated):
                await service(session, settings).login(username, "sai-mat-khau")
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    known, unknown = await median_seconds("bs.nguyen"), await median_seconds("khong.ton.tai")
    assert known / 3 < unknown < known * 3
