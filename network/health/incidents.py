"""Incidents as operators work them: the list (open first), one incident with the lines it hit and its
notes, acknowledging it, commenting on it. The poller opens and closes them (network/health/polling.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.errors import Conflict, NotFound
from app.kit.time import utcnow
from network.health.models import Device, Incident, IncidentComment, IncidentLine


@dataclass(frozen=True, slots=True)
class IncidentView:
    incident: Incident
    device_name: str
    lines: int


@dataclass(frozen=True, slots=True)
class IncidentDetail:
    incident: Incident
    device_name: str
    line_ids: list[int]
    comments: list[IncidentComment]


def duration_s(incident: Incident, *, now: datetime | None = None) -> float:
    """How long the fault lasted (or has lasted so far)."""
    return ((incident.ended_at or now or utcnow()) - incident.started_at).total_seconds()


async def list_incidents(session: AsyncSession, *, open_only: bool = False, limit: int = 200) -> list[IncidentView]:
    """Open incidents first (oldest first, the longest fault on top), then ended ones, newest first."""
    lines = (
        sa.select(IncidentLine.incident_id, sa.func.count().label("lines"))
        .group_by(IncidentLine.incident_id)
        .subquery()
    )
    query = (
        sa.select(Incident, Device.name, sa.func.coalesce(lines.c.lines, 0))
        .join(Device, Device.id == Incident.device_id)
        .outerjoin(lines, lines.c.incident_id == Incident.id)
        .order_by(Incident.ended_at.is_not(None), sa.case((Incident.ended_at.is_(None), Incident.started_at)),
                  Incident.ended_at.desc())
        .limit(limit)
    )  # fmt: skip
    if open_only:
        query = query.where(Incident.ended_at.is_(None))
    return [IncidentView(i, name, int(count)) for i, name, count in (await session.execute(query)).all()]


async def get_incident(session: AsyncSession, *, incident_id: int) -> IncidentDetail:
    found = (
        await session.execute(
            sa.select(Incident, Device.name)
            .join(Device, Device.id == Incident.device_id)
            .where(Incident.id == incident_id)
        )
    ).first()
    if found is None:
        raise NotFound(f"Incident {incident_id} not found.")
    incident, device_name = found
    line_ids = list(
        await session.scalars(
            sa.select(IncidentLine.line_id)
            .where(IncidentLine.incident_id == incident_id)
            .order_by(IncidentLine.line_id)
        )
    )
    comments = list(
        await session.scalars(
            sa.select(IncidentComment)
            .where(IncidentComment.incident_id == incident_id)
            .order_by(IncidentComment.at, IncidentComment.id)
        )
    )
    return IncidentDetail(incident, device_name, line_ids, comments)


async def acknowledge(session: AsyncSession, *, actor: Actor, incident_id: int) -> Incident:
    """An operator takes the incident on; said once (a second acknowledgement is a conflict)."""
    actor.require(Role.OPERATOR)
    incident = await session.get(Incident, incident_id, with_for_update=True)
    if incident is None:
        raise NotFound(f"Incident {incident_id} not found.")
    if incident.acknowledged_at is not None:
        raise Conflict(
            f"Incident {incident_id} was acknowledged by {incident.acknowledged_by} already.",
            code="already_acknowledged",
        )
    with action(session, "incident.acknowledge"):
        incident.acknowledged_at = utcnow()
        incident.acknowledged_by = actor.label[:255]
        await session.flush()
    return incident


async def comment(session: AsyncSession, *, actor: Actor, incident_id: int, text: str) -> IncidentComment:
    """Add an operator's note (what was found, what was done)."""
    actor.require(Role.OPERATOR)
    if await session.get(Incident, incident_id) is None:
        raise NotFound(f"Incident {incident_id} not found.")
    note = IncidentComment(
        incident_id=incident_id, at=utcnow(), author_user_id=actor.user_id, author_label=actor.label[:255], text=text
    )
    session.add(note)
    await session.flush()
    return note
