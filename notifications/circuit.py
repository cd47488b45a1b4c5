"""Failure and rate guards for outbound gateways (SMS, FCM): a circuit breaker and a token bucket.

Both are pure in-process state with an injectable monotonic clock (and, for the bucket, an injectable sleep) so
tests drive them with a fake clock instead of waiting. Neither is durable or shared between processes: they protect
a gateway from one worker's hammering; the durable limits (daily SMS budget, per-phone limits) live in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Literal

CircuitState = Literal["closed", "open", "half_open"]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Float slack when comparing token counts: rate * (n / rate) is not always exactly n.
_EPSILON = 1e-9


class CircuitBreaker:
    """Stop calling a failing gateway for a while, then let exactly one probe find out whether it recovered.

    closed --(failure_threshold consecutive failures, or trip())--> open --(cooldown elapsed)--> half_open;
    half_open lets one probe through: its success closes the circuit, its failure re-opens it with twice the
    previous cooldown (capped), so a gateway that stays down is probed less and less often.
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        cooldown_seconds: float = 30.0,
        max_cooldown_seconds: float = 900.0,
        probe_timeout_seconds: float = 60.0,
        now: Clock = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if not 0 < cooldown_seconds <= max_cooldown_seconds:
            raise ValueError("need 0 < cooldown_seconds <= max_cooldown_seconds")
        if probe_timeout_seconds <= 0:
            raise ValueError("probe_timeout_seconds must be positive")
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self.max_cooldown_seconds = max_cooldown_seconds
        # A probe whose caller was cancelled or crashed never reports back; without a lease the circuit would stay
        # half-open with the probe "taken" forever. After this long another probe is allowed.
        self.probe_timeout_seconds = probe_timeout_seconds
        self.now = now
        self._failures = 0  # consecutive failures while closed
        self._opens = 0  # consecutive openings since the last success: drives the growing cooldown
        self._open_until: float | None = None  # None while closed
        self._probe_until: float | None = None  # lease of the half-open probe in flight

    @property
    def state(self) -> CircuitState:
        if self._open_until is None:
            return "closed"
        return "open" if self.now() < self._open_until else "half_open"

    def allow(self) -> bool:
        """May a call go through now? In half-open state this hands out the single probe."""
        state = self.state
        if state == "closed":
            return True
        if state == "open":
            return False
        now = self.now()
        if self._probe_until is not None and now < self._probe_until:
            return False
        self._probe_until = now + self.probe_timeout_seconds
        return True

    def release(self) -> None:
        """Give back a probe that was allowed but not used (e.g. the call was refused for another reason)."""
        self._probe_until = None

    def record_success(self) -> None:
        # A late success while open (a request started before the trip) does not override the cooldown: the
        # gateway may have asked us to back off (Retry-After), and only the probe decides.
        if self.state == "open":
            return
        self._failures = 0
        self._opens = 0
        self._open_until = None
        self._probe_until = None

    def record_failure(self) -> None:
        state = self.state
        if state == "open":
            return  # stragglers from before the trip: the circuit is already open
        if state == "half_open":
            self._open()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open()

    def trip(self, seconds: float | None = None) -> None:
        """Open now: for ``seconds`` if the gateway said how long (Retry-After), else the growing cooldown."""
        self._open(seconds)

    def retry_at(self) -> float | None:
        """Monotonic time when a call may be tried again; None while closed."""
        if self._open_until is None:
            return None
        now = self.now()
        if now < self._open_until:
            return self._open_until
        if self._probe_until is not None and now < self._probe_until:
            return self._probe_until
        return now

    def seconds_until_retry(self) -> float:
        """``retry_at()`` as a delay from now (0 when a call may go through)."""
        at = self.retry_at()
        return 0.0 if at is None else max(0.0, at - self.now())

    def _open(self, seconds: float | None = None) -> None:
        cooldown = min(self.cooldown_seconds * 2**self._opens, self.max_cooldown_seconds)
        self._opens += 1
        self._failures = 0
        self._probe_until = None
        self._open_until = self.now() + (cooldown if seconds is None else max(0.0, seconds))


class TokenBucket:
    """Smooth a send rate: ``rate`` tokens per second refill a bucket of at most ``burst`` tokens.

    Waiters are served in arrival order (an asyncio.Lock is FIFO), so a large request cannot be starved by a stream
    of small ones; ``try_acquire`` never jumps that queue.
    """

    def __init__(self, rate: float, burst: float, *, now: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self._check_rate(rate)
        self.rate = rate
        self.burst = burst
        self.now = now
        self._sleep = sleep
        self._tokens = float(burst)  # start full: a fresh worker may send its burst at once
        self._updated = now()
        self._lock = asyncio.Lock()

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def set_rate(self, rate: float) -> None:
        """Change the refill rate from now on (e.g. lower it when FCM answers QUOTA_EXCEEDED)."""
        self._check_rate(rate)
        self._refill()  # tokens earned so far were earned at the old rate
        self.rate = rate

    def try_acquire(self, n: int = 1) -> bool:
        self._check_n(n)
        if self._lock.locked():
            return False  # someone is already waiting: they have first claim
        self._refill()
        if self._tokens + _EPSILON >= n:
            self._tokens = max(0.0, self._tokens - n)
            return True
        return False

    async def acquire(self, n: int = 1) -> None:
        """Wait until ``n`` tokens are available and take them."""
        self._check_n(n)
        async with self._lock:
            while True:
                self._refill()
                if self._tokens + _EPSILON >= n:
                    self._tokens = max(0.0, self._tokens - n)
                    return
                # Re-checked after waking: set_rate() may have lowered the rate meanwhile. A raised rate only
                # makes this waiter oversleep a little, which is harmless.
                await self._sleep((n - self._tokens) / self.rate)

    def _refill(self) -> None:
        now = self.now()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._updated = now

    def _check_n(self, n: int) -> None:
        if not 1 <= n <= self.burst:
            raise ValueError("n must be between 1 and burst: more than burst tokens can never be available")

    @staticmethod
    def _check_rate(rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
