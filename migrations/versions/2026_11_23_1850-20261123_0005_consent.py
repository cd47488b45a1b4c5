"""Consent: shares (QR tokens), grants and the access log.

Revision ID: 20261123_0005
Revises: 20261123_0004
Create Date: 2026-11-23 18:45:58.403319
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261123_0005"
down_revision: str | None = "20261123_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_shares",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("sections", postgresql.ARRAY(sa.String(length=30)), nullable=False),
        sa.Column("access", sa.String(length=12), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=12), nullable=False),
        sa.Column("passcode_hash", sa.LargeBinary(), nullable=True),
        sa.Column("passcode_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("redeem_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("access IN ('read', 'read_write')", name=op.f("ck_consent_shares_access_kind")),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_consent_shares_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["accounts.id"], name=op.f("fk_consent_shares_created_by_accounts"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_shares")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_consent_shares_token_hash")),
    )
    op.create_index(op.f("ix_consent_shares_citizen_id"), "consent_shares", ["citizen_id"], unique=False)
    op.create_table(
        "consent_grants",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("share_id", sa.UUID(), nullable=True),
        sa.Column("clinician_id", sa.UUID(), nullable=False),
        sa.Column("facility_id", sa.UUID(), nullable=False),
        sa.Column("sections", postgresql.ARRAY(sa.String(length=30)), nullable=False),
        sa.Column("access", sa.String(length=12), nullable=False),
        sa.Column("purpose", sa.String(length=12), nullable=False),
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("emergency_reason", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("access IN ('read', 'read_write')", name=op.f("ck_consent_grants_access_kind")),
        sa.CheckConstraint("origin IN ('qr', 'emergency', 'guardian')", name=op.f("ck_consent_grants_origin_kind")),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_consent_grants_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_consent_grants_clinician_id_clinicians"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_consent_grants_facility_id_facilities")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["clinicians.id"],
            name=op.f("fk_consent_grants_reviewed_by_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["share_id"],
            ["consent_shares.id"],
            name=op.f("fk_consent_grants_share_id_consent_shares"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_grants")),
        sa.UniqueConstraint("share_id", name=op.f("uq_consent_grants_share_id")),
    )
    op.create_index(op.f("ix_consent_grants_citizen_id"), "consent_grants", ["citizen_id"], unique=False)
    op.create_index(
        "ix_consent_grants_clinician_live",
        "consent_grants",
        ["clinician_id", "expires_at"],
        unique=False,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "access_events",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("grant_id", sa.UUID(), nullable=True),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_clinician_id", sa.UUID(), nullable=True),
        sa.Column("actor_account_id", sa.UUID(), nullable=True),
        sa.Column("actor_name", sa.String(length=120), nullable=False),
        sa.Column("actor_licence", sa.String(length=40), nullable=True),
        sa.Column("facility_name", sa.String(length=200), nullable=True),
        sa.Column("sections", postgresql.ARRAY(sa.String(length=30)), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_access_events_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["consent_grants.id"],
            name=op.f("fk_access_events_grant_id_consent_grants"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_events")),
    )
    op.create_index("ix_access_events_citizen_time", "access_events", ["citizen_id", "at"], unique=False)
    op.create_index(op.f("ix_access_events_grant_id"), "access_events", ["grant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_access_events_grant_id"), table_name="access_events")
    op.drop_index("ix_access_events_citizen_time", table_name="access_events")
    op.drop_table("access_events")
    op.drop_index(
        "ix_consent_grants_clinician_live", table_name="consent_grants", postgresql_where=sa.text("revoked_at IS NULL")
    )
    op.drop_index(op.f("ix_consent_grants_citizen_id"), table_name="consent_grants")
    op.drop_table("consent_grants")
    op.drop_index(op.f("ix_consent_shares_citizen_id"), table_name="consent_shares")
    op.drop_table("consent_shares")
