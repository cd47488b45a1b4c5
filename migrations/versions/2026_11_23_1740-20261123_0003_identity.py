"""Identity and access: SMS challenges and counters, sessions and refresh tokens, device keys, account links,
guardianship, delegation, clinician TOTP and recovery codes, machine clients.

Revision ID: 20261123_0003
Revises: 20261123_0002
Create Date: 2026-11-23 17:36:36.395460
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261123_0003"
down_revision: str | None = "20261123_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "otp_challenges",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("attempts BETWEEN 0 AND 5", name=op.f("ck_otp_challenges_attempts_cap")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_challenges")),
    )
    op.create_index(op.f("ix_otp_challenges_phone"), "otp_challenges", ["phone"], unique=False)
    op.create_table(
        "phone_guards",
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locks", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sends", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_send_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_phone_guards")),
    )
    op.create_table(
        "rate_counters",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_counters")),
    )
    op.create_table(
        "device_keys",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("algorithm", sa.String(length=10), nullable=False),
        sa.Column("public_jwk", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_device_keys_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_keys")),
    )
    op.create_index(op.f("ix_device_keys_account_id"), "device_keys", ["account_id"], unique=False)
    op.create_table(
        "device_challenges",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("device_key_id", sa.UUID(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_key_id"],
            ["device_keys.id"],
            name=op.f("fk_device_challenges_device_key_id_device_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_challenges")),
    )
    op.create_index(op.f("ix_device_challenges_device_key_id"), "device_challenges", ["device_key_id"], unique=False)
    op.create_table(
        "machine_clients",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("client_id", sa.String(length=80), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("facility_id", sa.UUID(), nullable=True),
        sa.Column("scopes", postgresql.ARRAY(sa.String(length=60)), server_default="{}", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_machine_clients_facility_id_facilities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machine_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_machine_clients_client_id")),
    )
    op.create_table(
        "account_citizens",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_citizens_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_account_citizens_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", "citizen_id", name=op.f("pk_account_citizens")),
    )
    op.create_index(op.f("ix_account_citizens_citizen_id"), "account_citizens", ["citizen_id"], unique=False)
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Enum("account", "clinician", "machine", name="subject_kind"), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=True),
        sa.Column("clinician_id", sa.UUID(), nullable=True),
        sa.Column("method", sa.String(length=30), nullable=False),
        sa.Column("device_key_id", sa.UUID(), nullable=True),
        sa.Column("client_label", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_auth_sessions_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_auth_sessions_clinician_id_clinicians"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
    )
    op.create_index(
        "ix_auth_sessions_account",
        "auth_sessions",
        ["account_id"],
        unique=False,
        postgresql_where=sa.text("account_id IS NOT NULL"),
    )
    op.create_index(
        "ix_auth_sessions_clinician",
        "auth_sessions",
        ["clinician_id"],
        unique=False,
        postgresql_where=sa.text("clinician_id IS NOT NULL"),
    )
    op.create_table(
        "clinician_login_challenges",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("clinician_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_clinician_login_challenges_clinician_id_clinicians"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinician_login_challenges")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_clinician_login_challenges_token_hash")),
    )
    op.create_index(
        op.f("ix_clinician_login_challenges_clinician_id"), "clinician_login_challenges", ["clinician_id"], unique=False
    )
    op.create_table(
        "delegations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("invited_by", sa.UUID(), nullable=False),
        sa.Column("delegate_phone", sa.String(length=16), nullable=False),
        sa.Column("delegate_account_id", sa.UUID(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("invited", "active", "revoked", "declined", name="delegation_status"),
            server_default="invited",
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_delegations_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["delegate_account_id"],
            ["accounts.id"],
            name=op.f("fk_delegations_delegate_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["accounts.id"], name=op.f("fk_delegations_invited_by_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegations")),
    )
    op.create_index(op.f("ix_delegations_citizen_id"), "delegations", ["citizen_id"], unique=False)
    op.create_index(op.f("ix_delegations_delegate_account_id"), "delegations", ["delegate_account_id"], unique=False)
    op.create_index(op.f("ix_delegations_delegate_phone"), "delegations", ["delegate_phone"], unique=False)
    op.create_table(
        "guardianships",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("guardian_citizen_id", sa.UUID(), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("relation", sa.String(length=30), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("guardian_citizen_id <> citizen_id", name=op.f("ck_guardianships_not_self")),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_guardianships_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["created_by"], ["clinicians.id"], name=op.f("fk_guardianships_created_by_clinicians")),
        sa.ForeignKeyConstraint(
            ["guardian_citizen_id"],
            ["citizens.id"],
            name=op.f("fk_guardianships_guardian_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardianships")),
    )
    op.create_index(op.f("ix_guardianships_citizen_id"), "guardianships", ["citizen_id"], unique=False)
    op.create_index(
        op.f("ix_guardianships_guardian_citizen_id"), "guardianships", ["guardian_citizen_id"], unique=False
    )
    op.create_index(
        "uq_guardianships_live",
        "guardianships",
        ["guardian_citizen_id", "citizen_id"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "link_requests",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "approved", "rejected", name="link_request_status"),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("resolved_by", sa.UUID(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_link_requests_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_link_requests_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["clinicians.id"], name=op.f("fk_link_requests_resolved_by_clinicians")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_requests")),
    )
    op.create_index(op.f("ix_link_requests_account_id"), "link_requests", ["account_id"], unique=False)
    op.create_index(op.f("ix_link_requests_citizen_id"), "link_requests", ["citizen_id"], unique=False)
    op.create_index(
        "uq_link_requests_open",
        "link_requests",
        ["account_id", "citizen_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("clinician_id", sa.UUID(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_recovery_codes_clinician_id_clinicians"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_recovery_codes_code_hash")),
    )
    op.create_index(op.f("ix_recovery_codes_clinician_id"), "recovery_codes", ["clinician_id"], unique=False)
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_sessions.id"],
            name=op.f("fk_refresh_tokens_session_id_auth_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    op.create_index(op.f("ix_refresh_tokens_session_id"), "refresh_tokens", ["session_id"], unique=False)
    op.add_column("clinicians", sa.Column("totp_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("clinicians", sa.Column("totp_pending_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("clinicians", sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("clinicians", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.add_column("clinicians", sa.Column("oidc_subject", sa.String(length=255), nullable=True))
    op.add_column("clinicians", sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
    op.add_column("clinicians", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.create_unique_constraint(op.f("uq_clinicians_oidc_subject"), "clinicians", ["oidc_subject"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_clinicians_oidc_subject"), "clinicians", type_="unique")
    op.drop_column("clinicians", "locked_until")
    op.drop_column("clinicians", "failed_logins")
    op.drop_column("clinicians", "oidc_subject")
    op.drop_column("clinicians", "totp_last_step")
    op.drop_column("clinicians", "totp_enabled_at")
    op.drop_column("clinicians", "totp_pending_sealed")
    op.drop_column("clinicians", "totp_sealed")
    op.drop_index(op.f("ix_refresh_tokens_session_id"), table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_index(op.f("ix_recovery_codes_clinician_id"), table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_index("uq_link_requests_open", table_name="link_requests", postgresql_where=sa.text("status = 'pending'"))
    op.drop_index(op.f("ix_link_requests_citizen_id"), table_name="link_requests")
    op.drop_index(op.f("ix_link_requests_account_id"), table_name="link_requests")
    op.drop_table("link_requests")
    op.drop_index("uq_guardianships_live", table_name="guardianships", postgresql_where=sa.text("revoked_at IS NULL"))
    op.drop_index(op.f("ix_guardianships_guardian_citizen_id"), table_name="guardianships")
    op.drop_index(op.f("ix_guardianships_citizen_id"), table_name="guardianships")
    op.drop_table("guardianships")
    op.drop_index(op.f("ix_delegations_delegate_phone"), table_name="delegations")
    op.drop_index(op.f("ix_delegations_delegate_account_id"), table_name="delegations")
    op.drop_index(op.f("ix_delegations_citizen_id"), table_name="delegations")
    op.drop_table("delegations")
    op.drop_index(op.f("ix_clinician_login_challenges_clinician_id"), table_name="clinician_login_challenges")
    op.drop_table("clinician_login_challenges")
    op.drop_index(
        "ix_auth_sessions_clinician", table_name="auth_sessions", postgresql_where=sa.text("clinician_id IS NOT NULL")
    )
    op.drop_index(
        "ix_auth_sessions_account", table_name="auth_sessions", postgresql_where=sa.text("account_id IS NOT NULL")
    )
    op.drop_table("auth_sessions")
    op.drop_index(op.f("ix_account_citizens_citizen_id"), table_name="account_citizens")
    op.drop_table("account_citizens")
    op.drop_table("machine_clients")
    op.drop_index(op.f("ix_device_challenges_device_key_id"), table_name="device_challenges")
    op.drop_table("device_challenges")
    op.drop_index(op.f("ix_device_keys_account_id"), table_name="device_keys")
    op.drop_table("device_keys")
    op.drop_table("rate_counters")
    op.drop_table("phone_guards")
    op.drop_index(op.f("ix_otp_challenges_phone"), table_name="otp_challenges")
    op.drop_table("otp_challenges")
    for enum_type in ("subject_kind", "link_request_status", "delegation_status"):
        op.execute(f"DROP TYPE IF EXISTS {enum_type}")
