"""The double-entry ledger: chart of accounts (seeded with the accounts the software posts into), journal
entries and their lines, append-only in the database

PostgreSQL refuses UPDATE, DELETE and TRUNCATE of entries and lines, lines added to an entry outside the
transaction that posted it, and (at commit, a deferred constraint trigger) an entry without two lines whose
debits equal its credits. SQLite refuses UPDATE and DELETE (it has no deferred triggers; the service checks
the balance). A later SQLite batch migration that rebuilds these tables must create the triggers again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('journal_entries',
    sa.Column('entry_date', sa.Date(), nullable=False),
    sa.Column('booked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('text', sa.String(length=200), nullable=False),
    sa.Column('source_kind', sa.Enum('share_payment', 'share_transfer', 'manual', 'reversal', name='ledger_source_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('source_id', sa.String(length=32), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reverses_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('posted_txid', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint("(source_kind = 'reversal') = (reverses_id IS NOT NULL)", name=op.f('ck_journal_entries_reversal_names_entry')),
    sa.CheckConstraint("currency = 'EUR'", name=op.f('ck_journal_entries_currency_eur')),
    sa.ForeignKeyConstraint(['reverses_id'], ['journal_entries.id'], name=op.f('fk_journal_entries_reverses_id_journal_entries'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_journal_entries_reverses_id')),
    sa.UniqueConstraint('source_kind', 'source_id', name='uq_journal_entries_source')
    )
    op.create_index(op.f('ix_journal_entries_entry_date'), 'journal_entries', ['entry_date'], unique=False)
    accounts = op.create_table('ledger_accounts',
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.Enum('asset', 'liability', 'equity', 'revenue', 'expense', name='ledger_account_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('system_key', sa.Enum('bank', 'receivables', 'vat_19', 'member_capital', 'dividends_payable', 'capital_gains_tax_payable', 'solidarity_surcharge_payable', 'revenue_internet', 'revenue_telephony', 'revenue_setup_fees', 'revenue_usage', name='ledger_system_account', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('per_member', sa.Boolean(), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('code', name=op.f('uq_ledger_accounts_code')),
    sa.UniqueConstraint('system_key', name=op.f('uq_ledger_accounts_system_key'))
    )
    op.create_table('journal_lines',
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('debit_cents', sa.BigInteger(), nullable=False),
    sa.Column('credit_cents', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.CheckConstraint('debit_cents >= 0 AND credit_cents >= 0 AND (debit_cents = 0) <> (credit_cents = 0)', name=op.f('ck_journal_lines_one_positive_side')),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_journal_lines_account_id_ledger_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_journal_lines_entry_id_journal_entries'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_journal_lines_member_id_members'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_lines'))
    )
    op.create_index(op.f('ix_journal_lines_account_id'), 'journal_lines', ['account_id'], unique=False)
    op.create_index(op.f('ix_journal_lines_entry_id'), 'journal_lines', ['entry_id'], unique=False)
    op.create_index(op.f('ix_journal_lines_member_id'), 'journal_lines', ['member_id'], unique=False)
    _seed_chart(accounts)
    if op.get_bind().dialect.name == "postgresql":
        _protect_postgresql()
    else:
        _protect_sqlite()


# The accounts the software posts into (billing/ledger/models.py SystemAccount), numbered after SKR03. The
# coop's tax accountant may renumber or rename them; the software finds them by system_key.
CHART = [
    ("0800", "Geschäftsguthaben der Mitglieder", "equity", "member_capital", True),
    ("1200", "Bank", "asset", "bank", False),
    ("1400", "Forderungen aus Lieferungen und Leistungen (Mitglieder)", "asset", "receivables", True),
    ("1747", "Verbindlichkeiten Kapitalertragsteuer", "liability", "capital_gains_tax_payable", False),
    ("1748", "Verbindlichkeiten Solidaritätszuschlag", "liability", "solidarity_surcharge_payable", False),
    ("1776", "Umsatzsteuer 19 %", "liability", "vat_19", False),
    ("1795", "Verbindlichkeiten Dividenden (Mitglieder)", "liability", "dividends_payable", True),
    ("8401", "Erlöse Internet 19 % USt", "revenue", "revenue_internet", False),
    ("8402", "Erlöse Telefonie 19 % USt", "revenue", "revenue_telephony", False),
    ("8403", "Erlöse Einrichtungsgebühren 19 % USt", "revenue", "revenue_setup_fees", False),
    ("8404", "Erlöse nutzungsabhängige Entgelte 19 % USt", "revenue", "revenue_usage", False),
]


def _seed_chart(accounts: sa.Table) -> None:
    now = datetime.now(UTC)
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
            for code, name, kind, key, per_member in CHART
        ],
    )


def _protect_postgresql() -> None:
    op.execute(
        """
        CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: a posted entry is corrected by a reversal', TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    for table in ("journal_entries", "journal_lines"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"
        )
    # The posting transaction stamps its entry, so that lines can join the entry in that transaction only.
    op.execute(
        """
        CREATE FUNCTION journal_entry_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.posted_txid := txid_current();
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER journal_entries_stamp BEFORE INSERT ON journal_entries "
        "FOR EACH ROW EXECUTE FUNCTION journal_entry_stamp()"
    )
    op.execute(
        """
        CREATE FUNCTION journal_line_with_its_entry() RETURNS trigger LANGUAGE plpgsql AS $$
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
    # Checked at commit, when all of the entry's lines are in: lines join their entry in its own transaction
    # only (above), so one check per entry covers every line.
    op.execute(
        """
        CREATE FUNCTION journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            line_count integer;
            debits bigint;
            credits bigint;
        BEGIN
            SELECT count(*), coalesce(sum(debit_cents), 0), coalesce(sum(credit_cents), 0)
              INTO line_count, debits, credits
              FROM journal_lines WHERE entry_id = NEW.id;
            IF line_count < 2 OR debits <> credits THEN
                RAISE EXCEPTION 'journal entry % does not balance: % lines, debits % cents, credits % cents',
                    NEW.id, line_count, debits, credits
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced()"
    )


def _protect_sqlite() -> None:
    for table in ("journal_entries", "journal_lines"):
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, '{table} is append-only: a posted entry is corrected by a reversal'); END"
            )


def downgrade() -> None:
    # Dropping the tables drops their triggers; PostgreSQL keeps the functions.
    op.drop_index(op.f('ix_journal_lines_member_id'), table_name='journal_lines')
    op.drop_index(op.f('ix_journal_lines_entry_id'), table_name='journal_lines')
    op.drop_index(op.f('ix_journal_lines_account_id'), table_name='journal_lines')
    op.drop_table('journal_lines')
    op.drop_table('ledger_accounts')
    op.drop_index(op.f('ix_journal_entries_entry_date'), table_name='journal_entries')
    op.drop_table('journal_entries')
    if op.get_bind().dialect.name == "postgresql":
        for function in ("ledger_append_only", "journal_entry_stamp", "journal_line_with_its_entry", "journal_entry_balanced"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
