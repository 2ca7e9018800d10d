"""Dunning notices: reminders, warnings and suspensions for members in arrears

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dunning_notices",
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "settled",
                "withdrawn",
                name="dunning_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("pay_by", sa.Date(), nullable=False),
        sa.Column("suspension_on", sa.Date(), nullable=True),
        sa.Column("arrears_cents", sa.BigInteger(), nullable=False),
        sa.Column("fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("suspended_contract_ids", sa.JSON(), nullable=False),
        sa.Column("settled_on", sa.Date(), nullable=True),
        sa.Column("resumed_on", sa.Date(), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(status = 'settled') = (settled_on IS NOT NULL)", name=op.f("ck_dunning_notices_settled_has_date")
        ),
        sa.CheckConstraint("arrears_cents > 0 AND fee_cents >= 0", name=op.f("ck_dunning_notices_amounts")),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name=op.f("ck_dunning_notices_level_range")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_dunning_notices_member_id_members"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dunning_notices")),
    )
    op.create_index(op.f("ix_dunning_notices_member_id"), "dunning_notices", ["member_id"], unique=False)
    op.create_index(
        "ix_dunning_notices_member_open",
        "dunning_notices",
        ["member_id", "level"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_index(op.f("ix_dunning_notices_status"), "dunning_notices", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dunning_notices_status"), table_name="dunning_notices")
    op.drop_index(
        "ix_dunning_notices_member_open",
        table_name="dunning_notices",
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.drop_index(op.f("ix_dunning_notices_member_id"), table_name="dunning_notices")
    op.drop_table("dunning_notices")
