"""camt.053 bank statements (Kontoauszug) and camt.054 debit/credit notifications (Soll-/Haben-Avis, the
details of a batch booking) into plain data: the adapter between the bank's XML and our types.

Reads camt.053.001.02 and camt.054.001.02 (what German banks send under the DFÜ agreement) and the .001.08
versions (2019); elements are found by local name, so the namespace of either version is accepted. Both
messages hold reports of one account with their entries (``Ntry``) in the same shape: a statement
(``BkToCstmrStmt/Stmt``) or a notification (``BkToCstmrDbtCdtNtfctn/Ntfctn``); one reader serves both. Only
booked entries (``Sts`` ``BOOK``) are read: pending ones may still change. An entry with several ``TxDtls``
(a batch booking, e.g. a whole direct debit file credited at once) becomes one line per detail with the
detail's own amount, so each collection can be matched to its invoice. An entry without ``TxDtls`` is one
line; what the bank says of the batch it books (``NtryDtls/Btch``: our file's ``MsgId``, our batch's
``PmtInfId``, ``NbOfTxs``, ``TtlAmt``) is kept on the line's ``Entry``, so the import can resolve it against
our own file (``billing.payments.batches``). The upload is parsed as ``iso20022.document`` parses it (no
external entities, no expansion bombs).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from app.kit.errors import Invalid
from app.kit.money import decimal_to_cents
from billing.payments.iso20022 import child, children, day, document, text

NOT_PROVIDED = "NOTPROVIDED"
CODE = "camt_invalid"
# The messages read: the message's element and the element of each account report in it.
STATEMENT, NOTIFICATION = "BkToCstmrStmt", "BkToCstmrDbtCdtNtfctn"
REPORTS = {STATEMENT: "Stmt", NOTIFICATION: "Ntfctn"}
# German banks' business transaction code (GVC, second part of the DK proprietary code "NDDT+192+...") of a
# credit for a batch of SEPA direct debits the account holder collected (Sammlerbuchung).
BATCH_COLLECTION_GVC = frozenset({"192"})
# ISO bank transaction code subfamilies of issued direct debits (PMNT/IDDT) that collect: core and B2B.
COLLECTION_SUBFAMILIES = frozenset({"ESDD", "BBDD"})


@dataclass(frozen=True, slots=True)
class Batch:
    """What the bank says of the batch an entry books (``NtryDtls/Btch``); any part may be missing."""

    message_id: str | None
    batch_id: str | None
    count: int | None
    total_cents: int | None


@dataclass(frozen=True, slots=True)
class Entry:
    """The bank's entry (``Ntry``) a line belongs to: its reference and amount (the whole batch's for a batch
    booking), the batch it books, how many transaction details the bank gave for it, and whether its bank
    transaction code says it credits direct debits the account holder collected."""

    reference: str | None
    amount_cents: int
    batch: Batch | None
    details: int
    collection: bool


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One booked movement as the bank reported it; ``amount_cents`` is positive, ``credit`` says its side."""

    booking_date: date
    value_date: date | None
    amount_cents: int
    credit: bool
    counterparty_name: str | None
    counterparty_iban: str | None
    remittance: str | None
    end_to_end_id: str | None
    mandate_reference: str | None
    bank_reference: str | None
    return_reason: str | None
    # The entry's place in the statement (entry, detail), for bookings the bank gave no reference.
    position: str
    entry: Entry


@dataclass(frozen=True, slots=True)
class Statement:
    """One account report: a statement, or with ``notification`` a camt.054 notification; the account, the
    bank's id of the report and its booked lines."""

    account_iban: str
    statement_id: str
    created_on: date | None
    lines: list[StatementLine]
    notification: bool = False


def _day(value: str | None) -> date | None:
    return day(value, code=CODE)


def _cents(node: ET.Element | None) -> int:
    if node is None or not node.text:
        raise Invalid("A booking without an amount.", code="camt_invalid")
    if node.get("Ccy", "EUR") != "EUR":
        raise Invalid(f"Only EUR accounts are kept, not {node.get('Ccy')}.", code="camt_currency")
    try:
        amount = Decimal(node.text.strip())
    except InvalidOperation as error:
        raise Invalid(f"Not an amount: {node.text!r}.", code="camt_invalid") from error
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise Invalid(f"Not a positive amount in cents: {node.text!r}.", code="camt_invalid")
    return decimal_to_cents(amount)


def _party(details: ET.Element | None, role: str) -> tuple[str | None, str | None]:
    parties = child(details, "RltdPties")
    party = child(parties, role)
    # camt.053.001.08 wraps the party in Pty; .02 names it directly.
    name = text(party, "Pty", "Nm") or text(party, "Nm")
    iban = text(parties, f"{role}Acct", "Id", "IBAN")
    return name, iban.replace(" ", "").upper() if iban else None


def _reference(value: str | None) -> str | None:
    return None if value is None or value.upper() == NOT_PROVIDED else value[:35]


def _line(
    entry: ET.Element, details: ET.Element | None, *, own_iban: str, position: str, about: Entry
) -> StatementLine:
    credit_code = text(entry, "CdtDbtInd")
    if credit_code not in ("CRDT", "DBIT"):
        raise Invalid(f"A booking is neither credit nor debit ({credit_code}).", code="camt_invalid")
    credit = credit_code == "CRDT"
    # A single booking's amount is the entry's; a batch detail has its own (TxDtls/Amt in .08).
    amount_node = child(entry, "Amt") if about.details <= 1 else child(details, "AmtDtls", "TxAmt", "Amt")
    if amount_node is None:
        amount_node = child(details, "Amt")
    amount = _cents(amount_node)
    debtor, creditor = _party(details, "Dbtr"), _party(details, "Cdtr")
    # The other side is the party that is not our own account; by direction when the bank names only one.
    first, second = (debtor, creditor) if credit else (creditor, debtor)
    name, iban = first if first[1] != own_iban and (first[0] or first[1]) else second
    texts = [t.text.strip() for t in children(child(details, "RmtInf"), "Ustrd") if t.text and t.text.strip()]
    remittance = " ".join(" ".join(texts).split()) or text(entry, "AddtlNtryInf")
    booking = _day(text(entry, "BookgDt", "Dt") or text(entry, "BookgDt", "DtTm"))
    if booking is None:
        raise Invalid("A booking without a booking date.", code="camt_invalid")
    return StatementLine(
        booking_date=booking,
        value_date=_day(text(entry, "ValDt", "Dt") or text(entry, "ValDt", "DtTm")),
        amount_cents=amount,
        credit=credit,
        counterparty_name=name[:140] if name else None,
        counterparty_iban=iban if iban and iban != own_iban else None,
        remittance=remittance[:500] if remittance else None,
        end_to_end_id=_reference(text(details, "Refs", "EndToEndId")),
        mandate_reference=_reference(text(details, "Refs", "MndtId")),
        bank_reference=_reference(text(details, "Refs", "AcctSvcrRef")) or about.reference,
        return_reason=text(details, "RtrInf", "Rsn", "Cd"),
        position=position,
        entry=about,
    )


def _booked(entry: ET.Element) -> bool:
    status = text(entry, "Sts", "Cd") or text(entry, "Sts")
    return status == "BOOK"


def _count(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise Invalid(f"Not a number of transactions: {value!r}.", code=CODE)
    return int(value)


def _batch(entry: ET.Element) -> Batch | None:
    """The first ``Btch`` of the entry's details, if it says anything."""
    node = next((b for block in children(entry, "NtryDtls") if (b := child(block, "Btch")) is not None), None)
    if node is None:
        return None
    total = child(node, "TtlAmt")
    batch = Batch(
        message_id=_reference(text(node, "MsgId")),
        batch_id=_reference(text(node, "PmtInfId")),
        count=_count(text(node, "NbOfTxs")),
        total_cents=_cents(total) if total is not None else None,
    )
    return batch if batch != Batch(None, None, None, None) else None


def _collection(entry: ET.Element) -> bool:
    """Whether the entry's bank transaction code says it credits direct debits the account holder collected:
    ISO ``PMNT/IDDT`` with a collecting subfamily, or a German GVC of a batch collection."""
    if text(entry, "BkTxCd", "Domn", "Cd") == "PMNT" and text(entry, "BkTxCd", "Domn", "Fmly", "Cd") == "IDDT":
        return text(entry, "BkTxCd", "Domn", "Fmly", "SubFmlyCd") in COLLECTION_SUBFAMILIES
    parts = (text(entry, "BkTxCd", "Prtry", "Cd") or "").split("+")
    return len(parts) > 1 and parts[1] in BATCH_COLLECTION_GVC


def _entry_lines(entry: ET.Element, *, own_iban: str, n: int) -> list[StatementLine]:
    """The lines of one booked entry: one per transaction detail, or the entry itself if it has none or one."""
    details = [d for block in children(entry, "NtryDtls") for d in children(block, "TxDtls")]
    about = Entry(
        reference=_reference(text(entry, "AcctSvcrRef")),
        amount_cents=_cents(child(entry, "Amt")),
        batch=_batch(entry),
        details=len(details),
        collection=_collection(entry),
    )
    if len(details) <= 1:
        detail = details[0] if details else None
        return [_line(entry, detail, own_iban=own_iban, position=f"{n}", about=about)]
    return [
        _line(entry, detail, own_iban=own_iban, position=f"{n}.{k}", about=about) for k, detail in enumerate(details)
    ]


def parse(data: bytes) -> list[Statement]:
    """Every account report in a camt.053 file (statements) or camt.054 file (notifications) with its booked
    lines; ``Invalid`` (``camt_invalid``) if the file is neither."""
    root = document(data, code=CODE)
    message = next((name for name in REPORTS if child(root, name) is not None), None)
    if message is None:
        raise Invalid("The file is not a camt.053 bank statement or camt.054 notification.", code="camt_invalid")
    statements = []
    for report in children(child(root, message), REPORTS[message]):
        own_iban = (text(report, "Acct", "Id", "IBAN") or "").replace(" ", "").upper()
        statement_id = text(report, "Id") or text(report, "ElctrncSeqNb")
        if not own_iban or not statement_id:
            raise Invalid("A report without account IBAN or id.", code="camt_invalid")
        lines = [
            line
            for n, entry in enumerate(children(report, "Ntry"))
            if _booked(entry)
            for line in _entry_lines(entry, own_iban=own_iban, n=n)
        ]
        statements.append(
            Statement(
                account_iban=own_iban,
                statement_id=statement_id[:35],
                created_on=_day(text(report, "CreDtTm")),
                lines=lines,
                notification=message == NOTIFICATION,
            )
        )
    if not statements:
        raise Invalid("The file holds no statement or notification.", code="camt_invalid")
    return statements
