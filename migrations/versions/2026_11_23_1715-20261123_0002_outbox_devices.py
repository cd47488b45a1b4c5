"""Notification outbox (also the inbox) and push devices; phr_uuid7() for keys made inside SQL.

Revision ID: 20261123_0002
Revises: 20261123_0001
Create Date: 2026-11-23 17:15:53.306083
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261123_0002"
down_revision: str | None = "20261123_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# PostgreSQL 16 has no uuidv7(): take a random v4 UUID, overwrite its first 48 bits with the Unix time in
# milliseconds, and turn the version nibble 0100 into 0111 by setting bits 52 and 53 (set_bit counts from the
# least significant bit of each byte). Used by INSERT … SELECT paths such as campaigns.
UUID7_FUNCTION = """
CREATE OR REPLACE FUNCTION phr_uuid7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$
"""


def upgrade() -> None:
    op.execute(UUID7_FUNCTION)
    op.create_table(
        "devices",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("installation_id", sa.String(length=100), nullable=False),
        sa.Column("token", sa.String(length=4096), nullable=False),
        sa.Column("platform", sa.Enum("android", "ios", "web", name="device_platform"), nullable=False),
        sa.Column("locale", sa.String(length=5), server_default="vi", nullable=False),
        sa.Column("app_version", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_devices_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("installation_id", name=op.f("uq_devices_installation_id")),
        sa.UniqueConstraint("token", name=op.f("uq_devices_token")),
    )
    op.create_index(op.f("ix_devices_account_id"), "devices", ["account_id"], unique=False)
    op.create_index(op.f("ix_devices_last_seen_at"), "devices", ["last_seen_at"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", sa.UUID(), server_default=sa.text("phr_uuid7()"), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("citizen_id", sa.UUID(), nullable=True),
        sa.Column("channel", sa.Enum("push", "sms", name="notification_channel"), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("template_key", sa.String(length=60), nullable=False),
        sa.Column(
            "params", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "sending", "sent", "failed", "expired", "cancelled", name="delivery_status"),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_id", sa.UUID(), nullable=True),
        sa.Column("last_error", sa.String(length=60), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("campaign_id", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "channel <> 'push' OR account_id IS NOT NULL", name=op.f("ck_notifications_push_needs_account")
        ),
        sa.CheckConstraint("account_id IS NOT NULL OR phone IS NOT NULL", name=op.f("ck_notifications_has_recipient")),
        sa.CheckConstraint("expires_at > not_before", name=op.f("ck_notifications_expires_after_start")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_notifications_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_notifications_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notifications_dedupe_key")),
    )
    op.create_index(op.f("ix_notifications_campaign_id"), "notifications", ["campaign_id"], unique=False)
    op.create_index(op.f("ix_notifications_citizen_id"), "notifications", ["citizen_id"], unique=False)
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_notifications_inbox",
        "notifications",
        ["account_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
        postgresql_where=sa.text("channel = 'push'"),
    )
    op.create_index(
        "ix_notifications_leased",
        "notifications",
        ["locked_until"],
        unique=False,
        postgresql_where=sa.text("status = 'sending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_leased", table_name="notifications", postgresql_where=sa.text("status = 'sending'"))
    op.drop_index("ix_notifications_inbox", table_name="notifications", postgresql_where=sa.text("channel = 'push'"))
    op.drop_index("ix_notifications_due", table_name="notifications", postgresql_where=sa.text("status = 'pending'"))
    op.drop_index(op.f("ix_notifications_citizen_id"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_campaign_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_devices_last_seen_at"), table_name="devices")
    op.drop_index(op.f("ix_devices_account_id"), table_name="devices")
    op.drop_table("devices")
    op.execute("DROP FUNCTION IF EXISTS phr_uuid7()")
    for enum_type in ("delivery_status", "notification_channel", "device_platform"):
        op.execute(f"DROP TYPE IF EXISTS {enum_type}")
