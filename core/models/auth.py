"""Authentication state kept in PostgreSQL: SMS challenges and counters, sessions, refresh tokens, device keys.

Nothing here lives in process memory: counters must hold across API replicas and restarts
(privacy-and-security.md), and every secret handed out is stored only as a keyed hash.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, uuid_pk


class OtpChallenge(Base):
    """One SMS code: bound to this challenge, ≤ 5 attempts, 5 minutes, single use."""

    __tablename__ = "otp_challenges"
    __table_args__ = (CheckConstraint("attempts BETWEEN 0 AND 5", name="attempts_cap"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    phone: Mapped[str] = mapped_column(String(16), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[dt.datetime] = mapped_column()
    consumed_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = created_at()


class PhoneGuard(Base):
    """Per-phone counters: consecutive failures across codes, the growing lock, the resend cool-down."""

    __tablename__ = "phone_guards"

    phone: Mapped[str] = mapped_column(String(16), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # not reset by a resend
    locks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # how many locks so far
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    sends: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # codes sent in this window
    last_sent_at: Mapped[dt.datetime | None] = mapped_column()
    next_send_at: Mapped[dt.datetime | None] = mapped_column()


class RateCounter(Base):
    """A fixed-window counter (per IP, per number prefix, …), incremented atomically with an upsert."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column()
    count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SubjectKind(enum.StrEnum):
    account = "account"
    clinician = "clinician"
    machine = "machine"


class AuthSession(Base):
    """A login. Access tokens name it (``sid``) and die with it; its refresh tokens form one family."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        Index("ix_auth_sessions_account", "account_id", postgresql_where=text("account_id IS NOT NULL")),
        Index("ix_auth_sessions_clinician", "clinician_id", postgresql_where=text("clinician_id IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[SubjectKind] = mapped_column(Enum(SubjectKind, name="subject_kind"))
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    clinician_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clinicians.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(30))  # otp, device_key, password_totp, recovery_code, oidc
    device_key_id: Mapped[uuid.UUID | None] = mapped_column()
    client_label: Mapped[str | None] = mapped_column(String(120))  # "Android 1.4.0", shown in the session list
    created_at: Mapped[dt.datetime] = created_at()
    last_used_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[dt.datetime] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    revoke_reason: Mapped[str | None] = mapped_column(String(40))


class RefreshToken(Base):
    """An opaque, single-use refresh token (keyed hash only). Presenting a used one revokes the session."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = created_at()


class DeviceKey(Base):
    """A public key from the phone's keystore (behind biometrics/PIN): later logins sign a challenge, no SMS."""

    __tablename__ = "device_keys"

    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    algorithm: Mapped[str] = mapped_column(String(10))  # ES256 or Ed25519
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSONB)
    label: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = created_at()
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()


class DeviceChallenge(Base):
    """A nonce for one device-key login: single use, short-lived."""

    __tablename__ = "device_challenges"

    id: Mapped[uuid.UUID] = uuid_pk()
    device_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("device_keys.id", ondelete="CASCADE"), index=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[dt.datetime] = mapped_column()
    consumed_at: Mapped[dt.datetime | None] = mapped_column()


class ClinicianLoginChallenge(Base):
    """Between a correct password and the TOTP step: single use, ≤ 5 TOTP attempts, 5 minutes."""

    __tablename__ = "clinician_login_challenges"

    id: Mapped[uuid.UUID] = uuid_pk()
    clinician_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinicians.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[dt.datetime] = mapped_column()
    consumed_at: Mapped[dt.datetime | None] = mapped_column()
