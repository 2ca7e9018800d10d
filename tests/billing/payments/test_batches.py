"""Batch bookings and the bank's two reports of one entry: a direct debit file the bank booked as one entry
without details is resolved by our own file and books each collection as a batch with details does, or waits
with the reason when it is not what we submitted; a camt.054 notification books its transactions like a
statement, once, and a statement that carries the same entry later books nothing again (or the notification
takes over a batch total that was waiting)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit import events
from app.settings import Settings
from billing.ledger.models import SourceKind
from billing.payments import open_items, repository, sepa, service, status_reports
from billing.payments.models import (
    BankStatement,
    BankTransaction,
    ItemStatus,
    ReportKind,
    TransactionStatus,
)
from billing.payments.open_items import InvoicesSettled
from billing.payments.schemas import ImportReport
from tests.billing.payments.builders import (
    Batch,
    Booking,
    TxStatus,
    camt053,
    camt054,
    make_invoice,
    make_mandate,
    pain002,
    payout_instruction,
)
from tests.billing.payments.test_service import assert_books_balance, balance, entries
from tests.billing.payments.test_status_reports import Collection, collection, item_statuses, journal_size
from tests.builders import BOARD, make_member

pytestmark = pytest.mark.postgres

TOTAL = 4990 + 1999


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> list[InvoicesSettled]:
    """The ``InvoicesSettled`` events announced during the test (dunning's listener keeps listening)."""
    seen: list[InvoicesSettled] = []

    async def record(_: AsyncSession, batch: Sequence[InvoicesSettled]) -> None:
        seen.extend(batch)

    listeners = [*events._listeners.get(InvoicesSettled, []), record]
    monkeypatch.setitem(events._listeners, InvoicesSettled, listeners)
    return seen


def bookings(c: Collection) -> tuple[Booking, ...]:
    """The two collections of ``c`` as the bank's transaction details write them."""
    return (
        Booking("49.90", name="Anna", end_to_end_id="2026-000123", mandate_id=f"OT-{c.anna.id:08d}-01"),
        Booking("19.99", name="Ben", end_to_end_id="2026-000124", mandate_id=f"OT-{c.ben.id:08d}-01"),
    )


async def batch_id(session: AsyncSession, c: Collection) -> str:
    [found] = {item.batch_id for item in await repository.collection_items(session, c.file.id)}
    assert found is not None
    return found


async def outcome(session: AsyncSession, c: Collection) -> list[object]:
    """What the collections of ``c`` came to: the payments with their allocations and journal lines, the items."""
    paid = []
    for member in (c.anna, c.ben):
        for payment, allocations in await service.payments_of(session, actor=BOARD, member_id=member.id):
            paid.append(
                (
                    member.id,
                    payment.amount_cents,
                    payment.paid_on,
                    payment.method,
                    [(a.invoice_number, a.amount_cents) for a in allocations],
                )
            )
    return [paid, await entries(session, SourceKind.PAYMENT), await item_statuses(session, c.file.id)]


async def transactions(session: AsyncSession) -> list[BankTransaction]:
    query = sa.select(BankTransaction).order_by(BankTransaction.id)
    return list((await session.execute(query)).scalars())


async def import_(session: AsyncSession, settings: Settings, data: bytes) -> ImportReport:
    return await service.import_statement(session, actor=BOARD, settings=settings, data=data)


# --- a batch booked as one entry ------------------------------------------------------------------


async def test_a_batch_entry_without_details_books_each_collection_as_a_batch_with_details_does(
    db_session: AsyncSession, settings: Settings, settled: list[InvoicesSettled]
) -> None:
    c = await collection(db_session, settings)
    ids = {"message_id": c.file.message_id, "batch_id": await batch_id(db_session, c)}
    with_details = camt053(batches=[Batch(bookings(c), **ids)])
    without = camt053(batches=[Batch(bookings(c), details=False, **ids)])

    async with db_session.begin_nested() as savepoint:
        expected_report = await import_(db_session, settings, with_details)
        expected, expected_settled = await outcome(db_session, c), list(settled)
        await savepoint.rollback()
    settled.clear()
    report = await import_(db_session, settings, without)

    assert (report.transactions, report.matched, report.queued) == (2, 2, 0)
    assert report == expected_report
    assert await outcome(db_session, c) == expected
    assert [(e.member_id, e.paid_on) for e in settled] == [(e.member_id, e.paid_on) for e in expected_settled]
    assert {e.member_id for e in settled} == {c.anna.id, c.ben.id}
    assert await item_statuses(db_session, c.file.id) == {
        "2026-000123": ItemStatus.COLLECTED,
        "2026-000124": ItemStatus.COLLECTED,
    }
    assert await open_items.open_items(db_session, member_ids={c.anna.id, c.ben.id}) == []
    rows = await transactions(db_session)
    assert [(t.amount_cents, t.end_to_end_id, t.remittance, t.status) for t in rows] == [
        (4990, "2026-000123", "Rechnung 2026-000123", TransactionStatus.MATCHED),
        (1999, "2026-000124", "Rechnung 2026-000124", TransactionStatus.MATCHED),
    ]
    assert all(t.batch_id == ids["batch_id"] and t.entry_cents == TOTAL for t in rows)
    assert rows[0].note is not None and ids["batch_id"] in rows[0].note
    await assert_books_balance(db_session)


async def test_a_batch_entry_naming_only_our_file_is_resolved_by_the_file(
    db_session: AsyncSession, settings: Settings
) -> None:
    c = await collection(db_session, settings)

    report = await import_(
        db_session, settings, camt053(batches=[Batch(bookings(c), details=False, message_id=c.file.message_id)])
    )

    assert (report.matched, report.queued) == (2, 0)
    assert set((await item_statuses(db_session, c.file.id)).values()) == {ItemStatus.COLLECTED}


@pytest.mark.parametrize(
    ("amount", "count", "differs"),
    [
        ("69.88", None, "the bank booked 2 transactions, 69.88 EUR"),
        ("69.89", 3, "the bank booked 3 transactions, 69.89 EUR"),
    ],
)
async def test_a_batch_entry_that_differs_from_our_file_books_nothing_of_it_and_waits_with_the_reason(
    db_session: AsyncSession, settings: Settings, amount: str, count: int | None, differs: str
) -> None:
    c = await collection(db_session, settings)
    bank_before, unmatched_before = await balance(db_session, "1200"), await balance(db_session, "1360")
    ids = {"message_id": c.file.message_id, "batch_id": await batch_id(db_session, c)}

    report = await import_(
        db_session, settings, camt053(batches=[Batch(bookings(c), details=False, amount=amount, count=count, **ids)])
    )

    assert (report.transactions, report.matched, report.queued) == (1, 0, 1)
    [waiting], _ = await service.queue(db_session, actor=BOARD, limit=10, offset=0)
    assert waiting.note == (
        f"batch total differs from our file: {differs}; batch {ids['batch_id']} has 2 outstanding, 69.89 EUR"
    )
    assert waiting.batch_total is True
    assert set((await item_statuses(db_session, c.file.id)).values()) == {ItemStatus.SUBMITTED}
    assert len(await open_items.open_items(db_session, member_ids={c.anna.id, c.ben.id})) == 2
    cents = int(amount.replace(".", ""))
    assert await balance(db_session, "1200") - bank_before == cents
    assert await balance(db_session, "1360") - unmatched_before == -cents
    assert await service.payments_of(db_session, actor=BOARD, member_id=c.anna.id) == []


async def test_a_batch_entry_for_a_batch_that_is_none_of_ours_waits(
    db_session: AsyncSession, settings: Settings
) -> None:
    c = await collection(db_session, settings)

    await import_(
        db_session,
        settings,
        camt053(batches=[Batch(bookings(c), details=False, message_id="FREMD-1", batch_id="FREMD-1-1")]),
    )

    [waiting], _ = await service.queue(db_session, actor=BOARD, limit=10, offset=0)
    assert waiting.note == "a batch booking without details for batch FREMD-1-1, which is none of ours"
    assert set((await item_statuses(db_session, c.file.id)).values()) == {ItemStatus.SUBMITTED}


async def test_the_items_the_bank_rejected_before_are_not_part_of_the_batch_it_books(
    db_session: AsyncSession, settings: Settings
) -> None:
    c = await collection(db_session, settings)
    await status_reports.import_status_report(
        db_session, actor=BOARD, data=pain002(TxStatus("2026-000124", "RJCT", "AC04"), of=c.file.content)
    )
    [anna] = bookings(c)[:1]

    report = await import_(
        db_session, settings, camt053(batches=[Batch((anna,), details=False, batch_id=await batch_id(db_session, c))])
    )

    assert (report.matched, report.queued) == (1, 0)
    assert await item_statuses(db_session, c.file.id) == {
        "2026-000123": ItemStatus.COLLECTED,
        "2026-000124": ItemStatus.REJECTED,
    }


async def test_a_batch_entry_naming_no_batch_is_resolved_by_amount_and_date_when_one_batch_fits(
    db_session: AsyncSession, settings: Settings
) -> None:
    c = await collection(db_session, settings)  # collected on Tuesday 3 November
    # Booked on Friday, three TARGET days after the collection date: the latest the window takes.
    batch = Batch(bookings(c), details=False, booked_on=date(2026, 11, 6))

    report = await import_(db_session, settings, camt053(batches=[batch]))

    assert (report.matched, report.queued) == (2, 0)
    assert set((await item_statuses(db_session, c.file.id)).values()) == {ItemStatus.COLLECTED}
    rows = await transactions(db_session)
    assert all(t.note and "(by amount and date)" in t.note for t in rows)


@pytest.mark.parametrize(
    ("batch", "why"),
    [
        # Monday 9 November is the fourth TARGET day after the collection date.
        (Batch(details=False, amount="69.89", booked_on=date(2026, 11, 9)), "fits none of our batches"),
        (Batch(details=False, amount="69.89", count=3), "fits none of our batches"),
        (Batch(details=False, amount="69.90"), "fits none of our batches"),
    ],
)
async def test_a_batch_entry_naming_no_batch_that_fits_none_of_ours_waits(
    db_session: AsyncSession, settings: Settings, batch: Batch, why: str
) -> None:
    c = await collection(db_session, settings)

    await import_(db_session, settings, camt053(batches=[batch]))

    [waiting], _ = await service.queue(db_session, actor=BOARD, limit=10, offset=0)
    assert waiting.note is not None and waiting.note.endswith(why)
    assert set((await item_statuses(db_session, c.file.id)).values()) == {ItemStatus.SUBMITTED}


async def test_two_batches_of_the_same_total_are_not_guessed_between(
    db_session: AsyncSession, settings: Settings
) -> None:
    anna, ben = await make_member(db_session, settings), await make_member(db_session, settings)
    for member, number, on in ((anna, "2026-000123", date(2026, 11, 2)), (ben, "2026-000124", date(2026, 11, 3))):
        await make_invoice(db_session, member=member, number=number, gross_cents=4990)
        await make_mandate(db_session, settings, member=member)
        requests = await sepa.due_collections(db_session, actor=BOARD, on=on)
        await sepa.collect(db_session, actor=BOARD, settings=settings, requests=requests)

    await import_(db_session, settings, camt053(batches=[Batch(details=False, amount="49.90")]))

    [waiting], _ = await service.queue(db_session, actor=BOARD, limit=10, offset=0)
    assert waiting.note == (
        "a batch booking of direct debits without details or batch id that fits several of our batches"
    )


async def test_money_in_without_a_collection_code_is_not_taken_for_a_batch(
    db_session: AsyncSession, settings: Settings
) -> None:
    c = await collection(db_session, settings)

    await import_(
        db_session, settings, camt053(batches=[Batch(details=False, amount="69.89", iso_code=False, gvc="166")])
    )

    [waiting], _ = await service.queue(db_session, actor=BOARD, limit=10, offset=0)
    assert waiting.note == "no open invoice named"
    assert waiting.batch_total is False
    assert set((await item_statuses(db_session, c.file.id)).values()) == {ItemStatus.SUBMITTED}


async def test_a_credit_transfer_file_booked_as_one_debit_marks_each_payout_seen(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    made = await sepa.pay_out(
        db_session,
        actor=BOARD,
        settings=settings,
        instructions=[
            payout_instruction(member=member, cents=1234, reference="DV-2025-1"),
            payout_instruction(member=member, cents=766, reference="DV-2025-2"),
        ],
    )
    [payout_batch] = {item.batch_id for item in await repository.payout_items(db_session, made.id)}
    journal_before = await journal_size(db_session)

    report = await import_(
        db_session,
        settings,
        camt053(batches=[Batch(details=False, amount="20.00", credit=False, batch_id=payout_batch)]),
    )

    assert (report.transactions, report.payouts, report.queued) == (2, 2, 0)
    assert {i.status for i in await repository.payout_items(db_session, made.id)} == {ItemStatus.COLLECTED}
    assert await journal_size(db_session) == journal_before  # booked when the file was made


async def test_the_same_batch_entry_in_an_overlapping_statement_is_known(
    db_session: AsyncSession, settings: Settings
) -> None:
    c = await collection(db_session, settings)
    batch = Batch(bookings(c), details=False, batch_id=await batch_id(db_session, c), bank_reference="SAMMLER-1")
    await import_(db_session, settings, camt053(batches=[batch]))

    again = await import_(db_session, settings, camt053(batches=[batch], statement_id="2026-11-04-00001"))

    assert (again.statements, again.transactions, again.transactions_known, again.covered) == (1, 0, 1, 0)
    assert len(await transactions(db_session)) == 2


# --- camt.054 notifications -----------------------------------------------------------------------------


async def test_a_notification_books_its_transactions_once_and_is_stored_as_received(
    db_session: AsyncSession, settings: Settings
) -> None:
    c = await collection(db_session, settings)
    data = camt054(Batch(bookings(c), batch_id=await batch_id(db_session, c), bank_reference="SAMMLER-1"))

    first = await import_(db_session, settings, data)
    second = await import_(db_session, settings, data)

    assert (first.statements, first.transactions, first.matched) == (1, 2, 2)
    assert (second.statements, second.statements_known, second.transactions, second.transactions_known) == (0, 1, 0, 2)
    assert set((await item_statuses(db_session, c.file.id)).values()) == {ItemStatus.COLLECTED}
    assert await open_items.open_items(db_session, member_ids={c.anna.id, c.ben.id}) == []
    [stored] = (await db_session.execute(sa.select(BankStatement))).scalars().all()
    assert (stored.kind, stored.statement_id, stored.content) == (
        ReportKind.NOTIFICATION,
        "054-2026-11-03-00001",
        data,
    )
    assert len(await service.payments_of(db_session, actor=BOARD, member_id=c.anna.id)) == 1


async def test_a_statement_after_the_notification_records_the_batch_entry_as_covered_and_books_nothing(
    db_session: AsyncSession, settings: Settings
) -> None:
    c = await collection(db_session, settings)
    ids = {"batch_id": await batch_id(db_session, c), "bank_reference": "SAMMLER-1"}
    bank_before = await balance(db_session, "1200")
    await import_(db_session, settings, camt054(Batch(bookings(c), **ids)))
    journal_before = await journal_size(db_session)

    report = await import_(db_session, settings, camt053(batches=[Batch(bookings(c), details=False, **ids)]))

    assert (report.transactions, report.covered, report.matched, report.queued) == (1, 1, 0, 0)
    assert await journal_size(db_session) == journal_before
    assert await balance(db_session, "1200") - bank_before == TOTAL
    summary = (await transactions(db_session))[-1]
    assert (summary.status, summary.amount_cents) == (TransactionStatus.COVERED, TOTAL)
    assert summary.note == "booked from notification 054-2026-11-03-00001"
    assert (await service.queue(db_session, actor=BOARD, limit=10, offset=0))[1] == 0
    await assert_books_balance(db_session)


@pytest.mark.parametrize(
    ("meets", "known", "covered"),
    [
        # By the entry's bank reference: the transactions' fingerprints are those the statement's resolution took.
        ({"bank_reference": "SAMMLER-1"}, 2, 0),
        # By our batch id alone: recorded as covered.
        ({"batch_id": "ours"}, 0, 2),
    ],
)
async def test_a_notification_after_the_statement_resolved_the_batch_books_nothing_again(
    db_session: AsyncSession, settings: Settings, meets: dict[str, str], known: int, covered: int
) -> None:
    c = await collection(db_session, settings)
    ours = await batch_id(db_session, c)
    await import_(
        db_session,
        settings,
        camt053(batches=[Batch(bookings(c), details=False, batch_id=ours, bank_reference="SAMMLER-1")]),
    )
    journal_before = await journal_size(db_session)

    report = await import_(
        db_session, settings, camt054(Batch(bookings(c), **{k: ours if v == "ours" else v for k, v in meets.items()}))
    )

    assert (report.transactions, report.transactions_known, report.covered) == (covered, known, covered)
    assert (report.matched, report.queued) == (0, 0)
    assert await journal_size(db_session) == journal_before
    assert len(await service.payments_of(db_session, actor=BOARD, member_id=c.anna.id)) == 1
    assert [t.status for t in await transactions(db_session)] == [TransactionStatus.MATCHED] * 2 + [
        TransactionStatus.COVERED
    ] * covered


@pytest.mark.parametrize(
    "statement_names",
    [
        "our file",  # MsgId only: our file's one batch is the batch the notification names
        "nothing",  # no batch id, no reference: resolved by amount and date, which keeps our batch's id
    ],
)
async def test_a_notification_meets_the_statement_by_our_batch_however_the_statement_named_it(
    db_session: AsyncSession, settings: Settings, statement_names: str
) -> None:
    c = await collection(db_session, settings)
    named = {"message_id": c.file.message_id} if statement_names == "our file" else {}
    await import_(db_session, settings, camt053(batches=[Batch(bookings(c), details=False, **named)]))
    journal_before = await journal_size(db_session)

    report = await import_(db_session, settings, camt054(Batch(bookings(c), batch_id=await batch_id(db_session, c))))

    assert (report.transactions, report.covered, report.matched, report.queued) == (2, 2, 0, 0)
    assert await journal_size(db_session) == journal_before


async def test_a_notification_takes_over_a_batch_total_that_waits_and_books_its_transactions(
    db_session: AsyncSession, settings: Settings
) -> None:
    c = await collection(db_session, settings)
    bank_before, unmatched_before = await balance(db_session, "1200"), await balance(db_session, "1360")
    # The bank booked only Anna's debit: the statement's total is not what our batch holds, so it waits.
    [anna] = bookings(c)[:1]
    ids = {"batch_id": await batch_id(db_session, c), "bank_reference": "SAMMLER-1"}
    await import_(db_session, settings, camt053(batches=[Batch((anna,), details=False, count=1, **ids)]))
    [waiting], _ = await service.queue(db_session, actor=BOARD, limit=10, offset=0)

    report = await import_(db_session, settings, camt054(Batch((anna,), **ids)))

    assert (report.transactions, report.matched, report.covered, report.queued) == (1, 1, 0, 0)
    assert (await service.queue(db_session, actor=BOARD, limit=10, offset=0))[1] == 0
    await db_session.refresh(waiting)
    assert waiting.status is TransactionStatus.COVERED
    assert waiting.note == "its transactions are booked from notification 054-2026-11-03-00001"
    assert await item_statuses(db_session, c.file.id) == {
        "2026-000123": ItemStatus.COLLECTED,
        "2026-000124": ItemStatus.SUBMITTED,
    }
    assert await balance(db_session, "1200") - bank_before == 4990
    assert await balance(db_session, "1360") == unmatched_before
    parked = [e for e in await entries(db_session, SourceKind.PAYMENT) if any(a == "1360" for a, *_ in e)]
    assert parked == [[("1200", 4990, 0, None), ("1360", 0, 4990, None)]]
    assert await entries(db_session, SourceKind.REVERSAL) == [[("1200", 0, 4990, None), ("1360", 4990, 0, None)]]
    await assert_books_balance(db_session)


async def test_a_camt_054_001_08_notification_is_imported_too(db_session: AsyncSession, settings: Settings) -> None:
    c = await collection(db_session, settings)

    report = await import_(
        db_session, settings, camt054(Batch(bookings(c), batch_id=await batch_id(db_session, c)), version="001.08")
    )

    assert (report.matched, report.queued) == (2, 0)
