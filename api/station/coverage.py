"""A station's coverage per commune and its overdue vaccination work list, for its own area only.

Another facility's id is 404 like any other object that is not the caller's. Coverage is counts only; the work
list carries the fields of the paper EPI register (name, date of birth, commune and hamlet, the dose) and no
phone number or other record content.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import ClinicianPrincipal
from api.deps import programme_of
from api.errors import problem_spec
from core.immunization.coverage import DEFAULT_COHORT_YEARS, AreaCoverage, CoverageService, OverdueItem, Ratio
from core.immunization.schedule import SERIES_NAMES
from core.outbox import local_date


class RatioOut(msgspec.Struct):
    numerator: int
    denominator: int
    percent: float | None  # rounded to 0.1; null when the denominator is 0


class SeriesCoverageOut(msgspec.Struct):
    series: str
    name_vi: str
    name_en: str
    complete: RatioOut  # children with the series complete / children of the cohort
    overdue: int  # children of the cohort overdue for it today


class CohortOut(msgspec.Struct):
    birth_year: int
    children: int
    series: list[SeriesCoverageOut]  # the series whose first dose is due for at least part of the cohort


class AreaOut(msgspec.Struct):
    commune_code: str | None
    commune_name: str | None
    people: int
    with_record: RatioOut  # something beyond part A: an examination or a vaccination on record
    with_account: RatioOut  # own linked account, or a guardian's
    checkup_12_months: RatioOut  # an examination in the last 12 months
    cohorts: list[CohortOut]


class CoverageOut(msgspec.Struct):
    facility_id: uuid.UUID
    as_of: dt.date
    schedule_version: str
    total: AreaOut
    communes: list[AreaOut]  # commune_code null: people with no commune on either address


class OverduePageOut(msgspec.Struct):
    items: list[OverdueItem]
    next_cursor: str | None


def _ratio(ratio: Ratio) -> RatioOut:
    return RatioOut(ratio.numerator, ratio.denominator, ratio.percent)


def _area(area: AreaCoverage) -> AreaOut:
    return AreaOut(
        commune_code=area.commune_code,
        commune_name=area.commune_name,
        people=area.people,
        with_record=_ratio(area.with_record),
        with_account=_ratio(area.with_account),
        checkup_12_months=_ratio(area.checkup_12_months),
        cohorts=[
            CohortOut(
                birth_year=c.birth_year,
                children=c.children,
                series=[
                    SeriesCoverageOut(
                        series=s.series,
                        name_vi=SERIES_NAMES.get(s.series, (s.series, s.series))[0],
                        name_en=SERIES_NAMES.get(s.series, (s.series, s.series))[1],
                        complete=_ratio(s.complete),
                        overdue=s.overdue,
                    )
                    for s in c.series
                ],
            )
            for c in area.cohorts
        ],
    )


class StationCoverageController(Controller):
    path = "/facilities/{facility_id:uuid}"
    tags = ["station"]  # noqa: RUF012 - Litestar reads the class attribute

    @get(
        "/coverage",
        summary="Per commune: people with a record, an account, a check-up; vaccination by cohort",
        responses={422: problem_spec("Parameters the report cannot use")},
    )
    async def coverage(
        self,
        request: Request[Any, Any, Any],
        facility_id: FromPath[uuid.UUID],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
        cohort_years: FromQuery[int] = DEFAULT_COHORT_YEARS,
    ) -> CoverageOut:
        report = await CoverageService(db_session, staff.facility_id, programme_of(request)).coverage(
            facility_id, today=local_date(dt.datetime.now(dt.UTC)), cohort_years=cohort_years
        )
        return CoverageOut(
            facility_id=report.facility_id,
            as_of=report.as_of,
            schedule_version=report.schedule_version,
            total=_area(report.total),
            communes=[_area(a) for a in report.communes],
        )

    @get("/overdue", summary="Overdue vaccinations of this station's people, longest overdue first")
    async def overdue(
        self,
        request: Request[Any, Any, Any],
        facility_id: FromPath[uuid.UUID],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
        limit: FromQuery[int] = 50,
        cursor: FromQuery[str | None] = None,
        series: FromQuery[str | None] = None,
        commune: FromQuery[str | None] = None,
    ) -> OverduePageOut:
        page = await CoverageService(db_session, staff.facility_id, programme_of(request)).overdue(
            facility_id,
            today=local_date(dt.datetime.now(dt.UTC)),
            limit=limit,
            cursor=cursor,
            series=series,
            commune=commune,
        )
        return OverduePageOut(
            items=page.items,
            next_cursor=page.next_cursor,
        )


ROUTES = [StationCoverageController]
