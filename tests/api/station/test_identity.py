"""Station staff confirm phone links and record guardians, for their own station's citizens only."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from core.models import (
    Account,
    AccountCitizen,
    Citizen,
    Clinician,
    Facility,
    FacilityKind,
    LinkRequest,
    Sex,
    StaffRole,
)
from core.settings import Settings
from tests.support import login, login_clinician


async def station(session: AsyncSession, code: str) -> Facility:
    facility = Facility(id=uuid7(), code=code, name=f"TYT {code}", kind=FacilityKind.health_station)
    session.add(facility)
    await session.flush()
    return facility


async def staff(session: AsyncSession, facility: Facility, role: StaffRole, username: str) -> Clinician:
    member = Clinician(id=uuid7(), facility_id=facility.id, full_name=username, role=role, username=username)
    session.add(member)
    await session.flush()
    return member


async def citizen(session: AsyncSession, facility: Facility, dob: dt.date, phone: str | None = None) -> Citizen:
    person = Citizen(
        id=uuid7(),
        full_name="Người dân",
        sex=Sex.male,
        date_of_birth=dob,
        home_facility_id=facility.id,
        phone=phone,
        cccd=f"0510{dob.year % 100:02d}{uuid7().int % 1_000_000:06d}",
    )
    session.add(person)
    await session.flush()
    return person


async def test_a_station_confirms_a_link_in_person(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    mine = await station(session, "51T91")
    theirs = await station(session, "51T92")
    person = await citizen(session, mine, dt.date(1980, 1, 1), phone="+84905800001")
    account = Account(id=uuid7(), phone="+84905800002")
    session.add(account)
    await session.flush()
    request = LinkRequest(id=uuid7(), account_id=account.id, citizen_id=person.id)
    session.add(request)
    await session.flush()
    other_staff = await login_clinician(session, settings, await staff(session, theirs, StaffRole.station_staff, "b"))
    assert (await client.get("/v1/station/link-requests", headers=other_staff)).json() == {
        "items": [],
        "next_cursor": None,
    }
    denied = await client.post(f"/v1/station/link-requests/{request.id}/approve", headers=other_staff)
    assert denied.status_code == 404

    my_staff = await login_clinician(session, settings, await staff(session, mine, StaffRole.station_staff, "a"))
    listed = (await client.get("/v1/station/link-requests", headers=my_staff)).json()
    assert [r["request_id"] for r in listed["items"]] == [str(request.id)]
    approved = await client.post(f"/v1/station/link-requests/{request.id}/approve", headers=my_staff)
    assert approved.json()["status"] == "approved"
    assert (await session.scalars(select(AccountCitizen))).one().citizen_id == person.id
    again = await client.post(f"/v1/station/link-requests/{request.id}/reject", headers=my_staff)
    assert again.status_code == 409
    me = (await client.get("/v1/me", headers=await login(session, settings, account.id))).json()
    assert [c["citizen_id"] for c in me["citizens"]] == [str(person.id)]


async def test_guardians_are_recorded_by_the_childs_station(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    mine = await station(session, "51T93")
    theirs = await station(session, "51T94")
    mother = await citizen(session, mine, dt.date(1990, 1, 1), phone="+84905800003")
    baby = await citizen(session, mine, dt.date(2025, 6, 1))
    body = {"guardian_citizen_id": str(mother.id), "citizen_id": str(baby.id), "relation": "mother"}
    other_staff = await login_clinician(session, settings, await staff(session, theirs, StaffRole.station_admin, "c"))
    assert (await client.post("/v1/station/guardianships", json=body, headers=other_staff)).status_code == 404
    doctor = await login_clinician(session, settings, await staff(session, mine, StaffRole.clinician, "d"))
    assert (await client.post("/v1/station/guardianships", json=body, headers=doctor)).status_code == 403
    # The 403 came from a guard, after the request's session was opened: that session must be closed at once
    # (api/deps.py close_leftover_sessions), or its late rollback would undo the writes that follow.
    my_staff = await login_clinician(session, settings, await staff(session, mine, StaffRole.station_staff, "e"))
    created = await client.post("/v1/station/guardianships", json=body, headers=my_staff)
    assert created.status_code == 201

    account = Account(id=uuid7(), phone="+84905800003")
    session.add(account)
    await session.flush()
    session.add(AccountCitizen(account_id=account.id, citizen_id=mother.id))
    await session.flush()
    me = (await client.get("/v1/me", headers=await login(session, settings, account.id))).json()
    assert {(c["citizen_id"], c["relation"]) for c in me["citizens"]} == {
        (str(mother.id), "self"),
        (str(baby.id), "guardian"),
    }
    removed = await client.delete(f"/v1/station/guardianships/{created.json()['guardianship_id']}", headers=my_staff)
    assert removed.status_code == 204


async def test_citizen_tokens_do_not_open_station_routes(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    account = Account(id=uuid7(), phone="+84905800004")
    session.add(account)
    await session.flush()
    response = await client.get("/v1/station/link-requests", headers=await login(session, settings, account.id))
    assert response.status_code == 401
