"""Payments reference the invoice table: foreign keys from the ``invoice_id`` columns of
``sepa_collection_items``, ``payment_allocations`` and ``returned_debits`` to ``invoices`` (and indexes where
there were none), now that the invoices are in the database (0009) and payments read them (open items).

Batch mode: SQLite adds a foreign key by rebuilding the table; none of these tables has triggers.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("payment_allocations", "returned_debits", "sepa_collection_items")
NEW_INDEXES = ("returned_debits", "sepa_collection_items")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            if table in NEW_INDEXES:
                batch.create_index(op.f(f"ix_{table}_invoice_id"), ["invoice_id"], unique=False)
            batch.create_foreign_key(
                op.f(f"fk_{table}_invoice_id_invoices"), "invoices", ["invoice_id"], ["id"], ondelete="RESTRICT"
            )


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"fk_{table}_invoice_id_invoices"), type_="foreignkey")
            if table in NEW_INDEXES:
                batch.drop_index(op.f(f"ix_{table}_invoice_id"))
