"""Request and response bodies of the citizen app's routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from api.tokens import TokensOut

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


# -- authentication ---------------------------------------------------------------------------------------------
Phone = Annotated[str, msgspec.Meta(min_length=9, max_length=20, examples=["0905123456"])]
OtpCode = Annotated[str, msgspec.Meta(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")]
OpaqueToken = Annotated[str, msgspec.Meta(min_length=16, max_length=200)]


class OtpRequest(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone


class OtpChallengeOut(msgspec.Struct):
    challenge_id: uuid.UUID
    expires_in: int
    resend_after: int


class OtpVerify(msgspec.Struct, forbid_unknown_fields=True):
    challenge_id: uuid.UUID
    code: OtpCode


class LoginOut(TokensOut, kw_only=True):
    needs_link: bool = False


class RefreshIn(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: OpaqueToken


class LinkIn(msgspec.Struct, forbid_unknown_fields=True):
    cccd: Annotated[str, msgspec.Meta(min_length=12, max_length=12, description="Số định danh cá nhân / CCCD")]
    full_name: Annotated[str, msgspec.Meta(min_length=1, max_length=120, description="Họ và tên")]
    date_of_birth: dt.date


class LinkOut(msgspec.Struct):
    status: Literal["linked", "pending", "created"]
    citizen_id: uuid.UUID | None


class DeviceKeyIn(msgspec.Struct, forbid_unknown_fields=True):
    algorithm: Literal["ES256", "Ed25519"]
    public_key: dict[str, str]
    label: Annotated[str, msgspec.Meta(max_length=120)] | None = None


class DeviceKeyOut(msgspec.Struct):
    key_id: uuid.UUID
    algorithm: str
    label: str | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None


class DeviceChallengeIn(msgspec.Struct, forbid_unknown_fields=True):
    key_id: uuid.UUID


class DeviceChallengeOut(msgspec.Struct):
    challenge_id: uuid.UUID
    nonce: str
    expires_in: int


class DeviceSessionIn(msgspec.Struct, forbid_unknown_fields=True):
    challenge_id: uuid.UUID
    signature: Annotated[str, msgspec.Meta(min_length=10, max_length=4096, description="compact JWS over the nonce")]


class SessionOut(msgspec.Struct):
    session_id: uuid.UUID
    method: str
    client_label: str | None
    created_at: dt.datetime
    last_used_at: dt.datetime
    current: bool


# -- me, delegations ------------------------------------------------------------------------------------------
class CitizenRef(msgspec.Struct):
    citizen_id: uuid.UUID
    full_name: str
    date_of_birth: dt.date
    relation: Literal["self", "guardian", "delegate"]


class InvitationOut(msgspec.Struct):
    delegation_id: uuid.UUID
    expires_at: dt.datetime


class MeOut(msgspec.Struct):
    account_id: uuid.UUID
    phone: str  # masked: the app knows its own number, a screenshot need not show it
    locale: str
    citizens: list[CitizenRef]
    invitations: list[InvitationOut]


class DelegationIn(msgspec.Struct, forbid_unknown_fields=True):
    delegate_phone: Phone
    days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 90


class DelegationOut(msgspec.Struct):
    delegation_id: uuid.UUID
    delegate_phone: str  # masked
    status: str
    expires_at: dt.datetime
    created_at: dt.datetime
