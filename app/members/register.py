"""Exports of the member register (§30 GenG): CSV for spreadsheets, PDF for the files."""

from __future__ import annotations

import csv
import io

from app.kit.money import cents_to_decimal
from app.kit.pdf import html_to_pdf
from app.kit.time import utcnow
from app.members.schemas import Register
from app.settings import Settings
from app.web.i18n import Translator
from app.web.templating import render

COLUMNS = [
    ("number", "No."),
    ("name", "Name"),
    ("address", "Address"),
    ("shares", "Shares"),
    ("capital", "Paid-in capital (EUR)"),
    ("joined_on", "Joined"),
    ("last_change_on", "Last change of shares"),
    ("notice_given_on", "Notice given"),
    ("left_on", "Left"),
    ("leaving_reason", "Reason for leaving"),
]


def to_csv(register: Register, *, locale: str = "de") -> bytes:
    """Semicolon-separated with a BOM and decimal commas in German, so spreadsheets open it right."""
    t = Translator(locale)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if locale == "de" else ",", lineterminator="\r\n")
    writer.writerow([t.gettext(label) for _, label in COLUMNS])
    for e in register.entries:
        capital = str(cents_to_decimal(e.capital_cents))
        writer.writerow(
            [
                e.number,
                e.name,
                e.address,
                e.shares,
                capital.replace(".", ",") if locale == "de" else capital,
                e.joined_on.isoformat(),
                e.last_change_on.isoformat() if e.last_change_on else "",
                e.notice_given_on.isoformat() if e.notice_given_on else "",
                e.left_on.isoformat() if e.left_on else "",
                t.gettext(e.leaving_reason.value) if e.leaving_reason else "",
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_html(register: Register, *, settings: Settings, locale: str = "de") -> str:
    t = Translator(locale, settings.timezone)
    return render(
        "members/register_pdf.html",
        translator=t,
        register=register,
        coop_name=settings.coop_name,
        coop_address=settings.coop_address,
        coop_register_court=settings.coop_register_court,
        printed_at=utcnow(),
    )


async def to_pdf(register: Register, *, settings: Settings, locale: str = "de") -> bytes:
    return await html_to_pdf(to_html(register, settings=settings, locale=locale))
