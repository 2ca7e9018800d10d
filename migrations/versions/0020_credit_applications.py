"""Member credit used on invoices: ``credit_applications``

A member's credit (payment money no invoice took, or what an invoice was overpaid by once a credit note
corrected it) is used on their other invoices: set off by the next bill run (``settled``, the invoice states
it) or applied to an invoice already issued; or it is paid back to them by credit transfer. Each row names
its one source (a payment or the overpaid invoice) and its one target (an invoice, or the payout item that
paid it back) (``billing.payments.credit``). The table is append-only: the database refuses UPDATE, DELETE
and (PostgreSQL) TRUNCATE.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_applications",
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("from_invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("payout_item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(payment_id IS NULL) <> (from_invoice_id IS NULL)", name=op.f("ck_credit_applications_one_source")
        ),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_credit_applications_amount_positive")),
        sa.CheckConstraint(
            "from_invoice_id IS NULL OR from_invoice_id <> invoice_id",
            name=op.f("ck_credit_applications_other_invoice"),
        ),
        sa.CheckConstraint(
            "(invoice_id IS NULL) <> (payout_item_id IS NULL)", name=op.f("ck_credit_applications_one_target")
        ),
        sa.CheckConstraint(
            "NOT settled OR invoice_id IS NOT NULL", name=op.f("ck_credit_applications_settled_on_invoice")
        ),
        sa.ForeignKeyConstraint(
            ["from_invoice_id"],
            ["invoices.id"],
            name=op.f("fk_credit_applications_from_invoice_id_invoices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_credit_applications_invoice_id_invoices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_credit_applications_member_id_members"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["payout_item_id"],
            ["sepa_payout_items.id"],
            name=op.f("fk_credit_applications_payout_item_id_sepa_payout_items"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_credit_applications_payment_id_payments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_applications")),
    )
    with op.batch_alter_table("credit_applications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credit_applications_from_invoice_id"), ["from_invoice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credit_applications_invoice_id"), ["invoice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credit_applications_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credit_applications_payment_id"), ["payment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credit_applications_payout_item_id"), ["payout_item_id"], unique=False)
    _append_only()


REFUSAL = "credit_applications is append-only: a use of credit is stored once and never changed"


def _append_only() -> None:
    """A use of credit moved a member's money between their invoices (or paid it back): like the bank files of
    0018 it is only ever inserted (its triggers go with the table on downgrade)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION credit_application_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER credit_applications_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON credit_applications "
            "FOR EACH STATEMENT EXECUTE FUNCTION credit_application_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER credit_applications_no_{verb.lower()} BEFORE {verb} ON credit_applications BEGIN "
            f"SELECT RAISE(ABORT, '{REFUSAL}'); END"
        )


def downgrade() -> None:
    with op.batch_alter_table("credit_applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_applications_payout_item_id"))
        batch_op.drop_index(batch_op.f("ix_credit_applications_payment_id"))
        batch_op.drop_index(batch_op.f("ix_credit_applications_member_id"))
        batch_op.drop_index(batch_op.f("ix_credit_applications_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_credit_applications_from_invoice_id"))

    op.drop_table("credit_applications")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION credit_application_append_only()")
