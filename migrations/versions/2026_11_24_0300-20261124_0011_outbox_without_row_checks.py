"""The outbox without per-row foreign-key checks: notifications.account_id and citizen_id keep their values, lose
their foreign keys, and citizen_id its index.

Found by the campaign benchmark (issue 10): materialising a province-wide campaign spent more than half its time
in the two foreign-key triggers, which look up and share-lock one account row and one citizen row for every
notification (100,000 rows: 7.5 s with them, 3.4 s without, on the 1.2 M province). Every row of a bulk insert
comes from a join over those very tables in the same statement, and the single-row paths take ids from rows they
just read, so the checks could never fail there. What the keys bought was ON DELETE CASCADE, and nothing deletes an
account or a citizen: accounts are deactivated (a status), a record is kept for life. A notification whose
account is gone would be harmless anyway: the worker finds no device and no phone, and nobody's inbox lists it.
The citizen_id index only served that cascade; no query filters notifications by citizen.

Revision ID: 20261124_0011
Revises: 20261124_0010
Create Date: 2026-11-24 03:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261124_0011"
down_revision: str | None = "20261124_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("fk_notifications_account_id_accounts", "notifications", type_="foreignkey")
    op.drop_constraint("fk_notifications_citizen_id_citizens", "notifications", type_="foreignkey")
    op.drop_index("ix_notifications_citizen_id", table_name="notifications")


def downgrade() -> None:
    op.create_index("ix_notifications_citizen_id", "notifications", ["citizen_id"])
    op.create_foreign_key(
        "fk_notifications_citizen_id_citizens", "notifications", "citizens", ["citizen_id"], ["id"], ondelete="CASCADE"
    )
    op.create_foreign_key(
        "fk_notifications_account_id_accounts", "notifications", "accounts", ["account_id"], ["id"], ondelete="CASCADE"
    )
