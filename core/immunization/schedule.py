"""The national immunization schedule as versioned data, and the engine that applies it (pure: no I/O).

(schedule version, birth date, sex, pregnancy, doses given, today) → for every series: the doses that count, the
doses given too early (recorded and flagged, not counted), and the next dose with its due date and status.
Rules (domain/immunization-schedule.md): due date of dose n = max(birth + recommended age of n, date of dose n−1 +
minimum interval); a late series is never restarted; overdue = due date + the grace period.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
from dataclasses import dataclass, field


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar months: 31 January + 1 month is the last day of February, not 3 March."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class Interval:
    days: int = 0
    months: int = 0

    def after(self, day: dt.date) -> dt.date:
        return add_months(day, self.months) + dt.timedelta(days=self.days)


@dataclass(frozen=True, slots=True)
class Dose:
    age: Interval  # recommended age
    min_age: Interval  # before this the dose does not count
    min_interval: Interval = Interval()  # after the previous dose of the series


@dataclass(frozen=True, slots=True)
class Series:
    code: str
    vaccines: frozenset[str]  # catalogue codes that count for this series
    doses: tuple[Dose, ...]
    pregnancy_only: bool = False
    # A dose that must wait for another series' dose, e.g. DPT4 ≥ 6 months after DPT-VGB-Hib 3.
    after: tuple[str, int, Interval] | None = None
    # Age after which the programme no longer chases an unfinished series (an adult is not "overdue" for BCG).
    until: Interval | None = None
    # Given only where the province has introduced it (rotavirus, 2024): enabled per deployment.
    optional: bool = False


@dataclass(frozen=True, slots=True)
class ScheduleVersion:
    code: str
    legal_text: str
    series: tuple[Series, ...]
    grace: Interval = Interval(months=1)

    def series_for(self, vaccine_code: str) -> list[str]:
        """The series a catalogue product counts for: a combination vaccine counts for several."""
        return [series.code for series in self.series if vaccine_code in series.vaccines]


def _m(months: int) -> Interval:
    return Interval(months=months)


def _d(days: int) -> Interval:
    return Interval(days=days)


# Circular 10/2024/TT-BYT (from 1 Aug 2024). Rows the domain note marks as programme guidance are data here too.
TT10_2024 = ScheduleVersion(
    code="TT10-2024",
    legal_text="Thông tư 10/2024/TT-BYT",
    series=(
        # The birth dose only makes sense in the first days; after that the 5-in-1 series covers hepatitis B.
        Series("HEPB0", frozenset({"HEPB0"}), (Dose(_d(0), _d(0)),), until=_m(2)),
        Series("BCG", frozenset({"BCG"}), (Dose(_d(0), _d(0)),), until=_m(12)),
        Series(
            "DPT-VGB-HIB",
            frozenset({"DPT-VGB-HIB", "DPT-VGB-HIB-IPV"}),
            (Dose(_m(2), _d(42)), Dose(_m(3), _d(70), _m(1)), Dose(_m(4), _d(98), _m(1))),
            until=_m(60),
        ),
        Series(
            "BOPV",
            frozenset({"BOPV"}),
            (Dose(_m(2), _d(42)), Dose(_m(3), _d(70), _m(1)), Dose(_m(4), _d(98), _m(1))),
            until=_m(60),
        ),
        Series(
            # Minimums are WHO's for IPV (6 weeks; 4 weeks apart), so 6-in-1 doses at 2 and 3 months count.
            "IPV",
            frozenset({"IPV", "DPT-VGB-HIB-IPV"}),
            (Dose(_m(5), _d(42)), Dose(_m(9), _d(70), _d(28))),
            until=_m(60),
        ),
        Series("MEASLES", frozenset({"MEASLES", "MR", "MMR"}), (Dose(_m(9), _m(9)),), until=_m(60)),
        Series("MR", frozenset({"MR", "MMR"}), (Dose(_m(18), _m(12)),), after=("MEASLES", 1, _m(1)), until=_m(72)),
        Series("DPT4", frozenset({"DPT4"}), (Dose(_m(18), _m(12)),), after=("DPT-VGB-HIB", 3, _m(6)), until=_m(72)),
        Series(
            "JE",
            frozenset({"JE"}),
            (Dose(_m(12), _m(12)), Dose(_m(12), _m(12), _d(7)), Dose(_m(24), _m(24), _m(12))),
            until=_m(180),
        ),
        Series("TD", frozenset({"TD"}), (Dose(_m(84), _m(84)),), until=_m(120)),
        Series(
            "ROTA",
            frozenset({"ROTA"}),
            (Dose(_m(2), _d(42)), Dose(_m(3), _d(70), _d(28))),
            until=_m(8),
            optional=True,
        ),
        Series(
            "TT",
            frozenset({"TT", "TD"}),
            (
                Dose(_d(0), _m(15 * 12)),
                Dose(_d(0), _m(15 * 12), _m(1)),
                Dose(_d(0), _m(15 * 12), _m(6)),
                Dose(_d(0), _m(15 * 12), _m(12)),
                Dose(_d(0), _m(15 * 12), _m(12)),
            ),
            pregnancy_only=True,
        ),
    ),
)
VERSIONS = {TT10_2024.code: TT10_2024}

# Display names for the app and the stations: (Vietnamese, English).
SERIES_NAMES: dict[str, tuple[str, str]] = {
    "HEPB0": ("Viêm gan B sơ sinh", "Hepatitis B birth dose"),
    "BCG": ("Lao (BCG)", "Tuberculosis (BCG)"),
    "DPT-VGB-HIB": ("Bạch hầu–ho gà–uốn ván–viêm gan B–Hib", "Diphtheria–pertussis–tetanus–hepatitis B–Hib"),
    "BOPV": ("Bại liệt uống (bOPV)", "Oral polio (bOPV)"),
    "IPV": ("Bại liệt tiêm (IPV)", "Injected polio (IPV)"),
    "MEASLES": ("Sởi", "Measles"),
    "MR": ("Sởi–rubella", "Measles–rubella"),
    "DPT4": ("Bạch hầu–ho gà–uốn ván nhắc lại", "DTP booster"),
    "JE": ("Viêm não Nhật Bản", "Japanese encephalitis"),
    "TD": ("Uốn ván–bạch hầu giảm liều (Td)", "Td booster"),
    "TT": ("Uốn ván cho phụ nữ có thai (UV)", "Tetanus for pregnant women"),
    "ROTA": ("Rota", "Rotavirus"),
}


class Status(enum.StrEnum):
    upcoming = "upcoming"
    due = "due"
    overdue = "overdue"
    complete = "complete"


@dataclass(frozen=True, slots=True)
class SeriesState:
    series: str
    counted: tuple[dt.date, ...]  # doses that count, in order
    too_early: tuple[dt.date, ...]  # recorded but flagged: before the minimum age or interval
    next_dose: int | None  # 1-based; None when complete
    due_on: dt.date | None
    status: Status
    overdue_from: dt.date | None = None
    notes: list[str] = field(default_factory=list)


def evaluate(
    version: ScheduleVersion,
    *,
    birth_date: dt.date,
    sex: str,
    pregnant: bool,
    given: list[tuple[str, dt.date]],
    today: dt.date,
    optional: frozenset[str] = frozenset(),
    delivery_on: dt.date | None = None,
) -> list[SeriesState]:
    """Every series of the version that applies to this person, in the version's order.

    ``optional`` names the optional series this province gives. A series past its ``until`` age is left out
    unless complete: the programme no longer chases it, so it is neither due nor overdue.

    Tetanus for pregnant women counts from the pregnancy: the next UV dose is due from its start (the expected
    delivery date ``delivery_on`` minus nine months, or today when the date is unknown), and is overdue by one
    month before delivery at the latest — UV2 must be given ≥ 1 month before delivery. Earlier doses, from
    earlier pregnancies, count, so a woman who had UV1–UV2 years ago is due UV3 now (never restarted).
    """
    states: dict[str, SeriesState] = {}
    for series in version.series:
        if series.pregnancy_only and not (sex == "female" and pregnant):
            continue
        if series.optional and series.code not in optional:
            continue
        dates = sorted(day for code, day in given if code in series.vaccines)
        counted: list[dt.date] = []
        early: list[dt.date] = []
        for day in dates:
            if len(counted) == len(series.doses):
                break  # extra doses beyond the series are simply not needed
            if day < _earliest(series, len(counted), birth_date, counted, states):
                early.append(day)
            else:
                counted.append(day)
        if len(counted) == len(series.doses):
            states[series.code] = SeriesState(series.code, tuple(counted), tuple(early), None, None, Status.complete)
            continue
        if series.until is not None and today > series.until.after(birth_date):
            continue
        index = len(counted)
        dose = series.doses[index]
        due = dose.age.after(birth_date)
        if counted:
            due = max(due, dose.min_interval.after(counted[-1]))
        due = max(due, _earliest(series, index, birth_date, counted, states))
        if series.pregnancy_only:
            due = max(due, add_months(delivery_on, -9) if delivery_on else today)
        overdue_from = version.grace.after(due)
        if series.pregnancy_only and delivery_on is not None:
            overdue_from = max(due, min(overdue_from, add_months(delivery_on, -1)))
        status = Status.upcoming if today < due else Status.overdue if today > overdue_from else Status.due
        states[series.code] = SeriesState(
            series.code, tuple(counted), tuple(early), index + 1, due, status, overdue_from
        )
    return list(states.values())


def _earliest(
    series: Series, index: int, birth: dt.date, counted: list[dt.date], states: dict[str, SeriesState]
) -> dt.date:
    """The first day dose ``index`` (0-based) may be given and count."""
    dose = series.doses[index]
    earliest = dose.min_age.after(birth)
    if counted:
        earliest = max(earliest, dose.min_interval.after(counted[-1]))
    if series.after is not None and index == 0:
        other, number, gap = series.after
        prior = states.get(other)
        if prior is not None and len(prior.counted) >= number:
            earliest = max(earliest, gap.after(prior.counted[number - 1]))
        elif prior is not None and prior.due_on is not None:
            # The series it waits for is not that far yet: count from when its missing dose is due.
            earliest = max(earliest, gap.after(prior.due_on))
    return earliest
