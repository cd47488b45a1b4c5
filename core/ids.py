"""UUID version 7 keys (RFC 9562): time-ordered, so new rows append to the end of B-tree indexes."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = 0


def uuid7() -> uuid.UUID:
    """A UUIDv7: 48-bit Unix milliseconds, version and variant bits, 74 random bits.

    Monotonic within the process (RFC 9562 §6.2, method 2): two ids made in the same millisecond, or after the
    clock stepped back, are ordered as they were made, by counting up from the previous one. Lists ordered by
    (created_at, id) — rows of one transaction share created_at — then come out in creation order.
    """
    global _last
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # RFC 9562 variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    with _lock:
        if value <= _last:
            # Same millisecond (or an earlier clock): the previous id plus a random step in rand_b keeps the order
            # and stays unguessable.
            step = 1 + (rand & 0xFFFF)
            candidate = _last + step
            if (candidate >> 62) & 0b11 != 0b10 or (candidate >> 76) & 0xF != 0x7:
                # Out of room in this millisecond's sequence (about never): continue in the next millisecond.
                candidate = (((_last >> 80) + 1) << 80) | (value & ((1 << 80) - 1))
            value = candidate
        _last = value
    return uuid.UUID(int=value)
