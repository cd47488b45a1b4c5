"""Finding a slot and booking it: ``/v1/facilities``, ``/v1/citizens/{id}/appointments``.

Booking takes an ``Idempotency-Key``: a retried request gets the first answer, not a second booking.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import AccountPrincipal
from api.errors import problem_spec
from core.errors import BadRequest, Invalid
from core.idempotency import IdempotencyService, request_hash
from core.identity.access import require_access
from core.models import Appointment, FacilityService, Slot
from core.scheduling.booking import BookingService, FacilityFinder
from core.scheduling.counter import arrive
from core.settings import Settings

# Query parameters take Litestar's Parameter: a msgspec.Meta inside FromQuery is neither enforced nor documented.
CommuneCode = Annotated[str | None, Parameter(pattern=r"^[0-9]{5}$")]


class FacilityOut(msgspec.Struct):
    facility_id: uuid.UUID
    code: str
    name: str
    commune_code: str | None
    services: list[str]


class SlotOut(msgspec.Struct):
    slot_id: uuid.UUID
    service: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    remaining: int


class BookingIn(msgspec.Struct, forbid_unknown_fields=True):
    slot_id: uuid.UUID


class AppointmentOut(msgspec.Struct):
    appointment_id: uuid.UUID
    slot_id: uuid.UUID
    facility_id: uuid.UUID
    day: dt.date
    queue_number: int
    status: str


class AppointmentPageOut(msgspec.Struct, kw_only=True):
    items: list[AppointmentOut]
    next_cursor: str | None = None


def appointment_out(a: Appointment) -> AppointmentOut:
    return AppointmentOut(a.id, a.slot_id, a.facility_id, a.day, a.queue_number, a.status.value)


class FacilityController(Controller):
    path = "/facilities"
    tags = ["appointments"]  # noqa: RUF012 - Litestar reads the class attribute

    @get(
        "/",
        summary="Health stations and the services they book",
        description="`commune`: only that commune's stations. `near`: every station, that commune's first, then "
        "the same district's, then the rest (administrative units, no coordinates needed).",
    )
    async def list_facilities(
        self,
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
        commune: FromQuery[CommuneCode] = None,
        near: FromQuery[CommuneCode] = None,
    ) -> list[FacilityOut]:
        facilities = await FacilityFinder(db_session).stations(commune=commune, near=near)
        services = (await db_session.scalars(select(FacilityService).where(FacilityService.active))).all()
        by_facility: dict[uuid.UUID, list[str]] = {}
        for service in services:
            by_facility.setdefault(service.facility_id, []).append(service.kind)
        return [
            FacilityOut(f.id, f.code, f.name, f.commune_code, sorted(by_facility.get(f.id, []))) for f in facilities
        ]

    @get(
        "/{facility_id:uuid}/slots",
        summary="Bookable slots with remaining capacity",
        responses={422: problem_spec("start is so far ahead that the window would end after the last date")},
    )
    async def slots(
        self,
        facility_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
        service: FromQuery[str | None] = None,
        start: FromQuery[dt.date | None] = None,
        days: FromQuery[Annotated[int, Parameter(ge=1, le=31)]] = 7,
    ) -> list[SlotOut]:
        first = dt.datetime.combine(start or dt.date.today(), dt.time(0), dt.UTC)
        if first.date() > dt.date.max - dt.timedelta(days=days):  # the window's end is not a date any more
            raise Invalid("start is out of range", code="bad_start", field="start")
        query = (
            select(Slot, FacilityService.kind)
            .join(FacilityService, FacilityService.id == Slot.service_id)
            .where(
                Slot.facility_id == facility_id,
                Slot.starts_at >= max(first, dt.datetime.now(dt.UTC)),
                Slot.starts_at < first + dt.timedelta(days=days),
                Slot.booked < Slot.capacity,
            )
            .order_by(Slot.starts_at)
            .limit(500)
        )
        if service:
            query = query.where(FacilityService.kind == service)
        rows = (await db_session.execute(query)).all()
        return [SlotOut(s.id, kind, s.starts_at, s.ends_at, s.capacity - s.booked) for s, kind in rows]


class AppointmentController(Controller):
    path = "/citizens/{citizen_id:uuid}/appointments"
    tags = ["appointments"]  # noqa: RUF012 - Litestar reads the class attribute

    @post(
        "/",
        summary="Book a slot (Idempotency-Key required)",
        responses={
            409: problem_spec("The slot is full, or already booked for this service that day"),
            422: problem_spec("The Idempotency-Key was used for a different request"),
        },
    )
    async def book(
        self,
        request: Request[Any, Any, Any],
        citizen_id: FromPath[uuid.UUID],
        data: JSONBody[BookingIn],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> Response[Any]:
        await require_access(db_session, account.account_id, citizen_id)
        key = request.headers.get("idempotency-key")
        if not key:
            raise BadRequest("Idempotency-Key is required", code="idempotency_key_required", field="Idempotency-Key")
        keys = IdempotencyService(db_session)
        fingerprint = request_hash("POST", str(citizen_id), msgspec.to_builtins(data))
        stored = await keys.begin(account.account_id, key, fingerprint)
        if stored is not None:
            return Response(stored[1], status_code=stored[0], media_type="application/json")
        appointment = await BookingService(db_session).book(citizen_id, data.slot_id, account_id=account.account_id)
        body = msgspec.json.encode(appointment_out(appointment))
        await keys.finish(account.account_id, key, 201, body)
        return Response(body, status_code=201, media_type="application/json")

    @get("/", summary="This person's appointments, newest booking first (cursor pages)")
    async def list_appointments(
        self,
        citizen_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
        limit: FromQuery[int] = 20,
        cursor: FromQuery[str | None] = None,
    ) -> AppointmentPageOut:
        await require_access(db_session, account.account_id, citizen_id)
        rows, next_cursor = await BookingService(db_session).for_citizen(citizen_id, limit=limit, cursor=cursor)
        return AppointmentPageOut(items=[appointment_out(a) for a in rows], next_cursor=next_cursor)

    @delete("/{appointment_id:uuid}", status_code=204, summary="Cancel (before the facility's cut-off)")
    async def cancel(
        self,
        citizen_id: FromPath[uuid.UUID],
        appointment_id: FromPath[uuid.UUID],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        await require_access(db_session, account.account_id, citizen_id)
        await BookingService(db_session).cancel(citizen_id, appointment_id)

    @patch("/{appointment_id:uuid}", summary="Move to another slot of the same service")
    async def move(
        self,
        citizen_id: FromPath[uuid.UUID],
        appointment_id: FromPath[uuid.UUID],
        data: JSONBody[BookingIn],
        account: NamedDependency[AccountPrincipal],
        db_session: NamedDependency[AsyncSession],
    ) -> AppointmentOut:
        await require_access(db_session, account.account_id, citizen_id)
        return appointment_out(await BookingService(db_session).move(citizen_id, appointment_id, data.slot_id))


class CounterCheckInIn(msgspec.Struct, forbid_unknown_fields=True):
    facility_token: Annotated[str, msgspec.Meta(max_length=100, description="the station's counter QR, PHRC1:…")]


class ArrivalOut(msgspec.Struct):
    kind: str  # appointment: checked in to today's booking; walk_in: joined the queue
    queue_number: int
    appointment_id: uuid.UUID | None


class CounterController(Controller):
    path = "/citizens/{citizen_id:uuid}/check-in"
    tags = ["appointments"]  # noqa: RUF012 - Litestar reads the class attribute

    @post("/", status_code=200, summary="Scan & Share: check in at the counter, or join the walk-in queue")
    async def check_in(
        self,
        citizen_id: FromPath[uuid.UUID],
        data: JSONBody[CounterCheckInIn],
        account: NamedDependency[AccountPrincipal],
        settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession],
    ) -> ArrivalOut:
        await require_access(db_session, account.account_id, citizen_id)
        arrival = await arrive(db_session, settings.secret_key, citizen_id, data.facility_token)
        return ArrivalOut(arrival.kind, arrival.queue_number, arrival.appointment_id)


ROUTES = [FacilityController, AppointmentController, CounterController]
