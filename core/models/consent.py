"""Consent: shares (what a QR carries), grants (what redeeming one creates) and the access log.

A share is a random token (only its keyed hash is stored) redeemable for a few minutes, once. Redeeming it creates
a grant bound to one clinician and facility, with the sections, access and expiry the citizen chose. Every read or
write by anyone other than the citizen is an access event, written in the same transaction as the access.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, uuid_pk


class Share(Base):
    __tablename__ = "consent_shares"
    __table_args__ = (CheckConstraint("access IN ('read', 'read_write')", name="access_kind"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    sections: Mapped[list[str]] = mapped_column(ARRAY(String(30)))
    access: Mapped[str] = mapped_column(String(12))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(12))  # CAREMGT, PUBHLTH, PATRQT…
    passcode_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    passcode_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    redeem_before: Mapped[dt.datetime] = mapped_column()
    redeemed_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = created_at()


class Grant(Base):
    __tablename__ = "consent_grants"
    __table_args__ = (
        CheckConstraint("access IN ('read', 'read_write')", name="access_kind"),
        CheckConstraint("origin IN ('qr', 'emergency', 'guardian')", name="origin_kind"),
        Index(
            "ix_consent_grants_clinician_live",
            "clinician_id",
            "expires_at",
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    share_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("consent_shares.id", ondelete="SET NULL"), unique=True
    )
    clinician_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinicians.id", ondelete="CASCADE"))
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"))
    sections: Mapped[list[str]] = mapped_column(ARRAY(String(30)))
    access: Mapped[str] = mapped_column(String(12))
    purpose: Mapped[str] = mapped_column(String(12))
    origin: Mapped[str] = mapped_column(String(12))
    emergency_reason: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[dt.datetime] = mapped_column()
    expires_at: Mapped[dt.datetime] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    first_used_at: Mapped[dt.datetime | None] = mapped_column()
    reviewed_at: Mapped[dt.datetime | None] = mapped_column()
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clinicians.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = created_at()


class AccessEvent(Base):
    """One read or write of a record by someone other than the citizen. Append-only; the citizen reads it."""

    __tablename__ = "access_events"
    __table_args__ = (Index("ix_access_events_citizen_time", "citizen_id", "at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    grant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consent_grants.id", ondelete="SET NULL"), index=True)
    actor_kind: Mapped[str] = mapped_column(String(20))  # clinician, station, guardian, delegate
    actor_clinician_id: Mapped[uuid.UUID | None] = mapped_column()
    actor_account_id: Mapped[uuid.UUID | None] = mapped_column()
    actor_name: Mapped[str] = mapped_column(String(120))
    actor_licence: Mapped[str | None] = mapped_column(String(40))
    facility_name: Mapped[str | None] = mapped_column(String(200))
    sections: Mapped[list[str]] = mapped_column(ARRAY(String(30)))
    action: Mapped[str] = mapped_column(String(20))  # read, write, emergency_read
    at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
