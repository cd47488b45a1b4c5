"""How complete each section is before the yearly check-up: a share of the fields the station wants filled."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from core.records.service import RecordSummary

# What "complete" means per section. Lists count as complete when they have at least one item or the person
# said "none" (a later refinement); here: present or not.
ADMINISTRATIVE = (
    "full_name",
    "sex",
    "date_of_birth",
    "cccd",
    "bhxh_number",
    "ethnicity",
    "occupation",
    "blood_abo",
    "cur_commune_code",
    "phone",
)
RISK_FACTORS = ("smoking", "alcohol", "physical_activity", "toilet")
REPRODUCTIVE = ("contraception", "pregnancies", "living_children")
ONE_YEAR = dt.timedelta(days=365)


@dataclass(frozen=True, slots=True)
class SectionScore:
    section: str
    score: float  # 0.0 – 1.0
    missing: tuple[str, ...]


def _fields(row: Any, names: tuple[str, ...]) -> tuple[float, tuple[str, ...]]:
    missing = tuple(n for n in names if row is None or getattr(row, n) in (None, ""))
    return 1 - len(missing) / len(names), missing


def completeness(summary: RecordSummary, today: dt.date) -> tuple[float, list[SectionScore]]:
    scores: list[SectionScore] = []
    score, missing = _fields(summary.citizen, ADMINISTRATIVE)
    scores.append(SectionScore("administrative", score, missing))
    if "risk-factors" in summary.singles:
        score, missing = _fields(summary.singles["risk-factors"], RISK_FACTORS)
        scores.append(SectionScore("risk-factors", score, missing))
    age = today.year - summary.citizen.date_of_birth.year
    if "reproductive" in summary.singles and summary.citizen.sex.value == "female" and 15 <= age <= 49:
        score, missing = _fields(summary.singles["reproductive"], REPRODUCTIVE)
        scores.append(SectionScore("reproductive", score, missing))
    if "examinations" in summary.lists:
        exams = summary.lists["examinations"]
        recent = any(today - e.examined_on <= ONE_YEAR for e in exams)
        scores.append(SectionScore("examinations", 1.0 if recent else 0.0, () if recent else ("yearly_check_up",)))
    if "vaccinations" in summary.lists:
        has = bool(summary.lists["vaccinations"])
        scores.append(SectionScore("vaccinations", 1.0 if has else 0.0, () if has else ("vaccination_history",)))
    overall = round(sum(s.score for s in scores) / len(scores), 3) if scores else 0.0
    return overall, scores
