"""Batch bookings resolved by our own files; camt.054 notifications next to camt.053 statements

* ``sepa_collection_items.batch_id`` and ``sepa_payout_items.batch_id``: the ``PmtInfId`` of the batch each item
  is in. sepaxml makes it (the creditor's name, up to 22 letters and digits, a dash, 12 random hex digits) and it
  was kept only inside the stored XML; a bank names it (``NtryDtls/Btch/PmtInfId``) when it books a whole batch
  as one entry. Filled for the files made before from their stored XML.
* ``bank_statements.kind``: ``statement`` (camt.053) or ``notification`` (camt.054); a report is unique per
  account, kind and the bank's id, since the bank numbers its statements and notifications apart.
* ``bank_transactions``: the entry a transaction is part of (``entry_reference``, ``batch_id``, ``entry_cents``,
  ``batch_total``), so a statement and a notification that report the same entry meet, and the status
  ``covered``.

Batch mode on SQLite: a UNIQUE or CHECK constraint lives in the table's CREATE statement, so ``bank_statements``
and ``bank_transactions`` are rebuilt; ``bank_statements`` has the append-only triggers of 0018, which are read
from ``sqlite_master`` before the rebuild and created again after it, exactly as they were. Adding columns and
constraints does not update a row, so the triggers do not refuse it (PostgreSQL alters in place).

The downgrade refuses while notifications or covered transactions exist: the narrower tables could not tell
them from statements and queued transactions.

Revision ID: 0021
Revises: 0020
"""

import xml.etree.ElementTree as ET
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.ddl import in_list, keeping_sqlite_triggers

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("matched", "partial", "overpaid", "returned", "payout", "queued", "assigned", "not_ours")
NEW_STATUSES = (*OLD_STATUSES, "covered")
KINDS = ("statement", "notification")
ITEM_TABLES = ("sepa_collection_items", "sepa_payout_items")
OLD_UNIQUE, NEW_UNIQUE = "uq_bank_statements_account_id", "uq_bank_statements_account_kind_id"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _batches(content: bytes) -> dict[str, list[str]]:
    """A stored pain.008/pain.001 file's batches: each PmtInfId with the end-to-end ids in it."""
    root = ET.fromstring(content)  # noqa: S314 - a file we made and stored
    found: dict[str, list[str]] = {}
    for batch in (e for e in root.iter() if _local(e.tag) == "PmtInf"):
        ids = [e.text or "" for e in batch.iter() if _local(e.tag) == "EndToEndId"]
        batch_id = next((e.text for e in batch if _local(e.tag) == "PmtInfId" and e.text), None)
        if batch_id:
            found[batch_id] = ids
    return found


def _fill_batch_ids() -> None:
    bind = op.get_bind()
    for file_id, kind, content in bind.execute(sa.text("SELECT id, kind, content FROM sepa_files")).all():
        table = "sepa_collection_items" if kind == "direct_debit" else "sepa_payout_items"
        for batch_id, end_to_end_ids in _batches(bytes(content)).items():
            bind.execute(
                sa.text(
                    f"UPDATE {table} SET batch_id = :batch WHERE file_id = :file AND end_to_end_id IN :ids"
                ).bindparams(sa.bindparam("ids", expanding=True)),
                {"batch": batch_id, "file": file_id, "ids": end_to_end_ids},
            )


def upgrade() -> None:
    for table in ITEM_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("batch_id", sa.String(length=35), nullable=True))
            batch.create_index(op.f(f"ix_{table}_batch_id"), ["batch_id"], unique=False)
    _fill_batch_ids()
    with keeping_sqlite_triggers("bank_statements"), op.batch_alter_table("bank_statements") as batch:
        batch.add_column(
            sa.Column(
                "kind",
                sa.Enum(*KINDS, name="bank_report_kind", native_enum=False, create_constraint=False, length=32),
                server_default="statement",
                nullable=False,
            )
        )
        batch.create_check_constraint(op.f("ck_bank_statements_bank_report_kind"), in_list("kind", KINDS))
        batch.drop_constraint(OLD_UNIQUE, type_="unique")
        batch.create_unique_constraint(NEW_UNIQUE, ["account_iban", "kind", "statement_id"])
    with keeping_sqlite_triggers("bank_transactions"), op.batch_alter_table("bank_transactions") as batch:
        batch.add_column(sa.Column("entry_reference", sa.String(length=35), nullable=True))
        batch.add_column(sa.Column("batch_id", sa.String(length=35), nullable=True))
        batch.add_column(sa.Column("entry_cents", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("batch_total", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.create_index(op.f("ix_bank_transactions_entry_reference"), ["entry_reference"], unique=False)
        batch.create_index(op.f("ix_bank_transactions_batch_id"), ["batch_id"], unique=False)
        batch.drop_constraint(op.f("ck_bank_transactions_bank_transaction_status"), type_="check")
        batch.create_check_constraint(
            op.f("ck_bank_transactions_bank_transaction_status"), in_list("status", NEW_STATUSES)
        )


def downgrade() -> None:
    bind = op.get_bind()
    for table, where in (("bank_statements", "kind = 'notification'"), ("bank_transactions", "status = 'covered'")):
        if bind.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one():
            raise RuntimeError(f"{table} holds rows with {where}; 0020 cannot tell them apart")
    with keeping_sqlite_triggers("bank_transactions"), op.batch_alter_table("bank_transactions") as batch:
        batch.drop_constraint(op.f("ck_bank_transactions_bank_transaction_status"), type_="check")
        batch.create_check_constraint(
            op.f("ck_bank_transactions_bank_transaction_status"), in_list("status", OLD_STATUSES)
        )
        batch.drop_index(op.f("ix_bank_transactions_batch_id"))
        batch.drop_index(op.f("ix_bank_transactions_entry_reference"))
        batch.drop_column("batch_total")
        batch.drop_column("entry_cents")
        batch.drop_column("batch_id")
        batch.drop_column("entry_reference")
    with keeping_sqlite_triggers("bank_statements"), op.batch_alter_table("bank_statements") as batch:
        batch.drop_constraint(NEW_UNIQUE, type_="unique")
        batch.create_unique_constraint(OLD_UNIQUE, ["account_iban", "statement_id"])
        batch.drop_constraint(op.f("ck_bank_statements_bank_report_kind"), type_="check")
        batch.drop_column("kind")
    for table in reversed(ITEM_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(op.f(f"ix_{table}_batch_id"))
            batch.drop_column("batch_id")
