"""The board's view of the network: availability per month (the share of line-minutes that were up),
how many incidents began and how long repairs took on average."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.time import add_months, utcnow
from network.health.models import HealthState, Incident, IncidentLine, LinePort


@dataclass(frozen=True, slots=True)
class MonthFigures:
    month: date
    lines: int
    line_minutes: int
    down_line_minutes: float
    availability_percent: float | None
    incidents: int
    repaired: int
    mean_time_to_repair_s: float | None


def _start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


async def monthly(session: AsyncSession, *, months: int = 12, now: datetime | None = None) -> list[MonthFigures]:
    """The last ``months`` calendar months (UTC), newest first. Line-minutes count the lines watched now
    (those with a port in the inventory) over the whole month, or up to now for the current one; a line
    is down for the part of a ``down`` incident that hit it and fell in the month."""
    now = now or utcnow()
    lines = int((await session.execute(sa.select(sa.func.count()).select_from(LinePort))).scalar_one())
    this_month = date(now.year, now.month, 1)
    figures: list[MonthFigures] = []
    for back in range(months):
        month = add_months(this_month, -back)
        start, end = _start(month), min(_start(add_months(month, 1)), now)
        began = list(
            await session.scalars(sa.select(Incident).where(Incident.started_at >= start, Incident.started_at < end))
        )
        repaired = [i for i in began if i.ended_at is not None]
        mttr = (
            sum((i.ended_at - i.started_at).total_seconds() for i in repaired if i.ended_at) / len(repaired)
            if repaired
            else None
        )
        down = await _down_line_minutes(session, start=start, end=end)
        minutes = lines * int((end - start).total_seconds() // 60)
        figures.append(
            MonthFigures(
                month=month,
                lines=lines,
                line_minutes=minutes,
                down_line_minutes=round(down, 1),
                availability_percent=round(100 * (1 - down / minutes), 3) if minutes else None,
                incidents=len(began),
                repaired=len(repaired),
                mean_time_to_repair_s=round(mttr, 1) if mttr is not None else None,
            )
        )
    return figures


async def _down_line_minutes(session: AsyncSession, *, start: datetime, end: datetime) -> float:
    """Minutes each line spent under a ``down`` incident within [start, end), summed over the lines; a line
    under two at once (its device and its port) counts once."""
    query = (
        sa.select(IncidentLine.line_id, Incident.started_at, Incident.ended_at)
        .join(Incident, Incident.id == IncidentLine.incident_id)
        .where(
            Incident.severity == HealthState.DOWN,
            Incident.started_at < end,
            sa.or_(Incident.ended_at.is_(None), Incident.ended_at > start),
        )
        .order_by(IncidentLine.line_id, Incident.started_at)
    )
    total = 0.0
    current: tuple[int, datetime, datetime] | None = None
    for line_id, started_at, ended_at in (await session.execute(query)).all():
        low, high = max(started_at, start), min(ended_at or end, end)
        if current is not None and current[0] == line_id and low <= current[2]:
            current = (line_id, current[1], max(current[2], high))
            continue
        if current is not None:
            total += (current[2] - current[1]).total_seconds() / 60
        current = (line_id, low, high)
    if current is not None:
        total += (current[2] - current[1]).total_seconds() / 60
    return total
