"""German and English for pages and documents: messages from .po catalogues, de_DE/en formats."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po

from app.kit.money import format_money

LOCALES = ("de", "en")
BABEL_LOCALE = {"de": "de_DE", "en": "en_GB"}
_CATALOGUES = Path(__file__).parent / "translations"


@lru_cache
def _messages(locale: str) -> dict[str, str]:
    path = _CATALOGUES / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=BABEL_LOCALE.get(locale, locale))
    return {str(m.id): str(m.string) for m in catalogue if m.id and m.string and not m.fuzzy}


class Translator:
    """Everything a template needs to speak one language."""

    def __init__(self, locale: str, zone: str = "Europe/Berlin"):
        self.locale = locale if locale in LOCALES else "de"
        self.zone = ZoneInfo(zone)
        self._messages = _messages(self.locale)

    def gettext(self, message: str, **values: object) -> str:
        text = self._messages.get(message, message)
        return text % values if values else text

    def money(self, cents: int | None) -> str:
        return "" if cents is None else format_money(cents, self.locale)

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
