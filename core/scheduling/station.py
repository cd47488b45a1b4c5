"""The station side of appointments: services, weekly templates, closed days, the day's list, check-in, no-show.
Every method is scoped to the staff member's facility: another station's objects are not found."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, Invalid, NotFound
from core.models import Appointment, AppointmentStatus, FacilityService, ScheduleException, ScheduleTemplate, Slot
from core.scheduling.booking import generate_slots

SERVICE_KINDS = ("vaccination", "checkup", "consultation", "prenatal", "chronic")


class StationScheduleService:
    def __init__(self, session: AsyncSession, facility_id: uuid.UUID, now: dt.datetime | None = None) -> None:
        self.session = session
        self.facility_id = facility_id
        self.now = now or dt.datetime.now(dt.UTC)

    async def upsert_service(self, kind: str, name: str, cancel_cutoff_minutes: int) -> FacilityService:
        if kind not in SERVICE_KINDS:
            raise Invalid("unknown service kind", code="bad_service_kind", field="kind")
        values = {"name": name, "cancel_cutoff_minutes": cancel_cutoff_minutes, "active": True}
        service = await self.session.scalar(
            insert(FacilityService)
            .values(id=uuid.uuid4(), facility_id=self.facility_id, kind=kind, **values)
            .on_conflict_do_update(index_elements=["facility_id", "kind"], set_=values)
            .returning(FacilityService)
        )
        assert service is not None
        return service

    async def _service(self, service_id: uuid.UUID) -> FacilityService:
        service = await self.session.get(FacilityService, service_id)
        if service is None or service.facility_id != self.facility_id:
            raise NotFound("no such service", code="service_not_found")
        return service

    async def add_template(
        self, service_id: uuid.UUID, *, weekday: int, start: dt.time, end: dt.time, slot_minutes: int, capacity: int
    ) -> ScheduleTemplate:
        await self._service(service_id)
        if end <= start:
            raise Invalid("the day ends after it starts", code="bad_times", field="end_time")
        template = ScheduleTemplate(
            service_id=service_id,
            weekday=weekday,
            start_time=start,
            end_time=end,
            slot_minutes=slot_minutes,
            capacity=capacity,
        )
        self.session.add(template)
        await self.session.flush()
        return template

    async def close_day(self, day: dt.date, reason: str) -> None:
        await self.session.execute(
            insert(ScheduleException)
            .values(id=uuid.uuid4(), facility_id=self.facility_id, day=day, reason=reason)
            .on_conflict_do_nothing()
        )

    async def generate(self, service_id: uuid.UUID, start: dt.date, days: int) -> int:
        await self._service(service_id)
        return await generate_slots(self.session, service_id, start, days)

    async def day(self, day: dt.date) -> list[tuple[Appointment, Slot]]:
        rows = await self.session.execute(
            select(Appointment, Slot)
            .join(Slot, Slot.id == Appointment.slot_id)
            .where(Appointment.facility_id == self.facility_id, Appointment.day == day)
            .order_by(Slot.starts_at, Appointment.queue_number)
        )
        return [(a, s) for a, s in rows.tuples()]

    async def mark(self, appointment_id: uuid.UUID, status: AppointmentStatus) -> Appointment:
        appointment = await self.session.scalar(
            select(Appointment)
            .where(Appointment.id == appointment_id, Appointment.facility_id == self.facility_id)
            .with_for_update()
        )
        if appointment is None:
            raise NotFound("no such appointment", code="appointment_not_found")
        if appointment.status is not AppointmentStatus.booked:
            raise Conflict("the appointment is not waiting", code="not_booked")
        appointment.status = status
        if status is AppointmentStatus.checked_in:
            appointment.checked_in_at = self.now
        return appointment
