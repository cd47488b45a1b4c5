"""Bodies of the health-station routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import msgspec


class LinkRequestOut(msgspec.Struct):
    request_id: uuid.UUID
    citizen_id: uuid.UUID
    full_name: str
    date_of_birth: dt.date
    created_at: dt.datetime
    status: str


class LinkRequestPageOut(msgspec.Struct, kw_only=True):
    items: list[LinkRequestOut]
    next_cursor: str | None = None


class GuardianshipIn(msgspec.Struct, forbid_unknown_fields=True):
    guardian_citizen_id: uuid.UUID
    citizen_id: uuid.UUID
    relation: Literal["mother", "father", "legal_guardian"]


class GuardianshipOut(msgspec.Struct):
    guardianship_id: uuid.UUID
    guardian_citizen_id: uuid.UUID
    citizen_id: uuid.UUID
    relation: str
    created_at: dt.datetime
