"""The DATEV-style CSV for the tax accountant: exact content for a small known journal."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Actor, Channel, Role
from app.kit.errors import Forbidden, Invalid
from app.settings import Settings
from billing.ledger import export, repository
from billing.ledger import service as ledger
from billing.ledger.models import SourceKind
from tests.builders import BOARD, credit, debit, make_member, post_entry

BANK, RECEIVABLES, VAT, CAPITAL, INTERNET, FEES = "1200", "1400", "1776", "0800", "8401", "4970"


async def test_the_export_has_one_booking_per_counter_line_in_german_format(
    db_session: AsyncSession, settings: Settings
) -> None:
    await post_entry(db_session, debit(BANK, 5), credit(INTERNET, 5), entry_date=date(2025, 12, 31), text="Vorjahr")
    member = await make_member(db_session, settings, applied_on=date(2026, 1, 2), admitted_on=date(2026, 1, 5))
    share_payments = repository.EntryFilter(source_kind=SourceKind.SHARE_PAYMENT)
    [payment], _ = await ledger.search_entries(db_session, actor=BOARD, filters=share_payments, limit=10, offset=0)
    await post_entry(
        db_session,
        debit(RECEIVABLES, 4748, member=member),
        credit(INTERNET, 3990),
        credit(VAT, 758),
        entry_date=date(2026, 1, 6),
        text="Rechnung 2026-0001",
        source_id="RE-2026-0001",
    )
    paid = await post_entry(
        db_session,
        debit(BANK, 4748),
        credit(RECEIVABLES, 4748, member=member),
        entry_date=date(2026, 1, 20),
        text='Zahlung "RE-2026-0001"; Dank',
        source_id="KA-17",
    )
    await post_entry(
        db_session,
        debit(BANK, 6000),
        debit(FEES, 4000),
        credit(INTERNET, 7000),
        credit(VAT, 3000),
        entry_date=date(2026, 1, 21),
        text="Sammelbuchung",
        source_id="SB-1",
    )
    await post_entry(
        db_session, debit(BANK, 1_234_567), credit(INTERNET, 1_234_567), entry_date=date(2026, 1, 30), source_id="G-1"
    )
    reversal = await ledger.reverse(
        db_session,
        actor=BOARD,
        entry_id=paid.id,
        reversed_on=date(2026, 1, 31),
        text="Storno: Zahlung war für ein anderes Mitglied bestimmt, bitte neu zuordnen",
    )
    await post_entry(db_session, debit(BANK, 9), credit(INTERNET, 9), entry_date=date(2026, 2, 1), text="Februar")

    data = await export.export_csv(db_session, actor=BOARD, date_from=date(2026, 1, 1), date_to=date(2026, 1, 31))

    assert payment.source_kind.value == "share_payment"
    assert data.decode("utf-8-sig") == (
        "Umsatz;Soll/Haben-Kennzeichen;Konto;Gegenkonto;Belegdatum;Belegfeld 1;Buchungstext\r\n"
        f"100,00;S;1200;0800;05.01.2026;GA-{payment.source_id};Einzahlung Geschäftsguthaben Mitglied-ID {member.id}\r\n"
        "39,90;H;8401;1400;06.01.2026;MAN-RE-2026-0001;Rechnung 2026-0001\r\n"
        "7,58;H;1776;1400;06.01.2026;MAN-RE-2026-0001;Rechnung 2026-0001\r\n"
        '47,48;S;1200;1400;20.01.2026;MAN-KA-17;"Zahlung ""RE-2026-0001""; Dank"\r\n'
        "60,00;S;1200;8401;21.01.2026;MAN-SB-1;Sammelbuchung\r\n"
        "10,00;S;4970;8401;21.01.2026;MAN-SB-1;Sammelbuchung\r\n"
        "30,00;S;4970;1776;21.01.2026;MAN-SB-1;Sammelbuchung\r\n"
        "12345,67;S;1200;8401;30.01.2026;MAN-G-1;Testbuchung\r\n"
        f"47,48;S;1400;1200;31.01.2026;ST-{paid.id};Storno: Zahlung war für ein anderes Mitglied bestimmt, bitte\r\n"
    )
    assert data.startswith(b"\xef\xbb\xbf")
    assert reversal.source_id == str(paid.id)


async def test_the_ansi_export_is_windows_1252(db_session: AsyncSession) -> None:
    await post_entry(db_session, debit(BANK, 100), credit(INTERNET, 100), text="Gebühr für Überweisung")

    data = await export.export_csv(
        db_session, actor=BOARD, date_from=date(2026, 1, 1), date_to=date(2026, 1, 31), encoding="cp1252"
    )

    assert data.splitlines()[1].endswith("Geb\xfchr f\xfcr \xdcberweisung".encode("latin-1"))
    assert not data.startswith(b"\xef\xbb\xbf")


async def test_the_export_is_for_the_board_and_a_real_period(db_session: AsyncSession) -> None:
    operator = Actor(user_id=None, label="op", role=Role.OPERATOR, channel=Channel.API)

    with pytest.raises(Forbidden):
        await export.export_csv(db_session, actor=operator, date_from=date(2026, 1, 1), date_to=date(2026, 1, 31))
    with pytest.raises(Invalid) as backwards:
        await export.export_csv(db_session, actor=BOARD, date_from=date(2026, 2, 1), date_to=date(2026, 1, 31))

    assert backwards.value.code == "ledger_period"
