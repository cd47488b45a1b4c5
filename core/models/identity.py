"""Accounts (a phone number that logs in) and clinicians / station staff."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Enum, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.dialects.postgresql import ARRAY
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
    # The TOTP secret, sealed with the service key (core/crypto.py); set when enrolment is confirmed.
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_pending_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # enrolment started, not confirmed
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column()
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)  # a TOTP code is accepted once
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True)  # the province IdP's "sub"
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[dt.datetime] = created_at()


class RecoveryCode(Base):
    """One-time codes a clinician keeps on paper in case the TOTP phone is lost; stored as keyed hashes."""

    __tablename__ = "recovery_codes"

    id: Mapped[uuid.UUID] = uuid_pk()
    clinician_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinicians.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    used_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = created_at()


class MachineClient(Base):
    """A hospital or immunization system that pushes data in (client credentials, never a person's token)."""

    __tablename__ = "machine_clients"

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[str] = mapped_column(String(80), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    name: Mapped[str] = mapped_column(String(200))
    facility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id"))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(60)), default=list, server_default="{}")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[dt.datetime] = created_at()
