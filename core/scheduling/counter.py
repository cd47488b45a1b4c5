"""Scan & Share at the counter: the station shows a QR of the day; the person's app posts it to check in to
today's appointment there, or to join the walk-in queue, and gets a queue number.

The counter token names the facility and the day and carries a keyed MAC, so it cannot be forged for another
station and yesterday's photo of the screen does not work today.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import keyed_hash
from core.errors import NotFound
from core.models import Appointment, AppointmentStatus, QueueCounter, WalkIn
from core.outbox import local_date

COUNTER_PURPOSE = "counter-qr"
PREFIX = "PHRC1:"


def counter_token(secret: str, facility_id: uuid.UUID, day: dt.date) -> str:
    mac = keyed_hash(secret, COUNTER_PURPOSE, f"{facility_id}:{day.isoformat()}")[:16]
    raw = facility_id.bytes + day.toordinal().to_bytes(4, "big") + mac
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_counter_token(secret: str, token: str, today: dt.date) -> uuid.UUID:
    """The facility of a valid token for today; anything else is simply not found."""
    refused = NotFound("not a counter code of today", code="counter_token_invalid")
    if not token.startswith(PREFIX):
        raise refused
    encoded = token[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as exc:
        raise refused from exc
    if len(raw) != 36:
        raise refused
    facility_id = uuid.UUID(bytes=raw[:16])
    day = dt.date.fromordinal(int.from_bytes(raw[16:20], "big"))
    expected = keyed_hash(secret, COUNTER_PURPOSE, f"{facility_id}:{day.isoformat()}")[:16]
    if day != today or not hmac.compare_digest(expected, raw[20:]):
        raise refused
    return facility_id


@dataclass(frozen=True, slots=True)
class Arrival:
    kind: str  # appointment, walk_in
    queue_number: int
    appointment_id: uuid.UUID | None


async def join_walk_in_queue(
    session: AsyncSession, facility_id: uuid.UUID, day: dt.date, citizen_id: uuid.UUID | None
) -> WalkIn:
    number = await session.scalar(
        insert(QueueCounter)
        .values(facility_id=facility_id, day=day, last_number=1)
        .on_conflict_do_update(
            index_elements=["facility_id", "day"], set_={"last_number": QueueCounter.last_number + 1}
        )
        .returning(QueueCounter.last_number)
    )
    assert number is not None
    walk_in = WalkIn(facility_id=facility_id, day=day, citizen_id=citizen_id, queue_number=number)
    session.add(walk_in)
    await session.flush()
    return walk_in


async def arrive(
    session: AsyncSession, secret: str, citizen_id: uuid.UUID, token: str, now: dt.datetime | None = None
) -> Arrival:
    now = now or dt.datetime.now(dt.UTC)
    today = local_date(now)
    facility_id = read_counter_token(secret, token, today)
    appointment = await session.scalar(
        select(Appointment)
        .where(
            Appointment.citizen_id == citizen_id,
            Appointment.facility_id == facility_id,
            Appointment.day == today,
            Appointment.status == AppointmentStatus.booked,
        )
        .order_by(Appointment.queue_number)
        .limit(1)
        .with_for_update()
    )
    if appointment is not None:
        appointment.status = AppointmentStatus.checked_in
        appointment.checked_in_at = now
        return Arrival("appointment", appointment.queue_number, appointment.id)
    walk_in = await join_walk_in_queue(session, facility_id, today, citizen_id)
    return Arrival("walk_in", walk_in.queue_number, None)
