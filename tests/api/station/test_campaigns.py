"""Station campaigns over HTTP: draft, preview, launch once, cancel, the funnel, and one station per campaign."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.campaigns import CampaignService, mask_name
from core.cohorts import CohortFilter
from core.identity.guardianship import GuardianshipService
from core.ids import uuid7
from core.models import (
    Account,
    AccountCitizen,
    AdminUnit,
    Appointment,
    AppointmentStatus,
    Campaign,
    CampaignStatus,
    Citizen,
    Clinician,
    DeliveryStatus,
    ExclusionReceipt,
    Facility,
    FacilityKind,
    FacilityService,
    Notification,
    Sex,
    Slot,
    StaffRole,
    UnitLevel,
)
from core.settings import Settings
from tests.support import login, login_clinician

DAYTIME = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)  # 10:00 in Quảng Ngãi, already past
TEXT_VI = "{facility} mời gia đình đưa {name} đến trạm tiêm chủng đúng lịch."
TEXT_EN = "{facility} invites {name} for a vaccination visit."


@dataclass
class World:
    mine: Facility
    theirs: Facility
    staff: Clinician
    auth: dict[str, str] = field(default_factory=dict)
    other_auth: dict[str, str] = field(default_factory=dict)
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    accounts: dict[str, uuid.UUID] = field(default_factory=dict)


async def build(session: AsyncSession, settings: Settings, *, extra_people: int = 0) -> World:
    """S1 has a mother with the app, her baby, a neighbour without the app; S2 has someone with the app."""
    session.add_all(
        [
            AdminUnit(code="58", level=UnitLevel.province, name="Tỉnh"),
            AdminUnit(code="581", level=UnitLevel.district, name="Huyện", parent_code="58"),
            AdminUnit(code="58101", level=UnitLevel.commune, name="Xã", parent_code="581"),
        ]
    )
    mine = Facility(id=uuid7(), code="58C01", name="TYT Nghĩa Chánh", kind=FacilityKind.health_station)
    theirs = Facility(id=uuid7(), code="58C02", name="TYT Nghĩa Lộ", kind=FacilityKind.health_station)
    session.add_all([mine, theirs])
    await session.flush()
    staff = Clinician(id=uuid7(), facility_id=mine.id, full_name="YS", role=StaffRole.station_staff, username="c-s1")
    other = Clinician(id=uuid7(), facility_id=theirs.id, full_name="YS2", role=StaffRole.station_admin, username="c-s2")
    session.add_all([staff, other])
    world = World(mine, theirs, staff)

    def person(key: str, name: str, born: dt.date, facility: Facility, sex: Sex = Sex.female) -> Citizen:
        citizen = Citizen(id=uuid7(), full_name=name, sex=sex, date_of_birth=born, home_facility_id=facility.id)
        world.ids[key] = citizen.id
        return citizen

    session.add_all(
        [
            person("mother", "Trần Thị Mai", dt.date(1994, 5, 1), mine),
            person("baby", "Nguyễn Minh Khang", dt.date(2026, 8, 1), mine, Sex.male),
            person("neighbour", "Lê Văn Tám", dt.date(1960, 1, 1), mine, Sex.male),
            person("elsewhere", "Phạm Thị Hoa", dt.date(1990, 1, 1), theirs),
            *(
                person(f"p{i}", f"Võ Văn Người {i}", dt.date(1970 + i % 30, 1, 1), mine, Sex.male)
                for i in range(extra_people)
            ),
        ]
    )
    for key, phone in (("mother", "+84905810001"), ("elsewhere", "+84905810002")):
        account = Account(id=uuid7(), phone=phone)
        session.add(account)
        await session.flush()
        session.add(AccountCitizen(account_id=account.id, citizen_id=world.ids[key]))
        world.accounts[key] = account.id
    await session.flush()
    await GuardianshipService(session).create(
        world.ids["mother"], world.ids["baby"], relation="mother", source="station"
    )
    world.auth = await login_clinician(session, settings, staff)
    world.other_auth = await login_clinician(session, settings, other)
    return world


def body(**changes: Any) -> dict[str, Any]:
    send_at = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    return {"name": "Tiêm chủng tháng 12", "cohort": {}, "text_vi": TEXT_VI, "send_at": send_at.isoformat()} | changes


async def test_a_station_drafts_previews_and_launches_once(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    world = await build(session, settings)
    created = await client.post("/v1/station/campaigns", json=body(text_en=TEXT_EN), headers=world.auth)
    assert created.status_code == 201
    campaign = created.json()
    assert (campaign["status"], campaign["targeted"], campaign["cohort"]) == ("draft", 0, {})
    campaign_id = campaign["campaign_id"]

    preview = (await client.post(f"/v1/station/campaigns/{campaign_id}/preview", headers=world.auth)).json()
    # Three people; the mother hears for herself and for her baby; the neighbour has no app.
    assert (preview["people"], preview["recipients"]) == (3, 2)
    assert {s["masked_name"] for s in preview["sample"]} == {"Trần T. M.", "Nguyễn M. K.", "Lê V. T."}

    launched = await client.post(f"/v1/station/campaigns/{campaign_id}/launch", headers=world.auth)
    assert launched.status_code == 200
    assert launched.json()["status"] == "launched"
    assert launched.json()["targeted"] == 2
    assert launched.json()["launched_at"] is not None
    again = await client.post(f"/v1/station/campaigns/{campaign_id}/launch", headers=world.auth)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")

    rows = (await session.scalars(select(Notification).where(Notification.campaign_id == uuid.UUID(campaign_id)))).all()
    assert len(rows) == 2, "the second launch wrote nothing"
    assert {(r.account_id, r.citizen_id) for r in rows} == {
        (world.accounts["mother"], world.ids["mother"]),
        (world.accounts["mother"], world.ids["baby"]),
    }
    assert all(r.template_key == "campaign" and r.kind == "campaign" and r.params == {} for r in rows)
    assert {r.dedupe_key for r in rows} == {
        f"campaign:{campaign_id}:{world.accounts['mother']}:{world.ids[k]}" for k in ("mother", "baby")
    }

    page = (await client.get("/v1/station/campaigns", headers=world.auth)).json()
    assert [c["campaign_id"] for c in page["items"]] == [campaign_id]
    one = (await client.get(f"/v1/station/campaigns/{campaign_id}", headers=world.auth)).json()
    assert (one["status"], one["text_en"]) == ("launched", TEXT_EN)


async def test_the_list_pages_newest_first(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    world = await build(session, settings)
    made = []
    for n in range(5):
        made.append((await client.post("/v1/station/campaigns", json=body(name=f"Đợt {n}"), headers=world.auth)).json())
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/station/campaigns", params=params, headers=world.auth)).json()
        seen += [c["campaign_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(c["campaign_id"] for c in made)
    assert len(seen) == len(set(seen)) == 5
    assert (
        await client.get("/v1/station/campaigns", params={"cursor": "nonsense"}, headers=world.auth)
    ).status_code == 422


async def test_the_inbox_shows_the_station_text_in_the_readers_language(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    world = await build(session, settings)
    service = CampaignService(session, world.mine.id, now=DAYTIME)
    campaign = await service.create(
        created_by=world.staff.id,
        name="Nhắc tiêm",
        cohort=CohortFilter(),
        text_vi=TEXT_VI,
        text_en=TEXT_EN,
        send_at=DAYTIME,
    )
    await service.launch(campaign.id)
    mother = await login(session, settings, world.accounts["mother"])
    items = (await client.get("/v1/notifications", headers=mother)).json()["items"]
    assert {i["body"] for i in items} == {
        "TYT Nghĩa Chánh mời gia đình đưa Mai đến trạm tiêm chủng đúng lịch.",
        "TYT Nghĩa Chánh mời gia đình đưa Khang đến trạm tiêm chủng đúng lịch.",
    }
    assert {i["title"] for i in items} == {"Thông báo từ trạm y tế"}
    english = (await client.get("/v1/notifications", headers=mother | {"Accept-Language": "en"})).json()["items"]
    assert {i["body"] for i in english} == {
        "TYT Nghĩa Chánh invites Mai for a vaccination visit.",
        "TYT Nghĩa Chánh invites Khang for a vaccination visit.",
    }
    read = await client.post(f"/v1/notifications/{items[0]['id']}/read", headers=mother)
    assert read.json()["body"] == items[0]["body"], "marking read renders the same text"
    elsewhere = await login(session, settings, world.accounts["elsewhere"])
    assert (await client.get("/v1/notifications", headers=elsewhere)).json()["items"] == []


async def test_the_preview_counts_and_masks_a_sample_of_ten(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    world = await build(session, settings, extra_people=12)
    created = await client.post("/v1/station/campaigns", json=body(cohort={"sex": "male"}), headers=world.auth)
    preview = await client.post(f"/v1/station/campaigns/{created.json()['campaign_id']}/preview", headers=world.auth)
    assert preview.status_code == 200
    found = preview.json()
    assert found["people"] == 14, "the baby, the neighbour and twelve men"
    assert found["recipients"] == 1, "only the baby is reachable, through his mother"
    assert len(found["sample"]) == 10
    names = {row[0] for row in (await session.execute(select(Citizen.full_name))).all()}
    for sample in found["sample"]:
        assert set(sample) == {"masked_name", "birth_year", "sex"}, "no ids, no phone, no address"
        assert sample["masked_name"] not in names
        assert sample["sex"] == "male"
    assert mask_name("Nguyễn Văn An") == "Nguyễn V. A."
    assert mask_name("An") == "A."


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"text_vi": "Mời {ten} đến trạm"}, 422, "unknown_placeholder"),
        ({"text_vi": "Mời {name.__class__} đến"}, 422, "unknown_placeholder"),
        ({"text_vi": "Mời {name} đến }"}, 422, "unknown_placeholder"),
        ({"text_en": "Dear {nom}"}, 422, "unknown_placeholder"),
        ({"text_vi": "   "}, 422, "empty_text"),
        ({"text_vi": "Mời người nhiễm HIV đến nhận thuốc ARV"}, 422, "excluded_category"),
        ({"name": "Nhóm cai nghiện ma túy"}, 422, "excluded_category"),
        ({"cohort": {"condition": "B20"}}, 422, "excluded_category"),
        ({"cohort": {"condition": "Z20"}}, 422, "excluded_category"),
        ({"cohort": {"communes": ["58199"]}}, 422, "unknown_commune"),
        ({"cohort": {"communes": ["581"]}}, 400, None),  # not even the shape of a commune code
        ({"cohort": {"series": "COVID"}}, 422, "unknown_series"),
        ({"cohort": {"age_min_years": 50, "age_max_years": 10}}, 422, "bad_age_range"),
        ({"cohort": {"diagnosis": "E11"}}, 400, None),
        ({"send_at": "2020-01-01T00:00:00Z"}, 422, "send_at_past"),
        ({"send_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=120)).isoformat()}, 422, "send_at_too_far"),
        ({"send_at": "2027-01-01T08:00:00"}, 400, None),  # no time zone: ambiguous
        ({"text_vi": "x" * 501}, 400, None),
        ({"targeted": 5}, 400, None),
    ],
)
async def test_bad_campaigns_are_refused_with_a_problem(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    changes: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    world = await build(session, settings)
    response = await client.post("/v1/station/campaigns", json=body(**changes), headers=world.auth)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["title"]
    if code is not None:
        assert problem["code"] == code
    assert "HIV" not in response.text and "ma túy" not in response.text, "a refusal never echoes the text"
    assert await session.scalar(select(func.count()).select_from(Campaign)) == 0
    if code == "excluded_category":
        assert await session.scalar(select(func.count()).select_from(ExclusionReceipt)) >= 1, "a receipt remains"


async def test_another_station_finds_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    world = await build(session, settings)
    campaign_id = (await client.post("/v1/station/campaigns", json=body(), headers=world.auth)).json()["campaign_id"]
    base = f"/v1/station/campaigns/{campaign_id}"
    for method, path in [
        ("GET", base),
        ("GET", f"{base}/stats"),
        ("POST", f"{base}/preview"),
        ("POST", f"{base}/launch"),
        ("POST", f"{base}/cancel"),
        ("POST", f"{base}/resume"),
    ]:
        response = await client.request(method, path, headers=world.other_auth)
        assert response.status_code == 404, f"{method} {path}"
        assert response.json()["type"] == "urn:phr:problem:not-found"
    assert (await client.get("/v1/station/campaigns", headers=world.other_auth)).json()["items"] == []
    campaign = await session.get(Campaign, uuid.UUID(campaign_id))
    assert campaign is not None and campaign.status is CampaignStatus.draft, "nothing happened to it"

    # S2's own campaign to "everyone" reaches S2's people only: never S1's mother or baby.
    theirs = (await client.post("/v1/station/campaigns", json=body(), headers=world.other_auth)).json()
    preview = (
        await client.post(f"/v1/station/campaigns/{theirs['campaign_id']}/preview", headers=world.other_auth)
    ).json()
    assert (preview["people"], preview["recipients"]) == (1, 1)
    await client.post(f"/v1/station/campaigns/{theirs['campaign_id']}/launch", headers=world.other_auth)
    rows = (
        await session.scalars(select(Notification).where(Notification.campaign_id == uuid.UUID(theirs["campaign_id"])))
    ).all()
    assert [(r.account_id, r.citizen_id) for r in rows] == [(world.accounts["elsewhere"], world.ids["elsewhere"])]

    clinician = Clinician(
        id=uuid7(), facility_id=world.mine.id, full_name="BS", role=StaffRole.clinician, username="c-doc"
    )
    session.add(clinician)
    await session.flush()
    doctor = await login_clinician(session, settings, clinician)
    assert (await client.get("/v1/station/campaigns", headers=doctor)).status_code == 403


async def test_cancel_stops_what_is_not_yet_sent(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    world = await build(session, settings, extra_people=0)
    extra = Citizen(
        id=uuid7(),
        full_name="Đỗ Thị Lan",
        sex=Sex.female,
        date_of_birth=dt.date(1985, 1, 1),
        home_facility_id=world.mine.id,
    )
    account = Account(id=uuid7(), phone="+84905810003")
    session.add_all([extra, account])
    await session.flush()
    session.add(AccountCitizen(account_id=account.id, citizen_id=extra.id))
    await session.flush()
    campaign_id = (await client.post("/v1/station/campaigns", json=body(), headers=world.auth)).json()["campaign_id"]
    assert (await client.post(f"/v1/station/campaigns/{campaign_id}/launch", headers=world.auth)).json()[
        "targeted"
    ] == 3
    rows = list(
        (
            await session.scalars(
                select(Notification).where(Notification.campaign_id == uuid.UUID(campaign_id)).order_by(Notification.id)
            )
        ).all()
    )
    # One went out already, one is in a worker's hands right now, one is waiting.
    await session.execute(update(Notification).where(Notification.id == rows[0].id).values(status=DeliveryStatus.sent))
    await session.execute(
        update(Notification).where(Notification.id == rows[1].id).values(status=DeliveryStatus.sending)
    )
    cancelled = await client.post(f"/v1/station/campaigns/{campaign_id}/cancel", headers=world.auth)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancelled_at"] is not None
    statuses = dict(
        (
            await session.execute(
                select(Notification.id, Notification.status).where(Notification.campaign_id == uuid.UUID(campaign_id))
            )
        ).all()
    )
    assert statuses == {rows[0].id: "sent", rows[1].id: "sending", rows[2].id: "cancelled"}
    assert (await client.post(f"/v1/station/campaigns/{campaign_id}/cancel", headers=world.auth)).status_code == 200
    assert (await client.post(f"/v1/station/campaigns/{campaign_id}/launch", headers=world.auth)).status_code == 409
    assert (await client.post(f"/v1/station/campaigns/{campaign_id}/resume", headers=world.auth)).status_code == 409


async def test_stats_follow_the_funnel(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> None:
    world = await build(session, settings, extra_people=6)
    launched_at = DAYTIME
    # Six adults with the app, and the mother for herself and for her baby: eight notifications.
    for i in range(6):
        account = Account(id=uuid7(), phone=f"+8490582{i:04d}")
        session.add(account)
        await session.flush()
        session.add(AccountCitizen(account_id=account.id, citizen_id=world.ids[f"p{i}"]))
    await session.flush()
    service = CampaignService(session, world.mine.id, now=launched_at)
    campaign = await service.create(
        created_by=world.staff.id,
        name="Khám định kỳ",
        cohort=CohortFilter(),
        text_vi="Mời {name} đi khám",
        text_en=None,
        send_at=launched_at,
    )
    await service.launch(campaign.id)
    rows = list(
        (
            await session.scalars(
                select(Notification).where(Notification.campaign_id == campaign.id).order_by(Notification.id)
            )
        ).all()
    )
    assert len(rows) == 8
    outcome = [DeliveryStatus.sent] * 5 + [DeliveryStatus.failed, DeliveryStatus.expired, DeliveryStatus.pending]
    for row, status in zip(rows, outcome, strict=True):
        await session.execute(update(Notification).where(Notification.id == row.id).values(status=status))
    for row in rows[:3]:  # three opened in the app
        await session.execute(update(Notification).where(Notification.id == row.id).values(read_at=launched_at))

    service_row = FacilityService(id=uuid7(), facility_id=world.mine.id, kind="checkup", name="Khám")
    other_service = FacilityService(id=uuid7(), facility_id=world.theirs.id, kind="checkup", name="Khám")
    session.add_all([service_row, other_service])
    await session.flush()
    starts = launched_at + dt.timedelta(days=3)
    slot = Slot(
        id=uuid7(),
        facility_id=world.mine.id,
        service_id=service_row.id,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=30),
        capacity=20,
    )
    other_slot = Slot(
        id=uuid7(),
        facility_id=world.theirs.id,
        service_id=other_service.id,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=30),
        capacity=20,
    )
    session.add_all([slot, other_slot])
    await session.flush()

    def booking(
        key: str, status: AppointmentStatus, *, created: dt.datetime, at: Slot = slot, day_offset: int = 0
    ) -> Appointment:
        return Appointment(
            citizen_id=world.ids[key],
            slot_id=at.id,
            facility_id=at.facility_id,
            service_id=at.service_id,
            day=starts.date() + dt.timedelta(days=day_offset),
            queue_number=1,
            status=status,
            created_at=created,
        )

    after = launched_at + dt.timedelta(hours=2)
    session.add_all(
        [
            booking("p0", AppointmentStatus.checked_in, created=after),  # booked and came
            booking("p1", AppointmentStatus.booked, created=after),  # booked, not yet
            booking("p1", AppointmentStatus.booked, created=after, day_offset=1),  # the same person twice: one
            booking("p2", AppointmentStatus.no_show, created=after),  # booked, did not come
            booking("p3", AppointmentStatus.cancelled, created=after),  # cancelled: not a booking
            booking("p4", AppointmentStatus.checked_in, created=launched_at - dt.timedelta(days=1)),  # before
            booking("p5", AppointmentStatus.checked_in, created=after, at=other_slot),  # another station
            booking("neighbour", AppointmentStatus.checked_in, created=after),  # never targeted (no app)
        ]
    )
    await session.flush()

    stats = await client.get(f"/v1/station/campaigns/{campaign.id}/stats", headers=world.auth)
    assert stats.status_code == 200
    assert stats.json() == {
        "targeted": 8,
        "people": 8,
        "pending": 1,
        "sent": 5,
        "failed": 1,
        "expired": 1,
        "cancelled": 0,
        "opened": 3,
        "booked": 3,
        "attended": 1,
    }
    draft = (await client.post("/v1/station/campaigns", json=body(), headers=world.auth)).json()
    empty = (await client.get(f"/v1/station/campaigns/{draft['campaign_id']}/stats", headers=world.auth)).json()
    assert set(empty.values()) == {0}, "a draft has no funnel yet"
