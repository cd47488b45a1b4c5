from __future__ import annotations

import datetime as dt
import random

import pytest

from notifications.policy import MAX_ATTEMPTS, Action, backoff_delay, decide, may_retry, retry_at

NOW = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("code", "token_invalid", "action", "quota"),
    [
        (None, False, Action.done, False),
        ("UNREGISTERED", False, Action.drop_token, False),
        ("SENDER_ID_MISMATCH", False, Action.drop_token, False),
        ("INVALID_ARGUMENT", True, Action.drop_token, False),
        ("INVALID_ARGUMENT", False, Action.permanent, False),
        ("QUOTA_EXCEEDED", False, Action.retry, True),
        ("UNAVAILABLE", False, Action.retry, False),
        ("INTERNAL", False, Action.retry, False),
        ("TIMEOUT", False, Action.retry, False),
        ("UNKNOWN", False, Action.retry, False),
        ("THIRD_PARTY_AUTH_ERROR", False, Action.circuit_platform, False),
        ("UNAUTHENTICATED", False, Action.refresh_credentials, False),
        ("PERMISSION_DENIED", False, Action.refresh_credentials, False),
    ],
)
def test_each_fcm_result_has_one_action(code: str | None, token_invalid: bool, action: Action, quota: bool) -> None:
    decision = decide(code, token_invalid=token_invalid)
    assert (decision.action, decision.quota) == (action, quota)


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 2), (2, 4), (3, 8), (8, 256), (10, 900), (30, 900)])
def test_backoff_is_full_jitter_doubling_from_2s_to_15min(attempt: int, ceiling: float) -> None:
    rng = random.Random(1)
    delays = [backoff_delay(attempt, rng).total_seconds() for _ in range(500)]
    assert min(delays) >= 0
    assert max(delays) <= ceiling
    assert max(delays) > ceiling * 0.9, "the whole range is used"


def test_retry_after_wins_over_backoff() -> None:
    assert retry_at(NOW, 5, retry_after=42) == NOW + dt.timedelta(seconds=42)


def test_quota_waits_at_least_a_minute() -> None:
    assert retry_at(NOW, 1, quota=True, rng=random.Random(0)) == NOW + dt.timedelta(seconds=60)
    assert retry_at(NOW, 1, retry_after=90, quota=True) == NOW + dt.timedelta(seconds=90)


@pytest.mark.parametrize(
    ("attempt", "next_in", "expires_in", "allowed"),
    [(1, 10, 60, True), (MAX_ATTEMPTS - 1, 10, 60, True), (MAX_ATTEMPTS, 10, 60, False), (1, 60, 60, False)],
)
def test_may_retry(attempt: int, next_in: int, expires_in: int, allowed: bool) -> None:
    assert may_retry(attempt, NOW + dt.timedelta(seconds=next_in), NOW + dt.timedelta(seconds=expires_in)) is allowed
