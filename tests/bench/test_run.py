"""`phr bench run` plumbing on a tiny scale: the campaign baseline against the fake FCM, the rate windows, wrk's
report line, and the JSON + Markdown report. No wrk, no granian, no timing assertions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.app import summary_queries
from bench.results import headline, machine_facts, write_report
from bench.scenarios.campaign import TimedFakeFcm, bare_client_rate, busiest_window, daytime_before
from bench.wrk import parse_report
from core.records.sections import SECTIONS
from core.settings import load_settings
from notifications.fcm_client import PushMessage


def messages(count: int) -> list[PushMessage]:
    return [
        PushMessage(
            token=f"bench-token-{i}",
            title="Nhắc khám sức khỏe định kỳ",
            body="Đã đến lúc khám sức khỏe định kỳ.",
            data={"notification_id": f"n-{i}", "kind": "checkup"},
            collapse_id=f"n-{i}",
            ttl_seconds=3600,
            platform="android",
        )
        for i in range(count)
    ]


async def test_the_bare_client_baseline_delivers_every_message_once(tmp_path: Path) -> None:
    settings = load_settings({}, env="test", data_dir=str(tmp_path))
    fake = TimedFakeFcm()
    await fake.start()
    try:
        sent, seconds = await bare_client_rate(settings, fake, messages(200))
    finally:
        await fake.stop()
    assert sent == 199, "the first message opens the connection outside the timing"
    assert seconds > 0
    assert len(fake.delivered) == 200
    assert fake.duplicates() == {}
    assert len(fake.arrivals) == 200


@pytest.mark.parametrize(
    ("arrivals", "window", "busiest"),
    [
        ([], 60.0, 0),
        ([0.0, 0.5, 0.9, 1.2, 5.0], 1.0, 3),
        ([0.0, 0.5, 0.9, 1.2, 5.0], 60.0, 5),
        ([3.0, 1.0, 2.0], 1.5, 2),
    ],
)
def test_the_busiest_window_counts_sends_inside_any_window(arrivals: list[float], window: float, busiest: int) -> None:
    assert busiest_window(arrivals, window) == busiest


def test_the_campaign_is_materialised_as_of_a_daytime_hour() -> None:
    import datetime as dt

    night = dt.datetime(2026, 11, 23, 22, 0, tzinfo=dt.UTC)  # 05:00 in Vietnam: quiet hours
    as_of = daytime_before(night)
    assert as_of <= night
    assert as_of.astimezone(dt.timezone(dt.timedelta(hours=7))).hour == 10


def test_the_raw_baseline_asks_one_query_per_section() -> None:
    queries = summary_queries()
    assert [name for name, _, _ in queries] == list(SECTIONS)
    assert all("citizen_id = $1" in sql for _, sql, _ in queries)


def test_wrk_report_line_is_parsed() -> None:
    output = (
        "Running 10s test @ http://127.0.0.1:8000\n"
        'WRK_JSON {"requests": 5000, "duration_us": 10000000, "bytes": 1, "connect_errors": 0, "read_errors": 1, '
        '"write_errors": 0, "timeouts": 2, "non_2xx": 10, "p50_us": 4000, "p90_us": 9000, "p99_us": 25500, '
        '"max_us": 80000, "mean_us": 5000.0}\n'
    )
    run = parse_report(output)
    assert run.per_second == 500
    assert run.ok_per_second == 499
    assert run.errors == 3
    assert run.p99_ms == 25.5


def test_the_report_is_written_as_json_and_a_markdown_table(tmp_path: Path) -> None:
    report = {
        "date": "2026-11-24T03:00:00+00:00",
        "machine": machine_facts("16.2"),
        "options": {"seconds": 15, "connections": 64, "workers": 2},
        "load_before": [1.0, 1.0, 1.0],
        "load_after": [2.0, 1.5, 1.0],
        "scenarios": {
            "record": {
                "headlines": [headline("record summary req/s", 600, "req/s", baseline=1000, goal="≥ 60 %", met=True)],
                "figures": {},
            },
            "otp": {"error": "RuntimeError: boom"},
        },
        "not_run": ["share"],
    }
    json_path, md_path = write_report(report, tmp_path)
    assert json_path.name == "2026-11-24-0300.json"
    saved = json.loads(json_path.read_text())
    assert saved["scenarios"]["record"]["headlines"][0]["ratio"] == 0.6
    assert saved["machine"]["cpus"] >= 1
    table = md_path.read_text()
    assert "| record | record summary req/s | 600 req/s | 1,000 | 0.60 | ≥ 60 % | yes |" in table
    assert "| otp | failed: RuntimeError: boom |" in table
    assert "Not run: share." in table
