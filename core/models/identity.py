"""Accounts (a phone number that logs in) and clinicians / station staff."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import Boolean, CheckConstraint, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, uuid_pk


class AccountStatus(enum.StrEnum):
    active = "active"
    locked = "locked"
    closed = "closed"


class Account(Base):
    """A phone number that can log in. Not a person: one phone may act for several citizens."""

    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("phone ~ '^\\+84[0-9]{9}$'", name="phone_e164"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    locale: Mapped[str] = mapped_column(String(5), default="vi", server_default="vi")
    status: Mapped[AccountStatus] = mapped_column(
        Enum(AccountStatus, name="account_status"), default=AccountStatus.active, server_default="active"
    )
    created_at: Mapped[dt.datetime] = created_at()
    last_login_at: Mapped[dt.datetime | None] = mapped_column()


class StaffRole(enum.StrEnum):
    clinician = "clinician"
    station_staff = "station_staff"
    station_admin = "station_admin"


class Clinician(Base):
    """A clinician or station staff member; each belongs to one facility."""

    __tablename__ = "clinicians"

    id: Mapped[uuid.UUID] = uuid_pk()
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(120))
    licence_number: Mapped[str | None] = mapped_column(String(40))  # chứng chỉ hành nghề
    role: Mapped[StaffRole] = mapped_column(Enum(StaffRole, name="staff_role"))
    username: Mapped[str] = mapped_column(String(60), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # argon2id
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[dt.datetime] = created_at()
