"""How big the hardening tests of issue 11 run.

Each attack or fault test is written once and marked ``reliability``. CI runs it at a scale that fits its
15-minute budget; ``make reliability`` sets ``PHR_RELIABILITY=long`` and runs only the marked tests at the scale
the issue names (10,000 pumping requests, 500 fuzz examples per operation, a 60 s outage, ...).
"""

from __future__ import annotations

import os

LONG = os.environ.get("PHR_RELIABILITY", "").strip().lower() == "long"


def scaled(ci: int, long: int) -> int:
    """``ci`` in the normal test run, ``long`` under ``make reliability``."""
    return long if LONG else ci


def scaled_seconds(ci: float, long: float) -> float:
    return long if LONG else ci
