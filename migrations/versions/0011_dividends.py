"""Member dividends and leaving members' payouts: the assembly's dividend decision per business year, each
member's allocation (capital base, gross, exemption used, capital gains tax, solidarity surcharge, net and its
use), exemption orders per member and calendar year, members' standing dividend choice, and the scheduled
payouts of leaving members' capital (§73 GenG)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dividend_decisions",
        sa.Column("business_year", sa.Integer(), nullable=False),
        sa.Column("year_start", sa.Date(), nullable=False),
        sa.Column("year_end", sa.Date(), nullable=False),
        sa.Column("rate_percent", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column(
            "basis",
            sa.Enum("days", "months", name="dividend_basis", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "approved",
                "booked",
                name="dividend_decision_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("capital_gains_tax_percent", sa.Numeric(precision=6, scale=3), nullable=False),
        sa.Column("solidarity_surcharge_percent", sa.Numeric(precision=6, scale=3), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rate_percent > 0 AND rate_percent <= 100", name=op.f("ck_dividend_decisions_rate_range")),
        sa.CheckConstraint("year_start <= year_end", name=op.f("ck_dividend_decisions_year_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dividend_decisions")),
        sa.UniqueConstraint("business_year", name=op.f("uq_dividend_decisions_business_year")),
    )
    op.create_table(
        "capital_payouts",
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_number", sa.Integer(), nullable=True),
        sa.Column("business_year", sa.Integer(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=False),
        sa.Column("capital_cents", sa.BigInteger(), nullable=False),
        sa.Column("balance_sheet_approved_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("set_off_cents", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "booked",
                "handed_over",
                name="capital_payout_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("capital_cents > 0", name=op.f("ck_capital_payouts_capital_positive")),
        sa.CheckConstraint(
            "set_off_cents >= 0 AND set_off_cents <= capital_cents",
            name=op.f("ck_capital_payouts_set_off_within_capital"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_capital_payouts_member_id_members"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capital_payouts")),
        sa.UniqueConstraint("member_id", "business_year", name="uq_capital_payouts_member_year"),
    )
    op.create_index(op.f("ix_capital_payouts_due_on"), "capital_payouts", ["due_on"], unique=False)
    op.create_index(op.f("ix_capital_payouts_member_id"), "capital_payouts", ["member_id"], unique=False)
    op.create_table(
        "dividend_preferences",
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "choice",
            sa.Enum(
                "payout",
                "capital",
                "set_off",
                name="dividend_preference_choice",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_dividend_preferences_member_id_members"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dividend_preferences")),
        sa.UniqueConstraint("member_id", name=op.f("uq_dividend_preferences_member_id")),
    )
    op.create_table(
        "exemption_orders",
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("calendar_year", sa.Integer(), nullable=False),
        sa.Column("allowance_cents", sa.BigInteger(), nullable=False),
        sa.Column("used_cents", sa.BigInteger(), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "used_cents >= 0 AND used_cents <= allowance_cents", name=op.f("ck_exemption_orders_used_within_allowance")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_exemption_orders_member_id_members"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exemption_orders")),
        sa.UniqueConstraint("member_id", "calendar_year", name="uq_exemption_orders_member_year"),
    )
    op.create_index(op.f("ix_exemption_orders_member_id"), "exemption_orders", ["member_id"], unique=False)
    op.create_table(
        "dividend_allocations",
        sa.Column("decision_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_number", sa.Integer(), nullable=True),
        sa.Column("member_name", sa.String(length=200), nullable=False),
        sa.Column("capital_base", sa.BigInteger(), nullable=False),
        sa.Column("gross_cents", sa.BigInteger(), nullable=False),
        sa.Column("exemption_order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("exemption_used_cents", sa.BigInteger(), nullable=False),
        sa.Column("capital_gains_tax_cents", sa.BigInteger(), nullable=False),
        sa.Column("solidarity_surcharge_cents", sa.BigInteger(), nullable=False),
        sa.Column("net_cents", sa.BigInteger(), nullable=False),
        sa.Column(
            "choice",
            sa.Enum(
                "payout",
                "capital",
                "set_off",
                name="dividend_choice",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("to_capital_cents", sa.BigInteger(), nullable=False),
        sa.Column("payout_cents", sa.BigInteger(), nullable=False),
        sa.Column("set_off_cents", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "approved",
                "booked",
                "set_off_pending",
                name="dividend_allocation_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "gross_cents >= 0 AND capital_base >= 0", name=op.f("ck_dividend_allocations_gross_not_negative")
        ),
        sa.CheckConstraint(
            "net_cents = gross_cents - capital_gains_tax_cents - solidarity_surcharge_cents",
            name=op.f("ck_dividend_allocations_net_is_gross_less_tax"),
        ),
        sa.CheckConstraint(
            "net_cents = to_capital_cents + payout_cents + set_off_cents",
            name=op.f("ck_dividend_allocations_net_fully_used"),
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["dividend_decisions.id"],
            name=op.f("fk_dividend_allocations_decision_id_dividend_decisions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["exemption_order_id"],
            ["exemption_orders.id"],
            name=op.f("fk_dividend_allocations_exemption_order_id_exemption_orders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_dividend_allocations_member_id_members"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dividend_allocations")),
        sa.UniqueConstraint("decision_id", "member_id", name="uq_dividend_allocations_decision_member"),
    )
    op.create_index(op.f("ix_dividend_allocations_decision_id"), "dividend_allocations", ["decision_id"], unique=False)
    op.create_index(op.f("ix_dividend_allocations_member_id"), "dividend_allocations", ["member_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dividend_allocations_member_id"), table_name="dividend_allocations")
    op.drop_index(op.f("ix_dividend_allocations_decision_id"), table_name="dividend_allocations")
    op.drop_table("dividend_allocations")
    op.drop_index(op.f("ix_exemption_orders_member_id"), table_name="exemption_orders")
    op.drop_table("exemption_orders")
    op.drop_table("dividend_preferences")
    op.drop_index(op.f("ix_capital_payouts_member_id"), table_name="capital_payouts")
    op.drop_index(op.f("ix_capital_payouts_due_on"), table_name="capital_payouts")
    op.drop_table("capital_payouts")
    op.drop_table("dividend_decisions")
