"""XRechnung 3.0 (CII) for business members: the EN 16931 schema holds, and what the German CIUS adds is there
or the export is refused."""

from __future__ import annotations

from dataclasses import replace

import pytest
from facturx import xml_check_xsd
from lxml import etree

from app.kit.errors import Invalid
from billing.documents.cii import NSMAP, cii_xml
from billing.documents.xrechnung import filename, xrechnung_xml
from tests.billing.documents.builders import make_credit_note, make_invoice_document


def values(xml: bytes, path: str) -> list[str]:
    return [str(e) if isinstance(e, str) else str(e.text) for e in etree.fromstring(xml).xpath(path, namespaces=NSMAP)]


def test_xrechnung_validates_against_the_en16931_schema() -> None:
    xml = xrechnung_xml(make_invoice_document(business=True))

    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert values(xml, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == [
        "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
    ]
    assert values(xml, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID") == [
        "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
    ]


def test_xrechnung_carries_buyer_reference_seller_contact_and_electronic_addresses() -> None:
    xml = xrechnung_xml(make_invoice_document(business=True))

    assert values(xml, "//ram:BuyerReference") == ["04011000-12345-67"]  # BT-10
    contact = "//ram:SellerTradeParty/ram:DefinedTradeContact"
    assert values(xml, f"{contact}/ram:PersonName") == ["openTelecom eG"]  # BT-41
    assert values(xml, f"{contact}/ram:TelephoneUniversalCommunication/ram:CompleteNumber") == ["+49 30 1234567"]
    assert values(xml, f"{contact}/ram:EmailURIUniversalCommunication/ram:URIID") == ["rechnung@opentelecom.example"]
    assert values(xml, "//ram:SellerTradeParty/ram:URIUniversalCommunication/ram:URIID/@schemeID") == ["EM"]  # BT-34
    assert values(xml, "//ram:BuyerTradeParty/ram:URIUniversalCommunication/ram:URIID") == [
        "buchhaltung@baeckerei-korn.example"
    ]  # BT-49
    assert values(xml, "//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") == ["59"]


def test_xrechnung_differs_from_the_facturx_xml_only_in_its_context() -> None:
    doc = make_invoice_document(business=True)
    facturx, xrechnung = etree.fromstring(cii_xml(doc)), etree.fromstring(xrechnung_xml(doc))
    for tree in (facturx, xrechnung):
        tree.remove(tree.find("rsm:ExchangedDocumentContext", NSMAP))

    assert etree.tostring(facturx) == etree.tostring(xrechnung)


def test_the_member_number_is_the_buyer_reference_without_a_leitweg_id() -> None:
    doc = make_invoice_document(business=True)
    doc = replace(doc, buyer=replace(doc.buyer, buyer_reference=None))

    assert values(xrechnung_xml(doc), "//ram:BuyerReference") == ["4711"]


def test_xrechnung_credit_note_validates_and_references_the_invoice() -> None:
    xml = xrechnung_xml(make_credit_note(invoice=make_invoice_document(business=True)))

    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert values(xml, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == ["RE-2026-000123"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda d: replace(d, seller=replace(d.seller, phone=None)), "xrechnung_seller_phone"),
        (lambda d: replace(d, buyer=replace(d.buyer, email=None)), "xrechnung_buyer_address"),
        (
            lambda d: replace(d, buyer=replace(d.buyer, buyer_reference=None, member_number=None)),
            "xrechnung_buyer_reference",
        ),
    ],
)
def test_xrechnung_without_what_the_german_cius_requires_is_refused(change, code) -> None:  # type: ignore[no-untyped-def]
    doc = change(make_invoice_document(business=True))

    with pytest.raises(Invalid) as refused:
        xrechnung_xml(doc)
    assert refused.value.code == code
    assert cii_xml(doc)  # the Factur-X XML does not need it


def test_filename_names_the_invoice() -> None:
    assert filename(make_invoice_document()) == "xrechnung-RE-2026-000123.xml"
