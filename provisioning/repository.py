"""All queries on lines, the outbox and provisioning history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.service import service_summary_subquery
from app.kit.actor import Actor
from provisioning.models import JobKind, JobStatus, Line, LineState, ProvisioningEvent, ProvisioningJob
from provisioning.radius.models import RadAcct

ViewSelect = sa.Select[Line, str, int, Any, str, int, int]


@dataclass(frozen=True, slots=True)
class LineView:
    """A line with what its contract asks of it."""

    line: Line
    contract_number: str
    member_id: int
    contract_status: str
    plan_code: str
    down_kbps: int
    up_kbps: int


def _line_views() -> ViewSelect:
    summary = service_summary_subquery()
    return sa.select(
        Line,
        summary.c.contract_number,
        summary.c.member_id,
        summary.c.contract_status,
        summary.c.plan_code,
        summary.c.down_kbps,
        summary.c.up_kbps,
    ).join(summary, summary.c.contract_id == Line.contract_id)


def _scope(query: ViewSelect, actor: Actor | None) -> ViewSelect:
    if actor is not None and actor.is_member:
        summary = query.selected_columns
        return query.where(summary.member_id == (actor.member_id if actor.member_id is not None else -1))
    return query


async def line_views(
    session: AsyncSession,
    *,
    actor: Actor | None = None,
    line_ids: Sequence[int] | None = None,
    router_id: int | None = None,
    states: Sequence[LineState] | None = None,
    contract_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[LineView]:
    """Lines joined with their contracts' status and plan rates, scoped to what the actor may see."""
    query = _scope(_line_views(), actor)
    if line_ids is not None:
        query = query.where(Line.id.in_(line_ids))
    if router_id is not None:
        query = query.where(Line.router_id == router_id)
    if states is not None:
        query = query.where(Line.state.in_(states))
    if contract_id is not None:
        query = query.where(Line.contract_id == contract_id)
    query = query.order_by(Line.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [
        LineView(line, number, member_id, str(status), plan_code, down, up)
        for line, number, member_id, status, plan_code, down, up in (await session.execute(query)).all()
    ]


async def line_by_contract(session: AsyncSession, contract_id: int, *, lock: bool = False) -> Line | None:
    query = sa.select(Line).where(Line.contract_id == contract_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def lines_by_contracts(
    session: AsyncSession, contract_ids: Sequence[int], *, lock: bool = False
) -> dict[int, Line]:
    """The lines of these contracts, by contract id (locked in id order when asked)."""
    query = sa.select(Line).where(Line.contract_id.in_(contract_ids)).order_by(Line.id)
    if lock:
        query = query.with_for_update()
    return {line.contract_id: line for line in (await session.scalars(query)).all()}


async def live_line_ids(session: AsyncSession) -> list[int]:
    query = sa.select(Line.id).where(Line.state != LineState.REMOVED).order_by(Line.id)
    return list((await session.scalars(query)).all())


async def pending_job(session: AsyncSession, *, line_id: int, kind: JobKind) -> ProvisioningJob | None:
    """A queued job of this kind for the line that has not started yet (a new one would do the same)."""
    query = sa.select(ProvisioningJob).where(
        ProvisioningJob.line_id == line_id,
        ProvisioningJob.kind == kind,
        ProvisioningJob.status == JobStatus.PENDING,
        ProvisioningJob.attempts == 0,
    )
    return (await session.scalars(query.limit(1))).first()


async def claim_jobs(session: AsyncSession, *, now: datetime, limit: int) -> list[ProvisioningJob]:
    """Due jobs, oldest first, locked for this transaction; jobs another worker holds are skipped."""
    query = (
        sa.select(ProvisioningJob)
        .where(ProvisioningJob.status == JobStatus.PENDING, ProvisioningJob.run_after <= now)
        .order_by(ProvisioningJob.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(query)).all())


async def jobs(
    session: AsyncSession, *, line_id: int | None = None, status: JobStatus | None = None, limit: int = 100
) -> list[ProvisioningJob]:
    query = sa.select(ProvisioningJob).order_by(ProvisioningJob.id.desc()).limit(limit)
    if line_id is not None:
        query = query.where(ProvisioningJob.line_id == line_id)
    if status is not None:
        query = query.where(ProvisioningJob.status == status)
    return list((await session.scalars(query)).all())


async def job_counts(session: AsyncSession) -> dict[JobStatus, int]:
    rows = await session.execute(sa.select(ProvisioningJob.status, sa.func.count()).group_by(ProvisioningJob.status))
    return {status: int(count) for status, count in rows}


async def events(session: AsyncSession, *, line_id: int, limit: int = 100) -> list[ProvisioningEvent]:
    query = (
        sa.select(ProvisioningEvent)
        .where(ProvisioningEvent.line_id == line_id)
        .order_by(ProvisioningEvent.at.desc(), ProvisioningEvent.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def open_sessions(session: AsyncSession, usernames: Sequence[str] | None = None) -> list[RadAcct]:
    """Accounting sessions with no stop yet (the NAS says they are live), newest first."""
    query = sa.select(RadAcct).where(RadAcct.acctstoptime.is_(None)).order_by(RadAcct.acctstarttime.desc())
    if usernames is not None:
        query = query.where(RadAcct.username.in_(usernames))
    return list((await session.scalars(query)).all())


async def last_session(session: AsyncSession, username: str) -> RadAcct | None:
    query = (
        sa.select(RadAcct)
        .where(RadAcct.username == username)
        .order_by(RadAcct.acctstarttime.desc().nulls_last(), RadAcct.radacctid.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def running_contracts_without_line(session: AsyncSession) -> list[tuple[int, str, str]]:
    """Active or suspended contracts that have no line: ``(contract_id, number, status)``."""
    summary = service_summary_subquery()
    query = (
        sa.select(summary.c.contract_id, summary.c.contract_number, summary.c.contract_status)
        .where(
            summary.c.contract_status.in_(["active", "suspended"]),
            ~sa.exists().where(Line.contract_id == summary.c.contract_id),
        )
        .order_by(summary.c.contract_id)
    )
    return [
        (cid, number, str(status.value if hasattr(status, "value") else status))
        for cid, number, status in (await session.execute(query)).all()
    ]
