"""What an invoice or credit note says, as plain data: the one shape the PDF, the Factur-X/ZUGFeRD XML and
the XRechnung export are made from. ``billing.invoices`` builds it from its rows; ``billing.documents``
renders it. Nothing here reads the database or the settings, so a document renders the same in a worker
process years later (GoBD).

Money is integer cents except a line's unit price, which may carry fractions of a cent (a call rated per
second) and is a Decimal in euros with up to four places.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


class DocumentKind(enum.StrEnum):
    """An invoice (Rechnung, UNTDID 1001 code 380) or a credit note that corrects one (Gutschrift /
    Stornorechnung, code 381)."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"

    @property
    def type_code(self) -> str:
        return "380" if self is DocumentKind.INVOICE else "381"


class PaymentMeans(enum.StrEnum):
    """How the amount due is settled (UNTDID 4461: 59 SEPA direct debit, 58 SEPA credit transfer)."""

    SEPA_DIRECT_DEBIT = "sepa_direct_debit"
    CREDIT_TRANSFER = "credit_transfer"

    @property
    def code(self) -> str:
        return "59" if self is PaymentMeans.SEPA_DIRECT_DEBIT else "58"


@dataclass(frozen=True)
class Address:
    street: str
    postal_code: str
    city: str
    country: str = "DE"  # ISO 3166-1 alpha-2


@dataclass(frozen=True)
class Seller:
    """The coop as the invoice's issuer, with what §14 (4) UStG and §25a GenG require on its documents."""

    name: str
    address: Address
    register: str  # register court and number, e.g. "Amtsgericht Charlottenburg, GnR 999 B"
    board: tuple[str, ...]  # members of the management board (Vorstand)
    supervisory_chair: str | None  # chair of the supervisory board (Aufsichtsrat)
    tax_number: str | None  # Steuernummer; at least one of tax_number and vat_id
    vat_id: str | None  # USt-IdNr.
    email: str
    phone: str | None
    website: str | None
    bank_name: str
    iban: str
    bic: str
    creditor_id: str | None  # SEPA creditor identifier (Gläubiger-ID)


@dataclass(frozen=True)
class Buyer:
    """The member (or customer) billed, as their name and address stood on the issue date."""

    name: str
    address: Address
    member_number: int | None
    vat_id: str | None = None  # business members only
    email: str | None = None
    buyer_reference: str | None = None  # XRechnung BT-10 (e.g. a Leitweg-ID); the member number otherwise
    is_business: bool = False


@dataclass(frozen=True)
class Line:
    """One position: what was supplied, how much of it, for which period, at which VAT rate."""

    position: int
    description: str
    quantity: Decimal
    unit: str  # UN/ECE Recommendation 20 code: "MON" month, "DAY" day, "MIN" minute, "C62" piece
    unit_price: Decimal  # net, EUR, at most 4 decimal places
    net_cents: int  # the line's net amount (negative for a credit such as an outage compensation)
    vat_rate: Decimal  # percent, e.g. Decimal("19")
    vat_category: str = "S"  # UNTDID 5305: S standard rate
    period_start: date | None = None
    period_end: date | None = None
    contract_number: str | None = None


@dataclass(frozen=True)
class VatTotal:
    """Net amount and VAT per rate (§14 (4) Nr. 8 UStG); VAT is rounded once per rate, not per line."""

    rate: Decimal
    category: str
    net_cents: int
    vat_cents: int


@dataclass(frozen=True)
class ContractTerms:
    """The contract facts every invoice states (§5 TKTransparenzV)."""

    contract_number: str
    plan_name: str
    start_on: date
    min_term_end_on: date | None
    notice: str  # e.g. "1 Monat zum Ende der Mindestlaufzeit, danach jederzeit mit 1 Monat"
    last_day_to_cancel: date | None


@dataclass(frozen=True)
class Settlement:
    """An amount settled outside the VAT base after the gross total, e.g. a dividend set off against the
    invoice (negative) or a balance carried over; it changes the amount due, not the invoice's VAT."""

    text: str
    amount_cents: int


@dataclass(frozen=True)
class Payment:
    """How and when the amount due is paid; for a direct debit the pre-notification (at least 14 days ahead)."""

    means: PaymentMeans
    due_on: date
    iban: str | None = None  # the buyer's, masked for the page ("DE89 **** **** **** **30 00") by the renderer
    mandate_reference: str | None = None
    collection_on: date | None = None


@dataclass(frozen=True)
class InvoiceDocument:
    """Everything one invoice or credit note says."""

    kind: DocumentKind
    number: str
    issue_date: date
    period_start: date
    period_end: date
    seller: Seller
    buyer: Buyer
    lines: tuple[Line, ...]
    vat_totals: tuple[VatTotal, ...]
    net_total_cents: int
    vat_total_cents: int
    gross_total_cents: int
    amount_due_cents: int  # gross total plus the settlements
    payment: Payment
    contracts: tuple[ContractTerms, ...] = ()
    settlements: tuple[Settlement, ...] = ()
    corrects_number: str | None = None  # a credit note names the invoice it corrects
    corrects_issue_date: date | None = None
    notes: tuple[str, ...] = field(default=())
    currency: str = "EUR"
