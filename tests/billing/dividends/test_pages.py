"""The dividend pages without a browser: the board enters, previews and books a decision, pays it out and issues
the decided patronage refund on the decision's page; a member picks a choice, files an exemption order and
downloads their statement, in German, and may not use the board's buttons."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import unquote

import httpx
import xmlschema
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Role
from app.settings import Settings
from billing.dividends import choices, service
from billing.dividends.models import DividendChoice
from tests.billing.dividends.builders import make_booked_decision, make_year_2025
from tests.billing.dividends.test_transfers import SCHEMA
from tests.billing.payments.builders import make_invoice, make_mandate
from tests.builders import BOARD, make_user
from tests.web.test_pages import csrf_of, web_login


async def test_the_board_previews_and_books_a_decision_on_its_page(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await make_year_2025(db_session, settings)
    board = await make_user(db_session, role=Role.BOARD)
    await web_login(client, board.email)
    token = await csrf_of(client, "/board/dividends")

    entered = await client.post(
        "/board/dividends",
        data={"csrf": token, "business_year": "2025", "rate_percent": "4", "decided_on": "2026-06-15", "basis": "days"},
    )
    preview = await client.get(entered.headers["location"].split("?")[0])
    booked = await client.post(f"{entered.headers['location'].split('?')[0]}/run", data={"csrf": token})
    after = await client.get(booked.headers["location"].split("?")[0])

    assert entered.status_code == 303
    assert "Dividende 2025" in preview.text and "58,05" in preview.text
    assert preview.text.count('class="allocation"') == 4
    assert "Freigeben und buchen" in preview.text
    assert booked.status_code == 303
    assert "gebucht" in after.text and "Freigeben und buchen" not in after.text


async def test_a_member_chooses_files_an_exemption_order_and_finds_their_statements(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    year = await make_year_2025(db_session, settings)
    user = await make_user(db_session, role=Role.MEMBER, member=year.joined)
    await web_login(client, user.email)
    token = await csrf_of(client, "/portal/dividends")

    chosen = await client.post("/portal/dividends/choice", data={"csrf": token, "choice": "set_off"})
    filed = await client.post(
        "/portal/dividends/exemption-orders", data={"csrf": token, "calendar_year": "2026", "allowance": "801,00"}
    )
    page = await client.get("/portal/dividends")
    pdf = await client.get("/portal/dividends/statements/2025.pdf")

    assert chosen.status_code == 303 and filed.status_code == 303
    preference = await choices.get_preference(db_session, actor=BOARD, member_id=year.joined.id)
    assert preference.choice is DividendChoice.SET_OFF
    assert "Freistellungsaufträge" in page.text and "801,00" in page.text
    assert "/portal/dividends/statements/2025.pdf" in page.text
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


async def test_the_board_pays_out_and_issues_the_decided_refund_on_the_decision_page(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    year = await make_year_2025(db_session, settings)
    await make_mandate(db_session, settings, member=year.joined, signed_on=date(2025, 7, 1), debtor_name="Anna Test")
    # Anna's only invoice of 2025: net 100.00, so 3 % refund = 3.00 net + 0.57 VAT.
    await make_invoice(db_session, member=year.joined, gross_cents=11_900, issued_on=date(2025, 10, 1))
    board = await make_user(db_session, role=Role.BOARD)
    await web_login(client, board.email)
    token = await csrf_of(client, "/board/dividends")
    entered = await client.post(
        "/board/dividends",
        data={
            "csrf": token,
            "business_year": "2025",
            "rate_percent": "4",
            "refund_percent": "3",
            "decided_on": "2026-06-15",
            "basis": "days",
        },
    )
    page = entered.headers["location"].split("?")[0]
    listed = await client.get("/board/dividends")
    draft = await client.get(page)
    await client.post(f"{page}/run", data={"csrf": token})

    paid = await client.post(f"{page}/pay-out", data={"csrf": token, "execution_date": "2026-07-01"})
    refunded = await client.post(f"{page}/refunds", data={"csrf": token, "issue_on": "2026-06-20"})
    after = await client.get(page)
    [link] = re.findall(r'href="(/console/payments/files/[0-9]+)"', after.text)
    download = await client.get(link)

    assert '<td class="num refund">3 %</td>' in listed.text
    assert "Rückvergütung 3 % des Nettoumsatzes" in draft.text
    assert "Überweisungsdatei erstellen" not in draft.text  # not before the decision is booked
    assert paid.status_code == 303
    flash = unquote(paid.headers["location"])
    assert "Überweisungsdatei erstellt: 1 Überweisung, 4,46\xa0€." in flash
    assert "1 Auszahlung (1,46\xa0€) wartet auf eine Kontoverbindung." in flash
    assert refunded.status_code == 303
    assert "1 Rückvergütungsgutschrift ausgestellt, 3,57\xa0€." in unquote(refunded.headers["location"])
    assert after.text.count('class="payout-file"') == 1
    assert '<dd id="refund-gross">3,57\xa0€</dd>' in after.text
    assert download.status_code == 200 and xmlschema.XMLSchema(str(SCHEMA)).is_valid(download.text)


async def test_a_member_may_not_use_the_board_s_pay_out_and_refund_buttons(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    year = await make_year_2025(db_session, settings)
    decision_id = await make_booked_decision(db_session, settings)
    user = await make_user(db_session, role=Role.MEMBER, member=year.joined)
    await web_login(client, user.email)
    token = await csrf_of(client, "/portal/dividends")

    paid = await client.post(f"/board/dividends/{decision_id}/pay-out", data={"csrf": token})
    refunded = await client.post(f"/board/dividends/{decision_id}/refunds", data={"csrf": token})
    page = await client.get(f"/board/dividends/{decision_id}")

    assert (paid.status_code, refunded.status_code, page.status_code) == (403, 403, 403)
    assert await service.payout_instructions(db_session, decision_id)  # something was there to pay


async def test_the_board_records_a_forgotten_refund_on_the_booked_decisions_page(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await make_year_2025(db_session, settings)
    decision_id = await make_booked_decision(db_session, settings)
    board = await make_user(db_session, role=Role.BOARD)
    await web_login(client, board.email)
    page = f"/board/dividends/{decision_id}"
    before = await client.get(page)
    token = await csrf_of(client, page)

    recorded = await client.post(f"{page}/refund-percent", data={"csrf": token, "refund_percent": "1,5"})
    after = await client.get(page)

    assert "Rückvergütung eintragen" in before.text
    assert recorded.status_code == 303
    assert "Rückvergütung eingetragen." in unquote(recorded.headers["location"])
    assert "Rückvergütung 1,5 % des Nettoumsatzes" in after.text
    assert "Rückvergütung eintragen" not in after.text
