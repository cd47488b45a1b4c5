"""The import service around the samples: matching edge cases, failing closed, concurrent copies of one episode."""

from __future__ import annotations

import asyncio

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.interop.episodes import RULE_GUARD, Client, HisImportService
from core.interop.xml130 import parse_episode
from core.models import Encounter, ExclusionReceipt, HisImport, PendingEpisode
from core.records.exclusion import ExclusionPolicy, Hit
from core.settings import Settings
from tests.core.interop.his_world import seed_world
from tests.core.interop.xml130_builder import episode_file
from tests.core.interop.xml130_samples import NOW, SAMPLES, header, sample_bytes


def variant(name: str, ma_lk: str, **xml1: str) -> bytes:
    """A sample with another MA_LK (a new episode) and some XML1 fields changed."""
    tables = dict(SAMPLES[name][0])
    tables["XML1"] = [{**tables["XML1"][0], "MA_LK": ma_lk, **xml1}]
    return episode_file(tables)


async def test_identifiers_naming_two_people_wait_for_a_station(session: AsyncSession, settings: Settings) -> None:
    await seed_world(session)
    # An's CCCD with Bình's card: never a guess between them.
    data = variant("01_tang_huyet_ap_ngoai_tru", "LK-CONFLICT", MA_THE_BHYT="HT3515109876543")
    report = await HisImportService(session, settings, now=NOW).import_file(data, Client())
    assert (report.status, report.encounter_id) == ("pending_match", None)
    pending = await session.get(PendingEpisode, report.pending_match_id)
    assert pending is not None
    assert pending.reason == "identifiers_disagree"


async def test_a_same_name_and_birth_date_is_only_a_suggestion(session: AsyncSession, settings: Settings) -> None:
    ids = await seed_world(session)
    data = episode_file({"XML1": [header("LK-SUGGEST", "cuong", "J06.9", SO_CCCD="", MA_THE_BHYT="")]})
    report = await HisImportService(session, settings, now=NOW).import_file(data, Client())
    assert report.status == "pending_match"
    pending = await session.get(PendingEpisode, report.pending_match_id)
    assert pending is not None
    assert (pending.reason, pending.suggested_citizen_id) == ("no_identifier", ids["cuong"])
    assert await session.scalar(select(func.count()).select_from(Encounter)) == 0


async def test_a_past_follow_up_date_queues_no_reminder(session: AsyncSession, settings: Settings) -> None:
    await seed_world(session)
    later = NOW.replace(year=2027)
    report = await HisImportService(session, settings, now=later).import_file(
        sample_bytes("01_tang_huyet_ap_ngoai_tru"), Client()
    )
    assert (report.status, report.kept["reminders"], report.kept["papers"]) == ("imported", 0, 1)


class BlindToText(ExclusionPolicy):
    """A screening bug on purpose: the lexicon sees nothing (codes, drugs and services still work)."""

    def check_text(self, text: str, field: str | None = None) -> Hit | None:
        return None


async def test_when_screening_misses_a_word_the_record_service_refuses_and_the_episode_is_quarantined(
    session: AsyncSession, settings: Settings
) -> None:
    await seed_world(session)
    data = variant("01_tang_huyet_ap_ngoai_tru", "LK-BLIND", GHI_CHU="Tiền sử nghiện ma túy")
    report = await HisImportService(session, settings, now=NOW, policy=BlindToText()).import_file(data, Client())
    assert report.status == "quarantined"
    assert [(line.rule_id, line.field) for line in report.excluded] == [(RULE_GUARD, "stored")]
    assert await session.scalar(select(func.count()).select_from(Encounter)) == 0
    assert await session.scalar(select(func.count()).select_from(HisImport)) == 0
    receipts = (await session.scalars(select(ExclusionReceipt.rule_id))).all()
    assert sorted(receipts) == [RULE_GUARD, "his.quarantined"]


async def test_the_parsed_episode_survives_the_pending_round_trip() -> None:
    """A pending match holds the screened episode as JSON and rebuilds it unchanged when a station resolves it."""
    for name in SAMPLES:
        episode = parse_episode(sample_bytes(name))
        assert msgspec.convert(msgspec.to_builtins(episode), type(episode)) == episode, name


async def test_two_copies_of_one_episode_at_once_make_one_encounter(committed: Database, settings: Settings) -> None:
    async with committed.transaction() as session:
        await seed_world(session)
    data = sample_bytes("02_viem_phoi_noi_tru")

    async def send() -> bool:
        async with committed.transaction() as session:
            report = await HisImportService(session, settings, now=NOW).import_file(data, Client())
        return report.already_imported

    outcomes = await asyncio.gather(*(send() for _ in range(4)))
    assert sorted(outcomes) == [False, True, True, True]
    async with committed.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Encounter)) == 1
