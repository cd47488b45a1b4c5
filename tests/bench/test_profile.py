"""`phr bench profile` on a tiny seeded province: a handful of real requests, profiled, and reports that show our
own code on the path each request takes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bench.profile import ProfileOptions, profile_scenarios
from bench.seed import SeedOptions, seed_province
from core.db import Database
from core.progress import Progress
from core.settings import Settings

# The module each scenario's requests must pass through: what a reader of the profile looks for first.
OUR_CODE = {"record": "core/records/reading.py", "booking": "core/scheduling/booking.py"}


@pytest.fixture
async def small_province(committed: Database) -> Database:
    # A few dozen people: enough accounts for the bookings, slots for days beyond the booking scenario's day.
    options = SeedOptions(citizens=60, slot_days=10, refresh_due=False)
    await seed_province(committed, options, Progress(enabled=False))
    return committed


async def test_the_profile_names_our_code_on_each_hot_path(
    small_province: Database, settings: Settings, tmp_path: Path
) -> None:
    options = ProfileOptions(requests=6, concurrency=2, warmup=2, out=tmp_path, interval=0.0005)
    reports = await profile_scenarios(settings, options, say=lambda _: None)

    assert [r.scenario for r in reports] == ["record", "booking"]
    for report in reports:
        assert report.drive.statuses == {200 if report.scenario == "record" else 201: 6}, report.drive.statuses
        profile = report.text_path.read_text()
        assert report.text_path.name.endswith(f"-profile-{report.scenario}.txt")
        assert f"PHR profile: {report.scenario}" in profile
        assert "concurrency 2" in profile
        assert OUR_CODE[report.scenario] in profile, profile
        assert "\x1b[" not in profile, "no colour codes in a file"
        assert report.html_path.read_text().lstrip().lower().startswith("<!doctype html")

    async with small_province.engine.connect() as conn:
        overbooked = await conn.scalar(text("SELECT count(*) FROM slots WHERE booked > capacity"))
        hot_day_bookings = await conn.scalar(
            text(
                "SELECT count(*) FROM appointments a JOIN slots s ON s.id = a.slot_id WHERE s.starts_at::date = "
                "(SELECT starts_at::date FROM slots WHERE starts_at > now() + interval '2 days' "
                "ORDER BY starts_at, id LIMIT 1)"
            )
        )
    assert overbooked == 0
    assert hot_day_bookings == 0, "the booking scenario's day is left alone"
