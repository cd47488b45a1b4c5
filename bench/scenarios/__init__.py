"""One function per scenario of ../shared/BENCHMARKS.md: ``async def run(ctx) -> dict`` of figures.

Each returns ``{"headlines": [headline(...), ...], "figures": {...}}``; the runner adds the timing and the
machine facts. Scenarios create what they need (tokens, clinicians, hot slots) at their start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.wrk import WrkRun, run_wrk
from core.db import Database
from core.settings import Settings


@dataclass
class BenchContext:
    settings: Settings  # with the resolved database URL
    db: Database
    server_url: str | None  # None when no HTTP scenario runs (the plumbing test)
    wrk: str | None
    seconds: int
    connections: int
    workdir: Path
    say: Callable[[str], None] = print
    campaign_size: int = 1_000_000

    async def wrk_run(self, script: str, *, connections: int | None = None, seconds: int | None = None) -> WrkRun:
        assert self.wrk is not None
        assert self.server_url is not None
        return await asyncio.to_thread(
            run_wrk,
            self.wrk,
            self.server_url,
            script,
            connections=connections or self.connections,
            seconds=seconds or self.seconds,
            workdir=self.workdir,
        )


Figures = dict[str, Any]
