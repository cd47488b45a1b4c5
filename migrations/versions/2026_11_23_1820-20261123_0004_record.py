"""The health record: form 831 parts B–D, vitals, notes, corrections, history, exclusion receipts, the vaccine
catalogue (seeded), and a CHECK on every diagnosis-code column built from the exclusion policy.

Revision ID: 20261123_0004
Revises: 20261123_0003
Create Date: 2026-11-23 18:20:25.342820
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261123_0004"
down_revision: str | None = "20261123_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The catalogue at the time of Circular 10/2024/TT-BYT: programme vaccines (free, Tiêm chủng mở rộng) and common
# vaccines outside it. CVX codes let the FHIR export name them in a standard system too.
VACCINES = [
    ("HEPB0", "Viêm gan B sơ sinh", "Hepatitis B birth dose", True, "08"),
    ("BCG", "Lao (BCG)", "BCG", True, "19"),
    ("DPT-VGB-HIB", "Bạch hầu–ho gà–uốn ván–viêm gan B–Hib (5 trong 1)", "DTwP-HepB-Hib", True, "102"),
    ("BOPV", "Bại liệt uống (bOPV)", "Oral polio, bivalent", True, "178"),
    ("IPV", "Bại liệt tiêm (IPV)", "Inactivated polio", True, "10"),
    ("MEASLES", "Sởi", "Measles", True, "05"),
    ("MR", "Sởi–rubella", "Measles-rubella", True, "04"),
    ("DPT4", "Bạch hầu–ho gà–uốn ván (nhắc lại)", "DTP booster", True, "01"),
    ("JE", "Viêm não Nhật Bản", "Japanese encephalitis", True, "39"),
    ("TD", "Uốn ván–bạch hầu giảm liều (Td)", "Td", True, "09"),
    ("TT", "Uốn ván (UV)", "Tetanus toxoid", True, "35"),
    ("ROTA", "Rota", "Rotavirus", True, "122"),
    ("CHOLERA", "Tả", "Cholera", False, "26"),
    ("MUMPS", "Quai bị", "Mumps", False, "07"),
    ("MMR", "Sởi–quai bị–rubella", "MMR", False, "03"),
    ("FLU", "Cúm", "Influenza", False, "88"),
    ("TYPHOID", "Thương hàn", "Typhoid", False, "91"),
    ("HPV", "HPV", "HPV", False, "137"),
    ("PCV", "Phế cầu", "Pneumococcal conjugate", False, "133"),
    ("VARICELLA", "Thủy đậu", "Varicella", False, "21"),
    ("HEPA", "Viêm gan A", "Hepatitis A", False, "85"),
    ("RABIES", "Dại", "Rabies", False, "90"),
]
CODE_COLUMNS = ("record_conditions", "record_family_history", "record_diagnoses")
# core.records.exclusion.sql_code_pattern() of policy 2026.11.1, copied here: a migration must not change when
# the policy module does. The always-excluded HIV and drug-use codes, on the code without dots or spaces.
EXCLUDED_CODES = "^(B20|B21|B22|B23|B24|F024|F11|F12|F13|F14|F16|F18|F19|O355|O987|P044|P961|R75|R780|R781|R782|R783|R784|R785|Z114|Z206|Z21|Z503|Z715|Z717|Z722|Z813|Z830|Z864)"


def upgrade() -> None:
    op.create_table(
        "exclusion_receipts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("policy_version", sa.String(length=20), nullable=False),
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column("path", sa.String(length=120), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("facility_id", sa.UUID(), nullable=True),
        sa.Column("client_id", sa.UUID(), nullable=True),
        sa.Column("record_key_hash", sa.LargeBinary(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exclusion_receipts")),
    )
    op.create_index(op.f("ix_exclusion_receipts_rule_id"), "exclusion_receipts", ["rule_id"], unique=False)
    op.create_table(
        "vaccines",
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name_vi", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("programme", sa.Boolean(), nullable=False),
        sa.Column("cvx", sa.String(length=10), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_vaccines")),
    )
    op.create_table(
        "record_allergies",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("substance", sa.String(length=200), nullable=False),
        sa.Column("reaction", sa.Text(), nullable=True),
        sa.Column(
            "source",
            sa.Enum("self", "clinician", "his_import", "immunization_import", "station", name="record_source"),
            nullable=False,
        ),
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
            name=op.f("fk_record_allergies_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_allergies_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_allergies_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_record_allergies_facility_id_facilities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_allergies")),
    )
    op.create_index(op.f("ix_record_allergies_citizen_id"), "record_allergies", ["citizen_id"], unique=False)
    op.create_table(
        "record_birth",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("delivery", sa.String(length=20), nullable=True),
        sa.Column("premature", sa.Boolean(), nullable=True),
        sa.Column("asphyxia", sa.Boolean(), nullable=True),
        sa.Column("weight_g", sa.Integer(), nullable=True),
        sa.Column("length_cm", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("congenital_defects", sa.Text(), nullable=True),
        sa.Column("other", sa.Text(), nullable=True),
        sa.Column(
            "source",
            sa.Enum("self", "clinician", "his_import", "immunization_import", "station", name="record_source"),
            nullable=False,
        ),
        sa.Column("verified", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("author_account_id", sa.UUID(), nullable=True),
        sa.Column("author_clinician_id", sa.UUID(), nullable=True),
        sa.Column("facility_id", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_account_id"],
            ["accounts.id"],
            name=op.f("fk_record_birth_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_birth_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_birth_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_record_birth_facility_id_facilities"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_birth")),
    )
    op.create_index(op.f("ix_record_birth_citizen_id"), "record_birth", ["citizen_id"], unique=False)
    op.create_index("uq_record_birth_citizen", "record_birth", ["citizen_id"], unique=True)
    op.create_table(
        "record_conditions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("icd10", sa.String(length=10), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("since_year", sa.SmallInteger(), nullable=True),
        sa.Column(
            "source",
            sa.Enum("self", "clinician", "his_import", "immunization_import", "station", name="record_source"),
            nullable=False,
        ),
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
            name=op.f("fk_record_conditions_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_conditions_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_conditions_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_record_conditions_facility_id_facilities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_conditions")),
    )
    op.create_index(op.f("ix_record_conditions_citizen_id"), "record_conditions", ["citizen_id"], unique=False)
    op.create_table(
        "record_corrections",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("section", sa.String(length=30), nullable=False),
        sa.Column("item_id", sa.UUID(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "accepted", "rejected", name="correction_status"),
            server_default="open",
            nullable=False,
        ),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.UUID(), nullable=True),
        sa.Column("resolved_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_corrections_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["accounts.id"],
            name=op.f("fk_record_corrections_requested_by_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["clinicians.id"],
            name=op.f("fk_record_corrections_resolved_by_clinicians"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_corrections")),
    )
    op.create_index(op.f("ix_record_corrections_citizen_id"), "record_corrections", ["citizen_id"], unique=False)
    op.create_table(
        "record_disabilities",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column(
            "source",
            sa.Enum("self", "clinician", "his_import", "immunization_import", "station", name="record_source"),
            nullable=False,
        ),
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
            name=op.f("fk_record_disabilities_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_disabilities_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_disabilities_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_record_disabilities_facility_id_facilities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_disabilities")),
    )
    op.create_index(op.f("ix_record_disabilities_citizen_id"), "record_disabilities", ["citizen_id"], unique=False)
    op.create_table(
        "record_examinations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("examined_on", sa.Date(), nullable=False),
        sa.Column("history", sa.Text(), nullable=True),
        sa.Column("pulse", sa.SmallInteger(), nullable=True),
        sa.Column("temperature_c", sa.Numeric(precision=3, scale=1), nullable=True),
        sa.Column("bp_systolic", sa.SmallInteger(), nullable=True),
        sa.Column("bp_diastolic", sa.SmallInteger(), nullable=True),
        sa.Column("respiratory_rate", sa.SmallInteger(), nullable=True),
        sa.Column("weight_kg", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("height_cm", sa.Numeric(precision=5, scale=1), nullable=True),
        sa.Column("waist_cm", sa.Numeric(precision=5, scale=1), nullable=True),
        sa.Column(
            "vision", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "systems", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "paraclinical",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("conclusion", sa.Text(), nullable=True),
        sa.Column("advice", sa.Text(), nullable=True),
        sa.Column(
            "source",
            sa.Enum("self", "clinician", "his_import", "immunization_import", "station", name="record_source"),
            nullable=False,
        ),
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
            name=op.f("fk_record_examinations_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_examinations_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_examinations_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_record_examinations_facility_id_facilities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_examinations")),
    )
    op.create_index(
        "ix_record_examinations_citizen_date", "record_examinations", ["citizen_id", "examined_on"], unique=False
    )
    op.create_index(op.f("ix_record_examinations_citizen_id"), "record_examinations", ["citizen_id"], unique=False)
    op.create_table(
        "record_family_history",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("relation", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("icd10", sa.String(length=10), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column(
            "source",
            sa.Enum("self", "clinician", "his_import", "immunization_import", "station", name="record_source"),
            nullable=False,
        ),
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
            name=op.f("fk_record_family_history_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_family_history_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_record_family_history_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_record_family_history_facility_id_facilities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_family_history")),
    )
    op.create_index(op.f("ix_record_family_history_citizen_id"), "record_family_history", ["citizen_id"], unique=False)
    op.create_table(
        "record_history",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("section", sa.String(length=30), nullable=False),
        sa.Column("item_id", sa.UUID(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("actor_account_id", sa.UUID(), nullable=True),
        sa.Column("actor_clinician_id", sa.UUID(), nullable=True),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_history_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_history")),
    )
    op.create_index("ix_record_history_citizen_time", "record_history", ["citizen_id", "changed_at"], unique=False)
    op.create_table(
        "record_notes",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("written_on", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "source",
            sa.Enum("self", "clinician", "his_import", "immunization_import", "station", name="record_source"),
            nullable=False,
        ),
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
            name=op.f("fk_record_notes_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_notes_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_notes_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_record_notes_facility_id_facilities"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_notes")),
    )
    op.create_index(op.f("ix_record_notes_citizen_id"), "record_notes", ["citizen_id"], unique=False)
    op.create_table(
        "record_other",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column(
            "source",
            sa.Enum("self", "clinician", "his_import", "immunization_import", "station", name="record_source"),
            nullable=False,
        ),
        sa.Column("verified", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("author_account_id", sa.UUID(), nullable=True),
        sa.Column("author_clinician_id", sa.UUID(), nullable=True),
        sa.Column("facility_id", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_account_id"],
            ["accounts.id"],
            name=op.f("fk_record_other_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_other_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_other_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_record_other_facility_id_facilities"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_other")),
    )
    op.create_index(op.f("ix_record_other_citizen_id"), "record_other", ["citizen_id"], unique=False)
    op.create_index("uq_record_other_citizen", "record_other", ["citizen_id"], unique=True)
    op.create_table(
        "record_reproductive",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("contraception", sa.String(length=120), nullable=True),
        sa.Column("last_pregnancy_on", sa.Date(), nullable=True),
        sa.Column("pregnancies", sa.SmallInteger(), nullable=True),
        sa.Column("miscarriages", sa.SmallInteger(), nullable=True),
        sa.Column("abortions", sa.SmallInteger(), nullable=True),
        sa.Column("births_normal", sa.SmallInteger(), nullable=True),
        sa.Column("births_caesarean", sa.SmallInteger(), nullable=True),
        sa.Column("births_difficult", sa.SmallInteger(), nullable=True),
        sa.Column("births_full_term", sa.SmallInteger(), nullable=True),
        sa.Column("births_premature", sa.SmallInteger(), nullable=True),
        sa.Column("living_children", sa.SmallInteger(), nullable=True),
        sa.Column("gynaecological_disease", sa.Text(), nullable=True),
        sa.Column(
            "source",
            sa.Enum("self", "clinician", "his_import", "immunization_import", "station", name="record_source"),
            nullable=False,
        ),
        sa.Column("verified", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("author_account_id", sa.UUID(), nullable=True),
        sa.Column("author_clinician_id", sa.UUID(), nullable=True),
        sa.Column("facility_id", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_account_id"],
            ["accounts.id"],
            name=op.f("fk_record_reproductive_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_reproductive_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_reproductive_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_record_reproductive_facility_id_facilities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_reproductive")),
    )
    op.create_index(op.f("ix_record_reproductive_citizen_id"), "record_reproductive", ["citizen_id"], unique=False)
    op.create_index("uq_record_reproductive_citizen", "record_reproductive", ["citizen_id"], unique=True)
    op.create_table(
        "record_risk_factors",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("smoking", sa.String(length=20), nullable=True),
        sa.Column("alcohol", sa.String(length=20), nullable=True),
        sa.Column("alcohol_glasses_per_day", sa.SmallInteger(), nullable=True),
        sa.Column("physical_activity", sa.String(length=20), nullable=True),
        sa.Column("exposures", sa.Text(), nullable=True),
        sa.Column("exposure_duration", sa.String(length=120), nullable=True),
        sa.Column("toilet", sa.String(length=20), nullable=True),
        sa.Column("other", sa.Text(), nullable=True),
        sa.Column(
            "source",
            sa.Enum("self", "clinician", "his_import", "immunization_import", "station", name="record_source"),
            nullable=False,
        ),
        sa.Column("verified", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("author_account_id", sa.UUID(), nullable=True),
        sa.Column("author_clinician_id", sa.UUID(), nullable=True),
        sa.Column("facility_id", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_account_id"],
            ["accounts.id"],
            name=op.f("fk_record_risk_factors_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_risk_factors_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_risk_factors_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_record_risk_factors_facility_id_facilities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_risk_factors")),
    )
    op.create_index(op.f("ix_record_risk_factors_citizen_id"), "record_risk_factors", ["citizen_id"], unique=False)
    op.create_index("uq_record_risk_factors_citizen", "record_risk_factors", ["citizen_id"], unique=True)
    op.create_table(
        "record_surgeries",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("body_part", sa.String(length=200), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "source",
            sa.Enum("self", "clinician", "his_import", "immunization_import", "station", name="record_source"),
            nullable=False,
        ),
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
            name=op.f("fk_record_surgeries_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_surgeries_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_surgeries_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_record_surgeries_facility_id_facilities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_surgeries")),
    )
    op.create_index(op.f("ix_record_surgeries_citizen_id"), "record_surgeries", ["citizen_id"], unique=False)
    op.create_table(
        "record_vaccinations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("vaccine_code", sa.String(length=20), nullable=False),
        sa.Column("dose_number", sa.SmallInteger(), nullable=True),
        sa.Column("given_on", sa.Date(), nullable=True),
        sa.Column("not_given_reason", sa.Text(), nullable=True),
        sa.Column("reaction", sa.Text(), nullable=True),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("lot", sa.String(length=60), nullable=True),
        sa.Column("pregnancy_month", sa.SmallInteger(), nullable=True),
        sa.Column("source_ref", sa.String(length=120), nullable=True),
        sa.Column(
            "source",
            sa.Enum("self", "clinician", "his_import", "immunization_import", "station", name="record_source"),
            nullable=False,
        ),
        sa.Column("verified", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("author_account_id", sa.UUID(), nullable=True),
        sa.Column("author_clinician_id", sa.UUID(), nullable=True),
        sa.Column("facility_id", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "given_on IS NOT NULL OR not_given_reason IS NOT NULL", name=op.f("ck_record_vaccinations_given_or_reason")
        ),
        sa.ForeignKeyConstraint(
            ["author_account_id"],
            ["accounts.id"],
            name=op.f("fk_record_vaccinations_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_vaccinations_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_vaccinations_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_record_vaccinations_facility_id_facilities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["vaccine_code"], ["vaccines.code"], name=op.f("fk_record_vaccinations_vaccine_code_vaccines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_vaccinations")),
    )
    op.create_index(op.f("ix_record_vaccinations_citizen_id"), "record_vaccinations", ["citizen_id"], unique=False)
    op.create_index(
        "uq_record_vaccinations_source",
        "record_vaccinations",
        ["source_ref"],
        unique=True,
        postgresql_where=sa.text("source_ref IS NOT NULL"),
    )
    op.create_table(
        "record_vitals",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Numeric(precision=6, scale=1), nullable=False),
        sa.Column("value2", sa.Numeric(precision=6, scale=1), nullable=True),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column(
            "source",
            sa.Enum("self", "clinician", "his_import", "immunization_import", "station", name="record_source"),
            nullable=False,
        ),
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
            name=op.f("fk_record_vitals_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_vitals_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_vitals_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_record_vitals_facility_id_facilities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_vitals")),
    )
    op.create_index(op.f("ix_record_vitals_citizen_id"), "record_vitals", ["citizen_id"], unique=False)
    op.create_index("ix_record_vitals_citizen_time", "record_vitals", ["citizen_id", "measured_at"], unique=False)
    op.create_table(
        "record_diagnoses",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("examination_id", sa.UUID(), nullable=True),
        sa.Column("icd10", sa.String(length=10), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("diagnosed_on", sa.Date(), nullable=False),
        sa.Column("main", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "source",
            sa.Enum("self", "clinician", "his_import", "immunization_import", "station", name="record_source"),
            nullable=False,
        ),
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
            name=op.f("fk_record_diagnoses_author_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_clinician_id"],
            ["clinicians.id"],
            name=op.f("fk_record_diagnoses_author_clinician_id_clinicians"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_record_diagnoses_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["examination_id"],
            ["record_examinations.id"],
            name=op.f("fk_record_diagnoses_examination_id_record_examinations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_record_diagnoses_facility_id_facilities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_diagnoses")),
    )
    op.create_index(op.f("ix_record_diagnoses_citizen_id"), "record_diagnoses", ["citizen_id"], unique=False)
    op.create_index(op.f("ix_record_diagnoses_examination_id"), "record_diagnoses", ["examination_id"], unique=False)
    op.bulk_insert(
        sa.table(
            "vaccines",
            sa.column("code", sa.String),
            sa.column("name_vi", sa.String),
            sa.column("name_en", sa.String),
            sa.column("programme", sa.Boolean),
            sa.column("cvx", sa.String),
        ),
        [dict(zip(("code", "name_vi", "name_en", "programme", "cvx"), row, strict=True)) for row in VACCINES],
    )
    for table in CODE_COLUMNS:
        op.create_check_constraint(
            f"ck_{table}_icd10_not_excluded",
            table,
            sa.text(f"icd10 IS NULL OR upper(regexp_replace(icd10, '[^A-Za-z0-9]', '', 'g')) !~ '{EXCLUDED_CODES}'"),
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_record_diagnoses_examination_id"), table_name="record_diagnoses")
    op.drop_index(op.f("ix_record_diagnoses_citizen_id"), table_name="record_diagnoses")
    op.drop_table("record_diagnoses")
    op.drop_index("ix_record_vitals_citizen_time", table_name="record_vitals")
    op.drop_index(op.f("ix_record_vitals_citizen_id"), table_name="record_vitals")
    op.drop_table("record_vitals")
    op.drop_index(
        "uq_record_vaccinations_source",
        table_name="record_vaccinations",
        postgresql_where=sa.text("source_ref IS NOT NULL"),
    )
    op.drop_index(op.f("ix_record_vaccinations_citizen_id"), table_name="record_vaccinations")
    op.drop_table("record_vaccinations")
    op.drop_index(op.f("ix_record_surgeries_citizen_id"), table_name="record_surgeries")
    op.drop_table("record_surgeries")
    op.drop_index("uq_record_risk_factors_citizen", table_name="record_risk_factors")
    op.drop_index(op.f("ix_record_risk_factors_citizen_id"), table_name="record_risk_factors")
    op.drop_table("record_risk_factors")
    op.drop_index("uq_record_reproductive_citizen", table_name="record_reproductive")
    op.drop_index(op.f("ix_record_reproductive_citizen_id"), table_name="record_reproductive")
    op.drop_table("record_reproductive")
    op.drop_index("uq_record_other_citizen", table_name="record_other")
    op.drop_index(op.f("ix_record_other_citizen_id"), table_name="record_other")
    op.drop_table("record_other")
    op.drop_index(op.f("ix_record_notes_citizen_id"), table_name="record_notes")
    op.drop_table("record_notes")
    op.drop_index("ix_record_history_citizen_time", table_name="record_history")
    op.drop_table("record_history")
    op.drop_index(op.f("ix_record_family_history_citizen_id"), table_name="record_family_history")
    op.drop_table("record_family_history")
    op.drop_index(op.f("ix_record_examinations_citizen_id"), table_name="record_examinations")
    op.drop_index("ix_record_examinations_citizen_date", table_name="record_examinations")
    op.drop_table("record_examinations")
    op.drop_index(op.f("ix_record_disabilities_citizen_id"), table_name="record_disabilities")
    op.drop_table("record_disabilities")
    op.drop_index(op.f("ix_record_corrections_citizen_id"), table_name="record_corrections")
    op.drop_table("record_corrections")
    op.drop_index(op.f("ix_record_conditions_citizen_id"), table_name="record_conditions")
    op.drop_table("record_conditions")
    op.drop_index("uq_record_birth_citizen", table_name="record_birth")
    op.drop_index(op.f("ix_record_birth_citizen_id"), table_name="record_birth")
    op.drop_table("record_birth")
    op.drop_index(op.f("ix_record_allergies_citizen_id"), table_name="record_allergies")
    op.drop_table("record_allergies")
    op.drop_table("vaccines")
    op.drop_index(op.f("ix_exclusion_receipts_rule_id"), table_name="exclusion_receipts")
    op.drop_table("exclusion_receipts")
    for enum_type in ("record_source", "correction_status"):
        op.execute(f"DROP TYPE IF EXISTS {enum_type}")
