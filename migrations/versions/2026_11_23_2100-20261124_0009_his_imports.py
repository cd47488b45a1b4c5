"""HIS episodes (XML 130): encounters in the record, the import ledger, pending matches for stations.

The encounter's ICD-10 columns get the CHECK of migration 0004 (excluded HIV and drug-use codes cannot be stored);
exclusion receipts get an index on the source record's hash, which is how a repeated episode is recognised.

Revision ID: 20261124_0009
Revises: 20261123_0008
Create Date: 2026-11-23 20:48:12.093289
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261124_0009"
down_revision: str | None = "20261123_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# core.records.exclusion.sql_code_pattern() of policy 2026.11.1, as migration 0004 has it: a migration must not
# change when the policy module does. The always-excluded HIV and drug-use codes, on the code without dots or spaces.
EXCLUDED_CODES = "^(B20|B21|B22|B23|B24|F024|F11|F12|F13|F14|F16|F18|F19|O355|O987|P044|P961|R75|R780|R781|R782|R783|R784|R785|Z114|Z206|Z21|Z503|Z715|Z717|Z722|Z813|Z830|Z864)"
# secondary_icd10 is a ';'-joined list (as MA_BENH_KT): every member is checked, not only the first.
EXCLUDED_IN_LIST = "(^|;)" + EXCLUDED_CODES[1:]


def upgrade() -> None:
    op.create_table(
        "his_pending_episodes",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("facility_id", sa.UUID(), nullable=True),
        sa.Column("source_facility_code", sa.String(length=5), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("episode", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("suggested_citizen_id", sa.UUID(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("open", "resolved", "dismissed", name="his_pending_status"),
            server_default="open",
            nullable=False,
        ),
        sa.Column("resolved_citizen_id", sa.UUID(), nullable=True),
        sa.Column("resolved_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_his_pending_episodes_facility_id_facilities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["clinicians.id"],
            name=op.f("fk_his_pending_episodes_resolved_by_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_citizen_id"],
            ["citizens.id"],
            name=op.f("fk_his_pending_episodes_resolved_citizen_id_citizens"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["suggested_citizen_id"],
            ["citizens.id"],
            name=op.f("fk_his_pending_episodes_suggested_citizen_id_citizens"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_his_pending_episodes")),
    )
    op.create_index(
        "ix_his_pending_episodes_facility_status", "his_pending_episodes", ["facility_id", "status"], unique=False
    )
    op.create_table(
        "record_encounters",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("facility_code", sa.String(length=5), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=True),
        sa.Column("department", sa.String(length=50), nullable=True),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("discharged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("treatment_days", sa.SmallInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=4), nullable=True),
        sa.Column("discharge_type", sa.String(length=4), nullable=True),
        sa.Column("main_icd10", sa.String(length=10), nullable=True),
        sa.Column("secondary_icd10", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("admission_diagnosis", sa.Text(), nullable=True),
        sa.Column("discharge_diagnosis", sa.Text(), nullable=True),
        sa.Column("treatment", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("follow_up_on", sa.Date(), nullable=True),
        sa.Column(
            "documents", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "medications",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "services", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column(
            "lab_results",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("source", postgresql.ENUM(name="record_source", create_type=False), nullable=False),
        sa.Column("verified", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("author_account_id", sa.UUID(), nullable=True),
        sa.Column("author_clinician_id", sa.UUID(), nullable=True),
        sa.Column("facility_id", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_account_id"],
            ["accounts.id"],
            name=op.f("fk_record_encounters_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_encounters_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_encounters_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_record_encounters_facility_id_facilities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_encounters")),
    )
    op.create_index(
        "ix_record_encounters_citizen_admitted", "record_encounters", ["citizen_id", "admitted_at"], unique=False
    )
    op.create_index(op.f("ix_record_encounters_citizen_id"), "record_encounters", ["citizen_id"], unique=False)
    op.create_table(
        "his_imports",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("record_key_hash", sa.LargeBinary(), nullable=False),
        sa.Column("facility_code", sa.String(length=5), nullable=False),
        sa.Column("facility_id", sa.UUID(), nullable=True),
        sa.Column("client_id", sa.UUID(), nullable=True),
        sa.Column(
            "status", sa.Enum("imported", "pending_match", "dismissed", name="his_import_status"), nullable=False
        ),
        sa.Column("encounter_id", sa.UUID(), nullable=True),
        sa.Column("pending_id", sa.UUID(), nullable=True),
        sa.Column("matched_by", sa.String(length=10), nullable=True),
        sa.Column("policy_version", sa.String(length=20), nullable=False),
        sa.Column("kept", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("warnings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["machine_clients.id"],
            name=op.f("fk_his_imports_client_id_machine_clients"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["encounter_id"],
            ["record_encounters.id"],
            name=op.f("fk_his_imports_encounter_id_record_encounters"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_his_imports_facility_id_facilities"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["pending_id"],
            ["his_pending_episodes.id"],
            name=op.f("fk_his_imports_pending_id_his_pending_episodes"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_his_imports")),
        sa.UniqueConstraint("record_key_hash", name=op.f("uq_his_imports_record_key_hash")),
    )
    op.create_index(op.f("ix_his_imports_pending_id"), "his_imports", ["pending_id"], unique=False)
    op.create_index("ix_exclusion_receipts_record_key_hash", "exclusion_receipts", ["record_key_hash"], unique=False)
    op.create_check_constraint(
        "ck_record_encounters_main_icd10_not_excluded",
        "record_encounters",
        sa.text(
            f"main_icd10 IS NULL OR upper(regexp_replace(main_icd10, '[^A-Za-z0-9]', '', 'g')) !~ '{EXCLUDED_CODES}'"
        ),
    )
    op.create_check_constraint(
        "ck_record_encounters_secondary_icd10_not_excluded",
        "record_encounters",
        sa.text(
            "secondary_icd10 IS NULL OR "
            f"upper(regexp_replace(secondary_icd10, '[^A-Za-z0-9;]', '', 'g')) !~ '{EXCLUDED_IN_LIST}'"
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_exclusion_receipts_record_key_hash", table_name="exclusion_receipts")
    op.drop_index(op.f("ix_his_imports_pending_id"), table_name="his_imports")
    op.drop_table("his_imports")
    op.drop_index(op.f("ix_record_encounters_citizen_id"), table_name="record_encounters")
    op.drop_index("ix_record_encounters_citizen_admitted", table_name="record_encounters")
    op.drop_table("record_encounters")
    op.drop_index("ix_his_pending_episodes_facility_status", table_name="his_pending_episodes")
    op.drop_table("his_pending_episodes")
    for enum_type in ("his_import_status", "his_pending_status"):
        op.execute(f"DROP TYPE IF EXISTS {enum_type}")
