"""The database keeps the books honest on its own: posted entries and lines cannot be changed, deleted or
added to, and (PostgreSQL, at commit) an entry that does not balance is refused, whoever writes the SQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine

from app import migrate
from app.db import Database
from tests.builders import credit, debit, post_entry

BANK, INTERNET = "1200", "8401"


async def _account_id(connection: AsyncConnection | AsyncSession, code: str) -> int:
    result = await connection.execute(sa.text("SELECT id FROM ledger_accounts WHERE code = :code"), {"code": code})
    return int(result.scalar_one())


async def _insert_entry(connection: AsyncConnection | AsyncSession, source_id: str) -> int:
    result = await connection.execute(
        sa.text(
            "INSERT INTO journal_entries (entry_date, booked_at, text, source_kind, source_id, currency) "
            "VALUES ('2026-01-15', CURRENT_TIMESTAMP, 'von Hand', 'manual', :source, 'EUR') RETURNING id"
        ),
        {"source": source_id},
    )
    return int(result.scalar_one())


async def _insert_line(
    connection: AsyncConnection | AsyncSession, entry_id: int, account_id: int, debit_cents: int, credit_cents: int
) -> None:
    await connection.execute(
        sa.text(
            "INSERT INTO journal_lines (entry_id, account_id, debit_cents, credit_cents) "
            "VALUES (:entry, :account, :debit, :credit)"
        ),
        {"entry": entry_id, "account": account_id, "debit": debit_cents, "credit": credit_cents},
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_lines SET debit_cents = debit_cents + 1 WHERE entry_id = :entry",
        "UPDATE journal_lines SET account_id = account_id WHERE entry_id = :entry",
        "DELETE FROM journal_lines WHERE entry_id = :entry",
        "UPDATE journal_entries SET text = 'anders' WHERE id = :entry",
        "UPDATE journal_entries SET entry_date = '2026-12-31' WHERE id = :entry",
        "DELETE FROM journal_entries WHERE id = :entry",
        "TRUNCATE journal_lines",
    ],
)
async def test_posted_entries_and_lines_cannot_be_changed_or_deleted(db_session: AsyncSession, statement: str) -> None:
    entry_id = (await post_entry(db_session, debit(BANK, 1000), credit(INTERNET, 1000))).id
    await db_session.commit()

    with pytest.raises(DBAPIError, match="append-only"):
        await db_session.execute(sa.text(statement), {"entry": entry_id})
    await db_session.rollback()

    lines = await db_session.execute(
        sa.text("SELECT debit_cents, credit_cents FROM journal_lines WHERE entry_id = :entry ORDER BY id"),
        {"entry": entry_id},
    )
    assert [tuple(row) for row in lines] == [(1000, 0), (0, 1000)]


@pytest.mark.parametrize(
    ("debit_cents", "credit_cents"),
    [(100, 100), (0, 0), (-100, 0), (0, -5)],
)
async def test_a_line_is_one_positive_amount_on_one_side(
    db_session: AsyncSession, debit_cents: int, credit_cents: int
) -> None:
    bank = await _account_id(db_session, BANK)

    async def write() -> None:
        async with db_session.begin_nested():
            entry_id = await _insert_entry(db_session, "SQL-LINE")
            await _insert_line(db_session, entry_id, bank, debit_cents, credit_cents)

    with pytest.raises(IntegrityError, match="one_positive_side"):
        await write()


async def test_an_entry_in_another_currency_is_refused(db_session: AsyncSession) -> None:
    with pytest.raises(IntegrityError, match="currency_eur"):
        async with db_session.begin_nested():
            await db_session.execute(
                sa.text(
                    "INSERT INTO journal_entries (entry_date, booked_at, text, source_kind, source_id, currency) "
                    "VALUES ('2026-01-15', now(), 'x', 'manual', 'USD-1', 'USD')"
                )
            )


async def _commit_raw_entry(database: Database, source_id: str, lines: list[tuple[str, int, int]]) -> int:
    async with database.engine.connect() as connection:
        async with connection.begin():
            entry_id = await _insert_entry(connection, source_id)
            for code, debit_cents, credit_cents in lines:
                await _insert_line(connection, entry_id, await _account_id(connection, code), debit_cents, credit_cents)
        return entry_id


async def _entry_exists(database: Database, source_id: str) -> bool:
    async with database.engine.connect() as connection:
        result = await connection.execute(
            sa.text("SELECT count(*) FROM journal_entries WHERE source_id = :source"), {"source": source_id}
        )
        return bool(result.scalar_one())


@pytest.mark.parametrize(
    ("name", "lines"),
    [
        ("unbalanced", [(BANK, 1000, 0), (INTERNET, 0, 999)]),
        ("one-line", [(BANK, 1000, 0)]),
        ("no-lines", []),
    ],
)
async def test_postgresql_refuses_to_commit_an_entry_that_does_not_balance(
    committed_db: Database, name: str, lines: list[tuple[str, int, int]]
) -> None:
    source_id = f"SQL-{name}-{id(lines)}"

    with pytest.raises(IntegrityError, match="does not balance"):
        await _commit_raw_entry(committed_db, source_id, lines)

    assert not await _entry_exists(committed_db, source_id)


async def test_a_balanced_entry_written_in_sql_commits(committed_db: Database) -> None:
    source_id = f"SQL-ok-{id(committed_db)}"

    await _commit_raw_entry(committed_db, source_id, [(BANK, 700, 0), (INTERNET, 0, 400), (INTERNET, 0, 300)])

    assert await _entry_exists(committed_db, source_id)


async def test_no_line_can_be_added_to_an_entry_posted_in_an_earlier_transaction(committed_db: Database) -> None:
    lines = [(BANK, 500, 0), (INTERNET, 0, 500)]
    entry_id = await _commit_raw_entry(committed_db, f"SQL-closed-{id(committed_db)}", lines)

    async def add_balanced_pair() -> None:
        async with committed_db.engine.connect() as connection, connection.begin():
            await _insert_line(connection, entry_id, await _account_id(connection, BANK), 100, 0)
            await _insert_line(connection, entry_id, await _account_id(connection, INTERNET), 0, 100)

    # A pair of lines that balance each other would pass the balance check: it is refused as an edit.
    with pytest.raises(DBAPIError, match="is posted"):
        await add_balanced_pair()

    async with committed_db.engine.connect() as connection:
        total = await connection.execute(
            sa.text("SELECT sum(debit_cents) FROM journal_lines WHERE entry_id = :entry"), {"entry": entry_id}
        )
        assert total.scalar_one() == 500


def test_sqlite_refuses_changes_to_posted_entries_and_lines(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    migrate.upgrade(url)

    async def run() -> list[str]:
        engine = create_async_engine(url)
        refused = []
        async with engine.connect() as connection:
            async with connection.begin():
                entry_id = await _insert_entry(connection, "SQLITE-1")
                await _insert_line(connection, entry_id, await _account_id(connection, BANK), 100, 0)
                await _insert_line(connection, entry_id, await _account_id(connection, INTERNET), 0, 100)
            for statement in (
                "UPDATE journal_lines SET debit_cents = 1 WHERE debit_cents > 0",
                "DELETE FROM journal_lines",
                "UPDATE journal_entries SET text = 'anders'",
                "DELETE FROM journal_entries",
            ):
                try:
                    async with connection.begin():
                        await connection.execute(sa.text(statement))
                except DBAPIError as error:
                    refused.append(str(error.orig))
            lines = await connection.execute(sa.text("SELECT debit_cents, credit_cents FROM journal_lines ORDER BY id"))
            assert [tuple(row) for row in lines] == [(100, 0), (0, 100)]
        await engine.dispose()
        return refused

    refused = asyncio.run(run())

    assert len(refused) == 4
    assert all("append-only" in message for message in refused)
