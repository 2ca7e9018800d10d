"""All queries on devices, their status and interfaces, and the line ports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from network.health.models import (
    Device,
    DeviceInterface,
    DeviceStatus,
    HealthCondition,
    Incident,
    IncidentLine,
    LinePort,
)


async def device_clash(session: AsyncSession, *, name: str, host: str, port: int, other_than: int | None) -> bool:
    """Whether another device has this name or this agent address."""
    query = sa.select(Device.id).where(sa.or_(Device.name == name, sa.and_(Device.host == host, Device.port == port)))
    if other_than is not None:
        query = query.where(Device.id != other_than)
    return (await session.scalars(query.limit(1))).first() is not None


async def devices_with_status(
    session: AsyncSession, device_ids: Sequence[int] | None = None
) -> list[tuple[Device, DeviceStatus]]:
    query = sa.select(Device, DeviceStatus).join(DeviceStatus, DeviceStatus.device_id == Device.id).order_by(Device.id)
    if device_ids is not None:
        query = query.where(Device.id.in_(device_ids))
    return [(device, status) for device, status in (await session.execute(query)).all()]


async def claim_due(session: AsyncSession, *, owner: str, now: datetime, until: datetime, limit: int) -> list[int]:
    """Lease up to ``limit`` active devices that are due and not leased to a live poller; their ids, most
    overdue first.

    ``SKIP LOCKED``: pollers claiming at the same moment each get other devices instead of waiting on
    (or double-claiming) the same rows; a lease that ran out counts as free.
    """
    due = (
        sa.select(DeviceStatus.device_id)
        .join(Device, Device.id == DeviceStatus.device_id)
        .where(
            Device.is_active.is_(True),
            DeviceStatus.next_poll_at <= now,
            sa.or_(DeviceStatus.lease_until.is_(None), DeviceStatus.lease_until < now),
        )
        .order_by(DeviceStatus.next_poll_at, DeviceStatus.device_id)
        .limit(limit)
        .with_for_update(of=DeviceStatus, skip_locked=True)
    )
    ids = list((await session.scalars(due)).all())
    if ids:
        await session.execute(
            sa.update(DeviceStatus)
            .where(DeviceStatus.device_id.in_(ids))
            .values(lease_owner=owner, lease_until=until)
            .execution_options(synchronize_session=False)
        )
    return ids


async def release(session: AsyncSession, *, owner: str, device_ids: Sequence[int]) -> int:
    """Give back leases without a poll (a poller stopping); the devices are due again at once."""
    result = await session.execute(
        sa.update(DeviceStatus)
        .where(DeviceStatus.device_id.in_(device_ids), DeviceStatus.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def line_port(session: AsyncSession, line_id: int) -> LinePort | None:
    return await session.get(LinePort, line_id)


async def port_taken(session: AsyncSession, *, device_id: int, if_index: int, other_than: int) -> int | None:
    """The line already on this port, if it is not ``other_than``."""
    query = sa.select(LinePort.line_id).where(
        LinePort.device_id == device_id, LinePort.if_index == if_index, LinePort.line_id != other_than
    )
    return (await session.scalars(query)).first()


async def line_exists(session: AsyncSession, line_id: int) -> bool:
    """Whether provisioning has this line (network refers to lines by id only; it never loads them)."""
    lines = sa.table("lines", sa.column("id"))
    return (await session.scalars(sa.select(lines.c.id).where(lines.c.id == line_id))).first() is not None


async def interfaces(session: AsyncSession, device_id: int) -> dict[int, DeviceInterface]:
    query = sa.select(DeviceInterface).where(DeviceInterface.device_id == device_id)
    return {row.if_index: row for row in (await session.scalars(query)).all()}


async def interface_name(session: AsyncSession, device_id: int, if_index: int) -> str:
    query = sa.select(DeviceInterface.name).where(
        DeviceInterface.device_id == device_id, DeviceInterface.if_index == if_index
    )
    return (await session.scalars(query)).first() or f"ifIndex {if_index}"


async def conditions(session: AsyncSession, device_id: int) -> list[HealthCondition]:
    query = sa.select(HealthCondition).where(HealthCondition.device_id == device_id)
    return list((await session.scalars(query)).all())


async def lines_on(session: AsyncSession, *, device_id: int, if_index: int | None) -> list[int]:
    """The lines running over one interface of the device, or (``if_index`` None) over any of them."""
    query = sa.select(LinePort.line_id).where(LinePort.device_id == device_id).order_by(LinePort.line_id)
    if if_index is not None:
        query = query.where(LinePort.if_index == if_index)
    return list((await session.scalars(query)).all())


async def line_ports_with_state(
    session: AsyncSession, line_ids: Sequence[int]
) -> list[tuple[LinePort, Device, DeviceStatus, DeviceInterface | None]]:
    """Each line's port with its device, the device's status and the interface as last seen (None before
    the first poll found it)."""
    query = (
        sa.select(LinePort, Device, DeviceStatus, DeviceInterface)
        .join(Device, Device.id == LinePort.device_id)
        .join(DeviceStatus, DeviceStatus.device_id == Device.id)
        .outerjoin(
            DeviceInterface,
            sa.and_(DeviceInterface.device_id == LinePort.device_id, DeviceInterface.if_index == LinePort.if_index),
        )
        .where(LinePort.line_id.in_(line_ids))
        .order_by(LinePort.line_id)
    )
    return [(p, d, s, i) for p, d, s, i in (await session.execute(query)).all()]


async def open_incidents_of_lines(session: AsyncSession, line_ids: Sequence[int]) -> dict[int, list[Incident]]:
    query = (
        sa.select(IncidentLine.line_id, Incident)
        .join(Incident, Incident.id == IncidentLine.incident_id)
        .where(IncidentLine.line_id.in_(line_ids), Incident.ended_at.is_(None))
        .order_by(Incident.started_at)
    )
    found: dict[int, list[Incident]] = {}
    for line_id, incident in (await session.execute(query)).all():
        found.setdefault(line_id, []).append(incident)
    return found


async def incident_lines(session: AsyncSession, incident_id: int) -> list[int]:
    query = (
        sa.select(IncidentLine.line_id).where(IncidentLine.incident_id == incident_id).order_by(IncidentLine.line_id)
    )
    return list((await session.scalars(query)).all())


async def watched_line_ids(session: AsyncSession) -> list[int]:
    """Every line with a port in the inventory."""
    return list((await session.scalars(sa.select(LinePort.line_id).order_by(LinePort.line_id))).all())
