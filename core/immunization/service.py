"""Applying the schedule engine to people in the database.

``schedule_for`` answers the app (computed live from the doses recorded). ``refresh`` keeps ``immunization_due``
(one row per citizen and series) in step with the engine: it runs in the transaction that records a dose or a
pregnancy, and the worker's daily sweep runs ``refresh_population`` so that statuses move along with the calendar
(upcoming → due → overdue) even when nothing is written. Cohorts, coverage and the overdue work list read that
table with plain SQL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.immunization.schedule import TT10_2024, ScheduleVersion, SeriesState, Status, add_months, evaluate
from core.models import Citizen, DoseStatus, ImmunizationDue, Reproductive, Sex, Vaccination
from core.settings import Settings

CURRENT = TT10_2024
# Everyone younger than the oldest age any series is chased to, plus anyone with a pregnancy on record.
SCOPE_MONTHS = max(s.until.months for s in CURRENT.series if s.until is not None)
# A pregnancy counts from the expected delivery date back ~10 months, and a little past it (late deliveries).
PREGNANCY_MONTHS = 10
PREGNANCY_OVERRUN = dt.timedelta(days=21)


@dataclass(frozen=True, slots=True)
class Programme:
    """Which schedule applies, and which optional series (PHR_IMMUNIZATION_OPTIONAL_SERIES) the province gives."""

    version: ScheduleVersion = CURRENT
    optional: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> Programme:
        return cls(optional=settings.optional_series)


def is_pregnant(expected_delivery_on: dt.date | None, today: dt.date) -> bool:
    if expected_delivery_on is None:
        return False
    return today <= expected_delivery_on + PREGNANCY_OVERRUN and expected_delivery_on <= add_months(
        today, PREGNANCY_MONTHS
    )


@dataclass(frozen=True, slots=True)
class _Person:
    id: uuid.UUID
    birth: dt.date
    sex: Sex
    expected_delivery_on: dt.date | None


async def _people(session: AsyncSession, citizen_ids: Sequence[uuid.UUID]) -> list[_Person]:
    rows = await session.execute(
        select(Citizen.id, Citizen.date_of_birth, Citizen.sex, Reproductive.expected_delivery_on)
        .outerjoin(Reproductive, Reproductive.citizen_id == Citizen.id)
        .where(Citizen.id.in_(citizen_ids))
    )
    return [_Person(r.id, r.date_of_birth, r.sex, r.expected_delivery_on) for r in rows]


async def _doses(session: AsyncSession, citizen_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[tuple[str, dt.date]]]:
    rows = await session.execute(
        select(Vaccination.citizen_id, Vaccination.vaccine_code, Vaccination.given_on).where(
            Vaccination.citizen_id.in_(citizen_ids),
            Vaccination.given_on.is_not(None),
            Vaccination.deleted_at.is_(None),
        )
    )
    doses: dict[uuid.UUID, list[tuple[str, dt.date]]] = defaultdict(list)
    for row in rows:
        doses[row.citizen_id].append((row.vaccine_code, row.given_on))
    return doses


def _evaluate(
    person: _Person, given: list[tuple[str, dt.date]], today: dt.date, programme: Programme
) -> list[SeriesState]:
    pregnant = is_pregnant(person.expected_delivery_on, today)
    return evaluate(
        programme.version,
        birth_date=person.birth,
        sex=person.sex.value,
        pregnant=pregnant,
        given=given,
        today=today,
        optional=programme.optional,
        delivery_on=person.expected_delivery_on if pregnant else None,
    )


async def schedule_for(
    session: AsyncSession, citizen_id: uuid.UUID, *, today: dt.date, programme: Programme
) -> list[SeriesState]:
    people = await _people(session, [citizen_id])
    if not people:
        return []
    doses = await _doses(session, [citizen_id])
    return _evaluate(people[0], doses.get(citizen_id, []), today, programme)


async def refresh(
    session: AsyncSession, citizen_ids: Sequence[uuid.UUID], *, today: dt.date, programme: Programme
) -> int:
    """Rewrite the ``immunization_due`` rows of these citizens from the engine; returns the rows written."""
    if not citizen_ids:
        return 0
    people = await _people(session, citizen_ids)
    doses = await _doses(session, citizen_ids)
    rows = [
        {
            "citizen_id": person.id,
            "series": state.series,
            "schedule_version": programme.version.code,
            "doses_counted": len(state.counted),
            "too_early": len(state.too_early),
            "next_dose": state.next_dose,
            "due_on": state.due_on,
            "overdue_from": state.overdue_from,
            "status": DoseStatus(state.status.value),
            "computed_on": today,
        }
        for person in people
        for state in _evaluate(person, doses.get(person.id, []), today, programme)
    ]
    await session.execute(delete(ImmunizationDue).where(ImmunizationDue.citizen_id.in_(citizen_ids)))
    if rows:
        # executemany, not one multi-row VALUES: compiling a 5,000-row VALUES statement costs more than the engine.
        await session.execute(insert(ImmunizationDue), rows)
    return len(rows)


async def refresh_population(
    sessionmaker: async_sessionmaker[AsyncSession], *, today: dt.date, programme: Programme, batch: int = 5000
) -> int:
    """Refresh everyone the programme may still chase, in batches of their own transactions (keyset by id).

    People who aged out of every series keep only what they completed; their other rows are removed at the end.
    """
    cutoff = add_months(today, -SCOPE_MONTHS)
    in_scope = (
        select(Citizen.id)
        .outerjoin(Reproductive, Reproductive.citizen_id == Citizen.id)
        .where((Citizen.date_of_birth > cutoff) | Reproductive.expected_delivery_on.is_not(None))
        .order_by(Citizen.id)
        .limit(batch)
    )
    written = 0
    last: uuid.UUID | None = None
    while True:
        async with sessionmaker() as session, session.begin():
            page = in_scope if last is None else in_scope.where(Citizen.id > last)
            ids = list((await session.scalars(page)).all())
            if not ids:
                break
            written += await refresh(session, ids, today=today, programme=programme)
            last = ids[-1]
    async with sessionmaker() as session, session.begin():
        aged_out = (
            select(Citizen.id)
            .outerjoin(Reproductive, Reproductive.citizen_id == Citizen.id)
            .where(Citizen.date_of_birth <= cutoff, Reproductive.expected_delivery_on.is_(None))
        )
        await session.execute(
            delete(ImmunizationDue).where(
                ImmunizationDue.citizen_id.in_(aged_out), ImmunizationDue.status != DoseStatus.complete
            )
        )
        # The whole table was just rewritten and the sweep's INSERT … SELECTs read it next: plan them on its new
        # contents, not on whatever autovacuum last saw.
        await session.execute(text("ANALYZE immunization_due"))
    return written


__all__ = ["CURRENT", "Programme", "Status", "is_pregnant", "refresh", "refresh_population", "schedule_for"]
