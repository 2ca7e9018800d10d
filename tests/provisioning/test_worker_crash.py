"""The worker against a real router namespace: killed halfway through 200 activations and started
again, every line ends up provisioned once; reconcile finds an interface deleted by hand and repairs it;
a line the router refuses is retried while the rest of its batch is done."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from app.audit.service import bind_actor
from app.db import Database
from app.kit.actor import Actor
from network import service as network
from network.models import AddressAssignment, AssignmentStatus, PoolFamily
from network.router import LinuxRouter
from network.schemas import PoolCreate, RouterCreate
from provisioning import reconcile, service, tasks
from provisioning.models import EventOutcome, JobKind, JobStatus, Line, PortKind, ProvisioningEvent, ProvisioningJob
from tests.builders import OPERATOR, make_contract, make_member, make_plan
from tests.lab import PORTAL, ROOT, Lab, lab, sh

pytestmark = [pytest.mark.router, pytest.mark.postgres]
__all__ = ["lab"]
COUNT = 200


async def _router_with_lines(database: Database, lab: Lab, count: int, pool: str) -> tuple[int, list[int]]:
    settings = database.settings
    async with database.transaction() as session:
        bind_actor(session, OPERATOR)
        router = await network.create_router(
            session,
            actor=OPERATOR,
            data=RouterCreate(
                name=f"bng-{lab.router}",
                netns=lab.router,
                nas_ip=f"127.3.{count % 250}.{len(pool) % 250}",
                portal_ipv4=str(PORTAL),
            ),
        )
        await network.create_pool(
            session, actor=OPERATOR, router_id=router.id, data=PoolCreate(family=PoolFamily.IPV4, cidr=pool)
        )
        plan = await make_plan(session)
        contract_ids = []
        for _ in range(count):
            member = await make_member(session, settings)
            contract = await make_contract(session, settings, member=member, plan=plan, active_from=None)
            contract_ids.append(contract.id)
        line_ids = []
        for contract_id in contract_ids:
            line = await service.provision_contract(
                session, actor=OPERATOR, settings=settings, contract_id=contract_id, router_id=router.id
            )
            line_ids.append(line.id)
        return router.id, line_ids


async def _done(database: Database, line_ids: list[int]) -> int:
    async with database.transaction() as session:
        return int(
            await session.scalar(
                sa.select(sa.func.count())
                .select_from(ProvisioningJob)
                .where(ProvisioningJob.line_id.in_(line_ids), ProvisioningJob.status == JobStatus.DONE)
            )
            or 0
        )


async def _until_released(database: Database, line_ids: list[int]) -> None:
    """Wait until PostgreSQL has ended the killed worker's transaction and its job locks are gone."""
    query = sa.text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
        " WHERE c.relname = 'provisioning_jobs' AND l.pid <> pg_backend_pid()"
    )
    for _ in range(200):
        async with database.transaction() as session:
            if not await session.scalar(query):
                return
        await asyncio.sleep(0.05)


def _worker(database_url: str, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OPENTELECOM_DATABASE_URL": database_url,
        "OPENTELECOM_ENVIRONMENT": "test",
        "OPENTELECOM_PROVISIONING_BATCH": "10",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "provision", "work", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def test_a_worker_killed_mid_batch_leaves_nothing_done_twice(
    committed_db: Database, committed_db_url: str, lab: Lab
) -> None:
    _, line_ids = await _router_with_lines(committed_db, lab, COUNT, "100.90.0.0/23")

    first = _worker(committed_db_url, "--name", "doomed")
    killed_at = 0
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            killed_at = await _done(committed_db, line_ids)
            if killed_at > 0:
                first.send_signal(signal.SIGKILL)  # no clean shutdown: the batch in hand is cut off
                break
            await asyncio.sleep(0.01)
    finally:
        first.kill()
        first.wait(timeout=10)
    await _until_released(committed_db, line_ids)
    after_kill = await _done(committed_db, line_ids)
    assert 0 < after_kill < COUNT, f"the worker should have been killed halfway ({after_kill} of {COUNT} done)"

    second = _worker(committed_db_url, "--once", "--name", "survivor")
    _, errors = second.communicate(timeout=120)
    assert second.returncode == 0, errors.decode()[-2000:]

    async with committed_db.transaction() as session:
        jobs = (
            await session.execute(
                sa.select(ProvisioningJob.id, ProvisioningJob.status).where(
                    ProvisioningJob.line_id.in_(line_ids), ProvisioningJob.kind == JobKind.ROUTER_SYNC
                )
            )
        ).all()
        events = dict(
            (
                await session.execute(
                    sa.select(ProvisioningEvent.job_id, sa.func.count())
                    .where(ProvisioningEvent.job_id.in_([j for j, _ in jobs]), ProvisioningEvent.step == "router")
                    .group_by(ProvisioningEvent.job_id)
                )
            ).all()
        )
        addresses = (
            await session.scalars(
                sa.select(AddressAssignment.value).where(
                    AddressAssignment.line_id.in_(line_ids), AddressAssignment.status == AssignmentStatus.ASSIGNED
                )
            )
        ).all()
        ifnames = set((await session.scalars(sa.select(Line.ifname).where(Line.id.in_(line_ids)))).all())
    assert len(jobs) == COUNT and {status for _, status in jobs} == {JobStatus.DONE}, errors.decode()[-3000:]
    assert all(events.get(job_id) == 1 for job_id, _ in jobs), "every job is recorded done exactly once"
    assert len(addresses) == COUNT == len(set(addresses))
    async with LinuxRouter(lab.router, portal=PORTAL) as router:
        on_router = await router.read()
    assert set(on_router) == ifnames, "exactly the 200 lines, none missing, none twice"
    # A line is its device otlX and a class with classifiers on one of the shared upstream shapers ot-upN
    # (read() shows lines only): a crash half-way through a batch must not leave a class without its line.
    devices = {row.split(": ")[1].split("@")[0] for row in sh("ip", "-n", lab.router, "-o", "link").stdout.splitlines()}
    assert {name for name in devices if name.startswith(("otl", "otu"))} == ifnames
    classes = [
        row.split()[2]
        for shaper in sorted(name for name in devices if name.startswith("ot-up"))
        for row in sh("tc", "-n", lab.router, "class", "show", "dev", shaper).stdout.splitlines()
    ]
    assert len([minor for minor in classes if minor != "1:ffff"]) == COUNT, "one class per line, none left over"
    async with committed_db.transaction() as session:
        bind_actor(session, OPERATOR)
        report = await reconcile.reconcile(session, actor=OPERATOR, dry_run=True, targets=["router"])
    assert not [d for d in report.drift if d.subject.startswith(f"bng-{lab.router}/")], report.drift


async def test_reconcile_repairs_an_interface_deleted_by_hand(committed_db: Database, lab: Lab) -> None:
    _, line_ids = await _router_with_lines(committed_db, lab, 3, "100.91.0.0/28")
    async with committed_db.transaction() as session:
        bind_actor(session, OPERATOR)
        await reconcile.reconcile(session, actor=OPERATOR, dry_run=False, targets=["router"])
        victim = await session.get(Line, line_ids[1])
        assert victim is not None and victim.ifname is not None
        ifname = victim.ifname
    sh("ip", "-n", lab.router, "link", "del", ifname)

    async with committed_db.transaction() as session:
        bind_actor(session, OPERATOR)
        found = await reconcile.reconcile(session, actor=OPERATOR, dry_run=True, targets=["router"])
        mine = [d for d in found.drift if d.subject.startswith(f"bng-{lab.router}/")]
        assert [(d.subject, d.problem, d.line_id) for d in mine] == [
            (f"bng-{lab.router}/{ifname}", "missing interface", line_ids[1])
        ]
        repaired = await reconcile.reconcile(session, actor=OPERATOR, dry_run=False, targets=["router"])
        assert [d.repaired for d in repaired.drift if d.subject.startswith(f"bng-{lab.router}/")] == [True]
        again = await reconcile.reconcile(session, actor=OPERATOR, dry_run=True, targets=["router"])
    assert not [d for d in again.drift if d.subject.startswith(f"bng-{lab.router}/")]
    assert ifname in sh("ip", "-n", lab.router, "link").stdout


async def test_a_line_the_router_refuses_is_retried_while_the_rest_of_its_batch_is_done(
    committed_db: Database, lab: Lab
) -> None:
    _, served = await _router_with_lines(committed_db, lab, 2, "100.92.0.0/28")
    async with committed_db.transaction() as session:
        bind_actor(session, OPERATOR)
        router_id = (await session.scalars(sa.select(Line.router_id).where(Line.id == served[0]))).one()
        member = await make_member(session, committed_db.settings)
        contract = await make_contract(
            session, committed_db.settings, member=member, plan=await make_plan(session), active_from=None
        )
        # The router holds no device trunk9, so it refuses this line (and only this one).
        refused = await service.provision_contract(
            session,
            actor=OPERATOR,
            settings=committed_db.settings,
            contract_id=contract.id,
            router_id=router_id,
            port=service.Port(kind=PortKind.VLAN, peer="trunk9", tag=100),
        )
        refused_id, refused_ifname = refused.id, refused.ifname

    async with committed_db.transaction() as session:
        bind_actor(session, Actor.system("test-worker"))
        await tasks.run_batch(session, settings=committed_db.settings)

    async with committed_db.transaction() as session:
        jobs = {
            job.line_id: job
            for job in await session.scalars(
                sa.select(ProvisioningJob).where(ProvisioningJob.line_id.in_([*served, refused_id]))
            )
        }
        errors = (
            await session.scalars(
                sa.select(ProvisioningEvent.detail).where(
                    ProvisioningEvent.line_id == refused_id, ProvisioningEvent.outcome == EventOutcome.ERROR
                )
            )
        ).all()
        ifnames = set((await session.scalars(sa.select(Line.ifname).where(Line.id.in_(served)))).all())
    assert all(jobs[line_id].status is JobStatus.DONE for line_id in served)
    retry = jobs[refused_id]
    assert (retry.status, retry.attempts) == (JobStatus.PENDING, 1), "retried later, with backoff"
    assert retry.last_error is not None and "trunk9" in retry.last_error
    assert len(errors) == 1 and "trunk9" in errors[0]
    async with LinuxRouter(lab.router, portal=PORTAL) as router:
        on_router = set(await router.read())
    assert on_router == ifnames and refused_ifname not in on_router
