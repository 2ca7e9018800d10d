"""VAT is rounded once per rate, half up, in app.kit.money; fees for part of a month are pro rata by days."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.kit.money import pro_rata_cents, vat_by_rate, vat_cents

RATE = Decimal("19")


def test_vat_rounds_half_up_once() -> None:
    assert vat_cents(50, RATE) == 10  # 9.5 -> 10
    assert vat_cents(7732, RATE) == 1469  # 1469.08
    assert vat_cents(-50, RATE) == -10


def test_vat_is_summed_per_rate_before_rounding() -> None:
    # Three lines of 0.50 net: per line 3 x 0.10 = 0.30 VAT, once for the rate 0.285 -> 0.29.
    assert vat_by_rate([(RATE, 50), (RATE, 50), (RATE, 50)]) == {RATE: (150, 29)}
    assert vat_by_rate([(RATE, 100), (Decimal("7"), 100)]) == {Decimal("7"): (100, 7), RATE: (100, 19)}


@given(st.lists(st.integers(min_value=-(10**7), max_value=10**7), min_size=1, max_size=20))
def test_vat_per_rate_is_within_half_a_cent_of_the_exact_tax(nets: list[int]) -> None:
    [(net, vat)] = vat_by_rate((RATE, n) for n in nets).values()
    assert net == sum(nets)
    assert abs(Decimal(vat) - Decimal(net) * RATE / 100) <= Decimal("0.5")


@given(st.integers(min_value=0, max_value=10**7))
def test_a_credit_notes_vat_mirrors_its_invoices(net: int) -> None:
    assert vat_cents(-net, RATE) == -vat_cents(net, RATE)


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=28, max_value=31))
def test_pro_rata_of_a_whole_month_is_the_fee_and_never_more(fee: int, days: int) -> None:
    assert pro_rata_cents(fee, days, days) == fee
    assert 0 <= pro_rata_cents(fee, days - 1, days) <= fee
    assert pro_rata_cents(3990, 22, 31) == 2832
