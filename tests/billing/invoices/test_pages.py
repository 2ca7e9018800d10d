"""The billing pages without a browser: the board previews and issues a month, the member sees the invoice,
the operator finds it; German by default."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Role
from app.settings import Settings
from tests.builders import make_contract, make_member, make_user
from tests.web.test_pages import csrf_of, web_login


async def test_the_board_previews_and_issues_and_the_member_sees_the_invoice(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_contract(db_session, settings, member=member)
    board = await make_user(db_session, role=Role.BOARD)
    owner = await make_user(db_session, role=Role.MEMBER, member=member)
    await web_login(client, board.email)

    csrf = await csrf_of(client, "/board/billing")
    previewed = await client.post("/board/billing/preview", data={"csrf": csrf, "period": "2026-10"})
    run_page = await client.get(previewed.headers["location"])
    issue_action = re.search(r'action="(/board/billing/\d+/issue)"', run_page.text)
    assert issue_action, run_page.text
    issued = await client.post(issue_action.group(1), data={"csrf": csrf})
    board_page = await client.get(issued.headers["location"])
    found = await client.get("/console/invoices", params={"member": str(member.id)})
    client.cookies.clear()
    await web_login(client, owner.email)
    mine = await client.get("/portal/invoices")

    assert previewed.status_code == 303
    assert "Rechnungen stellen" in run_page.text
    assert "gestellt" in board_page.text and "Rechnungen stellen" not in board_page.text
    number = re.search(r"\d{4}-\d{6}", mine.text)
    assert number, mine.text
    assert number.group(0) in found.text
    assert "Herunterladen" in mine.text
