"""Two transactions posting the same source at once book it once, and both get that entry."""

from __future__ import annotations

import asyncio
import secrets

import sqlalchemy as sa

from app.audit.service import bind_actor
from app.db import Database
from billing.ledger import service as ledger
from tests.builders import BOARD, credit, debit, entry_draft


async def test_a_source_posted_by_two_transactions_at_once_is_booked_once(committed_db: Database) -> None:
    source_id = f"RACE-{secrets.token_hex(4)}"
    draft = entry_draft(debit("1200", 2500), credit("8401", 2500), source_id=source_id)
    first_flushed = asyncio.Event()
    second_started = asyncio.Event()

    async def first() -> int:
        async with committed_db.transaction() as session:
            bind_actor(session, BOARD)
            entry = await ledger.post(session, actor=BOARD, entry=draft)
            first_flushed.set()
            await second_started.wait()
            await asyncio.sleep(0.3)  # the second is now waiting on the unique source key
            return entry.id

    async def second() -> int:
        await first_flushed.wait()
        async with committed_db.transaction() as session:
            bind_actor(session, BOARD)
            second_started.set()
            # Before the first commits, the source is not visible here: this insert waits, then loses.
            entry = await ledger.post(session, actor=BOARD, entry=draft)
            return entry.id

    ids = await asyncio.gather(first(), second())

    async with committed_db.transaction() as session:
        count = await session.execute(
            sa.text("SELECT count(*) FROM journal_entries WHERE source_id = :source"), {"source": source_id}
        )
        assert count.scalar_one() == 1
    assert ids[0] == ids[1]
