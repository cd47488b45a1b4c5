"""A tiny progress bar on stderr: one line redrawn in place on a terminal, one line per phase otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``start(phase, total)``, then ``advance(n)`` as rows go out, then ``done()``; each phase's time is kept."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        # Redrawing with "\r" makes a mess of a log file or a CI console: those get one line per phase.
        self.live = enabled and self.stream.isatty()
        self.width = width
        self.timings: dict[str, float] = {}
        self._phase = ""
        self._total = 0
        self._count = 0
        self._started = 0.0
        self._drawn = 0.0

    def start(self, phase: str, total: int = 0) -> None:
        self._phase, self._total, self._count = phase, total, 0
        self._started = self._drawn = time.perf_counter()
        self._draw()

    def advance(self, rows: int = 1) -> None:
        self._count += rows
        now = time.perf_counter()
        if now - self._drawn >= 0.2:  # redrawing more often costs more than it tells
            self._drawn = now
            self._draw()

    def done(self, note: str = "") -> float:
        elapsed = time.perf_counter() - self._started
        self.timings[self._phase] = self.timings.get(self._phase, 0.0) + elapsed
        if self.enabled:
            count = f"{self._count:,} rows " if self._count and not note else ""
            end = f"{self._phase:<28} {count}{note}in {elapsed:.1f} s"
            self.stream.write(("\r\033[K" if self.live else "") + end + "\n")
            self.stream.flush()
        return elapsed

    def _draw(self) -> None:
        if not self.live:
            return
        elapsed = time.perf_counter() - self._started
        if self._total:
            share = min(1.0, self._count / self._total)
            filled = int(share * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            line = f"{self._phase:<28} [{bar}] {share:4.0%} {self._count:,}/{self._total:,} {elapsed:.0f} s"
        else:
            line = f"{self._phase:<28} {self._count:,} {elapsed:.0f} s"
        self.stream.write("\r\033[K" + line)
        self.stream.flush()
