"""Cohort filters: which of a station's people a campaign (and later the reminder sweep, coverage) is about.

A filter is data (a msgspec Struct, stored as JSONB on the campaign) and becomes one SQL ``SELECT`` of a single
``citizen_id`` column, so launching a campaign to 100,000 people is one ``INSERT … SELECT`` and never a list in
Python. Every criterion is ANDed with the station's own people (``citizens.home_facility_id``), the same scope as
link requests, guardianships and corrections: a station cannot reach another station's population by any filter.

Conditions are chosen by ICD-10 prefix, and a prefix that is inside, or wider than, an excluded category (HIV,
drug use; ``core/records/exclusion.py``) is refused: a campaign must never single those people out.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Literal

import msgspec
from sqlalchemy import Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid
from core.immunization.schedule import TT10_2024, add_months
from core.immunization.service import PREGNANCY_MONTHS, PREGNANCY_OVERRUN
from core.models import (
    AdminUnit,
    Citizen,
    Condition,
    DoseStatus,
    Examination,
    Household,
    ImmunizationDue,
    Reproductive,
    Sex,
    UnitLevel,
)
from core.records.exclusion import CODE_RULES, DEFAULT_POLICY, Hit

SERIES_CODES = frozenset(series.code for series in TT10_2024.series)
SERIES_STATUSES: dict[str, tuple[DoseStatus, ...]] = {
    "due": (DoseStatus.due,),
    "overdue": (DoseStatus.overdue,),
    "due_or_overdue": (DoseStatus.due, DoseStatus.overdue),
}

CommuneCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{5}$", description="a commune's 5-digit code")]
Years = Annotated[int, msgspec.Meta(ge=0, le=130)]
# A whole ICD-10 category at least (letter + two digits), optionally narrowed: "E11", "I10", "E11.9", "Z720".
IcdPrefix = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z][0-9]{2}(\.?[0-9A-Za-z]{1,4})?$")]


class CohortFilter(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Who a campaign is for. Every field is optional; the ones given must all hold (AND)."""

    communes: Annotated[list[CommuneCode], msgspec.Meta(min_length=1, max_length=50)] | None = None
    age_min_years: Years | None = None  # age on the send date
    age_max_years: Years | None = None
    sex: Literal["male", "female"] | None = None
    series: Annotated[str, msgspec.Meta(max_length=20, description="e.g. DPT-VGB-HIB")] | None = None
    series_status: Literal["due", "overdue", "due_or_overdue"] | None = None  # default: due_or_overdue
    condition: IcdPrefix | None = None
    pregnant: bool | None = None  # false: only people who are not pregnant
    last_checkup_older_than_months: Annotated[int, msgspec.Meta(ge=1, le=240)] | None = None  # never examined too
    household: Annotated[str, msgspec.Meta(min_length=1, max_length=20)] | None = None  # household code


def normalise_icd(code: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", code.upper())


def excluded_condition(prefix: str) -> Hit | None:
    """The exclusion rule a condition prefix would reach, if any.

    Both directions: "B20.1" lies inside an excluded category, and "Z20" is wider than the excluded Z20.6 (contact
    with HIV). The second is refused too, on the safe side: the station can name the narrower code it means.
    """
    hit = DEFAULT_POLICY.check_code(prefix)
    if hit is not None:
        return hit
    wanted = normalise_icd(prefix)
    for rule in CODE_RULES:
        if any(excluded.startswith(wanted) for excluded in rule.prefixes):
            return Hit(rule.rule_id, rule.category)
    return None


def check_filter(cohort: CohortFilter) -> None:
    """The rules a Struct cannot express; the exclusion check is the caller's (it leaves a receipt)."""
    if (
        cohort.age_min_years is not None
        and cohort.age_max_years is not None
        and cohort.age_min_years > cohort.age_max_years
    ):
        raise Invalid("the minimum age is above the maximum", code="bad_age_range", field="cohort.age_max_years")
    if cohort.series is not None and cohort.series not in SERIES_CODES:
        raise Invalid("not a series of the immunization schedule", code="unknown_series", field="cohort.series")
    if cohort.series_status is not None and cohort.series is None:
        raise Invalid("a series status needs a series", code="series_status_without_series", field="cohort.series")


async def check_communes(session: AsyncSession, cohort: CohortFilter) -> None:
    """Every code given is a commune (not a district, not unknown): a typo would silently target nobody."""
    if not cohort.communes:
        return
    wanted = set(cohort.communes)
    found = set(
        (
            await session.scalars(
                select(AdminUnit.code).where(AdminUnit.code.in_(wanted), AdminUnit.level == UnitLevel.commune)
            )
        ).all()
    )
    if wanted - found:
        raise Invalid("not a commune code", code="unknown_commune", field="cohort.communes")


def cohort_select(cohort: CohortFilter, facility_id: uuid.UUID, today: dt.date) -> Select[tuple[uuid.UUID]]:
    """One row (``citizen_id``) per person of the facility the filter selects, as of ``today`` (the send date)."""
    person = Citizen.id
    query = select(person.label("citizen_id")).where(Citizen.home_facility_id == facility_id)
    if cohort.communes:
        # Where the person lives now; the registered (permanent) address when the current one is not known.
        query = query.where(func.coalesce(Citizen.cur_commune_code, Citizen.perm_commune_code).in_(cohort.communes))
    if cohort.age_min_years is not None:
        query = query.where(Citizen.date_of_birth <= add_months(today, -12 * cohort.age_min_years))
    if cohort.age_max_years is not None:
        query = query.where(Citizen.date_of_birth > add_months(today, -12 * (cohort.age_max_years + 1)))
    if cohort.sex is not None:
        query = query.where(Citizen.sex == Sex(cohort.sex))
    if cohort.series is not None:
        statuses = SERIES_STATUSES[cohort.series_status or "due_or_overdue"]
        query = query.where(
            exists().where(
                ImmunizationDue.citizen_id == person,
                ImmunizationDue.series == cohort.series,
                ImmunizationDue.status.in_(statuses),
            )
        )
    if cohort.condition is not None:
        code = func.upper(func.regexp_replace(Condition.icd10, "[^A-Za-z0-9]", "", "g"))
        query = query.where(
            exists().where(
                Condition.citizen_id == person,
                Condition.deleted_at.is_(None),
                code.startswith(normalise_icd(cohort.condition), autoescape=True),
            )
        )
    if cohort.pregnant is not None:
        # The same window as core.immunization.service.is_pregnant, as bounds on the expected delivery date.
        pregnant = exists().where(
            Reproductive.citizen_id == person,
            Reproductive.expected_delivery_on >= today - PREGNANCY_OVERRUN,
            Reproductive.expected_delivery_on <= add_months(today, PREGNANCY_MONTHS),
        )
        query = query.where(pregnant if cohort.pregnant else ~pregnant)
    if cohort.last_checkup_older_than_months is not None:
        since = add_months(today, -cohort.last_checkup_older_than_months)
        query = query.where(
            ~exists().where(
                Examination.citizen_id == person,
                Examination.deleted_at.is_(None),
                Examination.examined_on > since,
            )
        )
    if cohort.household is not None:
        query = query.where(Citizen.household_id.in_(select(Household.id).where(Household.code == cohort.household)))
    return query


__all__ = ["CohortFilter", "check_communes", "check_filter", "cohort_select", "excluded_condition"]
