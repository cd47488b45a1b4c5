"""A station opens a service, its citizens find and book slots, staff see the day and check people in."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from core.models import Account, AccountCitizen, Citizen, Clinician, Facility, FacilityKind, Sex, StaffRole
from core.outbox import VN_TZ
from core.settings import Settings
from tests.support import login, login_clinician


async def test_from_opening_hours_to_check_in(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    mine = Facility(
        id=uuid7(), code="51B01", name="TYT Nghĩa Chánh", kind=FacilityKind.health_station, commune_code=None
    )
    theirs = Facility(id=uuid7(), code="51B02", name="TYT khác", kind=FacilityKind.health_station)
    session.add_all([mine, theirs])
    await session.flush()
    staff = Clinician(id=uuid7(), facility_id=mine.id, full_name="YS", role=StaffRole.station_staff, username="s-b1")
    other = Clinician(id=uuid7(), facility_id=theirs.id, full_name="YS2", role=StaffRole.station_staff, username="s-b2")
    citizen = Citizen(id=uuid7(), full_name="Người đặt lịch", sex=Sex.female, date_of_birth=dt.date(1992, 2, 2))
    account = Account(id=uuid7(), phone="+84909200001")
    session.add_all([staff, other, citizen, account])
    await session.flush()
    session.add(AccountCitizen(account_id=account.id, citizen_id=citizen.id))
    staff_auth = await login_clinician(session, settings, staff)
    other_auth = await login_clinician(session, settings, other)
    me = await login(session, settings, account.id)

    service = await client.post(
        "/v1/station/schedules/services",
        json={"kind": "vaccination", "name": "Tiêm chủng", "cancel_cutoff_minutes": 60},
        headers=staff_auth,
    )
    assert service.status_code == 201
    service_id = service.json()["service_id"]
    start = (dt.datetime.now(VN_TZ) + dt.timedelta(days=2)).date()
    template = {
        "weekday": start.weekday(),
        "start_time": "08:00:00",
        "end_time": "10:00:00",
        "slot_minutes": 30,
        "capacity": 4,
    }
    assert (
        await client.post(f"/v1/station/schedules/services/{service_id}/templates", json=template, headers=other_auth)
    ).status_code == 404, "another station's service does not exist"
    assert (
        await client.post(f"/v1/station/schedules/services/{service_id}/templates", json=template, headers=staff_auth)
    ).status_code == 201
    closed = start + dt.timedelta(days=7)
    assert (
        await client.post(
            "/v1/station/schedules/closed-days", json={"day": closed.isoformat(), "reason": "Lễ"}, headers=staff_auth
        )
    ).status_code == 201
    generated = await client.post(
        f"/v1/station/schedules/services/{service_id}/slots",
        json={"start": start.isoformat(), "days": 14},
        headers=staff_auth,
    )
    assert generated.json() == {"created": 4}, "two open weeks minus the closed day: one day of four slots"

    facilities = (await client.get("/v1/facilities", headers=me)).json()
    assert {"TYT Nghĩa Chánh": ["vaccination"]}.items() <= {f["name"]: f["services"] for f in facilities}.items()
    slots = (
        await client.get(f"/v1/facilities/{mine.id}/slots?service=vaccination&start={start.isoformat()}", headers=me)
    ).json()
    assert len(slots) == 4
    assert slots[0]["remaining"] == 4
    booking = await client.post(
        f"/v1/citizens/{citizen.id}/appointments",
        json={"slot_id": slots[0]["slot_id"]},
        headers=me | {"Idempotency-Key": "station-flow-1"},
    )
    assert booking.status_code == 201
    appointment_id = booking.json()["appointment_id"]
    assert booking.json()["queue_number"] == 1

    day = (await client.get(f"/v1/station/appointments?day={start.isoformat()}", headers=staff_auth)).json()
    assert [row["appointment_id"] for row in day] == [appointment_id]
    assert (await client.get(f"/v1/station/appointments?day={start.isoformat()}", headers=other_auth)).json() == []
    assert (
        await client.post(f"/v1/station/appointments/{appointment_id}/check-in", headers=other_auth)
    ).status_code == 404, "staff elsewhere cannot check people in here"
    checked = await client.post(f"/v1/station/appointments/{appointment_id}/check-in", headers=staff_auth)
    assert checked.json() == {"status": "checked_in"}
    again = await client.post(f"/v1/station/appointments/{appointment_id}/no-show", headers=staff_auth)
    assert again.status_code == 409
    mine_list = (await client.get(f"/v1/citizens/{citizen.id}/appointments", headers=me)).json()
    assert [a["status"] for a in mine_list["items"]] == ["checked_in"]


async def test_scan_and_share_checks_in_or_queues(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    from core.models import Appointment, FacilityService, Slot
    from core.scheduling.counter import counter_token

    station = Facility(id=uuid7(), code="51B03", name="TYT quầy", kind=FacilityKind.health_station)
    other_station = Facility(id=uuid7(), code="51B04", name="TYT khác", kind=FacilityKind.health_station)
    session.add_all([station, other_station])
    await session.flush()
    staff = Clinician(id=uuid7(), facility_id=station.id, full_name="YS", role=StaffRole.station_staff, username="s-b3")
    booked = Citizen(id=uuid7(), full_name="Có hẹn", sex=Sex.male, date_of_birth=dt.date(1980, 1, 1))
    walker = Citizen(id=uuid7(), full_name="Không hẹn", sex=Sex.male, date_of_birth=dt.date(1981, 1, 1))
    accounts = [Account(id=uuid7(), phone="+84909300001"), Account(id=uuid7(), phone="+84909300002")]
    session.add_all([staff, booked, walker, *accounts])
    await session.flush()
    session.add_all(
        [
            AccountCitizen(account_id=accounts[0].id, citizen_id=booked.id),
            AccountCitizen(account_id=accounts[1].id, citizen_id=walker.id),
        ]
    )
    service = FacilityService(id=uuid7(), facility_id=station.id, kind="checkup", name="Khám")
    session.add(service)
    await session.flush()
    now = dt.datetime.now(VN_TZ)
    slot = Slot(
        id=uuid7(),
        facility_id=station.id,
        service_id=service.id,
        starts_at=now,
        ends_at=now,
        capacity=5,
        booked=3,
        last_queue_number=3,
    )
    session.add(slot)
    await session.flush()
    appointment = Appointment(
        id=uuid7(),
        citizen_id=booked.id,
        slot_id=slot.id,
        facility_id=station.id,
        service_id=service.id,
        day=now.date(),
        queue_number=3,
    )
    session.add(appointment)
    await session.flush()

    qr = (await client.get("/v1/station/counter/qr", headers=await login_clinician(session, settings, staff))).json()
    assert qr["facility_token"].startswith("PHRC1:")
    assert "<svg" in qr["qr_svg"]
    me = await login(session, settings, accounts[0].id)
    arrived = await client.post(
        f"/v1/citizens/{booked.id}/check-in", json={"facility_token": qr["facility_token"]}, headers=me
    )
    assert arrived.json() == {"kind": "appointment", "queue_number": 3, "appointment_id": str(appointment.id)}
    walker_auth = await login(session, settings, accounts[1].id)
    first = await client.post(
        f"/v1/citizens/{walker.id}/check-in", json={"facility_token": qr["facility_token"]}, headers=walker_auth
    )
    assert first.json()["kind"] == "walk_in"
    assert first.json()["queue_number"] == 1
    yesterday = counter_token(settings.secret_key, station.id, now.date() - dt.timedelta(days=1))
    stale = await client.post(
        f"/v1/citizens/{walker.id}/check-in", json={"facility_token": yesterday}, headers=walker_auth
    )
    assert stale.status_code == 404, "yesterday's photo of the screen does not work today"
    forged = qr["facility_token"][:-4] + ("AAAA" if not qr["facility_token"].endswith("AAAA") else "BBBB")
    assert (
        await client.post(f"/v1/citizens/{walker.id}/check-in", json={"facility_token": forged}, headers=walker_auth)
    ).status_code == 404


async def test_stations_near_a_commune_come_first(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    from core.models import AdminUnit, UnitLevel

    session.add(AdminUnit(code="61", level=UnitLevel.province, name="Tỉnh thử"))
    await session.flush()
    session.add_all(
        [
            AdminUnit(code="611", level=UnitLevel.district, name="Huyện 1", parent_code="61"),
            AdminUnit(code="612", level=UnitLevel.district, name="Huyện 2", parent_code="61"),
        ]
    )
    await session.flush()
    session.add_all(
        [
            AdminUnit(code="61101", level=UnitLevel.commune, name="Xã A", parent_code="611"),
            AdminUnit(code="61102", level=UnitLevel.commune, name="Xã B", parent_code="611"),
            AdminUnit(code="61201", level=UnitLevel.commune, name="Xã C", parent_code="612"),
        ]
    )
    await session.flush()
    session.add_all(
        [
            Facility(id=uuid7(), code="61C03", name="Trạm C", kind=FacilityKind.health_station, commune_code="61201"),
            Facility(id=uuid7(), code="61C02", name="Trạm B", kind=FacilityKind.health_station, commune_code="61102"),
            Facility(id=uuid7(), code="61C01", name="Trạm A", kind=FacilityKind.health_station, commune_code="61101"),
        ]
    )
    account = Account(id=uuid7(), phone="+84909400001")
    session.add(account)
    await session.flush()
    me = await login(session, settings, account.id)
    near_b = (await client.get("/v1/facilities?near=61102", headers=me)).json()
    assert [f["name"] for f in near_b][:3] == ["Trạm B", "Trạm A", "Trạm C"], "same commune, same district, the rest"
    only_c = (await client.get("/v1/facilities?commune=61201", headers=me)).json()
    assert [f["name"] for f in only_c] == ["Trạm C"]
