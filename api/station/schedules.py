"""Station staff: services, weekly templates, closed days, slot generation; the day's list, check-in, no-show."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import anyio.to_thread
import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import ClinicianPrincipal
from api.errors import problem_spec
from core.models import AppointmentStatus, WalkIn
from core.outbox import VN_TZ
from core.qr import render_qr_svg
from core.scheduling.counter import counter_token, join_walk_in_queue
from core.scheduling.station import StationScheduleService
from core.settings import Settings


class ServiceIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: Literal["vaccination", "checkup", "consultation", "prenatal", "chronic"]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    cancel_cutoff_minutes: Annotated[int, msgspec.Meta(ge=0, le=10080)] = 120


class ServiceOut(msgspec.Struct):
    service_id: uuid.UUID
    kind: str
    name: str
    cancel_cutoff_minutes: int


class TemplateIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    weekday: Annotated[int, msgspec.Meta(ge=0, le=6, description="Monday = 0")]
    start_time: dt.time
    end_time: dt.time
    slot_minutes: Annotated[int, msgspec.Meta(ge=5, le=240)] = 30
    capacity: Annotated[int, msgspec.Meta(ge=1, le=500)] = 5


class ClosedDayIn(msgspec.Struct, forbid_unknown_fields=True):
    day: dt.date
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class GenerateIn(msgspec.Struct, forbid_unknown_fields=True):
    start: dt.date
    days: Annotated[int, msgspec.Meta(ge=1, le=62)] = 14


class GeneratedOut(msgspec.Struct):
    created: int


class DayRowOut(msgspec.Struct):
    appointment_id: uuid.UUID
    citizen_id: uuid.UUID
    starts_at: dt.datetime
    queue_number: int
    status: str


class ScheduleController(Controller):
    path = "/schedules"
    tags = ["station"]  # noqa: RUF012 - Litestar reads the class attribute

    @post("/services", summary="Offer a service at this station (or update it)")
    async def upsert_service(
        self,
        data: JSONBody[ServiceIn],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> ServiceOut:
        s = await StationScheduleService(db_session, staff.facility_id).upsert_service(
            data.kind, data.name, data.cancel_cutoff_minutes
        )
        return ServiceOut(s.id, s.kind, s.name, s.cancel_cutoff_minutes)

    @post("/services/{service_id:uuid}/templates", summary="A weekly opening for the service")
    async def add_template(
        self,
        service_id: FromPath[uuid.UUID],
        data: JSONBody[TemplateIn],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, str]:
        template = await StationScheduleService(db_session, staff.facility_id).add_template(
            service_id,
            weekday=data.weekday,
            start=data.start_time,
            end=data.end_time,
            slot_minutes=data.slot_minutes,
            capacity=data.capacity,
        )
        return {"template_id": str(template.id)}

    @post("/closed-days", summary="A day the station is closed: no slots are generated for it")
    async def close_day(
        self,
        data: JSONBody[ClosedDayIn],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        await StationScheduleService(db_session, staff.facility_id).close_day(data.day, data.reason)

    @post("/services/{service_id:uuid}/slots", summary="Generate slots from the templates (existing ones kept)")
    async def generate(
        self,
        service_id: FromPath[uuid.UUID],
        data: JSONBody[GenerateIn],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> GeneratedOut:
        created = await StationScheduleService(db_session, staff.facility_id).generate(
            service_id, data.start, data.days
        )
        return GeneratedOut(created)


class StationAppointmentController(Controller):
    path = "/appointments"
    tags = ["station"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/", summary="The day's appointments at this station, by time and queue number")
    async def day(
        self,
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
        day: FromQuery[dt.date | None] = None,
    ) -> list[DayRowOut]:
        rows = await StationScheduleService(db_session, staff.facility_id).day(day or dt.date.today())
        return [DayRowOut(a.id, a.citizen_id, s.starts_at, a.queue_number, a.status.value) for a, s in rows]

    @post("/{appointment_id:uuid}/check-in", status_code=200, summary="The person has arrived")
    async def check_in(
        self,
        appointment_id: FromPath[uuid.UUID],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, str]:
        appointment = await StationScheduleService(db_session, staff.facility_id).mark(
            appointment_id, AppointmentStatus.checked_in
        )
        return {"status": appointment.status.value}

    @post("/{appointment_id:uuid}/no-show", status_code=200, summary="The person did not come")
    async def no_show(
        self,
        appointment_id: FromPath[uuid.UUID],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, str]:
        appointment = await StationScheduleService(db_session, staff.facility_id).mark(
            appointment_id, AppointmentStatus.no_show
        )
        return {"status": appointment.status.value}


class CounterQrOut(msgspec.Struct):
    facility_token: str
    qr_svg: str
    valid_on: dt.date


class WalkInIn(msgspec.Struct, forbid_unknown_fields=True):
    citizen_id: uuid.UUID | None = None


class WalkInOut(msgspec.Struct):
    walk_in_id: uuid.UUID
    citizen_id: uuid.UUID | None
    queue_number: int
    created_at: dt.datetime


class CounterController(Controller):
    path = "/counter"
    tags = ["station"]  # noqa: RUF012 - Litestar reads the class attribute

    @get("/qr", summary="Today's counter QR (Scan & Share); it stops working at midnight")
    async def qr(self, staff: NamedDependency[ClinicianPrincipal], settings: NamedDependency[Settings]) -> CounterQrOut:
        today = dt.datetime.now(VN_TZ).date()
        token = counter_token(settings.secret_key, staff.facility_id, today)
        return CounterQrOut(token, await anyio.to_thread.run_sync(render_qr_svg, token), today)

    @post(
        "/walk-ins",
        summary="Someone without an appointment joins today's queue",
        responses={409: problem_spec("This person is already in today's queue")},
    )
    async def walk_in(
        self,
        data: JSONBody[WalkInIn],
        staff: NamedDependency[ClinicianPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> WalkInOut:
        today = dt.datetime.now(VN_TZ).date()
        row = await join_walk_in_queue(db_session, staff.facility_id, today, data.citizen_id)
        return WalkInOut(row.id, row.citizen_id, row.queue_number, row.created_at)

    @get("/walk-ins", summary="Today's walk-in queue")
    async def walk_ins(
        self, staff: NamedDependency[ClinicianPrincipal], db_session: NamedDependency[AsyncSession]
    ) -> list[WalkInOut]:
        today = dt.datetime.now(VN_TZ).date()
        rows = await db_session.scalars(
            select(WalkIn)
            .where(WalkIn.facility_id == staff.facility_id, WalkIn.day == today)
            .order_by(WalkIn.queue_number)
        )
        return [WalkInOut(w.id, w.citizen_id, w.queue_number, w.created_at) for w in rows]


ROUTES = [ScheduleController, StationAppointmentController, CounterController]
