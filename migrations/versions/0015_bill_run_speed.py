"""A faster bill run: the contract facts an invoice states move into the invoice row, and a journal line's
check that it joins an entry of its own transaction runs once per statement.

* ``invoices.contract_terms`` (JSON, a list of objects: contract number, plan, start, end of the minimum
  term, notice, last day to cancel) replaces the table ``invoice_contract_terms``: they are facts of the
  invoice as issued, read with it and never on their own, and the invoice row's own immutability now covers
  them. Existing rows are carried over (the immutability triggers of ``invoices`` are lifted for that one
  UPDATE and put back).
* PostgreSQL: ``journal_line_with_its_entry`` checks the statement's new lines in one query over the
  transition table instead of one query per line (a bill run adds 400,000 lines in one statement).

Revision ID: 0015
Revises: 0014
"""

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TERM_FIELDS = (
    "contract_id",
    "contract_number",
    "plan_name",
    "start_on",
    "min_term_end_on",
    "notice_months",
    "notice_after_min_term_months",
    "last_day_to_cancel",
)
DATE_FIELDS = ("start_on", "min_term_end_on", "last_day_to_cancel")
SQLITE_INVOICE_GUARD = (
    "CREATE TRIGGER invoices_issued_no_update BEFORE UPDATE ON invoices WHEN OLD.status = 'issued' BEGIN "
    "SELECT RAISE(ABORT, 'invoice is issued: it is corrected by a credit note, never changed'); END"
)


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _update_invoices(statement: str, rows: list[dict[str, Any]]) -> None:
    """Run ``statement`` over ``rows`` with the guard against changing issued invoices lifted meanwhile."""
    if not rows:
        return
    if _is_postgresql():
        op.execute("ALTER TABLE invoices DISABLE TRIGGER invoices_issued_is_final")
    else:
        op.execute("DROP TRIGGER invoices_issued_no_update")
    op.get_bind().execute(sa.text(statement), rows)
    if _is_postgresql():
        op.execute("ALTER TABLE invoices ENABLE TRIGGER invoices_issued_is_final")
    else:
        op.execute(SQLITE_INVOICE_GUARD)


def upgrade() -> None:
    op.add_column("invoices", sa.Column("contract_terms", sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
    terms: dict[int, list[dict[str, Any]]] = defaultdict(list)
    columns = ", ".join(("invoice_id", *TERM_FIELDS))
    rows = op.get_bind().execute(
        sa.text(f"SELECT {columns} FROM invoice_contract_terms ORDER BY invoice_id, contract_number")  # noqa: S608
    )
    for row in rows.mappings():
        term = {field: row[field] for field in TERM_FIELDS}
        for field in DATE_FIELDS:
            value = term[field]
            term[field] = value.isoformat() if isinstance(value, date) else value
        terms[int(row["invoice_id"])].append(term)
    _update_invoices(
        "UPDATE invoices SET contract_terms = :terms WHERE id = :id",
        [{"id": invoice_id, "terms": json.dumps(found)} for invoice_id, found in terms.items()],
    )
    op.drop_index(op.f("ix_invoice_contract_terms_invoice_id"), table_name="invoice_contract_terms")
    op.drop_table("invoice_contract_terms")  # its triggers go with it
    if _is_postgresql():
        op.execute(
            """
            CREATE OR REPLACE FUNCTION journal_line_with_its_entry() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                entries bigint[];
                own bigint;
                stranger bigint;
            BEGIN
                -- The statement's entries as an array, looked up in one pass: a join with the transition table
                -- could be planned as a nested loop over a scan when journal_entries' statistics are stale.
                SELECT array_agg(DISTINCT entry_id) INTO entries FROM new_rows;
                SELECT count(*) INTO own FROM journal_entries
                 WHERE id = ANY(entries) AND posted_txid = txid_current();
                IF own <> coalesce(cardinality(entries), 0) THEN
                    SELECT x INTO stranger FROM unnest(entries) AS x
                     WHERE NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = x AND e.posted_txid = txid_current())
                     LIMIT 1;
                    RAISE EXCEPTION 'journal entry % is posted: no line can be added to it', stranger
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN NULL;
            END $$
            """
        )
        op.execute("DROP TRIGGER journal_lines_with_their_entry ON journal_lines")
        op.execute(
            "CREATE TRIGGER journal_lines_with_their_entry AFTER INSERT ON journal_lines "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journal_line_with_its_entry()"
        )


def downgrade() -> None:
    if _is_postgresql():
        op.execute("DROP TRIGGER journal_lines_with_their_entry ON journal_lines")
        op.execute(
            """
            CREATE OR REPLACE FUNCTION journal_line_with_its_entry() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NOT EXISTS (
                    SELECT 1 FROM journal_entries WHERE id = NEW.entry_id AND posted_txid = txid_current()
                ) THEN
                    RAISE EXCEPTION 'journal entry % is posted: no line can be added to it', NEW.entry_id
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN NEW;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER journal_lines_with_their_entry BEFORE INSERT ON journal_lines "
            "FOR EACH ROW EXECUTE FUNCTION journal_line_with_its_entry()"
        )
    table = op.create_table(
        "invoice_contract_terms",
        sa.Column(
            "invoice_id",
            ID,
            sa.ForeignKey(
                "invoices.id", ondelete="CASCADE", name=op.f("fk_invoice_contract_terms_invoice_id_invoices")
            ),
            nullable=False,
        ),
        sa.Column(
            "contract_id",
            ID,
            sa.ForeignKey(
                "contracts.id", ondelete="RESTRICT", name=op.f("fk_invoice_contract_terms_contract_id_contracts")
            ),
            nullable=False,
        ),
        sa.Column("contract_number", sa.String(length=20), nullable=False),
        sa.Column("plan_name", sa.String(length=120), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("min_term_end_on", sa.Date(), nullable=True),
        sa.Column("notice_months", sa.Integer(), nullable=False),
        sa.Column("notice_after_min_term_months", sa.Integer(), nullable=False),
        sa.Column("last_day_to_cancel", sa.Date(), nullable=True),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_contract_terms")),
    )
    op.create_index(
        op.f("ix_invoice_contract_terms_invoice_id"), "invoice_contract_terms", ["invoice_id"], unique=False
    )
    rows = []
    for invoice_id, found in op.get_bind().execute(sa.text("SELECT id, contract_terms FROM invoices")):
        for term in json.loads(found) if isinstance(found, str) else found:
            row = {"invoice_id": invoice_id, **{field: term.get(field) for field in TERM_FIELDS}}
            for field in DATE_FIELDS:
                row[field] = date.fromisoformat(row[field]) if row[field] else None
            rows.append(row)
    if rows:
        op.bulk_insert(table, rows)
    _protect_terms()
    op.execute("ALTER TABLE invoices DROP COLUMN contract_terms")  # SQLite 3.35+ drops a column in place


def _protect_terms() -> None:
    """The guards 0009 put on the table: no part of an issued invoice changes."""
    if _is_postgresql():
        for verb, referencing in (
            ("insert", "REFERENCING NEW TABLE AS new_rows"),
            ("update", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("delete", "REFERENCING OLD TABLE AS old_rows"),
        ):
            op.execute(
                f"CREATE TRIGGER invoice_contract_terms_issued_is_final_{verb} AFTER {verb.upper()} "
                f"ON invoice_contract_terms {referencing} "
                "FOR EACH STATEMENT EXECUTE FUNCTION invoice_part_of_issued_is_final()"
            )
        op.execute(
            "CREATE TRIGGER invoice_contract_terms_no_truncate BEFORE TRUNCATE ON invoice_contract_terms "
            "FOR EACH STATEMENT EXECUTE FUNCTION invoice_part_of_issued_is_final()"
        )
        return
    for verb, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER invoice_contract_terms_issued_no_{verb.lower()} BEFORE {verb} ON invoice_contract_terms "
            f"WHEN (SELECT status FROM invoices WHERE id = {row}.invoice_id) = 'issued' BEGIN "
            "SELECT RAISE(ABORT, 'invoice_contract_terms of an issued invoice cannot change'); END"
        )
    op.execute(
        "CREATE TRIGGER invoice_contract_terms_issued_no_move BEFORE UPDATE ON invoice_contract_terms "
        "WHEN (SELECT status FROM invoices WHERE id = NEW.invoice_id) = 'issued' BEGIN "
        "SELECT RAISE(ABORT, 'invoice_contract_terms of an issued invoice cannot change'); END"
    )
