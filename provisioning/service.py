"""Provisioning: a contract's change becomes RADIUS rows (same transaction) and outbox jobs (after commit).

validate -> save -> notify: the RADIUS rows FreeRADIUS reads are written in the transaction that changes
the contract, so a suspended line is refused from the moment the suspension commits. Work outside the
database (the router's netlink configuration, CoA and Disconnect to the NAS) is queued as jobs in the
same transaction; the worker (``provisioning.tasks``) carries them out after commit, with retries.
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.kit.actor import Actor, Role
from app.kit.errors import Conflict, NotFound
from app.kit.events import ContractChanged, subscribe
from app.kit.time import utcnow
from app.settings import Settings
from network import ipam
from network import service as network
from network.models import AccessRouter, PoolFamily
from provisioning import repository
from provisioning.models import (
    EventOutcome,
    JobKind,
    JobStatus,
    Line,
    LineState,
    PortKind,
    ProvisioningEvent,
    ProvisioningJob,
)
from provisioning.radius import rows

log = logging.getLogger("opentelecom.provisioning")

PASSWORD_ALPHABET = string.ascii_letters + string.digits


def new_line_password() -> str:
    """20 random letters and digits (~119 bits): strong, and typeable into a router's PPPoE form."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(20))


@dataclass(frozen=True, slots=True)
class Port:
    """How a new line reaches its router (see ``PortKind``)."""

    kind: PortKind = PortKind.VETH
    peer: str | None = None
    tag: int | None = None
    remote: str | None = None


def state_for(contract_status: str) -> LineState:
    """The line state a contract status asks for."""
    return {
        ContractStatus.ACTIVE.value: LineState.ACTIVE,
        ContractStatus.SUSPENDED.value: LineState.WALLED,
    }.get(contract_status, LineState.REMOVED)


# --- history and outbox --------------------------------------------------------------------------


def record(
    session: AsyncSession,
    line_id: int,
    *,
    step: str,
    outcome: EventOutcome,
    detail: str,
    job_id: int | None = None,
    error_cause: int | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Add a step to the line's provisioning history."""
    session.add(
        ProvisioningEvent(
            line_id=line_id,
            job_id=job_id,
            at=at or utcnow(),
            step=step,
            outcome=outcome,
            detail=detail[:1000],
            error_cause=error_cause,
            data=data,
        )
    )


async def enqueue(session: AsyncSession, line: Line, kind: JobKind, *, requested_by: str) -> ProvisioningJob:
    """Queue outside work for a line in the caller's transaction; an identical job not yet started is reused."""
    existing = await repository.pending_job(session, line_id=line.id, kind=kind)
    if existing is not None:
        return existing
    now = utcnow()
    job = ProvisioningJob(
        kind=kind,
        line_id=line.id,
        router_id=line.router_id,
        status=JobStatus.PENDING,
        attempts=0,
        run_after=now,
        created_at=now,
        requested_by=requested_by[:254],
    )
    session.add(job)
    await session.flush()
    return job


# --- RADIUS rows ----------------------------------------------------------------------------------


async def write_line_rows(session: AsyncSession, line: Line, *, plan_code: str, down_kbps: int, up_kbps: int) -> None:
    """Make FreeRADIUS's rows for the line match its state: a serving line's rows, or none at all."""
    if line.state is LineState.ACTIVE:
        await ensure_plan_group(session, plan_code=plan_code, down_kbps=down_kbps, up_kbps=up_kbps)
        await rows.write_users(
            session,
            [
                rows.line_rows(
                    username=line.username,
                    password=line.password,
                    ipv4=line.ipv4,
                    ipv6_prefix=line.ipv6_prefix,
                    plan_code=plan_code,
                )
            ],
        )
    else:
        await rows.delete_users(session, [line.username])


async def ensure_plan_group(session: AsyncSession, *, plan_code: str, down_kbps: int, up_kbps: int) -> None:
    name = rows.plan_group(plan_code)
    wanted = rows.plan_group_items(down_kbps=down_kbps, up_kbps=up_kbps)
    if (await rows.read_groups(session)).get(name) != wanted:
        await rows.write_group(session, name, wanted)


async def ensure_nas(session: AsyncSession, router: AccessRouter) -> None:
    """Register the router as a RADIUS client with its secret (FreeRADIUS reads the nas table)."""
    wanted = rows.NasRow(nasname=router.nas_ip, shortname=router.name, secret=router.radius_secret)
    if (await rows.read_nas(session)).get(router.nas_ip) != wanted:
        await rows.write_nas(session, wanted)


# --- lines ---------------------------------------------------------------------------------------


async def _create_line(
    session: AsyncSession,
    *,
    contract_id: int,
    contract_number: str,
    router: AccessRouter,
    static_ipv4: str | None,
    port: Port,
) -> Line:
    line = Line(
        contract_id=contract_id,
        router_id=router.id,
        username=contract_number.lower(),
        password=new_line_password(),
        port_kind=port.kind,
        port_peer=port.peer,
        port_tag=port.tag,
        port_remote=port.remote,
        state=LineState.PENDING,
    )
    with action(session, "line.create"):
        session.add(line)
        await session.flush()
        line.ifname = f"otl{line.id}"
        v4 = await ipam.allocate(
            session, router_id=router.id, family=PoolFamily.IPV4, line_id=line.id, requested=static_ipv4
        )
        line.ipv4 = v4.value
        if any(u.family is PoolFamily.IPV6 for u in await ipam.usage(session, router_id=router.id)):
            v6 = await ipam.allocate(session, router_id=router.id, family=PoolFamily.IPV6, line_id=line.id)
            line.ipv6_prefix = v6.value
        await session.flush()
    await ensure_nas(session, router)
    record(
        session,
        line.id,
        step="line",
        outcome=EventOutcome.OK,
        detail=f"line {line.username} on {router.name}: {line.ipv4}"
        + (f", {line.ipv6_prefix}" if line.ipv6_prefix else ""),
    )
    return line


async def provision_contract(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    contract_id: int,
    router_id: int,
    static_ipv4: str | None = None,
    port: Port | None = None,
) -> Line:
    """Switch an ordered contract on: a line on the chosen router, its addresses, then activation.

    Activation announces the change, and the listener below writes the RADIUS rows and queues the
    router job, all in this transaction.
    """
    actor.require(Role.OPERATOR)
    contract = await contracts.get_contract(session, actor=actor, contract_id=contract_id, lock=True)
    if contract.status is not ContractStatus.ORDERED:
        raise Conflict(
            f"Contract {contract.number} is {contract.status.value}, not ordered.", code="invalid_transition"
        )
    if await repository.line_by_contract(session, contract.id) is not None:
        raise Conflict(f"Contract {contract.number} has a line already.", code="line_exists")
    router = await network.get_router(session, router_id=router_id)
    if not router.is_active:
        raise Conflict(f"Router {router.name} takes no new lines.", code="router_inactive", field="router_id")
    line = await _create_line(
        session,
        contract_id=contract.id,
        contract_number=contract.number,
        router=router,
        static_ipv4=static_ipv4,
        port=port or Port(),
    )
    await contracts.transition(
        session,
        actor=actor,
        settings=settings,
        contract_id=contract.id,
        to=ContractStatus.ACTIVE,
        from_status=ContractStatus.ORDERED,
    )
    return line


async def on_contracts_changed(session: AsyncSession, events: Sequence[ContractChanged]) -> None:
    """Follow contracts' changes on their lines: RADIUS rows now, router and NAS work queued."""
    lines = await repository.lines_by_contracts(session, [event.contract_id for event in events], lock=True)
    router: AccessRouter | None = None
    looked_up = False
    for event in events:
        line = lines.get(event.contract_id)
        if line is None:
            if event.status not in (ContractStatus.ACTIVE.value, ContractStatus.SUSPENDED.value):
                continue
            # Activated without the wizard (API, CLI): place the line on the default router.
            if not looked_up:
                router, looked_up = await network.default_router(session), True
            if router is None:
                log.warning("contract %s active but no access router exists; no line provisioned", event.contract_id)
                continue
            contract = await contracts.get_contract(session, actor=Actor.system(), contract_id=event.contract_id)
            line = await _create_line(
                session,
                contract_id=contract.id,
                contract_number=contract.number,
                router=router,
                static_ipv4=None,
                port=Port(),
            )
        await _follow(session, event, line)


async def _follow(session: AsyncSession, event: ContractChanged, line: Line) -> None:
    if line.state is LineState.REMOVED:
        return  # a terminated line stays removed; its history remains
    views = await repository.line_views(session, line_ids=[line.id])
    view = views[0]
    wanted = state_for(event.status)
    previous = line.state
    by = event.actor.label
    with action(session, f"line.{wanted.value}"):
        line.state = wanted
        if wanted is LineState.REMOVED:
            line.removed_at = utcnow()
            released = await ipam.release(session, line_id=line.id)
            record(session, line.id, step="ipam", outcome=EventOutcome.OK, detail="released " + ", ".join(released))
        await write_line_rows(session, line, plan_code=view.plan_code, down_kbps=view.down_kbps, up_kbps=view.up_kbps)
        await session.flush()
    record(
        session,
        line.id,
        step="radius",
        outcome=EventOutcome.OK,
        detail=(
            f"rows written for plan {view.plan_code}"
            if wanted is LineState.ACTIVE
            else "rows removed: new logins are rejected"
        ),
    )
    if wanted is not previous or event.plan_changed:
        await enqueue(session, line, JobKind.ROUTER_SYNC, requested_by=by)
    if wanted is not LineState.ACTIVE and previous is LineState.ACTIVE:
        await enqueue(session, line, JobKind.DISCONNECT, requested_by=by)
    elif wanted is LineState.ACTIVE and previous is LineState.ACTIVE and event.plan_changed:
        await enqueue(session, line, JobKind.COA, requested_by=by)


def install() -> None:
    """Subscribe provisioning to the contract events it follows, and to the ends of outages (idempotent)."""
    from provisioning import outages

    subscribe(ContractChanged, on_contracts_changed)
    outages.install()


# --- reading -------------------------------------------------------------------------------------


async def live_line_ids(session: AsyncSession) -> list[int]:
    """The lines that are not removed, oldest first."""
    return await repository.live_line_ids(session)


async def get_line(session: AsyncSession, *, actor: Actor, line_id: int) -> repository.LineView:
    views = await repository.line_views(session, actor=actor, line_ids=[line_id])
    if not views:
        raise NotFound(f"Line {line_id} not found.")
    return views[0]


async def line_for_contract(session: AsyncSession, *, actor: Actor, contract_id: int) -> repository.LineView | None:
    views = await repository.line_views(session, actor=actor, contract_id=contract_id)
    return views[0] if views else None


@dataclass(frozen=True)
class LineSession:
    """A line's latest accounting session in our words (octets include the 4 GiB wraps)."""

    online: bool
    acct_session_id: str
    nas_ip: str
    framed_ip: str | None
    started_at: datetime | None
    updated_at: datetime | None
    stopped_at: datetime | None
    input_octets: int
    output_octets: int
    terminate_cause: str | None


async def line_session(session: AsyncSession, *, username: str) -> LineSession | None:
    """The line's latest session from radacct: online while the NAS has not reported its stop."""
    acct = await repository.last_session(session, username)
    if acct is None:
        return None
    return LineSession(
        online=acct.acctstoptime is None,
        acct_session_id=acct.acctsessionid,
        nas_ip=str(acct.nasipaddress),
        framed_ip=str(acct.framedipaddress) if acct.framedipaddress else None,
        started_at=acct.acctstarttime,
        updated_at=acct.acctupdatetime,
        stopped_at=acct.acctstoptime,
        input_octets=acct.acctinputoctets or 0,
        output_octets=acct.acctoutputoctets or 0,
        terminate_cause=acct.acctterminatecause,
    )


async def retry_job(session: AsyncSession, *, actor: Actor, job_id: int) -> ProvisioningJob:
    """Put a job that gave up back in the queue, after the operator fixed the cause."""
    actor.require(Role.OPERATOR)
    job = await session.get(ProvisioningJob, job_id, with_for_update=True)
    if job is None:
        raise NotFound(f"Job {job_id} not found.")
    if job.status is not JobStatus.FAILED:
        raise Conflict(f"Job {job_id} is {job.status.value}; only failed jobs are retried.", code="job_not_failed")
    job.status = JobStatus.PENDING
    job.attempts = 0
    job.run_after = utcnow()
    job.finished_at = None
    record(
        session,
        job.line_id,
        job_id=job.id,
        step=job.kind.value,
        outcome=EventOutcome.OK,
        detail=f"retry requested by {actor.label}",
    )
    await session.flush()
    return job


@dataclass(frozen=True)
class RadiusState:
    """What FreeRADIUS holds for a line, in words an operator checks at a glance."""

    can_log_in: bool
    framed_ip: str | None
    delegated_prefix: str | None
    groups: tuple[str, ...]


async def radius_state(session: AsyncSession, *, username: str) -> RadiusState:
    user = (await rows.read_users(session, [username])).get(username)
    if user is None:
        return RadiusState(False, None, None, ())
    reply = {item.attribute: item.value for item in user.reply}
    return RadiusState(
        can_log_in=any(item.attribute == rows.PASSWORD for item in user.check),
        framed_ip=reply.get(rows.FRAMED_IP),
        delegated_prefix=reply.get(rows.DELEGATED_PREFIX),
        groups=user.groups,
    )
