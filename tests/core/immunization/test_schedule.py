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


def test_a_six_in_one_dose_counts_for_both_of_its_series() -> None:
    doses = [("DPT-VGB-HIB-IPV", d) for d in (dt.date(2026, 3, 31), dt.date(2026, 4, 30), dt.date(2026, 5, 31))]
    today = dt.date(2026, 6, 5)
    five_in_one = state("DPT-VGB-HIB", doses, today)
    assert five_in_one.status is Status.complete  # type: ignore[attr-defined]
    ipv = state("IPV", doses, today)
    # IPV has two doses (minimums 6 weeks of age, 4 weeks apart): the first two 6-in-1 doses fill them.
    assert ipv.counted == (dt.date(2026, 3, 31), dt.date(2026, 4, 30))  # type: ignore[attr-defined]
    assert ipv.too_early == ()  # type: ignore[attr-defined]
    assert TT10_2024.series_for("DPT-VGB-HIB-IPV") == ["DPT-VGB-HIB", "IPV"]
    assert TT10_2024.series_for("MMR") == ["MEASLES", "MR"]
    assert TT10_2024.series_for("RABIES") == []


MOTHER = dt.date(1998, 5, 5)
DELIVERY = dt.date(2027, 2, 1)  # pregnancy from about 1 May 2026


@pytest.mark.parametrize(
    ("given", "today", "next_dose", "due_on", "overdue_from", "status"),
    [
        # UV1 as early as possible in the pregnancy: due from its start, overdue a month later.
        ([], dt.date(2026, 5, 10), 1, dt.date(2026, 5, 1), dt.date(2026, 6, 1), Status.due),
        ([], dt.date(2026, 7, 1), 1, dt.date(2026, 5, 1), dt.date(2026, 6, 1), Status.overdue),
        # UV2 ≥ 1 month after UV1, and by one month before delivery at the latest.
        ([dt.date(2026, 12, 1)], dt.date(2026, 12, 5), 2, dt.date(2027, 1, 1), dt.date(2027, 1, 1), Status.upcoming),
        ([dt.date(2026, 6, 1)], dt.date(2026, 6, 5), 2, dt.date(2026, 7, 1), dt.date(2026, 8, 1), Status.upcoming),
        # UV3 ≥ 6 months after UV2: doses from an earlier pregnancy count, nothing restarts.
        ([dt.date(2020, 1, 1), dt.date(2020, 2, 1)], dt.date(2026, 5, 10), 3, dt.date(2026, 5, 1), None, Status.due),
        (
            [dt.date(2026, 5, 2), dt.date(2026, 6, 2)],
            dt.date(2026, 7, 1),
            3,
            dt.date(2026, 12, 2),
            dt.date(2027, 1, 1),
            Status.upcoming,
        ),
        # UV4 and UV5 ≥ 1 year after the previous dose.
        (
            [dt.date(2020, 1, 1), dt.date(2020, 2, 1), dt.date(2026, 1, 5)],
            dt.date(2026, 6, 1),
            4,
            dt.date(2027, 1, 5),
            dt.date(2027, 1, 5),
            Status.upcoming,
        ),
        (
            [dt.date(2018, 1, 1), dt.date(2018, 2, 1), dt.date(2019, 1, 1), dt.date(2020, 3, 1)],
            dt.date(2026, 6, 1),
            5,
            dt.date(2026, 5, 1),
            dt.date(2026, 6, 1),
            Status.due,
        ),
        (
            [dt.date(2018, 1, 1), dt.date(2018, 2, 1), dt.date(2019, 1, 1), dt.date(2020, 3, 1), dt.date(2026, 5, 3)],
            dt.date(2026, 6, 1),
            None,
            None,
            None,
            Status.complete,
        ),
    ],
)
def test_tetanus_uv1_to_uv5(
    given: list[dt.date],
    today: dt.date,
    next_dose: int | None,
    due_on: dt.date | None,
    overdue_from: dt.date | None,
    status: Status,
) -> None:
    states = evaluate(
        TT10_2024,
        birth_date=MOTHER,
        sex="female",
        pregnant=True,
        given=[("TT", d) for d in given],
        today=today,
        delivery_on=DELIVERY,
    )
    uv = next(s for s in states if s.series == "TT")
    assert (uv.next_dose, uv.due_on, uv.status) == (next_dose, due_on, status)
    if overdue_from is not None:
        assert uv.overdue_from == overdue_from


def test_a_td_dose_counts_as_a_tetanus_dose_and_a_too_early_uv_dose_is_flagged() -> None:
    states = evaluate(
        TT10_2024,
        birth_date=MOTHER,
        sex="female",
        pregnant=True,
        given=[("TD", dt.date(2026, 5, 2)), ("TT", dt.date(2026, 5, 20))],
        today=dt.date(2026, 5, 25),
        delivery_on=DELIVERY,
    )
    uv = next(s for s in states if s.series == "TT")
    assert uv.counted == (dt.date(2026, 5, 2),)
    assert uv.too_early == (dt.date(2026, 5, 20),), "18 days after UV1: inside the one-month interval"
    assert uv.next_dose == 2


def test_an_adult_is_not_chased_for_childhood_series_but_keeps_what_was_completed() -> None:
    states = {
        s.series: s
        for s in evaluate(
            TT10_2024,
            birth_date=dt.date(1990, 1, 1),
            sex="male",
            pregnant=False,
            given=[("BCG", dt.date(1990, 1, 2))],
            today=dt.date(2026, 11, 23),
        )
    }
    assert set(states) == {"BCG"}
    assert states["BCG"].status is Status.complete


def test_late_catch_up_within_the_window_and_nothing_after_it() -> None:
    # Four years old, never vaccinated against measles: still chased (until 5), due now, overdue.
    four = state("MEASLES", [], dt.date(2030, 1, 31))
    assert four.status is Status.overdue  # type: ignore[attr-defined]
    assert four.due_on == dt.date(2026, 10, 31)  # type: ignore[attr-defined]
    six = {
        s.series
        for s in evaluate(TT10_2024, birth_date=BIRTH, sex="male", pregnant=False, given=[], today=dt.date(2032, 2, 1))
    }
    assert "MEASLES" not in six and "JE" in six, "measles is chased to 5 years, Japanese encephalitis to 15"


def test_rotavirus_only_where_the_province_gives_it() -> None:
    today = dt.date(2026, 4, 1)
    without = {
        s.series for s in evaluate(TT10_2024, birth_date=BIRTH, sex="male", pregnant=False, given=[], today=today)
    }
    assert "ROTA" not in without
    with_rota = {
        s.series: s
        for s in evaluate(
            TT10_2024,
            birth_date=BIRTH,
            sex="male",
            pregnant=False,
            given=[("ROTA", dt.date(2026, 3, 20))],
            today=today,
            optional=frozenset({"ROTA"}),
        )
    }
    assert with_rota["ROTA"].next_dose == 2
    assert with_rota["ROTA"].due_on == dt.date(2026, 4, 30), "3 months of age; 4 weeks after dose 1 is earlier"
