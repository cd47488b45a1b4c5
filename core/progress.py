"""The one progress display of the long command-line jobs (population and HIS imports, the bench seed).

On a terminal: one line redrawn in place (bar, share, count, rate). Anywhere else — a log file, a CI console, a
pipe — redrawing with "\\r" makes a mess, so it writes a plain line at every tenth of the way and one at the end
of each phase. It goes to stderr by default: stdout keeps only the summary scripts parse.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``start(phase, total, unit)``; then ``update(position)`` or ``advance(n)``; then ``done()``.

    ``position`` and ``total`` measure the way (bytes of a file, files of a folder, rows); ``items`` counts what
    was produced for the rate when that is not the position (rows read from a file measured in bytes).
    Each phase's time is kept in ``timings``.
    """

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self.width = width
        self.timings: dict[str, float] = {}
        self._phase = ""
        self._unit = ""
        self._total = 0
        self._position = 0
        self._items: int | None = None
        self._started = 0.0
        self._drawn = 0.0
        self._tenth = -1

    def start(self, phase: str, total: int = 0, *, unit: str = "dòng") -> None:
        self._phase, self._total, self._unit = phase, total, unit
        self._position, self._items, self._tenth = 0, None, -1
        self._started = self._drawn = time.perf_counter()
        self._draw()

    def advance(self, count: int = 1) -> None:
        self.update(self._position + count)

    def update(self, position: int, *, items: int | None = None) -> None:
        self._position, self._items = position, items
        if self.live:
            now = time.perf_counter()
            if now - self._drawn >= 0.2 or self._share() >= 1.0:  # redrawing more often costs more than it tells
                self._drawn = now
                self._draw()
        elif self.enabled and self._total and int(self._share() * 10) > self._tenth:
            self._tenth = int(self._share() * 10)
            self._write(self._line() + "\n")

    def done(self, note: str = "") -> float:
        """End the phase: its line (count, rate, time) stays on the screen; returns the seconds it took."""
        elapsed = time.perf_counter() - self._started
        self.timings[self._phase] = self.timings.get(self._phase, 0.0) + elapsed
        if self.enabled:
            count = f"{self._count():,} {self._unit} " if self._count() and not note else ""
            self._write(("\r\033[K" if self.live else "") + f"{self._phase} {count}{note}trong {elapsed:.1f} s\n")
        return elapsed

    def _share(self) -> float:
        return min(1.0, self._position / self._total) if self._total else 0.0

    def _count(self) -> int:
        return self._position if self._items is None else self._items

    def _line(self) -> str:
        elapsed = time.perf_counter() - self._started
        rate = self._count() / elapsed if elapsed > 0 else 0.0
        count = f"{self._count():,} {self._unit} ({rate:,.0f} {self._unit}/giây)"
        if not self._total:
            return f"{self._phase} {count}"
        filled = int(self._share() * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        return f"{self._phase} [{bar}] {self._share():6.1%} {count}"

    def _draw(self) -> None:
        if self.live:
            self._write("\r\033[K" + self._line())

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
