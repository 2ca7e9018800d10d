"""The dunning API and page: staff see the dunning list and start a pass; members may not."""

from __future__ import annotations

from datetime import date

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Role
from app.settings import Settings
from billing.dunning import service as dunning
from billing.dunning.schemas import OverdueItem
from tests.builders import OPERATOR, make_contract, make_member, make_user, token_for
from tests.web.test_pages import csrf_of, web_login


async def _reminded(session: AsyncSession, settings: Settings) -> int:
    member = await make_member(session, settings)
    await make_contract(session, settings, member=member)
    item = OverdueItem(
        invoice_id=1, number="2026-000042", member_id=member.id, due_on=date(2026, 10, 15), open_cents=9_000
    )
    await dunning.run(session, actor=OPERATOR, settings=settings, today=date(2026, 10, 22), overdue=[item])
    return member.id


async def test_staff_list_notices_and_start_a_run_and_members_may_not(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member_id = await _reminded(db_session, settings)
    staff = await token_for(client, await make_user(db_session, role=Role.OPERATOR))
    member = await make_member(db_session, settings)
    member_headers = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=member))

    listed = await client.get("/api/v1/dunning/notices", headers=staff, params={"status": "open"})
    started = await client.post("/api/v1/dunning/runs", headers=staff, json={"today": "2026-10-23"})
    refused = await client.get("/api/v1/dunning/notices", headers=member_headers)
    refused_run = await client.post("/api/v1/dunning/runs", headers=member_headers, json={})

    assert listed.status_code == 200, listed.text
    [notice] = listed.json()["items"]
    assert (notice["member_id"], notice["level"], notice["arrears_cents"]) == (member_id, 1, 9_000)
    assert started.status_code == 200, started.text
    # The pass reads the invoice table, where this member has no overdue invoice: their notice is settled.
    assert (started.json()["reminders"], started.json()["settled"]) == (0, 1)
    assert (refused.status_code, refused_run.status_code) == (403, 403)


async def test_the_dunning_page_lists_notices_in_german(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await _reminded(db_session, settings)
    user = await make_user(db_session, role=Role.OPERATOR)
    await web_login(client, user.email)

    page = await client.get("/console/dunning")
    token = await csrf_of(client, "/console/dunning")
    ran = await client.post("/console/dunning/runs", data={"csrf": token})

    assert page.status_code == 200, page.text
    assert "Mahnwesen" in page.text and "Zahlungserinnerung" in page.text
    assert "2026-000042" in page.text and "90,00" in page.text
    assert ran.status_code == 303
