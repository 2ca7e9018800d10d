"""The EN 16931 invoice as UN/CEFACT Cross Industry Invoice (CII D16B) XML, made from an ``InvoiceDocument``.

One generator serves both uses, chosen by ``profile``: the Factur-X/ZUGFeRD XML embedded in every PDF
(profile EN 16931) and the XRechnung 3.0 export for business members (the same XML with the XRechnung
specification identifier, the business process and the rules the German CIUS adds, checked before the
XML is made). The numbers in the comments are EN 16931's business terms (BT) and groups (BG).

Sign conventions (see ``check_document``): amounts are stated as they are meant, so a credit note (type
code 381) carries positive amounts, the amount it credits; a credit line on an invoice (an outage
compensation) has a negative quantity and a non-negative net price (EN 16931 BR-27). Settlements outside
the VAT base (a dividend set off) are the paid amount BT-113 with the opposite sign, so that the amount
due BT-115 = grand total BT-112 - BT-113 (BR-CO-16).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from datetime import date
from decimal import Decimal

from lxml import etree

from app.kit.errors import Invalid
from app.kit.money import cents_to_decimal, decimal_to_cents
from billing.documents.model import Address, DocumentKind, InvoiceDocument, Line, PaymentMeans, Seller

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT}

# BT-23: the business process XRechnung's receivers (and Peppol) expect.
BILLING_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"


class Profile(enum.StrEnum):
    """Which specification the XML claims to follow (BT-24)."""

    EN16931 = "urn:cen.eu:en16931:2017"
    XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"


def check_document(doc: InvoiceDocument, *, profile: Profile = Profile.EN16931) -> None:
    """Refuse a document whose figures do not add up or that lacks what EN 16931 (and, for XRechnung, the
    German CIUS) requires, with ``Invalid`` and a code; the PDF and the XML are only made from documents
    that pass."""
    problems: list[tuple[str, str]] = []

    def need(condition: object, code: str, detail: str) -> None:
        if not condition:
            problems.append((code, detail))

    need(doc.lines, "document_no_lines", "a document needs at least one line")
    need(
        doc.seller.tax_number or doc.seller.vat_id, "document_seller_tax_id", "the seller needs a tax number or VAT ID"
    )
    need(
        sum(line.net_cents for line in doc.lines) == doc.net_total_cents,
        "document_net_total",
        "the lines' net amounts do not add up to the net total",
    )
    for line in doc.lines:
        need(line.unit_price >= 0, "document_negative_price", f"line {line.position}: a price is never negative")
        need(
            line.unit_price == line.unit_price.quantize(Decimal("0.0001")),
            "document_price_places",
            f"line {line.position}: a price has at most four decimal places",
        )
    per_rate: dict[tuple[Decimal, str], int] = defaultdict(int)
    for line in doc.lines:
        per_rate[(line.vat_rate, line.vat_category)] += line.net_cents
    stated = {(t.rate, t.category): t for t in doc.vat_totals}
    need(set(stated) == set(per_rate), "document_vat_rates", "the VAT totals do not list exactly the lines' rates")
    for key, total in stated.items():
        need(total.net_cents == per_rate.get(key), "document_vat_basis", f"VAT {key[0]} %: basis is not the lines' sum")
        need(
            total.vat_cents == decimal_to_cents(cents_to_decimal(total.net_cents) * total.rate / 100),
            "document_vat_amount",
            f"VAT {key[0]} %: the tax is not the basis times the rate, rounded once",
        )
    need(
        sum(t.vat_cents for t in doc.vat_totals) == doc.vat_total_cents,
        "document_vat_total",
        "the VAT per rate does not add up to the VAT total",
    )
    need(
        doc.net_total_cents + doc.vat_total_cents == doc.gross_total_cents,
        "document_gross_total",
        "net total plus VAT is not the gross total",
    )
    need(
        doc.gross_total_cents + sum(s.amount_cents for s in doc.settlements) == doc.amount_due_cents,
        "document_amount_due",
        "gross total plus settlements is not the amount due",
    )
    need(doc.period_start <= doc.period_end, "document_period", "the service period ends before it starts")
    if doc.kind is DocumentKind.CREDIT_NOTE:
        need(
            doc.corrects_number and doc.corrects_issue_date,
            "document_credit_note_reference",
            "a credit note names the invoice it corrects and that invoice's date",
        )
    if doc.payment.means is PaymentMeans.SEPA_DIRECT_DEBIT and doc.kind is DocumentKind.INVOICE:
        need(
            doc.payment.iban and doc.payment.mandate_reference and doc.payment.collection_on,
            "document_direct_debit",
            "a direct debit needs the debtor's IBAN, the mandate reference and the collection date",
        )
        need(doc.seller.creditor_id, "document_creditor_id", "a direct debit needs the coop's creditor ID")
    if profile is Profile.XRECHNUNG:
        need(doc.buyer.buyer_reference or doc.buyer.member_number, "xrechnung_buyer_reference", "BT-10 is required")
        need(doc.seller.phone, "xrechnung_seller_phone", "XRechnung requires the seller's phone (BT-42)")
        need(doc.buyer.email, "xrechnung_buyer_address", "XRechnung requires the buyer's electronic address (BT-49)")
    if problems:
        code, _ = problems[0]
        raise Invalid("; ".join(detail for _, detail in problems), code=code, problems=[c for c, _ in problems])


def _amount(cents: int) -> str:
    return str(cents_to_decimal(cents))


def _decimal(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _price(value: Decimal) -> str:
    """A unit price with two decimals, or up to four where a rate per second needs them."""
    four = value.quantize(Decimal("0.0001"))
    return str(four if four != four.quantize(Decimal("0.01")) else four.quantize(Decimal("0.01")))


def _date(value: date) -> str:
    return value.strftime("%Y%m%d")


class _Builder:
    """Small helpers over lxml so the tree below reads in the order the schema wants."""

    @staticmethod
    def sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
        prefix, name = tag.split(":")
        element = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{name}", attributes)
        if text is not None:
            element.text = text
        return element

    def date_time(self, parent: etree._Element, tag: str, value: date, *, qualified: bool = False) -> None:
        holder = self.sub(parent, tag)
        self.sub(holder, "qdt:DateTimeString" if qualified else "udt:DateTimeString", _date(value), format="102")

    def period(self, parent: etree._Element, start: date, end: date) -> None:
        period = self.sub(parent, "ram:BillingSpecifiedPeriod")
        self.date_time(period, "ram:StartDateTime", start)
        self.date_time(period, "ram:EndDateTime", end)

    def note(self, parent: etree._Element, content: str, subject: str | None = None) -> None:
        note = self.sub(parent, "ram:IncludedNote")
        self.sub(note, "ram:Content", content)
        if subject:
            self.sub(note, "ram:SubjectCode", subject)


def _legal_note(seller: Seller) -> str:
    """The company facts §25a GenG puts on business letters, as the REG note German receivers look for."""
    parts = [seller.name, seller.register, "Vorstand: " + ", ".join(seller.board)]
    if seller.supervisory_chair:
        parts.append(f"Vorsitz des Aufsichtsrats: {seller.supervisory_chair}")
    return "; ".join(parts)


def _line(b: _Builder, parent: etree._Element, line: Line) -> None:
    item = b.sub(parent, "ram:IncludedSupplyChainTradeLineItem")
    b.sub(b.sub(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(line.position))
    product = b.sub(item, "ram:SpecifiedTradeProduct")
    if line.contract_number:
        b.sub(product, "ram:SellerAssignedID", line.contract_number)
    b.sub(product, "ram:Name", line.description)
    agreement = b.sub(item, "ram:SpecifiedLineTradeAgreement")
    b.sub(b.sub(agreement, "ram:NetPriceProductTradePrice"), "ram:ChargeAmount", _price(line.unit_price))
    b.sub(
        b.sub(item, "ram:SpecifiedLineTradeDelivery"), "ram:BilledQuantity", _decimal(line.quantity), unitCode=line.unit
    )
    settlement = b.sub(item, "ram:SpecifiedLineTradeSettlement")
    tax = b.sub(settlement, "ram:ApplicableTradeTax")
    b.sub(tax, "ram:TypeCode", "VAT")
    b.sub(tax, "ram:CategoryCode", line.vat_category)
    b.sub(tax, "ram:RateApplicablePercent", _decimal(line.vat_rate))
    if line.period_start and line.period_end:
        b.period(settlement, line.period_start, line.period_end)
    summation = b.sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
    b.sub(summation, "ram:LineTotalAmount", _amount(line.net_cents))


def cii_xml(doc: InvoiceDocument, *, profile: Profile = Profile.EN16931) -> bytes:
    """The document as CII XML (UTF-8, with declaration), after ``check_document``."""
    check_document(doc, profile=profile)
    b = _Builder()
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)

    context = b.sub(root, "rsm:ExchangedDocumentContext")
    if profile is Profile.XRECHNUNG:
        b.sub(b.sub(context, "ram:BusinessProcessSpecifiedDocumentContextParameter"), "ram:ID", BILLING_PROCESS)
    b.sub(b.sub(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", profile.value)  # BT-24

    header = b.sub(root, "rsm:ExchangedDocument")
    b.sub(header, "ram:ID", doc.number)  # BT-1
    b.sub(header, "ram:TypeCode", doc.kind.type_code)  # BT-3
    b.date_time(header, "ram:IssueDateTime", doc.issue_date)  # BT-2
    for text in doc.notes:  # BG-1
        b.note(header, text)
    for settlement in doc.settlements:
        b.note(header, f"{settlement.text}: {_amount(settlement.amount_cents)} {doc.currency}", "AAI")
    b.note(header, _legal_note(doc.seller), "REG")

    transaction = b.sub(root, "rsm:SupplyChainTradeTransaction")
    for line in doc.lines:  # BG-25
        _line(b, transaction, line)

    agreement = b.sub(transaction, "ram:ApplicableHeaderTradeAgreement")
    buyer_reference = doc.buyer.buyer_reference or (
        str(doc.buyer.member_number) if doc.buyer.member_number is not None else None
    )
    if buyer_reference:
        b.sub(agreement, "ram:BuyerReference", buyer_reference)  # BT-10
    seller = b.sub(agreement, "ram:SellerTradeParty")  # BG-4
    b.sub(seller, "ram:Name", doc.seller.name)  # BT-27
    b.sub(b.sub(seller, "ram:SpecifiedLegalOrganization"), "ram:ID", doc.seller.register)  # BT-30
    contact = b.sub(seller, "ram:DefinedTradeContact")  # BG-6
    b.sub(contact, "ram:PersonName", doc.seller.name)  # BT-41
    if doc.seller.phone:
        b.sub(b.sub(contact, "ram:TelephoneUniversalCommunication"), "ram:CompleteNumber", doc.seller.phone)  # BT-42
    b.sub(b.sub(contact, "ram:EmailURIUniversalCommunication"), "ram:URIID", doc.seller.email)  # BT-43
    _address(b, seller, doc.seller.address)
    b.sub(b.sub(seller, "ram:URIUniversalCommunication"), "ram:URIID", doc.seller.email, schemeID="EM")  # BT-34
    if doc.seller.vat_id:
        b.sub(b.sub(seller, "ram:SpecifiedTaxRegistration"), "ram:ID", doc.seller.vat_id, schemeID="VA")  # BT-31
    if doc.seller.tax_number:
        b.sub(b.sub(seller, "ram:SpecifiedTaxRegistration"), "ram:ID", doc.seller.tax_number, schemeID="FC")  # BT-32

    buyer = b.sub(agreement, "ram:BuyerTradeParty")  # BG-7
    if doc.buyer.member_number is not None:
        b.sub(buyer, "ram:ID", str(doc.buyer.member_number))  # BT-46
    b.sub(buyer, "ram:Name", doc.buyer.name)  # BT-44
    _address(b, buyer, doc.buyer.address)
    if doc.buyer.email:
        b.sub(b.sub(buyer, "ram:URIUniversalCommunication"), "ram:URIID", doc.buyer.email, schemeID="EM")  # BT-49
    if doc.buyer.vat_id:
        b.sub(b.sub(buyer, "ram:SpecifiedTaxRegistration"), "ram:ID", doc.buyer.vat_id, schemeID="VA")  # BT-48
    if len(doc.contracts) == 1:  # BT-12 holds one contract; several are named on their lines
        b.sub(
            b.sub(agreement, "ram:ContractReferencedDocument"), "ram:IssuerAssignedID", doc.contracts[0].contract_number
        )

    b.sub(transaction, "ram:ApplicableHeaderTradeDelivery")

    settlement = b.sub(transaction, "ram:ApplicableHeaderTradeSettlement")
    direct_debit = doc.payment.means is PaymentMeans.SEPA_DIRECT_DEBIT
    if direct_debit and doc.seller.creditor_id:
        b.sub(settlement, "ram:CreditorReferenceID", doc.seller.creditor_id)  # BT-90
    b.sub(settlement, "ram:PaymentReference", doc.number)  # BT-83
    b.sub(settlement, "ram:InvoiceCurrencyCode", doc.currency)  # BT-5
    means = b.sub(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")  # BG-16
    b.sub(means, "ram:TypeCode", doc.payment.means.code)  # BT-81
    if direct_debit:
        if doc.payment.iban:
            debtor = b.sub(means, "ram:PayerPartyDebtorFinancialAccount")
            b.sub(debtor, "ram:IBANID", doc.payment.iban.replace(" ", ""))  # BT-91
    else:
        # A credit note paid out goes to the member's account when one is given; otherwise to ours.
        refund_to = doc.payment.iban if doc.kind is DocumentKind.CREDIT_NOTE else None
        payee = b.sub(means, "ram:PayeePartyCreditorFinancialAccount")  # BG-17
        b.sub(payee, "ram:IBANID", (refund_to or doc.seller.iban).replace(" ", ""))
        if not refund_to:
            b.sub(payee, "ram:AccountName", doc.seller.name)  # BT-85
            b.sub(b.sub(means, "ram:PayeeSpecifiedCreditorFinancialInstitution"), "ram:BICID", doc.seller.bic)  # BT-86
    for total in doc.vat_totals:  # BG-23
        tax = b.sub(settlement, "ram:ApplicableTradeTax")
        b.sub(tax, "ram:CalculatedAmount", _amount(total.vat_cents))  # BT-117
        b.sub(tax, "ram:TypeCode", "VAT")
        b.sub(tax, "ram:BasisAmount", _amount(total.net_cents))  # BT-116
        b.sub(tax, "ram:CategoryCode", total.category)  # BT-118
        b.sub(tax, "ram:RateApplicablePercent", _decimal(total.rate))  # BT-119
    b.period(settlement, doc.period_start, doc.period_end)  # BG-14
    terms = b.sub(settlement, "ram:SpecifiedTradePaymentTerms")  # BT-20, BT-9, BT-89
    b.sub(terms, "ram:Description", _terms_text(doc))
    b.date_time(terms, "ram:DueDateDateTime", doc.payment.due_on)
    if direct_debit and doc.payment.mandate_reference:
        b.sub(terms, "ram:DirectDebitMandateID", doc.payment.mandate_reference)
    summation = b.sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")  # BG-22
    prepaid = -sum(s.amount_cents for s in doc.settlements)
    b.sub(summation, "ram:LineTotalAmount", _amount(doc.net_total_cents))  # BT-106
    b.sub(summation, "ram:TaxBasisTotalAmount", _amount(doc.net_total_cents))  # BT-109
    b.sub(summation, "ram:TaxTotalAmount", _amount(doc.vat_total_cents), currencyID=doc.currency)  # BT-110
    b.sub(summation, "ram:GrandTotalAmount", _amount(doc.gross_total_cents))  # BT-112
    if prepaid:
        b.sub(summation, "ram:TotalPrepaidAmount", _amount(prepaid))  # BT-113
    b.sub(summation, "ram:DuePayableAmount", _amount(doc.amount_due_cents))  # BT-115
    if doc.corrects_number and doc.corrects_issue_date:  # BG-3
        preceding = b.sub(settlement, "ram:InvoiceReferencedDocument")
        b.sub(preceding, "ram:IssuerAssignedID", doc.corrects_number)  # BT-25
        b.date_time(preceding, "ram:FormattedIssueDateTime", doc.corrects_issue_date, qualified=True)  # BT-26
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _address(b: _Builder, party: etree._Element, address: Address) -> None:
    element = b.sub(party, "ram:PostalTradeAddress")  # BG-5, BG-8
    b.sub(element, "ram:PostcodeCode", address.postal_code)
    b.sub(element, "ram:LineOne", address.street)
    b.sub(element, "ram:CityName", address.city)
    b.sub(element, "ram:CountryID", address.country)


def _terms_text(doc: InvoiceDocument) -> str:
    """BT-20 in words, the same facts the PDF states."""
    due = doc.payment.due_on.strftime("%d.%m.%Y")
    if doc.kind is DocumentKind.CREDIT_NOTE:
        return f"Gutschrift, Auszahlung oder Verrechnung bis {due}"
    if doc.payment.means is PaymentMeans.SEPA_DIRECT_DEBIT and doc.payment.collection_on:
        return (
            f"SEPA-Lastschrift am {doc.payment.collection_on.strftime('%d.%m.%Y')}, "
            f"Mandatsreferenz {doc.payment.mandate_reference}, Gläubiger-ID {doc.seller.creditor_id}"
        )
    return f"Zahlbar ohne Abzug bis {due}"
