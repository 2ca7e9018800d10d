"""Money is integer cents. This module is the one place that turns cents into Decimal or text."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def cents_to_decimal(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def decimal_to_cents(amount: Decimal) -> int:
    """Round half up to whole cents, as German commercial practice does."""
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_money(cents: int, locale: str = "de", currency: str = "EUR") -> str:
    from babel.numbers import format_currency

    return format_currency(cents_to_decimal(cents), currency, locale="de_DE" if locale == "de" else "en_GB")


def format_unit_price(amount: Decimal, locale: str = "de", currency: str = "EUR") -> str:
    """A price per unit (a Decimal in euros): two decimals, or up to four where a rate per second has them."""
    from babel.numbers import format_currency

    return format_currency(
        amount, currency, format="#,##0.00## ¤", currency_digits=False, locale="de_DE" if locale == "de" else "en_GB"
    )
