"""Slots and bookings: generate slots from weekly templates; book, cancel and move without ever overbooking.

The seat is taken by one statement, ``UPDATE slots SET booked = booked + 1 … WHERE booked < capacity``, which
PostgreSQL serialises per row: at any concurrency exactly ``capacity`` bookings succeed. The queue number comes
from the same statement. Reminders are outbox rows written in the same transaction and cancelled with the booking.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, Invalid, NotFound
from core.messages import get_template
from core.models import (
    AccountCitizen,
    AdminUnit,
    Appointment,
    AppointmentStatus,
    DeliveryStatus,
    Facility,
    FacilityKind,
    FacilityService,
    Guardianship,
    Notification,
    ScheduleException,
    ScheduleTemplate,
    Slot,
)
from core.outbox import VN_TZ, Draft, local_date, notify_many, schedule
from core.pagination import fetch_page

REMINDERS = (("24h", dt.timedelta(hours=24), "appointment_reminder"), ("2h", dt.timedelta(hours=2), "appointment_soon"))


async def generate_slots(session: AsyncSession, service_id: uuid.UUID, start: dt.date, days: int) -> int:
    """Materialise the service's weekly templates into slots for ``days`` days; existing slots are kept."""
    service = await session.get(FacilityService, service_id)
    if service is None:
        raise NotFound("no such service", code="service_not_found")
    templates = (await session.scalars(select(ScheduleTemplate).where(ScheduleTemplate.service_id == service_id))).all()
    closed = set(
        (
            await session.scalars(
                select(ScheduleException.day).where(
                    ScheduleException.facility_id == service.facility_id,
                    ScheduleException.day.between(start, start + dt.timedelta(days=days)),
                )
            )
        ).all()
    )
    rows = []
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        if day in closed:
            continue
        for template in templates:
            if template.weekday != day.weekday():
                continue
            moment = dt.datetime.combine(day, template.start_time, VN_TZ)
            end_of_day = dt.datetime.combine(day, template.end_time, VN_TZ)
            while moment + dt.timedelta(minutes=template.slot_minutes) <= end_of_day:
                ends = moment + dt.timedelta(minutes=template.slot_minutes)
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "facility_id": service.facility_id,
                        "service_id": service.id,
                        "starts_at": moment,
                        "ends_at": ends,
                        "capacity": template.capacity,
                    }
                )
                moment = ends
    if not rows:
        return 0
    result = await session.execute(
        insert(Slot).values(rows).on_conflict_do_nothing(index_elements=["service_id", "starts_at"])
    )
    created: int = result.rowcount  # type: ignore[attr-defined]
    return created


class FacilityFinder:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def stations(self, *, commune: str | None = None, near: str | None = None) -> list[Facility]:
        query = select(Facility).where(Facility.kind == FacilityKind.health_station)
        if commune:
            query = query.where(Facility.commune_code == commune)
        if near:
            district = await self.session.scalar(select(AdminUnit.parent_code).where(AdminUnit.code == near))
            unit = AdminUnit.__table__.alias("unit")
            query = query.outerjoin(unit, unit.c.code == Facility.commune_code).order_by(
                case((Facility.commune_code == near, 0), (unit.c.parent_code == district, 1), else_=2)
            )
        return list((await self.session.scalars(query.order_by(Facility.code))).all())


class BookingService:
    def __init__(self, session: AsyncSession, now: dt.datetime | None = None) -> None:
        self.session = session
        self.now = now or dt.datetime.now(dt.UTC)

    async def _take_seat(self, slot_id: uuid.UUID) -> tuple[Slot, int]:
        slot = await self.session.get(Slot, slot_id)
        if slot is None:
            raise NotFound("no such slot", code="slot_not_found")
        return slot, await self._seat(slot)

    async def _seat(self, slot: Slot) -> int:
        """The seat itself: one UPDATE, which locks the slot's row until the transaction ends."""
        queue = await self.session.scalar(
            update(Slot)
            .where(Slot.id == slot.id, Slot.booked < Slot.capacity, Slot.starts_at > self.now)
            .values(booked=Slot.booked + 1, last_queue_number=Slot.last_queue_number + 1)
            .returning(Slot.last_queue_number)
            # The counters are read from RETURNING; do not let the ORM try to sync the loaded Slot.
            .execution_options(synchronize_session=False)
        )
        if queue is None:
            raise Conflict("this slot is full or has started", code="slot_full")
        return int(queue)

    async def book(self, citizen_id: uuid.UUID, slot_id: uuid.UUID, *, account_id: uuid.UUID | None) -> Appointment:
        # Everything that needs no seat is read first: on a hot slot, every booking waits for the row lock the
        # seat's UPDATE takes, so it is held only for the last three statements and the COMMIT (issue 10).
        found = (
            await self.session.execute(
                select(Slot, Facility.name)
                .outerjoin(Facility, Facility.id == Slot.facility_id)
                .where(Slot.id == slot_id)
            )
        ).first()
        if found is None:
            raise NotFound("no such slot", code="slot_not_found")
        slot, facility_name = found
        accounts = await self._accounts_for(citizen_id)
        queue = await self._seat(slot)
        # ON CONFLICT instead of a savepoint around a plain INSERT: one statement, not three. The only unique
        # key it can hit is "one active booking per service and day" (ids are fresh uuid7s).
        appointment = await self.session.scalar(
            insert(Appointment)
            .values(
                citizen_id=citizen_id,
                slot_id=slot.id,
                facility_id=slot.facility_id,
                service_id=slot.service_id,
                day=local_date(slot.starts_at),
                queue_number=queue,
                booked_by=account_id,
            )
            .on_conflict_do_nothing()
            .returning(Appointment)
        )
        if appointment is None:
            raise Conflict("already booked for this service that day", code="already_booked")
        await self._schedule_reminders(appointment, slot, facility_name=facility_name or "", accounts=accounts)
        return appointment

    async def _schedule_reminders(
        self,
        appointment: Appointment,
        slot: Slot,
        *,
        facility_name: str | None = None,
        accounts: list[uuid.UUID] | None = None,
    ) -> None:
        if facility_name is None:
            facility = await self.session.get(Facility, slot.facility_id)
            facility_name = facility.name if facility else ""
        if accounts is None:
            accounts = await self._accounts_for(appointment.citizen_id)
        params = {"starts_at": slot.starts_at.astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y"), "facility": facility_name}
        drafts = []
        for name, before, template in REMINDERS:
            send_at = slot.starts_at - before
            if send_at <= self.now:
                continue
            for account_id in accounts:
                drafts.append(
                    Draft(
                        template=template,
                        dedupe_key=f"appt:{appointment.id}:{slot.id}:{name}:{account_id}",
                        account_id=account_id,
                        citizen_id=appointment.citizen_id,
                        params=params,
                        not_before=send_at,
                        expires_at=slot.starts_at,
                    )
                )
        valid = []
        for draft in drafts:
            # A 24 h reminder pushed past quiet hours into the appointment itself is not worth sending.
            try:
                schedule(get_template(draft.template), self.now, draft.not_before, draft.expires_at)
            except Invalid:
                continue
            valid.append(draft)
        await notify_many(self.session, valid, now=self.now)

    async def _accounts_for(self, citizen_id: uuid.UUID) -> list[uuid.UUID]:
        """Who is reminded: the person's own account and any guardian's (a child's appointment)."""
        own = select(AccountCitizen.account_id).where(AccountCitizen.citizen_id == citizen_id)
        guardians = (
            select(AccountCitizen.account_id)
            .join(Guardianship, Guardianship.guardian_citizen_id == AccountCitizen.citizen_id)
            .where(Guardianship.citizen_id == citizen_id, Guardianship.revoked_at.is_(None))
        )
        return list((await self.session.scalars(own.union(guardians))).all())

    async def _own(self, citizen_id: uuid.UUID, appointment_id: uuid.UUID) -> Appointment:
        appointment = await self.session.scalar(
            select(Appointment)
            .where(Appointment.id == appointment_id, Appointment.citizen_id == citizen_id)
            .with_for_update()
        )
        if appointment is None:
            raise NotFound("no such appointment", code="appointment_not_found")
        return appointment

    async def _release(self, appointment: Appointment) -> None:
        slot = await self.session.get(Slot, appointment.slot_id)
        service = await self.session.get(FacilityService, appointment.service_id)
        cutoff = dt.timedelta(minutes=service.cancel_cutoff_minutes if service else 0)
        if slot is None or slot.starts_at - cutoff <= self.now:
            raise Conflict("too late to change this appointment", code="past_cutoff")
        await self.session.execute(update(Slot).where(Slot.id == slot.id).values(booked=Slot.booked - 1))
        await self.session.execute(
            update(Notification)
            .where(
                Notification.dedupe_key.like(f"appt:{appointment.id}:{slot.id}:%"),
                Notification.status == DeliveryStatus.pending,
            )
            .values(status=DeliveryStatus.cancelled)
        )

    async def cancel(self, citizen_id: uuid.UUID, appointment_id: uuid.UUID) -> Appointment:
        appointment = await self._own(citizen_id, appointment_id)
        if appointment.status is not AppointmentStatus.booked:
            raise Conflict("only a booked appointment can be cancelled", code="not_booked")
        await self._release(appointment)
        appointment.status = AppointmentStatus.cancelled
        appointment.cancelled_at = self.now
        return appointment

    async def move(self, citizen_id: uuid.UUID, appointment_id: uuid.UUID, slot_id: uuid.UUID) -> Appointment:
        """Move to another slot of the same service: one booking before, one booking after."""
        appointment = await self._own(citizen_id, appointment_id)
        if appointment.status is not AppointmentStatus.booked:
            raise Conflict("only a booked appointment can be moved", code="not_booked")
        target = await self.session.get(Slot, slot_id)
        if target is None or target.service_id != appointment.service_id:
            raise NotFound("no such slot for this service", code="slot_not_found")
        await self._release(appointment)
        slot, queue = await self._take_seat(slot_id)
        appointment.slot_id, appointment.queue_number, appointment.day = slot.id, queue, local_date(slot.starts_at)
        await self.session.flush()
        await self._schedule_reminders(appointment, slot)
        return appointment

    async def for_citizen(
        self, citizen_id: uuid.UUID, *, limit: int = 20, cursor: str | None = None
    ) -> tuple[list[Appointment], str | None]:
        """Newest booking first, a page at a time."""
        query = select(Appointment).where(Appointment.citizen_id == citizen_id)
        return await fetch_page(self.session, query, Appointment.created_at, Appointment.id, limit=limit, cursor=cursor)

    async def active_count(self, slot_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.slot_id == slot_id,
                Appointment.status.in_([AppointmentStatus.booked, AppointmentStatus.checked_in]),
            )
        )
        return int(count or 0)
