"""The health record of form 831/QĐ-BYT, parts B–D, plus self-measured vitals, notes, corrections and history.

Every item carries its provenance (who wrote it, from where, whether a clinician or station verified it) and a
version for optimistic concurrency. Diagnosis-code columns have a CHECK constraint built from the exclusion
policy (core/records/exclusion.py) as a second wall behind the service-level checks: an excluded HIV or drug-use
code cannot be stored even by a bug.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from core.models.base import Base, created_at, updated_at, uuid_pk


class Source(enum.StrEnum):
    self = "self"  # the citizen (or their guardian or delegate) entered it
    clinician = "clinician"
    his_import = "his_import"
    immunization_import = "immunization_import"
    station = "station"


class Provenance:
    """Columns every record item has: whose it is, who wrote it, from where, and its version."""

    @declared_attr
    def citizen_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)

    source: Mapped[Source] = mapped_column(Enum(Source, name="record_source"))
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    @declared_attr
    def author_account_id(cls) -> Mapped[uuid.UUID | None]:
        return mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))

    @declared_attr
    def author_clinician_id(cls) -> Mapped[uuid.UUID | None]:
        return mapped_column(ForeignKey("clinicians.id", ondelete="SET NULL"))

    @declared_attr
    def facility_id(cls) -> Mapped[uuid.UUID | None]:
        return mapped_column(ForeignKey("facilities.id", ondelete="SET NULL"))

    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = created_at()
    updated_at: Mapped[dt.datetime] = updated_at()


class Removable:
    """List items are removed softly: the history must still say what was there and who removed it."""

    deleted_at: Mapped[dt.datetime | None] = mapped_column()


# -- part B: one row per citizen ---------------------------------------------------------------------------------
class BirthStatus(Provenance, Base):
    """B.1 Tình trạng lúc sinh."""

    __tablename__ = "record_birth"
    __table_args__ = (Index("uq_record_birth_citizen", "citizen_id", unique=True),)

    id: Mapped[uuid.UUID] = uuid_pk()
    delivery: Mapped[str | None] = mapped_column(String(20))  # normal, caesarean
    premature: Mapped[bool | None] = mapped_column(Boolean)
    asphyxia: Mapped[bool | None] = mapped_column(Boolean)
    weight_g: Mapped[int | None] = mapped_column(Integer)
    length_cm: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    congenital_defects: Mapped[str | None] = mapped_column(Text)
    other: Mapped[str | None] = mapped_column(Text)


class RiskFactors(Provenance, Base):
    """B.2 Yếu tố nguy cơ — deliberately without the national form's drug-use field (exclusion.md)."""

    __tablename__ = "record_risk_factors"
    __table_args__ = (Index("uq_record_risk_factors_citizen", "citizen_id", unique=True),)

    id: Mapped[uuid.UUID] = uuid_pk()
    smoking: Mapped[str | None] = mapped_column(String(20))  # no, yes, regular, quit
    alcohol: Mapped[str | None] = mapped_column(String(20))  # no, yes, quit
    alcohol_glasses_per_day: Mapped[int | None] = mapped_column(SmallInteger)
    physical_activity: Mapped[str | None] = mapped_column(String(20))  # no, yes, regular
    exposures: Mapped[str | None] = mapped_column(Text)  # chemicals, dust, noise, viruses…
    exposure_duration: Mapped[str | None] = mapped_column(String(120))
    toilet: Mapped[str | None] = mapped_column(String(20))  # flush, double_vault, bucket, none
    other: Mapped[str | None] = mapped_column(Text)


class Reproductive(Provenance, Base):
    """B.7 Sức khỏe sinh sản và kế hoạch hóa gia đình."""

    __tablename__ = "record_reproductive"
    __table_args__ = (Index("uq_record_reproductive_citizen", "citizen_id", unique=True),)

    id: Mapped[uuid.UUID] = uuid_pk()
    contraception: Mapped[str | None] = mapped_column(String(120))
    last_pregnancy_on: Mapped[dt.date | None] = mapped_column(Date)
    # Set while pregnant (expected date of delivery): drives tetanus (UV) doses and pregnancy cohorts.
    expected_delivery_on: Mapped[dt.date | None] = mapped_column(Date)
    pregnancies: Mapped[int | None] = mapped_column(SmallInteger)
    miscarriages: Mapped[int | None] = mapped_column(SmallInteger)
    abortions: Mapped[int | None] = mapped_column(SmallInteger)
    births_normal: Mapped[int | None] = mapped_column(SmallInteger)
    births_caesarean: Mapped[int | None] = mapped_column(SmallInteger)
    births_difficult: Mapped[int | None] = mapped_column(SmallInteger)
    births_full_term: Mapped[int | None] = mapped_column(SmallInteger)
    births_premature: Mapped[int | None] = mapped_column(SmallInteger)
    living_children: Mapped[int | None] = mapped_column(SmallInteger)
    gynaecological_disease: Mapped[str | None] = mapped_column(Text)


class OtherInfo(Provenance, Base):
    """B.8 Khác."""

    __tablename__ = "record_other"
    __table_args__ = (Index("uq_record_other_citizen", "citizen_id", unique=True),)

    id: Mapped[uuid.UUID] = uuid_pk()
    text: Mapped[str | None] = mapped_column(Text)


# -- part B: lists -----------------------------------------------------------------------------------------------
class Allergy(Provenance, Removable, Base):
    """B.3 Dị ứng: thuốc / hóa chất–mỹ phẩm / thực phẩm / khác, with the substance."""

    __tablename__ = "record_allergies"

    id: Mapped[uuid.UUID] = uuid_pk()
    category: Mapped[str] = mapped_column(String(20))  # drug, chemical, food, other
    substance: Mapped[str] = mapped_column(String(200))
    reaction: Mapped[str | None] = mapped_column(Text)


class Condition(Provenance, Removable, Base):
    """B.3 Bệnh tật: one of the form's conditions, with its ICD-10 code when known."""

    __tablename__ = "record_conditions"

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(30))
    icd10: Mapped[str | None] = mapped_column(String(10))
    detail: Mapped[str | None] = mapped_column(Text)
    since_year: Mapped[int | None] = mapped_column(SmallInteger)


class Disability(Provenance, Removable, Base):
    """B.4 Khuyết tật."""

    __tablename__ = "record_disabilities"

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(30))  # hearing, vision, hands, legs, scoliosis, cleft, other
    detail: Mapped[str | None] = mapped_column(Text)


class Surgery(Provenance, Removable, Base):
    """B.5 Tiền sử phẫu thuật."""

    __tablename__ = "record_surgeries"

    id: Mapped[uuid.UUID] = uuid_pk()
    body_part: Mapped[str] = mapped_column(String(200))
    year: Mapped[int | None] = mapped_column(SmallInteger)
    note: Mapped[str | None] = mapped_column(Text)


class FamilyHistory(Provenance, Removable, Base):
    """B.6 Tiền sử gia đình: the same allergy and disease list, with who in the family."""

    __tablename__ = "record_family_history"

    id: Mapped[uuid.UUID] = uuid_pk()
    relation: Mapped[str] = mapped_column(String(40))  # father, mother, sibling, grandparent, child, other
    kind: Mapped[str] = mapped_column(String(30))  # a condition kind, or "allergy"
    icd10: Mapped[str | None] = mapped_column(String(10))
    detail: Mapped[str | None] = mapped_column(Text)


# -- part C ------------------------------------------------------------------------------------------------------
class Vaccine(Base):
    """The vaccine catalogue: codes, not a fixed list of columns (the programme changes)."""

    __tablename__ = "vaccines"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    programme: Mapped[bool] = mapped_column(Boolean, default=False)  # Tiêm chủng mở rộng (free) or not
    cvx: Mapped[str | None] = mapped_column(String(10))  # for FHIR Immunization.vaccineCode


class Vaccination(Provenance, Removable, Base):
    """C. One dose: given (with date, place, lot) or not given (with the reason)."""

    __tablename__ = "record_vaccinations"
    __table_args__ = (
        CheckConstraint("given_on IS NOT NULL OR not_given_reason IS NOT NULL", name="given_or_reason"),
        Index(
            "uq_record_vaccinations_source", "source_ref", unique=True, postgresql_where=text("source_ref IS NOT NULL")
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    vaccine_code: Mapped[str] = mapped_column(ForeignKey("vaccines.code"))
    dose_number: Mapped[int | None] = mapped_column(SmallInteger)
    given_on: Mapped[dt.date | None] = mapped_column(Date)
    not_given_reason: Mapped[str | None] = mapped_column(Text)
    reaction: Mapped[str | None] = mapped_column(Text)
    next_due_on: Mapped[dt.date | None] = mapped_column(Date)
    place: Mapped[str | None] = mapped_column(String(200))
    lot: Mapped[str | None] = mapped_column(String(60))
    pregnancy_month: Mapped[int | None] = mapped_column(SmallInteger)  # tetanus doses in pregnancy
    source_ref: Mapped[str | None] = mapped_column(String(120))  # the feed's dose id: imports are idempotent


# -- part D ------------------------------------------------------------------------------------------------------
class Examination(Provenance, Removable, Base):
    """D. One periodic examination (khám lâm sàng và cận lâm sàng)."""

    __tablename__ = "record_examinations"
    __table_args__ = (Index("ix_record_examinations_citizen_date", "citizen_id", "examined_on"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    examined_on: Mapped[dt.date] = mapped_column(Date)
    history: Mapped[str | None] = mapped_column(Text)  # bệnh sử
    pulse: Mapped[int | None] = mapped_column(SmallInteger)
    temperature_c: Mapped[Decimal | None] = mapped_column(Numeric(3, 1))
    bp_systolic: Mapped[int | None] = mapped_column(SmallInteger)
    bp_diastolic: Mapped[int | None] = mapped_column(SmallInteger)
    respiratory_rate: Mapped[int | None] = mapped_column(SmallInteger)
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    height_cm: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    waist_cm: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    vision: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    systems: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    paraclinical: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    conclusion: Mapped[str | None] = mapped_column(Text)
    advice: Mapped[str | None] = mapped_column(Text)


class Diagnosis(Provenance, Removable, Base):
    """A diagnosis with its ICD-10 code: from an examination, a clinician's entry, or an imported episode."""

    __tablename__ = "record_diagnoses"

    id: Mapped[uuid.UUID] = uuid_pk()
    examination_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("record_examinations.id", ondelete="CASCADE"), index=True
    )
    icd10: Mapped[str | None] = mapped_column(String(10))
    text: Mapped[str | None] = mapped_column(Text)
    diagnosed_on: Mapped[dt.date] = mapped_column(Date)
    main: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class Note(Provenance, Removable, Base):
    """A clinician's encounter note."""

    __tablename__ = "record_notes"

    id: Mapped[uuid.UUID] = uuid_pk()
    written_on: Mapped[dt.date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)


class Vital(Provenance, Removable, Base):
    """A self-measured value (time series): blood pressure, glucose, weight, height."""

    __tablename__ = "record_vitals"
    __table_args__ = (Index("ix_record_vitals_citizen_time", "citizen_id", "measured_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(20))  # blood_pressure, glucose, weight, height
    measured_at: Mapped[dt.datetime] = mapped_column()
    value: Mapped[Decimal] = mapped_column(Numeric(6, 1))  # systolic for blood pressure
    value2: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))  # diastolic
    unit: Mapped[str] = mapped_column(String(10))
    method: Mapped[str] = mapped_column(String(10), default="manual")  # manual, device


# -- around the record -------------------------------------------------------------------------------------------
class CorrectionStatus(enum.StrEnum):
    open = "open"
    accepted = "accepted"
    rejected = "rejected"


class CorrectionRequest(Base):
    """A citizen thinks a clinical item is wrong; the station decides. The citizen sees the status."""

    __tablename__ = "record_corrections"

    id: Mapped[uuid.UUID] = uuid_pk()
    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    section: Mapped[str] = mapped_column(String(30))
    item_id: Mapped[uuid.UUID | None] = mapped_column()
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[CorrectionStatus] = mapped_column(
        Enum(CorrectionStatus, name="correction_status"), default=CorrectionStatus.open, server_default="open"
    )
    resolution: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clinicians.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = created_at()
    resolved_at: Mapped[dt.datetime | None] = mapped_column()


class RecordChange(Base):
    """History: who changed which item, when, and the fields' values before and after."""

    __tablename__ = "record_history"
    __table_args__ = (Index("ix_record_history_citizen_time", "citizen_id", "changed_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(30))
    item_id: Mapped[uuid.UUID] = mapped_column()
    action: Mapped[str] = mapped_column(String(10))  # create, update, remove
    actor_account_id: Mapped[uuid.UUID | None] = mapped_column()
    actor_clinician_id: Mapped[uuid.UUID | None] = mapped_column()
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    changed_at: Mapped[dt.datetime] = created_at()


class ExclusionReceipt(Base):
    """Proof that something was refused, with nothing of what it was: rule id, where, when, how many."""

    __tablename__ = "exclusion_receipts"

    id: Mapped[uuid.UUID] = uuid_pk()
    policy_version: Mapped[str] = mapped_column(String(20))
    rule_id: Mapped[str] = mapped_column(String(80), index=True)
    path: Mapped[str] = mapped_column(String(120))  # e.g. "PUT /v1/citizens/{id}/record/risk-factors"
    source: Mapped[str] = mapped_column(String(30))  # self, clinician, his_import, immunization_import
    facility_id: Mapped[uuid.UUID | None] = mapped_column()
    client_id: Mapped[uuid.UUID | None] = mapped_column()
    record_key_hash: Mapped[bytes | None] = mapped_column(LargeBinary)  # keyed hash of the source record id
    count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = created_at()
