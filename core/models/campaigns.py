"""Reminder campaigns a health station sends to a cohort of its own people.

The cohort is stored as the filter the staff chose (``cohort``), not as a list: the list is materialised once, at
launch, straight into the outbox (``notifications.campaign_id``) with one ``INSERT … SELECT``. The texts are the
station's own, shown in the in-app inbox; the push itself stays generic (notifications.md).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, uuid_pk


class CampaignStatus(enum.StrEnum):
    draft = "draft"  # editable, previewable
    launched = "launched"  # outbox rows written; the worker drains them from send_at
    paused = "paused"  # the worker stopped it: too many messages FCM called malformed (our bug, not the phones')
    cancelled = "cancelled"  # what was not yet sent will not be


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("targeted >= 0", name="targeted_not_negative"),
        Index("ix_campaigns_facility_created", "facility_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinicians.id"))
    name: Mapped[str] = mapped_column(String(120))
    cohort: Mapped[dict[str, Any]] = mapped_column(JSONB)  # the filter, as core/cohorts.py reads it
    text_vi: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str | None] = mapped_column(Text)
    send_at: Mapped[dt.datetime] = mapped_column()
    status: Mapped[CampaignStatus] = mapped_column(
        Enum(CampaignStatus, name="campaign_status"), default=CampaignStatus.draft, server_default="draft"
    )
    targeted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    launched_at: Mapped[dt.datetime | None] = mapped_column()
    cancelled_at: Mapped[dt.datetime | None] = mapped_column()
    paused_at: Mapped[dt.datetime | None] = mapped_column()
    pause_reason: Mapped[str | None] = mapped_column(String(60))  # an error code, never provider text
    created_at: Mapped[dt.datetime] = created_at()
