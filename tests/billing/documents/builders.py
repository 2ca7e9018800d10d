"""Realistic invoice documents, built the way ``billing.invoices`` will: lines first, totals from them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date
from decimal import Decimal

from app.kit.money import cents_to_decimal, decimal_to_cents
from app.settings import Settings
from billing.documents.letterhead import seller_from_settings
from billing.documents.model import (
    Address,
    Buyer,
    ContractTerms,
    DocumentKind,
    InvoiceDocument,
    Line,
    Payment,
    PaymentMeans,
    Settlement,
    VatTotal,
)

VAT = Decimal("19")
MEMBER_IBAN = "DE89370400440532013000"


def make_line(
    *,
    position: int,
    description: str,
    quantity: str,
    unit: str,
    unit_price: str,
    period: tuple[date, date] | None = None,
    contract_number: str | None = "V-2026-0042",
    vat_rate: Decimal = VAT,
) -> Line:
    """A line whose net amount is quantity times price, rounded half up once."""
    q, p = Decimal(quantity), Decimal(unit_price)
    return Line(
        position=position,
        description=description,
        quantity=q,
        unit=unit,
        unit_price=p,
        net_cents=decimal_to_cents(q * p),
        vat_rate=vat_rate,
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
        contract_number=contract_number,
    )


# description, quantity, unit, unit price, period
_MONTH: list[tuple[str, str, str, str, tuple[date, date] | None]] = [
    ("Glasfaser 250 – Monatsgrundpreis", "1", "MON", "39.90", (date(2026, 11, 1), date(2026, 11, 30))),
    ("Telefon-Option – anteilig ab Aktivierung", "18", "DAY", "0.1932", (date(2026, 10, 14), date(2026, 10, 31))),
    (
        "Verbindungen ins deutsche Festnetz und Mobilfunknetz",
        "125",
        "MIN",
        "0.0190",
        (date(2026, 10, 1), date(2026, 10, 31)),
    ),
    ("Entschädigung für Störung (§ 58 TKG), 3 Tage", "-3", "DAY", "1.3300", (date(2026, 10, 20), date(2026, 10, 22))),
    ("Einmalige Bereitstellung Telefon-Option", "1", "C62", "49.00", None),
]


def monthly_lines() -> tuple[Line, ...]:
    """A month of a fibre line with a phone option added mid-October: the monthly fee in advance, the pro-rata
    fee for the option's first days, last month's calls, three days of outage compensation and a setup fee."""
    return tuple(
        make_line(position=n, description=text, quantity=quantity, unit=unit, unit_price=price, period=period)
        for n, (text, quantity, unit, price, period) in enumerate(_MONTH, start=1)
    )


def totals(lines: tuple[Line, ...]) -> tuple[tuple[VatTotal, ...], int, int]:
    """VAT per rate, rounded once per rate; the net and VAT totals."""
    per_rate: dict[tuple[Decimal, str], int] = defaultdict(int)
    for line in lines:
        per_rate[(line.vat_rate, line.vat_category)] += line.net_cents
    vat_totals = tuple(
        VatTotal(
            rate=rate, category=category, net_cents=net, vat_cents=decimal_to_cents(cents_to_decimal(net) * rate / 100)
        )
        for (rate, category), net in sorted(per_rate.items())
    )
    return vat_totals, sum(t.net_cents for t in vat_totals), sum(t.vat_cents for t in vat_totals)


def make_buyer(*, business: bool = False, email: str | None = "erika.muster@example.org") -> Buyer:
    if business:
        return Buyer(
            name="Bäckerei Korn GmbH",
            address=Address(street="Mehlweg 7", postal_code="10437", city="Berlin"),
            member_number=4711,
            vat_id="DE123456788",
            email="buchhaltung@baeckerei-korn.example",
            buyer_reference="04011000-12345-67",
            is_business=True,
        )
    return Buyer(
        name="Erika Musterfrau",
        address=Address(street="Lindenallee 12", postal_code="10115", city="Berlin"),
        member_number=1042,
        email=email,
    )


def make_invoice_document(
    *,
    settings: Settings | None = None,
    number: str = "RE-2026-000123",
    issue_date: date = date(2026, 11, 2),
    business: bool = False,
    means: PaymentMeans = PaymentMeans.SEPA_DIRECT_DEBIT,
    lines: tuple[Line, ...] | None = None,
    dividend_set_off_cents: int = 1500,
) -> InvoiceDocument:
    """A November invoice of one member with five lines, 19 % VAT, the contract's terms, a dividend set off
    and (by default) the SEPA pre-notification."""
    lines = lines if lines is not None else monthly_lines()
    vat_totals, net, vat = totals(lines)
    settlements = (
        (Settlement(text="Verrechnung Dividende 2025", amount_cents=-dividend_set_off_cents),)
        if dividend_set_off_cents
        else ()
    )
    gross = net + vat
    if means is PaymentMeans.SEPA_DIRECT_DEBIT:
        payment = Payment(
            means=means,
            due_on=date(2026, 11, 20),
            iban=MEMBER_IBAN,
            mandate_reference="OT-1042-001",
            collection_on=date(2026, 11, 20),
        )
    else:
        payment = Payment(means=means, due_on=date(2026, 11, 16))
    return InvoiceDocument(
        kind=DocumentKind.INVOICE,
        number=number,
        issue_date=issue_date,
        period_start=date(2026, 10, 1),
        period_end=date(2026, 11, 30),
        seller=seller_from_settings(settings or Settings(_env_file=None)),  # type: ignore[call-arg]
        buyer=make_buyer(business=business),
        lines=lines,
        vat_totals=vat_totals,
        net_total_cents=net,
        vat_total_cents=vat,
        gross_total_cents=gross,
        amount_due_cents=gross + sum(s.amount_cents for s in settlements),
        payment=payment,
        contracts=(
            ContractTerms(
                contract_number="V-2026-0042",
                plan_name="Glasfaser 250",
                start_on=date(2025, 3, 1),
                min_term_end_on=date(2027, 2, 28),
                notice="1 Monat zum Ende der Mindestlaufzeit, danach jederzeit mit 1 Monat",
                last_day_to_cancel=date(2027, 1, 31),
            ),
        ),
        settlements=settlements,
    )


def make_credit_note(*, invoice: InvoiceDocument | None = None, number: str = "GS-2026-000007") -> InvoiceDocument:
    """A credit note taking back the setup fee of ``invoice`` (positive amounts: what is credited), paid back
    to the member's account."""
    invoice = invoice or make_invoice_document()
    setup = next(line for line in invoice.lines if line.unit == "C62")
    lines = (replace(setup, position=1, description="Storno: " + setup.description),)
    vat_totals, net, vat = totals(lines)
    return replace(
        invoice,
        kind=DocumentKind.CREDIT_NOTE,
        number=number,
        issue_date=date(2026, 11, 10),
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        lines=lines,
        vat_totals=vat_totals,
        net_total_cents=net,
        vat_total_cents=vat,
        gross_total_cents=net + vat,
        amount_due_cents=net + vat,
        settlements=(),
        payment=Payment(means=PaymentMeans.CREDIT_TRANSFER, due_on=date(2026, 11, 17), iban=MEMBER_IBAN),
        corrects_number=invoice.number,
        corrects_issue_date=invoice.issue_date,
    )
