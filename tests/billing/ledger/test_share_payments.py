"""Share payments in the books: bank to member capital as members record them, once per payment, and a
backfill for the payments recorded before the ledger existed."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import NotFound
from app.kit.time import utcnow
from app.members import repository as members_repository
from app.members import service as members
from app.members.models import CapitalMovement, CapitalMovementKind, Member, ShareTransfer
from app.settings import Settings
from billing.ledger import repository, service, share_payments
from billing.ledger.models import JournalEntry, SourceKind
from tests.builders import BOARD, make_member

BANK, CAPITAL = "1200", "0800"


async def share_entries(session: AsyncSession, kind: SourceKind = SourceKind.SHARE_PAYMENT) -> list[JournalEntry]:
    entries, _ = await repository.search_entries(session, filters=repository.EntryFilter(source_kind=kind), limit=None)
    return entries


async def capital_in_books(session: AsyncSession, member: Member) -> int:
    balances = await service.member_balances(session, actor=BOARD, member_id=member.id)
    return -next(a for a in balances.accounts if a.code == CAPITAL).balance_cents


async def record_before_the_ledger(session: AsyncSession, member: Member, amount_cents: int, on: date) -> int:
    """A payment as it stood in the database before the ledger existed: a capital movement, no entry."""
    result = await session.execute(
        sa.insert(CapitalMovement)
        .values(
            member_id=member.id,
            amount_cents=amount_cents,
            effective_on=on,
            kind=CapitalMovementKind.PAYMENT,
            reference=None,
            recorded_at=utcnow(),
        )
        .returning(CapitalMovement.id)
    )
    return int(result.scalar_one())


async def test_a_recorded_share_payment_is_booked_bank_to_the_member_s_capital(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, shares=3, paid_cents=0)

    payment = await members.record_share_payment(
        db_session,
        actor=BOARD,
        settings=settings,
        member_id=member.id,
        amount_cents=15_000,
        paid_on=date(2025, 3, 1),
        reference="Überweisung 0815",
    )

    [entry] = await share_entries(db_session)
    [shown] = await service.entries_out(db_session, [entry])
    assert (entry.source_id, entry.entry_date) == (str(payment.id), date(2025, 3, 1))
    assert entry.text == f"Einzahlung Geschäftsguthaben Mitglied-ID {member.id}, Überweisung 0815"
    assert sorted((line.account, line.debit_cents, line.credit_cents, line.member_id) for line in shown.lines) == [
        (CAPITAL, 0, 15_000, member.id),
        (BANK, 15_000, 0, None),
    ]


async def test_booking_a_payment_again_returns_its_entry(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)
    [entry] = await share_entries(db_session)

    again = await share_payments.book_share_payment(db_session, actor=BOARD, payment_id=int(entry.source_id))

    assert again.id == entry.id
    assert [e.id for e in await share_entries(db_session)] == [entry.id]
    assert member.id == entry.lines[1].member_id


async def test_an_unknown_payment_is_not_found(db_session: AsyncSession) -> None:
    with pytest.raises(NotFound) as missing:
        await share_payments.book_share_payment(db_session, actor=BOARD, payment_id=987_654_321)

    assert missing.value.code == "share_payment_not_found"


async def test_the_backfill_books_only_unbooked_payments_and_a_second_run_books_nothing(
    db_session: AsyncSession, settings: Settings
) -> None:
    anna = await make_member(db_session, settings, shares=2)  # booked as it is recorded
    ben = await make_member(db_session, settings, shares=2, paid_cents=0)
    old_ids = [
        await record_before_the_ledger(db_session, ben, 10_000, date(2025, 2, 1)),
        await record_before_the_ledger(db_session, anna, -5_000, date(2025, 2, 2)),  # a repayment
        await record_before_the_ledger(db_session, ben, 2_500, date(2025, 2, 3)),
    ]
    booked_before = {e.source_id for e in await share_entries(db_session)}

    first = await share_payments.book_unbooked_share_payments(db_session, actor=BOARD, batch=2)
    second = await share_payments.book_unbooked_share_payments(db_session, actor=BOARD, batch=2)

    entries = await share_entries(db_session)
    assert (first.payments, first.booked) == (4, 3)
    assert (second.payments, second.booked) == (4, 0)
    assert {e.source_id for e in entries} - booked_before == {str(i) for i in old_ids}
    assert len(entries) == 4
    repayment = next(e for e in entries if e.source_id == str(old_ids[1]))
    [shown] = await service.entries_out(db_session, [repayment])
    assert sorted((line.account, line.debit_cents, line.credit_cents) for line in shown.lines) == [
        (CAPITAL, 5_000, 0),
        (BANK, 0, 5_000),
    ]
    for member in (anna, ben):
        assert await capital_in_books(db_session, member) == await members_repository.capital_on(
            db_session, member.id, date.max
        )


async def test_capital_passed_on_with_shares_moves_between_the_members_capital_in_the_books(
    db_session: AsyncSession, settings: Settings
) -> None:
    giver = await make_member(db_session, settings, shares=3)
    receiver = await make_member(db_session, settings, shares=1)

    transfer = await members.transfer_shares(
        db_session,
        actor=BOARD,
        settings=settings,
        from_member_id=giver.id,
        to_member_id=receiver.id,
        shares=2,
        effective_on=date(2025, 7, 1),
    )
    backfill = await share_payments.book_unbooked_share_transfers(db_session, actor=BOARD)

    [entry] = await share_entries(db_session, SourceKind.SHARE_TRANSFER)
    [shown] = await service.entries_out(db_session, [entry])
    assert (entry.source_id, entry.entry_date, entry.document_number) == (
        str(transfer.id),
        date(2025, 7, 1),
        f"UE-{transfer.id}",
    )
    assert [(line.account, line.debit_cents, line.credit_cents, line.member_id) for line in shown.lines] == [
        (CAPITAL, 20_000, 0, giver.id),
        (CAPITAL, 0, 20_000, receiver.id),
    ]
    assert (backfill.transfers, backfill.booked) == (1, 0)
    assert await capital_in_books(db_session, giver) == 10_000
    assert await capital_in_books(db_session, receiver) == 30_000


async def test_the_backfill_books_a_transfer_recorded_before_the_ledger(
    db_session: AsyncSession, settings: Settings
) -> None:
    giver = await make_member(db_session, settings, shares=2)
    receiver = await make_member(db_session, settings, shares=1)
    now = utcnow()
    old_id = (
        await db_session.execute(
            sa.insert(ShareTransfer)
            .values(
                from_member_id=giver.id,
                to_member_id=receiver.id,
                shares=1,
                capital_cents=10_000,
                agreed_on=date(2025, 3, 1),
                effective_on=date(2025, 3, 1),
                created_at=now,
                updated_at=now,
            )
            .returning(ShareTransfer.id)
        )
    ).scalar_one()

    first = await share_payments.book_unbooked_share_transfers(db_session, actor=BOARD)
    second = await share_payments.book_unbooked_share_transfers(db_session, actor=BOARD)

    assert [e.source_id for e in await share_entries(db_session, SourceKind.SHARE_TRANSFER)] == [str(old_id)]
    assert (first.booked, second.booked) == (1, 0)
    assert await capital_in_books(db_session, receiver) == 20_000
