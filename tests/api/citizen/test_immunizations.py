"""The vaccination schedule over HTTP, and the status table kept in step by record writes."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from core.immunization.schedule import add_months
from core.models import (
    AccessEvent,
    Account,
    AccountCitizen,
    Citizen,
    DoseStatus,
    Guardianship,
    ImmunizationDue,
    Sex,
    Source,
)
from core.outbox import local_date
from core.records.guard import Actor
from core.records.service import RecordService
from core.settings import Settings
from tests.support import login

TODAY = local_date(dt.datetime.now(dt.UTC))


async def family(session: AsyncSession) -> tuple[Citizen, Citizen, Account]:
    mother = Citizen(id=uuid7(), full_name="Trần Thị Mai", sex=Sex.female, date_of_birth=dt.date(1996, 4, 4))
    child = Citizen(id=uuid7(), full_name="Trần Bảo An", sex=Sex.male, date_of_birth=add_months(TODAY, -3))
    account = Account(id=uuid7(), phone="+84906100001")
    session.add_all([mother, child, account])
    await session.flush()
    session.add_all(
        [
            AccountCitizen(account_id=account.id, citizen_id=mother.id),
            Guardianship(guardian_citizen_id=mother.id, citizen_id=child.id, relation="mother", source="station"),
        ]
    )
    await session.flush()
    return mother, child, account


async def test_a_guardian_sees_the_childs_schedule_and_the_read_is_logged(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _mother, child, account = await family(session)
    await RecordService(session).add_item(
        child.id,
        "vaccinations",
        {"vaccine_code": "DPT-VGB-HIB-IPV", "dose_number": 1, "given_on": add_months(child.date_of_birth, 2)},
        actor=Actor(Source.station),
        path="test",
    )
    headers = await login(session, settings, account.id)
    response = await client.get(f"/v1/citizens/{child.id}/immunizations/schedule", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["schedule_version"] == "TT10-2024"
    series = {s["series"]: s for s in body["series"]}
    # The 6-in-1 dose counted for two series; the next 5-in-1 dose is a month after it.
    assert series["DPT-VGB-HIB"]["doses_counted"] == [add_months(child.date_of_birth, 2).isoformat()]
    assert series["IPV"]["doses_counted"] == [add_months(child.date_of_birth, 2).isoformat()]
    assert series["DPT-VGB-HIB"]["next_dose"] == 2
    assert series["DPT-VGB-HIB"]["due_on"] == add_months(add_months(child.date_of_birth, 2), 1).isoformat()
    assert series["BCG"]["status"] == "overdue", "three months old, no BCG on record"
    assert series["DPT-VGB-HIB"]["name_vi"].startswith("Bạch hầu")
    events = (await session.scalars(select(AccessEvent).where(AccessEvent.citizen_id == child.id))).all()
    assert [e.sections for e in events] == [["vaccinations"]], "a guardian's read is shown to the child's record"


async def test_someone_elses_schedule_is_not_found(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _mother, child, _account = await family(session)
    stranger = Account(id=uuid7(), phone="+84906100002")
    session.add(stranger)
    await session.flush()
    response = await client.get(
        f"/v1/citizens/{child.id}/immunizations/schedule", headers=await login(session, settings, stranger.id)
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_recording_a_pregnancy_puts_tetanus_doses_on_the_list(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    mother, _child, account = await family(session)
    headers = await login(session, settings, account.id)
    url = f"/v1/citizens/{mother.id}/immunizations/schedule"
    assert "TT" not in {s["series"] for s in (await client.get(url, headers=headers)).json()["series"]}
    delivery = add_months(TODAY, 6)
    put = await client.put(
        f"/v1/citizens/{mother.id}/record/reproductive",
        json={"expected_delivery_on": delivery.isoformat(), "pregnancies": 2},
        headers=headers,
    )
    assert put.status_code == 200, put.text
    uv = next(s for s in (await client.get(url, headers=headers)).json()["series"] if s["series"] == "TT")
    assert uv["next_dose"] == 1
    assert uv["due_on"] == add_months(delivery, -9).isoformat(), "due from the start of the pregnancy"
    # The station's lists see it in the same transaction that recorded the pregnancy.
    row = await session.get(ImmunizationDue, (mother.id, "TT"))
    assert row is not None and row.status in (DoseStatus.due, DoseStatus.overdue)


async def test_the_catalogue_names_the_series_each_vaccine_counts_for(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _mother, _child, account = await family(session)
    response = await client.get("/v1/vaccines", headers=await login(session, settings, account.id))
    catalogue = {v["code"]: v for v in response.json()}
    assert catalogue["DPT-VGB-HIB-IPV"]["series"] == ["DPT-VGB-HIB", "IPV"]
    assert catalogue["MR"]["series"] == ["MEASLES", "MR"]
    assert catalogue["RABIES"]["series"] == []
