from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.demo import demo_logins, seed_demo
from core.identifiers import cccd_warnings, parse_bhyt_card
from core.models import (
    Account,
    Citizen,
    Clinician,
    Examination,
    Facility,
    FacilityKind,
    Household,
    InsuranceCard,
    Vaccination,
)

TODAY = dt.date(2026, 11, 23)


def age(dob: dt.date) -> int:
    return TODAY.year - dob.year - ((TODAY.month, TODAY.day) < (dob.month, dob.day))


async def test_demo_is_a_small_quang_ngai_slice(session: AsyncSession) -> None:
    summary = await seed_demo(session, today=TODAY)
    assert summary is not None
    citizens = (await session.scalars(select(Citizen))).all()
    assert 40 <= len(citizens) <= 70
    assert await session.scalar(select(func.count()).select_from(Household)) == summary.households >= 10
    stations = await session.scalar(
        select(func.count()).select_from(Facility).where(Facility.kind == FacilityKind.health_station)
    )
    assert stations == 3
    assert any(age(c.date_of_birth) < 6 for c in citizens), "children for the vaccination schedule"
    assert any(age(c.date_of_birth) >= 60 for c in citizens), "elderly people"
    assert all(c.household_id is not None for c in citizens)
    assert await session.scalar(select(func.count()).select_from(Clinician)) >= 1
    # The record has something to show: birth doses for the small children, conditions for older people.
    assert await session.scalar(select(func.count()).select_from(Vaccination)) >= 2
    assert await session.scalar(select(func.count()).select_from(Examination)) >= 1


async def test_demo_identifiers_are_consistent(session: AsyncSession) -> None:
    await seed_demo(session, today=TODAY)
    citizens = {c.id: c for c in (await session.scalars(select(Citizen))).all()}
    for citizen in citizens.values():
        assert citizen.cccd is not None
        assert cccd_warnings(citizen.cccd, date_of_birth=citizen.date_of_birth, sex=citizen.sex.value) == []
    for card in (await session.scalars(select(InsuranceCard))).all():
        parsed = parse_bhyt_card(card.card_number)
        assert parsed.bhxh_number == citizens[card.citizen_id].bhxh_number
        if age(citizens[card.citizen_id].date_of_birth) < 6:
            assert parsed.group == "TE"


async def test_demo_logins_exist_and_seeding_twice_does_nothing(session: AsyncSession) -> None:
    assert await seed_demo(session, today=TODAY) is not None
    assert await seed_demo(session, today=TODAY) is None
    phones = [how for what, how in demo_logins() if what.startswith("citizen")]
    found = (await session.scalars(select(Account.phone).where(Account.phone.in_(phones)))).all()
    assert sorted(found) == sorted(phones)
