"""Dividends and leaving members' capital paid out by credit transfer: one valid pain.001, the liabilities
cleared to the bank for the members paid, members without an account waiting, and nothing paid twice."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sepaxml
import sqlalchemy as sa
import xmlschema
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from billing.dividends import repository, service, transfers
from billing.dividends.models import CapitalPayoutStatus
from billing.ledger import service as ledger
from billing.payments import sepa
from billing.payments.models import PayoutItem, SepaFile
from tests.billing.dividends.builders import make_decision, make_year_2025
from tests.billing.dividends.test_payouts import _leaver, _schedule
from tests.billing.dividends.test_service import PAYABLE, _balance
from tests.billing.payments.builders import OTHER_IBAN, make_mandate
from tests.builders import BOARD

CAPITAL_PAYABLE, BANK = "1797", "1200"
SCHEMA = Path(sepaxml.__file__).parent / "schemas" / f"{sepa.CREDIT_TRANSFER_SCHEMA}.xsd"


async def test_dividends_and_due_capital_are_paid_once_in_a_valid_file_and_members_without_an_account_wait(
    db_session: AsyncSession, settings: Settings
) -> None:
    year = await make_year_2025(db_session, settings)
    emil = await _leaver(db_session, settings)
    await make_mandate(db_session, settings, member=year.joined, signed_on=date(2025, 7, 1), debtor_name="Anna Test")
    await make_mandate(
        db_session, settings, member=emil, iban=OTHER_IBAN, signed_on=date(2025, 2, 1), debtor_name="Emil Test"
    )
    decision = await make_decision(db_session, settings)
    await service.run(db_session, actor=BOARD, settings=settings, decision_id=decision.id)
    await _schedule(db_session, settings, date(2026, 5, 20))
    bank_before = await _balance(db_session, BANK)

    first = await transfers.pay_out(
        db_session, actor=BOARD, settings=settings, decision_id=decision.id, execution_date=date(2026, 7, 1)
    )
    second = await transfers.pay_out(
        db_session, actor=BOARD, settings=settings, decision_id=decision.id, execution_date=date(2026, 7, 1)
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
