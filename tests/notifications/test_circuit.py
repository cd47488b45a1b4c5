"""CircuitBreaker and TokenBucket driven by a fake clock: no real waiting."""

from __future__ import annotations

import asyncio

import pytest

from notifications.circuit import CircuitBreaker, TokenBucket


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    async def sleep(self, seconds: float) -> None:
        # Simulated time passes instantly; yielding once lets other tasks run like a real sleep would.
        self.slept.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


def breaker(clock: FakeClock, **overrides: float) -> CircuitBreaker:
    options: dict[str, float] = {
        "failure_threshold": 3,
        "cooldown_seconds": 10.0,
        "max_cooldown_seconds": 35.0,
        "probe_timeout_seconds": 60.0,
    } | overrides
    return CircuitBreaker(
        failure_threshold=int(options["failure_threshold"]),
        cooldown_seconds=options["cooldown_seconds"],
        max_cooldown_seconds=options["max_cooldown_seconds"],
        probe_timeout_seconds=options["probe_timeout_seconds"],
        now=clock,
    )


def run_script(cb: CircuitBreaker, clock: FakeClock, script: str) -> list[str]:
    """Apply space-separated steps; return the state after each: F=failure, S=success, A=allow, W<s>=wait, T=trip."""
    states = []
    for step in script.split():
        if step == "F":
            cb.record_failure()
        elif step == "S":
            cb.record_success()
        elif step == "A":
            states.append("allow" if cb.allow() else "deny")
            continue
        elif step == "T":
            cb.trip()
        elif step.startswith("T"):
            cb.trip(float(step[1:]))
        elif step.startswith("W"):
            clock.advance(float(step[1:]))
        states.append(cb.state)
    return states


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        # Below the threshold nothing happens; a success resets the consecutive count.
        ("F F S F F", ["closed", "closed", "closed", "closed", "closed"]),
        ("F F F", ["closed", "closed", "open"]),
        ("F F F A", ["closed", "closed", "open", "deny"]),
        # Open for exactly the cooldown, then half-open with one probe.
        ("F F F W9.9 A W0.1 A A", ["closed", "closed", "open", "open", "deny", "half_open", "allow", "deny"]),
        # The probe succeeds: closed, and calls flow again.
        ("F F F W10 A S A A", ["closed", "closed", "open", "half_open", "allow", "closed", "allow", "allow"]),
        # The probe fails: open again at once, with a single failure.
        ("F F F W10 A F A", ["closed", "closed", "open", "half_open", "allow", "open", "deny"]),
        # Late results while open change nothing; only the probe decides.
        ("F F F S F W10", ["closed", "closed", "open", "open", "open", "half_open"]),
        # trip() opens immediately, with an explicit duration (Retry-After) or the cooldown.
        ("T30 W29 W1", ["open", "open", "half_open"]),
        ("T W10", ["open", "half_open"]),
        # A probe that never reports back is re-issued after its lease (60 s).
        ("T W10 A W59 A W1 A", ["open", "half_open", "allow", "half_open", "deny", "half_open", "allow"]),
    ],
)
def test_breaker_state_transitions(script: str, expected: list[str]) -> None:
    clock = FakeClock()
    assert run_script(breaker(clock), clock, script) == expected


def test_breaker_cooldown_doubles_on_each_reopen_up_to_the_cap_and_resets_on_success() -> None:
    clock = FakeClock()
    cb = breaker(clock, failure_threshold=1)
    cooldowns = []
    cb.record_failure()  # opens from closed
    for _ in range(4):
        retry_at = cb.retry_at()
        assert retry_at is not None
        cooldowns.append(retry_at - clock())
        clock.advance(retry_at - clock())
        assert cb.allow()  # the probe...
        cb.record_failure()  # ...fails: re-open
    assert cooldowns == [10.0, 20.0, 35.0, 35.0]  # 40 capped at 35
    clock.advance(cb.seconds_until_retry())
    assert cb.allow()
    cb.record_success()
    cb.record_failure()
    assert cb.retry_at() == clock() + 10.0


@pytest.mark.parametrize(
    ("script", "retry_in"),
    [
        ("", None),  # closed
        ("F F F W4", 6.0),  # open: the rest of the cooldown
        ("F F F W10", 0.0),  # half-open, probe free: now
        ("F F F W10 A", 60.0),  # half-open, probe taken: when its lease runs out
    ],
)
def test_breaker_retry_at(script: str, retry_in: float | None) -> None:
    clock = FakeClock()
    cb = breaker(clock)
    run_script(cb, clock, script)
    at = cb.retry_at()
    assert (None if at is None else at - clock()) == retry_in
    assert cb.seconds_until_retry() == (retry_in or 0.0)


def test_breaker_release_gives_back_an_unused_probe() -> None:
    clock = FakeClock()
    cb = breaker(clock)
    cb.trip(5)
    clock.advance(5)
    assert cb.allow()
    assert not cb.allow()
    cb.release()
    assert cb.allow()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failure_threshold": 0},
        {"cooldown_seconds": 0},
        {"cooldown_seconds": 100, "max_cooldown_seconds": 50},
        {"probe_timeout_seconds": 0},
    ],
)
def test_breaker_rejects_nonsense_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the messages are for humans
        CircuitBreaker(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rate", "burst", "takes", "elapsed", "n", "expected", "tokens_after"),
    [
        (2.0, 5, 0, 0.0, 5, True, 0.0),  # starts full
        (2.0, 5, 5, 0.0, 1, False, 0.0),  # empty
        (2.0, 5, 5, 0.5, 1, True, 0.0),  # 0.5 s x 2/s = 1 token
        (2.0, 5, 5, 1.0, 3, False, 2.0),  # 2 tokens are not 3
        (2.0, 5, 5, 100.0, 5, True, 0.0),  # refill is capped at burst...
        (2.0, 5, 5, 100.0, 1, True, 4.0),  # ...so one taken leaves burst - 1
        (0.1, 1, 1, 9.0, 1, False, 0.9),  # slow rates accumulate fractions
        (3.0, 3, 3, 1 / 3, 1, True, 0.0),  # float maths: 1/3 s x 3/s is one whole token
    ],
)
def test_bucket_refill_maths(
    rate: float, burst: int, takes: int, elapsed: float, n: int, expected: bool, tokens_after: float
) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, burst, now=clock, sleep=clock.sleep)
    for _ in range(takes):
        assert bucket.try_acquire()
    clock.advance(elapsed)
    assert bucket.try_acquire(n) is expected
    assert bucket.tokens == pytest.approx(tokens_after)


@pytest.mark.parametrize(
    ("rate", "burst", "requests", "waited"),
    [
        (2.0, 2, [1, 1], 0.0),  # within the burst: no wait
        (2.0, 2, [1, 1, 1], 0.5),  # the third waits for one token at 2/s
        (2.0, 4, [4, 4], 2.0),  # a whole burst again: 4 tokens at 2/s
        (10.0, 1, [1] * 11, 1.0),  # steady state: 10 more at 10/s
    ],
)
async def test_bucket_acquire_waits_the_right_simulated_time(
    rate: float, burst: int, requests: list[int], waited: float
) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, burst, now=clock, sleep=clock.sleep)
    start = clock()
    for n in requests:
        await bucket.acquire(n)
    assert clock() - start == pytest.approx(waited)
    assert sum(clock.slept) == pytest.approx(waited)


async def test_bucket_set_rate_applies_from_now_on() -> None:
    clock = FakeClock()
    bucket = TokenBucket(4.0, 4, now=clock, sleep=clock.sleep)
    await bucket.acquire(4)
    clock.advance(0.5)  # 2 tokens earned at the old rate are kept
    bucket.set_rate(1.0)  # e.g. FCM answered QUOTA_EXCEEDED
    start = clock()
    await bucket.acquire(4)  # 2 in hand, 2 more at 1/s
    assert clock() - start == pytest.approx(2.0)
    bucket.set_rate(8.0)
    start = clock()
    await bucket.acquire(4)
    assert clock() - start == pytest.approx(0.5)


async def test_bucket_serves_waiters_in_order_and_try_acquire_does_not_jump_the_queue() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, 3, now=clock, sleep=clock.sleep)
    assert bucket.try_acquire(3)
    order: list[str] = []

    async def take(label: str, n: int) -> None:
        await bucket.acquire(n)
        order.append(label)

    big = asyncio.create_task(take("big", 3))
    await asyncio.sleep(0)  # "big" holds the queue and is sleeping for its tokens
    assert not bucket.try_acquire(1)
    small = asyncio.create_task(take("small", 1))
    await asyncio.gather(big, small)
    assert order == ["big", "small"]


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_bucket_rejects_nonsense_settings(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the messages are for humans
        TokenBucket(rate, burst)


@pytest.mark.parametrize("n", [0, 3])
async def test_bucket_rejects_requests_that_could_never_be_served(n: int) -> None:
    bucket = TokenBucket(1.0, 2)
    with pytest.raises(ValueError, match="between 1 and burst"):
        await bucket.acquire(n)
    with pytest.raises(ValueError, match="between 1 and burst"):
        bucket.try_acquire(n)
    with pytest.raises(ValueError, match="positive"):
        bucket.set_rate(0)
