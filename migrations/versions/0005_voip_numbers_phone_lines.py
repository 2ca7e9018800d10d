"""Number blocks and numbers, phone lines and their registration status, call rates, plans' included
minutes and rated calls

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_rates",
        sa.Column("prefix", sa.String(length=15), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("price_per_minute_cents", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("first_increment_s", sa.Integer(), nullable=False),
        sa.Column("next_increment_s", sa.Integer(), nullable=False),
        sa.Column("uses_included_minutes", sa.Boolean(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "first_increment_s BETWEEN 1 AND 3600 AND next_increment_s BETWEEN 1 AND 3600",
            name=op.f("ck_call_rates_increments_range"),
        ),
        sa.CheckConstraint("price_per_minute_cents >= 0", name=op.f("ck_call_rates_price_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_rates")),
        sa.UniqueConstraint("prefix", "valid_from", name=op.f("uq_call_rates_prefix_valid_from")),
    )
    op.create_table(
        "number_blocks",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("first_number", sa.String(length=16), nullable=False),
        sa.Column("last_number", sa.String(length=16), nullable=False),
        sa.Column("quarantine_days", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "length(first_number) = length(last_number) AND first_number <= last_number",
            name=op.f("ck_number_blocks_range_ordered"),
        ),
        sa.CheckConstraint("quarantine_days BETWEEN 0 AND 3650", name=op.f("ck_number_blocks_quarantine_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_number_blocks")),
        sa.UniqueConstraint("first_number", name=op.f("uq_number_blocks_first_number")),
        sa.UniqueConstraint("name", name=op.f("uq_number_blocks_name")),
    )
    op.create_table(
        "plan_call_allowances",
        sa.Column("plan_code", sa.String(length=40), nullable=False),
        sa.Column("included_minutes", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("included_minutes >= 0", name=op.f("ck_plan_call_allowances_minutes_not_negative")),
        sa.ForeignKeyConstraint(
            ["plan_code"], ["plans.code"], name=op.f("fk_plan_call_allowances_plan_code_plans"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_call_allowances")),
        sa.UniqueConstraint("plan_code", name=op.f("uq_plan_call_allowances_plan_code")),
    )
    op.create_table(
        "phone_lines",
        sa.Column("contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("extension", sa.String(length=20), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "active",
                "suspended",
                "terminated",
                name="phone_line_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(state = 'terminated') = (terminated_at IS NOT NULL)", name=op.f("ck_phone_lines_terminated_has_date")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_phone_lines_contract_id_contracts"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_lines")),
        sa.UniqueConstraint("contract_id", name=op.f("uq_phone_lines_contract_id")),
        sa.UniqueConstraint("extension", name=op.f("uq_phone_lines_extension")),
    )
    op.create_index(op.f("ix_phone_lines_state"), "phone_lines", ["state"], unique=False)
    op.create_table(
        "phone_numbers",
        sa.Column("e164", sa.String(length=16), nullable=False),
        sa.Column("block_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "free",
                "assigned",
                "quarantined",
                name="number_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("phone_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("is_ported_in", sa.Boolean(), nullable=False),
        sa.Column("ported_from", sa.String(length=80), nullable=True),
        sa.Column("ported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("quarantine_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(status = 'assigned') = (phone_line_id IS NOT NULL)", name=op.f("ck_phone_numbers_assigned_has_line")
        ),
        sa.CheckConstraint(
            "status != 'quarantined' OR quarantine_until IS NOT NULL", name=op.f("ck_phone_numbers_quarantine_has_date")
        ),
        sa.CheckConstraint("is_ported_in OR block_id IS NOT NULL", name=op.f("ck_phone_numbers_from_block_or_ported")),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["number_blocks.id"],
            name=op.f("fk_phone_numbers_block_id_number_blocks"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["phone_line_id"],
            ["phone_lines.id"],
            name=op.f("fk_phone_numbers_phone_line_id_phone_lines"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_numbers")),
        sa.UniqueConstraint("e164", name=op.f("uq_phone_numbers_e164")),
        sa.UniqueConstraint("phone_line_id", name=op.f("uq_phone_numbers_phone_line_id")),
    )
    op.create_index("ix_phone_numbers_block_status", "phone_numbers", ["block_id", "status", "e164"], unique=False)
    op.create_table(
        "phone_registrations",
        sa.Column("phone_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("round_trip_ms", sa.Integer(), nullable=True),
        sa.Column("contact_uri", sa.String(length=511), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["phone_line_id"],
            ["phone_lines.id"],
            name=op.f("fk_phone_registrations_phone_line_id_phone_lines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("phone_line_id", name=op.f("pk_phone_registrations")),
    )
    op.create_table(
        "rated_calls",
        sa.Column("cdr_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("phone_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("called_number", sa.String(length=80), nullable=False),
        sa.Column(
            "call_class",
            sa.Enum(
                "on_net",
                "emergency",
                "service",
                "off_net",
                name="call_class",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("rate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("talk_seconds", sa.Integer(), nullable=False),
        sa.Column("billed_seconds", sa.Integer(), nullable=False),
        sa.Column("included_seconds", sa.Integer(), nullable=False),
        sa.Column("price_cents", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.CheckConstraint(
            "call_class != 'off_net' OR rate_id IS NOT NULL", name=op.f("ck_rated_calls_off_net_has_rate")
        ),
        sa.CheckConstraint("price_cents >= 0", name=op.f("ck_rated_calls_price_not_negative")),
        sa.CheckConstraint(
            "talk_seconds >= 0 AND billed_seconds >= talk_seconds AND included_seconds BETWEEN 0 AND billed_seconds",
            name=op.f("ck_rated_calls_seconds_consistent"),
        ),
        sa.ForeignKeyConstraint(["cdr_id"], ["cdr.id"], name=op.f("fk_rated_calls_cdr_id_cdr"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_rated_calls_contract_id_contracts"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["phone_line_id"],
            ["phone_lines.id"],
            name=op.f("fk_rated_calls_phone_line_id_phone_lines"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["rate_id"], ["call_rates.id"], name=op.f("fk_rated_calls_rate_id_call_rates"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rated_calls")),
        sa.UniqueConstraint("cdr_id", name=op.f("uq_rated_calls_cdr_id")),
    )
    op.create_index("ix_rated_calls_contract_period", "rated_calls", ["contract_id", "period"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_rated_calls_contract_period", table_name="rated_calls")
    op.drop_table("rated_calls")
    op.drop_table("phone_registrations")
    op.drop_index("ix_phone_numbers_block_status", table_name="phone_numbers")
    op.drop_table("phone_numbers")
    op.drop_index(op.f("ix_phone_lines_state"), table_name="phone_lines")
    op.drop_table("phone_lines")
    op.drop_table("plan_call_allowances")
    op.drop_table("number_blocks")
    op.drop_table("call_rates")
