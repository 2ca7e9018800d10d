"""Queries on the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent


@dataclass(frozen=True, slots=True)
class AuditFilter:
    entity_type: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def search(
    session: AsyncSession, *, filters: AuditFilter, limit: int, offset: int
) -> tuple[list[AuditEvent], int]:
    conditions: list[sa.ColumnElement[bool]] = []
    if filters.entity_type:
        conditions.append(AuditEvent.entity_type == filters.entity_type)
    if filters.entity_id:
        conditions.append(AuditEvent.entity_id == filters.entity_id)
    if filters.actor:
        conditions.append(sa.func.lower(AuditEvent.actor_label).like(f"%{filters.actor.lower()}%"))
    if filters.action:
        conditions.append(AuditEvent.action.like(f"{filters.action}%"))
    if filters.since:
        conditions.append(AuditEvent.at >= filters.since)
    if filters.until:
        conditions.append(AuditEvent.at < filters.until)
    where = sa.and_(sa.true(), *conditions)
    total = int((await session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(where))).scalar_one())
    rows = await session.execute(
        sa.select(AuditEvent)
        .where(where)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.scalars()), total
