"""Rows of the record (parts B–D) for the synthetic people: pregnancies, vaccinations, conditions, examinations
and their diagnoses. Every item says it came from the commune health station and was verified there.
"""

from __future__ import annotations

import datetime as dt
import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from bench.bulk import IdBlock
from bench.histories import CONDITIONS, ConditionSpec, child_doses, conditions_of, examination, tetanus_doses
from bench.people_rows import PeoplePlan
from bench.population import DAUGHTER_IN_LAW, HEAD, SPOUSE
from core.immunization.schedule import add_months
from core.immunization.service import SCOPE_MONTHS, Programme

_PROVENANCE = ("citizen_id", "source", "verified", "facility_id")
REPRODUCTIVE_COLUMNS = ("id", *_PROVENANCE, "expected_delivery_on", "pregnancies", "births_normal", "living_children")
VACCINATION_COLUMNS = ("id", *_PROVENANCE, "vaccine_code", "dose_number", "given_on", "not_given_reason", "place")
CONDITION_COLUMNS = ("id", *_PROVENANCE, "kind", "icd10", "detail", "since_year")
EXAMINATION_COLUMNS = (
    "id", *_PROVENANCE, "examined_on", "pulse", "bp_systolic", "bp_diastolic", "weight_kg", "height_cm", "waist_cm",
    "conclusion", "advice",
)  # fmt: skip
DIAGNOSIS_COLUMNS = ("id", *_PROVENANCE, "examination_id", "icd10", "text", "diagnosed_on", "main")
# Share of women pregnant at any moment, by age: ~1.4 % of the population is born each year.
PREGNANT = ((18, 0.0), (25, 0.07), (30, 0.09), (35, 0.065), (40, 0.035), (45, 0.01))


@dataclass
class RecordPlan:
    """What the record rows need to agree on between tables (the diagnoses follow the examinations)."""

    people: PeoplePlan
    programme: Programme
    delivery_on: dict[int, int] = field(default_factory=dict)  # pregnant person → expected delivery (ordinal)
    conditions: array[int] = field(default_factory=lambda: array("H"))  # per person, a bit per CONDITIONS entry
    examined_on: array[int] = field(default_factory=lambda: array("i"))  # per person, ordinal; 0: never examined

    def station(self, person: int) -> str:
        people = self.people.people
        return self.people.station_ids[people.hh_commune[people.household[person]]]

    def provenance(self, person: int) -> tuple[str, str, bool, str]:
        return (self.people.citizen_ids(person), "station", True, self.station(person))


def _pregnant_share(age: int) -> float:
    for limit, share in PREGNANT:
        if age < limit:
            return share
    return 0.0


def reproductive_rows(plan: RecordPlan, rng: random.Random, ids: IdBlock) -> Iterator[tuple[object, ...]]:
    """Women expecting a child now (their tetanus doses are due): married women of 18–44, by age."""
    people, today = plan.people.people, plan.people.today.toordinal()
    births = _births_by_mother(plan)
    row = 0
    for person in range(people.size):
        if people.male[person] or people.relation[person] not in (HEAD, SPOUSE, DAUGHTER_IN_LAW):
            continue
        if rng.random() >= _pregnant_share(people.age[person]):
            continue
        due = today + rng.randint(7, 280)
        plan.delivery_on[person] = due
        children = len(births.get(person, ()))
        yield (ids(row), *plan.provenance(person), dt.date.fromordinal(due), children + 1, children, children)
        row += 1


def _births_by_mother(plan: RecordPlan) -> dict[int, list[int]]:
    people = plan.people.people
    births: dict[int, list[int]] = {}
    for person, mother in enumerate(people.mother):
        if mother >= 0:
            births.setdefault(mother, []).append(people.dob[person])
    return births


def vaccination_rows(plan: RecordPlan, rng: random.Random, ids: IdBlock) -> Iterator[tuple[object, ...]]:
    """Children the programme still follows (under 15), and the pregnant women's tetanus doses."""
    people, today = plan.people.people, plan.people.today
    cutoff = add_months(today, -SCOPE_MONTHS).toordinal()
    version, optional = plan.programme.version, plan.programme.optional
    names = {station: name for station, name in _station_names(plan)}
    births = _births_by_mother(plan) if plan.delivery_on else {}
    row = 0
    for person in range(people.size):
        birth = people.dob[person]
        if birth > cutoff:
            doses = child_doses(rng, version, optional, birth, today.toordinal())
        elif person in plan.delivery_on:
            start = plan.delivery_on[person] - 280
            doses = tetanus_doses(rng, version, birth, births.get(person, []), start, today.toordinal())
        else:
            continue
        provenance = plan.provenance(person)
        place = names[provenance[3]]
        for dose in doses:
            given = None if dose.given_on is None else dt.date.fromordinal(dose.given_on)
            yield (ids(row), *provenance, dose.vaccine, dose.dose, given, dose.reason, place)
            row += 1


def _station_names(plan: RecordPlan) -> Iterator[tuple[str, str]]:
    for commune in plan.people.geography.communes:
        yield plan.people.station_ids[commune.index], commune.station_name


def condition_rows(plan: RecordPlan, rng: random.Random, ids: IdBlock) -> Iterator[tuple[object, ...]]:
    """Chronic conditions of adults, and who had a check-up lately (nearly everyone followed for one)."""
    people, today = plan.people.people, plan.people.today
    row = 0
    for person in range(people.size):
        age = people.age[person]
        found = conditions_of(rng, age, bool(people.male[person])) if age >= 18 else []
        mask = 0
        for spec in found:
            mask |= 1 << CONDITIONS.index(spec)
            since = today.year - rng.randint(0, max(0, min(15, age - 20)))
            yield (ids(row), *plan.provenance(person), spec.kind, spec.icd10, spec.detail, since)
            row += 1
        plan.conditions.append(mask)
        checkup = 0.85 if found else 0.5 if age >= 60 else 0.3 if age >= 40 else 0.1 if age >= 18 else 0.0
        plan.examined_on.append(today.toordinal() - rng.randint(1, 540) if rng.random() < checkup else 0)


def _conditions(mask: int) -> list[ConditionSpec]:
    return [spec for bit, spec in enumerate(CONDITIONS) if mask >> bit & 1]


def examination_rows(plan: RecordPlan, rng: random.Random, ids: IdBlock) -> Iterator[tuple[object, ...]]:
    people, exam = plan.people.people, 0
    for person, day in enumerate(plan.examined_on):
        if not day:
            continue
        male = bool(people.male[person])
        height = round(rng.gauss(164 if male else 153, 6), 1)
        values = examination(rng, male, _conditions(plan.conditions[person]), day, height)
        yield (
            ids(exam),
            *plan.provenance(person),
            dt.date.fromordinal(day),
            values.pulse,
            values.systolic,
            values.diastolic,
            values.weight_kg,
            values.height_cm,
            values.waist_cm,
            values.conclusion,
            values.advice,
        )
        exam += 1


def diagnosis_rows(plan: RecordPlan, exams: IdBlock, ids: IdBlock) -> Iterator[tuple[object, ...]]:
    """The conditions found at each examination, the first one as the main diagnosis."""
    exam = row = 0
    for person, day in enumerate(plan.examined_on):
        if not day:
            continue
        diagnosed = dt.date.fromordinal(day)
        for position, spec in enumerate(_conditions(plan.conditions[person])):
            main = position == 0
            yield (ids(row), *plan.provenance(person), exams(exam), spec.icd10, spec.diagnosis, diagnosed, main)
            row += 1
        exam += 1
