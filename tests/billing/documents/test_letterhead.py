"""The letterhead settings: the seller of every invoice, and the one-line address kept for older headers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from stdnum import iban

from app.settings import Settings
from billing.documents.letterhead import seller_from_settings


def test_seller_carries_the_coops_letterhead_settings() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        coop_street="Am Kabel 3",
        coop_postal_code="04109",
        coop_city="Leipzig",
        coop_iban="de91 1000 0000 0123 4567 89",
        coop_board=("A. Vorstand", "B. Vorstand"),
        coop_vat_id=None,
    )

    seller = seller_from_settings(settings)

    assert (seller.address.street, seller.address.postal_code, seller.address.city) == (
        "Am Kabel 3",
        "04109",
        "Leipzig",
    )
    assert seller.iban == "DE91100000000123456789"
    assert seller.board == ("A. Vorstand", "B. Vorstand")
    assert seller.vat_id is None and seller.tax_number == settings.coop_tax_number
    assert settings.coop_address == "Am Kabel 3, 04109 Leipzig"


def test_an_explicit_one_line_address_is_kept() -> None:
    settings = Settings(_env_file=None, coop_address="Postfach 1, 10001 Berlin")  # type: ignore[call-arg]

    assert settings.coop_address == "Postfach 1, 10001 Berlin"


def test_the_demo_iban_and_creditor_id_are_well_formed() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert iban.is_valid(settings.coop_iban)
    assert settings.coop_creditor_id is not None and settings.coop_creditor_id.startswith("DE98ZZZ")


def test_a_coop_without_tax_number_and_vat_id_is_refused() -> None:
    with pytest.raises(ValidationError, match="COOP_TAX_NUMBER"):
        Settings(_env_file=None, coop_tax_number=None, coop_vat_id=None)  # type: ignore[call-arg]
