"""An HIS episode as the import reads it: typed parts of the XML 130 tables, in msgspec Structs.

The parser (``core/interop/xml130.py``) builds an ``Episode``; the exclusion filter (``screening.py``) returns a
reduced copy; a pending match stores it as JSON and rebuilds it (``msgspec.convert``) when a station resolves it.
Field names are the store's: codes live in fields named ``*icd10`` so every scan of stored JSON reads them as codes.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

Sex = Literal["male", "female", "undetermined"]


class ParseWarning(msgspec.Struct, frozen=True):
    """Something the parser could not use, named by table and field only."""

    code: str
    field: str | None = None


class Patient(msgspec.Struct, frozen=True, kw_only=True):
    full_name: str | None = None
    cccd: str | None = None
    date_of_birth: dt.date | None = None
    sex: Sex | None = None
    bhyt_cards: list[str] = []
    commune_code: str | None = None


class Medication(msgspec.Struct, frozen=True, kw_only=True):
    """XML2, one drug line."""

    line: int | None = None
    code: str | None = None
    name: str = ""
    unit: str | None = None
    strength: str | None = None
    route: str | None = None
    dosage: str | None = None
    usage: str | None = None
    quantity: str | None = None
    ordered_at: dt.datetime | None = None
    icd10: list[str] = []  # MA_BENH: what the line was prescribed for


class Service(msgspec.Struct, frozen=True, kw_only=True):
    """XML3, one service or supply line."""

    line: int | None = None
    code: str | None = None
    name: str = ""
    result: str | None = None
    ordered_at: dt.datetime | None = None
    result_at: dt.datetime | None = None
    icd10: list[str] = []


class LabResult(msgspec.Struct, frozen=True, kw_only=True):
    """XML4, one paraclinical value."""

    line: int | None = None
    service_code: str | None = None
    indicator_code: str | None = None
    name: str = ""
    value: str | None = None
    unit: str | None = None
    description: str | None = None
    conclusion: str | None = None
    result_at: dt.datetime | None = None


class Texts(msgspec.Struct, frozen=True, kw_only=True):
    """A table of narrative texts (XML5 course notes, XML7 discharge paper, XML8 record summary)."""

    table: str
    texts: dict[str, str] = {}  # XML field name → text
    at: dt.datetime | None = None


class Birth(msgspec.Struct, frozen=True, kw_only=True):
    """XML9, the birth certificate: the child's facts for part B.1 of the child's record."""

    child_card: str | None = None  # MA_THE_TAM, the newborn's temporary BHYT card
    child_sex: Sex | None = None
    born_on: dt.date | None = None
    weight_g: int | None = None
    caesarean: bool | None = None
    under_32_weeks: bool | None = None
    note: str | None = None


class Referral(msgspec.Struct, frozen=True, kw_only=True):
    """XML13, the referral paper."""

    from_facility: str | None = None
    to_facility: str | None = None
    texts: dict[str, str] = {}
    main_icd10: str | None = None
    secondary_icd10: list[str] = []


class FollowUp(msgspec.Struct, frozen=True, kw_only=True):
    """XML14, the re-examination appointment paper."""

    facility_code: str | None = None
    on: dt.date | None = None
    diagnosis: str | None = None
    main_icd10: str | None = None
    secondary_icd10: list[str] = []


class Tuberculosis(msgspec.Struct, frozen=True, kw_only=True):
    """XML15, TB treatment. ``sensitive`` holds the HIV fields as read; the exclusion filter empties it."""

    fields: dict[str, str] = {}  # the TB fields kept: classification, regimen, dates, outcome
    sensitive: dict[str, str] = {}  # named for what it is, not its content: stored keys are screened too


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """XML1, the episode header."""

    ma_lk: str
    facility_code: str
    patient: Patient
    kind: str | None = None  # MA_LOAI_KCB: outpatient visit, day care, inpatient …
    department: str | None = None
    admitted_at: dt.datetime | None = None
    discharged_at: dt.datetime | None = None
    treatment_days: int | None = None
    outcome: str | None = None  # KET_QUA_DTRI
    discharge_type: str | None = None  # MA_LOAI_RV
    main_icd10: str | None = None
    secondary_icd10: list[str] = []
    texts: dict[str, str] = {}  # LY_DO_VV, CHAN_DOAN_VAO, CHAN_DOAN_RV, PP_DIEU_TRI, GHI_CHU


class Episode(msgspec.Struct, frozen=True, kw_only=True):
    summary: Summary
    medications: list[Medication] = []
    services: list[Service] = []
    lab_results: list[LabResult] = []
    narratives: list[Texts] = []  # XML5, XML7, XML8
    births: list[Birth] = []
    referrals: list[Referral] = []
    follow_ups: list[FollowUp] = []
    tuberculosis: list[Tuberculosis] = []
    xml6_present: bool = False
    tables: list[str] = []  # the tables the file carried, in order
    warnings: list[ParseWarning] = []
