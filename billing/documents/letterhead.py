"""The coop as the issuer of its documents, from the settings."""

from __future__ import annotations

from app.settings import Settings
from billing.documents.model import Address, Seller


def seller_from_settings(settings: Settings) -> Seller:
    """The seller block of an invoice (letterhead, footer, Factur-X seller party) as the settings say now;
    an issued invoice keeps the copy it was made with."""
    return Seller(
        name=settings.coop_name,
        address=Address(
            street=settings.coop_street,
            postal_code=settings.coop_postal_code,
            city=settings.coop_city,
            country=settings.coop_country,
        ),
        register=settings.coop_register_court,
        board=tuple(settings.coop_board),
        supervisory_chair=settings.coop_supervisory_chair,
        tax_number=settings.coop_tax_number,
        vat_id=settings.coop_vat_id,
        email=settings.coop_email,
        phone=settings.coop_phone,
        website=settings.coop_website,
        bank_name=settings.coop_bank_name,
        iban=settings.coop_iban.replace(" ", "").upper(),
        bic=settings.coop_bic.replace(" ", "").upper(),
        creditor_id=settings.coop_creditor_id,
    )
