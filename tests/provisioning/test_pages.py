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
from tests.builders import OPERATOR, make_contract, make_member, make_number_block, make_plan, make_router, make_user
from tests.web.test_pages import csrf_of, web_login
from voip import service as voip


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


def _phone_status(text: str, extension: str) -> str:
    """The registration badge of the phone line ``extension`` on a page."""
    block = re.search(rf'id="phone-{extension}">(.*?)</dl>', text, re.S)
    assert block, f"no phone line {extension} on the page"
    badge = re.search(r'class="phone-registration"><span class="badge [a-z]+">([^<]+)</span>', block.group(1))
    assert badge, block.group(1)
    return badge.group(1)


async def test_operator_line_page_shows_the_registered_phone_with_device_and_round_trip(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await make_router(db_session)
    await make_number_block(db_session, first_number="+493319201000", last_number="+493319201009")
    member = await make_member(db_session, settings)
    contract = await make_contract(
        db_session, settings, member=member, plan=await make_plan(db_session, includes_phone=True)
    )
    line = await repository.line_by_contract(db_session, contract.id)
    phone = await voip.phone_line_for_contract(db_session, actor=OPERATOR, contract_id=contract.id)
    assert line is not None and phone is not None
    await voip.record_registration(
        db_session, extension=phone.extension, registered=True, user_agent="Yealink SIP-T46U", round_trip_ms=23
    )
    operator = await make_user(db_session, role=Role.OPERATOR)
    await web_login(client, operator.email)

    page = await client.get(f"/console/lines/{line.id}")

    assert page.status_code == 200
    assert _phone_status(page.text, phone.extension) == "angemeldet"
    assert "+493319201000" in page.text and "Yealink SIP-T46U" in page.text and "23 ms" in page.text


async def test_member_sees_their_phone_unknown_until_asterisk_reports_then_not_registered(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await make_number_block(db_session, first_number="+493319211000", last_number="+493319211009")
    member = await make_member(db_session, settings)
    contract = await make_contract(
        db_session, settings, member=member, plan=await make_plan(db_session, includes_phone=True)
    )
    phone = await voip.phone_line_for_contract(db_session, actor=OPERATOR, contract_id=contract.id)
    assert phone is not None
    other = await make_member(db_session, settings)
    other_contract = await make_contract(
        db_session, settings, member=other, plan=await make_plan(db_session, includes_phone=True)
    )
    others_phone = await voip.phone_line_for_contract(db_session, actor=OPERATOR, contract_id=other_contract.id)
    assert others_phone is not None
    user = await make_user(db_session, role=Role.MEMBER, member=member)
    await web_login(client, user.email)

    unknown = await client.get("/portal/line")
    await voip.record_registration(db_session, extension=phone.extension, registered=False)
    gone = await client.get("/portal/line")

    assert unknown.status_code == gone.status_code == 200
    assert _phone_status(unknown.text, phone.extension) == "Status unbekannt"
    assert "+493319211000" in unknown.text and others_phone.extension not in unknown.text
    assert _phone_status(gone.text, phone.extension) == "nicht angemeldet"
