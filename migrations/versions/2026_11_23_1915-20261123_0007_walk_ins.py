"""Walk-ins: the day's queue for people without an appointment (and Scan & Share at the counter).

Revision ID: 20261123_0007
Revises: 20261123_0006
Create Date: 2026-11-23 19:09:58.318903
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_0007"
down_revision: str | None = "20261123_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queue_counters",
        sa.Column("facility_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_queue_counters_facility_id_facilities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("facility_id", "day", name=op.f("pk_queue_counters")),
    )
    op.create_table(
        "walk_ins",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("facility_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=True),
        sa.Column("queue_number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_walk_ins_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_walk_ins_facility_id_facilities"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_walk_ins")),
        sa.UniqueConstraint(
            "facility_id", "day", "queue_number", name=op.f("uq_walk_ins_facility_id_day_queue_number")
        ),
    )
    op.create_index(op.f("ix_walk_ins_citizen_id"), "walk_ins", ["citizen_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_walk_ins_citizen_id"), table_name="walk_ins")
    op.drop_table("walk_ins")
    op.drop_table("queue_counters")
