"""One Alembic history that matches the models and upgrades and downgrades cleanly on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from app import migrate
from billing.payments import sepa
from billing.payments.models import SequenceType
from billing.payments.pain002 import batches_of
from migrations import target_metadata
from tests.conftest import _async_url, create_database, drop_database, fresh_database_name


def _diff(url: str) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(url, poolclass=sa.pool.NullPool)
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), target_metadata()
                )
            )
        await engine.dispose()
        return list(diff)

    return asyncio.run(run())


def _tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = create_async_engine(url, poolclass=sa.pool.NullPool)
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
        await engine.dispose()
        return names

    return asyncio.run(run())


def test_history_is_linear_with_one_head() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))

    assert len(script.get_heads()) == 1


@pytest.mark.postgres
def test_autogenerate_finds_no_difference_on_postgresql(pg_url: str) -> None:
    assert _diff(pg_url) == []


@pytest.mark.postgres
def test_upgrade_downgrade_upgrade_on_postgresql() -> None:
    name = fresh_database_name("_mig")
    asyncio.run(create_database(name))
    url = _async_url(name)
    try:
        migrate.upgrade(url)
        assert "members" in _tables(url)
        migrate.downgrade(url, "base")
        assert _tables(url) <= {"alembic_version"}
        migrate.upgrade(url)
        assert _diff(url) == []
    finally:
        asyncio.run(drop_database(name))


def test_upgrade_downgrade_upgrade_on_sqlite_without_differences(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'mig.db'}"

    migrate.upgrade(url)
    assert {"members", "contracts", "audit_events", "users"} <= _tables(url)
    migrate.downgrade(url, "base")
    assert _tables(url) <= {"alembic_version"}
    migrate.upgrade(url)
    assert _diff(url) == []


def _sqlite_schema(url: str, sql: str) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(url, poolclass=sa.pool.NullPool)
        async with engine.connect() as connection:
            rows = list((await connection.execute(sa.text(sql))).all())
        await engine.dispose()
        return rows

    return asyncio.run(run())


def test_widening_the_service_kinds_on_sqlite_keeps_the_issued_invoice_triggers(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kinds.db'}"
    triggers = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'invoice_lines' ORDER BY name"
    table = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'invoice_lines'"

    migrate.upgrade(url, "0014")
    before = _sqlite_schema(url, triggers)
    migrate.upgrade(url, "0017")
    after = _sqlite_schema(url, triggers)
    [(widened,)] = _sqlite_schema(url, table)

    assert len(before) == 4
    assert after == before
    assert "'compensation', 'refund')" in widened


def test_the_cash_account_takes_over_an_account_1000_the_board_added_and_outlives_a_downgrade(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cash.db'}"
    account = "SELECT code, name, system_key FROM ledger_accounts WHERE code = '1000'"
    migrate.upgrade(url, "0017")

    async def add_account() -> None:
        engine = create_async_engine(url, poolclass=sa.pool.NullPool)
        async with engine.begin() as connection:
            await connection.execute(
                sa.text(
                    "INSERT INTO ledger_accounts (code, name, kind, per_member, created_at, updated_at) "
                    "VALUES ('1000', 'Kasse Geschäftsstelle', 'asset', 0, '2026-01-01', '2026-01-01')"
                )
            )
        await engine.dispose()

    asyncio.run(add_account())

    migrate.upgrade(url, "0018")
    taken_over = _sqlite_schema(url, account)
    migrate.downgrade(url, "0017")
    downgraded = _sqlite_schema(url, account)
    migrate.upgrade(url, "0018")

    assert taken_over == [("1000", "Kasse Geschäftsstelle", "cash")]
    assert downgraded == [("1000", "Kasse Geschäftsstelle", None)]
    assert _sqlite_schema(url, account) == taken_over


def test_batch_bookings_fill_the_batch_ids_of_stored_files_and_keep_the_statement_triggers_on_sqlite(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'batches.db'}"
    triggers = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'bank_statements'"
    creditor = sepa.Creditor(
        name="openTelecom eG", iban="DE02120300000000202051", bic="BYLADEM1001", creditor_id="DE98ZZZ09999999999"
    )
    line = sepa.DebitLine(
        debtor_name="Erika Mustermann",
        iban="DE89370400440532013000",
        bic=None,
        mandate_reference="OT-00000001-01",
        mandate_signed_on=date(2026, 1, 5),
        sequence=SequenceType.FRST,
        amount_cents=4990,
        end_to_end_id="2026-000123",
        remittance="Rechnung 2026-000123",
        collection_date=date(2026, 11, 3),
    )
    built = sepa.build_direct_debits([line], creditor)
    migrate.upgrade(url, "0020")
    before = _sqlite_schema(url, triggers)

    async def store() -> None:
        # Foreign keys are not enforced on this connection: the item needs no member or mandate rows.
        engine = create_async_engine(url, poolclass=sa.pool.NullPool)
        async with engine.begin() as connection:
            await connection.execute(
                sa.text(
                    "INSERT INTO sepa_files (id, kind, message_id, schema, due_on, sequence, sha256, content, "
                    "total_cents, item_count, created_at, updated_at) VALUES (1, 'direct_debit', :message, "
                    "'pain.008.001.08', '2026-11-03', 'FRST', :hash, :content, 4990, 1, '2026-11-01', '2026-11-01')"
                ),
                {"message": built.message_id, "hash": built.sha256, "content": built.content},
            )
            await connection.execute(
                sa.text(
                    "INSERT INTO sepa_collection_items (file_id, member_id, mandate_id, end_to_end_id, amount_cents, "
                    "remittance, collection_date, sequence, status, created_at, updated_at) VALUES (1, 1, 1, "
                    "'2026-000123', 4990, 'Rechnung 2026-000123', '2026-11-03', 'FRST', 'submitted', '2026-11-01', "
                    "'2026-11-01')"
                )
            )
            await connection.execute(
                sa.text(
                    "INSERT INTO bank_statements (account_iban, statement_id, sha256, content, transaction_count, "
                    "created_at, updated_at) VALUES ('DE02120300000000202051', 'S1', :hash, '<Document/>', 0, "
                    "'2026-11-03', '2026-11-03')"
                ),
                {"hash": "b" * 64},
            )
        await engine.dispose()

    asyncio.run(store())
    migrate.upgrade(url, "0021")

    [(batch_id,)] = _sqlite_schema(url, "SELECT batch_id FROM sepa_collection_items")
    assert [batch_id] == list(batches_of(built.content))
    assert _sqlite_schema(url, "SELECT statement_id, kind FROM bank_statements") == [("S1", "statement")]
    assert sorted(_sqlite_schema(url, triggers)) == sorted(before)
    assert len(before) == 2
