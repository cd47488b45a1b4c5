"""The schedule engine with tables: on-time, late (never restarted), too early (flagged), cross-series waits."""

from __future__ import annotations

import datetime as dt

import pytest

from core.immunization.schedule import TT10_2024, Status, add_months, evaluate

BIRTH = dt.date(2026, 1, 31)


def state(series: str, given: list[tuple[str, dt.date]], today: dt.date, **kw: object) -> object:
    options = {"birth_date": BIRTH, "sex": "female", "pregnant": False} | kw
    states = {s.series: s for s in evaluate(TT10_2024, given=given, today=today, **options)}  # type: ignore[arg-type]
    return states[series]


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),
        (dt.date(2026, 11, 15), 3, dt.date(2027, 2, 15)),
        (dt.date(2026, 5, 5), 0, dt.date(2026, 5, 5)),
    ],
)
def test_calendar_months(day: dt.date, months: int, expected: dt.date) -> None:
    assert add_months(day, months) == expected


def test_a_newborn_is_due_birth_doses_and_nothing_else_yet() -> None:
    states = {
        s.series: s for s in evaluate(TT10_2024, birth_date=BIRTH, sex="male", pregnant=False, given=[], today=BIRTH)
    }
    assert states["HEPB0"].status is Status.due
    assert states["BCG"].due_on == BIRTH
    assert states["DPT-VGB-HIB"].status is Status.upcoming
    assert states["DPT-VGB-HIB"].due_on == dt.date(2026, 3, 31)
    assert "TT" not in states, "tetanus for women is for pregnancy"


@pytest.mark.parametrize(
    ("given", "today", "next_dose", "due_on", "status"),
    [
        ([], dt.date(2026, 4, 1), 1, dt.date(2026, 3, 31), Status.due),
        ([], dt.date(2026, 5, 1), 1, dt.date(2026, 3, 31), Status.overdue),
        ([dt.date(2026, 3, 31)], dt.date(2026, 4, 10), 2, dt.date(2026, 4, 30), Status.upcoming),
        # Late dose 1 (at 6 months): dose 2 is due one month later, not restarted and not at 3 months.
        ([dt.date(2026, 7, 31)], dt.date(2026, 8, 1), 2, dt.date(2026, 8, 31), Status.upcoming),
        (
            [dt.date(2026, 3, 31), dt.date(2026, 4, 30), dt.date(2026, 5, 31)],
            dt.date(2026, 6, 1),
            None,
            None,
            Status.complete,
        ),
    ],
)
def test_dpt_vgb_hib_series(
    given: list[dt.date], today: dt.date, next_dose: int | None, due_on: dt.date | None, status: Status
) -> None:
    result = state("DPT-VGB-HIB", [("DPT-VGB-HIB", d) for d in given], today)
    assert (result.next_dose, result.due_on, result.status) == (next_dose, due_on, status)  # type: ignore[attr-defined]


def test_a_dose_given_too_early_is_flagged_and_does_not_count() -> None:
    too_soon = dt.date(2026, 2, 20)  # three weeks old: before the 6-week minimum
    result = state("DPT-VGB-HIB", [("DPT-VGB-HIB", too_soon)], dt.date(2026, 3, 1))
    assert result.too_early == (too_soon,)  # type: ignore[attr-defined]
    assert result.counted == ()  # type: ignore[attr-defined]
    assert result.next_dose == 1  # type: ignore[attr-defined]
    second = state(
        "DPT-VGB-HIB",
        [("DPT-VGB-HIB", dt.date(2026, 3, 31)), ("DPT-VGB-HIB", dt.date(2026, 4, 10))],
        dt.date(2026, 4, 20),
    )
    assert second.too_early == (dt.date(2026, 4, 10),), "ten days after dose 1 is inside the one-month interval"  # type: ignore[attr-defined]


def test_dpt4_waits_six_months_after_the_third_five_in_one_dose() -> None:
    doses = [("DPT-VGB-HIB", d) for d in (dt.date(2026, 3, 31), dt.date(2026, 4, 30), dt.date(2027, 3, 1))]
    result = state("DPT4", doses, dt.date(2027, 8, 1))
    assert result.due_on == dt.date(2027, 9, 1), "18 months would be 31 July; six months after dose 3 wins"  # type: ignore[attr-defined]


def test_measles_rubella_follows_measles_and_an_mr_dose_counts_for_measles() -> None:
    measles = state("MEASLES", [("MR", dt.date(2026, 11, 1))], dt.date(2026, 12, 1))
    assert measles.status is Status.complete  # type: ignore[attr-defined]
    mr = state("MR", [("MEASLES", dt.date(2027, 6, 30))], dt.date(2027, 7, 1))
    assert mr.due_on == dt.date(2027, 7, 31), "18 months after birth, ≥ 1 month after measles"  # type: ignore[attr-defined]


def test_japanese_encephalitis_three_doses() -> None:
    first = dt.date(2027, 2, 1)
    result = state("JE", [("JE", first)], dt.date(2027, 2, 2))
    assert result.due_on == dt.date(2027, 2, 8)  # type: ignore[attr-defined]
    third = state("JE", [("JE", first), ("JE", dt.date(2027, 2, 15))], dt.date(2027, 3, 1))
    assert third.due_on == dt.date(2028, 2, 15)  # type: ignore[attr-defined]


def test_tetanus_for_a_pregnant_woman() -> None:
    mother_birth = dt.date(1998, 5, 5)
    options = {"birth_date": mother_birth, "sex": "female", "pregnant": True}
    uv1 = dt.date(2026, 6, 1)
    states = {s.series: s for s in evaluate(TT10_2024, given=[("TT", uv1)], today=dt.date(2026, 6, 10), **options)}  # type: ignore[arg-type]
    assert states["TT"].next_dose == 2
    assert states["TT"].due_on == dt.date(2026, 7, 1)
    not_pregnant = evaluate(
        TT10_2024, birth_date=mother_birth, sex="female", pregnant=False, given=[], today=dt.date(2026, 6, 10)
    )
    assert "TT" not in {s.series for s in not_pregnant}
