"""Statements in, payments booked: a camt.053 import matches payments to invoices and books them, books a
returned debit with its fee and reopens the invoice, parks what nobody claims on unmatched payments until
an operator assigns it; importing twice creates nothing; the ledger balances throughout."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import DomainError
from app.members.models import Member
from app.settings import Settings
from billing.ledger import export
from billing.ledger import service as ledger
from billing.ledger.models import SourceKind
from billing.ledger.repository import EntryFilter
from billing.payments import open_items, repository, sepa, service
from billing.payments.models import ItemStatus, PaymentMethod, TransactionStatus
from billing.payments.schemas import CollectionRequest, ManualPayment, QueueAssignment
from tests.billing.payments.builders import Booking, camt053, make_invoice, make_mandate, payout_instruction
from tests.builders import BOARD, make_member

pytestmark = pytest.mark.postgres


async def balance(session: AsyncSession, code: str, member: Member | None = None) -> int:
    """Debits minus credits on account ``code`` (for ``member`` on a per-member account)."""
    if member is not None:
        balances = await ledger.member_balances(session, actor=BOARD, member_id=member.id)
        return sum(a.balance_cents for a in balances.accounts if a.code == code)
    return (await ledger.account_balance(session, actor=BOARD, account=code)).balance_cents


async def entries(session: AsyncSession, kind: SourceKind) -> list[list[tuple[str, int, int, int | None]]]:
    found, _ = await ledger.search_entries(
        session, actor=BOARD, filters=EntryFilter(source_kind=kind), limit=50, offset=0
    )
    return [[(line.account, line.debit_cents, line.credit_cents, line.member_id) for line in e.lines] for e in found]


async def assert_books_balance(session: AsyncSession) -> None:
    trial = await ledger.trial_balance(session, actor=BOARD)
    assert trial.balance_cents == 0
    assert trial.debit_cents == trial.credit_cents > 0


async def test_a_transfer_naming_the_invoice_pays_it_and_books_bank_to_receivables(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_invoice(db_session, member=member, number="2026-000123", gross_cents=4990)
    bank_before = await balance(db_session, "1200")

    report = await service.import_statement(
        db_session,
        actor=BOARD,
        settings=settings,
        data=camt053(Booking("49.90", remittance="Rechnung 2026-000123", bank_reference="TX1")),
    )

    assert (report.transactions, report.matched, report.queued) == (1, 1, 0)
    assert await open_items.open_items(db_session, member_ids={member.id}) == []
    assert await balance(db_session, "1400", member) == 0
    assert await balance(db_session, "1200") - bank_before == 4990
    [(payment, allocations)] = await service.payments_of(db_session, actor=BOARD, member_id=member.id)
    assert (payment.amount_cents, payment.method) == (4990, PaymentMethod.TRANSFER)
    assert [(a.invoice_number, a.amount_cents) for a in allocations] == [("2026-000123", 4990)]
    await assert_books_balance(db_session)


async def test_importing_a_statement_twice_creates_nothing_new(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)
    await make_invoice(db_session, member=member, number="2026-000123", gross_cents=4990)
    data = camt053(Booking("49.90", remittance="2026-000123", bank_reference="TX1"), Booking("10.00", remittance="?"))

    first = await service.import_statement(db_session, actor=BOARD, settings=settings, data=data)
    second = await service.import_statement(db_session, actor=BOARD, settings=settings, data=data)
    # The same booking in the next day's statement (the bank's reference is the same) is known too.
    overlapping = await service.import_statement(
        db_session,
        actor=BOARD,
        settings=settings,
        data=camt053(Booking("49.90", remittance="2026-000123", bank_reference="TX1"), statement_id="2026-11-04-1"),
    )

    assert (first.statements, first.transactions) == (1, 2)
    assert (second.statements, second.statements_known, second.transactions, second.transactions_known) == (0, 1, 0, 2)
    assert (overlapping.statements, overlapping.transactions, overlapping.transactions_known) == (1, 0, 1)
    assert len(await service.payments_of(db_session, actor=BOARD, member_id=member.id)) == 1
    assert len(await entries(db_session, SourceKind.PAYMENT)) == 2  # the payment and the parked 10 EUR


async def test_a_partial_payment_leaves_the_rest_open(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)
    await make_invoice(db_session, member=member, number="2026-000123", gross_cents=4990)
    await make_invoice(db_session, member=member, number="2026-000124", gross_cents=1000)

    report = await service.import_statement(
        db_session, actor=BOARD, settings=settings, data=camt053(Booking("30.00", remittance="2026-000124 2026-000123"))
    )

    assert report.matched == 1
    assert [(i.number, i.open_cents) for i in await open_items.open_items(db_session, member_ids={member.id})] == [
        ("2026-000123", 2990)
    ]
    [transaction], _ = await repository.transactions(db_session, statuses=None, limit=5, offset=0)
    assert transaction.status is TransactionStatus.PARTIAL


async def collected_invoice(db_session: AsyncSession, settings: Settings, member: Member) -> None:
    """Invoice 2026-000123 over 49.90 EUR, collected by direct debit and booked by the bank (batch)."""
    await make_invoice(db_session, member=member, number="2026-000123", gross_cents=4990)
    await make_mandate(db_session, settings, member=member)
    await sepa.collect(
        db_session,
        actor=BOARD,
        settings=settings,
        requests=[
            CollectionRequest(
                member_id=member.id,
                amount_cents=4990,
                end_to_end_id="2026-000123",
                remittance="Rechnung 2026-000123",
                collection_date=date(2026, 11, 3),
            )
        ],
    )
    batch = [Booking("49.90", end_to_end_id="2026-000123", mandate_id=f"OT-{member.id:08d}-01", gvc="105")]
    await service.import_statement(db_session, actor=BOARD, settings=settings, data=camt053(batches=[batch]))


async def test_a_collection_booked_by_the_bank_settles_the_invoice_and_its_item(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)

    await collected_invoice(db_session, settings, member)

    [item] = (await repository.collections_by_e2e(db_session, ["2026-000123"])).values()
    assert item.status is ItemStatus.COLLECTED
    [(payment, _)] = await service.payments_of(db_session, actor=BOARD, member_id=member.id)
    assert payment.method is PaymentMethod.DIRECT_DEBIT
    assert await open_items.open_items(db_session, member_ids={member.id}) == []


async def test_a_returned_debit_reopens_the_invoice_and_charges_the_fee(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await collected_invoice(db_session, settings, member)

    report = await service.import_statement(
        db_session,
        actor=BOARD,
        settings=settings,
        data=camt053(
            Booking("49.90", credit=False, end_to_end_id="2026-000123", return_reason="AM04", gvc="109"),
            statement_id="2026-11-10-00001",
        ),
    )

    assert report.returned == 1
    assert [(i.number, i.open_cents) for i in await open_items.open_items(db_session, member_ids={member.id})] == [
        ("2026-000123", 4990)
    ]
    assert await balance(db_session, "1400", member) == 4990 + settings.returned_debit_fee_cents
    assert await entries(db_session, SourceKind.RETURNED_DEBIT) == [
        [("1400", 4990, 0, member.id), ("1200", 0, 4990, None)]
    ]
    assert await entries(db_session, SourceKind.FEE) == [[("1400", 300, 0, member.id), ("2700", 0, 300, None)]]
    [returned] = await service.returned_debits_of(db_session, actor=BOARD, member_id=member.id)
    assert (returned.reason_code, returned.fee_cents) == ("AM04", 300)
    [item] = (await repository.collections_by_e2e(db_session, ["2026-000123"])).values()
    assert item.status is ItemStatus.RETURNED
    await assert_books_balance(db_session)


async def test_a_return_for_no_mandate_ends_the_mandate(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)
    await collected_invoice(db_session, settings, member)

    await service.import_statement(
        db_session,
        actor=BOARD,
        settings=settings,
        data=camt053(
            Booking("49.90", credit=False, end_to_end_id="2026-000123", return_reason="MD01"), statement_id="R2"
        ),
    )

    assert await repository.active_mandate(db_session, member.id) is None


async def test_unclaimed_money_waits_on_unmatched_payments_until_an_operator_assigns_it(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_invoice(db_session, member=member, number="2026-000123", gross_cents=4990)
    await service.import_statement(
        db_session, actor=BOARD, settings=settings, data=camt053(Booking("49.90", remittance="Internet Oktober"))
    )
    [waiting], total = await service.queue(db_session, actor=BOARD, limit=10, offset=0)
    assert total == 1
    assert await balance(db_session, "1360") == -4990
    assert await balance(db_session, "1400", member) == 4990

    payment = await service.assign(
        db_session, actor=BOARD, transaction_id=waiting.id, data=QueueAssignment(member_id=member.id)
    )

    assert payment.amount_cents == 4990
    assert await balance(db_session, "1360") == 0
    assert await balance(db_session, "1400", member) == 0
    assert [e for e in await entries(db_session, SourceKind.PAYMENT) if e[0][0] == "1360"] == [
        [("1360", 4990, 0, None), ("1400", 0, 4990, member.id)]
    ]
    assert waiting.status is TransactionStatus.ASSIGNED
    assert await open_items.open_items(db_session, member_ids={member.id}) == []
    with pytest.raises(DomainError) as again:
        await service.assign(
            db_session, actor=BOARD, transaction_id=waiting.id, data=QueueAssignment(member_id=member.id)
        )
    assert again.value.code == "transaction_not_queued"
    await assert_books_balance(db_session)


async def test_money_not_ours_leaves_the_queue_and_stays_parked(db_session: AsyncSession, settings: Settings) -> None:
    await service.import_statement(
        db_session, actor=BOARD, settings=settings, data=camt053(Booking("5.00", remittance="Fehlüberweisung"))
    )
    [waiting], _ = await service.queue(db_session, actor=BOARD, limit=10, offset=0)

    await service.mark_not_ours(db_session, actor=BOARD, transaction_id=waiting.id, note="zurücküberweisen")

    assert (await service.queue(db_session, actor=BOARD, limit=10, offset=0))[1] == 0
    assert await balance(db_session, "1360") == -500


async def test_a_payout_seen_on_the_statement_is_marked_booked_not_queued(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await sepa.pay_out(db_session, actor=BOARD, settings=settings, instructions=[payout_instruction(member=member)])

    report = await service.import_statement(
        db_session,
        actor=BOARD,
        settings=settings,
        data=camt053(Booking("12.34", credit=False, end_to_end_id="DV-2025-1")),
    )

    assert (report.payouts, report.queued) == (1, 0)
    [item] = (await repository.payouts_by_e2e(db_session, ["DV-2025-1"])).values()
    assert item.status is ItemStatus.COLLECTED


async def test_a_manual_cash_payment_settles_the_oldest_invoice_first(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_invoice(db_session, member=member, number="2026-000200", gross_cents=1000, issued_on=date(2026, 11, 1))
    await make_invoice(db_session, member=member, number="2026-000100", gross_cents=2000, issued_on=date(2026, 10, 1))

    await service.record_manual(
        db_session,
        actor=BOARD,
        data=ManualPayment(member_id=member.id, amount_cents=2500, paid_on=date(2026, 11, 5), method="cash"),
    )

    assert [(i.number, i.open_cents) for i in await open_items.open_items(db_session, member_ids={member.id})] == [
        ("2026-000200", 500)
    ]
    with pytest.raises(DomainError) as refused:
        await service.record_manual(
            db_session,
            actor=BOARD,
            data=ManualPayment(member_id=member.id, amount_cents=100, paid_on=date(2026, 11, 5), invoice_numbers=["X"]),
        )
    assert refused.value.code == "invoice_not_open"


async def test_a_cash_payment_debits_the_cash_account_and_a_transfer_still_the_bank(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_invoice(db_session, member=member, number="2026-000300", gross_cents=3500)
    paid_on = date(2026, 11, 5)
    bank_before, cash_before = await balance(db_session, "1200"), await balance(db_session, "1000")

    cash = await service.record_manual(
        db_session,
        actor=BOARD,
        data=ManualPayment(member_id=member.id, amount_cents=2500, paid_on=paid_on, method="cash"),
    )
    transfer = await service.record_manual(
        db_session,
        actor=BOARD,
        data=ManualPayment(member_id=member.id, amount_cents=1000, paid_on=paid_on, method="transfer"),
    )

    booked = {
        e.source_id: [(line.account, line.debit_cents, line.credit_cents, line.member_id) for line in e.lines]
        for e in (
            await ledger.search_entries(
                db_session, actor=BOARD, filters=EntryFilter(source_kind=SourceKind.PAYMENT), limit=50, offset=0
            )
        )[0]
    }
    assert booked[str(cash.id)] == [("1000", 2500, 0, None), ("1400", 0, 2500, member.id)]
    assert booked[str(transfer.id)] == [("1200", 1000, 0, None), ("1400", 0, 1000, member.id)]
    assert (await balance(db_session, "1000") - cash_before, await balance(db_session, "1200") - bank_before) == (
        2500,
        1000,
    )
    trial = await ledger.trial_balance(db_session, actor=BOARD)
    [kasse] = [row for row in trial.accounts if row.code == "1000"]
    assert (kasse.name, kasse.kind.value) == ("Kasse", "asset")
    assert kasse.balance_cents - cash_before == 2500
    await assert_books_balance(db_session)
    datev = (await export.export_csv(db_session, actor=BOARD, date_from=paid_on, date_to=paid_on)).decode("utf-8-sig")
    assert f"25,00;S;1000;1400;05.11.2026;ZE-{cash.id};" in datev


async def test_a_statement_of_another_account_is_refused(db_session: AsyncSession, settings: Settings) -> None:
    with pytest.raises(DomainError) as refused:
        await service.import_statement(
            db_session, actor=BOARD, settings=settings, data=camt053(Booking("1.00"), own_iban="DE89370400440532013000")
        )

    assert refused.value.code == "camt_other_account"
