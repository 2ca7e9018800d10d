"""Business members: the VAT ID (Umsatzsteuer-Identifikationsnummer, USt-IdNr.) the register keeps for them.

The register checks the form of a VAT ID, and for a German one its check digit, not whether the tax office
issued it (that is a VIES or BZSt query, which needs the network and is the operator's step when the member gives
the number).
"""

from __future__ import annotations

import re

from app.kit.errors import Invalid

# VAT ID prefixes of the EU member states (ISO 3166 codes, except Greece: EL) and XI for Northern Ireland's
# traders in goods, which VIES checks too.
EU_PREFIXES = frozenset(
    {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU"}
    | {"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI"}
)
_GERMAN = re.compile(r"DE[0-9]{9}")
_EU = re.compile(r"[A-Z]{2}[0-9A-Z]{2,13}")


def german_check_digit(digits: str) -> int:
    """The check digit of a German VAT ID's first eight digits: ISO 7064 MOD 11,10, as the German VAT ID's
    completeness rule states it (Anlage 3 zu § 9 ZMDV, BGBl. 1993 I S. 736). ``"99999998"`` -> 7."""
    product = 10
    for digit in digits:
        total = (int(digit) + product) % 10 or 10
        product = 2 * total % 11
    check = 11 - product
    return 0 if check == 10 else check


def normalise_vat_id(value: str) -> str:
    """``de 123 456 788`` -> ``DE123456788``; refuses, with ``Invalid`` on ``vat_id``, what is not the form of an
    EU VAT ID: a German one is DE and nine digits whose last is the check digit of the others, others an EU prefix
    and 2 to 13 letters or digits."""
    vat_id = re.sub(r"\s+", "", value).upper()
    if vat_id.startswith("DE"):
        if not _GERMAN.fullmatch(vat_id):
            raise Invalid(
                f"{value!r} is not a German VAT ID: DE followed by nine digits.", code="vat_id_format", field="vat_id"
            )
        if german_check_digit(vat_id[2:10]) != int(vat_id[10]):
            raise Invalid(
                f"{value!r} is not a German VAT ID: its check digit does not match, a digit is mistyped "
                "(USt-IdNr. mit falscher Prüfziffer: bitte die Nummer prüfen).",
                code="vat_id_check_digit",
                field="vat_id",
            )
        return vat_id
    if vat_id[:2] not in EU_PREFIXES:
        raise Invalid(
            f"{value!r} does not start with the prefix of an EU member state (DE, AT, FR, ...; Greece: EL).",
            code="vat_id_country",
            field="vat_id",
        )
    if not _EU.fullmatch(vat_id):
        raise Invalid(
            f"{value!r} is not a VAT ID: a country prefix followed by 2 to 13 letters or digits.",
            code="vat_id_format",
            field="vat_id",
        )
    return vat_id


def business_details(*, is_business: bool, vat_id: str | None) -> tuple[bool, str | None]:
    """The business flag and the normalised VAT ID as the register keeps them; a VAT ID is only for a business
    (a consumer has none to name on an invoice), so one on a consumer is refused."""
    normalised = normalise_vat_id(vat_id) if vat_id and vat_id.strip() else None
    if normalised and not is_business:
        raise Invalid(
            "A VAT ID is kept only for a business member: mark the member as a business or remove the VAT ID.",
            code="vat_id_without_business",
            field="vat_id",
        )
    return is_business, normalised
