"""SEPA files for the bank: pain.008 direct debits (one file per collection date and sequence type) and
pain.001 credit transfers for payouts, built with sepaxml and checked against the schema it ships.

Versions: pain.008.001.08 and pain.001.001.09, the ones the German banks' DFÜ agreement (Anlage 3, from
November 2023) prescribes; sepaxml validates each file against its XSD before it is stored. A file is
stored once with its SHA-256, its totals and its items; the collections move their mandates from FRST to
RCUR (the EPC rulebook counts a mandate as used once its first collection is submitted).

Each item keeps the ``PmtInfId`` of the batch it is in (``batch_id``). sepaxml makes it from the creditor's
name (letters and digits, at most 22) and 12 random hex digits (``openTelecomeG-3f9a0c2b71de``), one batch per
collection date and sequence type, so a direct debit file here is one batch; a bank that books the batch as
one entry names it there (``billing.payments.batches``).
"""

from __future__ import annotations

import hashlib
import logging
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sepaxml import SepaDD, SepaTransfer
from sepaxml.validation import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.errors import Conflict, Invalid
from app.kit.time import local_today
from app.members import service as members
from app.settings import Settings
from billing.ledger.models import SourceKind, SystemAccount
from billing.payments import credit, mandates, open_items, repository
from billing.payments.booking import book
from billing.payments.models import (
    CollectionItem,
    ItemStatus,
    PayoutItem,
    SepaFile,
    SepaFileKind,
    SequenceType,
)
from billing.payments.pain002 import batches_of
from billing.payments.schemas import CollectionRequest, PayoutInstruction

log = logging.getLogger("opentelecom.payments")
DIRECT_DEBIT_SCHEMA = "pain.008.001.08"
CREDIT_TRANSFER_SCHEMA = "pain.001.001.09"


# --- dates -------------------------------------------------------------------------------------------


def _easter(year: int) -> date:
    """Easter Sunday (Gregorian computus, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def is_target_day(day: date) -> bool:
    """Whether SEPA settles on ``day`` (TARGET2: not a weekend, 1 January, Good Friday, Easter Monday,
    1 May, 25 or 26 December)."""
    if day.weekday() >= 5:
        return False
    easter = _easter(day.year)
    closed = {
        date(day.year, 1, 1),
        easter - timedelta(days=2),
        easter + timedelta(days=1),
        date(day.year, 5, 1),
        date(day.year, 12, 25),
        date(day.year, 12, 26),
    }
    return day not in closed


def next_target_day(day: date) -> date:
    while not is_target_day(day):
        day += timedelta(days=1)
    return day


def earliest_collection_date(today: date) -> date:
    """The first collection date a file made ``today`` can still ask for: a SEPA Core debit is submitted at
    least one TARGET day before it is due."""
    return next_target_day(next_target_day(today) + timedelta(days=1))


def collection_date(*, issued_on: date, due_on: date, settings: Settings) -> date:
    """The day an invoice is collected by direct debit, as its text announces it (the invoice is the
    pre-notification): its due date, but not before ``sepa_prenotification_days`` after it was issued,
    moved to the next day SEPA settles."""
    earliest = issued_on + timedelta(days=settings.sepa_prenotification_days)
    return next_target_day(max(due_on, earliest))


# --- building the XML (pure) -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Creditor:
    """The coop as the party that collects and pays: name, account and creditor identifier."""

    name: str
    iban: str
    bic: str
    creditor_id: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Creditor:
        return cls(
            name=settings.coop_name,
            iban=settings.coop_iban.replace(" ", ""),
            bic=settings.coop_bic,
            creditor_id=settings.coop_creditor_id,
        )


@dataclass(frozen=True, slots=True)
class DebitLine:
    """One direct debit as it goes into the file."""

    debtor_name: str
    iban: str
    bic: str | None
    mandate_reference: str
    mandate_signed_on: date
    sequence: SequenceType
    amount_cents: int
    end_to_end_id: str
    remittance: str
    collection_date: date


@dataclass(frozen=True, slots=True)
class TransferLine:
    """One credit transfer as it goes into the file."""

    name: str
    iban: str
    bic: str | None
    amount_cents: int
    end_to_end_id: str
    remittance: str
    execution_date: date


@dataclass(frozen=True, slots=True)
class BuiltFile:
    content: bytes
    message_id: str
    sha256: str
    total_cents: int
    item_count: int
    # Each end-to-end id's batch (PmtInfId).
    batch_of: dict[str, str]


def _config(creditor: Creditor) -> dict[str, Any]:
    return {
        "name": creditor.name,
        "IBAN": creditor.iban,
        "BIC": creditor.bic,
        "batch": True,
        "creditor_id": creditor.creditor_id,
        "currency": "EUR",
    }


def _finish(document: SepaDD | SepaTransfer, count: int, total: int) -> BuiltFile:
    try:
        content: bytes = document.export(validate=True)
    except ValidationError as error:
        cause = error.__cause__
        raise Invalid(
            f"The SEPA file does not validate against {document.schema}: {cause or error}",
            code="sepa_schema",
        ) from error
    root = ET.fromstring(content)  # noqa: S314 - our own output
    message_id = next(el.text for el in root.iter() if el.tag.endswith("MsgId") and el.text)
    return BuiltFile(
        content=content,
        message_id=message_id,
        sha256=hashlib.sha256(content).hexdigest(),
        total_cents=total,
        item_count=count,
        batch_of={e2e: batch_id for batch_id, ids in batches_of(content).items() for e2e in ids},
    )


def _build(
    document: SepaDD | SepaTransfer, payments: Sequence[dict[str, Any]], bics: Sequence[str | None]
) -> BuiltFile:
    if not payments:
        raise Invalid("Nothing in the file.", code="sepa_empty")
    for payment, bic in zip(payments, bics, strict=True):
        document.add_payment(payment | ({"BIC": bic} if bic else {}))
    return _finish(document, len(payments), sum(int(p["amount"]) for p in payments))


def build_direct_debits(lines: Sequence[DebitLine], creditor: Creditor) -> BuiltFile:
    """A pain.008 file of ``lines`` (one batch per collection date and sequence type), validated against its
    XSD; ``Invalid`` (``sepa_schema``) names the reason if it does not validate."""
    payments = [
        {
            "name": line.debtor_name,
            "IBAN": line.iban,
            "amount": line.amount_cents,
            "type": line.sequence.value,
            "collection_date": line.collection_date,
            "mandate_id": line.mandate_reference,
            "mandate_date": line.mandate_signed_on,
            "description": line.remittance,
            "endtoend_id": line.end_to_end_id,
        }
        for line in lines
    ]
    document = SepaDD(_config(creditor), schema=DIRECT_DEBIT_SCHEMA, clean=True)
    return _build(document, payments, [line.bic for line in lines])


def build_transfers(lines: Sequence[TransferLine], creditor: Creditor) -> BuiltFile:
    """A pain.001 file of ``lines`` (one batch per execution date), validated against its XSD."""
    payments = [
        {
            "name": line.name,
            "IBAN": line.iban,
            "amount": line.amount_cents,
            "execution_date": line.execution_date,
            "description": line.remittance,
            "endtoend_id": line.end_to_end_id,
        }
        for line in lines
    ]
    document = SepaTransfer(_config(creditor), schema=CREDIT_TRANSFER_SCHEMA, clean=True)
    return _build(document, payments, [line.bic for line in lines])


# --- storing files -----------------------------------------------------------------------------------


def _file(
    built: BuiltFile, *, kind: SepaFileKind, schema: str, due_on: date, sequence: SequenceType | None
) -> SepaFile:
    return SepaFile(
        kind=kind,
        message_id=built.message_id,
        schema=schema,
        due_on=due_on,
        sequence=sequence,
        sha256=built.sha256,
        content=built.content,
        total_cents=built.total_cents,
        item_count=built.item_count,
    )


async def collect(
    session: AsyncSession, *, actor: Actor, settings: Settings, requests: Sequence[CollectionRequest]
) -> list[SepaFile]:
    """Direct debit files for ``requests``: one pain.008 per collection date and sequence type, stored with
    their items (status submitted); each used mandate is RCUR from then on, with its last collection date.

    Refusals: a member without a collectable mandate (``mandate_none``, ``mandate_revoked``,
    ``mandate_lapsed``); an end-to-end id twice in the request or already submitted and not returned
    (``collection_duplicate``); a file the XSD refuses (``sepa_schema``).
    """
    actor.require(Role.OPERATOR, Role.BOARD)
    ids = [r.end_to_end_id for r in requests]
    repeated = {i for i in ids if ids.count(i) > 1} | await repository.pending_collections(session, ids)
    if repeated:
        raise Conflict(f"Already collected or named twice: {', '.join(sorted(repeated))}.", code="collection_duplicate")
    by_member = await repository.active_mandates(session, {r.member_id for r in requests})
    creditor = Creditor.from_settings(settings)
    groups: dict[tuple[date, SequenceType], list[tuple[CollectionRequest, DebitLine]]] = defaultdict(list)
    for request in requests:
        mandate = mandates.require_collectable(
            by_member.get(request.member_id), member_id=request.member_id, on=request.collection_date
        )
        line = DebitLine(
            debtor_name=mandate.debtor_name,
            iban=mandate.iban,
            bic=mandate.bic,
            mandate_reference=mandate.reference,
            mandate_signed_on=mandate.signed_on,
            sequence=mandate.sequence,
            amount_cents=request.amount_cents,
            end_to_end_id=request.end_to_end_id,
            remittance=request.remittance,
            collection_date=request.collection_date,
        )
        groups[(request.collection_date, mandate.sequence)].append((request, line))
    stored: list[SepaFile] = []
    with action(session, "payments.collect"):
        for (day, sequence), members in sorted(groups.items()):
            built = build_direct_debits([line for _, line in members], creditor)
            sepa_file = _file(
                built, kind=SepaFileKind.DIRECT_DEBIT, schema=DIRECT_DEBIT_SCHEMA, due_on=day, sequence=sequence
            )
            session.add(sepa_file)
            await session.flush()
            for request, line in members:
                mandate = by_member[request.member_id]
                session.add(
                    CollectionItem(
                        file_id=sepa_file.id,
                        member_id=request.member_id,
                        mandate_id=mandate.id,
                        invoice_id=request.invoice_id,
                        end_to_end_id=line.end_to_end_id,
                        amount_cents=line.amount_cents,
                        remittance=line.remittance,
                        collection_date=day,
                        sequence=sequence,
                        status=ItemStatus.SUBMITTED,
                        batch_id=built.batch_of[line.end_to_end_id],
                    )
                )
                mandate.sequence = SequenceType.RCUR
                mandate.last_collected_on = max(day, mandate.last_collected_on or day)
            stored.append(sepa_file)
        await session.flush()
    return stored


async def due_collections(session: AsyncSession, *, actor: Actor, on: date) -> list[CollectionRequest]:
    """What to collect on ``on``: every open invoice whose member has a mandate usable that day and that is
    not submitted already, for its open amount, end-to-end id = invoice number."""
    actor.require(Role.OPERATOR, Role.BOARD)
    items = await open_items.open_items(session)
    usable = {
        member_id
        for member_id, mandate in (await repository.active_mandates(session, {i.member_id for i in items})).items()
        if mandates.state(mandate, on) == "active"
    }
    pending = await repository.pending_collections(session, [i.number for i in items])
    return [
        CollectionRequest(
            member_id=item.member_id,
            invoice_id=item.invoice_id,
            amount_cents=item.open_cents,
            end_to_end_id=item.number,
            remittance=f"Rechnung {item.number}",
            collection_date=on,
        )
        for item in items
        if item.member_id in usable and item.number not in pending
    ]


async def collect_run(session: AsyncSession, *, actor: Actor, settings: Settings, run_id: int) -> list[SepaFile]:
    """The direct debits of a bill run: each of its issued invoices still open whose member has a mandate
    usable on the invoice's collection date (``collection_date``: the day its text announces), for the open
    amount, end-to-end id = invoice number; one pain.008 per date and sequence type. Idempotent: an invoice
    a collection item names already (submitted, collected or returned) is not collected again; a returned
    debit is dunned, not re-collected. A debit the bank rejected (pain.002) collected nothing, so its invoice
    is collected again on the date it announced, if a file made today can still ask for that date
    (``earliest_collection_date``). An invoice whose announced date has passed (a rejection that came late, a
    run collected late) is left out and logged: a debit on another day needs a new pre-notification, so an
    operator collects it by date."""
    actor.require(Role.OPERATOR, Role.BOARD)
    items = await open_items.open_items(session, bill_run_id=run_id)
    done = await repository.collected_invoices(session, [i.invoice_id for i in items])
    by_member = await repository.active_mandates(session, {i.member_id for i in items})
    earliest = earliest_collection_date(local_today(settings.timezone))
    requests, late = [], []
    for item in items:
        mandate = by_member.get(item.member_id)
        if item.invoice_id in done or mandate is None or item.due_on is None:
            continue
        day = collection_date(issued_on=item.issued_on or item.due_on, due_on=item.due_on, settings=settings)
        if mandates.state(mandate, day) != "active":
            continue
        if day < earliest:
            late.append(item.number)
            continue
        requests.append(
            CollectionRequest(
                member_id=item.member_id,
                invoice_id=item.invoice_id,
                amount_cents=item.open_cents,
                end_to_end_id=item.number,
                remittance=f"Rechnung {item.number}",
                collection_date=day,
            )
        )
    if late:
        log.warning(
            "bill run %s: %d invoices are past their announced collection date (%s); collect them on a new date "
            "with 'payments collect --date', which the member must be told of",
            run_id,
            len(late),
            ", ".join(late[:20]),
        )
    if not requests:
        return []
    return await collect(session, actor=actor, settings=settings, requests=requests)


async def pay_out(
    session: AsyncSession, *, actor: Actor, settings: Settings, instructions: Sequence[PayoutInstruction]
) -> SepaFile:
    """One pain.001 file paying ``instructions``, stored with its items; each payout is booked debit the
    liability it settles (for the member) / credit bank on its execution date (source ``payout``). A payout of
    receivables pays a member's credit back and uses it up (``credit.draw_for_payout``).

    Refusals: an IBAN schwifty refuses (``iban_*``); a reference twice or paid before
    (``payout_duplicate``); more credit paid back than the member has (``credit_insufficient``); a file the
    XSD refuses (``sepa_schema``).
    """
    actor.require(Role.BOARD)
    refs = [i.reference for i in instructions]
    repeated = {r for r in refs if refs.count(r) > 1} | await repository.known_payout_refs(session, refs)
    if repeated:
        raise Conflict(f"Paid out already or named twice: {', '.join(sorted(repeated))}.", code="payout_duplicate")
    named = {i.member_id for i in instructions}
    unknown = named - await members.existing_member_ids(session, named)
    if unknown:
        raise Invalid(f"No member {', '.join(str(m) for m in sorted(unknown))}.", code="member_unknown")
    accounts = [
        mandates.check_iban(i.iban, bic=i.bic, field=f"instructions.{n}.iban") for n, i in enumerate(instructions)
    ]
    lines = [
        TransferLine(
            name=i.name,
            iban=account.iban,
            bic=account.bic,
            amount_cents=i.amount_cents,
            end_to_end_id=i.reference,
            remittance=i.remittance,
            execution_date=i.execution_date,
        )
        for i, account in zip(instructions, accounts, strict=True)
    ]
    built = build_transfers(lines, Creditor.from_settings(settings))
    with action(session, "payments.pay_out"):
        sepa_file = _file(
            built,
            kind=SepaFileKind.CREDIT_TRANSFER,
            schema=CREDIT_TRANSFER_SCHEMA,
            due_on=min(i.execution_date for i in instructions),
            sequence=None,
        )
        session.add(sepa_file)
        await session.flush()
        for instruction, line in zip(instructions, lines, strict=True):
            item = PayoutItem(
                file_id=sepa_file.id,
                member_id=instruction.member_id,
                name=instruction.name,
                iban=line.iban,
                iban_masked=mandates.mask_iban(line.iban),
                amount_cents=line.amount_cents,
                end_to_end_id=line.end_to_end_id,
                remittance=line.remittance,
                execution_date=line.execution_date,
                liability=SystemAccount(instruction.liability),
                status=ItemStatus.SUBMITTED,
                batch_id=built.batch_of[line.end_to_end_id],
            )
            session.add(item)
            await session.flush()
            if item.liability is SystemAccount.RECEIVABLES:
                await credit.draw_for_payout(session, item=item)
            await book(
                session,
                actor=actor,
                kind=SourceKind.PAYOUT,
                source_id=str(item.id),
                on=line.execution_date,
                text=f"Auszahlung {line.end_to_end_id}: {line.remittance}",
                debit=item.liability,
                credit=SystemAccount.BANK,
                cents=line.amount_cents,
                member_id=instruction.member_id,
            )
    return sepa_file
