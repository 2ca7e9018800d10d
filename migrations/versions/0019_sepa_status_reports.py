"""pain.002 status reports: items the bank rejected, and the reports themselves

Widens the CHECK constraint on the status of ``sepa_collection_items`` and ``sepa_payout_items`` by
``rejected`` (the bank refused the transaction before booking it); replaces the unique end-to-end id of
``sepa_payout_items`` by a partial unique index over the items not rejected, so a rejected payout can be paid
again under its id and nothing is paid twice; adds ``sepa_status_reports`` (the reports as received, with
their SHA-256), append-only like the bank files of 0018.

Batch mode on SQLite: a CHECK or UNIQUE constraint lives in the table's CREATE statement, so the two tables
are rebuilt (neither has triggers). PostgreSQL alters them in place.

The downgrade refuses while rejected items exist: the narrower constraints would not hold for them.

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.ddl import in_list

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("submitted", "collected", "returned")
NEW_STATUSES = (*OLD_STATUSES, "rejected")
TABLES = ("sepa_collection_items", "sepa_payout_items")
LIVE_INDEX = "uq_sepa_payout_items_live_end_to_end_id"
NOT_REJECTED = sa.text("status <> 'rejected'")


def _set_statuses(table: str, statuses: Sequence[str], *, unique_e2e: bool | None = None) -> None:
    """The status CHECK of ``table`` over ``statuses``; with ``unique_e2e`` the plain unique end-to-end id
    added (True) or dropped (False) in the same rebuild."""
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(op.f(f"ck_{table}_sepa_item_status"), type_="check")
        batch.create_check_constraint(op.f(f"ck_{table}_sepa_item_status"), in_list("status", statuses))
        if unique_e2e is False:
            batch.drop_constraint(op.f(f"uq_{table}_end_to_end_id"), type_="unique")
        elif unique_e2e:
            batch.create_unique_constraint(op.f(f"uq_{table}_end_to_end_id"), ["end_to_end_id"])


def upgrade() -> None:
    _set_statuses("sepa_collection_items", NEW_STATUSES)
    _set_statuses("sepa_payout_items", NEW_STATUSES, unique_e2e=False)
    op.create_index(
        LIVE_INDEX,
        "sepa_payout_items",
        ["end_to_end_id"],
        unique=True,
        postgresql_where=NOT_REJECTED,
        sqlite_where=NOT_REJECTED,
    )
    op.create_table(
        "sepa_status_reports",
        sa.Column("file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_id", sa.String(length=35), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("group_status", sa.String(length=4), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("transaction_count", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["sepa_files.id"], name=op.f("fk_sepa_status_reports_file_id_sepa_files"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sepa_status_reports")),
        sa.UniqueConstraint("sha256", name=op.f("uq_sepa_status_reports_sha256")),
    )
    op.create_index(op.f("ix_sepa_status_reports_file_id"), "sepa_status_reports", ["file_id"], unique=False)
    _append_only("sepa_status_reports")


def _append_only(table: str) -> None:
    """The report as the bank sent it is kept like the files 0018 protects: never changed, never deleted
    (its triggers go with the table on downgrade)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bank_file_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
            f"SELECT RAISE(ABORT, '{table} is append-only: a file exchanged with the bank is stored once and never "
            "changed'); END"
        )


def downgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        if bind.execute(sa.text(f"SELECT count(*) FROM {table} WHERE status = 'rejected'")).scalar_one():
            raise RuntimeError(f"{table} holds items the bank rejected (status 'rejected'); they cannot be narrowed")
    op.drop_index(op.f("ix_sepa_status_reports_file_id"), table_name="sepa_status_reports")
    op.drop_table("sepa_status_reports")
    op.drop_index(LIVE_INDEX, table_name="sepa_payout_items")
    _set_statuses("sepa_payout_items", OLD_STATUSES, unique_e2e=True)
    _set_statuses("sepa_collection_items", OLD_STATUSES)
