"""The operator's wizard, line page and drift list, and the member's line status, without a browser."""

from __future__ import annotations

import re

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Role
from app.kit.time import utcnow
from app.settings import Settings
from provisioning import repository
from provisioning.radius.models import RadAcct, RadCheck
from tests.builders import make_contract, make_member, make_plan, make_router, make_user
from tests.web.test_pages import csrf_of, web_login


async def test_wizard_switches_an_ordered_contract_on_and_shows_the_line(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    router = await make_router(db_session, ipv4_pool="100.77.0.0/24")
    member = await make_member(db_session, settings)
    contract = await make_contract(
        db_session, settings, member=member, plan=await make_plan(db_session), active_from=None
    )
    operator = await make_user(db_session, role=Role.OPERATOR)
    await web_login(client, operator.email)

    form = await client.get(f"/console/contracts/{contract.id}/provision")
    assert form.status_code == 200 and router.name in form.text
    token = await csrf_of(client, f"/console/contracts/{contract.id}/provision")
    done = await client.post(
        f"/console/contracts/{contract.id}/provision",
        data={"csrf": token, "router_id": str(router.id), "ipv4": "100.77.0.50", "port_kind": "veth"},
    )

    assert done.status_code == 303, done.text
    page = await client.get(done.headers["location"])
    assert page.status_code == 200
    assert "100.77.0.50" in page.text and 'id="radius-login">angenommen' in page.text.replace("\n", "")
    assert "router_sync" in page.text  # the queued router job is listed


async def test_drift_page_lists_a_deleted_login_and_repairs_it(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await make_router(db_session)
    member = await make_member(db_session, settings)
    contract = await make_contract(db_session, settings, member=member)
    line = await repository.line_by_contract(db_session, contract.id)
    assert line is not None
    username = line.username
    await db_session.execute(sa.delete(RadCheck).where(RadCheck.username == username))
    operator = await make_user(db_session, role=Role.OPERATOR)
    await web_login(client, operator.email)

    listed = await client.get("/console/drift")
    assert listed.status_code == 200
    assert username in listed.text and "password row differs" in listed.text
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', listed.text)
    assert token
    repaired = await client.post("/console/drift", data={"csrf": token.group(1)})
    assert repaired.status_code == 200 and "repaired" in repaired.text
    again = await client.get("/console/drift")
    assert username not in again.text and "Converged" in again.text


async def test_member_sees_their_line_online_with_its_address(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await make_router(db_session)
    member = await make_member(db_session, settings)
    contract = await make_contract(db_session, settings, member=member)
    line = await repository.line_by_contract(db_session, contract.id)
    assert line is not None and line.ipv4 is not None
    address = line.ipv4
    db_session.add(
        RadAcct(
            acctsessionid="a1",
            acctuniqueid="pages-a1",
            username=line.username,
            nasipaddress="127.0.0.1",
            acctstarttime=utcnow(),
        )
    )
    user = await make_user(db_session, role=Role.MEMBER, member=member)
    await web_login(client, user.email)

    page = await client.get("/portal/line")

    assert page.status_code == 200
    text = page.text.replace("\n", "")
    assert address in text
    assert re.search(r'class="line-status">\s*<span class="badge active">(online|Online)', text), text
