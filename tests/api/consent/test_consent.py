"""QR shares, grants, scoped access, the access log, citizen control and break-glass, over HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.consent.shares import decode_payload
from core.ids import uuid7
from core.models import (
    AccessEvent,
    Account,
    AccountCitizen,
    Citizen,
    Clinician,
    Facility,
    FacilityKind,
    Grant,
    Notification,
    Sex,
    Source,
    StaffRole,
)
from core.qr import render_qr_svg
from core.records.guard import Actor
from core.records.service import RecordService
from core.settings import Settings
from tests.support import login, login_clinician


async def world(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    station = Facility(id=uuid7(), code="51C01", name="TYT Nghĩa Kỳ", kind=FacilityKind.health_station)
    session.add(station)
    await session.flush()
    citizen = Citizen(
        id=uuid7(),
        full_name="Hoàng Thị Lan",
        sex=Sex.female,
        date_of_birth=dt.date(1975, 2, 2),
        phone="+84908000001",
        cccd="051175000001",
        bhxh_number="5110000001",
        home_facility_id=station.id,
    )
    account = Account(id=uuid7(), phone="+84908000001")
    doctor = Clinician(
        id=uuid7(),
        facility_id=station.id,
        full_name="BS. Nguyễn Văn Khám",
        role=StaffRole.clinician,
        username="consent-doctor",
        licence_number="000999/QNG-CCHN",
    )
    other = Clinician(
        id=uuid7(), facility_id=station.id, full_name="BS. Khác", role=StaffRole.clinician, username="consent-other"
    )
    admin = Clinician(
        id=uuid7(), facility_id=station.id, full_name="QT", role=StaffRole.station_admin, username="consent-admin"
    )
    session.add_all([citizen, account, doctor, other, admin])
    await session.flush()
    session.add(AccountCitizen(account_id=account.id, citizen_id=citizen.id))
    await RecordService(session).add_item(
        citizen.id, "allergies", {"category": "drug", "substance": "penicillin"}, actor=Actor(Source.self), path="test"
    )
    await RecordService(session).add_item(
        citizen.id, "conditions", {"kind": "hypertension", "icd10": "I10"}, actor=Actor(Source.clinician), path="test"
    )
    return {
        "citizen": citizen,
        "me": await login(session, settings, account.id),
        "doctor": await login_clinician(session, settings, doctor),
        "other": await login_clinician(session, settings, other),
        "admin": await login_clinician(session, settings, admin),
    }


async def share(client: httpx.AsyncClient, w: dict[str, Any], **body: Any) -> dict[str, Any]:
    payload = {"sections": ["allergies", "conditions"], "access": "read", "duration_minutes": 60} | body
    response = await client.post(f"/v1/citizens/{w['citizen'].id}/shares", json=payload, headers=w["me"])
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_a_qr_share_redeems_once_into_a_scoped_grant(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    w = await world(session, settings)
    qr = await share(client, w)
    assert qr["payload"].startswith("PHR1:")
    assert len(decode_payload(qr["payload"])) == 32, "256 random bits"
    assert qr["qr_svg"] == render_qr_svg(qr["payload"]), "the SVG is the QR of exactly that payload"
    assert "Hoàng" not in qr["payload"]
    redeemed = await client.post("/v1/clinician/shares/redeem", json={"token": qr["payload"]}, headers=w["doctor"])
    assert redeemed.status_code == 201
    grant = redeemed.json()
    assert (grant["sections"], grant["access"], grant["origin"]) == (["allergies", "conditions"], "read", "qr")
    again = await client.post("/v1/clinician/shares/redeem", json={"token": qr["payload"]}, headers=w["other"])
    assert again.status_code == 404, "single use"

    record = await client.get(f"/v1/clinician/grants/{grant['grant_id']}/record", headers=w["doctor"])
    assert record.status_code == 200
    body = record.json()
    assert set(body["sections"]) == {"allergies", "conditions"}, "only the granted sections"
    assert "administrative" not in body
    assert body["patient"]["full_name"] == "Hoàng Thị Lan"
    assert (await client.get(f"/v1/clinician/grants/{grant['grant_id']}/record", headers=w["other"])).status_code == 404


async def test_every_read_is_logged_once_and_the_citizen_is_told(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    w = await world(session, settings)
    qr = await share(client, w)
    grant = (
        await client.post("/v1/clinician/shares/redeem", json={"token": qr["payload"]}, headers=w["doctor"])
    ).json()
    for _ in range(3):
        assert (
            await client.get(f"/v1/clinician/grants/{grant['grant_id']}/record", headers=w["doctor"])
        ).status_code == 200
    log = (await client.get(f"/v1/citizens/{w['citizen'].id}/access-log", headers=w["me"])).json()["items"]
    assert len(log) == 3
    assert {(e["action"], e["actor_name"], e["actor_licence"], e["facility_name"]) for e in log} == {
        ("read", "BS. Nguyễn Văn Khám", "000999/QNG-CCHN", "TYT Nghĩa Kỳ")
    }
    pushes = (await session.scalars(select(Notification).where(Notification.template_key == "record_accessed"))).all()
    assert len(pushes) == 1, "reads within an hour coalesce into one push"
    # A failed request leaves no event: a revoked grant is refused before anything is logged.
    await client.delete(f"/v1/citizens/{w['citizen'].id}/grants/{grant['grant_id']}", headers=w["me"])
    assert (
        await client.get(f"/v1/clinician/grants/{grant['grant_id']}/record", headers=w["doctor"])
    ).status_code == 404
    assert await session.scalar(select(func.count()).select_from(AccessEvent)) == 3


async def test_writes_need_a_read_write_grant_and_each_is_pushed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    w = await world(session, settings)
    read_only = (
        await client.post(
            "/v1/clinician/shares/redeem", json={"token": (await share(client, w))["payload"]}, headers=w["doctor"]
        )
    ).json()
    note = {"text": "Khám định kỳ, huyết áp ổn định"}
    refused = await client.post(f"/v1/clinician/grants/{read_only['grant_id']}/notes", json=note, headers=w["doctor"])
    assert refused.status_code == 404
    qr = await share(client, w, access="read_write", sections=["examinations", "notes", "vaccinations"])
    grant = (
        await client.post("/v1/clinician/shares/redeem", json={"token": qr["payload"]}, headers=w["doctor"])
    ).json()
    url = f"/v1/clinician/grants/{grant['grant_id']}"
    assert (await client.post(f"{url}/notes", json=note, headers=w["doctor"])).status_code == 201
    exam = await client.post(
        f"{url}/examinations",
        json={
            "examined_on": "2026-11-20",
            "weight_kg": 55.5,
            "height_cm": 155,
            "bp_systolic": 130,
            "bp_diastolic": 85,
            "diagnoses": [{"icd10": "i10", "text": "Tăng huyết áp", "main": True}],
        },
        headers=w["doctor"],
    )
    assert exam.status_code == 201, exam.text
    assert exam.json()["bmi"] == "23.1"
    assert exam.json()["source"] == "clinician"
    vaccination = await client.post(
        f"{url}/vaccinations", json={"vaccine_code": "FLU", "given_on": "2026-11-20"}, headers=w["doctor"]
    )
    assert vaccination.status_code == 201
    excluded = await client.post(f"{url}/notes", json={"text": "bệnh nhân nhiễm HIV"}, headers=w["doctor"])
    assert excluded.status_code == 422
    writes = (await session.scalars(select(AccessEvent).where(AccessEvent.action == "write"))).all()
    assert len(writes) == 3, "the refused note left no access event"
    pushes = await session.scalar(
        select(func.count()).select_from(Notification).where(Notification.template_key == "record_accessed")
    )
    assert pushes == 3, "every write is pushed"
    body = (await session.scalars(select(Notification).where(Notification.template_key == "record_accessed"))).first()
    assert body is not None
    assert "Tăng" not in str(body.params), "push parameters name no diagnosis"


async def test_a_wrong_passcode_counts_down_then_the_share_is_dead(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    w = await world(session, settings)
    qr = await share(client, w, passcode="2468")
    remaining = []
    for _ in range(5):
        response = await client.post(
            "/v1/clinician/shares/redeem", json={"token": qr["payload"], "passcode": "1111"}, headers=w["doctor"]
        )
        assert response.status_code == 401
        remaining.append(response.json()["remaining_attempts"])
    assert remaining == [4, 3, 2, 1, 0]
    right = await client.post(
        "/v1/clinician/shares/redeem", json={"token": qr["payload"], "passcode": "2468"}, headers=w["doctor"]
    )
    assert right.status_code == 404


async def test_rotation_kills_the_old_qr(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    w = await world(session, settings)
    qr = await share(client, w)
    rotated = await client.post(f"/v1/citizens/{w['citizen'].id}/shares/{qr['share_id']}/rotate", headers=w["me"])
    assert rotated.status_code == 200
    assert rotated.json()["payload"] != qr["payload"]
    old = await client.post("/v1/clinician/shares/redeem", json={"token": qr["payload"]}, headers=w["doctor"])
    assert old.status_code == 404
    new = await client.post(
        "/v1/clinician/shares/redeem", json={"token": rotated.json()["payload"]}, headers=w["doctor"]
    )
    assert new.status_code == 201


async def test_expired_shares_and_grants_are_gone(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    w = await world(session, settings)
    qr = await share(client, w)
    grant = (
        await client.post("/v1/clinician/shares/redeem", json={"token": qr["payload"]}, headers=w["doctor"])
    ).json()
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await session.execute(update(Grant).values(expires_at=past))
    assert (
        await client.get(f"/v1/clinician/grants/{grant['grant_id']}/record", headers=w["doctor"])
    ).status_code == 404
    assert (await client.get("/v1/clinician/grants", headers=w["doctor"])).json() == []


async def test_citizens_shorten_revoke_and_get_receipts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    w = await world(session, settings)
    grant = (
        await client.post(
            "/v1/clinician/shares/redeem", json={"token": (await share(client, w))["payload"]}, headers=w["doctor"]
        )
    ).json()
    base = f"/v1/citizens/{w['citizen'].id}/grants/{grant['grant_id']}"
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert (await client.patch(base, json={"expires_at": later}, headers=w["me"])).status_code == 422
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).isoformat()
    assert (await client.patch(base, json={"expires_at": soon}, headers=w["me"])).status_code == 200
    assert (await client.delete(base, headers=w["me"])).status_code == 204
    receipt = (await client.get(f"{base}/receipt", headers=w["me"])).json()
    assert receipt["recipient"]["licence"] == "000999/QNG-CCHN"
    assert receipt["revoked_at"] is not None
    assert receipt["sections"] == ["allergies", "conditions"]


async def test_break_glass_is_read_only_short_flagged_and_reviewed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    w = await world(session, settings)
    short = await client.post(
        "/v1/clinician/emergency-access", json={"identifier": "051175000001", "reason": "cấp cứu"}, headers=w["doctor"]
    )
    assert short.status_code == 400
    reason = "Bệnh nhân bất tỉnh, cần biết tiền sử dị ứng thuốc"
    opened = await client.post(
        "/v1/clinician/emergency-access", json={"identifier": "051175000001", "reason": reason}, headers=w["doctor"]
    )
    assert opened.status_code == 201, opened.text
    grant = opened.json()
    starts, ends = dt.datetime.fromisoformat(grant["starts_at"]), dt.datetime.fromisoformat(grant["expires_at"])
    assert (grant["origin"], grant["access"]) == ("emergency", "read")
    assert ends - starts <= dt.timedelta(minutes=60)
    by_card = await client.post(
        "/v1/clinician/emergency-access", json={"identifier": "GD4515110000001", "reason": reason}, headers=w["other"]
    )
    assert by_card.status_code == 201, "a BHYT card finds the person too"
    write = await client.post(
        f"/v1/clinician/grants/{grant['grant_id']}/notes", json={"text": "x"}, headers=w["doctor"]
    )
    assert write.status_code == 404
    log = (await client.get(f"/v1/citizens/{w['citizen'].id}/access-log", headers=w["me"])).json()["items"]
    assert "emergency_read" in {e["action"] for e in log}
    review = await client.get("/v1/station/emergency-accesses", headers=w["admin"])
    assert review.status_code == 200
    assert {r["reason"] for r in review.json()} == {reason}
    assert (await client.get("/v1/station/emergency-accesses", headers=w["doctor"])).status_code in (401, 403)


@pytest.mark.parametrize("token", ["PHR1:", "PHR1:!!!", "nonsense", "PHR1:" + "A" * 10])
async def test_malformed_tokens_are_404(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, token: str
) -> None:
    w = await world(session, settings)
    response = await client.post("/v1/clinician/shares/redeem", json={"token": token}, headers=w["doctor"])
    assert response.status_code == 404


async def test_a_guardian_reading_a_childs_record_is_in_the_childs_access_log(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    from core.identity.guardianship import GuardianshipService

    w = await world(session, settings)
    child = Citizen(id=uuid7(), full_name="Bé Na", sex=Sex.female, date_of_birth=dt.date(2022, 3, 3))
    session.add(child)
    await session.flush()
    await GuardianshipService(session).create(w["citizen"].id, child.id, relation="mother", source="station")
    assert (await client.get(f"/v1/citizens/{child.id}/record", headers=w["me"])).status_code == 200
    assert (await client.get(f"/v1/citizens/{w['citizen'].id}/record", headers=w["me"])).status_code == 200
    events = (await session.scalars(select(AccessEvent))).all()
    assert [(e.citizen_id, e.actor_kind, e.actor_name) for e in events] == [(child.id, "guardian", "Hoàng Thị Lan")]


async def test_the_whole_access_log_is_reachable_page_by_page(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    me = Citizen(id=uuid7(), full_name="Người Xem Nhật Ký", sex=Sex.female, date_of_birth=dt.date(1985, 2, 2))
    account = Account(id=uuid7(), phone="+84906300001")
    session.add_all([me, account])
    await session.flush()
    session.add(AccountCitizen(account_id=account.id, citizen_id=me.id))
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    session.add_all(
        AccessEvent(
            citizen_id=me.id,
            actor_kind="clinician",
            actor_name=f"BS. {n}",
            action="read",
            sections=["allergies"],
            at=start + dt.timedelta(minutes=n // 2),  # pairs share a time: the id breaks the tie
        )
        for n in range(130)
    )
    await session.flush()
    headers = await login(session, settings, account.id)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 50} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"/v1/citizens/{me.id}/access-log", params=params, headers=headers)).json()
        seen += [item["actor_name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 130 and len(set(seen)) == 130, "every event once, none lost past the first page"
    assert seen[0] in {"BS. 128", "BS. 129"} and seen[-1] in {"BS. 0", "BS. 1"}, "newest first"


async def test_a_read_write_grant_writes_only_into_the_sections_it_names(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """Found by the authorization model: a read_write grant for allergies let the clinician add vaccinations,
    examinations and notes the person never shared."""
    w = await world(session, settings)
    qr = await share(client, w, access="read_write", sections=["allergies", "notes"])
    grant = (
        await client.post("/v1/clinician/shares/redeem", json={"token": qr["payload"]}, headers=w["doctor"])
    ).json()
    url = f"/v1/clinician/grants/{grant['grant_id']}"
    vaccination = {"vaccine_code": "FLU", "given_on": "2026-11-20"}
    assert (await client.post(f"{url}/vaccinations", json=vaccination, headers=w["doctor"])).status_code == 404
    exam = {"examined_on": "2026-11-20", "diagnoses": [{"icd10": "I10", "text": "Tăng huyết áp", "main": True}]}
    assert (await client.post(f"{url}/examinations", json=exam, headers=w["doctor"])).status_code == 404
    assert (await client.post(f"{url}/notes", json={"text": "Khám định kỳ"}, headers=w["doctor"])).status_code == 201
    writes = (await session.scalars(select(AccessEvent).where(AccessEvent.action == "write"))).all()
    assert [e.sections for e in writes] == [["notes"]], "only the granted section was written"


async def test_a_childs_guardian_is_told_of_an_access_and_the_childs_own_young_phone_is_not(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """Found by the authorization model: the push went to every phone linked to the person, so an 8-year-old's
    phone heard about a record it cannot open, while the guardian who can was never told."""
    from core.identity.guardianship import GuardianshipService

    w = await world(session, settings)
    today = dt.date.today()
    child = Citizen(
        id=uuid7(),
        full_name="Bé Na",
        sex=Sex.female,
        date_of_birth=today.replace(year=today.year - 8, day=1),
        cccd="051322000009",
        phone="+84908000099",
    )
    own_phone = Account(id=uuid7(), phone="+84908000099")
    session.add_all([child, own_phone])
    await session.flush()
    session.add(AccountCitizen(account_id=own_phone.id, citizen_id=child.id))
    await GuardianshipService(session).create(w["citizen"].id, child.id, relation="mother", source="station")
    reason = "Bé bất tỉnh, cần biết tiền sử dị ứng thuốc ngay"
    opened = await client.post(
        "/v1/clinician/emergency-access", json={"identifier": "051322000009", "reason": reason}, headers=w["doctor"]
    )
    assert opened.status_code == 201, opened.text
    told = (
        await session.scalars(select(Notification.account_id).where(Notification.template_key == "record_accessed"))
    ).all()
    mother = await session.scalar(select(AccountCitizen.account_id).where(AccountCitizen.citizen_id == w["citizen"].id))
    assert told == [mother], "the guardian hears of it; the child's own phone (under 14) does not"
