"""The journal as a DATEV-style CSV for the coop's tax accountant.

"DATEV-style" means: the columns and value formats of a DATEV booking batch (Buchungsstapel), in a plain CSV
any spreadsheet and DATEV's own CSV/ASCII import can read. It is *not* the certified DATEV format (no EXTF
header record, no consultant or client number, no BU keys, no Debitor accounts): the accountant maps it.

Format, exactly:

* Semicolon-separated, fields quoted only where they contain a semicolon, quote or line break; CRLF line ends;
  UTF-8 with a byte-order mark by default (``encoding="cp1252"`` for DATEV's ANSI import; characters it
  lacks become ``?``).
* A header row, then one row per booking, in the order of the journal (entry date, then entry id):

  ========================= =====================================================================
  ``Umsatz``                the amount, always positive, decimal comma, no thousands separator
                            (``1234,56``)
  ``Soll/Haben-Kennzeichen`` ``S`` if ``Konto`` is debited and ``Gegenkonto`` credited, ``H`` if the
                            other way round
  ``Konto``                 the account code of the line
  ``Gegenkonto``            the account code on the other side of the entry
  ``Belegdatum``            the entry date, ``DD.MM.YYYY``
  ``Belegfeld 1``           the document number from the source (``GA-7`` share payment 7, ``ST-12``
                            reversal of entry 12, ``MAN-…`` a hand posting), at most 36 characters
  ``Buchungstext``          the entry's text, cut to DATEV's 60 characters
  ========================= =====================================================================

How entries become rows: a DATEV row is a whole booking (an amount from one account to another), so
writing every line once with "the" counter account would book each entry twice on import. Instead each
entry is split into pairs: the lines of the side with more lines (the debit side on a tie) are the
``Konto`` rows, each against the line(s) of the other side as ``Gegenkonto``. A two-line entry gives one
row; an entry of one debit and n credits gives n rows, one per credit line against the debited account
(a split booking); only an entry with several lines on both sides gives rows that split a line between
counter accounts (paired in line order). The rows of an entry always add up to the entry.
Member dimensions (which member a receivable or capital line is for) are not in this export.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Actor, Role
from app.kit.errors import Invalid
from app.kit.money import cents_to_decimal
from billing.ledger import repository
from billing.ledger.models import JournalEntry

COLUMNS = ("Umsatz", "Soll/Haben-Kennzeichen", "Konto", "Gegenkonto", "Belegdatum", "Belegfeld 1", "Buchungstext")
TEXT_LENGTH = 60


@dataclass(frozen=True, slots=True)
class BookingRow:
    amount_cents: int
    side: str  # "S" or "H": the side of ``account``
    account: str
    counter_account: str
    entry_date: date
    document: str
    text: str


def booking_rows(entry: JournalEntry, codes: dict[int, str]) -> list[BookingRow]:
    """Split one entry into DATEV bookings (see the module docstring)."""
    debits = [(codes[line.account_id], line.debit_cents) for line in entry.lines if line.debit_cents]
    credits = [(codes[line.account_id], line.credit_cents) for line in entry.lines if line.credit_cents]
    main, counter, side = (debits, credits, "S") if len(debits) >= len(credits) else (credits, debits, "H")
    main_left = [amount for _, amount in main]
    counter_left = [amount for _, amount in counter]
    rows: list[BookingRow] = []
    i = j = 0
    while i < len(main) and j < len(counter):
        amount = min(main_left[i], counter_left[j])
        rows.append(
            BookingRow(
                amount_cents=amount,
                side=side,
                account=main[i][0],
                counter_account=counter[j][0],
                entry_date=entry.entry_date,
                document=entry.document_number,
                text=entry.text[:TEXT_LENGTH],
            )
        )
        main_left[i] -= amount
        counter_left[j] -= amount
        if main_left[i] == 0:
            i += 1
        if counter_left[j] == 0:
            j += 1
    return rows


def _amount(cents: int) -> str:
    return str(cents_to_decimal(cents)).replace(".", ",")


def to_csv(rows: list[BookingRow], *, encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [
                _amount(row.amount_cents),
                row.side,
                row.account,
                row.counter_account,
                row.entry_date.strftime("%d.%m.%Y"),
                row.document,
                row.text,
            ]
        )
    return out.getvalue().encode(encoding, errors="replace")


async def export_csv(
    session: AsyncSession, *, actor: Actor, date_from: date, date_to: date, encoding: str = "utf-8-sig"
) -> bytes:
    """The entries dated ``date_from`` to ``date_to`` (both included) as a DATEV-style CSV; board only."""
    actor.require(Role.BOARD)
    if date_from > date_to:
        raise Invalid("The period ends before it starts.", code="ledger_period", field="to")
    if encoding not in ("utf-8-sig", "cp1252"):
        raise Invalid("Encoding is utf-8-sig or cp1252.", code="ledger_encoding", field="encoding")
    entries, _ = await repository.search_entries(
        session, filters=repository.EntryFilter(date_from=date_from, date_to=date_to), limit=None
    )
    codes = await repository.account_codes(session, {line.account_id for e in entries for line in e.lines})
    rows = [row for entry in entries for row in booking_rows(entry, codes)]
    return to_csv(rows, encoding=encoding)
