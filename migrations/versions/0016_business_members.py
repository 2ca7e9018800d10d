"""Business members: ``is_business`` (false for every existing member: consumers) and ``vat_id`` (USt-IdNr.) on
``members`` and on their dated history ``member_details``, so an invoice names the buyer as the register stood
on its issue date.

Batch mode: SQLite adds columns in place (ALTER TABLE ADD COLUMN) and drops them the same way (3.35+), so
``members``, which many tables reference, is never rebuilt.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("members", "member_details")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.add_column(sa.Column("is_business", sa.Boolean(), server_default=sa.false(), nullable=False))
            batch.add_column(sa.Column("vat_id", sa.String(length=20), nullable=True))


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_column("vat_id")
            batch.drop_column("is_business")
