"""Each person's immunization state per series, as the schedule engine last computed it, and the daily sweep log.

The engine (``core/immunization/schedule.py``) is pure Python; stations need SQL over its output (cohorts for
campaigns, coverage per commune, the overdue work list). So its result is kept here, one row per (citizen,
series), rewritten whenever a dose is recorded and by the worker's daily sweep (which also moves statuses along
as the days pass). Nothing here is a source of truth: the doses in ``record_vaccinations`` are.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import Date, Enum, ForeignKey, Index, SmallInteger, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at


class DoseStatus(enum.StrEnum):
    upcoming = "upcoming"  # not due yet
    due = "due"
    overdue = "overdue"  # past due + the programme's grace period
    complete = "complete"


class ImmunizationDue(Base):
    __tablename__ = "immunization_due"
    __table_args__ = (
        # The overdue work list and the reminder sweep read by (status, due date); coverage by series.
        Index("ix_immunization_due_status_due_on", "status", "due_on"),
        Index("ix_immunization_due_series_status", "series", "status"),
    )

    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    series: Mapped[str] = mapped_column(String(20), primary_key=True)
    schedule_version: Mapped[str] = mapped_column(String(20))
    doses_counted: Mapped[int] = mapped_column(SmallInteger)
    too_early: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    next_dose: Mapped[int | None] = mapped_column(SmallInteger)  # 1-based; NULL when complete
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    overdue_from: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[DoseStatus] = mapped_column(Enum(DoseStatus, name="dose_status"))
    computed_on: Mapped[dt.date] = mapped_column(Date)


class ReminderSweep(Base):
    """One row per local day the reminder sweep finished: workers that start later the same day skip it."""

    __tablename__ = "reminder_sweeps"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column()
    finished_at: Mapped[dt.datetime] = created_at()
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
