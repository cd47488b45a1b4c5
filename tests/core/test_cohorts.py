"""Cohort filters as SQL: each criterion, the station's own people only, and no excluded category ever."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.cohorts import CohortFilter, check_communes, check_filter, cohort_select, excluded_condition
from core.errors import Invalid
from core.ids import uuid7
from core.immunization.service import Programme, refresh
from core.models import (
    AdminUnit,
    Citizen,
    Condition,
    DoseStatus,
    Examination,
    Facility,
    FacilityKind,
    Household,
    ImmunizationDue,
    Reproductive,
    Sex,
    Source,
    UnitLevel,
)

TODAY = dt.date(2026, 11, 23)


class World:
    def __init__(self) -> None:
        self.ids: dict[str, uuid.UUID] = {}
        self.mine = uuid7()
        self.theirs = uuid7()

    def names(self, ids: set[uuid.UUID]) -> set[str]:
        return {name for name, value in self.ids.items() if value in ids}


def years_ago(years: int, days: int = 0) -> dt.date:
    return TODAY.replace(year=TODAY.year - years) - dt.timedelta(days=days)


async def build(session: AsyncSession) -> World:
    world = World()
    session.add_all(
        [
            AdminUnit(code="59", level=UnitLevel.province, name="Tỉnh thử"),
            AdminUnit(code="591", level=UnitLevel.district, name="Huyện thử", parent_code="59"),
            AdminUnit(code="59101", level=UnitLevel.commune, name="Xã Một", parent_code="591"),
            AdminUnit(code="59102", level=UnitLevel.commune, name="Xã Hai", parent_code="591"),
        ]
    )
    await session.flush()
    session.add_all(
        [
            Facility(id=world.mine, code="59C01", name="TYT Một", kind=FacilityKind.health_station),
            Facility(id=world.theirs, code="59C02", name="TYT Hai", kind=FacilityKind.health_station),
        ]
    )
    household = Household(id=uuid7(), code="HGD59101001", commune_code="59101")
    session.add(household)
    await session.flush()

    def person(key: str, born: dt.date, sex: Sex = Sex.female, *, facility: uuid.UUID | None = None, **extra: object):  # type: ignore[no-untyped-def]
        citizen = Citizen(
            id=uuid7(),
            full_name=f"Người {key}",
            sex=sex,
            date_of_birth=born,
            home_facility_id=facility or world.mine,
            **extra,
        )
        world.ids[key] = citizen.id
        return citizen

    session.add_all(
        [
            person("adult_f", years_ago(30), cur_commune_code="59101", household_id=household.id),
            person("adult_m", years_ago(45), Sex.male, cur_commune_code="59102", perm_commune_code="59101"),
            person("old_m", years_ago(70), Sex.male, perm_commune_code="59102"),  # no current address
            person("turns_18_today", years_ago(18), Sex.male, household_id=household.id),
            person("turns_18_tomorrow", years_ago(18, days=-1), Sex.male),
            person("baby_due", TODAY - dt.timedelta(days=70)),  # DPT-VGB-Hib 1: due from 2 months
            person("baby_overdue", TODAY - dt.timedelta(days=150)),  # … and overdue from 3
            person("newborn", TODAY - dt.timedelta(days=20)),  # nothing due yet but the birth doses
            person("pregnant", years_ago(26)),
            person("delivered_long_ago", years_ago(28)),
            # Another station's person who matches every filter below: she must never appear.
            person(
                "other_station",
                years_ago(30),
                facility=world.theirs,
                cur_commune_code="59101",
                household_id=household.id,
            ),
        ]
    )
    await session.flush()
    ids = world.ids
    session.add_all(
        [
            Condition(citizen_id=ids["adult_m"], kind="hypertension", icd10="I10", source=Source.clinician),
            Condition(citizen_id=ids["old_m"], kind="diabetes", icd10="e11.9", source=Source.clinician),
            Condition(
                citizen_id=ids["adult_f"],
                kind="diabetes",
                icd10="E11",
                source=Source.clinician,
                deleted_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),  # removed: no longer counts
            ),
            Condition(citizen_id=ids["other_station"], kind="diabetes", icd10="E11", source=Source.clinician),
            Examination(citizen_id=ids["adult_m"], examined_on=TODAY - dt.timedelta(days=60), source=Source.station),
            Examination(citizen_id=ids["old_m"], examined_on=TODAY - dt.timedelta(days=500), source=Source.station),
            Reproductive(
                citizen_id=ids["pregnant"],
                expected_delivery_on=TODAY + dt.timedelta(days=100),
                source=Source.station,
            ),
            Reproductive(
                citizen_id=ids["delivered_long_ago"],
                expected_delivery_on=TODAY - dt.timedelta(days=60),
                source=Source.station,
            ),
            Reproductive(
                citizen_id=ids["other_station"], expected_delivery_on=TODAY + dt.timedelta(days=30), source=Source.self
            ),
        ]
    )
    await session.flush()
    await refresh(session, list(ids.values()), today=TODAY, programme=Programme())
    return world


async def run(session: AsyncSession, world: World, **criteria: object) -> set[str]:
    cohort = msgspec.convert(criteria, CohortFilter)
    check_filter(cohort)
    found = set((await session.scalars(cohort_select(cohort, world.mine, TODAY))).all())
    return world.names(found)


async def test_no_criteria_means_all_of_the_stations_people_and_nobody_else(session: AsyncSession) -> None:
    world = await build(session)
    assert await run(session, world) == set(world.ids) - {"other_station"}
    theirs = set((await session.scalars(cohort_select(CohortFilter(), world.theirs, TODAY))).all())
    assert world.names(theirs) == {"other_station"}, "each station sees its own"


async def test_communes_use_the_current_address_then_the_registered_one(session: AsyncSession) -> None:
    world = await build(session)
    assert await run(session, world, communes=["59101"]) == {"adult_f"}
    assert await run(session, world, communes=["59102"]) == {"adult_m", "old_m"}
    assert await run(session, world, communes=["59101", "59102"]) == {"adult_f", "adult_m", "old_m"}


async def test_commune_codes_must_be_communes(session: AsyncSession) -> None:
    await build(session)
    await check_communes(session, CohortFilter(communes=["59101", "59102"]))
    for codes in (["59101", "59199"], ["591"]):  # unknown; a district
        with pytest.raises(Invalid) as refused:
            await check_communes(session, CohortFilter(communes=codes))
        assert refused.value.code == "unknown_commune"


async def test_ages_are_taken_on_the_send_date(session: AsyncSession) -> None:
    world = await build(session)
    assert await run(session, world, age_min_years=18, age_max_years=18) == {"turns_18_today"}
    assert await run(session, world, age_min_years=60) == {"old_m"}
    assert await run(session, world, age_max_years=0) == {"baby_due", "baby_overdue", "newborn"}
    assert await run(session, world, age_min_years=18, age_max_years=40) == {
        "adult_f",
        "turns_18_today",
        "pregnant",
        "delivered_long_ago",
    }
    with pytest.raises(Invalid):
        await run(session, world, age_min_years=40, age_max_years=18)


async def test_sex(session: AsyncSession) -> None:
    world = await build(session)
    assert await run(session, world, sex="male") == {"adult_m", "old_m", "turns_18_today", "turns_18_tomorrow"}


async def test_series_due_or_overdue_from_the_immunization_table(session: AsyncSession) -> None:
    world = await build(session)
    states = dict(
        (
            await session.execute(
                select(ImmunizationDue.citizen_id, ImmunizationDue.status).where(
                    ImmunizationDue.series == "DPT-VGB-HIB"
                )
            )
        ).all()
    )
    assert states[world.ids["baby_due"]] is DoseStatus.due
    assert states[world.ids["baby_overdue"]] is DoseStatus.overdue
    assert states[world.ids["newborn"]] is DoseStatus.upcoming
    assert await run(session, world, series="DPT-VGB-HIB", series_status="due") == {"baby_due"}
    assert await run(session, world, series="DPT-VGB-HIB", series_status="overdue") == {"baby_overdue"}
    assert await run(session, world, series="DPT-VGB-HIB") == {"baby_due", "baby_overdue"}
    for bad in ({"series": "COVID"}, {"series_status": "due"}):
        with pytest.raises(Invalid):
            await run(session, world, **bad)


async def test_condition_by_icd10_prefix_ignores_removed_items(session: AsyncSession) -> None:
    world = await build(session)
    assert await run(session, world, condition="E11") == {"old_m"}, "e11.9 is under E11; adult_f's was removed"
    assert await run(session, world, condition="e11.9") == {"old_m"}
    assert await run(session, world, condition="I10") == {"adult_m"}
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"condition": "E%"}, CohortFilter)


@pytest.mark.parametrize(
    "prefix",
    ["B20", "b24.1", "Z21", "F11", "F19.2", "O98.7", "Z20", "R78", "T40", "F15"],
)
def test_excluded_categories_cannot_be_targeted(prefix: str) -> None:
    """Inside an excluded category, or wider than one (Z20 holds Z20.6, contact with HIV): both refused."""
    assert excluded_condition(prefix) is not None


@pytest.mark.parametrize("prefix", ["E11", "I10", "J45", "Z72.0", "F10", "O24"])
def test_ordinary_conditions_can_be_targeted(prefix: str) -> None:
    assert excluded_condition(prefix) is None


async def test_pregnancy_uses_the_expected_delivery_window(session: AsyncSession) -> None:
    world = await build(session)
    assert await run(session, world, pregnant=True) == {"pregnant"}
    assert "pregnant" not in await run(session, world, pregnant=False)
    assert "delivered_long_ago" in await run(session, world, pregnant=False)


async def test_last_checkup_older_than_includes_people_never_examined(session: AsyncSession) -> None:
    world = await build(session)
    stale = await run(session, world, last_checkup_older_than_months=12)
    assert "adult_m" not in stale, "examined two months ago"
    assert "old_m" in stale, "examined 500 days ago"
    assert "adult_f" in stale, "never examined"


async def test_household_by_code(session: AsyncSession) -> None:
    world = await build(session)
    assert await run(session, world, household="HGD59101001") == {"adult_f", "turns_18_today"}
    assert await run(session, world, household="HGD-NONE") == set()


async def test_criteria_combine_with_and(session: AsyncSession) -> None:
    world = await build(session)
    assert await run(session, world, sex="male", communes=["59102"], condition="E11") == {"old_m"}
    assert await run(session, world, sex="female", communes=["59102"]) == set()


def test_unknown_filter_fields_are_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"diagnosis": "E11"}, CohortFilter)
