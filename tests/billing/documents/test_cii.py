"""The EN 16931 CII XML: valid against Factur-X's schema, every business term the document carries, and
documents whose figures do not add up refused."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from facturx import xml_check_xsd
from lxml import etree

from app.kit.errors import Invalid
from billing.documents.cii import NSMAP, Profile, check_document, cii_xml
from billing.documents.model import Payment, PaymentMeans
from tests.billing.documents.builders import MEMBER_IBAN, make_credit_note, make_invoice_document


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def text(tree: etree._Element, path: str) -> list[str]:
    return [str(e.text) for e in tree.xpath(path, namespaces=NSMAP)]


def test_invoice_xml_validates_against_the_en16931_schema() -> None:
    xml = cii_xml(make_invoice_document())

    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert text(parse(xml), "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == ["urn:cen.eu:en16931:2017"]


def test_broken_xml_fails_the_schema_check_used_in_these_tests() -> None:
    xml = cii_xml(make_invoice_document()).replace(b"<ram:TypeCode>380</ram:TypeCode>", b"")

    with pytest.raises(Exception, match="not valid"):
        xml_check_xsd(xml, flavor="factur-x", level="en16931")


def test_invoice_xml_carries_header_parties_and_tax_registrations() -> None:
    doc = make_invoice_document(business=True)
    tree = parse(cii_xml(doc))

    assert text(tree, "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID") == ["RE-2026-000123"]
    assert text(tree, "//rsm:ExchangedDocument/ram:TypeCode") == ["380"]
    assert text(tree, "//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == ["20261102"]
    seller = "//ram:SellerTradeParty"
    assert text(tree, f"{seller}/ram:Name") == ["openTelecom eG"]
    assert text(tree, f"{seller}/ram:PostalTradeAddress/ram:LineOne") == ["Genossenschaftsweg 1"]
    assert text(tree, f"{seller}/ram:PostalTradeAddress/ram:PostcodeCode") == ["10115"]
    assert text(tree, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == ["DE999999995"]
    assert text(tree, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='FC']") == ["27/123/45678"]
    buyer = "//ram:BuyerTradeParty"
    assert text(tree, f"{buyer}/ram:ID") == ["4711"]
    assert text(tree, f"{buyer}/ram:Name") == ["Bäckerei Korn GmbH"]
    assert text(tree, f"{buyer}/ram:PostalTradeAddress/ram:CityName") == ["Berlin"]
    assert text(tree, f"{buyer}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == ["DE123456788"]
    assert text(tree, "//ram:ContractReferencedDocument/ram:IssuerAssignedID") == ["V-2026-0042"]
    assert (
        "Vorstand: Erika Mustermann, Max Beispiel"
        in text(tree, "//ram:IncludedNote[ram:SubjectCode='REG']/ram:Content")[0]
    )


def test_lines_carry_quantity_unit_price_total_vat_and_period() -> None:
    doc = make_invoice_document()
    tree = parse(cii_xml(doc))
    items = tree.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NSMAP)

    assert len(items) == len(doc.lines) == 5
    call = items[2]
    assert text(call, ".//ram:BilledQuantity") == ["125"]
    assert call.xpath(".//ram:BilledQuantity/@unitCode", namespaces=NSMAP) == ["MIN"]
    assert text(call, ".//ram:NetPriceProductTradePrice/ram:ChargeAmount") == ["0.0190"]
    assert text(call, ".//ram:LineTotalAmount") == ["2.38"]
    assert text(call, ".//ram:ApplicableTradeTax/ram:RateApplicablePercent") == ["19"]
    assert text(call, ".//ram:ApplicableTradeTax/ram:CategoryCode") == ["S"]
    assert text(call, ".//ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString") == ["20261001"]
    credit = items[3]
    assert text(credit, ".//ram:BilledQuantity") == ["-3"]
    assert text(credit, ".//ram:LineTotalAmount") == ["-3.99"]
    assert text(items[0], ".//ram:NetPriceProductTradePrice/ram:ChargeAmount") == ["39.90"]


def test_totals_follow_the_en16931_arithmetic() -> None:
    doc = make_invoice_document()
    tree = parse(cii_xml(doc))
    summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation"

    line_totals = sum(
        Decimal(v) for v in text(tree, "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount")
    )
    assert text(tree, f"{summation}/ram:LineTotalAmount") == [str(line_totals)] == ["90.77"]  # BR-CO-10
    assert text(tree, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:BasisAmount") == ["90.77"]
    assert text(tree, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CalculatedAmount") == ["17.25"]
    assert text(tree, f"{summation}/ram:TaxTotalAmount") == ["17.25"]
    assert text(tree, f"{summation}/ram:GrandTotalAmount") == ["108.02"]  # BR-CO-15
    assert text(tree, f"{summation}/ram:TotalPrepaidAmount") == ["15.00"]  # the dividend set off
    assert text(tree, f"{summation}/ram:DuePayableAmount") == ["93.02"]  # BR-CO-16


def test_direct_debit_carries_creditor_id_mandate_and_debtor_account() -> None:
    tree = parse(cii_xml(make_invoice_document()))

    assert text(tree, "//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") == ["59"]
    assert text(tree, "//ram:CreditorReferenceID") == ["DE98ZZZ09999999999"]
    assert text(tree, "//ram:DirectDebitMandateID") == ["OT-1042-001"]
    assert text(tree, "//ram:PayerPartyDebtorFinancialAccount/ram:IBANID") == [MEMBER_IBAN]
    assert text(tree, "//ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString") == ["20261120"]


def test_transfer_names_the_coops_account() -> None:
    xml = cii_xml(make_invoice_document(means=PaymentMeans.CREDIT_TRANSFER))
    tree = parse(xml)

    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert text(tree, "//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") == ["58"]
    assert text(tree, "//ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == ["DE91100000000123456789"]
    assert text(tree, "//ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID") == ["MARKDEF1100"]
    assert tree.xpath("//ram:DirectDebitMandateID", namespaces=NSMAP) == []


def test_credit_note_is_type_381_and_references_the_invoice() -> None:
    xml = cii_xml(make_credit_note())
    tree = parse(xml)

    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert text(tree, "//rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    assert text(tree, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == ["RE-2026-000123"]
    assert text(tree, "//ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/qdt:DateTimeString") == ["20261102"]
    assert text(tree, "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount") == ["58.31"]
    # paid back to the member's account
    assert text(tree, "//ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == [MEMBER_IBAN]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda d: replace(d, net_total_cents=d.net_total_cents + 1), "document_net_total"),
        (lambda d: replace(d, vat_total_cents=d.vat_total_cents + 1), "document_vat_total"),
        (
            lambda d: replace(d, vat_totals=(replace(d.vat_totals[0], vat_cents=d.vat_totals[0].vat_cents + 1),)),
            "document_vat_amount",
        ),
        (lambda d: replace(d, gross_total_cents=d.gross_total_cents - 1), "document_gross_total"),
        (lambda d: replace(d, amount_due_cents=d.gross_total_cents), "document_amount_due"),
        (
            lambda d: replace(
                d, lines=(replace(d.lines[0], unit_price=Decimal("-39.90"), quantity=Decimal(-1)), *d.lines[1:])
            ),
            "document_negative_price",
        ),
        (
            lambda d: replace(d, payment=Payment(means=PaymentMeans.SEPA_DIRECT_DEBIT, due_on=d.payment.due_on)),
            "document_direct_debit",
        ),
        (lambda d: replace(d, lines=()), "document_no_lines"),
    ],
)
def test_a_document_that_does_not_add_up_is_refused(change, code) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Invalid) as refused:
        cii_xml(change(make_invoice_document()))

    assert code in refused.value.extra["problems"]


def test_a_credit_note_without_the_invoice_it_corrects_is_refused() -> None:
    with pytest.raises(Invalid) as refused:
        check_document(replace(make_credit_note(), corrects_number=None))

    assert refused.value.code == "document_credit_note_reference"


def test_the_builders_documents_pass_the_checks() -> None:
    for doc in (make_invoice_document(), make_credit_note(), make_invoice_document(business=True)):
        check_document(doc, profile=Profile.EN16931)
