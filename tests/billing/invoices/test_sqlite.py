"""The embedded default: a bill run issues on SQLite too, and SQLite's triggers keep the invoice final."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app import migrate
from app.audit.service import bind_actor
from app.audit.service import install as install_audit
from app.db import Database
from app.settings import Settings
from billing.invoices import billrun
from tests.builders import BOARD, make_contract, make_member


async def test_a_bill_run_issues_on_sqlite_and_the_invoice_stays_final(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bill.db'}"
    await asyncio.to_thread(migrate.upgrade, url)  # Alembic runs its own event loop
    install_audit()
    settings = Settings(environment="test", database_url=url, run_background_loops=False, _env_file=None)  # type: ignore[call-arg]
    database = Database(settings)
    try:
        async with database.transaction() as session:
            member = await make_member(session, settings, is_business=True, vat_id="DE999999987")
            await make_contract(session, settings, member=member)
        async with database.transaction() as session:
            bind_actor(session, BOARD)
            run = await billrun.preview(session, actor=BOARD, settings=settings, period="2026-10")
            run = await billrun.issue(session, actor=BOARD, settings=settings, run_id=run.id)
        async with database.transaction() as session:
            rows = (await session.execute(sa.text("SELECT number, gross_cents FROM invoices"))).all()
            entries = await session.execute(
                sa.text("SELECT count(*) FROM journal_entries WHERE source_kind = 'invoice'")
            )
            assert entries.scalar_one() == 1
            buyer = await session.execute(sa.text("SELECT buyer_is_business, buyer_vat_id FROM invoices"))
            assert [(bool(business), vat_id) for business, vat_id in buyer] == [(True, "DE999999987")]
            with pytest.raises(IntegrityError, match="invoice is issued"):
                await session.execute(sa.text("UPDATE invoices SET net_cents = 1"))
    finally:
        await database.dispose()

    assert run.invoice_count == 1
    assert [(number[5:], gross) for number, gross in rows] == [("000001", 4748)]
