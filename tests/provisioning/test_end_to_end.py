"""A line's whole life against the real servers: FreeRADIUS on our tables, a router namespace with a
customer premises behind it, a NAS taking Disconnect-Requests, and the worker in between."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address

import pytest
import sqlalchemy as sa
from pyrad import packet
from pyrad.client import Client

from app.audit.service import bind_actor
from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.db import Database
from app.kit.actor import Actor
from network.models import AccessRouter, AddressAssignment, AssignmentStatus
from network.router import LinuxRouter
from provisioning import repository, service, tasks
from provisioning.models import EventOutcome, Line
from provisioning.radius.coa import dictionary
from provisioning.radius.models import RadCheck, RadReply
from tests.builders import BOARD, OPERATOR, make_contract, make_member, make_plan
from tests.lab import PORTAL, SERVER, Lab, lab
from tests.provisioning.conftest import FreeRadius
from tests.provisioning.nas import start_nas, stop_nas

pytestmark = [pytest.mark.radius, pytest.mark.router]
__all__ = ["lab"]


def authenticate(radius: FreeRadius, username: str, password: str) -> packet.Packet:
    client = Client(server=radius.host, authport=radius.auth_port, secret=radius.secret.encode(), dict=dictionary())
    client.timeout, client.retries = 2, 2
    request = client.CreateAuthPacket(code=packet.AccessRequest, User_Name=username, NAS_IP_Address="127.0.0.1")
    request["User-Password"] = request.PwCrypt(password)
    request.add_message_authenticator()
    return client.SendPacket(request)


def account(radius: FreeRadius, username: str, status: str, session_id: str, ipv4: str, **extra: int) -> None:
    client = Client(server=radius.host, acctport=radius.acct_port, secret=radius.secret.encode(), dict=dictionary())
    client.timeout, client.retries = 2, 2
    request = client.CreateAcctPacket(
        User_Name=username, NAS_IP_Address="127.0.0.1", Acct_Session_Id=session_id, Framed_IP_Address=ipv4
    )
    request["Acct-Status-Type"] = status
    for key, value in extra.items():
        request[key.replace("_", "-")] = value
    reply = client.SendPacket(request)
    assert reply.code == packet.AccountingResponse


async def drain(database: Database) -> None:
    for _ in range(20):
        async with database.transaction() as session:
            bind_actor(session, Actor.system("test-worker"))
            if not await tasks.run_batch(session, settings=database.settings):
                return


async def step(database: Database, contract_id: int, to: ContractStatus, source: ContractStatus | None = None) -> None:
    async with database.transaction() as session:
        bind_actor(session, BOARD)
        await contracts.transition(
            session, actor=BOARD, settings=database.settings, contract_id=contract_id, to=to, from_status=source
        )


async def test_activate_suspend_resume_terminate_against_the_real_servers(
    committed_db: Database, freeradius_server: FreeRadius, lab: Lab
) -> None:
    radius = freeradius_server
    settings = committed_db.settings
    async with committed_db.transaction() as session:
        await session.execute(
            sa.update(AccessRouter).where(AccessRouter.id == radius.router_id).values(netns=lab.router)
        )
        bind_actor(session, OPERATOR)
        plan = await make_plan(session)
        await session.execute(
            sa.text("UPDATE plans SET down_kbps = 20000, up_kbps = 5000 WHERE id = :id"), {"id": plan.id}
        )
        member = await make_member(session, settings)
        contract = await make_contract(session, settings, member=member, plan=plan, active_from=None)
        line = await service.provision_contract(
            session,
            actor=OPERATOR,
            settings=settings,
            contract_id=contract.id,
            router_id=radius.router_id,
            port=service.Port(peer=lab.cpe),
        )
        username, password, ipv4, prefix, line_id = line.username, line.password, line.ipv4, line.ipv6_prefix, line.id
    assert ipv4 is not None and prefix is not None
    await drain(committed_db)

    # Active: FreeRADIUS accepts with the line's address, prefix and the plan's rates; packets flow.
    accept = await asyncio.to_thread(authenticate, radius, username, password)
    assert accept.code == packet.AccessAccept
    assert accept["Framed-IP-Address"] == [ipv4]
    assert str(accept["Delegated-IPv6-Prefix"][0]) == prefix
    assert accept["WISPr-Bandwidth-Max-Down"] == [20_000_000] and accept["WISPr-Bandwidth-Max-Up"] == [5_000_000]
    wrong = await asyncio.to_thread(authenticate, radius, username, password + "x")
    assert wrong.code == packet.AccessReject
    lab.configure_cpe(IPv4Address(ipv4))
    assert lab.ping(SERVER)
    down = lab.goodput_kbps(sender_ns=lab.core, receiver_ns=lab.cpe, receiver_ip=ipv4, seconds=2.0)
    assert 16_000 <= down <= 24_000, f"{down:.0f} kbit/s on a 20,000 kbit/s plan"

    # The NAS reports the session; the operator sees it online.
    await asyncio.to_thread(account, radius, username, "Start", "e2e-1", ipv4)
    await asyncio.to_thread(
        account, radius, username, "Interim-Update", "e2e-1", ipv4, Acct_Input_Octets=1000, Acct_Output_Octets=5000
    )
    async with committed_db.transaction() as session:
        live = await service.line_session(session, username=username)
    assert live is not None and live.online and live.output_octets == 5000

    # Suspended: Disconnect-ACK recorded, the session stops, logins are refused, only the portal answers.
    nas = await start_nas(radius.secret, host="127.0.0.1", port=3799)
    try:
        await step(committed_db, contract.id, ContractStatus.SUSPENDED)
        await drain(committed_db)
    finally:
        stop_nas(nas)
    assert [r.attributes["Acct-Session-Id"] for r in nas.received] == [["e2e-1"]]
    await asyncio.to_thread(
        account, radius, username, "Stop", "e2e-1", ipv4, Acct_Terminate_Cause=6
    )  # what the NAS does
    async with committed_db.transaction() as session:
        events = await repository.events(session, line_id=line_id)
        live = await service.line_session(session, username=username)
    assert any(e.step == "disconnect" and e.outcome is EventOutcome.ACK for e in events)
    assert live is not None and not live.online
    refused = await asyncio.to_thread(authenticate, radius, username, password)
    assert refused.code == packet.AccessReject
    assert not lab.ping(SERVER) and lab.ping(str(PORTAL))

    # Resumed: everything back.
    await step(committed_db, contract.id, ContractStatus.ACTIVE, ContractStatus.SUSPENDED)
    await drain(committed_db)
    assert (await asyncio.to_thread(authenticate, radius, username, password)).code == packet.AccessAccept
    assert lab.ping(SERVER)

    # Terminated: nothing left in radcheck/radreply, on the router or in the pools.
    await step(committed_db, contract.id, ContractStatus.TERMINATED)
    await drain(committed_db)
    async with committed_db.transaction() as session:
        rows = await session.scalar(
            sa.select(sa.func.count()).select_from(RadCheck).where(RadCheck.username == username)
        ) + await session.scalar(sa.select(sa.func.count()).select_from(RadReply).where(RadReply.username == username))
        held = await session.scalar(
            sa.select(sa.func.count())
            .select_from(AddressAssignment)
            .where(AddressAssignment.line_id == line_id, AddressAssignment.status == AssignmentStatus.ASSIGNED)
        )
        line_row = await session.get(Line, line_id)
    assert rows == 0 and held == 0
    assert line_row is not None and line_row.state.value == "removed"
    async with LinuxRouter(lab.router, portal=PORTAL) as router:
        assert await router.read() == {}
    assert (await asyncio.to_thread(authenticate, radius, username, password)).code == packet.AccessReject
