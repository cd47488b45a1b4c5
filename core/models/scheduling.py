"""Appointments at health stations: services, weekly templates and exceptions, slots, bookings, idempotency.

Capacity is the database's to enforce: a booking increments ``slots.booked`` with ``WHERE booked < capacity``, and
a CHECK keeps ``booked`` between 0 and ``capacity`` whatever code runs; one active booking per person, service and
day is a partial unique index.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, uuid_pk


class FacilityService(Base):
    """What a facility offers (vaccination, check-up, consultation, prenatal, chronic follow-up)."""

    __tablename__ = "facility_services"
    __table_args__ = (UniqueConstraint("facility_id", "kind"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    cancel_cutoff_minutes: Mapped[int] = mapped_column(Integer, default=120, server_default="120")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")


class ScheduleTemplate(Base):
    """A weekly opening: on this weekday, from start to end, slots of this length and capacity."""

    __tablename__ = "schedule_templates"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("end_time > start_time", name="times"),
        CheckConstraint("slot_minutes BETWEEN 5 AND 240 AND capacity BETWEEN 1 AND 500", name="sizes"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facility_services.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)  # Monday = 0
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(SmallInteger)
    capacity: Mapped[int] = mapped_column(SmallInteger)


class ScheduleException(Base):
    """A day the facility is closed (a holiday, a vaccination campaign elsewhere)."""

    __tablename__ = "schedule_exceptions"
    __table_args__ = (UniqueConstraint("facility_id", "day"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id", ondelete="CASCADE"))
    day: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200))


class Slot(Base):
    __tablename__ = "slots"
    __table_args__ = (
        CheckConstraint("booked >= 0 AND booked <= capacity", name="capacity"),
        UniqueConstraint("service_id", "starts_at"),
        Index("ix_slots_facility_time", "facility_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id", ondelete="CASCADE"))
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facility_services.id", ondelete="CASCADE"))
    starts_at: Mapped[dt.datetime] = mapped_column()
    ends_at: Mapped[dt.datetime] = mapped_column()
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_queue_number: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AppointmentStatus(enum.StrEnum):
    booked = "booked"
    checked_in = "checked_in"
    cancelled = "cancelled"
    no_show = "no_show"


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        # One active booking per person, service and (local) day.
        Index(
            "uq_appointments_active_per_day",
            "citizen_id",
            "service_id",
            "day",
            unique=True,
            postgresql_where=text("status IN ('booked', 'checked_in')"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("slots.id"), index=True)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"))
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facility_services.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    queue_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[AppointmentStatus] = mapped_column(
        Enum(AppointmentStatus, name="appointment_status"),
        default=AppointmentStatus.booked,
        server_default="booked",
    )
    booked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = created_at()
    cancelled_at: Mapped[dt.datetime | None] = mapped_column()
    checked_in_at: Mapped[dt.datetime | None] = mapped_column()


class IdempotencyRecord(Base):
    """A client write that may be retried: the key, what was asked, and the answer given the first time."""

    __tablename__ = "idempotency_keys"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)  # the exact bytes sent the first time
    created_at: Mapped[dt.datetime] = created_at()


class WalkIn(Base):
    """Someone who came without an appointment (or scanned the counter QR): a place in the day's queue."""

    __tablename__ = "walk_ins"
    __table_args__ = (UniqueConstraint("facility_id", "day", "queue_number"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id", ondelete="CASCADE"))
    day: Mapped[dt.date] = mapped_column(Date)
    citizen_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    queue_number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = created_at()


class QueueCounter(Base):
    """The last walk-in number given at a facility on a day, advanced by one atomic upsert."""

    __tablename__ = "queue_counters"

    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
