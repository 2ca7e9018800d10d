"""The ledger's kinds of documents and system accounts for the rest of billing: invoices, credit notes,
payments, returned debits, fees, dividends, set-offs, payouts; and the accounts those post into

Widens two CHECK constraints (``journal_entries.source_kind``, ``ledger_accounts.system_key``) and seeds
the new accounts. On SQLite a CHECK constraint lives in the table's CREATE statement; rebuilding the table
(batch mode) would drop the append-only triggers and copy the books, so the statement is edited in place
with ``writable_schema``, which SQLite documents as safe for a CHECK constraint that only gets wider (every
existing row still passes it).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_SOURCE_KINDS = ("share_payment", "share_transfer", "manual", "reversal")
NEW_SOURCE_KINDS = (
    "invoice",
    "credit_note",
    "payment",
    "returned_debit",
    "fee",
    "dividend",
    "set_off",
    "payout",
    "capital_payout",
)
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
)
# Numbered after SKR03 as a starting point: the coop's tax accountant confirms or renumbers them (code finds
# them by system_key).
NEW_ACCOUNTS = [
    ("0860", "Gewinnvortrag vor Verwendung", "equity", "profit_for_appropriation", False),
    ("1360", "Ungeklärte Zahlungseingänge", "asset", "unmatched_payments", False),
    ("1797", "Verbindlichkeiten Auseinandersetzungsguthaben (Mitglieder)", "liability", "capital_payable", True),
    ("2700", "Sonstige Erträge (Mahn- und Rücklastschriftgebühren, nicht steuerbar)", "revenue", "revenue_fees", False),
    ("4970", "Nebenkosten des Geldverkehrs", "expense", "bank_charges", False),
    ("8700", "Erlösschmälerungen 19 % USt (Entschädigungen nach § 58 TKG)", "revenue", "revenue_reductions", False),
    ("8770", "Genossenschaftliche Rückvergütungen 19 % USt", "revenue", "patronage_refunds", False),
]
NEW_SYSTEM_KEYS = tuple(account[3] for account in NEW_ACCOUNTS)

CHECKS = [
    ("journal_entries", "ck_journal_entries_ledger_source_kind", "source_kind", OLD_SOURCE_KINDS, NEW_SOURCE_KINDS),
    ("ledger_accounts", "ck_ledger_accounts_ledger_system_account", "system_key", OLD_SYSTEM_KEYS, NEW_SYSTEM_KEYS),
]


def _in_list(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _set_check(table: str, name: str, column: str, old: Sequence[str], new: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({_in_list(column, new)})")
        return
    bind = op.get_bind()
    before = f"CONSTRAINT {name} CHECK ({_in_list(column, old)})"
    after = f"CONSTRAINT {name} CHECK ({_in_list(column, new)})"
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar_one()
    if before not in sql:
        raise RuntimeError(f"{table}: constraint {name} is not as migration 0007 made it")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
        {"sql": sql.replace(before, after), "t": table},
    )
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def upgrade() -> None:
    for table, name, column, old, new in CHECKS:
        _set_check(table, name, column, old, old + new)
    now = datetime.now(UTC)
    accounts = sa.table(
        "ledger_accounts",
        sa.column("code"),
        sa.column("name"),
        sa.column("kind"),
        sa.column("system_key"),
        sa.column("per_member"),
        sa.column("created_at"),
        sa.column("updated_at"),
    )
    op.bulk_insert(
        accounts,
        [
            {
                "code": code,
                "name": name,
                "kind": kind,
                "system_key": key,
                "per_member": per_member,
                "created_at": now,
                "updated_at": now,
            }
            for code, name, kind, key, per_member in NEW_ACCOUNTS
        ],
    )


def downgrade() -> None:
    keys = ", ".join(repr(key) for key in NEW_SYSTEM_KEYS)
    op.execute(f"DELETE FROM ledger_accounts WHERE system_key IN ({keys})")
    for table, name, column, old, new in CHECKS:
        _set_check(table, name, column, old + new, old)
