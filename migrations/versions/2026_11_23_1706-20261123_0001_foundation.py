"""Foundation: administrative units, facilities, households, citizens (part A), accounts, clinicians.

Revision ID: 20261123_0001
Revises:
Create Date: 2026-11-23 17:06:45.348179
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=5), server_default="vi", nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "locked", "closed", name="account_status"),
            server_default="active",
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("phone ~ '^\\+84[0-9]{9}$'", name=op.f("ck_accounts_phone_e164")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("phone", name=op.f("uq_accounts_phone")),
    )
    op.create_table(
        "admin_units",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("level", sa.Enum("province", "district", "commune", name="unit_level"), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("parent_code", sa.String(length=5), nullable=True),
        sa.CheckConstraint("code ~ '^[0-9]{2,5}$'", name=op.f("ck_admin_units_code_digits")),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["admin_units.code"],
            name=op.f("fk_admin_units_parent_code_admin_units"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_admin_units")),
    )
    op.create_index(op.f("ix_admin_units_parent_code"), "admin_units", ["parent_code"], unique=False)
    op.create_table(
        "facilities",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("health_station", "district_center", "hospital", "clinic", name="facility_kind"),
            nullable=False,
        ),
        sa.Column("commune_code", sa.String(length=5), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("code ~ '^[0-9A-Z]{5}$'", name=op.f("ck_facilities_code_format")),
        sa.ForeignKeyConstraint(
            ["commune_code"], ["admin_units.code"], name=op.f("fk_facilities_commune_code_admin_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facilities")),
        sa.UniqueConstraint("code", name=op.f("uq_facilities_code")),
    )
    op.create_index(op.f("ix_facilities_commune_code"), "facilities", ["commune_code"], unique=False)
    op.create_table(
        "households",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("hamlet", sa.String(length=120), nullable=True),
        sa.Column("street", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_code"], ["admin_units.code"], name=op.f("fk_households_commune_code_admin_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
        sa.UniqueConstraint("code", name=op.f("uq_households_code")),
    )
    op.create_index(op.f("ix_households_commune_code"), "households", ["commune_code"], unique=False)
    op.create_table(
        "citizens",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=True),
        sa.Column("relation_to_head", sa.String(length=40), nullable=True),
        sa.Column("full_name", sa.String(length=120), nullable=False),
        sa.Column("sex", sa.Enum("male", "female", name="sex"), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("birth_province_code", sa.String(length=3), nullable=True),
        sa.Column("blood_abo", sa.String(length=2), nullable=True),
        sa.Column("blood_rh", sa.String(length=1), nullable=True),
        sa.Column("ethnicity", sa.String(length=60), nullable=True),
        sa.Column("nationality", sa.String(length=2), server_default="VN", nullable=False),
        sa.Column("religion", sa.String(length=60), nullable=True),
        sa.Column("occupation", sa.String(length=120), nullable=True),
        sa.Column("cccd", sa.String(length=12), nullable=True),
        sa.Column("cccd_issued_on", sa.Date(), nullable=True),
        sa.Column("cccd_issued_by", sa.String(length=120), nullable=True),
        sa.Column("cmnd", sa.String(length=9), nullable=True),
        sa.Column("bhxh_number", sa.String(length=10), nullable=True),
        sa.Column("perm_street", sa.String(length=200), nullable=True),
        sa.Column("perm_hamlet", sa.String(length=120), nullable=True),
        sa.Column("perm_commune_code", sa.String(length=5), nullable=True),
        sa.Column("cur_street", sa.String(length=200), nullable=True),
        sa.Column("cur_hamlet", sa.String(length=120), nullable=True),
        sa.Column("cur_commune_code", sa.String(length=5), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("mother_name", sa.String(length=120), nullable=True),
        sa.Column("father_name", sa.String(length=120), nullable=True),
        sa.Column("caregiver_name", sa.String(length=120), nullable=True),
        sa.Column("caregiver_relation", sa.String(length=40), nullable=True),
        sa.Column("caregiver_phone", sa.String(length=16), nullable=True),
        sa.Column("home_facility_id", sa.UUID(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("bhxh_number ~ '^[0-9]{10}$'", name=op.f("ck_citizens_bhxh_format")),
        sa.CheckConstraint("blood_abo IN ('A', 'B', 'AB', 'O')", name=op.f("ck_citizens_blood_abo")),
        sa.CheckConstraint("blood_rh IN ('+', '-')", name=op.f("ck_citizens_blood_rh")),
        sa.CheckConstraint("cccd ~ '^[0-9]{12}$'", name=op.f("ck_citizens_cccd_format")),
        sa.CheckConstraint("cmnd ~ '^[0-9]{9}$'", name=op.f("ck_citizens_cmnd_format")),
        sa.CheckConstraint("phone ~ '^\\+84[0-9]{9}$'", name=op.f("ck_citizens_phone_e164")),
        sa.ForeignKeyConstraint(
            ["cur_commune_code"], ["admin_units.code"], name=op.f("fk_citizens_cur_commune_code_admin_units")
        ),
        sa.ForeignKeyConstraint(
            ["home_facility_id"], ["facilities.id"], name=op.f("fk_citizens_home_facility_id_facilities")
        ),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name=op.f("fk_citizens_household_id_households")),
        sa.ForeignKeyConstraint(
            ["perm_commune_code"],
            ["admin_units.code"],
            name=op.f("fk_citizens_perm_commune_code_admin_units"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizens")),
        sa.UniqueConstraint("bhxh_number", name=op.f("uq_citizens_bhxh_number")),
        sa.UniqueConstraint("cccd", name=op.f("uq_citizens_cccd")),
    )
    op.create_index(op.f("ix_citizens_cmnd"), "citizens", ["cmnd"], unique=False)
    op.create_index(op.f("ix_citizens_cur_commune_code"), "citizens", ["cur_commune_code"], unique=False)
    op.create_index(op.f("ix_citizens_home_facility_id"), "citizens", ["home_facility_id"], unique=False)
    op.create_index(op.f("ix_citizens_household_id"), "citizens", ["household_id"], unique=False)
    op.create_index(op.f("ix_citizens_perm_commune_code"), "citizens", ["perm_commune_code"], unique=False)
    op.create_index(op.f("ix_citizens_phone"), "citizens", ["phone"], unique=False)
    op.create_table(
        "clinicians",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("facility_id", sa.UUID(), nullable=False),
        sa.Column("full_name", sa.String(length=120), nullable=False),
        sa.Column("licence_number", sa.String(length=40), nullable=True),
        sa.Column("role", sa.Enum("clinician", "station_staff", "station_admin", name="staff_role"), nullable=False),
        sa.Column("username", sa.String(length=60), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"], name=op.f("fk_clinicians_facility_id_facilities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinicians")),
        sa.UniqueConstraint("username", name=op.f("uq_clinicians_username")),
    )
    op.create_index(op.f("ix_clinicians_facility_id"), "clinicians", ["facility_id"], unique=False)
    op.create_table(
        "insurance_cards",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("citizen_id", sa.UUID(), nullable=False),
        sa.Column("card_number", sa.String(length=15), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("card_number ~ '^[A-Z]{2}[1-5][0-9]{12}$'", name=op.f("ck_insurance_cards_card_format")),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_insurance_cards_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_cards")),
        sa.UniqueConstraint(
            "citizen_id",
            "card_number",
            "valid_from",
            name=op.f("uq_insurance_cards_citizen_id_card_number_valid_from"),
        ),
    )
    op.create_index(op.f("ix_insurance_cards_citizen_id"), "insurance_cards", ["citizen_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_insurance_cards_citizen_id"), table_name="insurance_cards")
    op.drop_table("insurance_cards")
    op.drop_index(op.f("ix_clinicians_facility_id"), table_name="clinicians")
    op.drop_table("clinicians")
    op.drop_index(op.f("ix_citizens_phone"), table_name="citizens")
    op.drop_index(op.f("ix_citizens_perm_commune_code"), table_name="citizens")
    op.drop_index(op.f("ix_citizens_household_id"), table_name="citizens")
    op.drop_index(op.f("ix_citizens_home_facility_id"), table_name="citizens")
    op.drop_index(op.f("ix_citizens_cur_commune_code"), table_name="citizens")
    op.drop_index(op.f("ix_citizens_cmnd"), table_name="citizens")
    op.drop_table("citizens")
    op.drop_index(op.f("ix_households_commune_code"), table_name="households")
    op.drop_table("households")
    op.drop_index(op.f("ix_facilities_commune_code"), table_name="facilities")
    op.drop_table("facilities")
    op.drop_index(op.f("ix_admin_units_parent_code"), table_name="admin_units")
    op.drop_table("admin_units")
    op.drop_table("accounts")
    # create_table made these enum types implicitly; drop them so a downgrade leaves nothing behind.
    for enum_type in ("account_status", "staff_role", "sex", "facility_kind", "unit_level"):
        op.execute(f"DROP TYPE IF EXISTS {enum_type}")
