"""`phr bench seed`: a synthetic province (default 1.2 M people, Quảng Ngãi's size) for benchmarks.

Rows are generated in Python from flat arrays and streamed into the real tables with binary COPY, all in one
transaction (a failed seed leaves nothing behind) that ends with ``ANALYZE``; then the schedule engine fills
``immunization_due`` through ``refresh_population``, exactly as the worker's daily sweep does. Every NOT NULL,
CHECK and UNIQUE constraint is enforced by PostgreSQL as the rows arrive. Foreign keys are too, but all at once:
where the database role may, the load skips the per-row foreign-key triggers (three quarters of the COPY time)
and checks every foreign key with one anti-join before it commits (``bench/bulk.py``); an orphan rolls it all back.

A database that already has citizens is refused unless ``force`` is set; then the province is added beside them
(codes, identifiers and phone numbers already present are skipped). Nothing is ever dropped or truncated.
The same ``seed`` gives the same people, households, records and identifiers (only the UUIDs and timestamps,
which carry the time of the load, differ).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from bench import people_rows, record_rows
from bench.bulk import IdBlock, IdSpace, check_foreign_keys, copy_rows, skip_row_triggers
from bench.geography import PROVINCE_NAME, Geography, plan_geography
from bench.histories import CONDITIONS, EXAM_ADVICE, HEXAVALENT, NOT_GIVEN_REASONS
from bench.people_rows import PeoplePlan, Taken
from bench.population import build_population
from bench.record_rows import RecordPlan
from core.db import Database
from core.immunization.service import Programme, refresh_population
from core.outbox import local_date
from core.progress import Progress
from core.records.exclusion import DEFAULT_POLICY

DEFAULT_CITIZENS = 1_200_000
# What every health station offers, and when (weekday Monday = 0, start, end, slot minutes, capacity).
SERVICES = (
    ("vaccination", "Tiêm chủng", ((1, "07:30", "11:00", 15, 8), (3, "07:30", "11:00", 15, 8))),
    ("checkup", "Khám sức khỏe định kỳ", tuple((day, "07:30", "11:00", 30, 3) for day in range(5))),
    ("chronic", "Khám và cấp thuốc bệnh mạn tính", tuple((day, "13:30", "16:30", 30, 4) for day in (0, 2, 4))),
)
PLACE_COLUMNS = {
    "admin_units": ("code", "level", "name", "parent_code"),
    "facilities": ("id", "code", "name", "kind", "commune_code", "address"),
}
SLOT_COLUMNS = {
    "facility_services": ("id", "facility_id", "kind", "name"),
    "schedule_templates": ("id", "service_id", "weekday", "start_time", "end_time", "slot_minutes", "capacity"),
    "slots": ("facility_id", "service_id"),  # written by one INSERT … SELECT; only its keys matter here
}


class SeedRefused(Exception):
    """The database already has citizens and ``force`` was not given."""


@dataclass(frozen=True, slots=True)
class SeedOptions:
    citizens: int = DEFAULT_CITIZENS
    seed: int = 831
    today: dt.date | None = None  # the day the province is "as of" (default: today in Vietnam)
    slot_days: int = 14
    force: bool = False
    refresh_due: bool = True
    programme: Programme = field(default_factory=Programme)


@dataclass
class SeedReport:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    triggers_skipped: bool = False  # foreign keys checked at once at the end rather than row by row

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def check_policy() -> None:
    """The generated codes and texts never touch an excluded category; fail before writing anything if they did."""
    texts = [*NOT_GIVEN_REASONS, *EXAM_ADVICE] + [t for spec in CONDITIONS for t in (spec.detail, spec.diagnosis)]
    hits = [spec.icd10 for spec in CONDITIONS if DEFAULT_POLICY.check_code(spec.icd10) is not None]
    hits += [value for value in texts if DEFAULT_POLICY.check_text(value) is not None]
    if hits:
        raise RuntimeError(f"bench data would contain {len(hits)} excluded code(s) or text(s)")


async def seed_province(database: Database, options: SeedOptions, progress: Progress | None = None) -> SeedReport:
    progress = progress or Progress(enabled=False)
    check_policy()
    today = options.today or local_date(dt.datetime.now(dt.UTC))
    report = SeedReport()
    async with database.engine.connect() as conn:
        async with conn.begin():
            # A statement through SQLAlchemy first: it is what opens the transaction the COPYs then run in.
            await conn.execute(text("SET LOCAL synchronous_commit = off"))
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            await _load(driver, options, today, progress, report)
            progress.start("commit")
        progress.done()
    if options.refresh_due:
        progress.start("immunization_due (engine)")
        report.rows["immunization_due"] = await refresh_population(
            database.sessionmaker, today=today, programme=options.programme
        )
        progress.done(f"{report.rows['immunization_due']:,} rows ")
    report.seconds = dict(progress.timings)
    return report


async def _taken(driver: Any, *, force: bool) -> tuple[Taken, set[str]]:
    if await driver.fetchval("SELECT EXISTS (SELECT 1 FROM citizens)") and not force:
        raise SeedRefused("the database already has citizens; pass --force to add a synthetic province beside them")

    async def values(query: str) -> set[str]:
        return {row[0] for row in await driver.fetch(query)}

    taken = Taken(
        admin_codes=await values("SELECT code FROM admin_units"),
        facility_codes=await values("SELECT code FROM facilities"),
        household_codes=await values("SELECT code FROM households"),
        cccds=await values("SELECT cccd FROM citizens WHERE cccd IS NOT NULL"),
        bhxh_numbers=await values("SELECT bhxh_number FROM citizens WHERE bhxh_number IS NOT NULL"),
        phones=await values("SELECT phone FROM accounts"),
    )
    return taken, await values("SELECT code FROM vaccines")


async def _load(
    driver: Any,
    options: SeedOptions,
    today: dt.date,
    progress: Progress,
    report: SeedReport,
) -> None:
    rng = random.Random(options.seed)  # noqa: S311 - reproducible synthetic data, not a secret
    taken, vaccines = await _taken(driver, force=options.force)
    missing = ({s.code for s in options.programme.version.series} | {HEXAVALENT}) - vaccines
    if missing:
        raise RuntimeError(f"the vaccine catalogue lacks {sorted(missing)}: migrate the database first")
    ids = IdSpace()
    now = dt.datetime.now(dt.UTC)
    stations = ids.block(1000)

    progress.start("plan people and households")
    geography = plan_geography(rng, admin_codes=taken.admin_codes, facility_codes=taken.facility_codes)
    people = build_population(rng, geography, options.citizens, today)
    plan = PeoplePlan(
        today=today,
        geography=geography,
        people=people,
        station_ids=[stations(n) for n in range(len(geography.communes))],
        household_ids=ids.block(people.households),
        citizen_ids=ids.block(people.size),
        account_ids=ids.block(people.size),
        run_tag=f"{ids.unix_ms:x}",
    )
    people_rows.plan_accounts(plan, rng, taken)
    people_rows.plan_insurance(plan, rng, taken)
    progress.done(f"{people.size:,} people in {people.households:,} households ")

    records = RecordPlan(people=plan, programme=options.programme)
    exams = _open(ids)
    # Generators run only as their COPY pulls rows, so each may rely on what the steps before it recorded in
    # the plans (household addresses, pregnancies, conditions and examination days).
    steps: list[tuple[str, str, tuple[str, ...], Iterator[tuple[object, ...]], int]] = [
        ("households", "households", people_rows.HOUSEHOLD_COLUMNS,
         people_rows.household_rows(plan, rng, taken), people.households),
        ("citizens", "citizens", people_rows.CITIZEN_COLUMNS, people_rows.citizen_rows(plan, rng, taken), people.size),
        ("insurance cards", "insurance_cards", people_rows.CARD_COLUMNS,
         people_rows.card_rows(plan, rng, _open(ids)), people.size),
        ("accounts", "accounts", people_rows.ACCOUNT_COLUMNS, people_rows.account_rows(plan, rng, now), plan.accounts),
        ("account links", "account_citizens", people_rows.ACCOUNT_CITIZEN_COLUMNS,
         people_rows.account_citizen_rows(plan), plan.accounts),
        ("devices", "devices", people_rows.DEVICE_COLUMNS,
         people_rows.device_rows(plan, rng, _open(ids), now), plan.accounts),
        ("guardianships", "guardianships", people_rows.GUARDIAN_COLUMNS,
         people_rows.guardianship_rows(plan, _open(ids)), 0),
        ("pregnancies", "record_reproductive", record_rows.REPRODUCTIVE_COLUMNS,
         record_rows.reproductive_rows(records, rng, _open(ids)), 0),
        ("vaccinations", "record_vaccinations", record_rows.VACCINATION_COLUMNS,
         record_rows.vaccination_rows(records, rng, _open(ids)), 0),
        ("conditions", "record_conditions", record_rows.CONDITION_COLUMNS,
         record_rows.condition_rows(records, rng, _open(ids)), 0),
        ("examinations", "record_examinations", record_rows.EXAMINATION_COLUMNS,
         record_rows.examination_rows(records, rng, exams), 0),
        ("diagnoses", "record_diagnoses", record_rows.DIAGNOSIS_COLUMNS,
         record_rows.diagnosis_rows(records, exams, _open(ids)), 0),
    ]  # fmt: skip
    written: dict[str, tuple[str, ...]] = {table: columns for _, table, columns, _, _ in steps}
    written |= PLACE_COLUMNS | SLOT_COLUMNS
    report.triggers_skipped = await skip_row_triggers(driver, list(written))
    await _places(driver, geography, plan, ids, progress, report)
    for label, table, columns, rows, total in steps:
        progress.start(label, total)
        report.rows[table] = await copy_rows(driver, progress, table, columns, rows)
        progress.done()
    await _slots(driver, plan, options.slot_days, progress, report, ids)
    # Statistics first (ANALYZE counts the transaction's own new rows): the planner then checks the foreign keys
    # with hash anti-joins, and the benchmarks that follow start from a planned database.
    progress.start("analyze")
    await driver.execute("ANALYZE " + ", ".join(written))
    progress.done()
    if report.triggers_skipped:
        await check_foreign_keys(driver, progress, written)


def _open(ids: IdSpace) -> IdBlock:
    """Keys for a table whose row count is only known once its rows are generated."""
    return ids.block(1 << 32)


async def _places(
    driver: Any, geography: Geography, plan: PeoplePlan, ids: IdSpace, progress: Progress, report: SeedReport
) -> None:
    progress.start("admin units and facilities")
    units: list[tuple[str, str, str, str | None]] = []
    if not geography.province_exists:
        units.append((geography.province_code, "province", PROVINCE_NAME, None))
    units += [(code, "district", spec.name, geography.province_code) for code, spec in geography.districts]
    units += [(c.code, "commune", c.name, c.district_code) for c in geography.communes]
    report.rows["admin_units"] = await copy_rows(driver, progress, "admin_units", PLACE_COLUMNS["admin_units"], units)
    facilities: list[tuple[str, str, str, str, str, str | None]] = [
        (plan.station_ids[c.index], c.station_code, c.station_name, "health_station", c.code, c.name)
        for c in geography.communes
    ]
    others = _open(ids)
    facilities += [
        (others(n), code, name, kind, commune, None)
        for n, (code, kind, name, commune) in enumerate(geography.other_facilities)
    ]
    report.rows["facilities"] = await copy_rows(driver, progress, "facilities", PLACE_COLUMNS["facilities"], facilities)
    progress.done()


# generate_slots (core/scheduling/booking.py) as one statement for every station: each template's weekday over the
# coming days, slots of its length from its start while they end by its end, in Vietnam's time (UTC+7, no summer
# time), skipping closed days. One statement instead of 500 calls that each compile a multi-row INSERT.
_SLOTS = """
INSERT INTO slots (id, facility_id, service_id, starts_at, ends_at, capacity)
SELECT phr_uuid7(), s.facility_id, s.id, g.local_start AT TIME ZONE '+07:00',
       (g.local_start + make_interval(mins => t.slot_minutes)) AT TIME ZONE '+07:00', t.capacity
FROM facility_services s
JOIN schedule_templates t ON t.service_id = s.id
CROSS JOIN generate_series($2::date, $2::date + ($3::int - 1), interval '1 day') AS d(day)
CROSS JOIN LATERAL generate_series(
    d.day + t.start_time,
    d.day + t.end_time - make_interval(mins => t.slot_minutes),
    make_interval(mins => t.slot_minutes)
) AS g(local_start)
WHERE s.id = ANY($1::uuid[])
  AND extract(isodow FROM d.day)::int - 1 = t.weekday
  AND NOT EXISTS (SELECT 1 FROM schedule_exceptions e WHERE e.facility_id = s.facility_id AND e.day = d.day::date)
ON CONFLICT (service_id, starts_at) DO NOTHING
"""


async def _slots(
    driver: Any, plan: PeoplePlan, days: int, progress: Progress, report: SeedReport, ids: IdSpace
) -> None:
    """Services and weekly opening hours at every station, and their slots for the next ``days`` days."""
    progress.start("services and slots")
    services, templates = _open(ids), _open(ids)
    service_rows: list[tuple[str, str, str, str]] = []
    template_rows: list[tuple[object, ...]] = []
    for station in plan.station_ids:
        for kind, name, hours in SERVICES:
            service_id = services(len(service_rows))
            service_rows.append((service_id, station, kind, name))
            for weekday, start, end, minutes, capacity in hours:
                opening = (dt.time.fromisoformat(start), dt.time.fromisoformat(end))
                template_rows.append((templates(len(template_rows)), service_id, weekday, *opening, minutes, capacity))
    for table, rows in (("facility_services", service_rows), ("schedule_templates", template_rows)):
        await driver.copy_records_to_table(table, columns=list(SLOT_COLUMNS[table]), records=rows)
    status = await driver.execute(_SLOTS, [row[0] for row in service_rows], plan.today, days)
    slots = int(status.rsplit(" ", 1)[1])  # "INSERT 0 <rows>"
    report.rows |= {"facility_services": len(service_rows), "schedule_templates": len(template_rows), "slots": slots}
    progress.done(f"{slots:,} slots ")


def describe(report: SeedReport) -> str:
    """The summary the command prints: rows per table, then time per phase."""
    width = max(len(name) for name in [*report.rows, *report.seconds])
    lines = ["rows:"] + [f"  {name:<{width}} {count:>12,}" for name, count in report.rows.items()]
    lines += ["seconds:"] + [f"  {name:<{width}} {secs:>12.1f}" for name, secs in report.seconds.items()]
    lines.append(f"  {'total':<{width}} {report.total_seconds:>12.1f}")
    return "\n".join(lines)


__all__ = ["DEFAULT_CITIZENS", "SeedOptions", "SeedRefused", "SeedReport", "describe", "seed_province"]
