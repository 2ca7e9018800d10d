"""Complete outages of lines become compensation days per contract and billing month (§58 (3) TKG).

When the poller closes an incident that took lines down (``LineOutagesEnded``), each line's contract is
owed, for that outage, every day from the third on: a day is each 24 hours from the outage's start, and
day n counts once the outage reached into it (an outage of 2 days and 1 hour has a third day). Days 3 and
4 are at the lower rate, later days at the higher one; each day belongs to the billing month (Berlin time)
it begins in. Shorter outages owe nothing. Recorded once per contract, incident and month, so an event
handled twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.events import LineOutagesEnded, subscribe
from provisioning.models import Line, OutageCompensation

FREE_DAYS = 2
LOWER_RATE_DAYS = (3, 4)
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class MonthDays:
    period: date
    lower_rate_days: int
    higher_rate_days: int


def compensation_days(started_at: datetime, ended_at: datetime, *, zone: str) -> list[MonthDays]:
    """The compensable days of one outage, by billing month (empty when it was fixed within two days)."""
    local = ZoneInfo(zone)
    by_month: dict[date, list[int]] = {}
    day = FREE_DAYS + 1
    while started_at + (day - 1) * DAY < ended_at:
        begins = (started_at + (day - 1) * DAY).astimezone(local)
        counts = by_month.setdefault(date(begins.year, begins.month, 1), [0, 0])
        counts[0 if day in LOWER_RATE_DAYS else 1] += 1
        day += 1
    return [MonthDays(period, lower, higher) for period, (lower, higher) in sorted(by_month.items())]


async def on_line_outages_ended(session: AsyncSession, events: Sequence[LineOutagesEnded]) -> None:
    """Record the compensation days each ended outage owes the contracts of the lines it took down."""
    line_ids = sorted({line_id for event in events for line_id in event.line_ids})
    contract_of = dict((await session.execute(sa.select(Line.id, Line.contract_id).where(Line.id.in_(line_ids)))).all())
    for event in events:
        months = compensation_days(event.started_at, event.ended_at, zone=event.timezone)
        if not months:
            continue
        for line_id in event.line_ids:
            contract_id = contract_of.get(line_id)
            if contract_id is None:
                continue
            for month in months:
                key = (contract_id, event.incident_id, month.period)
                if await session.get(OutageCompensation, key) is not None:
                    continue
                session.add(
                    OutageCompensation(
                        contract_id=contract_id,
                        incident_id=event.incident_id,
                        period=month.period,
                        line_id=line_id,
                        outage_started_at=event.started_at,
                        outage_ended_at=event.ended_at,
                        lower_rate_days=month.lower_rate_days,
                        higher_rate_days=month.higher_rate_days,
                    )
                )
    await session.flush()


async def compensations(session: AsyncSession, *, contract_id: int) -> list[OutageCompensation]:
    """A contract's compensation days, by month (for billing and the line pages)."""
    query = (
        sa.select(OutageCompensation)
        .where(OutageCompensation.contract_id == contract_id)
        .order_by(OutageCompensation.period, OutageCompensation.incident_id)
    )
    return list((await session.scalars(query)).all())


def install() -> None:
    subscribe(LineOutagesEnded, on_line_outages_ended)


async def compensations_until(
    session: AsyncSession, *, contract_from: int, contract_to: int, before: date
) -> list[OutageCompensation]:
    """The compensation days of the contracts with ids in [contract_from, contract_to] in billing months
    before ``before`` (one query; billing leaves out the ones it credited already)."""
    query = (
        sa.select(OutageCompensation)
        .where(OutageCompensation.contract_id.between(contract_from, contract_to), OutageCompensation.period < before)
        .order_by(OutageCompensation.contract_id, OutageCompensation.period, OutageCompensation.incident_id)
    )
    return list((await session.scalars(query)).all())
