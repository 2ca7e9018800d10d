"""A contract's lifecycle drives its line: RADIUS rows in the same transaction, router and NAS jobs queued."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.kit.errors import DomainError
from app.settings import Settings
from network import ipam
from network.models import AddressAssignment, AssignmentStatus
from provisioning import repository, service
from provisioning.models import JobKind, JobStatus, Line, LineState, ProvisioningJob
from provisioning.radius import rows
from tests.builders import BOARD, OPERATOR, make_contract, make_member, make_plan, make_router


async def _jobs(session: AsyncSession, line_id: int) -> list[tuple[JobKind, JobStatus]]:
    query = sa.select(ProvisioningJob.kind, ProvisioningJob.status).where(ProvisioningJob.line_id == line_id)
    return sorted((kind, status) for kind, status in (await session.execute(query)).all())


async def _ordered(db_session: AsyncSession, settings: Settings, **plan_args: int):  # type: ignore[no-untyped-def]
    member = await make_member(db_session, settings)
    plan = await make_plan(db_session, **plan_args)
    return await make_contract(db_session, settings, member=member, plan=plan, active_from=None)


async def test_provisioning_an_ordered_contract_writes_radius_rows_and_queues_the_router(
    db_session: AsyncSession, settings: Settings
) -> None:
    router = await make_router(db_session)
    contract = await _ordered(db_session, settings)

    line = await service.provision_contract(
        db_session, actor=OPERATOR, settings=settings, contract_id=contract.id, router_id=router.id
    )

    assert line.state is LineState.ACTIVE
    assert line.ipv4 is not None and line.ipv4.startswith("100.")
    assert line.ipv6_prefix is not None and line.ipv6_prefix.endswith("/56")
    assert len(line.password) == 20 and line.password.isalnum()
    users = await rows.read_users(db_session, [line.username])
    assert users[line.username].check == (rows.Item("Cleartext-Password", ":=", line.password),)
    assert rows.Item("Framed-IP-Address", ":=", line.ipv4) in users[line.username].reply
    assert rows.Item("Delegated-IPv6-Prefix", ":=", line.ipv6_prefix) in users[line.username].reply
    group = rows.plan_group(contract.plan.code)
    assert users[line.username].groups == (group,)
    assert (await rows.read_groups(db_session))[group] == (
        rows.Item("WISPr-Bandwidth-Max-Down", ":=", "100000000"),
        rows.Item("WISPr-Bandwidth-Max-Up", ":=", "40000000"),
    )
    assert (await rows.read_nas(db_session))[router.nas_ip].secret == router.radius_secret
    assert await _jobs(db_session, line.id) == [(JobKind.ROUTER_SYNC, JobStatus.PENDING)]
    refreshed = await contracts.get_contract(db_session, actor=BOARD, contract_id=contract.id)
    assert refreshed.status is ContractStatus.ACTIVE


async def test_the_line_password_appears_in_no_audit_diff(db_session: AsyncSession, settings: Settings) -> None:
    router = await make_router(db_session)
    contract = await _ordered(db_session, settings)
    line = await service.provision_contract(
        db_session, actor=OPERATOR, settings=settings, contract_id=contract.id, router_id=router.id
    )

    audit = (await db_session.execute(sa.select(AuditEvent.entity_type, AuditEvent.before, AuditEvent.after))).all()

    assert any(entity == "lines" for entity, _, _ in audit), "the line itself is audited"
    assert all(line.password not in str(before) + str(after) for _, before, after in audit)


async def test_suspension_removes_the_login_and_queues_disconnect_and_walled_garden(
    db_session: AsyncSession, settings: Settings
) -> None:
    router = await make_router(db_session)
    contract = await _ordered(db_session, settings)
    line = await service.provision_contract(
        db_session, actor=OPERATOR, settings=settings, contract_id=contract.id, router_id=router.id
    )
    await db_session.execute(sa.update(ProvisioningJob).values(status=JobStatus.DONE))

    await contracts.transition(
        db_session, actor=BOARD, settings=settings, contract_id=contract.id, to=ContractStatus.SUSPENDED
    )

    assert line.state is LineState.WALLED
    assert await rows.read_users(db_session, [line.username]) == {}
    pending = [kind for kind, status in await _jobs(db_session, line.id) if status is JobStatus.PENDING]
    assert sorted(pending) == [JobKind.DISCONNECT, JobKind.ROUTER_SYNC]

    await contracts.transition(
        db_session,
        actor=BOARD,
        settings=settings,
        contract_id=contract.id,
        to=ContractStatus.ACTIVE,
        from_status=ContractStatus.SUSPENDED,
    )
    assert line.state is LineState.ACTIVE
    assert line.username in await rows.read_users(db_session, [line.username])


async def test_termination_leaves_nothing_in_radius_and_quarantines_the_addresses(
    db_session: AsyncSession, settings: Settings
) -> None:
    router = await make_router(db_session)
    contract = await _ordered(db_session, settings)
    line = await service.provision_contract(
        db_session, actor=OPERATOR, settings=settings, contract_id=contract.id, router_id=router.id
    )
    address = line.ipv4

    await contracts.transition(
        db_session, actor=BOARD, settings=settings, contract_id=contract.id, to=ContractStatus.TERMINATED
    )

    assert line.state is LineState.REMOVED
    assert await rows.read_users(db_session, [line.username]) == {}
    held = (await db_session.scalars(sa.select(AddressAssignment).where(AddressAssignment.value == address))).one()
    assert held.status is AssignmentStatus.QUARANTINED and held.line_id is None
    assert await ipam.held_by(db_session, line_ids=[line.id]) == {}
    # The next line on the router does not get the quarantined address.
    other = await _ordered(db_session, settings)
    second = await service.provision_contract(
        db_session, actor=OPERATOR, settings=settings, contract_id=other.id, router_id=router.id
    )
    assert second.ipv4 != address


async def test_plan_change_on_a_running_line_queues_a_coa_and_moves_the_radius_group(
    db_session: AsyncSession, settings: Settings
) -> None:
    router = await make_router(db_session)
    contract = await _ordered(db_session, settings)
    line = await service.provision_contract(
        db_session, actor=OPERATOR, settings=settings, contract_id=contract.id, router_id=router.id
    )
    faster = await make_plan(db_session)

    await contracts.change_plan(
        db_session, actor=OPERATOR, settings=settings, contract_id=contract.id, plan_id=faster.id
    )

    users = await rows.read_users(db_session, [line.username])
    assert users[line.username].groups == (rows.plan_group(faster.code),)
    pending = [kind for kind, status in await _jobs(db_session, line.id) if status is JobStatus.PENDING]
    assert JobKind.COA in pending


async def test_activation_without_the_wizard_places_the_line_on_the_default_router(
    db_session: AsyncSession, settings: Settings
) -> None:
    router = await make_router(db_session)
    member = await make_member(db_session, settings)
    contract = await make_contract(db_session, settings, member=member)

    line = await repository.line_by_contract(db_session, contract.id)

    assert line is not None and line.router_id == router.id and line.state is LineState.ACTIVE


async def test_static_address_must_be_free_and_inside_the_pool(db_session: AsyncSession, settings: Settings) -> None:
    router = await make_router(db_session, ipv4_pool="100.99.7.0/24")
    first = await _ordered(db_session, settings)
    line = await service.provision_contract(
        db_session,
        actor=OPERATOR,
        settings=settings,
        contract_id=first.id,
        router_id=router.id,
        static_ipv4="100.99.7.77",
    )
    assert line.ipv4 == "100.99.7.77"

    second = await _ordered(db_session, settings)
    for wanted, code in (("100.99.7.77", "address_taken"), ("100.99.7.1", "invalid"), ("10.0.0.5", "invalid")):
        with pytest.raises(DomainError) as refused:
            async with db_session.begin_nested():
                await service.provision_contract(
                    db_session,
                    actor=OPERATOR,
                    settings=settings,
                    contract_id=second.id,
                    router_id=router.id,
                    static_ipv4=wanted,
                )
        assert refused.value.code == code, (wanted, refused.value)
    assert (await db_session.scalars(sa.select(Line).where(Line.contract_id == second.id))).first() is None
