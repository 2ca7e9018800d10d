"""The invoice API: a member reads their own invoices only (anyone else's is 404), the board reads all and
runs the bill run."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Role
from app.settings import Settings
from tests.builders import make_contract, make_member, make_user, token_for


async def test_a_members_invoice_is_theirs_and_the_boards_and_no_one_elses(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    owner = await make_member(db_session, settings)
    other = await make_member(db_session, settings)
    await make_contract(db_session, settings, member=owner)
    board = await token_for(client, await make_user(db_session, role=Role.BOARD))
    mine = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=owner))
    theirs = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=other))

    preview = await client.post("/api/v1/bill-runs", headers=board, json={"period": "2026-10"})
    issued = await client.post(f"/api/v1/bill-runs/{preview.json()['id']}/issue", headers=board)
    listed = await client.get("/api/v1/invoices", headers=board, params={"bill_run_id": preview.json()["id"]})
    invoice_id = listed.json()["items"][0]["id"]

    assert preview.status_code == 201, preview.text
    assert issued.json()["status"] == "issued"
    assert (await client.get(f"/api/v1/invoices/{invoice_id}", headers=mine)).status_code == 200
    assert (await client.get(f"/api/v1/invoices/{invoice_id}", headers=board)).status_code == 200
    assert (await client.get(f"/api/v1/invoices/{invoice_id}", headers=theirs)).status_code == 404
    assert (await client.get(f"/api/v1/invoices/{invoice_id}/pdf", headers=theirs)).status_code == 404
    assert (await client.get(f"/api/v1/invoices/{invoice_id}/pdf", headers=mine)).content.startswith(b"%PDF-")
    assert [i["id"] for i in (await client.get("/api/v1/invoices", headers=mine)).json()["items"]] == [invoice_id]
    assert (await client.get("/api/v1/invoices", headers=theirs)).json()["total"] == 0
    assert (await client.post("/api/v1/bill-runs", headers=mine, json={"period": "2026-10"})).status_code == 403
