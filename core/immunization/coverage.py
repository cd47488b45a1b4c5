"""A station's coverage per commune and its overdue work list (defaulter tracing), as SQL over its own people.

Definitions (README, "Coverage and overdue work list"):
- a station's people are the citizens whose ``home_facility_id`` is the station; a person's commune is the one of
  the current address, else the permanent one;
- **with a record**: something beyond the administrative part A exists, i.e. at least one non-deleted examination
  or vaccination entry. Part A alone comes from the population import and says nothing about care;
- **with an account**: the person's phone is linked to an account that is not closed, or a live guardianship (not
  revoked, child under 18) names a guardian whose phone is;
- **check-up in the last 12 months**: a non-deleted examination dated from today minus 12 months to today;
- **vaccination coverage**: per birth cohort and series, the children of the cohort whose ``immunization_due`` row
  is complete. The denominator comes from ``citizens``, not from ``immunization_due``: rows of unfinished series
  past their age window are dropped, and those children must still count as not covered;
- **overdue**: ``status = 'overdue'``, or a due/upcoming row whose ``overdue_from`` has passed. The daily sweep
  moves statuses along; the second half keeps a child on the list on a day the sweep has not run yet.

Only counts leave this module for coverage; the work list carries what the paper EPI register shows (name, date
of birth, address, the dose) and nothing else from the record.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import msgspec
from sqlalchemy import ColumnElement, Integer, and_, case, cast, exists, func, literal, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid, NotFound
from core.identity.access import MAJORITY_AGE
from core.immunization.schedule import Series, add_months
from core.immunization.service import Programme
from core.models import (
    Account,
    AccountCitizen,
    AccountStatus,
    AdminUnit,
    Citizen,
    DoseStatus,
    Examination,
    Guardianship,
    ImmunizationDue,
    Vaccination,
)
from core.pagination import check_limit, decode_cursor, encode_cursor

DEFAULT_COHORT_YEARS = 6  # children under six: the programme's infant and early-childhood series
MAX_COHORT_YEARS = 16  # Japanese encephalitis is chased to 15
_COMMUNE_CODE = re.compile(r"^[0-9]{2,5}$")


@dataclass(frozen=True, slots=True)
class Ratio:
    """A share as its two counts; ``percent`` is None when there is nobody to divide by."""

    numerator: int
    denominator: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.numerator / self.denominator, 1) if self.denominator else None


@dataclass(frozen=True, slots=True)
class SeriesCoverage:
    series: str
    complete: Ratio  # children of the cohort with the series complete / children of the cohort
    overdue: int  # children of the cohort with the series overdue today


@dataclass(frozen=True, slots=True)
class CohortCoverage:
    birth_year: int
    children: int
    series: list[SeriesCoverage]


@dataclass(frozen=True, slots=True)
class AreaCoverage:
    commune_code: str | None  # None: no commune on either address (or, for the station total, every commune)
    commune_name: str | None
    people: int
    with_record: Ratio
    with_account: Ratio
    checkup_12_months: Ratio
    cohorts: list[CohortCoverage]


@dataclass(frozen=True, slots=True)
class StationCoverage:
    facility_id: uuid.UUID
    as_of: dt.date
    schedule_version: str
    total: AreaCoverage
    communes: list[AreaCoverage]


class OverdueItem(msgspec.Struct, frozen=True):
    """One row of the work list; also the API's item (api/station/coverage.py returns it as is)."""

    citizen_id: uuid.UUID
    full_name: str
    date_of_birth: dt.date
    commune_code: str | None
    commune_name: str | None
    hamlet: str | None
    series: str
    next_dose: int | None
    due_on: dt.date | None
    overdue_from: dt.date
    days_overdue: int


@dataclass(frozen=True, slots=True)
class OverduePage:
    items: list[OverdueItem]
    next_cursor: str | None = None


@dataclass(slots=True)
class _Counts:
    """Per (commune, cohort): cohort size, and per series the complete and overdue counts."""

    children: int = 0
    complete: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    overdue: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def commune_of() -> ColumnElement[str | None]:
    return func.coalesce(Citizen.cur_commune_code, Citizen.perm_commune_code)


def is_overdue(today: dt.date) -> ColumnElement[bool]:
    """Overdue today, whether or not the daily sweep has already moved the row to ``overdue``."""
    return and_(
        ImmunizationDue.overdue_from.is_not(None),
        or_(
            ImmunizationDue.status == DoseStatus.overdue,
            and_(
                ImmunizationDue.status.in_([DoseStatus.due, DoseStatus.upcoming]),
                ImmunizationDue.overdue_from < today,
            ),
        ),
    )


class CoverageService:
    """Scoped to the caller's station: any other facility id is not found, whatever it is."""

    def __init__(self, session: AsyncSession, staff_facility_id: uuid.UUID, programme: Programme | None = None) -> None:
        self.session = session
        self.facility_id = staff_facility_id
        self.programme = programme or Programme()

    def _own(self, facility_id: uuid.UUID) -> None:
        if facility_id != self.facility_id:
            raise NotFound("no such facility", code="facility_not_found")

    def _childhood_series(self) -> list[Series]:
        """The series coverage is reported for: childhood ones the province gives (tetanus in pregnancy is not)."""
        return [
            s
            for s in self.programme.version.series
            if not s.pregnancy_only and (not s.optional or s.code in self.programme.optional)
        ]

    # -- coverage ---------------------------------------------------------------------------------------------
    async def coverage(
        self, facility_id: uuid.UUID, *, today: dt.date, cohort_years: int = DEFAULT_COHORT_YEARS
    ) -> StationCoverage:
        self._own(facility_id)
        if not 1 <= cohort_years <= MAX_COHORT_YEARS:
            raise Invalid(f"cohort_years must be 1..{MAX_COHORT_YEARS}", code="bad_cohort_years", field="cohort_years")
        people = await self._people_by_commune(today)
        cohorts = await self._cohorts(today, today.year - cohort_years + 1)
        years = list(range(today.year, today.year - cohort_years, -1))  # youngest cohort first
        areas = [
            AreaCoverage(
                commune_code=code,
                commune_name=name,
                people=total,
                with_record=Ratio(with_record, total),
                with_account=Ratio(with_account, total),
                checkup_12_months=Ratio(checkup, total),
                cohorts=self._cohort_rows(years, cohorts.get(code, {}), today),
            )
            for code, name, total, with_record, with_account, checkup in people
        ]
        return StationCoverage(
            facility_id=facility_id,
            as_of=today,
            schedule_version=self.programme.version.code,
            total=self._station_total(areas, years, cohorts, today),
            communes=areas,
        )

    async def _people_by_commune(self, today: dt.date) -> list[tuple[str | None, str | None, int, int, int, int]]:
        """One GROUP BY over the station's people; each share is a FILTER over correlated EXISTS (indexed)."""
        examinations = exists().where(Examination.citizen_id == Citizen.id, Examination.deleted_at.is_(None))
        vaccinations = exists().where(Vaccination.citizen_id == Citizen.id, Vaccination.deleted_at.is_(None))
        recent = exists().where(
            Examination.citizen_id == Citizen.id,
            Examination.deleted_at.is_(None),
            Examination.examined_on >= add_months(today, -12),
            Examination.examined_on <= today,
        )
        own_account = exists().where(
            AccountCitizen.citizen_id == Citizen.id,
            Account.id == AccountCitizen.account_id,
            Account.status != AccountStatus.closed,
        )
        guardian_account = exists().where(
            Guardianship.citizen_id == Citizen.id,
            Guardianship.revoked_at.is_(None),
            # The same end as the access rule's: the link lapses by itself on the 18th birthday.
            Citizen.date_of_birth + text(f"interval '{MAJORITY_AGE} years'") > today,
            AccountCitizen.citizen_id == Guardianship.guardian_citizen_id,
            Account.id == AccountCitizen.account_id,
            Account.status != AccountStatus.closed,
        )
        commune = commune_of().label("commune")
        counted = (
            select(
                commune,
                func.count().label("people"),
                func.count().filter(or_(examinations, vaccinations)).label("with_record"),
                func.count().filter(or_(own_account, guardian_account)).label("with_account"),
                func.count().filter(recent).label("checkup"),
            )
            .where(Citizen.home_facility_id == self.facility_id)
            .group_by(commune)
            .subquery()
        )
        rows = await self.session.execute(
            select(
                counted.c.commune,
                AdminUnit.name,
                counted.c.people,
                counted.c.with_record,
                counted.c.with_account,
                counted.c.checkup,
            )
            .outerjoin(AdminUnit, AdminUnit.code == counted.c.commune)
            .order_by(counted.c.commune.asc().nulls_last())
        )
        return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    async def _cohorts(self, today: dt.date, first_year: int) -> dict[str | None, dict[int, _Counts]]:
        """Cohort sizes from ``citizens`` and series counts from ``immunization_due``: two GROUP BY queries."""
        commune = commune_of().label("commune")
        year = cast(func.extract("year", Citizen.date_of_birth), Integer).label("birth_year")
        in_cohorts = (
            Citizen.home_facility_id == self.facility_id,
            Citizen.date_of_birth >= dt.date(first_year, 1, 1),
            Citizen.date_of_birth <= today,
        )
        counts: dict[str | None, dict[int, _Counts]] = defaultdict(lambda: defaultdict(_Counts))
        sizes = await self.session.execute(
            select(commune, year, func.count()).where(*in_cohorts).group_by(commune, year)
        )
        for code, birth_year, children in sizes:
            counts[code][birth_year].children = children
        series = await self.session.execute(
            select(
                commune,
                year,
                ImmunizationDue.series,
                func.count().filter(ImmunizationDue.status == DoseStatus.complete),
                func.count().filter(is_overdue(today)),
            )
            .join(ImmunizationDue, ImmunizationDue.citizen_id == Citizen.id)
            .where(*in_cohorts, ImmunizationDue.series.in_([s.code for s in self._childhood_series()]))
            .group_by(commune, year, ImmunizationDue.series)
        )
        for code, birth_year, name, complete, overdue in series:
            counts[code][birth_year].complete[name] = complete
            counts[code][birth_year].overdue[name] = overdue
        return counts

    def _cohort_rows(self, years: list[int], counts: dict[int, _Counts], today: dt.date) -> list[CohortCoverage]:
        rows = []
        for year in years:
            cohort = counts.get(year) or _Counts()
            # A series is reported for a cohort once its first dose is due for the cohort's oldest children:
            # "0 of 40 have Td" for babies would read as a failure when nothing is due yet.
            started = [s for s in self._childhood_series() if s.doses[0].age.after(dt.date(year, 1, 1)) <= today]
            rows.append(
                CohortCoverage(
                    birth_year=year,
                    children=cohort.children,
                    series=[
                        SeriesCoverage(
                            series=s.code,
                            complete=Ratio(cohort.complete.get(s.code, 0), cohort.children),
                            overdue=cohort.overdue.get(s.code, 0),
                        )
                        for s in started
                    ],
                )
            )
        return rows

    def _station_total(
        self,
        areas: list[AreaCoverage],
        years: list[int],
        cohorts: dict[str | None, dict[int, _Counts]],
        today: dt.date,
    ) -> AreaCoverage:
        # Every person is in exactly one commune group, so the station's figures are sums of the communes'.
        merged: dict[int, _Counts] = defaultdict(_Counts)
        for by_year in cohorts.values():
            for year, part in by_year.items():
                merged[year].children += part.children
                for code, n in part.complete.items():
                    merged[year].complete[code] += n
                for code, n in part.overdue.items():
                    merged[year].overdue[code] += n
        people = sum(a.people for a in areas)
        return AreaCoverage(
            commune_code=None,
            commune_name=None,
            people=people,
            with_record=Ratio(sum(a.with_record.numerator for a in areas), people),
            with_account=Ratio(sum(a.with_account.numerator for a in areas), people),
            checkup_12_months=Ratio(sum(a.checkup_12_months.numerator for a in areas), people),
            cohorts=self._cohort_rows(years, merged, today),
        )

    # -- the overdue work list --------------------------------------------------------------------------------
    async def overdue(
        self,
        facility_id: uuid.UUID,
        *,
        today: dt.date,
        limit: int = 50,
        cursor: str | None = None,
        series: str | None = None,
        commune: str | None = None,
    ) -> OverduePage:
        """Oldest overdue first, then by person; keyset on (overdue_from, citizen, series)."""
        self._own(facility_id)
        check_limit(limit)
        codes = {s.code for s in self.programme.version.series}
        if series is not None and series not in codes:
            raise Invalid("unknown series", code="bad_series", field="series")
        if commune is not None and not _COMMUNE_CODE.match(commune):
            raise Invalid("a commune is given by its code", code="bad_commune", field="commune")
        place = commune_of()
        # The hamlet of the same address the commune came from, so the two never disagree.
        hamlet = case((Citizen.cur_commune_code.is_not(None), Citizen.cur_hamlet), else_=Citizen.perm_hamlet)
        query = (
            select(
                Citizen.id,
                Citizen.full_name,
                Citizen.date_of_birth,
                place.label("commune"),
                AdminUnit.name,
                hamlet.label("hamlet"),
                ImmunizationDue.series,
                ImmunizationDue.next_dose,
                ImmunizationDue.due_on,
                ImmunizationDue.overdue_from,
            )
            .join(ImmunizationDue, ImmunizationDue.citizen_id == Citizen.id)
            .outerjoin(AdminUnit, AdminUnit.code == place)
            .where(Citizen.home_facility_id == self.facility_id, is_overdue(today))
        )
        if series is not None:
            query = query.where(ImmunizationDue.series == series)
        if commune is not None:
            query = query.where(place == commune)
        if cursor:
            after = _decode(cursor, codes)
            query = query.where(
                tuple_(ImmunizationDue.overdue_from, ImmunizationDue.citizen_id, ImmunizationDue.series)
                > tuple_(*(literal(value) for value in after))
            )
        query = query.order_by(ImmunizationDue.overdue_from, ImmunizationDue.citizen_id, ImmunizationDue.series)
        rows = list((await self.session.execute(query.limit(limit + 1))).all())
        more = len(rows) > limit
        items = [
            OverdueItem(
                citizen_id=r[0],
                full_name=r[1],
                date_of_birth=r[2],
                commune_code=r[3],
                commune_name=r[4],
                hamlet=r[5],
                series=r[6],
                next_dose=r[7],
                due_on=r[8],
                overdue_from=r[9],
                days_overdue=(today - r[9]).days,
            )
            for r in rows[:limit]
        ]
        last = items[-1] if items else None
        return OverduePage(items, _encode(last.overdue_from, last.citizen_id, last.series) if more and last else None)


def _encode(overdue_from: dt.date, citizen_id: uuid.UUID, series: str) -> str:
    # A child is often overdue for several series from the same day (5-in-1 and oral polio go together), so the
    # shared (date, id) cursor is not a unique position here: the series code rides along after a dot, a
    # character the cursor's URL-safe base64 never contains.
    return f"{encode_cursor(overdue_from, citizen_id)}.{series}"


def _decode(cursor: str, codes: set[str]) -> tuple[dt.date, uuid.UUID, str]:
    token, _, series = cursor.partition(".")
    day, citizen_id = decode_cursor(token)
    if isinstance(day, dt.datetime) or series not in codes:
        raise Invalid("the cursor is not one this server gave out", code="bad_cursor", field="cursor")
    return day, citizen_id, series


__all__ = [
    "AreaCoverage",
    "CohortCoverage",
    "CoverageService",
    "OverdueItem",
    "OverduePage",
    "Ratio",
    "SeriesCoverage",
    "StationCoverage",
    "is_overdue",
]
