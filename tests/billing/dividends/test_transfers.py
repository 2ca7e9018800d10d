"""Dividends and leaving members' capital paid out by credit transfer: one valid pain.001, the liabilities
cleared to the bank for the members paid, members without an account waiting, nothing paid twice, and what
the bank rejects paid again once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sepaxml
import sqlalchemy as sa
import xmlschema
from sqlalchemy.ext.asyncio import AsyncSession

from app.members.models import Member
from app.settings import Settings
from billing.dividends import repository, service, transfers
from billing.dividends.models import CapitalPayoutStatus
from billing.invoices import service as invoices
from billing.invoices.schemas import CreditNoteCreate
from billing.ledger import service as ledger
from billing.payments import credit, sepa, status_reports
from billing.payments import repository as payments_repository
from billing.payments import service as service_payments
from billing.payments.models import PayoutItem, SepaFile
from billing.payments.schemas import ManualPayment
from tests.billing.dividends.builders import Year2025, make_decision, make_year_2025
from tests.billing.dividends.test_payouts import _leaver, _schedule
from tests.billing.dividends.test_service import PAYABLE, _balance
from tests.billing.payments.builders import OTHER_IBAN, TxStatus, make_invoice, make_mandate, pain002
from tests.builders import BOARD

CAPITAL_PAYABLE, BANK = "1797", "1200"
SCHEMA = Path(sepaxml.__file__).parent / "schemas" / f"{sepa.CREDIT_TRANSFER_SCHEMA}.xsd"


@dataclass
class Due:
    """The 2025 year's booked dividends and Emil's capital due, with accounts given by Anna and Emil."""

    year: Year2025
    emil: Member
    decision_id: int
    bank_before: int


async def _due(session: AsyncSession, settings: Settings) -> Due:
    year = await make_year_2025(session, settings)
    emil = await _leaver(session, settings)
    await make_mandate(session, settings, member=year.joined, signed_on=date(2025, 7, 1), debtor_name="Anna Test")
    await make_mandate(
        session, settings, member=emil, iban=OTHER_IBAN, signed_on=date(2025, 2, 1), debtor_name="Emil Test"
    )
    decision = await make_decision(session, settings)
    await service.run(session, actor=BOARD, settings=settings, decision_id=decision.id)
    await _schedule(session, settings, date(2026, 5, 20))
    return Due(year=year, emil=emil, decision_id=decision.id, bank_before=await _balance(session, BANK))


async def test_dividends_and_due_capital_are_paid_once_in_a_valid_file_and_members_without_an_account_wait(
    db_session: AsyncSession, settings: Settings
) -> None:
    due = await _due(db_session, settings)
    year, emil, decision_id, bank_before = due.year, due.emil, due.decision_id, due.bank_before

    first = await transfers.pay_out(
        db_session, actor=BOARD, settings=settings, decision_id=decision_id, execution_date=date(2026, 7, 1)
    )
    second = await transfers.pay_out(
        db_session, actor=BOARD, settings=settings, decision_id=decision_id, execution_date=date(2026, 7, 1)
    )

    assert first.file_id is not None
    stored = await db_session.get(SepaFile, first.file_id)
    assert stored is not None
    assert xmlschema.XMLSchema(str(SCHEMA)).is_valid(stored.content.decode())
    items = (await db_session.execute(sa.select(PayoutItem).order_by(PayoutItem.id))).scalars().all()
    assert sorted((i.member_id, i.amount_cents, i.liability.value) for i in items) == sorted(
        [
            (year.joined.id, 446, "dividends_payable"),
            (emil.id, 884, "dividends_payable"),  # 300.00 all year: 12.00 gross, 3.00 tax, 0.16 soli
            (emil.id, 30_000, "capital_payable"),
        ]
    )
    assert (first.paid, first.paid_cents) == (3, 446 + 884 + 30_000)
    # Carla left and gave no account: her 1.46 EUR waits.
    assert [(w.member_id, w.amount_cents) for w in first.waiting] == [(year.left.id, 146)]
    assert await _balance(db_session, PAYABLE, year.joined) == 0
    assert await _balance(db_session, PAYABLE, year.left) == -146
    assert await _balance(db_session, PAYABLE, emil) == 0
    assert await _balance(db_session, CAPITAL_PAYABLE, emil) == 0
    assert await _balance(db_session, BANK) == bank_before - 31_330
    assert (await ledger.trial_balance(db_session, actor=BOARD)).balance_cents == 0
    (payout,) = await repository.capital_payouts(db_session, business_year=2025)
    assert payout.status is CapitalPayoutStatus.HANDED_OVER
    assert (second.file_id, second.paid, second.paid_before) == (None, 0, 2)
    assert [w.member_id for w in second.waiting] == [year.left.id]


async def test_payouts_the_bank_rejects_are_due_again_and_paid_once_in_the_next_file(
    db_session: AsyncSession, settings: Settings
) -> None:
    due = await _due(db_session, settings)
    year, emil, decision_id, bank_before = due.year, due.emil, due.decision_id, due.bank_before
    first = await transfers.pay_out(
        db_session, actor=BOARD, settings=settings, decision_id=decision_id, execution_date=date(2026, 7, 1)
    )
    stored = await db_session.get(SepaFile, first.file_id)
    assert stored is not None
    items = (await db_session.execute(sa.select(PayoutItem))).scalars().all()
    anna_dividend = next(i for i in items if i.member_id == year.joined.id)
    emil_capital = next(i for i in items if i.liability.value == "capital_payable")
    report = pain002(
        TxStatus(anna_dividend.end_to_end_id, "RJCT", "AM05"),
        TxStatus(emil_capital.end_to_end_id, "RJCT", "MS03"),
        of=stored.content,
        group_status="PART",
        created="2026-06-30T10:00:00+02:00",
    )

    rejected = await status_reports.import_status_report(db_session, actor=BOARD, data=report)

    assert rejected.rejected == 2
    # Not paid after all: the payables are owed again, the bank keeps only Emil's dividend.
    assert await _balance(db_session, PAYABLE, year.joined) == -446
    assert await _balance(db_session, CAPITAL_PAYABLE, emil) == -30_000
    assert await _balance(db_session, PAYABLE, emil) == 0
    assert await _balance(db_session, BANK) == bank_before - 884
    (payout,) = await repository.capital_payouts(db_session, business_year=2025)
    assert payout.status is CapitalPayoutStatus.BOOKED
    assert (await ledger.trial_balance(db_session, actor=BOARD)).balance_cents == 0

    second = await transfers.pay_out(
        db_session, actor=BOARD, settings=settings, decision_id=decision_id, execution_date=date(2026, 7, 8)
    )
    third = await transfers.pay_out(
        db_session, actor=BOARD, settings=settings, decision_id=decision_id, execution_date=date(2026, 7, 8)
    )

    assert (second.paid, second.paid_cents, second.paid_before) == (2, 446 + 30_000, 1)
    assert second.file_id is not None
    repaid = await payments_repository.payout_items(db_session, second.file_id)
    assert sorted(i.end_to_end_id for i in repaid) == sorted([anna_dividend.end_to_end_id, emil_capital.end_to_end_id])
    # The two dividends are paid; the capital payout is handed over again, so not offered.
    assert (third.file_id, third.paid, third.paid_before) == (None, 0, 2)
    assert await _balance(db_session, PAYABLE, year.joined) == 0
    assert await _balance(db_session, CAPITAL_PAYABLE, emil) == 0
    assert await _balance(db_session, BANK) == bank_before - 31_330
    (payout,) = await repository.capital_payouts(db_session, business_year=2025)
    assert payout.status is CapitalPayoutStatus.HANDED_OVER


async def test_a_leaving_members_credit_is_paid_back_with_their_capital_once(
    db_session: AsyncSession, settings: Settings
) -> None:
    due = await _due(db_session, settings)
    emil = due.emil
    # Emil's last invoice was paid and then credited: 12.34 EUR of his are with the coop.
    invoice = await make_invoice(db_session, member=emil, gross_cents=1234, issued_on=date(2025, 12, 1))
    await service_payments.record_manual(
        db_session,
        actor=BOARD,
        data=ManualPayment(
            member_id=emil.id, amount_cents=1234, paid_on=date(2025, 12, 10), invoice_numbers=[str(invoice.number)]
        ),
    )
    await invoices.create_credit_note(
        db_session, actor=BOARD, settings=settings, invoice_id=invoice.id, data=CreditNoteCreate(reason="Storno")
    )
    assert await credit.balances(db_session, [emil.id]) == {emil.id: 1234}

    first = await transfers.pay_out(
        db_session, actor=BOARD, settings=settings, decision_id=due.decision_id, execution_date=date(2026, 7, 1)
    )
    again = await transfers.pay_out(
        db_session, actor=BOARD, settings=settings, decision_id=due.decision_id, execution_date=date(2026, 7, 1)
    )

    assert first.file_id is not None
    items = await payments_repository.payout_items(db_session, first.file_id)
    back = [(i.amount_cents, i.iban, i.end_to_end_id) for i in items if i.liability.value == "receivables"]
    assert back == [(1234, OTHER_IBAN, f"GH-{emil.id}-1")]
    assert first.credit_paid_cents == 1234
    assert first.paid_cents == 446 + 884 + 30_000 + 1234
    assert await credit.balances(db_session, [emil.id]) == {}
    assert again.file_id is None  # nothing more: the credit is used up
