"""What the import makes of the bank's entries before matching sees their lines: batch bookings without
details (Sammlerbuchung) resolved by our own files, and one entry reported twice, in a camt.053 statement and a
camt.054 notification, booked once.

**A batch booked as one entry.** Many German banks book a whole pain.008 file as one credit entry (GVC 192)
with only its total and, at most, ``NtryDtls/Btch``: ``PmtInfId`` (our batch's id, ``sepa.py``), ``MsgId``
(our file's message id), ``NbOfTxs``, ``TtlAmt``; no ``TxDtls``. Such an entry is resolved by our file: the
items of the batch its ``PmtInfId`` names (else of the file its ``MsgId`` names) that are still
``submitted`` (not rejected by a pain.002, not booked before) must be as many as the bank says (``NbOfTxs``,
where given) and add up to the amount booked. Then the entry becomes one line per item (the item's end-to-end
id, amount and remittance; the entry's dates and reference), and matching books them exactly as it books a
batch with ``TxDtls``: each item collected, one payment per item, its invoice settled. Otherwise nothing of the
batch is booked: the entry waits for an operator with the reason (``batch total differs from our file ...``),
its money on unmatched payments like any money in that waits. A pain.001 file booked as one debit is resolved
the same way: each payout seen booked.

**An entry that names no batch** (a credit without details and without ``PmtInfId`` or ``MsgId``) is resolved
the same way if its bank transaction code says it credits direct debits the coop collected (ISO
``PMNT/IDDT/ESDD`` or ``BBDD``, the German GVC 192) and its amount is the outstanding total of exactly one
direct debit batch of ours collected on the booking day or up to ``BOOKING_DAYS`` TARGET days before (and as
many items as ``NbOfTxs`` says, where given). This is safe because only the coop's own collections can be
credited to its account under such a code (a creditor's bank books collections only for files that creditor
submitted, and the coop submits only the files made here), a collection is credited on its collection date
and booked then or within days, and an amount that two outstanding batches in that window share is left to
the operator. Without such a code (a member's transfer of the same amount) nothing is guessed.

**One entry, two reports.** A bank may report a batch entry in the statement and its transactions in a
notification, in either order (or a single booking in both). Lines meet by the entry they are part of: the
same side and amount of the entry, and the same entry reference (``Ntry/AcctSvcrRef``) or batch
(``batch_key``: the ``PmtInfId``, or our batch of the file a ``MsgId`` names; for an entry our file resolved,
our batch's id), kept on every transaction. The first report books the entry; of a later one:

* an entry seen before in a report of the same kind (an overlapping statement) is known and creates nothing;
* an entry the other kind of report booked is recorded ``covered`` and books nothing: a statement's batch
  entry after the notification whose transactions were booked, a notification after the statement whose batch
  entry was resolved by our file (or that carried the transactions, or that an operator decided);
* an entry the other report left waiting as a whole batch (a total that could not be resolved) is taken over
  when the new report has its transactions: the waiting transaction's parking on unmatched payments is
  reversed, it becomes ``covered`` (leaving the queue), and the new transactions are matched and booked like
  any.

Without an entry reference or batch id two reports of one entry cannot be told apart (a line's fingerprint
holds its place in its report), so such a notification books its lines as a statement would, and a statement's
batch total that names neither, after the notification booked its transactions, finds no batch of ours still
outstanding and waits for the operator. Nothing is guessed there on purpose: two batches of one total on one day
are as likely, and a total wrongly taken as covered would vanish from the books unseen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Actor
from app.kit.money import cents_to_decimal
from billing.ledger import service as ledger
from billing.ledger.models import SourceKind
from billing.payments import camt, repository
from billing.payments.models import (
    BankStatement,
    BankTransaction,
    CollectionItem,
    ItemStatus,
    PayoutItem,
    ReportKind,
    TransactionStatus,
)
from billing.payments.sepa import is_target_day

# How many TARGET days after a batch's collection date the bank may book it.
BOOKING_DAYS = 3


@dataclass(frozen=True, slots=True)
class Prepared:
    """A line as the import records it: ``covered`` (booked by the other report; matching skips it) or for
    matching, with the reason it must wait for an operator (``hold``) where the import found one."""

    line: camt.StatementLine
    covered: bool = False
    note: str | None = None
    hold: str | None = None
    # The line is a whole batch the bank gave no transactions for, left unresolved.
    batch_total: bool = False
    # The batch the line's entry books (``batch_key``; our batch's id once our file resolved it).
    batch_id: str | None = None


@dataclass(slots=True)
class Preparation:
    """A report's new lines prepared, and how many more were known by their entry."""

    lines: list[Prepared] = field(default_factory=list)
    known: int = 0


def batch_reference(entry: camt.Entry) -> str | None:
    """The batch an entry books as the bank names it: our ``PmtInfId``, else our file's ``MsgId``."""
    if entry.batch is None:
        return None
    return entry.batch.batch_id or entry.batch.message_id


async def batch_key(session: AsyncSession, line: camt.StatementLine) -> str | None:
    """What the entry's batch is known by across reports: the ``PmtInfId`` the bank names, or the one batch of
    our file its ``MsgId`` names (so a report naming only the file meets one naming the batch), else what the
    bank wrote."""
    entry = line.entry
    if entry.batch is None or entry.batch.batch_id is not None or entry.batch.message_id is None:
        return batch_reference(entry)
    items = await repository.batch_items(session, credit=line.credit, message_id=entry.batch.message_id)
    ours = {item.batch_id for item in items}
    return ours.pop() if len(ours) == 1 and None not in ours else entry.batch.message_id


def _euros(cents: int) -> str:
    return f"{cents_to_decimal(cents)} EUR"


def _label(report: BankStatement) -> str:
    what = "notification" if report.kind is ReportKind.NOTIFICATION else "statement"
    return f"{what} {report.statement_id}"


def _same_entry(transaction: BankTransaction, line: camt.StatementLine, key: str | None) -> bool:
    entry = line.entry
    if transaction.credit != line.credit or transaction.entry_cents != entry.amount_cents:
        return False
    return (entry.reference is not None and transaction.entry_reference == entry.reference) or (
        key is not None and transaction.batch_id == key
    )


def _booking_window(booked_on: date) -> date:
    """The earliest collection date a batch booked on ``booked_on`` can have: ``BOOKING_DAYS`` TARGET days
    before."""
    day, left = booked_on, BOOKING_DAYS
    while left:
        day -= timedelta(days=1)
        if is_target_day(day):
            left -= 1
    return day


def _expand(line: camt.StatementLine, items: Sequence[CollectionItem | PayoutItem], *, name: str) -> list[Prepared]:
    """The entry as the items of our batch still outstanding, if they are what the bank booked; else the entry
    held with the difference."""
    outstanding = [item for item in items if item.status is ItemStatus.SUBMITTED]
    total = sum(item.amount_cents for item in outstanding)
    batch = line.entry.batch
    count = batch.count if batch is not None and batch.count is not None else len(outstanding)
    if not outstanding or total != line.amount_cents or count != len(outstanding):
        reason = (
            f"batch total differs from our file: the bank booked {count} transactions, {_euros(line.amount_cents)};"
            f" {name} has {len(outstanding)} outstanding, {_euros(total)}"
        )
        return [Prepared(line, hold=reason, batch_total=True)]
    note = f"{name} booked as one entry; its transactions from our file"
    return [
        Prepared(
            replace(
                line,
                amount_cents=item.amount_cents,
                remittance=item.remittance,
                end_to_end_id=item.end_to_end_id,
                position=f"{line.position}.{k}",
            ),
            note=note,
            batch_id=item.batch_id,
        )
        for k, item in enumerate(outstanding)
    ]


async def _resolve(session: AsyncSession, line: camt.StatementLine) -> list[Prepared]:
    """A line that is a whole entry without transaction details, resolved by our batch (module docstring)."""
    entry = line.entry
    if entry.batch is not None and batch_reference(entry) is not None:
        if entry.batch.batch_id is not None:
            items: Sequence[CollectionItem | PayoutItem] = await repository.batch_items(
                session, credit=line.credit, batch_id=entry.batch.batch_id
            )
            if items:
                return _expand(line, items, name=f"batch {entry.batch.batch_id}")
        if entry.batch.message_id is not None:
            items = await repository.batch_items(session, credit=line.credit, message_id=entry.batch.message_id)
            if items:
                return _expand(line, items, name=f"file {entry.batch.message_id}")
        reason = f"a batch booking without details for batch {batch_reference(entry)}, which is none of ours"
        return [Prepared(line, hold=reason, batch_total=True)]
    if not (line.credit and entry.collection):
        return [Prepared(line)]
    batches = await repository.outstanding_collection_batches(
        session, collected_from=_booking_window(line.booking_date), collected_to=line.booking_date
    )
    count = entry.batch.count if entry.batch is not None else None
    fitting = [
        (batch_id, items)
        for batch_id, items in batches.items()
        if sum(i.amount_cents for i in items) == line.amount_cents and count in (None, len(items))
    ]
    if len(fitting) != 1:
        how = "several" if fitting else "none"
        reason = f"a batch booking of direct debits without details or batch id that fits {how} of our batches"
        return [Prepared(line, hold=reason, batch_total=True)]
    [(batch_id, items)] = fitting
    return _expand(line, items, name=f"batch {batch_id} (by amount and date)")


async def _take_over(session: AsyncSession, *, actor: Actor, waiting: BankTransaction, report: BankStatement) -> None:
    """The transactions of ``report`` book the batch ``waiting`` stood for: its parking is undone."""
    where = "Avis" if report.kind is ReportKind.NOTIFICATION else "Kontoauszug"
    if waiting.credit:
        await ledger.reverse_source(
            session,
            actor=actor,
            kind=SourceKind.PAYMENT,
            source_id=f"U{waiting.id}",
            reversed_on=waiting.booking_date,
            text=f"Storno Ungeklärter Zahlungseingang: Sammlerbuchung aufgelöst durch {where} {report.statement_id}",
        )
    waiting.status = TransactionStatus.COVERED
    waiting.note = f"its transactions are booked from {_label(report)}"


async def prepare(
    session: AsyncSession, *, actor: Actor, report: BankStatement, lines: Sequence[camt.StatementLine]
) -> Preparation:
    """The new ``lines`` of ``report`` (their fingerprints unknown) as the import records them (module
    docstring): known, covered, a batch entry resolved into our items or held, or as they are."""
    entries: dict[str, list[camt.StatementLine]] = defaultdict(list)
    for line in lines:
        entries[line.position.split(".")[0]].append(line)
    keys = {n: await batch_key(session, group[0]) for n, group in entries.items()}
    earlier = await repository.entry_transactions(
        session,
        references={line.entry.reference for line in lines if line.entry.reference},
        batch_ids={key for key in keys.values() if key is not None},
    )
    prepared = Preparation()
    for n, group in entries.items():
        first, key = group[0], keys[n]
        seen = [(t, r) for t, r in earlier if _same_entry(t, first, key)]
        if any(r.kind is report.kind for _, r in seen):
            prepared.known += len(group)
            continue
        waiting = [t for t, _ in seen if t.batch_total and t.status is TransactionStatus.QUEUED]
        if seen and not (len(seen) == 1 and waiting and first.entry.details):
            note = f"booked from {_label(seen[0][1])}"
            prepared.lines += [Prepared(line, covered=True, note=note, batch_id=key) for line in group]
            continue
        if waiting:
            await _take_over(session, actor=actor, waiting=waiting[0], report=report)
        made = await _resolve(session, first) if first.entry.details == 0 else [Prepared(line) for line in group]
        prepared.lines += [p if p.batch_id else replace(p, batch_id=key) for p in made]
    return prepared
