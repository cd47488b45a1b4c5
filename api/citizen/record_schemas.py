"""Bodies of the record routes: form 831's sections, each field with its Vietnamese label in the API docs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

Text = Annotated[str, msgspec.Meta(max_length=2000)]
Short = Annotated[str, msgspec.Meta(max_length=200)]
Count = Annotated[int, msgspec.Meta(ge=0, le=30)]
CommuneCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{5}$")]
Icd10 = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z][0-9]{2}(\.?[0-9A-Za-z]{1,4})?$", max_length=10)]


def label(vi: str, **meta: Any) -> msgspec.Meta:
    return msgspec.Meta(description=vi, **meta)


class Provenance(msgspec.Struct, kw_only=True):
    """Where an item comes from: self-entered items are shown as such; clinicians and stations verify."""

    source: Literal["self", "clinician", "his_import", "immunization_import", "station"]
    verified: bool
    version: int
    recorded_at: dt.datetime


# -- inputs (self-update) ----------------------------------------------------------------------------------------
class RiskFactorsIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """B.2 Yếu tố nguy cơ. There is no drug-use field, and none is accepted."""

    smoking: Annotated[Literal["no", "yes", "regular", "quit"] | None, label("Hút thuốc lá, lào")] = None
    alcohol: Annotated[Literal["no", "yes", "quit"] | None, label("Uống rượu bia thường xuyên")] = None
    alcohol_glasses_per_day: Annotated[Annotated[int, msgspec.Meta(ge=0, le=50)] | None, label("Số cốc/ngày")] = None
    physical_activity: Annotated[Literal["no", "yes", "regular"] | None, label("Hoạt động thể lực")] = None
    exposures: Annotated[Text | None, label("Tiếp xúc yếu tố có hại (hóa chất, bụi, ồn, virus…)")] = None
    exposure_duration: Annotated[Short | None, label("Thời gian tiếp xúc")] = None
    toilet: Annotated[Literal["flush", "double_vault", "bucket", "none"] | None, label("Loại hố xí")] = None
    other: Annotated[Text | None, label("Nguy cơ khác")] = None


class ReproductiveIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """B.7 Sức khỏe sinh sản và kế hoạch hóa gia đình."""

    contraception: Annotated[Short | None, label("Biện pháp tránh thai đang dùng")] = None
    last_pregnancy_on: Annotated[dt.date | None, label("Lần có thai cuối cùng")] = None
    expected_delivery_on: Annotated[dt.date | None, label("Ngày dự sinh (nếu đang mang thai)")] = None
    pregnancies: Annotated[Count | None, label("Số lần có thai")] = None
    miscarriages: Annotated[Count | None, label("Số lần sảy thai")] = None
    abortions: Annotated[Count | None, label("Số lần phá thai")] = None
    births_normal: Annotated[Count | None, label("Số lần đẻ thường")] = None
    births_caesarean: Annotated[Count | None, label("Số lần đẻ mổ")] = None
    births_difficult: Annotated[Count | None, label("Số lần đẻ khó")] = None
    births_full_term: Annotated[Count | None, label("Số lần đẻ đủ tháng")] = None
    births_premature: Annotated[Count | None, label("Số lần đẻ non")] = None
    living_children: Annotated[Count | None, label("Số con hiện sống")] = None
    gynaecological_disease: Annotated[Text | None, label("Bệnh phụ khoa")] = None


class OtherIn(msgspec.Struct, forbid_unknown_fields=True):
    """B.8 Khác."""

    text: Annotated[Text | None, label("Khác")] = None


class ContactIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Part A contact details (PATCH: only the fields sent are changed)."""

    email: Annotated[str, label("Email", max_length=254)] | msgspec.UnsetType | None = msgspec.UNSET
    cur_street: Annotated[Short | None, label("Nơi ở hiện tại: số nhà, đường")] | msgspec.UnsetType = msgspec.UNSET
    cur_hamlet: Annotated[Short | None, label("Thôn/xóm")] | msgspec.UnsetType = msgspec.UNSET
    cur_commune_code: Annotated[CommuneCode | None, label("Mã xã/phường")] | msgspec.UnsetType = msgspec.UNSET
    caregiver_name: Annotated[Short | None, label("Người chăm sóc chính")] | msgspec.UnsetType = msgspec.UNSET
    caregiver_relation: Annotated[Short | None, label("Quan hệ")] | msgspec.UnsetType = msgspec.UNSET
    caregiver_phone: Annotated[
        Annotated[str, msgspec.Meta(max_length=16)] | None, label("Điện thoại người chăm sóc")
    ] | (msgspec.UnsetType) = msgspec.UNSET


class AllergyIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """B.3 Dị ứng."""

    category: Annotated[
        Literal["drug", "chemical", "food", "other"], label("Thuốc / hóa chất–mỹ phẩm / thực phẩm / khác")
    ]
    substance: Annotated[str, label("Tác nhân gây dị ứng", min_length=1, max_length=200)]
    reaction: Annotated[Text | None, label("Biểu hiện")] = None


ConditionKind = Literal[
    "cardiovascular",
    "hypertension",
    "diabetes",
    "gastric",
    "chronic_lung",
    "asthma",
    "goitre",
    "hepatitis",
    "congenital_heart",
    "mental",
    "autism",
    "epilepsy",
    "cancer",
    "tuberculosis",
    "allergy",
    "other",
]


class FamilyHistoryIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """B.6 Tiền sử gia đình."""

    relation: Annotated[
        Literal["father", "mother", "sibling", "grandparent", "child", "spouse", "other"], label("Người mắc")
    ]
    kind: Annotated[ConditionKind, label("Bệnh / dị ứng")]
    icd10: Annotated[Icd10 | None, label("Mã ICD-10")] = None
    detail: Annotated[Text | None, label("Ghi rõ")] = None


class VitalIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A self-measured value. Blood pressure: value = systolic, value2 = diastolic (mmHg)."""

    kind: Literal["blood_pressure", "glucose", "weight", "height"]
    measured_at: dt.datetime
    value: Annotated[float, msgspec.Meta(gt=0, le=1000)]
    value2: Annotated[float, msgspec.Meta(gt=0, le=300)] | None = None
    method: Literal["manual", "device"] = "manual"


class CorrectionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    section: Annotated[str, msgspec.Meta(max_length=30, description="the record section, e.g. conditions")]
    item_id: uuid.UUID | None = None
    description: Annotated[str, msgspec.Meta(min_length=5, max_length=2000, description="what is wrong")]


# -- outputs ----------------------------------------------------------------------------------------------------
class CitizenOut(msgspec.Struct, kw_only=True):
    """Part A: Thông tin hành chính."""

    citizen_id: uuid.UUID
    full_name: str
    sex: str
    date_of_birth: dt.date
    cccd: str | None
    bhxh_number: str | None
    ethnicity: str | None
    occupation: str | None
    blood_abo: str | None
    blood_rh: str | None
    email: str | None
    cur_street: str | None
    cur_hamlet: str | None
    cur_commune_code: str | None
    caregiver_name: str | None
    caregiver_relation: str | None
    caregiver_phone: str | None
    version: int


class SectionScoreOut(msgspec.Struct):
    section: str
    score: float
    missing: list[str]


class RecordOut(msgspec.Struct, kw_only=True):
    """The whole record in one response; list sections hold their newest items (see each section's route)."""

    administrative: CitizenOut
    sections: dict[str, Any]
    completeness: float
    completeness_by_section: list[SectionScoreOut]


class PageOut(msgspec.Struct, kw_only=True):
    items: list[dict[str, Any]]
    next_cursor: str | None = None


class CorrectionOut(msgspec.Struct, kw_only=True):
    correction_id: uuid.UUID
    section: str
    item_id: uuid.UUID | None
    description: str
    status: str
    resolution: str | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None


class CorrectionPageOut(msgspec.Struct, kw_only=True):
    items: list[CorrectionOut]
    next_cursor: str | None = None


class VaccineOut(msgspec.Struct):
    code: str
    name_vi: str
    name_en: str
    programme: bool
    # The schedule series this product counts for under the current circular (several for a combination vaccine).
    series: list[str]
