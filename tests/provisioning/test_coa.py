"""CoA and Disconnect (RFC 5176) reach a NAS that really listens on UDP 3799; its ACK or NAK is recorded,
NAKs and silence are retried with backoff and finally raised to the operator."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from pyrad import packet

from app.audit.service import bind_actor
from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.db import Database
from app.kit.actor import Actor
from app.kit.time import utcnow
from app.settings import Settings
from network.models import AccessRouter
from provisioning import repository, service, tasks
from provisioning.models import EventOutcome, JobKind, JobStatus, Line, ProvisioningJob
from provisioning.radius.models import RadAcct
from tests.builders import BOARD, OPERATOR, make_contract, make_member, make_plan, make_router
from tests.provisioning.nas import NasPeer, Policy, start_nas, stop_nas

pytestmark = pytest.mark.radius
_nas_numbers = itertools.count(1)


@dataclass
class LiveLine:
    line_id: int
    contract_id: int
    username: str
    router: AccessRouter
    session_id: str


async def _drain(database: Database, settings: Settings) -> None:
    """Run the worker until nothing is due (bounded)."""
    for _ in range(20):
        async with database.transaction() as session:
            bind_actor(session, Actor.system("test-worker"))
            if not await tasks.run_batch(session, settings=settings):
                return


@pytest.fixture
async def live_line(committed_db: Database) -> LiveLine:
    """A provisioned line with an open accounting session at a NAS on its own loopback address."""
    settings = committed_db.settings
    nas_ip = f"127.0.9.{next(_nas_numbers)}"
    async with committed_db.transaction() as session:
        router = await make_router(session, nas_ip=nas_ip)
        member = await make_member(session, settings)
        contract = await make_contract(
            session, settings, member=member, plan=await make_plan(session), active_from=None
        )
        line = await service.provision_contract(
            session, actor=OPERATOR, settings=settings, contract_id=contract.id, router_id=router.id
        )
        session_id = f"sess-{line.id}"
        session.add(
            RadAcct(
                acctsessionid=session_id,
                acctuniqueid=f"uniq-{line.id}",
                username=line.username,
                nasipaddress=nas_ip,
                acctstarttime=utcnow(),
                framedipaddress=line.ipv4,
            )
        )
        result = LiveLine(line.id, contract.id, line.username, router, session_id)
    await _drain(committed_db, settings)  # the router job of the activation
    return result


async def _suspend(database: Database, line: LiveLine) -> None:
    async with database.transaction() as session:
        bind_actor(session, BOARD)
        await contracts.transition(
            session, actor=BOARD, settings=database.settings, contract_id=line.contract_id, to=ContractStatus.SUSPENDED
        )


async def _nas(line: LiveLine, policy: Policy | None = None) -> NasPeer:
    return await start_nas(line.router.radius_secret, host=line.router.nas_ip, port=line.router.coa_port, policy=policy)


async def _job(database: Database, line: LiveLine, kind: JobKind) -> ProvisioningJob:
    async with database.transaction() as session:
        query = sa.select(ProvisioningJob).where(ProvisioningJob.line_id == line.line_id, ProvisioningJob.kind == kind)
        return (await session.scalars(query.order_by(ProvisioningJob.id.desc()))).first()  # type: ignore[return-value]


async def test_suspension_sends_a_disconnect_and_records_the_ack(committed_db: Database, live_line: LiveLine) -> None:
    nas = await _nas(live_line)
    try:
        await _suspend(committed_db, live_line)
        await _drain(committed_db, committed_db.settings)
    finally:
        stop_nas(nas)

    (request,) = nas.received
    assert request.code == packet.DisconnectRequest
    assert request.had_message_authenticator and request.authentic
    assert request.attributes["User-Name"] == [live_line.username]
    assert request.attributes["Acct-Session-Id"] == [live_line.session_id]
    job = await _job(committed_db, live_line, JobKind.DISCONNECT)
    assert job.status is JobStatus.DONE and job.attempts == 0
    async with committed_db.transaction() as session:
        events = await repository.events(session, line_id=live_line.line_id)
    disconnect = [e for e in events if e.step == "disconnect"]
    assert [(e.outcome, e.job_id) for e in disconnect] == [(EventOutcome.ACK, job.id)]
    assert disconnect[0].data is not None and disconnect[0].data["sent"]["User-Name"] == live_line.username


async def test_plan_change_sends_a_coa_with_the_new_rates(committed_db: Database, live_line: LiveLine) -> None:
    settings = committed_db.settings
    nas = await _nas(live_line)
    try:
        async with committed_db.transaction() as session:
            bind_actor(session, OPERATOR)
            faster = await make_plan(session)  # 100/40 Mbit/s
            await session.execute(
                sa.text("UPDATE plans SET down_kbps = 250000, up_kbps = 50000 WHERE id = :id"), {"id": faster.id}
            )
            await contracts.change_plan(
                session, actor=OPERATOR, settings=settings, contract_id=live_line.contract_id, plan_id=faster.id
            )
        await _drain(committed_db, settings)
    finally:
        stop_nas(nas)

    coa = [r for r in nas.received if r.code == packet.CoARequest]
    assert len(coa) == 1 and coa[0].authentic
    assert coa[0].attributes["WISPr-Bandwidth-Max-Down"] == [250_000_000]
    assert coa[0].attributes["WISPr-Bandwidth-Max-Up"] == [50_000_000]
    assert (await _job(committed_db, live_line, JobKind.COA)).status is JobStatus.DONE


async def test_a_nak_for_a_vanished_session_counts_as_disconnected(committed_db: Database, live_line: LiveLine) -> None:
    nas = await _nas(live_line, policy=lambda _: ("nak", 503))
    try:
        await _suspend(committed_db, live_line)
        await _drain(committed_db, committed_db.settings)
    finally:
        stop_nas(nas)

    job = await _job(committed_db, live_line, JobKind.DISCONNECT)
    assert job.status is JobStatus.DONE
    async with committed_db.transaction() as session:
        events = await repository.events(session, line_id=live_line.line_id)
    assert [(e.outcome, e.error_cause) for e in events if e.step == "disconnect"] == [(EventOutcome.NAK, 503)]


async def test_nak_is_retried_with_backoff_then_raised_to_the_operator(
    committed_db: Database, live_line: LiveLine
) -> None:
    settings = committed_db.settings.model_copy(update={"provisioning_max_attempts": 3})
    nas = await _nas(live_line, policy=lambda _: ("nak", 506))
    try:
        await _suspend(committed_db, live_line)
        await _drain(committed_db, settings)
        job = await _job(committed_db, live_line, JobKind.DISCONNECT)
        assert job.status is JobStatus.PENDING and job.attempts == 1
        assert job.run_after > utcnow()  # backing off, not hammering the NAS
        assert job.last_error is not None and "506" in job.last_error
        for _ in range(2):  # let the backoff pass, twice
            async with committed_db.transaction() as session:
                await session.execute(
                    sa.update(ProvisioningJob).where(ProvisioningJob.id == job.id).values(run_after=utcnow())
                )
            await _drain(committed_db, settings)
    finally:
        stop_nas(nas)

    job = await _job(committed_db, live_line, JobKind.DISCONNECT)
    assert job.status is JobStatus.FAILED and job.attempts == 3
    assert len(nas.received) == 3
    async with committed_db.transaction() as session:
        events = await repository.events(session, line_id=live_line.line_id)
        failed = await repository.jobs(session, status=JobStatus.FAILED)
    assert any(e.outcome is EventOutcome.GAVE_UP and "needs an operator" in e.detail for e in events)
    assert job.id in {j.id for j in failed}


async def test_a_silent_nas_is_a_timeout_and_is_retried(committed_db: Database, live_line: LiveLine) -> None:
    settings = committed_db.settings.model_copy(update={"coa_timeout_s": 0.3, "coa_retries": 1})
    nas = await _nas(live_line, policy=lambda _: None)
    try:
        await _suspend(committed_db, live_line)
        await _drain(committed_db, settings)
    finally:
        stop_nas(nas)

    assert len(nas.received) == 2  # the first try and one retransmission
    job = await _job(committed_db, live_line, JobKind.DISCONNECT)
    assert job.status is JobStatus.PENDING and job.attempts == 1
    async with committed_db.transaction() as session:
        events = await repository.events(session, line_id=live_line.line_id)
        line = await session.get(Line, live_line.line_id)
    assert [e.outcome for e in events if e.step == "disconnect"] == [EventOutcome.TIMEOUT]
    assert line is not None and line.state.value == "walled"
