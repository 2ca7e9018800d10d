"""The database keeps issued invoices final on its own: whoever writes the SQL, an issued invoice and its
lines cannot be changed or deleted, and nothing can be added to it; drafts stay editable. And numbers are
gapless under concurrent issuing (PostgreSQL, real transactions)."""

from __future__ import annotations

import asyncio
import secrets

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.db import Database
from app.settings import Settings
from billing.invoices import service
from billing.invoices.models import InvoiceKind
from tests.billing.invoices.builders import run_period
from tests.builders import BOARD, make_contract, make_member


async def _issued_and_draft(db_session: AsyncSession, settings: Settings) -> tuple[int, int]:
    issued_member = await make_member(db_session, settings)
    await make_contract(db_session, settings, member=issued_member)
    await run_period(db_session, settings, period="2026-10")
    draft_member = await make_member(db_session, settings)
    await make_contract(db_session, settings, member=draft_member)
    await run_period(db_session, settings, period="2026-10", issue=False)
    ids = await db_session.execute(
        sa.text("SELECT member_id, id FROM invoices WHERE member_id IN (:a, :b)"),
        {"a": issued_member.id, "b": draft_member.id},
    )
    by_member = dict(ids.all())
    return by_member[issued_member.id], by_member[draft_member.id]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE invoices SET net_cents = net_cents + 1, gross_cents = gross_cents + 1 WHERE id = :id",
        "UPDATE invoices SET buyer_name = 'Jemand anders' WHERE id = :id",
        "DELETE FROM invoices WHERE id = :id",
        "UPDATE invoice_lines SET net_cents = 1 WHERE invoice_id = :id",
        "DELETE FROM invoice_lines WHERE invoice_id = :id",
        "UPDATE invoices SET contract_terms = '[]' WHERE id = :id",
        "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit, unit_price, net_cents, "
        "vat_rate, service_kind) VALUES (:id, 99, 'nachträglich', 1, 'C62', 1, 100, 19, 'internet')",
    ],
)
async def test_an_issued_invoice_cannot_be_changed_at_the_database(
    db_session: AsyncSession, settings: Settings, statement: str
) -> None:
    issued, _ = await _issued_and_draft(db_session, settings)

    with pytest.raises(DBAPIError, match=r"issued invoice|invoice is issued"):
        async with db_session.begin_nested():
            await db_session.execute(sa.text(statement), {"id": issued})


async def test_a_draft_can_be_changed_and_deleted(db_session: AsyncSession, settings: Settings) -> None:
    _, draft = await _issued_and_draft(db_session, settings)

    await db_session.execute(
        sa.text("UPDATE invoice_lines SET description = 'neu' WHERE invoice_id = :id"), {"id": draft}
    )
    await db_session.execute(sa.text("DELETE FROM invoice_lines WHERE invoice_id = :id"), {"id": draft})
    await db_session.execute(sa.text("UPDATE invoices SET contract_terms = '[]' WHERE id = :id"), {"id": draft})
    await db_session.execute(sa.text("DELETE FROM invoices WHERE id = :id"), {"id": draft})

    left = await db_session.execute(sa.text("SELECT count(*) FROM invoices WHERE id = :id"), {"id": draft})
    assert left.scalar_one() == 0


async def _insert_drafts(session: AsyncSession, member_id: int, count: int, tag: str) -> None:
    for _ in range(count):
        await session.execute(
            sa.text(
                "INSERT INTO invoices (kind, status, member_id, buyer_name, buyer_street, buyer_postal_code, "
                "buyer_city, buyer_country, buyer_is_business, issue_date, period_start, period_end, due_date, "
                "net_cents, vat_cents, gross_cents, amount_due_cents, currency, created_at, updated_at) VALUES "
                "('invoice', 'draft', :member, :tag, 'Weg 1', '10115', 'Berlin', 'DE', false, '2099-01-05', "
                "'2099-01-01', '2099-01-31', '2099-01-19', 100, 19, 119, 119, 'EUR', now(), now())"
            ),
            {"member": member_id, "tag": tag},
        )


async def test_concurrent_issuers_share_no_number_and_a_rollback_leaves_no_gap(committed_db: Database) -> None:
    year = 2100 + secrets.randbelow(7000)
    async with committed_db.transaction() as session:
        member = await make_member(session, committed_db.settings)
    started = asyncio.Barrier(4)

    async def issuer(n: int, *, roll_back: bool) -> None:
        tag = f"race-{year}-{n}"
        async with committed_db.sessionmaker() as session:
            bind_actor(session, BOARD)
            async with session.begin() as transaction:
                await _insert_drafts(session, member.id, 5, tag)
                await started.wait()
                await service.issue_drafts(
                    session, kind=InvoiceKind.INVOICE, year=year, where="buyer_name = :tag", params={"tag": tag}
                )
                await asyncio.sleep(0.05)  # hold the series row while the others queue on it
                if roll_back:
                    await transaction.rollback()

    await asyncio.gather(*(issuer(n, roll_back=n == 1) for n in range(4)))

    async with committed_db.transaction() as session:
        numbers = await session.execute(
            sa.text("SELECT number FROM invoices WHERE buyer_name LIKE :tag AND status = 'issued'"),
            {"tag": f"race-{year}-%"},
        )
        got = sorted(numbers.scalars())
        drafts = await session.execute(
            sa.text("SELECT count(*) FROM invoices WHERE buyer_name = :tag"), {"tag": f"race-{year}-1"}
        )
    assert got == [f"{year}-{n:06d}" for n in range(1, 16)]
    assert drafts.scalar_one() == 0
