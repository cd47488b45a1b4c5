"""Every paged list refuses a page size outside 1..100 with a problem, and serves a full page of 100; the lists that
grow without bound are paged, and walking their cursors gives every item once, in order."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.ids import uuid7
from core.models import (
    Account,
    Appointment,
    Citizen,
    Clinician,
    CorrectionRequest,
    FacilityService,
    Grant,
    LinkRequest,
    Sex,
    Slot,
)
from core.pagination import encode_cursor
from core.settings import Settings
from tests.api.test_authorization_matrix import ALLOW, PRINCIPALS, ROWS, World, build_world

# Lists that grow with use: each must take ``limit`` and ``cursor`` and answer {"items", "next_cursor"}.
PAGED_LISTS = frozenset(
    {
        "/v1/citizens/{citizen_id}/access-log",
        "/v1/citizens/{citizen_id}/appointments",
        "/v1/citizens/{citizen_id}/corrections",
        "/v1/citizens/{citizen_id}/grants",
        "/v1/citizens/{citizen_id}/record/sections/{section}",
        "/v1/notifications",
        "/v1/station/campaigns",
        "/v1/station/facilities/{facility_id}/overdue",
        "/v1/station/his-episodes/pending",
        "/v1/station/link-requests",
    }
)
# Lists that answer a bare JSON array, and why that is acceptable (or that it is known and not yet paged).
UNPAGED_ARRAYS = {
    "/v1/auth/device/keys": "bounded: an account's own device keys",
    "/v1/auth/sessions": "bounded: an account's live sessions",
    "/v1/citizens/{citizen_id}/delegations": "bounded: a person's delegations",
    "/v1/clinician/grants": "bounded: a clinician's live grants (QR redemption is per patient visit)",
    "/v1/facilities": "bounded: the province's health stations, filtered by commune",
    "/v1/facilities/{facility_id}/slots": "bounded: one facility's open slots in the booking window",
    "/v1/station/appointments": "bounded: one station's appointments of one day",
    "/v1/station/counter/walk-ins": "bounded: one station's walk-in queue of one day",
    "/v1/vaccines": "bounded: the vaccine catalogue",
    "/v1/station/corrections": "not yet paged (issue 11 follow-up): a station's correction requests",
    "/v1/station/emergency-accesses": "not yet paged (issue 11 follow-up): a station's break-glass grants to review",
}


def paged_routes(schema: dict[str, Any]) -> set[str]:
    return {
        path
        for path, item in schema["paths"].items()
        if any(p.get("name") == "limit" and p.get("in") == "query" for p in item.get("get", {}).get("parameters", []))
    }


def array_routes(schema: dict[str, Any]) -> set[str]:
    def answers_array(operation: dict[str, Any]) -> bool:
        content = operation.get("responses", {}).get("200", {}).get("content", {})
        return any(media.get("schema", {}).get("type") == "array" for media in content.values())

    return {path for path, item in schema["paths"].items() if "get" in item and answers_array(item["get"])}


async def test_lists_that_grow_are_paged_and_answer_the_page_envelope(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    paged = paged_routes(schema)
    assert paged == PAGED_LISTS, f"paged now: {sorted(paged)}"
    for path in paged:
        parameters = {p["name"] for p in schema["paths"][path]["get"]["parameters"] if p["in"] == "query"}
        assert {"limit", "cursor"} <= parameters, path
    assert array_routes(schema) == set(UNPAGED_ARRAYS), "a new list answers a bare array: page it, or say why not"


async def test_page_sizes_are_bounded_on_every_list(
    client: httpx.AsyncClient, connection: AsyncConnection, session: AsyncSession, settings: Settings
) -> None:
    paged = paged_routes((await client.get("/schema/openapi.json")).json())
    assert paged >= PAGED_LISTS, paged
    world = await build_world(session, settings)
    await session.flush()
    wrong: list[str] = []
    for template in sorted(paged):
        row = ROWS[("GET", template)]
        principal, target = next((p, t) for t in row.targets for p in PRINCIPALS if row.expect(p, t) == ALLOW)
        path = template.format(**row.params(world, target))
        for limit, ok in ((0, False), (101, False), (100_000, False), (-1, False), (100, True), (1, True)):
            savepoint = await connection.begin_nested()
            try:
                response = await client.get(path, params={"limit": limit}, headers=world.headers[principal])
            finally:
                await savepoint.rollback()
            refused = response.status_code in (400, 422) and response.headers["content-type"].startswith(
                "application/problem+json"
            )
            if ok == refused or response.status_code >= 500:
                wrong.append(f"{template} limit={limit}: {response.status_code}")
    assert wrong == []


# -- walking the pages of the lists paged in issue 11 ----------------------------------------------------------
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
# Five creation times, two of them equal: the id breaks the tie, so no item is skipped or repeated at a page edge.
STAMPS = (T0, T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=2), T0)


async def _corrections(session: AsyncSession, world: World) -> list[tuple[dt.datetime, uuid.UUID]]:
    rows = [
        CorrectionRequest(id=uuid7(), citizen_id=world.ids["A"], section="allergies", description="sai", created_at=at)
        for at in STAMPS
    ]
    session.add_all(rows)
    return [(r.created_at, r.id) for r in rows]


async def _grants(session: AsyncSession, world: World) -> list[tuple[dt.datetime, uuid.UUID]]:
    doctor = (await session.scalars(select(Clinician).where(Clinician.username == "m-clinician"))).one()
    rows = [
        Grant(
            id=uuid7(),
            citizen_id=world.ids["A"],
            clinician_id=doctor.id,
            facility_id=doctor.facility_id,
            sections=["allergies"],
            access="read",
            purpose="CAREMGT",
            origin="qr",
            starts_at=at,
            expires_at=at + dt.timedelta(hours=1),
            created_at=at,
        )
        for at in STAMPS
    ]
    session.add_all(rows)
    return [(r.created_at, r.id) for r in rows]


async def _appointments(session: AsyncSession, world: World) -> list[tuple[dt.datetime, uuid.UUID]]:
    service = FacilityService(id=uuid7(), facility_id=world.ids["S1"], kind="checkup", name="Khám")
    session.add(service)
    await session.flush()
    rows = []
    for day, at in enumerate(STAMPS):
        starts = T0 + dt.timedelta(days=day + 1)
        slot = Slot(
            id=uuid7(),
            facility_id=service.facility_id,
            service_id=service.id,
            starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=30),
            capacity=5,
        )
        session.add(slot)
        await session.flush()
        rows.append(
            Appointment(
                id=uuid7(),
                citizen_id=world.ids["A"],
                slot_id=slot.id,
                facility_id=service.facility_id,
                service_id=service.id,
                day=starts.date(),
                queue_number=1,
                created_at=at,
            )
        )
    session.add_all(rows)
    return [(r.created_at, r.id) for r in rows]


async def _link_requests(session: AsyncSession, world: World) -> list[tuple[dt.datetime, uuid.UUID]]:
    account = Account(id=uuid7(), phone="+84905900077")
    session.add(account)
    await session.flush()
    rows = []
    for n, at in enumerate(STAMPS):
        person = Citizen(
            id=uuid7(),
            full_name=f"Người {n}",
            sex=Sex.female,
            date_of_birth=dt.date(1990, 1, n + 1),
            home_facility_id=world.ids["S1"],
        )
        session.add(person)
        await session.flush()
        rows.append(LinkRequest(id=uuid7(), account_id=account.id, citizen_id=person.id, created_at=at))
    session.add_all(rows)
    # The matrix world's own request (made "now") is the newest: it comes last, oldest first.
    return [(r.created_at, r.id) for r in rows] + [(T0 + dt.timedelta(days=3650), world.ids["link_request_A"])]


Seed = Callable[[AsyncSession, World], Awaitable[list[tuple[dt.datetime, uuid.UUID]]]]
WALKS: dict[str, tuple[str, str, str, Seed, bool]] = {
    # list: (path, principal, id field, seed, newest first)
    "corrections": ("/v1/citizens/{A}/corrections", "citizen_a", "correction_id", _corrections, True),
    "grants": ("/v1/citizens/{A}/grants", "citizen_a", "grant_id", _grants, True),
    "appointments": ("/v1/citizens/{A}/appointments", "citizen_a", "appointment_id", _appointments, True),
    "link requests": ("/v1/station/link-requests", "staff_same", "request_id", _link_requests, False),
}


@pytest.mark.parametrize("name", list(WALKS))
async def test_walking_the_cursor_gives_every_item_once_in_order(
    name: str, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    template, principal, id_field, seed, newest_first = WALKS[name]
    world = await build_world(session, settings)
    seeded = await seed(session, world)
    await session.flush()
    path, headers = template.format(A=world.ids["A"]), world.headers[principal]
    everything = (await client.get(path, params={"limit": 100}, headers=headers)).json()
    assert everything["next_cursor"] is None
    # The world has items of its own in some lists (a grant per person, a correction): they are part of the walk.
    expected = [str(item[id_field]) for item in everything["items"]]
    mine = [str(i) for _, i in sorted(seeded, reverse=newest_first)]
    assert [i for i in expected if i in mine] == mine, "the order is (time, id), newest first or oldest first"

    walked: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await client.get(path, params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= 2
        walked += [str(item[id_field]) for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages < 20, "the cursor does not advance"
    assert walked == expected
    assert pages == max(1, -(-len(expected) // 2)), "a full last page says there is no next one"

    for bad in ("not-a-cursor", encode_cursor(dt.date(2026, 1, 1), uuid7()), "x" * 5000):
        refused = await client.get(path, params={"cursor": bad}, headers=headers)
        assert refused.status_code == 422, (bad[:20], refused.status_code)
        assert refused.json()["code"] == "bad_cursor"
