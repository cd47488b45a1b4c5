"""Request and response bodies of the citizen app's routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

InstallationId = Annotated[
    str, msgspec.Meta(max_length=100, description="the app installation id (8–100 of A–Z a–z 0–9 . _ : -)")
]


class DeviceRegistration(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``PUT /v1/devices/{installation_id}``: the app calls this on every start (it refreshes last_seen_at)."""

    token: Annotated[str, msgspec.Meta(min_length=20, max_length=4096, description="FCM registration token")]
    platform: Literal["android", "ios", "web"]
    locale: Literal["vi", "en"] = "vi"
    app_version: Annotated[str, msgspec.Meta(max_length=40)] | None = None


class DeviceOut(msgspec.Struct, kw_only=True):
    installation_id: str
    platform: str
    locale: str
    app_version: str | None
    last_seen_at: dt.datetime


class NotificationOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    kind: str
    title: str
    body: str
    citizen_id: uuid.UUID | None
    created_at: dt.datetime
    read_at: dt.datetime | None


class NotificationPage(msgspec.Struct, kw_only=True):
    items: list[NotificationOut]
    next_cursor: str | None = None
