"""Client-credentials tokens for machine clients."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
