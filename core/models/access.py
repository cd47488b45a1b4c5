"""Who may act for which citizen: the account's own records, guardianship of children, adult delegations."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at, uuid_pk


class AccountCitizen(Base):
    """The account's phone is this citizen's registered phone: it acts as (or for) that citizen."""

    __tablename__ = "account_citizens"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    citizen_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = created_at()


class LinkRequestStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class LinkRequest(Base):
    """The person matched but the phone did not: a station confirms the link in person."""

    __tablename__ = "link_requests"
    __table_args__ = (
        Index(
            "uq_link_requests_open",
            "account_id",
            "citizen_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    status: Mapped[LinkRequestStatus] = mapped_column(
        Enum(LinkRequestStatus, name="link_request_status"),
        default=LinkRequestStatus.pending,
        server_default="pending",
    )
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clinicians.id"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = created_at()


class Guardianship(Base):
    """A parent or legal guardian of a child (``citizen_id``). Ends by itself on the child's 18th birthday."""

    __tablename__ = "guardianships"
    __table_args__ = (
        CheckConstraint("guardian_citizen_id <> citizen_id", name="not_self"),
        Index(
            "uq_guardianships_live",
            "guardian_citizen_id",
            "citizen_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    guardian_citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str] = mapped_column(String(30))  # mother, father, legal_guardian
    source: Mapped[str] = mapped_column(String(30))  # station, birth_data
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clinicians.id"))
    created_at: Mapped[dt.datetime] = created_at()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()


class DelegationStatus(enum.StrEnum):
    invited = "invited"
    active = "active"
    revoked = "revoked"
    declined = "declined"


class Delegation(Base):
    """An adult (``citizen_id``) lets another adult's account act for them: by invitation, revocable, expiring."""

    __tablename__ = "delegations"

    id: Mapped[uuid.UUID] = uuid_pk()
    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    invited_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    delegate_phone: Mapped[str] = mapped_column(String(16), index=True)
    delegate_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[DelegationStatus] = mapped_column(
        Enum(DelegationStatus, name="delegation_status"),
        default=DelegationStatus.invited,
        server_default="invited",
    )
    expires_at: Mapped[dt.datetime] = mapped_column()
    created_at: Mapped[dt.datetime] = created_at()
    accepted_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
