"""Money is integer cents. This module is the one place that turns cents into Decimal or text."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def cents_to_decimal(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def decimal_to_cents(amount: Decimal) -> int:
    """Round half up to whole cents, as German commercial practice does."""
    return whole_cents(amount * 100)


def whole_cents(cents: Decimal, *, down: bool = False) -> int:
    """An exact amount in cents (with fractions of a cent) as whole cents: half up, as German commercial practice
    does, or with ``down`` the fraction dropped, where tax law says fractions of a cent stay out of account
    (§4 SolZG; withholding tax the same way, in the taxpayer's favour)."""
    return int(cents.quantize(Decimal(1), rounding=ROUND_DOWN if down else ROUND_HALF_UP))


def format_money(cents: int, locale: str = "de", currency: str = "EUR") -> str:
    from babel.numbers import format_currency

    return format_currency(cents_to_decimal(cents), currency, locale="de_DE" if locale == "de" else "en_GB")


def format_unit_price(amount: Decimal, locale: str = "de", currency: str = "EUR") -> str:
    """A price per unit (a Decimal in euros): two decimals, or up to four where a rate per second has them."""
    from babel.numbers import format_currency

    return format_currency(
        amount, currency, format="#,##0.00## ¤", currency_digits=False, locale="de_DE" if locale == "de" else "en_GB"
    )


def vat_cents(net_cents: int, rate_percent: Decimal) -> int:
    """The VAT on a net amount at ``rate_percent``, rounded once, half up (away from zero for a negative net,
    so a credit note's VAT mirrors its invoice's)."""
    exact = Decimal(net_cents) * rate_percent / 100
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def vat_by_rate(lines: Iterable[tuple[Decimal, int]]) -> dict[Decimal, tuple[int, int]]:
    """Net and VAT per rate from (rate, net cents) pairs: nets summed per rate, VAT rounded once per rate
    (§14 (4) Nr. 8 UStG; German practice rounds the tax of an invoice per rate, not per line)."""
    nets: dict[Decimal, int] = {}
    for rate, net in lines:
        nets[rate] = nets.get(rate, 0) + net
    return {rate: (net, vat_cents(net, rate)) for rate, net in sorted(nets.items())}


def pro_rata_cents(amount_cents: int, numerator: int, denominator: int) -> int:
    """``amount_cents`` * numerator / denominator, half up: a monthly fee for some days of a month."""
    if numerator == denominator:
        return amount_cents
    return decimal_to_cents(Decimal(amount_cents) * numerator / denominator / 100)
