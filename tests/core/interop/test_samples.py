"""The synthetic samples of samples/xml130 through the import service: each ends as its expected report, nothing
deny-listed is stored anywhere, and a second import of every file changes nothing."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.interop.episodes import Client, HisImportService
from core.interop.reports import ImportReport
from core.interop.screening import RULE_QUARANTINED
from core.models import BirthStatus, Encounter, ExclusionReceipt, HisImport, Notification, PendingEpisode
from core.settings import Settings
from tests.core.interop.his_world import row_counts, seed_world
from tests.core.interop.xml130_samples import NOW, SAMPLES, SAMPLES_DIR, sample_bytes
from tests.support import scan_every_column

NAMES = sorted(SAMPLES)


def comparable(report: ImportReport) -> dict[str, Any]:
    data = msgspec.to_builtins(report)
    return {key: data[key] for key in ("status", "matched_by", "kept", "excluded", "warnings")}


async def import_all(session: AsyncSession, settings: Settings) -> dict[str, ImportReport]:
    service = HisImportService(session, settings, now=NOW)
    return {name: await service.import_file((SAMPLES_DIR / f"{name}.xml").read_bytes(), Client()) for name in NAMES}


def test_the_sample_files_are_what_the_builder_makes() -> None:
    """samples/xml130 is generated (samples/xml130/generate.py): a hand edit would drift from the expectations."""
    for name in NAMES:
        assert (SAMPLES_DIR / f"{name}.xml").read_bytes() == sample_bytes(name), name
        expected = json.loads((SAMPLES_DIR / f"{name}.expected.json").read_text(encoding="utf-8"))
        assert expected == SAMPLES[name][1], name


async def test_every_sample_ends_as_its_expected_report_and_nothing_excluded_is_stored(
    session: AsyncSession, connection: AsyncConnection, settings: Settings
) -> None:
    await seed_world(session)
    reports = await import_all(session, settings)
    for name, report in reports.items():
        expected = json.loads((SAMPLES_DIR / f"{name}.expected.json").read_text(encoding="utf-8"))
        assert comparable(report) == expected, name
        assert (report.encounter_id is not None) == (report.status == "imported"), name
        assert (report.pending_match_id is not None) == (report.status == "pending_match"), name
    await session.flush()
    assert await scan_every_column(connection) == []
    statuses = [r.status for r in reports.values()]
    assert await session.scalar(select(Encounter.id).limit(1)) is not None
    assert len((await session.scalars(select(Encounter))).all()) == statuses.count("imported")
    # A quarantined episode leaves its receipts and nothing else: no ledger row, no encounter, no pending match.
    marks = (await session.scalars(select(ExclusionReceipt).where(ExclusionReceipt.rule_id == RULE_QUARANTINED))).all()
    assert len(marks) == statuses.count("quarantined") == 3
    assert len((await session.scalars(select(HisImport))).all()) == len(NAMES) - 3
    assert len((await session.scalars(select(PendingEpisode))).all()) == 1


async def test_importing_every_sample_twice_changes_nothing(
    session: AsyncSession, connection: AsyncConnection, settings: Settings
) -> None:
    await seed_world(session)
    first = await import_all(session, settings)
    await session.flush()
    before = await row_counts(connection)
    second = await import_all(session, settings)
    await session.flush()
    assert await row_counts(connection) == before
    for name in NAMES:
        again = second[name]
        assert again.already_imported, name
        assert again.status == first[name].status, name
        assert again.encounter_id == first[name].encounter_id, name
        assert again.pending_match_id == first[name].pending_match_id, name
        assert again.excluded == first[name].excluded, name
        assert again.kept == first[name].kept, name


async def test_the_follow_up_date_becomes_one_generic_reminder_the_day_before(
    session: AsyncSession, settings: Settings
) -> None:
    ids = await seed_world(session)
    await HisImportService(session, settings, now=NOW).import_file(sample_bytes("01_tang_huyet_ap_ngoai_tru"), Client())
    notes = (await session.scalars(select(Notification).where(Notification.citizen_id == ids["an"]))).all()
    assert [(n.template_key, n.account_id) for n in notes] == [("reexamination_due", ids["account_an"])]
    assert notes[0].params == {"date": "15/12/2026", "facility": "Bệnh viện Đa khoa Thử"}
    assert notes[0].not_before.isoformat() == "2026-12-14T00:00:00+00:00"  # 07:00 the day before, local time


async def test_birth_certificate_fills_the_childs_birth_section_once(session: AsyncSession, settings: Settings) -> None:
    ids = await seed_world(session)
    await HisImportService(session, settings, now=NOW).import_file(sample_bytes("12_sinh_con"), Client())
    birth = await session.scalar(select(BirthStatus).where(BirthStatus.citizen_id == ids["khang"]))
    assert birth is not None
    assert (birth.weight_g, birth.delivery, birth.premature, birth.source.value) == (3200, "normal", None, "his_import")
    assert await session.scalar(select(BirthStatus).where(BirthStatus.citizen_id == ids["hoa"])) is None


async def test_a_pending_episode_is_held_for_the_station_and_resolved_into_the_record(
    session: AsyncSession, settings: Settings
) -> None:
    ids = await seed_world(session)
    service = HisImportService(session, settings, now=NOW)
    report = await service.import_file(sample_bytes("11_chua_xac_dinh"), Client())
    assert report.status == "pending_match"
    assert report.pending_match_id is not None
    pending = await session.get(PendingEpisode, report.pending_match_id)
    assert pending is not None
    assert (pending.facility_id, pending.reason, pending.suggested_citizen_id) == (ids["station"], "not_found", None)
    encounter_id = await service.resolve_pending(
        report.pending_match_id, ids["cuong"], facility_id=ids["station"], clinician_id=None
    )
    encounter = await session.get(Encounter, encounter_id)
    assert encounter is not None
    assert (encounter.citizen_id, encounter.main_icd10) == (ids["cuong"], "S52.5")
    assert pending.episode == {}, "the held copy is wiped once resolved"
    again = await service.import_file(sample_bytes("11_chua_xac_dinh"), Client())
    assert (again.already_imported, again.status, again.encounter_id) == (True, "imported", encounter_id)


@pytest.mark.parametrize("name", ["03_hiv_chan_doan_chinh", "07_xml6", "09_tu_vung_van_ban"])
async def test_a_quarantined_episode_of_a_known_person_leaves_only_receipts(
    session: AsyncSession, connection: AsyncConnection, settings: Settings, name: str
) -> None:
    await seed_world(session)
    await session.flush()
    before = await row_counts(connection)
    report = await HisImportService(session, settings, now=NOW).import_file(sample_bytes(name), Client())
    await session.flush()
    after = await row_counts(connection)
    assert report.status == "quarantined"
    changed = {table for table in after if after[table] != before[table]}
    assert changed == {"exclusion_receipts"}
    receipts = (await session.scalars(select(ExclusionReceipt))).all()
    assert all(r.source == "his_import" and r.record_key_hash for r in receipts)
    assert all(r.path.startswith("his/") for r in receipts), "paths name tables and fields only"
