"""An index on citizens.date_of_birth.

Found by the HIS import benchmark (issue 10): a pending episode's match suggestion looks people up by birth date,
which read all 1.2 M citizens of a province for every unmatched episode (~300 ms each). Cohorts by age and the
coverage report's birth cohorts use it too.

Revision ID: 20261124_0010
Revises: 20261124_0009
Create Date: 2026-11-23 23:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261124_0010"
down_revision: str | None = "20261124_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_citizens_date_of_birth", "citizens", ["date_of_birth"])


def downgrade() -> None:
    op.drop_index("ix_citizens_date_of_birth", table_name="citizens")
