"""Station coverage and the overdue work list over HTTP: own area only, paged, problems for bad input."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from core.immunization.schedule import add_months
from core.immunization.service import Programme, refresh
from core.models import AdminUnit, Citizen, Clinician, Facility, FacilityKind, Sex, StaffRole, UnitLevel
from core.outbox import local_date
from core.settings import Settings
from tests.support import login_clinician

COMMUNE = "21101"


@dataclass
class Area:
    mine: Facility
    theirs: Facility
    my_staff: dict[str, str]  # request headers of a staff member of each
    their_staff: dict[str, str]


async def build(session: AsyncSession, settings: Settings) -> tuple[Area, Citizen]:
    """A 15-month-old with no doses at station S (with phone numbers on file), the same at station T."""
    today = local_date(dt.datetime.now(dt.UTC))
    session.add_all(
        [
            AdminUnit(code="52", level=UnitLevel.province, name="Bình Định"),
            AdminUnit(code=COMMUNE, level=UnitLevel.commune, name="Xã Phước Sơn", parent_code="52"),
        ]
    )
    mine = Facility(id=uuid7(), code="52C01", name="TYT Phước Sơn", kind=FacilityKind.health_station)
    theirs = Facility(id=uuid7(), code="52C02", name="TYT Phước Hòa", kind=FacilityKind.health_station)
    session.add_all([mine, theirs])
    await session.flush()
    born = add_months(today, -15)
    child = Citizen(
        id=uuid7(),
        full_name="Trần Bé",
        sex=Sex.male,
        date_of_birth=born,
        home_facility_id=mine.id,
        cur_commune_code=COMMUNE,
        cur_hamlet="Thôn 3",
        phone="+84905600009",
        caregiver_phone="+84905600008",
    )
    adult = Citizen(
        id=uuid7(), full_name="Trần Mẹ", sex=Sex.female, date_of_birth=dt.date(1990, 1, 1), home_facility_id=mine.id
    )
    elsewhere = Citizen(id=uuid7(), full_name="Lê Bé", sex=Sex.male, date_of_birth=born, home_facility_id=theirs.id)
    session.add_all([child, adult, elsewhere])
    staff = [
        Clinician(id=uuid7(), facility_id=f.id, full_name=n, role=StaffRole.station_staff, username=n)
        for f, n in ((mine, "cov-staff-s"), (theirs, "cov-staff-t"))
    ]
    session.add_all(staff)
    await session.flush()
    await refresh(session, [child.id, elsewhere.id], today=today, programme=Programme())
    await session.flush()
    headers = [await login_clinician(session, settings, member) for member in staff]
    return Area(mine, theirs, headers[0], headers[1]), child


async def test_a_station_reads_its_coverage(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    area, child = await build(session, settings)
    response = await client.get(f"/v1/station/facilities/{area.mine.id}/coverage", headers=area.my_staff)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["facility_id"] == str(area.mine.id)
    assert body["total"]["people"] == 2  # the child and the adult; station T's child is not counted
    communes = {c["commune_code"]: c for c in body["communes"]}
    assert communes[COMMUNE]["commune_name"] == "Xã Phước Sơn" and communes[None]["people"] == 1
    assert communes[COMMUNE]["with_record"] == {"numerator": 0, "denominator": 1, "percent": 0.0}
    cohort = next(c for c in communes[COMMUNE]["cohorts"] if c["birth_year"] == child.date_of_birth.year)
    dpt = next(s for s in cohort["series"] if s["series"] == "DPT-VGB-HIB")
    assert dpt["complete"]["numerator"] == 0 and dpt["overdue"] == 1 and dpt["name_vi"]
    assert "Trần Bé" not in response.text  # coverage is counts, never names
    assert response.headers["cache-control"] == "no-store"


async def test_the_overdue_list_pages_through_this_stations_children(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    area, child = await build(session, settings)
    url = f"/v1/station/facilities/{area.mine.id}/overdue"
    whole = await client.get(url, params={"limit": 100}, headers=area.my_staff)
    assert whole.status_code == 200, whole.text
    items = whole.json()["items"]
    assert {i["citizen_id"] for i in items} == {str(child.id)}  # not station T's child
    assert {"DPT-VGB-HIB", "BOPV", "MEASLES"} <= {i["series"] for i in items}
    first = items[0]
    assert (first["full_name"], first["commune_name"], first["hamlet"]) == ("Trần Bé", "Xã Phước Sơn", "Thôn 3")
    assert first["days_overdue"] > 0
    assert "0905600" not in whole.text and "84905600" not in whole.text  # no phone numbers on the work list

    paged: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(url, params=params, headers=area.my_staff)).json()
        assert len(page["items"]) <= 2
        paged += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == items

    measles = await client.get(url, params={"series": "MEASLES"}, headers=area.my_staff)
    assert [i["series"] for i in measles.json()["items"]] == ["MEASLES"]
    nowhere = await client.get(url, params={"commune": "99999"}, headers=area.my_staff)
    assert nowhere.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("route", ["coverage", "overdue"])
async def test_another_facility_is_not_found(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, route: str
) -> None:
    area, _ = await build(session, settings)
    for facility_id, headers in (
        (area.theirs.id, area.my_staff),
        (area.mine.id, area.their_staff),
        (uuid7(), area.my_staff),
    ):
        response = await client.get(f"/v1/station/facilities/{facility_id}/{route}", headers=headers)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "Trần Bé" not in response.text


@pytest.mark.parametrize(
    ("route", "query"),
    [
        ("overdue", "limit=0"),
        ("overdue", "limit=101"),
        ("overdue", "limit=abc"),
        ("overdue", "cursor=%25%25%25"),
        ("overdue", "cursor=abc.JE"),
        ("overdue", "cursor=MjAyNi0wNi0wMXwwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDE.XX"),  # unknown series
        ("overdue", "series=POLIO"),
        ("overdue", "commune=Ph%C6%B0%E1%BB%9Bc"),
        ("coverage", "cohort_years=0"),
        ("coverage", "cohort_years=99"),
        ("coverage", "cohort_years=six"),
    ],
)
async def test_bad_query_parameters_are_problems(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, route: str, query: str
) -> None:
    area, _ = await build(session, settings)
    response = await client.get(f"/v1/station/facilities/{area.mine.id}/{route}?{query}", headers=area.my_staff)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["title"]  # Vietnamese by default
