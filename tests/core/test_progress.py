"""The progress display of the long CLI jobs: plain lines off a terminal, counts and rates, phase timings."""

from __future__ import annotations

import io

from core.progress import Progress


def test_off_a_terminal_a_line_per_tenth_and_one_at_the_end() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    progress.start("Nhập dân cư", 100)
    for position in range(0, 101, 5):
        progress.update(position, items=position * 10)
    progress.done()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 12, "0 %, 10 % … 100 %, and the phase's end"
    assert "100.0% 1,000 dòng" in lines[-2] and "dòng/giây" in lines[-2]
    assert lines[-1].startswith("Nhập dân cư 1,000 dòng trong ")
    assert "\r" not in stream.getvalue(), "no redrawing into a file"
    assert set(progress.timings) == {"Nhập dân cư"}


def test_counting_files_and_a_phase_without_a_total() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    progress.start("Nhập hồ sơ HIS", 3, unit="tệp")
    for _ in range(3):
        progress.advance()
    progress.done()
    progress.start("analyze")
    progress.done("xong ")
    text = stream.getvalue()
    assert "100.0% 3 tệp" in text
    assert "analyze xong trong" in text
    assert list(progress.timings) == ["Nhập hồ sơ HIS", "analyze"]


def test_disabled_writes_nothing_but_keeps_timings() -> None:
    stream = io.StringIO()
    progress = Progress(stream, enabled=False)
    progress.start("x", 10)
    progress.advance(10)
    assert progress.done() >= 0
    assert stream.getvalue() == ""
    assert "x" in progress.timings
