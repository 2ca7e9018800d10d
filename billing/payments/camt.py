"""camt.053 bank statements (Kontoauszug) into plain data: the adapter between the bank's XML and our types.

Reads camt.053.001.02 (what German banks send under the DFÜ agreement) and camt.053.001.08 (the 2019
message version); elements are found by local name, so the namespace of either version is accepted. Only
booked entries (``Sts`` ``BOOK``) are read: pending ones may still change. An entry with several
``TxDtls`` (a batch booking, e.g. a whole direct debit file credited at once) becomes one transaction per
detail with the detail's own amount, so each collection can be matched to its invoice.

The standard library's expat parser resolves no external entities and refuses entity expansion bombs
(expat ≥ 2.4), which is what an uploaded file needs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from app.kit.errors import Invalid
from app.kit.money import decimal_to_cents

NOT_PROVIDED = "NOTPROVIDED"


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


@dataclass(frozen=True, slots=True)
class Statement:
    """One account statement: the account, the bank's statement id and its booked lines."""

    account_iban: str
    statement_id: str
    created_on: date | None
    lines: list[StatementLine]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node: ET.Element | None, *path: str) -> ET.Element | None:
    """The first element down ``path`` by local names, whatever the namespace."""
    return None if node is None else node.find("/".join("{*}" + name for name in path))


def _children(node: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if node is None else node.findall("{*}" + name)


def _text(node: ET.Element | None, *path: str) -> str | None:
    found = _child(node, *path)
    if found is None or found.text is None:
        return None
    value = " ".join(found.text.split())
    return value or None


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError as error:
        raise Invalid(f"Not a date in the statement: {value!r}.", code="camt_invalid") from error


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
    parties = _child(details, "RltdPties")
    party = _child(parties, role)
    # camt.053.001.08 wraps the party in Pty; .02 names it directly.
    name = _text(party, "Pty", "Nm") or _text(party, "Nm")
    iban = _text(parties, f"{role}Acct", "Id", "IBAN")
    return name, iban.replace(" ", "").upper() if iban else None


def _reference(value: str | None) -> str | None:
    return None if value is None or value.upper() == NOT_PROVIDED else value[:35]


def _line(
    entry: ET.Element, details: ET.Element | None, *, own_iban: str, position: str, single: bool
) -> StatementLine:
    credit_code = _text(entry, "CdtDbtInd")
    if credit_code not in ("CRDT", "DBIT"):
        raise Invalid(f"A booking is neither credit nor debit ({credit_code}).", code="camt_invalid")
    credit = credit_code == "CRDT"
    # A single booking's amount is the entry's; a batch detail has its own (TxDtls/Amt in .08).
    amount_node = _child(entry, "Amt") if single else _child(details, "AmtDtls", "TxAmt", "Amt")
    if amount_node is None:
        amount_node = _child(details, "Amt")
    amount = _cents(amount_node)
    debtor, creditor = _party(details, "Dbtr"), _party(details, "Cdtr")
    # The other side is the party that is not our own account; by direction when the bank names only one.
    first, second = (debtor, creditor) if credit else (creditor, debtor)
    name, iban = first if first[1] != own_iban and (first[0] or first[1]) else second
    texts = [t.text.strip() for t in _children(_child(details, "RmtInf"), "Ustrd") if t.text and t.text.strip()]
    remittance = " ".join(" ".join(texts).split()) or _text(entry, "AddtlNtryInf")
    booking = _day(_text(entry, "BookgDt", "Dt") or _text(entry, "BookgDt", "DtTm"))
    if booking is None:
        raise Invalid("A booking without a booking date.", code="camt_invalid")
    return StatementLine(
        booking_date=booking,
        value_date=_day(_text(entry, "ValDt", "Dt") or _text(entry, "ValDt", "DtTm")),
        amount_cents=amount,
        credit=credit,
        counterparty_name=name[:140] if name else None,
        counterparty_iban=iban if iban and iban != own_iban else None,
        remittance=remittance[:500] if remittance else None,
        end_to_end_id=_reference(_text(details, "Refs", "EndToEndId")),
        mandate_reference=_reference(_text(details, "Refs", "MndtId")),
        bank_reference=_reference(_text(details, "Refs", "AcctSvcrRef") or _text(entry, "AcctSvcrRef")),
        return_reason=_text(details, "RtrInf", "Rsn", "Cd"),
        position=position,
    )


def _booked(entry: ET.Element) -> bool:
    status = _text(entry, "Sts", "Cd") or _text(entry, "Sts")
    return status == "BOOK"


def parse(data: bytes) -> list[Statement]:
    """Every statement in a camt.053 file with its booked lines; ``Invalid`` (``camt_invalid``) if the file is
    not a camt.053 account statement."""
    try:
        root = ET.fromstring(data)  # noqa: S314 - expat: no external entities, expansion bombs refused
    except ET.ParseError as error:
        raise Invalid(f"The file is not XML: {error}.", code="camt_invalid") from error
    report = _child(root, "BkToCstmrStmt")
    if _local(root.tag) != "Document" or report is None:
        raise Invalid("The file is not a camt.053 bank statement.", code="camt_invalid")
    statements = []
    for statement in _children(report, "Stmt"):
        own_iban = (_text(statement, "Acct", "Id", "IBAN") or "").replace(" ", "").upper()
        statement_id = _text(statement, "Id") or _text(statement, "ElctrncSeqNb")
        if not own_iban or not statement_id:
            raise Invalid("A statement without account IBAN or id.", code="camt_invalid")
        lines: list[StatementLine] = []
        for n, entry in enumerate(_children(statement, "Ntry")):
            if not _booked(entry):
                continue
            details = [d for block in _children(entry, "NtryDtls") for d in _children(block, "TxDtls")]
            if len(details) <= 1:
                detail = details[0] if details else None
                lines.append(_line(entry, detail, own_iban=own_iban, position=f"{n}", single=True))
            else:
                for k, detail in enumerate(details):
                    lines.append(_line(entry, detail, own_iban=own_iban, position=f"{n}.{k}", single=False))
        statements.append(
            Statement(
                account_iban=own_iban,
                statement_id=statement_id[:35],
                created_on=_day(_text(statement, "CreDtTm")),
                lines=lines,
            )
        )
    if not statements:
        raise Invalid("The file holds no statement.", code="camt_invalid")
    return statements
