"""What to do after a delivery attempt: the error table of ``domain/notifications.md`` as pure functions.

Kept free of I/O so every row of the table is a one-line test.
"""

from __future__ import annotations

import datetime as dt
import enum
import random
from dataclasses import dataclass

MAX_ATTEMPTS = 8
BACKOFF_BASE = dt.timedelta(seconds=2)
BACKOFF_CAP = dt.timedelta(minutes=15)
QUOTA_MIN_DELAY = dt.timedelta(seconds=60)


class Action(enum.StrEnum):
    done = "done"  # delivered to this device
    retry = "retry"  # transient: try the notification again later
    drop_token = "drop_token"  # noqa: S105 - an action name; the token is dead: delete the device
    permanent = "permanent"  # our message is wrong: never retry, alert
    circuit_platform = "circuit_platform"  # APNs / web-push credentials broken: stop that platform
    refresh_credentials = "refresh_credentials"  # our Google credentials: refresh once, then circuit everything


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    quota: bool = False  # QUOTA_EXCEEDED: back off at least 60 s and slow the whole worker down


def decide(error_code: str | None, *, token_invalid: bool = False) -> Decision:
    """One FCM result → one action (notifications.md, "What to do with each error")."""
    match error_code:
        case None:
            return Decision(Action.done)
        case "UNREGISTERED" | "SENDER_ID_MISMATCH":
            return Decision(Action.drop_token)
        case "INVALID_ARGUMENT":
            return Decision(Action.drop_token if token_invalid else Action.permanent)
        case "QUOTA_EXCEEDED":
            return Decision(Action.retry, quota=True)
        case "THIRD_PARTY_AUTH_ERROR":
            return Decision(Action.circuit_platform)
        case "UNAUTHENTICATED" | "PERMISSION_DENIED":
            return Decision(Action.refresh_credentials)
        case _:  # UNAVAILABLE, INTERNAL, TIMEOUT, UNKNOWN: transient until proven otherwise
            return Decision(Action.retry)


def backoff_delay(attempt: int, rng: random.Random | None = None) -> dt.timedelta:
    """Full-jitter exponential backoff: uniform in [0, min(cap, 2 s · 2^(attempt-1))]."""
    ceiling = min(BACKOFF_CAP.total_seconds(), BACKOFF_BASE.total_seconds() * 2 ** max(0, attempt - 1))
    return dt.timedelta(seconds=(rng or random).uniform(0, ceiling))  # jitter, not a secret


def retry_at(
    now: dt.datetime,
    attempt: int,
    *,
    retry_after: float | None = None,
    quota: bool = False,
    rng: random.Random | None = None,
) -> dt.datetime:
    """When the next attempt may start: ``Retry-After`` when the server gave one, else jittered backoff."""
    delay = dt.timedelta(seconds=retry_after) if retry_after is not None else backoff_delay(attempt, rng)
    if quota:
        delay = max(delay, QUOTA_MIN_DELAY)
    return now + delay


def may_retry(attempt: int, next_at: dt.datetime, expires_at: dt.datetime) -> bool:
    """At most eight attempts, and never past the notification's own expiry."""
    return attempt < MAX_ATTEMPTS and next_at < expires_at
