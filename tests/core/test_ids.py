from __future__ import annotations

import time

from core.ids import uuid7


def test_uuid7_has_version_7_and_rfc_variant() -> None:
    value = uuid7()
    assert value.version == 7
    assert value.variant == "specified in RFC 4122"


def test_uuid7_carries_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_uuid7_orders_by_creation_time() -> None:
    first = uuid7()
    time.sleep(0.002)
    second = uuid7()
    assert first < second
    assert len({uuid7() for _ in range(10_000)}) == 10_000


def test_uuid7_is_monotonic_within_one_millisecond() -> None:
    made = [uuid7() for _ in range(50_000)]  # many per millisecond
    assert made == sorted(made), "ids made in a row sort in the order they were made"
    assert len(set(made)) == len(made)
    assert all(value.version == 7 and value.variant == "specified in RFC 4122" for value in made)
