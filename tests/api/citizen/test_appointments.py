"""Booking under real concurrency, idempotent retries, cancel and move with their reminders."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from api.app import create_app
from core.db import Database
from core.identity.sessions import SessionService
from core.ids import uuid7
from core.models import (
    Account,
    AccountCitizen,
    Appointment,
    Citizen,
    DeliveryStatus,
    Facility,
    FacilityKind,
    FacilityService,
    Notification,
    ScheduleTemplate,
    Sex,
    Slot,
    SubjectKind,
)
from core.outbox import VN_TZ
from core.scheduling.booking import generate_slots
from core.settings import Settings
from tests.support import login, serving


async def station_with_slots(database: Database, capacity: int) -> dict[str, Any]:
    """A station offering check-ups every weekday 07:30–11:30 in 30-minute slots, generated for two weeks."""
    async with database.transaction() as session:
        station = Facility(
            id=uuid7(), code="51A01", name="TYT Tịnh Ấn Tây", kind=FacilityKind.health_station, commune_code=None
        )
        session.add(station)
        await session.flush()
        service = FacilityService(id=uuid7(), facility_id=station.id, kind="checkup", name="Khám sức khỏe")
        session.add(service)
        await session.flush()
        for weekday in range(7):
            session.add(
                ScheduleTemplate(
                    service_id=service.id,
                    weekday=weekday,
                    start_time=dt.time(7, 30),
                    end_time=dt.time(11, 30),
                    slot_minutes=30,
                    capacity=capacity,
                )
            )
        await session.flush()
        tomorrow = (dt.datetime.now(VN_TZ) + dt.timedelta(days=2)).date()
        created = await generate_slots(session, service.id, tomorrow, 14)
        slots = (await session.scalars(select(Slot).order_by(Slot.starts_at))).all()
    assert created == 14 * 8
    return {"station": station.id, "slots": [s.id for s in slots]}


async def people(database: Database, settings: Settings, count: int) -> list[tuple[Any, dict[str, str]]]:
    made = []
    async with database.transaction() as session:
        sessions = SessionService(session, settings)
        for i in range(count):
            citizen = Citizen(id=uuid7(), full_name=f"Người {i}", sex=Sex.male, date_of_birth=dt.date(1990, 1, 1))
            account = Account(id=uuid7(), phone=f"+8490910{i:04d}")
            session.add_all([citizen, account])
            await session.flush()
            session.add(AccountCitizen(account_id=account.id, citizen_id=citizen.id))
            pair = await sessions.start(SubjectKind.account, account.id, method="test")
            made.append((citizen.id, {"Authorization": f"Bearer {pair.access_token}"}))
    return made


@pytest.mark.parametrize("capacity", [1, 10])
async def test_200_concurrent_bookings_never_overbook(committed: Database, settings: Settings, capacity: int) -> None:
    world = await station_with_slots(committed, capacity)
    crowd = await people(committed, settings, 200)
    slot = world["slots"][0]
    async with serving(create_app(settings, committed)) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/v1/citizens/{citizen}/appointments",
                    json={"slot_id": str(slot)},
                    headers=auth | {"Idempotency-Key": f"booking-{citizen}"},
                )
                for citizen, auth in crowd
            )
        )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: capacity, 409: 200 - capacity}
    queue_numbers = sorted(r.json()["queue_number"] for r in responses if r.status_code == 201)
    assert queue_numbers == list(range(1, capacity + 1))
    async with committed.sessionmaker() as session:
        booked = await session.scalar(select(Slot.booked).where(Slot.id == slot))
        active = await session.scalar(select(func.count()).select_from(Appointment).where(Appointment.slot_id == slot))
    assert booked == active == capacity


async def test_50_concurrent_retries_with_one_key_make_one_booking(committed: Database, settings: Settings) -> None:
    world = await station_with_slots(committed, 5)
    [(citizen, auth)] = await people(committed, settings, 1)
    headers = auth | {"Idempotency-Key": "one-booking-please"}
    body = {"slot_id": str(world["slots"][3])}
    async with serving(create_app(settings, committed)) as client:
        responses = await asyncio.gather(
            *(client.post(f"/v1/citizens/{citizen}/appointments", json=body, headers=headers) for _ in range(50))
        )
        other_body = await client.post(
            f"/v1/citizens/{citizen}/appointments", json={"slot_id": str(world["slots"][4])}, headers=headers
        )
        missing_key = await client.post(f"/v1/citizens/{citizen}/appointments", json=body, headers=auth)
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1, "identical responses"
    assert other_body.status_code == 422
    assert missing_key.status_code == 400
    async with committed.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Appointment)) == 1


async def test_cancel_frees_the_seat_and_its_reminders_and_move_keeps_one_booking(
    committed: Database, settings: Settings
) -> None:
    world = await station_with_slots(committed, 1)
    [(citizen, auth), (other, other_auth)] = await people(committed, settings, 2)
    first, second = world["slots"][0], world["slots"][1]
    async with serving(create_app(settings, committed)) as client:
        booked = await client.post(
            f"/v1/citizens/{citizen}/appointments",
            json={"slot_id": str(first)},
            headers=auth | {"Idempotency-Key": "first-booking"},
        )
        assert booked.status_code == 201
        appointment = booked.json()["appointment_id"]
        async with committed.sessionmaker() as session:
            reminders = (await session.scalars(select(Notification))).all()
        assert {n.template_key for n in reminders} == {"appointment_reminder", "appointment_soon"}
        moved = await client.patch(
            f"/v1/citizens/{citizen}/appointments/{appointment}", json={"slot_id": str(second)}, headers=auth
        )
        assert moved.status_code == 200
        assert moved.json()["slot_id"] == str(second)
        taken = await client.post(
            f"/v1/citizens/{other}/appointments",
            json={"slot_id": str(first)},
            headers=other_auth | {"Idempotency-Key": "other-booking"},
        )
        assert taken.status_code == 201, "the move freed the first slot"
        cancelled = await client.delete(f"/v1/citizens/{citizen}/appointments/{appointment}", headers=auth)
        assert cancelled.status_code == 204
        stranger = await client.delete(f"/v1/citizens/{citizen}/appointments/{appointment}", headers=other_auth)
        assert stranger.status_code == 404
    async with committed.sessionmaker() as session:
        mine = (await session.scalars(select(Appointment).where(Appointment.citizen_id == citizen))).all()
        assert len(mine) == 1, "moving kept one booking"
        assert await session.scalar(select(Slot.booked).where(Slot.id == second)) == 0
        pending = (
            await session.scalars(
                select(Notification).where(
                    Notification.dedupe_key.like(f"appt:{appointment}:%"), Notification.status == DeliveryStatus.pending
                )
            )
        ).all()
        assert pending == [], "cancelling cancelled its reminders"


async def test_a_closed_day_gets_no_slots(session: Any) -> None:
    from core.models import ScheduleException

    station = Facility(id=uuid7(), code="51A02", name="TYT", kind=FacilityKind.health_station)
    session.add(station)
    await session.flush()
    service = FacilityService(id=uuid7(), facility_id=station.id, kind="vaccination", name="Tiêm chủng")
    session.add(service)
    await session.flush()
    day = dt.date(2027, 1, 4)  # a Monday
    session.add(
        ScheduleTemplate(
            service_id=service.id, weekday=0, start_time=dt.time(8), end_time=dt.time(9), slot_minutes=15, capacity=3
        )
    )
    session.add(ScheduleException(facility_id=station.id, day=day + dt.timedelta(days=7), reason="Nghỉ lễ"))
    await session.flush()
    assert await generate_slots(session, service.id, day, 14) == 4, "one open Monday of two, four slots"


async def test_the_slot_search_window_refuses_out_of_range_dates_and_lengths(
    client: Any, session: Any, settings: Settings
) -> None:
    """Found by the schema fuzzer: a start near 9999-12-31 overflowed into a 500, and ``days`` outside 1..31 was not
    checked at all (a msgspec.Meta inside FromQuery is ignored by Litestar)."""
    account = Account(id=uuid7(), phone="+84905711999")
    session.add(account)
    await session.flush()
    headers = await login(session, settings, account.id)
    url = f"/v1/facilities/{uuid7()}/slots"
    far = await client.get(url, params={"start": "9999-12-30"}, headers=headers)
    assert far.status_code == 422
    assert far.json()["errors"][0]["field"] == "start"
    for days in ("0", "-5", "32"):
        assert (await client.get(url, params={"days": days}, headers=headers)).status_code == 400, days
    assert (await client.get(url, params={"start": "2030-01-01", "days": "31"}, headers=headers)).json() == []
