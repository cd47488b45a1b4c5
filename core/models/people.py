"""Households, citizens (part A of form 831, administrative) and their dated insurance cards."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import CheckConstraint, Date, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, updated_at, uuid_pk


class Sex(enum.StrEnum):
    male = "male"
    female = "female"


class Household(Base):
    """Hộ gia đình: the unit the commune registers people in; its code is printed on paper records."""

    __tablename__ = "households"

    id: Mapped[uuid.UUID] = uuid_pk()
    code: Mapped[str] = mapped_column(String(20), unique=True)
    commune_code: Mapped[str] = mapped_column(ForeignKey("admin_units.code"), index=True)
    hamlet: Mapped[str | None] = mapped_column(String(120))  # thôn / xóm / tổ dân phố
    street: Mapped[str | None] = mapped_column(String(200))  # số nhà, đường
    created_at: Mapped[dt.datetime] = created_at()


class Citizen(Base):
    """A person with a record. Part A of form 831; the record's other parts hang off ``citizen_id``."""

    __tablename__ = "citizens"
    __table_args__ = (
        CheckConstraint("cccd ~ '^[0-9]{12}$'", name="cccd_format"),
        CheckConstraint("cmnd ~ '^[0-9]{9}$'", name="cmnd_format"),
        CheckConstraint("bhxh_number ~ '^[0-9]{10}$'", name="bhxh_format"),
        CheckConstraint("phone ~ '^\\+84[0-9]{9}$'", name="phone_e164"),
        CheckConstraint("blood_abo IN ('A', 'B', 'AB', 'O')", name="blood_abo"),
        CheckConstraint("blood_rh IN ('+', '-')", name="blood_rh"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    household_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("households.id"), index=True)
    relation_to_head: Mapped[str | None] = mapped_column(String(40))  # quan hệ với chủ hộ
    full_name: Mapped[str] = mapped_column(String(120))
    sex: Mapped[Sex] = mapped_column(Enum(Sex, name="sex"))
    date_of_birth: Mapped[dt.date] = mapped_column(Date, index=True)
    birth_province_code: Mapped[str | None] = mapped_column(String(3))  # nơi đăng ký khai sinh
    blood_abo: Mapped[str | None] = mapped_column(String(2))
    blood_rh: Mapped[str | None] = mapped_column(String(1))
    ethnicity: Mapped[str | None] = mapped_column(String(60))  # dân tộc
    nationality: Mapped[str] = mapped_column(String(2), default="VN", server_default="VN")
    religion: Mapped[str | None] = mapped_column(String(60))
    occupation: Mapped[str | None] = mapped_column(String(120))
    # Số định danh cá nhân: the province's health ID where known (identifiers.md).
    cccd: Mapped[str | None] = mapped_column(String(12), unique=True)
    cccd_issued_on: Mapped[dt.date | None] = mapped_column(Date)
    cccd_issued_by: Mapped[str | None] = mapped_column(String(120))
    cmnd: Mapped[str | None] = mapped_column(String(9), index=True)  # old 9-digit ID, secondary only
    # The stable insurance key; the card string changes with group and province (see InsuranceCard).
    bhxh_number: Mapped[str | None] = mapped_column(String(10), unique=True)
    perm_street: Mapped[str | None] = mapped_column(String(200))  # hộ khẩu thường trú
    perm_hamlet: Mapped[str | None] = mapped_column(String(120))
    perm_commune_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code"), index=True)
    cur_street: Mapped[str | None] = mapped_column(String(200))  # nơi ở hiện tại
    cur_hamlet: Mapped[str | None] = mapped_column(String(120))
    cur_commune_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code"), index=True)
    phone: Mapped[str | None] = mapped_column(String(16), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    mother_name: Mapped[str | None] = mapped_column(String(120))
    father_name: Mapped[str | None] = mapped_column(String(120))
    caregiver_name: Mapped[str | None] = mapped_column(String(120))
    caregiver_relation: Mapped[str | None] = mapped_column(String(40))
    caregiver_phone: Mapped[str | None] = mapped_column(String(16))
    home_facility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id"), index=True)
    # Bumped on every change of part A; the API's ETag (optimistic concurrency).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = created_at()
    updated_at: Mapped[dt.datetime] = updated_at()


class InsuranceCard(Base):
    """A BHYT card as held on a date: group and province change, the BHXH number does not."""

    __tablename__ = "insurance_cards"
    __table_args__ = (
        UniqueConstraint("citizen_id", "card_number", "valid_from"),
        CheckConstraint("card_number ~ '^[A-Z]{2}[1-5][0-9]{12}$'", name="card_format"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    card_number: Mapped[str] = mapped_column(String(15))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = created_at()
