"""Bank statements in, payments out: importing camt.053 statements and camt.054 notifications once, booking
what matching found, the operator's queue of what it did not, manual payments, and what a member sees of their
payments. Before matching, ``batches`` resolves batch entries without details by our own files and books an
entry the bank reports in both kinds of report once.

Postings (``billing.ledger.service.post``; sources are unique, so booking twice books once):

=========================== ============================================== ==========================
what                        lines                                          source
=========================== ============================================== ==========================
a payment                   debit bank / credit receivables (member)       ``payment <payment id>``
a manual payment in cash    debit cash / credit receivables (member)       ``payment <payment id>``
money in nobody claims yet  debit bank / credit unmatched payments         ``payment U<transaction>``
an operator assigns it      debit unmatched payments / credit receivables  ``payment <payment id>``
a returned direct debit     debit receivables (member) / credit bank       ``returned_debit <id>``
its fee                     debit receivables (member) / credit fees       ``fee RL-<returned id>``
=========================== ============================================== ==========================
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.errors import Conflict, Invalid, NotFound
from app.members import service as members
from app.settings import Settings
from billing.ledger.models import SourceKind, SystemAccount
from billing.payments import batches, camt, credit, mandates, matching, open_items, repository
from billing.payments.booking import book
from billing.payments.matching import BankLine, Collected, Match, Outcome
from billing.payments.models import (
    BankStatement,
    BankTransaction,
    ItemStatus,
    Mandate,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    ReportKind,
    ReturnedDebit,
    TransactionStatus,
)
from billing.payments.open_items import Allocation
from billing.payments.schemas import ImportReport, ManualPayment, QueueAssignment

# Reasons after which the mandate cannot be used again: account closed, no mandate, debtor deceased,
# account number wrong.
MANDATE_ENDING_REASONS = frozenset({"AC01", "AC04", "MD01", "MD07"})
_STATUS = {
    Outcome.MATCHED: TransactionStatus.MATCHED,
    Outcome.SPLIT: TransactionStatus.MATCHED,
    Outcome.PARTIAL: TransactionStatus.PARTIAL,
    Outcome.RETURNED: TransactionStatus.RETURNED,
    Outcome.PAYOUT: TransactionStatus.PAYOUT,
    Outcome.QUEUE: TransactionStatus.QUEUED,
}


# --- payments ------------------------------------------------------------------------------------


async def _record_payment(
    session: AsyncSession,
    *,
    actor: Actor,
    member_id: int,
    amount_cents: int,
    paid_on: date,
    method: PaymentMethod,
    allocations: Sequence[Allocation],
    transaction_id: int | None,
    reference: str | None,
    from_account: SystemAccount,
) -> Payment:
    """A payment with its allocations, booked ``from_account`` (bank, or unmatched payments) to the member's
    receivables, and the invoices settled through the seam."""
    payment = Payment(
        member_id=member_id,
        amount_cents=amount_cents,
        paid_on=paid_on,
        method=method,
        transaction_id=transaction_id,
        reference=reference[:140] if reference else None,
    )
    session.add(payment)
    await session.flush()
    for allocation in allocations:
        session.add(
            PaymentAllocation(
                payment_id=payment.id,
                invoice_id=allocation.invoice_id,
                invoice_number=allocation.number,
                amount_cents=allocation.amount_cents,
            )
        )
    await session.flush()
    numbers = ", ".join(a.number for a in allocations)
    await book(
        session,
        actor=actor,
        kind=SourceKind.PAYMENT,
        source_id=str(payment.id),
        on=paid_on,
        text=f"Zahlung {numbers or reference or ''}".strip(),
        debit=from_account,
        credit=SystemAccount.RECEIVABLES,
        cents=amount_cents,
        member_id=member_id,
    )
    await open_items.settle(session, allocations, actor=actor, on=paid_on)
    return payment


# --- statement import ----------------------------------------------------------------------------------


def fingerprint(statement: camt.Statement, line: camt.StatementLine) -> str:
    """What identifies a booking across statements: the bank's own reference where it gives one, else the
    booking's place in this statement (two equal transfers on one day stay two)."""
    place = line.bank_reference or f"{statement.statement_id}#{line.position}"
    parts = [
        statement.account_iban,
        place,
        line.booking_date.isoformat(),
        str(line.amount_cents),
        "C" if line.credit else "D",
        line.end_to_end_id or "",
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _transaction(statement: BankStatement, parsed: camt.Statement, prepared: batches.Prepared) -> BankTransaction:
    line = prepared.line
    return BankTransaction(
        statement_id=statement.id,
        fingerprint=fingerprint(parsed, line),
        booking_date=line.booking_date,
        value_date=line.value_date,
        amount_cents=line.amount_cents,
        credit=line.credit,
        counterparty_name=line.counterparty_name,
        counterparty_iban=line.counterparty_iban,
        remittance=line.remittance,
        end_to_end_id=line.end_to_end_id,
        mandate_reference=line.mandate_reference,
        bank_reference=line.bank_reference,
        return_reason=line.return_reason,
        entry_reference=line.entry.reference,
        batch_id=prepared.batch_id,
        entry_cents=line.entry.amount_cents,
        batch_total=prepared.batch_total,
        status=TransactionStatus.COVERED if prepared.covered else TransactionStatus.QUEUED,
        note=prepared.note,
    )


async def import_statement(session: AsyncSession, *, actor: Actor, settings: Settings, data: bytes) -> ImportReport:
    """Import a camt.053 statement or camt.054 notification file and book what its new transactions are (module
    docstring; batch entries and an entry in both kinds of report: ``batches``). A report or a booking imported
    before creates nothing (same file, same report id, same bank reference, or the same entry reported again)."""
    actor.require(Role.OPERATOR, Role.BOARD)
    statements = camt.parse(data)
    sha256 = hashlib.sha256(data).hexdigest()
    own = settings.coop_iban.replace(" ", "").upper()
    report = ImportReport(
        statements=0,
        statements_known=0,
        transactions=0,
        transactions_known=0,
        matched=0,
        returned=0,
        payouts=0,
        queued=0,
        covered=0,
    )
    new: list[BankTransaction] = []
    held: list[tuple[BankTransaction, str]] = []
    with action(session, "payments.import_statement"):
        for parsed in statements:
            if parsed.account_iban != own:
                raise Invalid(
                    f"The statement is for account {parsed.account_iban}, not the coop's.", code="camt_other_account"
                )
            kind = ReportKind.NOTIFICATION if parsed.notification else ReportKind.STATEMENT
            known = await repository.statement(
                session, account_iban=parsed.account_iban, kind=kind, statement_id=parsed.statement_id
            )
            if known is not None:
                report.statements_known += 1
                report.transactions_known += len(parsed.lines)
                continue
            statement = BankStatement(
                account_iban=parsed.account_iban,
                kind=kind,
                statement_id=parsed.statement_id,
                created_on=parsed.created_on,
                sha256=sha256,
                content=data,
                transaction_count=len(parsed.lines),
            )
            session.add(statement)
            await session.flush()
            report.statements += 1
            prints = {fingerprint(parsed, line): line for line in parsed.lines}
            seen = await repository.known_fingerprints(session, prints)
            fresh = [line for key, line in prints.items() if key not in seen]
            prepared = await batches.prepare(session, actor=actor, report=statement, lines=fresh)
            report.transactions_known += len(parsed.lines) - len(fresh) + prepared.known
            for line in prepared.lines:
                row = _transaction(statement, parsed, line)
                session.add(row)
                if line.covered:
                    report.covered += 1
                    continue
                new.append(row)
                if line.hold:
                    held.append((row, line.hold))
        await session.flush()
        report.transactions = len(new) + report.covered
        holds = {row.id: reason for row, reason in held}
        for result in await apply_matching(session, actor=actor, settings=settings, transactions=new, holds=holds):
            if result.outcome in (Outcome.MATCHED, Outcome.SPLIT, Outcome.PARTIAL):
                report.matched += 1
            elif result.outcome is Outcome.RETURNED:
                report.returned += 1
            elif result.outcome is Outcome.PAYOUT:
                report.payouts += 1
            else:
                report.queued += 1
    return report


async def apply_matching(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    transactions: Sequence[BankTransaction],
    holds: Mapping[int, str] | None = None,
) -> list[Match]:
    """Match ``transactions`` against the open invoices and book each outcome; ``holds`` (by transaction id)
    are the reasons the import found for a transaction to wait for an operator."""
    refs = {t.end_to_end_id for t in transactions if t.end_to_end_id}
    collections = await repository.collections_by_e2e(session, refs)
    payouts = await repository.payouts_by_e2e(session, refs)
    lines = [
        BankLine(
            id=t.id,
            credit=t.credit,
            amount_cents=t.amount_cents,
            booking_date=t.booking_date,
            remittance=t.remittance,
            end_to_end_id=t.end_to_end_id,
            return_reason=t.return_reason,
            hold=(holds or {}).get(t.id),
        )
        for t in transactions
    ]
    collected = {
        ref: Collected(
            item_id=item.id,
            member_id=item.member_id,
            invoice_id=item.invoice_id,
            invoice_number=item.end_to_end_id,
            amount_cents=item.amount_cents,
        )
        for ref, item in collections.items()
    }
    results = matching.match(lines, await open_items.open_items(session), collections=collected, payouts=payouts)
    by_id = {t.id: t for t in transactions}
    for result in results:
        transaction = by_id[result.line_id]
        transaction.status = _STATUS[result.outcome]
        transaction.member_id = result.member_id or result.suggested_member_id
        transaction.note = result.reason or transaction.note
        reference = transaction.end_to_end_id or ""
        if result.outcome in (Outcome.MATCHED, Outcome.SPLIT, Outcome.PARTIAL):
            assert result.member_id is not None
            item = collections.get(reference)
            await _record_payment(
                session,
                actor=actor,
                member_id=result.member_id,
                amount_cents=transaction.amount_cents,
                paid_on=transaction.booking_date,
                method=PaymentMethod.DIRECT_DEBIT if item is not None else PaymentMethod.TRANSFER,
                allocations=result.allocations,
                transaction_id=transaction.id,
                reference=transaction.remittance,
                from_account=SystemAccount.BANK,
            )
            if item is not None:
                item.status = ItemStatus.COLLECTED
        elif result.outcome is Outcome.RETURNED:
            assert result.collected is not None
            await _record_return(
                session, actor=actor, settings=settings, transaction=transaction, item=result.collected
            )
        elif result.outcome is Outcome.PAYOUT:
            payouts[reference].status = ItemStatus.COLLECTED
        elif transaction.credit:
            await book(
                session,
                actor=actor,
                kind=SourceKind.PAYMENT,
                source_id=f"U{transaction.id}",
                on=transaction.booking_date,
                text=f"Ungeklärter Zahlungseingang {transaction.counterparty_name or ''}".strip(),
                debit=SystemAccount.BANK,
                credit=SystemAccount.UNMATCHED_PAYMENTS,
                cents=transaction.amount_cents,
                member_id=None,
            )
    await session.flush()
    return results


async def _record_return(
    session: AsyncSession, *, actor: Actor, settings: Settings, transaction: BankTransaction, item: Collected
) -> ReturnedDebit:
    reason = transaction.return_reason or "NARR"
    returned = ReturnedDebit(
        transaction_id=transaction.id,
        collection_item_id=item.item_id,
        member_id=item.member_id,
        invoice_id=item.invoice_id,
        invoice_number=item.invoice_number,
        amount_cents=transaction.amount_cents,
        fee_cents=settings.returned_debit_fee_cents,
        reason_code=reason,
        returned_on=transaction.booking_date,
    )
    session.add(returned)
    await session.flush()
    collection = await repository.collections_by_e2e(session, [item.invoice_number])
    if item.invoice_number in collection:
        collection[item.invoice_number].status = ItemStatus.RETURNED
    await book(
        session,
        actor=actor,
        kind=SourceKind.RETURNED_DEBIT,
        source_id=str(returned.id),
        on=returned.returned_on,
        text=f"Rücklastschrift {item.invoice_number} ({reason})",
        debit=SystemAccount.RECEIVABLES,
        credit=SystemAccount.BANK,
        cents=returned.amount_cents,
        member_id=item.member_id,
    )
    if returned.fee_cents:
        await book(
            session,
            actor=actor,
            kind=SourceKind.FEE,
            source_id=f"RL-{returned.id}",
            on=returned.returned_on,
            text=f"Gebühr Rücklastschrift {item.invoice_number}",
            debit=SystemAccount.RECEIVABLES,
            credit=SystemAccount.REVENUE_FEES,
            cents=returned.fee_cents,
            member_id=item.member_id,
        )
    await open_items.reopen(
        session,
        invoice_id=item.invoice_id,
        number=item.invoice_number,
        amount_cents=returned.amount_cents,
        on=returned.returned_on,
    )
    await end_mandate_for(session, member_id=item.member_id, reason=reason, on=returned.returned_on)
    return returned


async def end_mandate_for(
    session: AsyncSession,
    *,
    member_id: int,
    reason: str | None,
    on: date,
    mandate_id: int | None = None,
    iban: str | None = None,
) -> Mandate | None:
    """A debit returned or a transaction rejected for one of ``MANDATE_ENDING_REASONS`` ends the member's
    active mandate on ``on`` (only if it is mandate ``mandate_id`` or for account ``iban``, when given: a
    mandate the member gave since is not touched). Returns the mandate it ended."""
    if reason not in MANDATE_ENDING_REASONS:
        return None
    mandate = await repository.active_mandate(session, member_id, lock=True)
    if mandate is None or mandate_id not in (None, mandate.id) or iban not in (None, mandate.iban):
        return None
    mandate.revoked_on = max(on, mandate.signed_on)
    return mandate


# --- the operator's queue --------------------------------------------------------------------------


async def queue(session: AsyncSession, *, actor: Actor, limit: int, offset: int) -> tuple[list[BankTransaction], int]:
    """The transactions waiting for an operator, oldest first."""
    actor.require(Role.OPERATOR, Role.BOARD)
    return await repository.transactions(session, statuses={TransactionStatus.QUEUED}, limit=limit, offset=offset)


async def _queued(session: AsyncSession, transaction_id: int) -> BankTransaction:
    transaction = await repository.transaction(session, transaction_id, lock=True)
    if transaction is None:
        raise NotFound(f"Bank transaction {transaction_id} not found.", code="transaction_not_found")
    if transaction.status is not TransactionStatus.QUEUED:
        raise Conflict(
            f"Transaction {transaction_id} is {transaction.status.value}, not waiting.", code="transaction_not_queued"
        )
    return transaction


async def _allocations_for(
    session: AsyncSession, *, member_id: int, amount_cents: int, numbers: Sequence[str]
) -> list[Allocation]:
    """Allocations of ``amount_cents`` to the member's invoices ``numbers`` in that order, or to their open
    invoices oldest first; what is left over stays as the member's credit."""
    items = await open_items.open_items(session, member_ids={member_id})
    if numbers:
        by_number = {item.number: item for item in items}
        unknown = [n for n in numbers if n not in by_number]
        if unknown:
            raise Invalid(
                f"No open invoice {', '.join(unknown)} of member {member_id}.",
                code="invoice_not_open",
                field="invoice_numbers",
            )
        items = [by_number[n] for n in numbers]
    return matching.allocate(amount_cents, items)


async def assign(session: AsyncSession, *, actor: Actor, transaction_id: int, data: QueueAssignment) -> Payment:
    """Money in from the queue is the member's: a payment booked unmatched payments → receivables, allocated
    to the invoices named (or the member's oldest open ones)."""
    actor.require(Role.OPERATOR, Role.BOARD)
    transaction = await _queued(session, transaction_id)
    if not transaction.credit:
        raise Conflict("Money out cannot be assigned to a member's invoices.", code="transaction_not_credit")
    await members.get_member_for_link(session, member_id=data.member_id)
    allocations = await _allocations_for(
        session, member_id=data.member_id, amount_cents=transaction.amount_cents, numbers=data.invoice_numbers
    )
    with action(session, "payments.assign"):
        payment = await _record_payment(
            session,
            actor=actor,
            member_id=data.member_id,
            amount_cents=transaction.amount_cents,
            paid_on=transaction.booking_date,
            method=PaymentMethod.TRANSFER,
            allocations=allocations,
            transaction_id=transaction.id,
            reference=transaction.remittance,
            from_account=SystemAccount.UNMATCHED_PAYMENTS,
        )
        transaction.status = TransactionStatus.ASSIGNED
        transaction.member_id = data.member_id
        transaction.note = data.note or transaction.note
        await session.flush()
    await credit.apply(session, actor=actor, on=transaction.booking_date, member_ids=[data.member_id])
    return payment


async def mark_not_ours(session: AsyncSession, *, actor: Actor, transaction_id: int, note: str) -> BankTransaction:
    """The transaction is nothing of ours to book against a member (a misdirected transfer to send back, a
    bank charge booked by hand). Money in stays on unmatched payments until it is sent back."""
    actor.require(Role.OPERATOR, Role.BOARD)
    transaction = await _queued(session, transaction_id)
    with action(session, "payments.not_ours"):
        transaction.status = TransactionStatus.NOT_OURS
        transaction.note = note
        await session.flush()
    return transaction


async def record_manual(session: AsyncSession, *, actor: Actor, data: ManualPayment) -> Payment:
    """A payment an operator saw outside a statement (cash at the office, a transfer), booked bank (cash: the
    cash account) → receivables and allocated like an assignment."""
    actor.require(Role.OPERATOR, Role.BOARD)
    await members.get_member_for_link(session, member_id=data.member_id)
    allocations = await _allocations_for(
        session, member_id=data.member_id, amount_cents=data.amount_cents, numbers=data.invoice_numbers
    )
    with action(session, "payments.record_manual"):
        payment = await _record_payment(
            session,
            actor=actor,
            member_id=data.member_id,
            amount_cents=data.amount_cents,
            paid_on=data.paid_on,
            method=PaymentMethod(data.method),
            allocations=allocations,
            transaction_id=None,
            reference=data.reference,
            from_account=SystemAccount.CASH if PaymentMethod(data.method) is PaymentMethod.CASH else SystemAccount.BANK,
        )
    await credit.apply(session, actor=actor, on=data.paid_on, member_ids=[data.member_id])
    return payment


# --- reading ---------------------------------------------------------------------------------------


async def payments_of(
    session: AsyncSession, *, actor: Actor, member_id: int
) -> list[tuple[Payment, list[PaymentAllocation]]]:
    """A member's payments with their allocations, newest first; a member sees only their own."""
    mandates.self_or_staff(actor, member_id)
    return await repository.payments_of(session, member_id)


async def returned_debits_of(session: AsyncSession, *, actor: Actor, member_id: int) -> list[ReturnedDebit]:
    mandates.self_or_staff(actor, member_id)
    return await repository.returned_debits_of(session, member_id)
