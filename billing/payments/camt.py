"""camt.053 bank statements (Kontoauszug) into plain data: the adapter between the bank's XML and our types.

Reads camt.053.001.02 (what German banks send under the DFÜ agreement) and camt.053.001.08 (the 2019
message version); elements are found by local name, so the namespace of either version is accepted. Only
booked entries (``Sts`` ``BOOK``) are read: pending ones may still change. An entry with several
``TxDtls`` (a batch booking, e.g. a whole direct debit file credited at once) becomes one transaction per
detail with the detail's own amount, so each collection can be matched to its invoice. The upload is
parsed as ``iso20022.document`` parses it (no external entities, no expansion bombs).
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
    entry: ET.Element, details: ET.Element | None, *, own_iban: str, position: str, single: bool
) -> StatementLine:
    credit_code = text(entry, "CdtDbtInd")
    if credit_code not in ("CRDT", "DBIT"):
        raise Invalid(f"A booking is neither credit nor debit ({credit_code}).", code="camt_invalid")
    credit = credit_code == "CRDT"
    # A single booking's amount is the entry's; a batch detail has its own (TxDtls/Amt in .08).
    amount_node = child(entry, "Amt") if single else child(details, "AmtDtls", "TxAmt", "Amt")
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
        bank_reference=_reference(text(details, "Refs", "AcctSvcrRef") or text(entry, "AcctSvcrRef")),
        return_reason=text(details, "RtrInf", "Rsn", "Cd"),
        position=position,
    )


def _booked(entry: ET.Element) -> bool:
    status = text(entry, "Sts", "Cd") or text(entry, "Sts")
    return status == "BOOK"


def parse(data: bytes) -> list[Statement]:
    """Every statement in a camt.053 file with its booked lines; ``Invalid`` (``camt_invalid``) if the file is
    not a camt.053 account statement."""
    report = child(document(data, code=CODE), "BkToCstmrStmt")
    if report is None:
        raise Invalid("The file is not a camt.053 bank statement.", code="camt_invalid")
    statements = []
    for statement in children(report, "Stmt"):
        own_iban = (text(statement, "Acct", "Id", "IBAN") or "").replace(" ", "").upper()
        statement_id = text(statement, "Id") or text(statement, "ElctrncSeqNb")
        if not own_iban or not statement_id:
            raise Invalid("A statement without account IBAN or id.", code="camt_invalid")
        lines: list[StatementLine] = []
        for n, entry in enumerate(children(statement, "Ntry")):
            if not _booked(entry):
                continue
            details = [d for block in children(entry, "NtryDtls") for d in children(block, "TxDtls")]
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
                created_on=_day(text(statement, "CreDtTm")),
                lines=lines,
            )
        )
    if not statements:
        raise Invalid("The file holds no statement.", code="camt_invalid")
    return statements
