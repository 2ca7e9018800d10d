"""Members' capital in the books: money paid in on shares is debited to the bank and credited to the member's
capital (an amount below zero, a repayment, the other way round); capital passed on with a share transfer
is debited to the giver's capital and credited to the receiver's. The source reference is the payment
(``share_payment <capital movement id>``) or the transfer (``share_transfer <id>``), so booking one again
changes nothing, and the books' capital per member stays the register's paid-in capital.

Members never import billing: they announce ``SharePaymentRecorded`` and ``ShareCapitalTransferred`` and the
ledger books them in the same transaction; what was recorded before the ledger existed is booked by
``book_unbooked_share_payments`` and ``book_unbooked_share_transfers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Actor
from app.kit.errors import NotFound
from app.kit.events import ShareCapitalTransferred, SharePaymentRecorded
from app.members import service as members
from app.members.schemas import SharePayment, ShareTransferOut
from billing.ledger import repository, service
from billing.ledger.models import JournalEntry, SourceKind, SystemAccount
from billing.ledger.schemas import EntryDraft, LineDraft, ShareBookingReport


def share_payment_entry(payment: SharePayment, codes: dict[SystemAccount, str]) -> EntryDraft:
    """The entry that books ``payment``: bank to member capital, on the day it was paid."""
    amount = abs(payment.amount_cents)
    paid_in = payment.amount_cents > 0
    text = f"Einzahlung Geschäftsguthaben Mitglied-ID {payment.member_id}"
    if not paid_in:
        text = f"Rückzahlung Geschäftsguthaben Mitglied-ID {payment.member_id}"
    if payment.reference:
        text = f"{text}, {payment.reference}"
    return EntryDraft(
        entry_date=payment.effective_on,
        text=text[:200],
        source_kind=SourceKind.SHARE_PAYMENT,
        source_id=str(payment.id),
        lines=[
            LineDraft(
                account=codes[SystemAccount.BANK],
                debit_cents=amount if paid_in else 0,
                credit_cents=0 if paid_in else amount,
            ),
            LineDraft(
                account=codes[SystemAccount.MEMBER_CAPITAL],
                debit_cents=0 if paid_in else amount,
                credit_cents=amount if paid_in else 0,
                member_id=payment.member_id,
            ),
        ],
    )


async def book_share_payment(session: AsyncSession, *, actor: Actor, payment_id: int) -> JournalEntry:
    """Book the share payment ``payment_id`` (a capital movement of kind payment); the entry already posted
    for it if there is one."""
    found = await members.share_payments(session, payment_ids=[payment_id], limit=1)
    if not found:
        raise NotFound(f"Share payment {payment_id} not found.", code="share_payment_not_found")
    codes = await service.system_account_codes(session)
    return await service.post(session, actor=actor, entry=share_payment_entry(found[0], codes))


async def book_unbooked_share_payments(session: AsyncSession, *, actor: Actor, batch: int = 500) -> ShareBookingReport:
    """Book every share payment that has no entry yet, in id order (a reconciliation; safe to run again)."""
    codes = await service.system_account_codes(session)
    after = seen = booked = 0
    while page := await members.share_payments(session, after_id=after, limit=batch):
        done = await repository.booked_source_ids(session, SourceKind.SHARE_PAYMENT, [str(p.id) for p in page])
        for payment in page:
            if str(payment.id) not in done:
                await service.post(session, actor=actor, entry=share_payment_entry(payment, codes))
                booked += 1
        seen += len(page)
        after = page[-1].id
    return ShareBookingReport(payments=seen, booked=booked)


async def on_share_payments_recorded(session: AsyncSession, events: Sequence[SharePaymentRecorded]) -> None:
    """Listener: book each payment members just recorded, as the person who recorded it."""
    codes = await service.system_account_codes(session)
    for event in events:
        payment = SharePayment(
            id=event.payment_id,
            member_id=event.member_id,
            amount_cents=event.amount_cents,
            effective_on=event.paid_on,
            reference=event.reference,
        )
        await service.post(session, actor=event.actor, entry=share_payment_entry(payment, codes))


def share_transfer_entry(
    *,
    transfer_id: int,
    from_member_id: int,
    to_member_id: int,
    capital_cents: int,
    effective_on: date,
    codes: dict[SystemAccount, str],
) -> EntryDraft:
    """The entry that moves a transfer's capital from the giver's capital to the receiver's."""
    capital = codes[SystemAccount.MEMBER_CAPITAL]
    return EntryDraft(
        entry_date=effective_on,
        text=f"Übertragung Geschäftsguthaben Mitglied-ID {from_member_id} an Mitglied-ID {to_member_id}",
        source_kind=SourceKind.SHARE_TRANSFER,
        source_id=str(transfer_id),
        lines=[
            LineDraft(account=capital, debit_cents=capital_cents, member_id=from_member_id),
            LineDraft(account=capital, credit_cents=capital_cents, member_id=to_member_id),
        ],
    )


def _transfer_entry(transfer: ShareTransferOut, codes: dict[SystemAccount, str]) -> EntryDraft:
    return share_transfer_entry(
        transfer_id=transfer.id,
        from_member_id=transfer.from_member_id,
        to_member_id=transfer.to_member_id,
        capital_cents=transfer.capital_cents,
        effective_on=transfer.effective_on,
        codes=codes,
    )


async def book_unbooked_share_transfers(session: AsyncSession, *, actor: Actor, batch: int = 500) -> ShareBookingReport:
    """Book every share transfer that moved capital and has no entry yet (safe to run again)."""
    codes = await service.system_account_codes(session)
    after = seen = booked = 0
    while page := await members.share_transfers(session, after_id=after, limit=batch):
        done = await repository.booked_source_ids(session, SourceKind.SHARE_TRANSFER, [str(t.id) for t in page])
        for transfer in page:
            if transfer.capital_cents and str(transfer.id) not in done:
                await service.post(session, actor=actor, entry=_transfer_entry(transfer, codes))
                booked += 1
        seen += len(page)
        after = page[-1].id
    return ShareBookingReport(transfers=seen, booked=booked)


async def on_share_capital_transferred(session: AsyncSession, events: Sequence[ShareCapitalTransferred]) -> None:
    """Listener: book the capital each share transfer moved, as the person who recorded it."""
    codes = await service.system_account_codes(session)
    for event in events:
        draft = share_transfer_entry(
            transfer_id=event.transfer_id,
            from_member_id=event.from_member_id,
            to_member_id=event.to_member_id,
            capital_cents=event.capital_cents,
            effective_on=event.effective_on,
            codes=codes,
        )
        await service.post(session, actor=event.actor, entry=draft)
