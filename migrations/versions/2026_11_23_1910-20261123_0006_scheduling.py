"""Appointments: facility services, weekly templates and exceptions, slots, appointments, idempotency keys.

Revision ID: 20261123_0006
Revises: 20261123_0005
Create Date: 2026-11-23 19:03:54.299864
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_0006"
down_revision: str | None = "20261123_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_idempotency_keys_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "facility_services",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("facility_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("cancel_cutoff_minutes", sa.Integer(), server_default="120", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_facility_services_facility_id_facilities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facility_services")),
        sa.UniqueConstraint("facility_id", "kind", name=op.f("uq_facility_services_facility_id_kind")),
    )
    op.create_index(op.f("ix_facility_services_facility_id"), "facility_services", ["facility_id"], unique=False)
    op.create_table(
        "schedule_exceptions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("facility_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_schedule_exceptions_facility_id_facilities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_exceptions")),
        sa.UniqueConstraint("facility_id", "day", name=op.f("uq_schedule_exceptions_facility_id_day")),
    )
    op.create_table(
        "schedule_templates",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("slot_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("capacity", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("end_time > start_time", name=op.f("ck_schedule_templates_times")),
        sa.CheckConstraint(
            "slot_minutes BETWEEN 5 AND 240 AND capacity BETWEEN 1 AND 500", name=op.f("ck_schedule_templates_sizes")
        ),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_schedule_templates_weekday")),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["facility_services.id"],
            name=op.f("fk_schedule_templates_service_id_facility_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_templates")),
    )
    op.create_index(op.f("ix_schedule_templates_service_id"), "schedule_templates", ["service_id"], unique=False)
    op.create_table(
        "slots",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("facility_id", sa.UUID(), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_queue_number", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("booked >= 0 AND booked <= capacity", name=op.f("ck_slots_capacity")),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_slots_facility_id_facilities"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["facility_services.id"],
            name=op.f("fk_slots_service_id_facility_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slots")),
        sa.UniqueConstraint("service_id", "starts_at", name=op.f("uq_slots_service_id_starts_at")),
    )
    op.create_index("ix_slots_facility_time", "slots", ["facility_id", "starts_at"], unique=False)
    op.create_table(
        "appointments",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("slot_id", sa.UUID(), nullable=False),
        sa.Column("facility_id", sa.UUID(), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("queue_number", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("booked", "checked_in", "cancelled", "no_show", name="appointment_status"),
            server_default="booked",
            nullable=False,
        ),
        sa.Column("booked_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["booked_by"], ["accounts.id"], name=op.f("fk_appointments_booked_by_accounts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_appointments_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_appointments_facility_id_facilities")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["facility_services.id"], name=op.f("fk_appointments_service_id_facility_services")
        ),
        sa.ForeignKeyConstraint(["slot_id"], ["slots.id"], name=op.f("fk_appointments_slot_id_slots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    op.create_index(op.f("ix_appointments_citizen_id"), "appointments", ["citizen_id"], unique=False)
    op.create_index(op.f("ix_appointments_slot_id"), "appointments", ["slot_id"], unique=False)
    op.create_index(
        "uq_appointments_active_per_day",
        "appointments",
        ["citizen_id", "service_id", "day"],
        unique=True,
        postgresql_where=sa.text("status IN ('booked', 'checked_in')"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_appointments_active_per_day",
        table_name="appointments",
        postgresql_where=sa.text("status IN ('booked', 'checked_in')"),
    )
    op.drop_index(op.f("ix_appointments_slot_id"), table_name="appointments")
    op.drop_index(op.f("ix_appointments_citizen_id"), table_name="appointments")
    op.drop_table("appointments")
    op.drop_index("ix_slots_facility_time", table_name="slots")
    op.drop_table("slots")
    op.drop_index(op.f("ix_schedule_templates_service_id"), table_name="schedule_templates")
    op.drop_table("schedule_templates")
    op.drop_table("schedule_exceptions")
    op.drop_index(op.f("ix_facility_services_facility_id"), table_name="facility_services")
    op.drop_table("facility_services")
    op.drop_table("idempotency_keys")
    op.execute("DROP TYPE IF EXISTS appointment_status")
