"""XRechnung 3.0 (CII syntax) for business members: the same generator as the Factur-X XML with the German
CIUS's specification identifier, the business process (BT-23), the buyer reference (BT-10, the member
number where the member gave no Leitweg-ID), the seller's contact (BT-41..43) and both electronic addresses
(BT-34, BT-49), checked by ``cii.check_document`` before the XML is made."""

from __future__ import annotations

from billing.documents.cii import Profile, cii_xml
from billing.documents.model import InvoiceDocument

MEDIA_TYPE = "application/xml"


def xrechnung_xml(doc: InvoiceDocument) -> bytes:
    """The document as XRechnung 3.0 CII XML."""
    return cii_xml(doc, profile=Profile.XRECHNUNG)


def filename(doc: InvoiceDocument) -> str:
    return f"xrechnung-{doc.number}.xml"
