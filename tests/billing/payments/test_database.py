"""The database keeps the files exchanged with the bank as they were (GoBD): a stored pain.008/pain.001 file,
an imported camt.053 statement and a pain.002 status report cannot be changed or deleted, whoever writes the
SQL (PostgreSQL and SQLite)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine

from app import migrate

# Every column the migration names, each file's content and hash, and deleting; all refused.
REFUSED = [
    "UPDATE sepa_files SET content = :other WHERE id = :file",
    "UPDATE sepa_files SET sha256 = :hash WHERE id = :file",
    "UPDATE sepa_files SET message_id = 'OT-ANDERS' WHERE id = :file",
    "UPDATE sepa_files SET total_cents = total_cents + 1 WHERE id = :file",
    "UPDATE sepa_files SET kind = 'credit_transfer' WHERE id = :file",
    "UPDATE sepa_files SET due_on = '2026-12-31' WHERE id = :file",
    "UPDATE sepa_files SET item_count = 2, sequence = 'RCUR' WHERE id = :file",
    "DELETE FROM sepa_files WHERE id = :file",
    "UPDATE bank_statements SET content = :other WHERE id = :statement",
    "UPDATE bank_statements SET sha256 = :hash WHERE id = :statement",
    "UPDATE bank_statements SET transaction_count = 0 WHERE id = :statement",
    "DELETE FROM bank_statements WHERE id = :statement",
    "UPDATE sepa_status_reports SET content = :other WHERE id = :report",
    "UPDATE sepa_status_reports SET rejected_count = 0 WHERE id = :report",
    "DELETE FROM sepa_status_reports WHERE id = :report",
]
OTHER = {"other": b"<Document/>", "hash": "0" * 64}


async def _store_files(connection: AsyncConnection | AsyncSession, tag: str) -> dict[str, int]:
    """One SEPA file, one bank statement and one status report written in SQL, as the payments code writes them."""
    file_id = await connection.execute(
        sa.text(
            "INSERT INTO sepa_files (kind, message_id, schema, due_on, sequence, sha256, content, total_cents, "
            "item_count, created_at, updated_at) VALUES ('direct_debit', :message, 'pain.008.001.08', '2026-11-16', "
            "'FRST', :hash, :content, 4990, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
        ),
        {"message": f"OT-{tag}", "hash": tag.ljust(64, "a"), "content": b"<Document>pain.008</Document>"},
    )
    statement_id = await connection.execute(
        sa.text(
            "INSERT INTO bank_statements (account_iban, statement_id, created_on, sha256, content, transaction_count, "
            "created_at, updated_at) VALUES ('DE91100000000123456789', :statement, '2026-11-17', :hash, :content, 1, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
        ),
        {"statement": f"STMT-{tag}", "hash": tag.ljust(64, "b"), "content": b"<Document>camt.053</Document>"},
    )
    file = int(file_id.scalar_one())
    report_id = await connection.execute(
        sa.text(
            "INSERT INTO sepa_status_reports (file_id, message_id, created_on, group_status, sha256, content, "
            "transaction_count, rejected_count, created_at, updated_at) VALUES (:file, :message, '2026-11-17', "
            "'RJCT', :hash, :content, 1, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
        ),
        {
            "file": file,
            "message": f"STS-{tag}",
            "hash": tag.ljust(64, "c"),
            "content": b"<Document>pain.002</Document>",
        },
    )
    return {"file": file, "statement": int(statement_id.scalar_one()), "report": int(report_id.scalar_one()), **OTHER}


# TRUNCATE with CASCADE: without it the foreign keys of the items and transactions refuse it already.
@pytest.mark.parametrize(
    "statement",
    [
        *REFUSED,
        "TRUNCATE sepa_files CASCADE",
        "TRUNCATE bank_statements CASCADE",
        "TRUNCATE sepa_status_reports",
    ],
)
async def test_postgresql_refuses_to_change_or_delete_a_bank_file(db_session: AsyncSession, statement: str) -> None:
    ids = await _store_files(db_session, "PG1")

    with pytest.raises(DBAPIError, match="append-only"):
        async with db_session.begin_nested():
            await db_session.execute(sa.text(statement), ids if ":" in statement else {})

    stored = await db_session.execute(sa.text("SELECT content, total_cents FROM sepa_files WHERE id = :file"), ids)
    assert stored.one() == (b"<Document>pain.008</Document>", 4990)


def test_sqlite_refuses_to_change_or_delete_a_bank_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bank.db'}"
    migrate.upgrade(url)

    async def run() -> tuple[list[str], list[tuple[object, ...]]]:
        engine = create_async_engine(url)
        refused = []
        async with engine.connect() as connection:
            async with connection.begin():
                ids = await _store_files(connection, "SQLITE1")
            for statement in REFUSED:
                try:
                    async with connection.begin():
                        await connection.execute(sa.text(statement), ids)
                except DBAPIError as error:
                    refused.append(str(error.orig))
            kept = await connection.execute(
                sa.text(
                    "SELECT f.content, f.sha256, f.total_cents, s.content, s.transaction_count "
                    "FROM sepa_files f, bank_statements s"
                )
            )
            rows = [tuple(row) for row in kept]
        await engine.dispose()
        return refused, rows

    refused, rows = asyncio.run(run())

    assert len(refused) == len(REFUSED)
    assert all("append-only" in message for message in refused)
    assert rows == [
        (b"<Document>pain.008</Document>", "SQLITE1".ljust(64, "a"), 4990, b"<Document>camt.053</Document>", 1)
    ]
