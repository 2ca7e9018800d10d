"""Payments: SEPA mandates (one active per member), the pain.008/pain.001 files given to the bank with their
collection and payout items, camt.053 bank statements and their transactions, payments with their invoice
allocations, and returned direct debits

Invoices are referenced by id without a foreign key until the invoice tables exist (``invoice_id``
columns); the lead adds the foreign keys when the invoice migration is chained before this one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bank_statements",
        sa.Column("account_iban", sa.String(length=34), nullable=False),
        sa.Column("statement_id", sa.String(length=35), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("transaction_count", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_statements")),
        sa.UniqueConstraint("account_iban", "statement_id", name="uq_bank_statements_account_id"),
    )
    op.create_index(op.f("ix_bank_statements_sha256"), "bank_statements", ["sha256"], unique=False)
    op.create_table(
        "sepa_files",
        sa.Column(
            "kind",
            sa.Enum(
                "direct_debit",
                "credit_transfer",
                name="sepa_file_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("message_id", sa.String(length=35), nullable=False),
        sa.Column("schema", sa.String(length=20), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column(
            "sequence",
            sa.Enum("FRST", "RCUR", name="sepa_sequence_type", native_enum=False, create_constraint=True, length=32),
            nullable=True,
        ),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sepa_files")),
        sa.UniqueConstraint("message_id", name=op.f("uq_sepa_files_message_id")),
        sa.UniqueConstraint("sha256", name=op.f("uq_sepa_files_sha256")),
    )
    op.create_index(op.f("ix_sepa_files_due_on"), "sepa_files", ["due_on"], unique=False)
    op.create_table(
        "bank_transactions",
        sa.Column("statement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("credit", sa.Boolean(), nullable=False),
        sa.Column("counterparty_name", sa.String(length=140), nullable=True),
        sa.Column("counterparty_iban", sa.String(length=34), nullable=True),
        sa.Column("remittance", sa.String(length=500), nullable=True),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=True),
        sa.Column("mandate_reference", sa.String(length=35), nullable=True),
        sa.Column("bank_reference", sa.String(length=35), nullable=True),
        sa.Column("return_reason", sa.String(length=4), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "matched",
                "partial",
                "overpaid",
                "returned",
                "payout",
                "queued",
                "assigned",
                "not_ours",
                name="bank_transaction_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_bank_transactions_amount_positive")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_bank_transactions_member_id_members"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["bank_statements.id"],
            name=op.f("fk_bank_transactions_statement_id_bank_statements"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_transactions")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_bank_transactions_fingerprint")),
    )
    op.create_index(op.f("ix_bank_transactions_booking_date"), "bank_transactions", ["booking_date"], unique=False)
    op.create_index(op.f("ix_bank_transactions_end_to_end_id"), "bank_transactions", ["end_to_end_id"], unique=False)
    op.create_index(op.f("ix_bank_transactions_member_id"), "bank_transactions", ["member_id"], unique=False)
    op.create_index(op.f("ix_bank_transactions_statement_id"), "bank_transactions", ["statement_id"], unique=False)
    op.create_index(op.f("ix_bank_transactions_status"), "bank_transactions", ["status"], unique=False)
    op.create_table(
        "sepa_mandates",
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reference", sa.String(length=35), nullable=False),
        sa.Column("debtor_name", sa.String(length=70), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("iban_masked", sa.String(length=42), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column(
            "sequence",
            sa.Enum("FRST", "RCUR", name="sepa_sequence_type", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("last_collected_on", sa.Date(), nullable=True),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_sepa_mandates_member_id_members"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sepa_mandates")),
        sa.UniqueConstraint("reference", name=op.f("uq_sepa_mandates_reference")),
    )
    op.create_index(op.f("ix_sepa_mandates_member_id"), "sepa_mandates", ["member_id"], unique=False)
    op.create_index(
        "uq_sepa_mandates_member_active",
        "sepa_mandates",
        ["member_id"],
        unique=True,
        postgresql_where=sa.text("revoked_on IS NULL"),
        sqlite_where=sa.text("revoked_on IS NULL"),
    )
    op.create_table(
        "sepa_payout_items",
        sa.Column("file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=70), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("iban_masked", sa.String(length=42), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column("remittance", sa.String(length=140), nullable=False),
        sa.Column("execution_date", sa.Date(), nullable=False),
        sa.Column(
            "liability",
            sa.Enum(
                "bank",
                "receivables",
                "vat_19",
                "member_capital",
                "dividends_payable",
                "capital_gains_tax_payable",
                "solidarity_surcharge_payable",
                "revenue_internet",
                "revenue_telephony",
                "revenue_setup_fees",
                "revenue_usage",
                "profit_for_appropriation",
                "unmatched_payments",
                "capital_payable",
                "revenue_fees",
                "bank_charges",
                "revenue_reductions",
                "patronage_refunds",
                name="ledger_system_account",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "submitted",
                "collected",
                "returned",
                name="sepa_item_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_sepa_payout_items_amount_positive")),
        sa.ForeignKeyConstraint(
            ["file_id"], ["sepa_files.id"], name=op.f("fk_sepa_payout_items_file_id_sepa_files"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_sepa_payout_items_member_id_members"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sepa_payout_items")),
        sa.UniqueConstraint("end_to_end_id", name=op.f("uq_sepa_payout_items_end_to_end_id")),
    )
    op.create_index(op.f("ix_sepa_payout_items_file_id"), "sepa_payout_items", ["file_id"], unique=False)
    op.create_index(op.f("ix_sepa_payout_items_member_id"), "sepa_payout_items", ["member_id"], unique=False)
    op.create_table(
        "payments",
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                "direct_debit",
                "transfer",
                "cash",
                name="payment_method",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reference", sa.String(length=140), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_payments_member_id_members"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["bank_transactions.id"],
            name=op.f("fk_payments_transaction_id_bank_transactions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_payments_transaction_id")),
    )
    op.create_index(op.f("ix_payments_member_id"), "payments", ["member_id"], unique=False)
    op.create_index(op.f("ix_payments_paid_on"), "payments", ["paid_on"], unique=False)
    op.create_table(
        "sepa_collection_items",
        sa.Column("file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("mandate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("remittance", sa.String(length=140), nullable=False),
        sa.Column("collection_date", sa.Date(), nullable=False),
        sa.Column(
            "sequence",
            sa.Enum("FRST", "RCUR", name="sepa_sequence_type", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "submitted",
                "collected",
                "returned",
                name="sepa_item_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_sepa_collection_items_amount_positive")),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["sepa_files.id"],
            name=op.f("fk_sepa_collection_items_file_id_sepa_files"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["mandate_id"],
            ["sepa_mandates.id"],
            name=op.f("fk_sepa_collection_items_mandate_id_sepa_mandates"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_sepa_collection_items_member_id_members"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sepa_collection_items")),
        sa.UniqueConstraint("file_id", "end_to_end_id", name="uq_sepa_collection_items_file_e2e"),
    )
    op.create_index(
        op.f("ix_sepa_collection_items_end_to_end_id"), "sepa_collection_items", ["end_to_end_id"], unique=False
    )
    op.create_index(op.f("ix_sepa_collection_items_file_id"), "sepa_collection_items", ["file_id"], unique=False)
    op.create_index(op.f("ix_sepa_collection_items_mandate_id"), "sepa_collection_items", ["mandate_id"], unique=False)
    op.create_index(op.f("ix_sepa_collection_items_member_id"), "sepa_collection_items", ["member_id"], unique=False)
    op.create_table(
        "payment_allocations",
        sa.Column("payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("invoice_number", sa.String(length=35), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payment_allocations_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_payment_allocations_payment_id_payments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_allocations")),
    )
    op.create_index(op.f("ix_payment_allocations_invoice_id"), "payment_allocations", ["invoice_id"], unique=False)
    op.create_index(
        op.f("ix_payment_allocations_invoice_number"), "payment_allocations", ["invoice_number"], unique=False
    )
    op.create_index(op.f("ix_payment_allocations_payment_id"), "payment_allocations", ["payment_id"], unique=False)
    op.create_table(
        "returned_debits",
        sa.Column("transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("collection_item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("invoice_number", sa.String(length=35), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("reason_code", sa.String(length=4), nullable=False),
        sa.Column("returned_on", sa.Date(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0 AND fee_cents >= 0", name=op.f("ck_returned_debits_amounts")),
        sa.ForeignKeyConstraint(
            ["collection_item_id"],
            ["sepa_collection_items.id"],
            name=op.f("fk_returned_debits_collection_item_id_sepa_collection_items"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_returned_debits_member_id_members"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["bank_transactions.id"],
            name=op.f("fk_returned_debits_transaction_id_bank_transactions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_returned_debits")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_returned_debits_transaction_id")),
    )
    op.create_index(
        op.f("ix_returned_debits_collection_item_id"), "returned_debits", ["collection_item_id"], unique=False
    )
    op.create_index(op.f("ix_returned_debits_invoice_number"), "returned_debits", ["invoice_number"], unique=False)
    op.create_index(op.f("ix_returned_debits_member_id"), "returned_debits", ["member_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_returned_debits_member_id"), table_name="returned_debits")
    op.drop_index(op.f("ix_returned_debits_invoice_number"), table_name="returned_debits")
    op.drop_index(op.f("ix_returned_debits_collection_item_id"), table_name="returned_debits")
    op.drop_table("returned_debits")
    op.drop_index(op.f("ix_payment_allocations_payment_id"), table_name="payment_allocations")
    op.drop_index(op.f("ix_payment_allocations_invoice_number"), table_name="payment_allocations")
    op.drop_index(op.f("ix_payment_allocations_invoice_id"), table_name="payment_allocations")
    op.drop_table("payment_allocations")
    op.drop_index(op.f("ix_sepa_collection_items_member_id"), table_name="sepa_collection_items")
    op.drop_index(op.f("ix_sepa_collection_items_mandate_id"), table_name="sepa_collection_items")
    op.drop_index(op.f("ix_sepa_collection_items_file_id"), table_name="sepa_collection_items")
    op.drop_index(op.f("ix_sepa_collection_items_end_to_end_id"), table_name="sepa_collection_items")
    op.drop_table("sepa_collection_items")
    op.drop_index(op.f("ix_payments_paid_on"), table_name="payments")
    op.drop_index(op.f("ix_payments_member_id"), table_name="payments")
    op.drop_table("payments")
    op.drop_index(op.f("ix_sepa_payout_items_member_id"), table_name="sepa_payout_items")
    op.drop_index(op.f("ix_sepa_payout_items_file_id"), table_name="sepa_payout_items")
    op.drop_table("sepa_payout_items")
    op.drop_index(
        "uq_sepa_mandates_member_active",
        table_name="sepa_mandates",
        postgresql_where=sa.text("revoked_on IS NULL"),
        sqlite_where=sa.text("revoked_on IS NULL"),
    )
    op.drop_index(op.f("ix_sepa_mandates_member_id"), table_name="sepa_mandates")
    op.drop_table("sepa_mandates")
    op.drop_index(op.f("ix_bank_transactions_status"), table_name="bank_transactions")
    op.drop_index(op.f("ix_bank_transactions_statement_id"), table_name="bank_transactions")
    op.drop_index(op.f("ix_bank_transactions_member_id"), table_name="bank_transactions")
    op.drop_index(op.f("ix_bank_transactions_end_to_end_id"), table_name="bank_transactions")
    op.drop_index(op.f("ix_bank_transactions_booking_date"), table_name="bank_transactions")
    op.drop_table("bank_transactions")
    op.drop_index(op.f("ix_sepa_files_due_on"), table_name="sepa_files")
    op.drop_table("sepa_files")
    op.drop_index(op.f("ix_bank_statements_sha256"), table_name="bank_statements")
    op.drop_table("bank_statements")
