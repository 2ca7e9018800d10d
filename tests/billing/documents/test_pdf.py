"""The invoice PDF as a member reads it (text extracted with pdftotext): every §14 (4) UStG field, the
TKTransparenzV contract lines, the payment text, §25a GenG's footer, German formats; and the Factur-X XML
inside it, found again by the factur-x package's extractor."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
from facturx import get_facturx_xml_from_pdf, xml_check_xsd
from pypdf import PdfReader

from billing.documents.model import InvoiceDocument, PaymentMeans
from billing.documents.pdf import UNITS, invoice_html, invoice_pdf, mask_iban
from billing.documents.service import invoice_xml
from tests.billing.documents.builders import make_credit_note, make_invoice_document, make_line

HERE = Path(__file__).resolve()
ROOT = HERE.parents[3]


def _pdftotext(pdf: bytes, *options: str) -> str:
    result = subprocess.run(
        ["pdftotext", *options, "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return result.stdout.decode("utf-8")


def pdf_text(pdf: bytes) -> str:
    """The PDF's text as pdftotext (poppler) extracts it: each printed row of the page on a line of its own
    (``-layout``, spaces folded), then the text in reading order with all whitespace folded, so a table row
    and a paragraph that wraps can both be found."""
    rows = [re.sub(r"\s+", " ", row).strip() for row in _pdftotext(pdf, "-layout").splitlines()]
    flow = re.sub(r"\s+", " ", _pdftotext(pdf))
    return "\n".join(row for row in rows if row) + "\n" + flow


@pytest.fixture(scope="module")
def invoice() -> InvoiceDocument:
    return make_invoice_document()


@pytest.fixture(scope="module")
def invoice_file(invoice: InvoiceDocument) -> bytes:
    return invoice_pdf(invoice)


@pytest.fixture(scope="module")
def text(invoice_file: bytes) -> str:
    return pdf_text(invoice_file)


def test_pdf_carries_every_field_section_14_ustg_requires(text: str) -> None:
    expected = [
        "openTelecom eG",  # Nr. 1 the supplier's name and address
        "Genossenschaftsweg 1",
        "10115 Berlin",
        "Erika Musterfrau",  # Nr. 1 the recipient's name and address
        "Lindenallee 12",
        "Steuernummer: 27/123/45678",  # Nr. 2 tax number or VAT ID
        "USt-IdNr.: DE999999995",
        "Rechnungsdatum 02.11.2026",  # Nr. 3 issue date
        "Rechnung Nr. RE-2026-000123",  # Nr. 4 invoice number
        "Glasfaser 250 – Monatsgrundpreis",  # Nr. 5 quantity and kind of supply
        "125 Min.",
        "Leistungszeitraum 01.10.2026 – 30.11.2026",  # Nr. 6 time of the supply
        "01.11.2026 – 30.11.2026",
        "Summe netto 90,77 €",  # Nr. 7 net amount per rate
        "USt. 19 % auf 90,77 € 17,25 €",  # Nr. 8 rate and tax amount
        "Summe brutto 108,02 €",
    ]
    missing = [field for field in expected if field not in text]
    assert missing == []


def test_pdf_lines_show_quantity_unit_price_and_net_in_german_format(text: str) -> None:
    rows = [
        "1 1 Monat Glasfaser 250 – Monatsgrundpreis 01.11.2026 – 30.11.2026 39,90 € 39,90 €",
        "2 18 Tage Telefon-Option – anteilig ab Aktivierung 14.10.2026 – 31.10.2026 0,1932 € 3,48 €",
        "3 125 Min. Verbindungen ins deutsche Festnetz und 01.10.2026 – 31.10.2026 0,019 € 2,38 €",
        "5 1 Stück Einmalige Bereitstellung Telefon-Option 49,00 € 49,00 €",
    ]
    assert [row for row in rows if row not in text.splitlines()] == []
    assert "20.10.2026 – 22.10.2026 1,33 € -3,99 €" in text
    assert "4 -3 Tage Entschädigung für Störung (§ 58 TKG)" in text
    assert "Mitgliedsnummer 1042" in text


def test_pdf_carries_the_contract_lines(text: str) -> None:
    for field in ("Vertragsbeginn", "Mindestvertragslaufzeit", "Kündigungsfrist", "Kündigung spätestens am"):
        assert field in text
    row = next(row for row in text.splitlines() if row.startswith("V-2026-0042 Glasfaser 250"))
    assert row.startswith("V-2026-0042 Glasfaser 250 01.03.2025 28.02.2027 1 Monat zum Ende der")
    assert row.endswith(" 31.01.2027")
    assert "Mindestlaufzeit, danach jederzeit" in text


def test_pdf_sets_the_dividend_off_and_pre_notifies_the_direct_debit(text: str) -> None:
    assert "Verrechnung Dividende 2025 -15,00 €" in text
    assert "Zu zahlender Betrag 93,02 €" in text
    assert (
        "Wir ziehen den Betrag von 93,02 € am 20.11.2026 per SEPA-Lastschrift von Ihrem Konto "
        "DE89 **** **** **** **30 00 ein. Mandatsreferenz OT-1042-001, Gläubiger-ID DE98ZZZ09999999999."
    ) in text
    assert "0532 0130" not in text  # the member's full IBAN is not on the page


def test_pdf_footer_names_register_board_supervisory_chair_and_bank(text: str) -> None:
    for field in (
        "Amtsgericht Charlottenburg, GnR 999 B",
        "Vorstand: Erika Mustermann, Max Beispiel",
        "Vorsitz des Aufsichtsrats: Clara Vorsitz",
        "IBAN DE91 1000 0000 0123 4567 89",
        "BIC MARKDEF1100",
        "Gläubiger-ID: DE98ZZZ09999999999",
    ):
        assert field in text


def test_transfer_invoice_asks_for_payment_by_the_due_date() -> None:
    text = pdf_text(invoice_pdf(make_invoice_document(means=PaymentMeans.CREDIT_TRANSFER, dividend_set_off_cents=0)))

    assert (
        "Bitte überweisen Sie 108,02 € bis zum 16.11.2026 auf unser Konto IBAN DE91 1000 0000 0123 4567 89 "
        "(BIC MARKDEF1100, Deutsche Bundesbank (Demo)), Verwendungszweck RE-2026-000123."
    ) in text
    assert "Verrechnung" not in text and "Lastschrift" not in text


def test_credit_note_says_so_and_names_the_invoice_it_corrects() -> None:
    text = pdf_text(invoice_pdf(make_credit_note()))

    assert "Gutschrift GS-2026-000007" in text
    assert "Stornorechnung zu Rechnung Nr. RE-2026-000123 vom 02.11.2026" in text
    assert "Summe brutto 58,31 €" in text
    assert "Den Betrag von 58,31 € überweisen wir bis zum 17.11.2026 auf Ihr Konto DE89 **** **** **** **30 00." in text
    assert "Rechnung Nr. RE-2026-000123" not in text.replace("zu Rechnung Nr. RE-2026-000123", "")


def test_business_buyer_sees_their_vat_id_and_reference() -> None:
    text = pdf_text(invoice_pdf(make_invoice_document(business=True)))

    assert "Bäckerei Korn GmbH" in text
    assert "Ihre USt-IdNr. DE123456788" in text
    assert "Ihre Referenz 04011000-12345-67" in text


def test_embedded_xml_is_found_again_and_equals_invoice_xml(invoice: InvoiceDocument, invoice_file: bytes) -> None:
    filename, embedded = get_facturx_xml_from_pdf(invoice_file, check_xsd=True)

    assert filename == "factur-x.xml"
    assert embedded == invoice_xml(invoice)
    assert xml_check_xsd(embedded, flavor="factur-x", level="en16931") is True


def test_pdf_declares_pdfa3_and_the_facturx_en16931_profile(invoice_file: bytes) -> None:
    result = subprocess.run(["pdfinfo", "-meta", "-"], input=invoice_file, capture_output=True, check=True)
    metadata = result.stdout.decode("utf-8")

    assert re.search(r"pdfaid:part(>|=\")3", metadata)
    assert re.search(r"ConformanceLevel(>|=\")EN 16931", metadata)
    assert "Rechnung RE-2026-000123" in metadata
    catalog = PdfReader(io.BytesIO(invoice_file)).trailer["/Root"]
    assert catalog["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"  # PDF/A's output intent survived
    attached = catalog["/AF"][0].get_object()
    assert (attached["/F"], attached["/AFRelationship"]) == ("factur-x.xml", "/Data")


def test_iban_is_masked_but_for_country_check_digits_and_last_four() -> None:
    assert mask_iban("DE89 3704 0044 0532 0130 00") == "DE89 **** **** **** **30 00"


def test_every_text_of_the_invoice_has_a_german_translation() -> None:
    from app.web.i18n import _messages

    german = _messages("de").singles
    template = (ROOT / "billing/documents/templates/documents/invoice.html").read_text()
    code = (ROOT / "billing/documents/pdf.py").read_text()
    msgids = set(re.findall(r'_\("([^"]+)"', template))
    msgids |= {
        "".join(re.findall(r'"([^"]*)"', call)) for call in re.findall(r"gettext\(\s*((?:\"[^\"]*\"\s*)+)", code)
    }
    msgids |= set(UNITS.values()) - {"GB"}

    assert len(msgids) > 40
    assert sorted(m for m in msgids if m not in german) == []


def test_english_invoice_uses_english_labels(invoice: InvoiceDocument) -> None:
    html = invoice_html(invoice, locale="en")

    assert "Invoice no." in html and "Rechnung Nr." not in html


def test_a_long_invoice_runs_onto_more_pages_with_the_footer_on_each() -> None:
    calls = tuple(
        make_line(position=n, description=f"Verbindung Nr. {n}", quantity="3", unit="MIN", unit_price="0.0190")
        for n in range(1, 81)
    )
    file = invoice_pdf(make_invoice_document(lines=calls, dividend_set_off_cents=0))
    info = subprocess.run(["pdfinfo", "-"], input=file, capture_output=True, check=True).stdout.decode()
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    text = pdf_text(file)

    assert pages >= 2
    assert text.count("Vorsitz des Aufsichtsrats: Clara Vorsitz") == 2 * pages  # footer rows + reading order
    assert "80 3 Min. Verbindung Nr. 80" in text
    assert "Summe netto 4,80 €" in text
