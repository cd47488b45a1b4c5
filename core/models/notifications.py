"""The notification outbox (also the in-app inbox) and the devices pushes go to.

The tables live in ``core`` because domain services (OTP, consent, booking) write notifications in their own
transaction, and the import rule forbids ``core`` from importing ``notifications``; everything about *delivering*
them (worker, senders, FCM) lives in ``notifications/``.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.ids import uuid7
from core.models.base import Base, created_at, uuid_pk


class Channel(enum.StrEnum):
    push = "push"
    sms = "sms"


class DeliveryStatus(enum.StrEnum):
    pending = "pending"  # waiting for not_before / next_attempt_at
    sending = "sending"  # claimed by a worker until locked_until
    sent = "sent"
    failed = "failed"  # permanent: no retry will help (dead token, bad message, attempts exhausted)
    expired = "expired"  # expires_at passed before it could be sent
    cancelled = "cancelled"  # the thing it announced went away (appointment cancelled, campaign stopped)


TERMINAL_STATUSES = (DeliveryStatus.sent, DeliveryStatus.failed, DeliveryStatus.expired, DeliveryStatus.cancelled)


class Notification(Base):
    """One message to one recipient. Written in the caller's transaction; delivered by the worker."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("account_id IS NOT NULL OR phone IS NOT NULL", name="has_recipient"),
        CheckConstraint("channel <> 'push' OR account_id IS NOT NULL", name="push_needs_account"),
        CheckConstraint("expires_at > not_before", name="expires_after_start"),
        # The worker's two ways in: due pending rows, and rows whose lease ran out (a crashed worker).
        Index("ix_notifications_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index("ix_notifications_leased", "locked_until", postgresql_where=text("status = 'sending'")),
        Index(
            "ix_notifications_inbox",
            "account_id",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("channel = 'push'"),
        ),
    )

    # The database default (phr_uuid7(), see the migration) serves INSERT … SELECT, which has no Python side.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7, server_default=text("phr_uuid7()"))
    # No foreign keys on account_id and citizen_id: their per-row checks were over half the cost of writing a
    # province-wide campaign, and nothing deletes accounts or citizens (migration 0011 says why in full).
    account_id: Mapped[uuid.UUID | None] = mapped_column()
    phone: Mapped[str | None] = mapped_column(String(16))  # SMS before an account exists (OTP enrolment)
    # The citizen the message is about (a child's vaccination reminder goes to the guardian's account).
    citizen_id: Mapped[uuid.UUID | None] = mapped_column()
    channel: Mapped[Channel] = mapped_column(Enum(Channel, name="notification_channel"))
    kind: Mapped[str] = mapped_column(String(40))  # deep-link kind the app opens
    template_key: Mapped[str] = mapped_column(String(60))
    # Declared template parameters only (core/messages.py): never free-form health text.
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    # Encrypted parameters that must reach the recipient but nobody else (an OTP code); wiped once final.
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    not_before: Mapped[dt.datetime] = mapped_column()
    expires_at: Mapped[dt.datetime] = mapped_column()
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, name="delivery_status"), default=DeliveryStatus.pending, server_default="pending"
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[dt.datetime] = mapped_column()
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    # Which claim holds the row: a worker records an outcome only while its own lease is current, so a
    # worker that stalled past its lease cannot overwrite what the worker that reclaimed the row did.
    lease_id: Mapped[uuid.UUID | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(60))  # an error *code*, never a provider message
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    read_at: Mapped[dt.datetime | None] = mapped_column()
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    created_at: Mapped[dt.datetime] = created_at()


class Platform(enum.StrEnum):
    android = "android"
    ios = "ios"
    web = "web"


class Device(Base):
    """An app installation that can receive pushes, bound to the account logged in on it."""

    __tablename__ = "devices"

    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    # Unique across accounts: when another account logs in on the same phone, the installation moves to it,
    # so the previous account's pushes stop arriving on a phone it no longer uses.
    installation_id: Mapped[str] = mapped_column(String(100), unique=True)
    token: Mapped[str] = mapped_column(String(4096), unique=True)
    platform: Mapped[Platform] = mapped_column(Enum(Platform, name="device_platform"))
    locale: Mapped[str] = mapped_column(String(5), default="vi", server_default="vi")
    app_version: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = created_at()
    last_seen_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"), index=True)
