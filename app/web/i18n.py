"""German and English for pages and documents: messages from .po catalogues, de_DE/en formats."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from gettext import c2py
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from app.kit.money import format_money

LOCALES = ("de", "en")
BABEL_LOCALE = {"de": "de_DE", "en": "en_GB"}
_CATALOGUES = Path(__file__).parent / "translations"


@dataclass(frozen=True, slots=True)
class _Catalogue:
    """One language's translated messages: ``singles`` by message id, ``plurals`` by the singular's id (one
    form per plural class), and ``form`` the catalogue's Plural-Forms rule (count → index of the form)."""

    singles: dict[str, str]
    plurals: dict[str, tuple[str, ...]]
    form: Callable[[int], int]


def _english_form(n: int) -> int:
    return 0 if n == 1 else 1


@lru_cache
def _messages(locale: str) -> _Catalogue:
    path = _CATALOGUES / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return _Catalogue({}, {}, _english_form)
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=BABEL_LOCALE.get(locale, locale))
    singles: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    for m in catalogue:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, tuple):
            forms = tuple(str(s) for s in m.string or ())
            if all(forms):
                plurals[str(m.id[0])] = forms
        elif m.string:
            singles[str(m.id)] = str(m.string)
    return _Catalogue(singles, plurals, c2py(catalogue.plural_expr))


class Translator:
    """Everything a template needs to speak one language."""

    def __init__(self, locale: str, zone: str = "Europe/Berlin"):
        self.locale = locale if locale in LOCALES else "de"
        self.zone = ZoneInfo(zone)
        self._messages = _messages(self.locale)

    def gettext(self, message: str, **values: object) -> str:
        text = self._messages.singles.get(message, message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        """The form of the message for the count ``n`` (German and English: one, or other), with ``n`` and
        ``values`` put in: "%(n)s transfer" / "%(n)s transfers"."""
        forms = self._messages.plurals.get(singular)
        if forms is None:
            text = singular if _english_form(n) == 0 else plural
        else:
            text = forms[min(self._messages.form(n), len(forms) - 1)]
        return text % {"n": n, **values}

    def money(self, cents: int | None) -> str:
        return "" if cents is None else format_money(cents, self.locale)

    def number(self, value: Decimal | int | None) -> str:
        """A number as the language writes it, up to four decimals, none when whole: 3,5 (de), 3.5 (en)."""
        if value is None:
            return ""
        return format_decimal(value, format="#,##0.####", locale=BABEL_LOCALE[self.locale])

    def date(self, value: date | None, style: str = "medium") -> str:
        if value is None:
            return ""
        return format_date(value, format=style, locale=BABEL_LOCALE[self.locale])

    def datetime(self, value: datetime | None, style: str = "medium") -> str:
        if value is None:
            return ""
        return format_datetime(value, format=style, tzinfo=self.zone, locale=BABEL_LOCALE[self.locale])


def negotiate(query: str | None, cookie: str | None, accept_language: str | None, default: str) -> str:
    """Language from ?lang=, then the cookie, then the browser's preference, then the default."""
    for candidate in (query, cookie):
        if candidate in LOCALES:
            return candidate
    if accept_language:
        for part in accept_language.split(","):
            tag = part.split(";")[0].strip().lower()[:2]
            if tag in LOCALES:
                return tag
    return default
