"""Who may act for whom, with an injected clock: guardianship ends by itself at 18, self-access starts at 14."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Forbidden, Invalid, NotFound
from core.identity.access import Relation, citizens_for_account, relation_to, require_access
from core.identity.guardianship import DelegationService, GuardianshipService
from core.ids import uuid7
from core.models import Account, AccountCitizen, Citizen, Sex


def at_local_noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), dt.timezone(dt.timedelta(hours=7))).astimezone(dt.UTC)


async def person(session: AsyncSession, name: str, dob: dt.date, phone: str | None = None) -> Citizen:
    citizen = Citizen(id=uuid7(), full_name=name, sex=Sex.female, date_of_birth=dob, phone=phone)
    session.add(citizen)
    await session.flush()
    return citizen


async def account_for(session: AsyncSession, phone: str, *citizens: Citizen) -> Account:
    account = Account(id=uuid7(), phone=phone)
    session.add(account)
    await session.flush()
    for citizen in citizens:
        session.add(AccountCitizen(account_id=account.id, citizen_id=citizen.id))
    await session.flush()
    return account


async def test_a_guardian_link_ends_on_the_childs_18th_birthday(session: AsyncSession) -> None:
    mother = await person(session, "Lê Thị Mẹ", dt.date(1980, 5, 1), "+84905400001")
    child = await person(session, "Trần Văn Con", dt.date(2009, 3, 15))
    account = await account_for(session, "+84905400001", mother)
    await GuardianshipService(session, now=at_local_noon(dt.date(2026, 1, 1))).create(
        mother.id, child.id, relation="mother", source="station"
    )
    eve = at_local_noon(dt.date(2027, 3, 14))
    birthday = at_local_noon(dt.date(2027, 3, 15))
    assert await relation_to(session, account.id, child.id, now=eve) is Relation.guardian
    assert await relation_to(session, account.id, child.id, now=birthday) is None
    with pytest.raises(NotFound):
        await require_access(session, account.id, child.id, now=birthday)
    # Midnight in Vietnam, not in UTC: at 23:30 local on the eve the link still holds.
    late_eve = dt.datetime(2027, 3, 14, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    assert await relation_to(session, account.id, child.id, now=late_eve) is Relation.guardian


async def test_a_childs_own_account_sees_its_record_from_14(session: AsyncSession) -> None:
    child = await person(session, "Con", dt.date(2012, 6, 1), "+84905400002")
    account = await account_for(session, "+84905400002", child)
    assert await relation_to(session, account.id, child.id, now=at_local_noon(dt.date(2026, 5, 31))) is None
    assert await relation_to(session, account.id, child.id, now=at_local_noon(dt.date(2026, 6, 1))) is Relation.self


async def test_me_lists_self_children_and_delegations_but_not_strangers(session: AsyncSession) -> None:
    now = at_local_noon(dt.date(2026, 11, 23))
    mother = await person(session, "Mẹ", dt.date(1985, 1, 1), "+84905400003")
    baby = await person(session, "Bé", dt.date(2025, 1, 1))
    grandma = await person(session, "Bà", dt.date(1950, 1, 1), "+84905400004")
    stranger = await person(session, "Người lạ", dt.date(1990, 1, 1))
    mother_account = await account_for(session, "+84905400003", mother)
    grandma_account = await account_for(session, "+84905400004", grandma)
    await GuardianshipService(session, now=now).create(mother.id, baby.id, relation="mother", source="birth_data")
    delegations = DelegationService(session, now=now)
    invite = await delegations.invite(grandma.id, grandma_account.id, delegate_phone="0905400003", days=30)
    await delegations.answer(mother_account.id, invite.id, accept=True)
    listed = {c.citizen_id: c.relation for c in await citizens_for_account(session, mother_account.id, now=now)}
    assert listed == {mother.id: Relation.self, baby.id: Relation.guardian, grandma.id: Relation.delegate}
    assert stranger.id not in listed
    later = now + dt.timedelta(days=31)
    assert await relation_to(session, mother_account.id, grandma.id, now=later) is None, "delegations expire"
    await delegations.revoke(grandma.id, invite.id)
    assert await relation_to(session, mother_account.id, grandma.id, now=now) is None, "and can be withdrawn"


async def test_guardianship_rules(session: AsyncSession) -> None:
    now = at_local_noon(dt.date(2026, 11, 23))
    adult = await person(session, "Người lớn", dt.date(1990, 1, 1))
    teen = await person(session, "Thiếu niên", dt.date(2010, 1, 1))
    grown = await person(session, "Đã lớn", dt.date(2000, 1, 1))
    service = GuardianshipService(session, now=now)
    with pytest.raises(Invalid):
        await service.create(adult.id, grown.id, relation="mother", source="station")
    with pytest.raises(Invalid):
        await service.create(teen.id, adult.id, relation="father", source="station")
    with pytest.raises(Invalid):
        await service.create(adult.id, teen.id, relation="aunt", source="station")
    first = await service.create(adult.id, teen.id, relation="legal_guardian", source="station")
    again = await service.create(adult.id, teen.id, relation="legal_guardian", source="station")
    assert first.id == again.id


async def test_children_cannot_be_delegated_and_phones_must_be_vietnamese(session: AsyncSession) -> None:
    now = at_local_noon(dt.date(2026, 11, 23))
    child = await person(session, "Con", dt.date(2015, 1, 1))
    adult = await person(session, "Lớn", dt.date(1980, 1, 1))
    account = await account_for(session, "+84905400005", adult)
    service = DelegationService(session, now=now)
    with pytest.raises(Forbidden):
        await service.invite(child.id, account.id, delegate_phone="0905400006", days=10)
    with pytest.raises(Invalid):
        await service.invite(adult.id, account.id, delegate_phone="+12025550123", days=10)
    with pytest.raises(Invalid):
        await service.invite(adult.id, account.id, delegate_phone="0905400005", days=10)
