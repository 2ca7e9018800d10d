"""The poller against a real snmpd in a namespace of the test's own, through the database: the stored
figures equal what Debian's snmpbulkwalk reads, a port taken down turns its line down with an incident
the member's page tells about, and bringing it up closes the incident with the right duration."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from app.audit.service import bind_actor
from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.db import Database
from app.kit.actor import Role
from app.kit.time import utcnow
from app.main import create_app
from network.health import service
from network.health.models import Device, DeviceInterface, DeviceStatus, HealthState, Incident, IncidentLine
from network.health.schemas import Credentials, DeviceCreate, LinePortSet
from network.health.tasks import Poller
from network.snmp import oids
from provisioning import service as provisioning
from provisioning import tasks as provisioning_tasks
from tests.builders import BOARD, OPERATOR, make_contract, make_member, make_plan, make_router, make_user
from tests.network.snmp.agents import NamespaceAgent, namespace_agent
from tests.web.test_pages import web_login

pytestmark = [pytest.mark.snmp, pytest.mark.postgres]

# snmpd refreshes its interface table at most every few seconds (measured 2.6 s).
SNMPD_CACHE_S = 3.5


@pytest.fixture
def ns_agent(tmp_path: Path) -> Iterator[NamespaceAgent]:
    with namespace_agent(tmp_path, pairs=2) as agent:
        yield agent


@dataclass
class Watched:
    device_id: int
    line_id: int
    contract_id: int
    if_index: int
    far_end_if_index: int
    member_email: str


def _column(walk: dict[str, str], oid: str) -> dict[int, str]:
    return {int(key.rsplit(".", 1)[1]): value for key, value in walk.items() if key.startswith(oid + ".")}


async def _watch(database: Database, agent: NamespaceAgent, port: str, far_end: str) -> Watched:
    names = {name: index for index, name in _column(agent.walk(oids.IF_NAME), oids.IF_NAME).items()}
    if_index = names[port]
    async with database.transaction() as session:
        router = await make_router(session)
        member = await make_member(session, database.settings)
        contract = await make_contract(
            session, database.settings, member=member, plan=await make_plan(session), active_from=None
        )
        bind_actor(session, OPERATOR)
        line = await provisioning.provision_contract(
            session, actor=OPERATOR, settings=database.settings, contract_id=contract.id, router_id=router.id
        )
        device = await service.create_device(
            session,
            actor=OPERATOR,
            settings=database.settings,
            data=DeviceCreate(
                name=f"sw-{agent.netns}",
                kind="switch",
                host=agent.address,
                poll_interval_s=60,
                timeout_ms=1000,
                credentials=Credentials(version="v2c", community=agent.agent.community),
            ),
        )
        await service.set_line_port(
            session, actor=OPERATOR, device_id=device.id, data=LinePortSet(line_id=line.id, if_index=if_index)
        )
        user = await make_user(session, role=Role.MEMBER, member=member)
        return Watched(device.id, line.id, contract.id, if_index, names[far_end], user.email)


async def _forget(database: Database, watched: Watched) -> None:
    async with database.transaction() as session:
        bind_actor(session, BOARD)
        await session.execute(sa.delete(Device).where(Device.id == watched.device_id))
        await contracts.transition(
            session,
            actor=BOARD,
            settings=database.settings,
            contract_id=watched.contract_id,
            to=ContractStatus.TERMINATED,
        )
    for _ in range(10):
        async with database.transaction() as session:
            if not await provisioning_tasks.run_batch(session, settings=database.settings):
                break


async def _poll_now(database: Database, poller: Poller, watched: Watched) -> None:
    """Make the device due and run one round that polls it."""
    async with database.transaction() as session:
        await session.execute(
            sa.update(DeviceStatus).where(DeviceStatus.device_id == watched.device_id).values(next_poll_at=utcnow())
        )
    assert await poller.round() >= 1


async def _member_page(database: Database, email: str) -> str:
    application = create_app(database.settings, database=database, run_loops=False)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await web_login(client, email)
            page = await client.get("/portal/line")
    assert page.status_code == 200, page.text
    return re.sub(r"\s+", " ", page.text)


async def test_stored_figures_equal_snmpbulkwalk_and_a_port_taken_down_is_an_incident_the_member_sees(
    committed_db: Database, ns_agent: NamespaceAgent
) -> None:
    # The far end of the line's veth is switched off, as a CPE pulled from the wall: the line's port loses
    # its carrier (operationally down, administratively up).
    watched = await _watch(committed_db, ns_agent, "port2", far_end="port1")
    poller = Poller(committed_db, name="test-poller")
    poller.settings = committed_db.settings.model_copy(update={"health_incident_after_s": 0})
    try:
        before = ns_agent.walk("1.3.6.1.2.1.31.1.1.1")
        await _poll_now(committed_db, poller, watched)
        after = ns_agent.walk("1.3.6.1.2.1.31.1.1.1")
        status_walk = ns_agent.walk(oids.IF_OPER_STATUS)

        async with committed_db.transaction() as session:
            stored = {
                row.if_index: row
                for row in await session.scalars(
                    sa.select(DeviceInterface).where(DeviceInterface.device_id == watched.device_id)
                )
            }
            health = (await service.line_health(session, line_ids=[watched.line_id]))[watched.line_id]
        names = _column(after, oids.IF_NAME)
        assert set(stored) == set(names)
        for index, row in stored.items():
            assert row.name == names[index]
            assert row.oper_up == (_column(status_walk, oids.IF_OPER_STATUS)[index] in ("1", "up"))
            for column, value in ((oids.IF_HC_IN_OCTETS, row.in_octets), (oids.IF_HC_OUT_OCTETS, row.out_octets)):
                low, high = int(_column(before, column)[index]), int(_column(after, column)[index])
                assert value is not None and low <= int(value) <= high, (index, column, low, value, high)
        assert (health.state, health.device_name, health.interface_name) == (
            HealthState.OK,
            f"sw-{ns_agent.netns}",
            "port2",
        )
        assert "line OK" in await _member_page(
            committed_db, watched.member_email
        ) or "Leitung in Ordnung" in await _member_page(committed_db, watched.member_email)

        ns_agent.set_link("port1", up=False)
        await _sleep_for_snmpd()
        await _poll_now(committed_db, poller, watched)
        async with committed_db.transaction() as session:
            health = (await service.line_health(session, line_ids=[watched.line_id]))[watched.line_id]
            incidents = list(await session.scalars(sa.select(Incident).where(Incident.device_id == watched.device_id)))
            # Both ends are down now: port1 switched off (administratively), port2 without carrier.
            assert sorted((i.if_index, i.kind.value) for i in incidents) == sorted(
                [(watched.if_index, "interface_down"), (watched.far_end_if_index, "interface_down")]
            )
            incident = next(i for i in incidents if i.if_index == watched.if_index)
            hit = list(
                await session.scalars(sa.select(IncidentLine.line_id).where(IncidentLine.incident_id == incident.id))
            )
            down_polled = (await session.get(DeviceStatus, watched.device_id)).last_polled_at  # type: ignore[union-attr]
        assert health.state is HealthState.DOWN
        assert [i.id for i in health.open_incidents] == [incident.id]
        assert (incident.if_index, incident.ended_at, hit) == (watched.if_index, None, [watched.line_id])
        assert incident.started_at == down_polled
        page = await _member_page(committed_db, watched.member_email)
        assert "Leitung ausgefallen" in page
        assert f"Meldung Nr. {incident.id}" in page

        ns_agent.set_link("port1", up=True)
        await _sleep_for_snmpd()
        await _poll_now(committed_db, poller, watched)
        async with committed_db.transaction() as session:
            closed = await session.get(Incident, incident.id)
            up_polled = (await session.get(DeviceStatus, watched.device_id)).last_polled_at  # type: ignore[union-attr]
            health = (await service.line_health(session, line_ids=[watched.line_id]))[watched.line_id]
        assert closed is not None and closed.ended_at == up_polled
        assert closed.ended_at - closed.started_at == up_polled - down_polled  # type: ignore[operator]
        assert (closed.ended_at - closed.started_at).total_seconds() >= SNMPD_CACHE_S  # type: ignore[operator]
        assert (health.state, health.open_incidents) == (HealthState.OK, ())
        assert "Meldung Nr." not in await _member_page(committed_db, watched.member_email)
    finally:
        await _forget(committed_db, watched)


async def _sleep_for_snmpd() -> None:
    import asyncio

    await asyncio.sleep(SNMPD_CACHE_S)
