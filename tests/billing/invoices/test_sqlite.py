"""The embedded default: a bill run issues on SQLite too, and SQLite's triggers keep the invoice final."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app import migrate
from app.audit.service import bind_actor
from app.audit.service import install as install_audit
from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.db import Database
from app.kit.money import pro_rata_cents
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


async def test_a_termination_entered_after_the_run_is_credited_on_sqlite_too(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'corrections.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    install_audit()
    settings = Settings(environment="test", database_url=url, run_background_loops=False, _env_file=None)  # type: ignore[call-arg]
    database = Database(settings)
    try:
        async with database.transaction() as session:
            member = await make_member(session, settings)
            contract = await make_contract(session, settings, member=member)
        for period in ("2026-10", "2026-11"):
            async with database.transaction() as session:
                bind_actor(session, BOARD)
                if period == "2026-11":
                    await contracts.transition(
                        session,
                        actor=BOARD,
                        settings=settings,
                        contract_id=contract.id,
                        to=ContractStatus.TERMINATED,
                        effective_on=date(2026, 10, 19),
                    )
                run = await billrun.preview(session, actor=BOARD, settings=settings, period=period)
                await billrun.issue(session, actor=BOARD, settings=settings, run_id=run.id)
        async with database.transaction() as session:
            rows = (
                await session.execute(
                    sa.text(
                        "SELECT i.kind, i.number, l.net_cents, l.source_ref FROM invoices i "
                        "JOIN invoice_lines l ON l.invoice_id = i.id WHERE i.corrects_invoice_id IS NOT NULL"
                    )
                )
            ).all()
    finally:
        await database.dispose()

    # 12 of October's 31 days of the 39.90 plan.
    assert [(kind, number[:3], net, ref) for kind, number, net, ref in rows] == [
        ("credit_note", "GS-", 3990 - pro_rata_cents(3990, 19, 31), f"fee-correction:{contract.id}:2026-10:01")
    ]
