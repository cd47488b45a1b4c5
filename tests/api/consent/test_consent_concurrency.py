"""Real concurrent requests on committed data: one share, one grant; the passcode cap holds under a race."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from api.app import create_app
from core.db import Database
from core.identity.sessions import SessionService
from core.ids import uuid7
from core.models import (
    Account,
    AccountCitizen,
    Citizen,
    Clinician,
    Facility,
    FacilityKind,
    Grant,
    Sex,
    Share,
    StaffRole,
    SubjectKind,
)
from core.settings import Settings
from tests.support import serving


async def setup(database: Database, settings: Settings, doctors: int) -> dict[str, Any]:
    async with database.transaction() as session:
        station = Facility(id=uuid7(), code="51R01", name="TYT", kind=FacilityKind.health_station)
        session.add(station)
        await session.flush()
        citizen = Citizen(id=uuid7(), full_name="Người chia sẻ", sex=Sex.male, date_of_birth=dt.date(1980, 1, 1))
        account = Account(id=uuid7(), phone="+84908100001")
        session.add_all([citizen, account])
        await session.flush()
        session.add(AccountCitizen(account_id=account.id, citizen_id=citizen.id))
        sessions = SessionService(session, settings)
        me = await sessions.start(SubjectKind.account, account.id, method="test")
        headers = []
        for i in range(doctors):
            doctor = Clinician(
                id=uuid7(),
                facility_id=station.id,
                full_name=f"BS {i}",
                role=StaffRole.clinician,
                username=f"race-doctor-{i}",
            )
            session.add(doctor)
            await session.flush()
            pair = await sessions.start(
                SubjectKind.clinician, doctor.id, method="test", claims={"role": "clinician", "fac": str(station.id)}
            )
            headers.append({"Authorization": f"Bearer {pair.access_token}"})
    return {"citizen": citizen.id, "me": {"Authorization": f"Bearer {me.access_token}"}, "doctors": headers}


async def test_100_concurrent_redemptions_make_exactly_one_grant(committed: Database, settings: Settings) -> None:
    w = await setup(committed, settings, doctors=10)
    async with serving(create_app(settings, committed)) as client:
        qr = (
            await client.post(f"/v1/citizens/{w['citizen']}/shares", json={"sections": ["allergies"]}, headers=w["me"])
        ).json()
        responses = await asyncio.gather(
            *(
                client.post("/v1/clinician/shares/redeem", json={"token": qr["payload"]}, headers=w["doctors"][i % 10])
                for i in range(100)
            )
        )
    assert Counter(r.status_code for r in responses) == {201: 1, 404: 99}
    async with committed.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Grant)) == 1


async def test_the_passcode_cap_holds_under_50_parallel_wrong_guesses(committed: Database, settings: Settings) -> None:
    w = await setup(committed, settings, doctors=5)
    async with serving(create_app(settings, committed)) as client:
        qr = (
            await client.post(
                f"/v1/citizens/{w['citizen']}/shares",
                json={"sections": ["allergies"], "passcode": "8642"},
                headers=w["me"],
            )
        ).json()
        responses = await asyncio.gather(
            *(
                client.post(
                    "/v1/clinician/shares/redeem",
                    json={"token": qr["payload"], "passcode": "0000"},
                    headers=w["doctors"][i % 5],
                )
                for i in range(50)
            )
        )
        statuses = Counter(r.status_code for r in responses)
        right = await client.post(
            "/v1/clinician/shares/redeem", json={"token": qr["payload"], "passcode": "8642"}, headers=w["doctors"][0]
        )
    assert statuses == {401: 5, 404: 45}, "exactly five wrong guesses are ever counted"
    assert right.status_code == 404, "after the cap even the right passcode finds nothing"
    async with committed.sessionmaker() as session:
        assert await session.scalar(select(Share.passcode_failures)) == 5
