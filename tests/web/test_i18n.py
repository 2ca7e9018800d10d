"""The translator's plural forms: German and English have one form for exactly one and another for any other
count, zero included; a message the catalogue lacks falls back to the English forms given."""

from __future__ import annotations

import pytest

from app.web.i18n import Translator

ONE, OTHER = "%(n)s payout (%(total)s) waits for an account.", "%(n)s payouts (%(total)s) wait for an account."


@pytest.mark.parametrize(
    ("n", "german", "english"),
    [
        (0, "0 Auszahlungen (5 €) warten auf eine Kontoverbindung.", "0 payouts (5 €) wait for an account."),
        (1, "1 Auszahlung (5 €) wartet auf eine Kontoverbindung.", "1 payout (5 €) waits for an account."),
        (2, "2 Auszahlungen (5 €) warten auf eine Kontoverbindung.", "2 payouts (5 €) wait for an account."),
    ],
)
def test_a_count_picks_its_plural_form(n: int, german: str, english: str) -> None:
    assert Translator("de").ngettext(ONE, OTHER, n, total="5 €") == german
    assert Translator("en").ngettext(ONE, OTHER, n, total="5 €") == english


def test_a_message_missing_from_the_catalogue_falls_back_to_the_forms_given() -> None:
    assert Translator("de").ngettext("%(n)s widget", "%(n)s widgets", 1) == "1 widget"
    assert Translator("de").ngettext("%(n)s widget", "%(n)s widgets", 3) == "3 widgets"


def test_a_rate_is_written_as_the_language_writes_numbers() -> None:
    from decimal import Decimal

    assert [Translator("de").number(Decimal(v)) for v in ("3.5000", "4", "0.1250")] == ["3,5", "4", "0,125"]
    assert Translator("en").number(Decimal("3.50")) == "3.5"
