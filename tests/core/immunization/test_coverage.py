"""Coverage per commune and the overdue work list, against a small population built from real doses + refresh."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid, NotFound
from core.ids import uuid7
from core.immunization.coverage import AreaCoverage, CoverageService, OverdueItem
from core.immunization.service import Programme, refresh
from core.models import (
    Account,
    AccountCitizen,
    AccountStatus,
    AdminUnit,
    Citizen,
    Examination,
    Facility,
    FacilityKind,
    Guardianship,
    Sex,
    Source,
    UnitLevel,
    Vaccination,
)
from core.pagination import encode_cursor

TODAY = dt.date(2026, 6, 15)
X, Y = "21001", "21002"


@dataclass
class Population:
    station: uuid.UUID
    other: uuid.UUID
    ids: dict[str, uuid.UUID] = field(default_factory=dict)


async def build(session: AsyncSession) -> Population:
    """Station S: communes X (current address) and Y (permanent address only), one person with no commune.

    X: c1 (2025, birth doses + 5-in-1 complete), c2 (2025, nothing), c3 (2026, hepatitis B birth dose; guardian
    a1), adults a1 (account, check-up this year), a2 (check-up two years ago), a3 (nothing).
    Y: d1 (2024, 5-in-1 and oral polio complete), d2 (2026, refreshed in April and not since: stale rows), b1
    (a deleted examination, a closed account). Station T has e1 (2025, nothing) and e2 (examined) in commune X.
    """
    session.add_all(
        [
            AdminUnit(code="51", level=UnitLevel.province, name="Quảng Ngãi"),
            AdminUnit(code=X, level=UnitLevel.commune, name="Xã Nghĩa Hà", parent_code="51"),
            AdminUnit(code=Y, level=UnitLevel.commune, name="Xã Tịnh Khê", parent_code="51"),
        ]
    )
    s = Facility(id=uuid7(), code="51C01", name="TYT S", kind=FacilityKind.health_station)
    t = Facility(id=uuid7(), code="51C02", name="TYT T", kind=FacilityKind.health_station)
    session.add_all([s, t])
    await session.flush()
    world = Population(station=s.id, other=t.id)

    def person(key: str, born: dt.date, facility: Facility, *, cur: str | None = None, perm: str | None = None) -> None:
        citizen = Citizen(
            id=uuid7(),
            full_name=f"Người {key}",
            sex=Sex.female,
            date_of_birth=born,
            home_facility_id=facility.id,
            cur_commune_code=cur,
            cur_hamlet=f"Thôn {key}" if cur else None,
            perm_commune_code=perm,
            perm_hamlet=f"Xóm {key}" if perm else None,
            phone=None,
        )
        session.add(citizen)
        world.ids[key] = citizen.id

    for key, born in (("c1", dt.date(2025, 1, 10)), ("c2", dt.date(2025, 3, 1)), ("c3", dt.date(2026, 5, 1))):
        person(key, born, s, cur=X, perm=Y)  # the current address wins
    for key, born in (("a1", dt.date(1980, 1, 1)), ("a2", dt.date(1970, 1, 1)), ("a3", dt.date(1990, 1, 1))):
        person(key, born, s, cur=X)
    for key, born in (("d1", dt.date(2024, 2, 1)), ("d2", dt.date(2026, 3, 20)), ("b1", dt.date(1975, 1, 1))):
        person(key, born, s, perm=Y)
    person("u1", dt.date(1985, 1, 1), s)
    person("e1", dt.date(2025, 1, 10), t, cur=X)
    person("e2", dt.date(1960, 1, 1), t, cur=X)
    await session.flush()

    def dose(key: str, code: str, day: dt.date) -> Vaccination:
        return Vaccination(citizen_id=world.ids[key], vaccine_code=code, given_on=day, source=Source.station)

    session.add_all(
        [
            dose("c1", "HEPB0", dt.date(2025, 1, 10)),
            dose("c1", "BCG", dt.date(2025, 1, 15)),
            *(dose("c1", "DPT-VGB-HIB", dt.date(2025, m, 10)) for m in (3, 4, 5)),
            dose("c3", "HEPB0", dt.date(2026, 5, 1)),
            *(dose("d1", code, dt.date(2024, m, 1)) for code in ("DPT-VGB-HIB", "BOPV") for m in (4, 5, 6)),
        ]
    )

    def exam(key: str, day: dt.date, deleted: bool = False) -> Examination:
        removed = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if deleted else None
        return Examination(citizen_id=world.ids[key], examined_on=day, source=Source.station, deleted_at=removed)

    session.add_all(
        [
            exam("a1", dt.date(2026, 1, 10)),
            exam("a2", dt.date(2024, 1, 1)),
            exam("b1", dt.date(2026, 2, 1), deleted=True),
            exam("e2", dt.date(2026, 2, 1)),
        ]
    )
    live, closed = Account(id=uuid7(), phone="+84905700001"), Account(id=uuid7(), phone="+84905700002")
    live.status, closed.status = AccountStatus.active, AccountStatus.closed
    session.add_all([live, closed])
    await session.flush()
    session.add_all(
        [
            AccountCitizen(account_id=live.id, citizen_id=world.ids["a1"]),
            AccountCitizen(account_id=closed.id, citizen_id=world.ids["b1"]),
            Guardianship(
                guardian_citizen_id=world.ids["a1"], citizen_id=world.ids["c3"], relation="mother", source="station"
            ),
        ]
    )
    await session.flush()
    fresh = [world.ids[k] for k in ("c1", "c2", "c3", "d1", "e1")]
    await refresh(session, fresh, today=TODAY, programme=Programme())
    await refresh(session, [world.ids["d2"]], today=dt.date(2026, 4, 1), programme=Programme())
    await session.flush()
    return world


def by_code(report_communes: list[AreaCoverage]) -> dict[str | None, AreaCoverage]:
    return {area.commune_code: area for area in report_communes}


def series_of(area: AreaCoverage, year: int) -> dict[str, tuple[int, int, int]]:
    """series -> (complete, children, overdue) for one cohort."""
    cohort = next(c for c in area.cohorts if c.birth_year == year)
    return {s.series: (s.complete.numerator, s.complete.denominator, s.overdue) for s in cohort.series}


async def test_people_shares_per_commune(session: AsyncSession) -> None:
    world = await build(session)
    report = await CoverageService(session, world.station).coverage(world.station, today=TODAY)
    communes = by_code(report.communes)
    assert list(communes) == [X, Y, None]  # by code, the people without a commune last
    x, y, nowhere = communes[X], communes[Y], communes[None]
    assert (x.commune_name, x.people) == ("Xã Nghĩa Hà", 6)  # T's two people in X are not counted
    # c1, c3 (doses) and a1, a2 (examinations) have something beyond part A; c2 and a3 do not.
    assert (x.with_record.numerator, x.with_record.denominator, x.with_record.percent) == (4, 6, 66.7)
    assert x.with_account.numerator == 2  # a1 herself, c3 through her guardian a1
    assert x.checkup_12_months.numerator == 1  # a1; a2's check-up is two years old
    # b1's only examination was deleted and her account is closed.
    assert (y.people, y.with_record.numerator, y.with_account.numerator, y.checkup_12_months.numerator) == (3, 1, 0, 0)
    assert (nowhere.people, nowhere.commune_name, nowhere.with_record.numerator) == (1, None, 0)
    total = report.total
    assert (total.people, total.with_record.numerator, total.with_account.numerator) == (10, 5, 2)
    assert total.checkup_12_months.percent == 10.0


async def test_vaccination_coverage_by_birth_cohort(session: AsyncSession) -> None:
    world = await build(session)
    report = await CoverageService(session, world.station).coverage(world.station, today=TODAY, cohort_years=3)
    x, y = by_code(report.communes)[X], by_code(report.communes)[Y]
    assert [c.birth_year for c in x.cohorts] == [2026, 2025, 2024]
    assert [c.children for c in x.cohorts] == [1, 2, 0]  # e1 (2025, station T) is not one of them
    born_2025 = series_of(x, 2025)
    assert born_2025["DPT-VGB-HIB"] == (1, 2, 1)  # c1 complete, c2 overdue
    # c2 is past the BCG window: no row, still in the denominator, not counted overdue any more.
    assert born_2025["BCG"] == (1, 2, 0)
    assert born_2025["BOPV"] == (0, 2, 2)
    assert born_2025["JE"] == (0, 2, 2)
    assert "TD" not in born_2025 and "TT" not in born_2025  # Td starts at 7; tetanus in pregnancy is not childhood
    # Only series whose first dose is due for part of the 2026 cohort by mid-June are reported for it.
    assert list(series_of(x, 2026)) == ["HEPB0", "BCG", "DPT-VGB-HIB", "BOPV", "IPV"]
    assert series_of(x, 2026)["BCG"] == (0, 1, 1)
    nobody = next(c for c in x.cohorts if c.birth_year == 2024)
    assert all(s.complete.percent is None for s in nobody.series)  # no children: no share, not 0 %
    assert series_of(y, 2024)["DPT-VGB-HIB"] == (1, 1, 0)
    # d2's rows were computed in April, when the birth doses were only "due": they count as overdue now.
    assert series_of(y, 2026)["HEPB0"] == (0, 1, 1)
    total_2025 = series_of(report.total, 2025)
    assert total_2025["DPT-VGB-HIB"] == (1, 2, 1)


async def test_optional_series_are_reported_where_the_province_gives_them(session: AsyncSession) -> None:
    world = await build(session)
    without = await CoverageService(session, world.station).coverage(world.station, today=TODAY)
    assert "ROTA" not in series_of(without.total, 2026)
    with_rota = Programme(optional=frozenset({"ROTA"}))
    report = await CoverageService(session, world.station, with_rota).coverage(world.station, today=TODAY)
    assert "ROTA" in series_of(report.total, 2026)


EXPECTED_OVERDUE = {
    ("c1", "BOPV"),
    ("c1", "IPV"),
    ("c1", "MEASLES"),
    ("c1", "JE"),
    ("c2", "DPT-VGB-HIB"),
    ("c2", "BOPV"),
    ("c2", "IPV"),
    ("c2", "MEASLES"),
    ("c2", "JE"),
    ("c3", "BCG"),
    ("d1", "IPV"),
    ("d1", "MEASLES"),
    ("d1", "MR"),
    ("d1", "DPT4"),
    ("d1", "JE"),
    ("d2", "HEPB0"),  # stale rows: "due" when computed in April, overdue since 20 April
    ("d2", "BCG"),
}


async def everything(service: CoverageService, station: uuid.UUID, **filters: str) -> list[OverdueItem]:
    items: list[OverdueItem] = []
    cursor = None
    while True:
        page = await service.overdue(station, today=TODAY, limit=4, cursor=cursor, **filters)
        assert len(page.items) <= 4
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


async def test_the_overdue_list_is_exactly_this_stations_overdue_children(session: AsyncSession) -> None:
    world = await build(session)
    names = {v: k for k, v in world.ids.items()}
    service = CoverageService(session, world.station)
    items = await everything(service, world.station)
    pairs = [(names[i.citizen_id], i.series) for i in items]
    assert len(pairs) == len(set(pairs))  # every row once across the pages
    assert set(pairs) == EXPECTED_OVERDUE  # not c3's upcoming 5-in-1, not complete series, not T's e1
    keys = [(i.overdue_from, i.citizen_id, i.series) for i in items]
    assert keys == sorted(keys)
    bcg = next(i for i in items if names[i.citizen_id] == "c3")
    assert (bcg.due_on, bcg.overdue_from, bcg.days_overdue, bcg.next_dose) == (
        dt.date(2026, 5, 1),
        dt.date(2026, 6, 1),
        14,
        1,
    )
    assert (bcg.full_name, bcg.commune_code, bcg.commune_name, bcg.hamlet) == ("Người c3", X, "Xã Nghĩa Hà", "Thôn c3")
    d1 = next(i for i in items if names[i.citizen_id] == "d1")
    assert (d1.commune_code, d1.hamlet) == (Y, "Xóm d1")  # the hamlet of the address the commune came from

    one_page = await service.overdue(world.station, today=TODAY, limit=100)
    assert [(i.citizen_id, i.series) for i in one_page.items] == [(i.citizen_id, i.series) for i in items]
    assert one_page.next_cursor is None


async def test_the_overdue_list_filters_by_series_and_commune(session: AsyncSession) -> None:
    world = await build(session)
    names = {v: k for k, v in world.ids.items()}
    service = CoverageService(session, world.station)
    je = await everything(service, world.station, series="JE")
    assert {names[i.citizen_id] for i in je} == {"c1", "c2", "d1"}
    assert {i.series for i in je} == {"JE"}
    in_y = await everything(service, world.station, commune=Y)
    assert {(names[i.citizen_id], i.series) for i in in_y} == {p for p in EXPECTED_OVERDUE if p[0] in ("d1", "d2")}
    assert await everything(service, world.station, commune="99999") == []


async def test_another_stations_id_is_not_found(session: AsyncSession) -> None:
    world = await build(session)
    service = CoverageService(session, world.station)
    with pytest.raises(NotFound):
        await service.coverage(world.other, today=TODAY)
    with pytest.raises(NotFound):
        await service.overdue(world.other, today=TODAY)
    theirs = await CoverageService(session, world.other).overdue(world.other, today=TODAY)
    assert {i.citizen_id for i in theirs.items} == {world.ids["e1"]}


SOME_POSITION = encode_cursor(dt.date(2026, 6, 1), uuid.UUID(int=1))


@pytest.mark.parametrize(
    "arguments",
    [
        {"limit": 0},
        {"limit": 101},
        {"series": "POLIO"},
        {"commune": "Nghĩa Hà"},
        {"cursor": "not-a-cursor"},
        {"cursor": SOME_POSITION + ".NOPE"},  # not a series
        {"cursor": SOME_POSITION},  # no series part
        {"cursor": encode_cursor(dt.datetime(2026, 6, 1, tzinfo=dt.UTC), uuid.UUID(int=1)) + ".JE"},  # a time
    ],
)
async def test_bad_list_arguments_are_invalid(session: AsyncSession, arguments: dict[str, object]) -> None:
    station = uuid7()
    with pytest.raises(Invalid):
        await CoverageService(session, station).overdue(station, today=TODAY, **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("years", [0, 17])
async def test_cohort_years_are_bounded(session: AsyncSession, years: int) -> None:
    station = uuid7()
    with pytest.raises(Invalid):
        await CoverageService(session, station).coverage(station, today=TODAY, cohort_years=years)
