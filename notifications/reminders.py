"""The daily reminder sweep: vaccinations due soon and overdue, and the yearly check-up.

Once a day (from ``PHR_REMINDER_SWEEP_HOUR`` local time) one worker — whichever takes the PostgreSQL advisory lock
first — re-evaluates the schedule for everyone the programme still chases (``immunization_due``), then writes the
reminders with one ``INSERT … SELECT`` per kind. Every reminder has a dedupe key naming (citizen, series, dose,
kind, recipient), so running the sweep twice, or on two workers, or again after a crash half-way, sends nothing
twice. The reminder goes to whoever acts for the citizen (``core.identity.access.recipients_for``): a child's
guardians, an adult's own account and delegates. Reminders are not urgent, so quiet hours put them at 07:00.

Hospital follow-up dates (XML 130 table 14) are not swept: the import queues their reminder when the episode
arrives (``core/interop/recording.py``), since the date is known then and never changes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import zlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, exists, func, literal, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.identity.access import recipients_for
from core.immunization.service import Programme, refresh_population
from core.logging import get_logger
from core.models import Citizen, DoseStatus, Examination, ImmunizationDue, ReminderSweep
from core.outbox import VN_TZ, local_date, notify_from_select
from core.settings import Settings

log = get_logger("phr.reminders")
# One advisory-lock key for the sweep across every worker process (a stable number derived from a name).
SWEEP_LOCK_KEY = zlib.crc32(b"phr.reminder_sweep")
CHECK_EVERY = dt.timedelta(minutes=10)
CHECKUP_INTERVAL = text("interval '12 months'")


@dataclass(frozen=True, slots=True)
class SweepReport:
    day: dt.date
    statuses: int  # immunization_due rows rewritten
    vaccination_due: int
    vaccination_overdue: int
    checkup: int

    def counts(self) -> dict[str, int]:
        return {
            "statuses": self.statuses,
            "vaccination_due": self.vaccination_due,
            "vaccination_overdue": self.vaccination_overdue,
            "checkup": self.checkup,
        }


def _text(value: Any) -> Any:
    return cast(value, String)


async def sweep(database: Database, settings: Settings, *, now: dt.datetime) -> SweepReport:
    """Refresh statuses, then queue the day's reminders. Safe to run any number of times (dedupe keys)."""
    today = local_date(now)
    statuses = await refresh_population(database.sessionmaker, today=today, programme=Programme.from_settings(settings))
    # "Due": from N days before the due date until the grace period ends; then the overdue reminder takes over.
    window_end = today + dt.timedelta(days=settings.vaccination_reminder_days)
    due_soon = and_(
        ImmunizationDue.status.in_([DoseStatus.upcoming, DoseStatus.due]), ImmunizationDue.due_on <= window_end
    )
    async with database.transaction() as session:
        due = await _vaccination(session, now, "due", due_soon)
        overdue = await _vaccination(session, now, "overdue", ImmunizationDue.status == DoseStatus.overdue)
        checkups = await _checkups(session, now, today)
    return SweepReport(today, statuses, due, overdue, checkups)


async def _vaccination(session: AsyncSession, now: dt.datetime, kind: str, condition: ColumnElement[bool]) -> int:
    targets = select(ImmunizationDue.citizen_id).where(condition).distinct().cte(f"vaccination_{kind}_targets")
    pairs = recipients_for(targets, now=now).cte(f"vaccination_{kind}_recipients")
    rows = (
        select(
            pairs.c.account_id,
            pairs.c.citizen_id,
            func.concat_ws(
                ":",
                literal("vax"),
                _text(pairs.c.citizen_id),
                ImmunizationDue.series,
                _text(ImmunizationDue.next_dose),
                literal(kind),
                _text(pairs.c.account_id),
            ).label("dedupe_key"),
            # Declared parameters only (the template's), built here because each row has its own date.
            func.jsonb_build_object("due_date", func.to_char(ImmunizationDue.due_on, "DD/MM/YYYY")).label("params"),
        )
        .join(ImmunizationDue, ImmunizationDue.citizen_id == pairs.c.citizen_id)
        .where(condition)
    )
    return await notify_from_select(session, template=f"vaccination_{kind}", recipients=rows, now=now)


async def _checkups(session: AsyncSession, now: dt.datetime, today: dt.date) -> int:
    """Everyone with no periodic examination in the last 12 months: at most one reminder per calendar year."""
    recent = exists().where(
        Examination.citizen_id == Citizen.id,
        Examination.deleted_at.is_(None),
        Examination.examined_on > literal(today) - CHECKUP_INTERVAL,
    )
    targets = select(Citizen.id.label("citizen_id")).where(~recent).cte("checkup_targets")
    pairs = recipients_for(targets, now=now).cte("checkup_recipients")
    rows = select(
        pairs.c.account_id,
        pairs.c.citizen_id,
        func.concat_ws(
            ":", literal("checkup"), _text(pairs.c.citizen_id), literal(str(today.year)), _text(pairs.c.account_id)
        ).label("dedupe_key"),
    )
    return await notify_from_select(session, template="checkup_due", recipients=rows, now=now)


async def run_daily(database: Database, settings: Settings, *, now: dt.datetime | None = None) -> SweepReport | None:
    """Run today's sweep if this process wins the advisory lock and nobody finished it today; else None.

    The lock is a session-level advisory lock held on one connection for the sweep's duration, so a second
    worker asking at the same moment gets ``False`` at once and goes back to delivering.
    """
    now = now or dt.datetime.now(dt.UTC)
    today = local_date(now)
    async with database.engine.connect() as conn:
        if not await conn.scalar(select(func.pg_try_advisory_lock(SWEEP_LOCK_KEY))):
            return None
        try:
            await conn.commit()  # the lock outlives this (empty) transaction; the sweep uses its own
            async with database.transaction() as session:
                if await session.get(ReminderSweep, today) is not None:
                    return None
            report = await sweep(database, settings, now=now)
            async with database.transaction() as session:
                await session.execute(
                    insert(ReminderSweep)
                    .values(day=today, started_at=now, counts=report.counts())
                    .on_conflict_do_nothing(index_elements=["day"])
                )
            log.info("reminder sweep done", **report.counts())
            return report
        finally:
            await conn.execute(select(func.pg_advisory_unlock(SWEEP_LOCK_KEY)))
            await conn.commit()


async def sweep_periodically(database: Database, settings: Settings, stop: asyncio.Event) -> None:
    """The worker's daily job: after the sweep hour, try every few minutes until today's sweep is recorded."""
    while not stop.is_set():
        now = dt.datetime.now(dt.UTC)
        if now.astimezone(VN_TZ).hour >= settings.reminder_sweep_hour:
            try:
                await run_daily(database, settings, now=now)
            except Exception:
                log.exception("reminder sweep failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=CHECK_EVERY.total_seconds())
        except TimeoutError:
            continue


__all__ = ["SweepReport", "run_daily", "sweep", "sweep_periodically"]
