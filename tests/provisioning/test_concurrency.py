"""Parallel activations on PostgreSQL never hand one address to two lines; two workers never do one job twice."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from app.audit.service import bind_actor
from app.db import Database
from app.kit.actor import Actor
from app.kit.errors import DomainError
from app.settings import Settings
from network.models import AddressAssignment
from provisioning import service, tasks
from provisioning.models import JobStatus, Line, ProvisioningEvent, ProvisioningJob
from tests.builders import OPERATOR, make_contract, make_member, make_plan, make_router

pytestmark = pytest.mark.postgres


async def _ordered_contracts(database: Database, settings: Settings, count: int, *, pool: str) -> tuple[int, list[int]]:
    async with database.transaction() as session:
        router = await make_router(session, ipv4_pool=pool)
        plan = await make_plan(session)
        ids = []
        for _ in range(count):
            member = await make_member(session, settings)
            contract = await make_contract(session, settings, member=member, plan=plan, active_from=None)
            ids.append(contract.id)
        return router.id, ids


async def _provision(
    database: Database, settings: Settings, contract_id: int, router_id: int, ipv4: str | None = None
) -> str:
    async with database.transaction() as session:
        bind_actor(session, OPERATOR)
        line = await service.provision_contract(
            session, actor=OPERATOR, settings=settings, contract_id=contract_id, router_id=router_id, static_ipv4=ipv4
        )
        return line.ipv4 or ""


async def test_parallel_activations_get_distinct_addresses(committed_db: Database) -> None:
    settings = committed_db.settings
    router_id, contract_ids = await _ordered_contracts(committed_db, settings, 40, pool="100.101.0.0/24")

    addresses = await asyncio.gather(*(_provision(committed_db, settings, cid, router_id) for cid in contract_ids))

    assert len(set(addresses)) == 40, sorted(addresses)
    async with committed_db.transaction() as session:
        held = (
            (
                await session.execute(
                    sa.select(AddressAssignment.value)
                    .join(Line, Line.id == AddressAssignment.line_id)
                    .where(Line.contract_id.in_(contract_ids))
                )
            )
            .scalars()
            .all()
        )
    assert len(held) == 80 and len(set(held)) == 80  # an IPv4 address and an IPv6 prefix per line


async def test_two_activations_racing_for_one_static_address_one_wins(committed_db: Database) -> None:
    settings = committed_db.settings
    router_id, (first, second) = await _ordered_contracts(committed_db, settings, 2, pool="100.101.1.0/24")

    results = await asyncio.gather(
        _provision(committed_db, settings, first, router_id, "100.101.1.9"),
        _provision(committed_db, settings, second, router_id, "100.101.1.9"),
        return_exceptions=True,
    )

    assert sorted(type(r).__name__ for r in results) == ["Conflict", "str"], results
    refused = next(r for r in results if isinstance(r, DomainError))
    assert refused.code == "address_taken"


async def test_two_workers_share_the_queue_and_do_every_job_once(committed_db: Database) -> None:
    settings = committed_db.settings.model_copy(update={"provisioning_batch": 7})
    router_id, contract_ids = await _ordered_contracts(committed_db, settings, 60, pool="100.101.2.0/24")
    await asyncio.gather(*(_provision(committed_db, settings, cid, router_id) for cid in contract_ids))
    other = Database(settings)  # a second process's connections
    async with committed_db.transaction() as session:
        queued = await session.scalar(
            sa.select(sa.func.count()).select_from(ProvisioningJob).where(ProvisioningJob.status == JobStatus.PENDING)
        )

    async def worker(database: Database, name: str) -> int:
        done = 0
        for _ in range(500):  # bounded: a few hundred jobs in batches of 7
            async with database.transaction() as session:
                bind_actor(session, Actor.system(name))
                claimed = await tasks.run_batch(session, settings=settings)
            done += claimed
            if not claimed:
                break
        return done

    try:
        counts = await asyncio.gather(worker(committed_db, "w1"), worker(other, "w2"))
    finally:
        await other.dispose()

    # Both took part and, together, took every queued job exactly once (earlier tests' jobs included).
    assert sum(counts) == queued and all(counts), (counts, queued)
    async with committed_db.transaction() as session:
        jobs = (
            await session.execute(
                sa.select(ProvisioningJob.id, ProvisioningJob.status)
                .join(Line, Line.id == ProvisioningJob.line_id)
                .where(Line.contract_id.in_(contract_ids))
            )
        ).all()
        per_job = dict(
            (
                await session.execute(
                    sa.select(ProvisioningEvent.job_id, sa.func.count())
                    .where(ProvisioningEvent.job_id.in_([j for j, _ in jobs]), ProvisioningEvent.step == "router")
                    .group_by(ProvisioningEvent.job_id)
                )
            ).all()
        )
    assert {status for _, status in jobs} == {JobStatus.DONE}
    assert len(jobs) == 60 and all(per_job.get(job_id) == 1 for job_id, _ in jobs), per_job
