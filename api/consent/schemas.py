"""Bodies of the consent routes (shares, grants, access log, emergency access)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

SectionList = Annotated[list[Annotated[str, msgspec.Meta(max_length=30)]], msgspec.Meta(min_length=1, max_length=20)]


class ShareIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    sections: SectionList
    access: Literal["read", "read_write"] = "read"
    duration_minutes: Annotated[int, msgspec.Meta(ge=5, le=43200, description="how long the grant lasts")] = 60
    purpose: Literal["CAREMGT", "PUBHLTH", "PATRQT"] = "CAREMGT"
    passcode: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4,8}$")] | None = None


class ShareOut(msgspec.Struct, kw_only=True):
    share_id: uuid.UUID
    payload: str  # what the QR encodes: PHR1:<token>
    qr_svg: str
    redeem_before: dt.datetime
    sections: list[str]
    access: str


class RedeemIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    token: Annotated[str, msgspec.Meta(max_length=200, description="the scanned QR text, PHR1:…")]
    passcode: Annotated[str, msgspec.Meta(max_length=8)] | None = None


class GrantOut(msgspec.Struct, kw_only=True):
    grant_id: uuid.UUID
    citizen_id: uuid.UUID
    sections: list[str]
    access: str
    purpose: str
    origin: str
    starts_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None


class ShortenIn(msgspec.Struct, forbid_unknown_fields=True):
    expires_at: dt.datetime


class GrantPageOut(msgspec.Struct, kw_only=True):
    items: list[GrantOut]
    next_cursor: str | None = None


class AccessEventOut(msgspec.Struct, kw_only=True):
    at: dt.datetime
    action: str
    actor_name: str
    actor_licence: str | None
    facility_name: str | None
    sections: list[str]
    grant_id: uuid.UUID | None


class AccessLogPageOut(msgspec.Struct, kw_only=True):
    items: list[AccessEventOut]
    next_cursor: str | None = None


class EmergencyIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    identifier: Annotated[str, msgspec.Meta(min_length=10, max_length=15, description="CCCD or BHYT card / BHXH no.")]
    reason: Annotated[str, msgspec.Meta(min_length=20, max_length=1000)]


class ExaminationIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    examined_on: dt.date
    history: Annotated[str, msgspec.Meta(max_length=4000)] | None = None
    pulse: Annotated[int, msgspec.Meta(ge=20, le=250)] | None = None
    temperature_c: Annotated[float, msgspec.Meta(ge=30, le=45)] | None = None
    bp_systolic: Annotated[int, msgspec.Meta(ge=50, le=300)] | None = None
    bp_diastolic: Annotated[int, msgspec.Meta(ge=20, le=200)] | None = None
    respiratory_rate: Annotated[int, msgspec.Meta(ge=5, le=80)] | None = None
    weight_kg: Annotated[float, msgspec.Meta(gt=0, le=400)] | None = None
    height_cm: Annotated[float, msgspec.Meta(gt=20, le=250)] | None = None
    waist_cm: Annotated[float, msgspec.Meta(gt=10, le=250)] | None = None
    vision: dict[str, Annotated[str, msgspec.Meta(max_length=20)]] = {}
    systems: dict[str, Annotated[str, msgspec.Meta(max_length=2000)]] = {}
    paraclinical: dict[str, Annotated[str, msgspec.Meta(max_length=4000)]] = {}
    conclusion: Annotated[str, msgspec.Meta(max_length=4000)] | None = None
    advice: Annotated[str, msgspec.Meta(max_length=4000)] | None = None
    diagnoses: list[DiagnosisIn] = []


class DiagnosisIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    icd10: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z][0-9]{2}(\.?[0-9A-Za-z]{1,4})?$")] | None = None
    text: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    main: bool = False


class VaccinationIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    vaccine_code: Annotated[str, msgspec.Meta(max_length=20)]
    dose_number: Annotated[int, msgspec.Meta(ge=1, le=10)] | None = None
    given_on: dt.date | None = None
    not_given_reason: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    reaction: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    next_due_on: dt.date | None = None
    place: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    lot: Annotated[str, msgspec.Meta(max_length=60)] | None = None


class NoteIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=8000)]
    written_on: dt.date | None = None
