"""Immunization status per series, the daily reminder sweep log, station campaigns, expected delivery date.

Also adds the hexavalent (6-in-1) vaccine to the catalogue: it counts for both DPT-VGB-Hib and IPV.

Revision ID: 20261123_0008
Revises: 20261123_0007
Create Date: 2026-11-23 20:32:24.698036
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261123_0008"
down_revision: str | None = "20261123_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Outside the programme (paid), given instead of 5-in-1 + IPV; core/immunization/schedule.py counts it for both.
HEXAVALENT = (
    "DPT-VGB-HIB-IPV",
    "Bạch hầu–ho gà–uốn ván–bại liệt–viêm gan B–Hib (6 trong 1)",
    "DTaP-IPV-Hib-HepB",
    False,
    "146",
)


def upgrade() -> None:
    op.create_table(
        "reminder_sweeps",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "counts", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_reminder_sweeps")),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("facility_id", sa.UUID(), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("cohort", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("text_vi", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=True),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum("draft", "launched", "paused", "cancelled", name="campaign_status"),
            server_default="draft",
            nullable=False,
        ),
        sa.Column("targeted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("launched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pause_reason", sa.String(length=60), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("targeted >= 0", name=op.f("ck_campaigns_targeted_not_negative")),
        sa.ForeignKeyConstraint(["created_by"], ["clinicians.id"], name=op.f("fk_campaigns_created_by_clinicians")),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"], name=op.f("fk_campaigns_facility_id_facilities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index("ix_campaigns_facility_created", "campaigns", ["facility_id", "created_at"], unique=False)
    op.create_table(
        "immunization_due",
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("series", sa.String(length=20), nullable=False),
        sa.Column("schedule_version", sa.String(length=20), nullable=False),
        sa.Column("doses_counted", sa.SmallInteger(), nullable=False),
        sa.Column("too_early", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("next_dose", sa.SmallInteger(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("overdue_from", sa.Date(), nullable=True),
        sa.Column("status", sa.Enum("upcoming", "due", "overdue", "complete", name="dose_status"), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_immunization_due_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("citizen_id", "series", name=op.f("pk_immunization_due")),
    )
    op.create_index("ix_immunization_due_series_status", "immunization_due", ["series", "status"], unique=False)
    op.create_index("ix_immunization_due_status_due_on", "immunization_due", ["status", "due_on"], unique=False)
    op.add_column("record_reproductive", sa.Column("expected_delivery_on", sa.Date(), nullable=True))
    vaccines = sa.table(
        "vaccines",
        sa.column("code", sa.String),
        sa.column("name_vi", sa.String),
        sa.column("name_en", sa.String),
        sa.column("programme", sa.Boolean),
        sa.column("cvx", sa.String),
    )
    op.bulk_insert(vaccines, [dict(zip(("code", "name_vi", "name_en", "programme", "cvx"), HEXAVALENT, strict=True))])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM vaccines WHERE code = :code").bindparams(code=HEXAVALENT[0]))
    op.drop_column("record_reproductive", "expected_delivery_on")
    op.drop_index("ix_immunization_due_status_due_on", table_name="immunization_due")
    op.drop_index("ix_immunization_due_series_status", table_name="immunization_due")
    op.drop_table("immunization_due")
    op.drop_index("ix_campaigns_facility_created", table_name="campaigns")
    op.drop_table("campaigns")
    op.drop_table("reminder_sweeps")
    op.execute("DROP TYPE IF EXISTS dose_status")
    op.execute("DROP TYPE IF EXISTS campaign_status")
