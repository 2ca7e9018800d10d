"""The cash account (Kasse) for payments taken in cash; the files exchanged with the bank are append-only

Seeds the system account ``cash``, numbered 1000 after SKR03 like the rest of the chart (the coop's tax
accountant confirms or renumbers it), and widens the CHECK constraints of the ``ledger_system_account`` enum
(``ledger_accounts.system_key``, ``sepa_payout_items.liability``) by ``cash``. An account 1000 the board added by
hand (an asset kept for the coop, not per member) is taken over as the cash account rather than refused: in
SKR03 it is the cash account already, and its postings stay where they are.

Batch mode: SQLite changes a CHECK constraint by rebuilding the table; neither table has triggers. PostgreSQL
alters the constraints in place.

The downgrade keeps the account in the chart as a hand account (no system key): what was posted to it stays, the
books being append-only, and upgrading again takes it over as above.

The pain.008/pain.001 files handed to the bank (``sepa_files``) and the camt.053 statements it sent
(``bank_statements``) are records to keep unchanged (GoBD), like the stored invoice documents (0009): the code only
ever inserts them (the items, transactions and payments made of them are other tables), so every UPDATE and DELETE
of them is refused, and on PostgreSQL TRUNCATE too. A later SQLite batch migration that rebuilds either table must
create its triggers again.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from migrations.ddl import in_list

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_SYSTEM_KEYS = (
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
)
NEW_SYSTEM_KEYS = (*OLD_SYSTEM_KEYS, "cash")
CASH_CODE, CASH_NAME = "1000", "Kasse"
# The tables whose column holds a ledger_system_account value.
SYSTEM_KEY_COLUMNS = (("ledger_accounts", "system_key"), ("sepa_payout_items", "liability"))


def _set_system_keys(keys: Sequence[str]) -> None:
    for table, column in SYSTEM_KEY_COLUMNS:
        name = op.f(f"ck_{table}_ledger_system_account")
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="check")
            batch.create_check_constraint(name, in_list(column, keys))


def _add_cash_account() -> None:
    bind = op.get_bind()
    existing = bind.execute(
        sa.text("SELECT kind, system_key, per_member FROM ledger_accounts WHERE code = :code"), {"code": CASH_CODE}
    ).one_or_none()
    if existing is None:
        op.execute(
            sa.text(
                "INSERT INTO ledger_accounts (code, name, kind, system_key, per_member, created_at, updated_at) "
                "VALUES (:code, :name, 'asset', 'cash', :per_member, :now, :now)"
            ).bindparams(code=CASH_CODE, name=CASH_NAME, per_member=False, now=datetime.now(UTC))
        )
        return
    kind, system_key, per_member = existing
    if kind != "asset" or system_key is not None or per_member:
        raise RuntimeError(
            f"ledger_accounts has an account {CASH_CODE} that cannot be the cash account (kind {kind}, system key "
            f"{system_key}, per member {bool(per_member)}): renumber it, then upgrade"
        )
    op.execute(sa.text("UPDATE ledger_accounts SET system_key = 'cash' WHERE code = :code").bindparams(code=CASH_CODE))


BANK_FILES = ("sepa_files", "bank_statements")
REFUSAL = "is append-only: a file exchanged with the bank is stored once and never changed"


def _protect_bank_files() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION bank_file_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% {REFUSAL}', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        for table in BANK_FILES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bank_file_append_only()"
            )
        return
    for table in BANK_FILES:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, '{table} {REFUSAL}'); END"
            )


def _unprotect_bank_files() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in BANK_FILES:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION bank_file_append_only()")
        return
    for table in BANK_FILES:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER {table}_no_{verb}")


def upgrade() -> None:
    _set_system_keys(NEW_SYSTEM_KEYS)
    _add_cash_account()
    _protect_bank_files()


def downgrade() -> None:
    _unprotect_bank_files()
    op.execute("UPDATE ledger_accounts SET system_key = NULL WHERE system_key = 'cash'")
    _set_system_keys(OLD_SYSTEM_KEYS)
