"""What the synthetic records hold beyond part A: vaccination histories that follow the schedule, pregnancies with
their tetanus doses, chronic conditions of older people and their periodic examinations.

Vaccinations are generated from the schedule's own data (``core/immunization/schedule.py``): each dose on or
after the day it is due (never before the minimum age or interval, so the engine flags nothing as too early),
usually a few days late, sometimes months late, and sometimes never — a missed dose ends the series, which leaves
children due and overdue for the reminders, campaigns and work lists to find. Conditions use only ordinary
chronic-disease codes, each checked against the exclusion policy before anything is generated.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass

from core.immunization.schedule import Interval, ScheduleVersion, add_months

HEXAVALENT = "DPT-VGB-HIB-IPV"  # the private-market 6-in-1: counts for DPT-VGB-HIB and IPV
NOT_GIVEN_REASONS = ("Hoãn tiêm: trẻ đang sốt", "Gia đình vắng nhà ngày tiêm", "Hoãn tiêm: trẻ đang dùng kháng sinh")


@functools.lru_cache(maxsize=1 << 20)
def _after(months: int, days: int, ordinal: int) -> int:
    """Interval.after on ordinals, cached: some 45 children a day share a birthday, and this is the hot loop."""
    return (add_months(dt.date.fromordinal(ordinal), months) + dt.timedelta(days=days)).toordinal()


def after(interval: Interval, ordinal: int) -> int:
    return _after(interval.months, interval.days, ordinal)


def _lateness(rng: random.Random, careless: bool) -> int:
    """Days after the due date a dose is given: most within a week or two, a tail of months."""
    draw = rng.random()
    if careless:
        draw = draw * 0.6 + 0.4
    if draw < 0.55:
        return rng.randint(0, 7)
    if draw < 0.85:
        return rng.randint(8, 30)
    if draw < 0.97:
        return rng.randint(31, 90)
    return rng.randint(91, 365)


@dataclass(frozen=True, slots=True)
class DoseRow:
    vaccine: str
    dose: int
    given_on: int | None  # ordinal; None: a dose not given, with a reason
    reason: str | None = None


def child_doses(
    rng: random.Random, version: ScheduleVersion, optional: frozenset[str], birth: int, today: int
) -> Iterator[DoseRow]:
    """A child's doses in schedule order; ``birth`` and ``today`` are date ordinals."""
    kind = rng.random()
    if kind < 0.02:
        return  # never vaccinated here (born elsewhere, records lost, a refusing family)
    careless = kind < 0.14
    miss = 0.08 if careless else 0.012
    hexavalent = rng.random() < 0.06
    counted: dict[str, list[int]] = {}
    for series in version.series:
        if series.pregnancy_only or (series.optional and series.code not in optional):
            continue
        if hexavalent and series.code == "IPV":
            continue  # the 6-in-1 doses already count for IPV
        vaccine = HEXAVALENT if hexavalent and series.code == "DPT-VGB-HIB" else series.code
        dates = counted.setdefault(series.code, [])
        for index, dose in enumerate(series.doses):
            due = max(after(dose.age, birth), after(dose.min_age, birth))
            if dates:
                due = max(due, after(dose.min_interval, dates[-1]))
            if series.after is not None and index == 0:
                other, number, gap = series.after
                prior = counted.get(other, [])
                if len(prior) < number:
                    break  # the booster waits for the series it follows
                due = max(due, after(gap, prior[number - 1]))
            if rng.random() < miss:
                if due <= today and rng.random() < 0.3:
                    yield DoseRow(vaccine, index + 1, None, rng.choice(NOT_GIVEN_REASONS))
                break
            # The birth dose is given in the maternity ward, within the day.
            day = due + (rng.randint(0, 1) if series.code == "HEPB0" else _lateness(rng, careless))
            if day > today:
                break
            dates.append(day)
            yield DoseRow(vaccine, index + 1, day)


def tetanus_doses(
    rng: random.Random, version: ScheduleVersion, birth: int, births: list[int], pregnancy_start: int, today: int
) -> Iterator[DoseRow]:
    """UV doses of a pregnant woman: two in her first pregnancy, one in each later one, one in this one if due."""
    series = next(s for s in version.series if s.pregnancy_only)
    given: list[int] = []
    wanted = [day - rng.randint(120, 180) for day in sorted(births)] + [pregnancy_start + rng.randint(60, 140)]
    for number, target in enumerate(wanted):
        for _ in range(2 if number == 0 else 1):
            if len(given) == len(series.doses) or rng.random() < 0.15:
                break
            dose = series.doses[len(given)]
            earliest = after(dose.min_age, birth)
            if given:
                earliest = max(earliest, after(dose.min_interval, given[-1]))
            day = max(target, earliest)
            if day > today:
                return
            given.append(day)
            target = day + 35
            yield DoseRow("TT", len(given), day)


@dataclass(frozen=True, slots=True)
class ConditionSpec:
    kind: str  # the form's condition list (api/citizen/record_schemas.py ConditionKind)
    icd10: str
    detail: str
    diagnosis: str
    sex: str | None  # "female" / "male" when it only concerns one
    risk: tuple[tuple[int, float], ...]  # (up to this age, share of people diagnosed)


# Ordinary chronic diseases with their usual codes. Nothing here may ever be an excluded code or word
# (HIV, drug use …): ``bench.seed`` runs every code and text through the exclusion policy before seeding.
CONDITIONS: tuple[ConditionSpec, ...] = (
    ConditionSpec("hypertension", "I10", "Tăng huyết áp, quản lý tại trạm", "Tăng huyết áp vô căn", None,
                  ((30, 0.0), (40, 0.03), (50, 0.1), (60, 0.22), (70, 0.35), (120, 0.45))),
    ConditionSpec("diabetes", "E11", "Đái tháo đường típ 2", "Đái tháo đường típ 2", None,
                  ((40, 0.0), (50, 0.03), (60, 0.07), (70, 0.11), (120, 0.12))),
    ConditionSpec("cardiovascular", "I25", "Bệnh tim thiếu máu cục bộ", "Bệnh tim thiếu máu cục bộ mạn", None,
                  ((55, 0.0), (70, 0.03), (120, 0.06))),
    ConditionSpec("chronic_lung", "J44", "Bệnh phổi tắc nghẽn mạn tính", "Bệnh phổi tắc nghẽn mạn tính", "male",
                  ((45, 0.0), (60, 0.02), (120, 0.05))),
    ConditionSpec("asthma", "J45", "Hen phế quản", "Hen phế quản", None, ((18, 0.0), (120, 0.02))),
    ConditionSpec("gastric", "K29", "Viêm dạ dày mạn", "Viêm dạ dày", None, ((18, 0.0), (120, 0.03))),
    ConditionSpec("goitre", "E04", "Bướu giáp đơn thuần", "Bướu giáp không độc", "female", ((25, 0.0), (120, 0.02))),
    ConditionSpec("hepatitis", "B18.1", "Viêm gan B mạn, theo dõi định kỳ", "Viêm gan virus B mạn", None,
                  ((18, 0.0), (120, 0.02))),
    ConditionSpec("epilepsy", "G40", "Động kinh, điều trị ngoại trú", "Động kinh", None, ((120, 0.004),)),
    ConditionSpec("cancer", "C50", "Ung thư vú, sau điều trị", "U ác của vú", "female", ((45, 0.0), (120, 0.004))),
)  # fmt: skip
EXAM_ADVICE = ("Ăn nhạt, tập thể dục đều đặn", "Tái khám sau 1 tháng", "Duy trì thuốc, theo dõi huyết áp tại nhà",
               "Khám sức khỏe định kỳ hằng năm")  # fmt: skip


def risk(spec: ConditionSpec, age: int) -> float:
    for limit, share in spec.risk:
        if age < limit:
            return share
    return spec.risk[-1][1]


def conditions_of(rng: random.Random, age: int, male: bool) -> list[ConditionSpec]:
    sex = "male" if male else "female"
    return [
        spec
        for spec in CONDITIONS
        if (spec.sex is None or spec.sex == sex) and (share := risk(spec, age)) and rng.random() < share
    ]


@dataclass(frozen=True, slots=True)
class ExamValues:
    examined_on: int
    pulse: int
    systolic: int
    diastolic: int
    weight_kg: float
    height_cm: float
    waist_cm: float
    conclusion: str
    advice: str


def examination(
    rng: random.Random, male: bool, conditions: list[ConditionSpec], examined_on: int, height: float
) -> ExamValues:
    hypertensive = any(spec.icd10 == "I10" for spec in conditions)
    systolic = rng.randint(130, 165) if hypertensive else rng.randint(100, 135)
    weight = round(rng.gauss(60 if male else 51, 8), 1)
    conclusion = ", ".join(spec.diagnosis for spec in conditions) or "Sức khỏe bình thường"
    return ExamValues(
        examined_on=examined_on,
        pulse=rng.randint(62, 95),
        systolic=systolic,
        diastolic=min(systolic - 25, rng.randint(80, 100) if hypertensive else rng.randint(62, 85)),
        weight_kg=max(35.0, weight),
        height_cm=height,
        waist_cm=round(rng.gauss(82 if male else 76, 7), 1),
        conclusion=conclusion,
        advice=rng.choice(EXAM_ADVICE),
    )
