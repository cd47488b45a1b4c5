"""Clinician entries at the service level: provenance, computed BMI, diagnoses, history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Excluded, Forbidden, Invalid
from core.ids import uuid7
from core.models import Citizen, Clinician, Diagnosis, Facility, FacilityKind, RecordChange, Sex, Source, StaffRole
from core.records.guard import Actor
from core.records.service import RecordService, bmi


@pytest.mark.parametrize(
    ("weight", "height", "expected"),
    [
        (60, 165, Decimal("22.0")),
        (Decimal("72.5"), Decimal("170.0"), Decimal("25.1")),
        (None, 170, None),
        (70, 0, None),
    ],
)
def test_bmi_is_computed_to_one_decimal(weight: object, height: object, expected: Decimal | None) -> None:
    assert bmi(weight, height) == expected  # type: ignore[arg-type]


async def clinician_actor(session: AsyncSession) -> tuple[Citizen, Actor]:
    facility = Facility(id=uuid7(), code="51S01", name="TYT", kind=FacilityKind.health_station)
    session.add(facility)
    await session.flush()
    doctor = Clinician(
        id=uuid7(), facility_id=facility.id, full_name="BS A", role=StaffRole.clinician, username="svc-doctor"
    )
    citizen = Citizen(id=uuid7(), full_name="Người khám", sex=Sex.female, date_of_birth=dt.date(1970, 1, 1))
    session.add_all([doctor, citizen])
    await session.flush()
    return citizen, Actor(Source.clinician, clinician_id=doctor.id, facility_id=facility.id)


async def test_an_examination_with_diagnoses_is_verified_and_attributed(session: AsyncSession) -> None:
    citizen, actor = await clinician_actor(session)
    exam, diagnoses = await RecordService(session).add_examination(
        citizen.id,
        {
            "examined_on": dt.date(2026, 11, 20),
            "pulse": 78,
            "bp_systolic": 150,
            "bp_diastolic": 95,
            "weight_kg": Decimal("68.0"),
            "height_cm": Decimal("158.0"),
            "conclusion": "Tăng huyết áp độ 1",
            "systems": {"cardiovascular": "nhịp đều"},
        },
        [{"icd10": "I10", "text": "Tăng huyết áp vô căn", "main": True}, {"icd10": "E78.5", "text": "Rối loạn lipid"}],
        actor=actor,
        path="test",
    )
    assert (exam.source, exam.verified, exam.author_clinician_id) == (Source.clinician, True, actor.clinician_id)
    assert [d.icd10 for d in diagnoses] == ["I10", "E78.5"]
    assert all(d.examination_id == exam.id and d.diagnosed_on == exam.examined_on for d in diagnoses)
    history = (await session.scalars(select(RecordChange).where(RecordChange.item_id == exam.id))).one()
    assert history.actor_clinician_id == actor.clinician_id


async def test_one_excluded_diagnosis_refuses_the_whole_examination(session: AsyncSession) -> None:
    citizen, actor = await clinician_actor(session)
    with pytest.raises(Excluded) as refused:
        await RecordService(session).add_examination(
            citizen.id,
            {"examined_on": dt.date(2026, 11, 20), "conclusion": "Viêm phổi"},
            [{"icd10": "J18.9", "text": "Viêm phổi"}, {"icd10": "B20", "text": "bệnh"}],
            actor=actor,
            path="test",
        )
    assert refused.value.field == "diagnoses[1].icd10"
    assert (await session.scalars(select(Diagnosis))).all() == []


async def test_vaccinations_need_a_catalogue_code_and_citizens_cannot_write_them(session: AsyncSession) -> None:
    citizen, actor = await clinician_actor(session)
    service = RecordService(session)
    with pytest.raises(Invalid):
        await service.add_item(
            citizen.id,
            "vaccinations",
            {"vaccine_code": "NOPE", "given_on": dt.date(2026, 1, 1)},
            actor=actor,
            path="test",
        )
    with pytest.raises(Forbidden):
        await service.add_item(
            citizen.id,
            "vaccinations",
            {"vaccine_code": "BCG", "given_on": dt.date(2026, 1, 1)},
            actor=Actor(Source.self),
            path="test",
        )
    dose = await service.add_item(
        citizen.id, "vaccinations", {"vaccine_code": "BCG", "given_on": dt.date(1970, 1, 20)}, actor=actor, path="test"
    )
    assert dose.verified  # type: ignore[attr-defined]


async def test_provenance_cannot_be_smuggled_in_as_values(session: AsyncSession) -> None:
    citizen, _ = await clinician_actor(session)
    with pytest.raises(Invalid):
        await RecordService(session).add_item(
            citizen.id,
            "allergies",
            {"category": "food", "substance": "tôm", "verified": True},
            actor=Actor(Source.self),
            path="test",
        )
