"""The dividend pages without a browser: the board enters, previews and books a decision; a member picks a
choice, files an exemption order and downloads their statement, in German."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Role
from app.settings import Settings
from billing.dividends import choices
from billing.dividends.models import DividendChoice
from tests.billing.dividends.builders import make_year_2025
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
