"""Patronage refunds as their own service kind, and the refund percent on the dividend decision

Widens the CHECK constraint on ``invoice_lines.service_kind`` by ``refund`` (a patronage refund's credit note
line, booked to the patronage refunds account instead of revenue reductions) and adds
``dividend_decisions.refund_percent`` (nullable: no refund decided) with its range check.

Batch mode: SQLite changes a CHECK constraint by rebuilding the table, and dropping the old table drops its
triggers (``invoice_lines`` has the "issued invoices are final" ones from 0009). Each table's triggers are read
from ``sqlite_master`` before the rebuild and created again after it, exactly as they were. PostgreSQL alters
the constraints in place; its triggers are untouched.

The downgrade refuses while refund lines exist: lines of issued invoices can never be changed, so they cannot be
turned back into another kind.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.ddl import in_list, keeping_sqlite_triggers

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ("internet", "telephony", "setup", "usage", "compensation")
NEW_KINDS = (*OLD_KINDS, "refund")


def _set_kinds(kinds: Sequence[str]) -> None:
    with keeping_sqlite_triggers("invoice_lines"), op.batch_alter_table("invoice_lines") as batch:
        batch.drop_constraint(op.f("ck_invoice_lines_service_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_invoice_lines_service_kind"), in_list("service_kind", kinds))


def upgrade() -> None:
    _set_kinds(NEW_KINDS)
    with keeping_sqlite_triggers("dividend_decisions"), op.batch_alter_table("dividend_decisions") as batch:
        batch.add_column(sa.Column("refund_percent", sa.Numeric(precision=7, scale=4), nullable=True))
        batch.create_check_constraint(
            op.f("ck_dividend_decisions_refund_range"), "refund_percent > 0 AND refund_percent <= 100"
        )


def downgrade() -> None:
    refunds = op.get_bind().execute(sa.text("SELECT count(*) FROM invoice_lines WHERE service_kind = 'refund'"))
    if refunds.scalar_one():
        raise RuntimeError("invoice_lines holds patronage refund lines (service_kind 'refund'); issued lines are final")
    with keeping_sqlite_triggers("dividend_decisions"), op.batch_alter_table("dividend_decisions") as batch:
        batch.drop_constraint(op.f("ck_dividend_decisions_refund_range"), type_="check")
        batch.drop_column("refund_percent")
    _set_kinds(OLD_KINDS)
