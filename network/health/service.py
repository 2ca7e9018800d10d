"""The device inventory and the pollers' schedule: operators add devices with their SNMP credentials
(sealed at rest, never shown again) and say which line runs over which port; pollers in any number of
processes lease due devices, poll them outside any transaction and record what they saw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.errors import Conflict, Invalid, NotFound
from app.kit.sealing import seal, unseal
from app.kit.time import utcnow
from app.settings import Settings
from network.health import graph, history, repository
from network.health.models import (
    AuthProtocol,
    Device,
    DeviceStatus,
    HealthState,
    LinePort,
    PrivProtocol,
    SnmpVersion,
)
from network.health.schemas import Credentials, DeviceCreate, DeviceUpdate, LinePortSet
from network.models import AccessRouter

# A poll of one device is bounded by its timeout and retries; the lease outlasts any of them with room.
LEASE_S = 300


@dataclass(frozen=True, slots=True)
class SnmpCredentials:
    """What the SNMP client needs to speak to an agent, in the clear (held only in the poller's memory)."""

    version: SnmpVersion
    community: str | None = None
    user: str | None = None
    auth_protocol: AuthProtocol | None = None
    auth_key: str | None = None
    priv_protocol: PrivProtocol | None = None
    priv_key: str | None = None

    def __repr__(self) -> str:  # never a secret in a log line or a traceback
        return f"SnmpCredentials(version={self.version.value}, user={self.user!r})"


@dataclass(frozen=True, slots=True)
class PollAssignment:
    """A device a poller has leased: where its agent is, how to speak to it and how long to wait."""

    device_id: int
    name: str
    host: str
    port: int
    credentials: SnmpCredentials
    timeout_s: float
    retries: int


def _sealed(settings: Settings, value: str | None) -> str | None:
    return seal(settings.secret_key, value) if value is not None else None


def _set_credentials(device: Device, settings: Settings, credentials: Credentials) -> None:
    device.snmp_version = credentials.version
    device.community_sealed = _sealed(settings, credentials.community)
    device.v3_user = credentials.user
    device.auth_protocol = credentials.auth_protocol
    device.auth_key_sealed = _sealed(settings, credentials.auth_key)
    device.priv_protocol = credentials.priv_protocol
    device.priv_key_sealed = _sealed(settings, credentials.priv_key)


def credentials_of(device: Device, settings: Settings) -> SnmpCredentials:
    """The device's credentials unsealed (for the poller only)."""

    def clear(value: str | None) -> str | None:
        return unseal(settings.secret_key, value) if value is not None else None

    return SnmpCredentials(
        version=device.snmp_version,
        community=clear(device.community_sealed),
        user=device.v3_user,
        auth_protocol=device.auth_protocol,
        auth_key=clear(device.auth_key_sealed),
        priv_protocol=device.priv_protocol,
        priv_key=clear(device.priv_key_sealed),
    )


async def _check_unique(session: AsyncSession, *, name: str, host: str, port: int, other_than: int | None) -> None:
    if await repository.device_clash(session, name=name, host=host, port=port, other_than=other_than):
        raise Conflict("A device with that name or agent address exists already.", code="device_exists")


async def create_device(session: AsyncSession, *, actor: Actor, settings: Settings, data: DeviceCreate) -> Device:
    """Add a device to the inventory; it is due for its first poll at once."""
    actor.require(Role.OPERATOR)
    await _check_unique(session, name=data.name, host=data.host, port=data.port, other_than=None)
    if data.router_id is not None and await session.get(AccessRouter, data.router_id) is None:
        raise Invalid("No access router with that id.", field="router_id")
    device = Device(
        name=data.name,
        kind=data.kind,
        host=data.host,
        port=data.port,
        router_id=data.router_id,
        poll_interval_s=data.poll_interval_s,
        timeout_ms=data.timeout_ms,
        retries=data.retries,
        is_active=True,
    )
    _set_credentials(device, settings, data.credentials)
    now = utcnow()
    with action(session, "device.create"):
        session.add(device)
        await session.flush()
        session.add(DeviceStatus(device_id=device.id, next_poll_at=now, state=HealthState.UNKNOWN, state_since=now))
        await session.flush()
    return device


async def update_device(
    session: AsyncSession, *, actor: Actor, settings: Settings, device_id: int, data: DeviceUpdate
) -> Device:
    actor.require(Role.OPERATOR)
    device, status = await get_device(session, device_id=device_id)
    given = data.model_dump(exclude_unset=True, exclude={"credentials"})
    if any(given.get(key) is None and key in given for key in ("name", "host", "port")):
        raise Invalid("Name, host and port cannot be emptied.", field="name")
    await _check_unique(
        session,
        name=given.get("name", device.name),
        host=given.get("host", device.host),
        port=given.get("port", device.port),
        other_than=device.id,
    )
    with action(session, "device.update"):
        for key, value in given.items():
            if value is not None:
                setattr(device, key, value)
        if data.credentials is not None:
            _set_credentials(device, settings, data.credentials)
            # New credentials are tried at once instead of at the end of the interval.
            status.next_poll_at = utcnow()
        await session.flush()
    return device


async def get_device(session: AsyncSession, *, device_id: int) -> tuple[Device, DeviceStatus]:
    found = await repository.devices_with_status(session, [device_id])
    if not found:
        raise NotFound(f"Device {device_id} not found.")
    return found[0]


async def list_devices(session: AsyncSession) -> list[tuple[Device, DeviceStatus]]:
    return await repository.devices_with_status(session)


async def set_line_port(session: AsyncSession, *, actor: Actor, device_id: int, data: LinePortSet) -> LinePort:
    """Say that a line runs over this device's interface (or DSL port); a line has one port, a port one
    line. Setting it again moves the line."""
    actor.require(Role.OPERATOR)
    await get_device(session, device_id=device_id)
    if not await repository.line_exists(session, data.line_id):
        raise Invalid("No line with that id.", field="line_id")
    other = await repository.port_taken(session, device_id=device_id, if_index=data.if_index, other_than=data.line_id)
    if other is not None:
        raise Conflict(f"Line {other} runs over that port already.", code="port_taken", field="if_index")
    port = await repository.line_port(session, data.line_id)
    with action(session, "line_port.set"):
        if port is None:
            port = LinePort(line_id=data.line_id, device_id=device_id, if_index=data.if_index)
            session.add(port)
        else:
            port.device_id, port.if_index = device_id, data.if_index
        await session.flush()
    return port


# --- the pollers' schedule -----------------------------------------------------------------------


async def claim(
    session: AsyncSession, *, settings: Settings, owner: str, limit: int, now: datetime | None = None
) -> list[PollAssignment]:
    """Lease up to ``limit`` due devices to the poller ``owner`` (commit before polling, so the others see
    the lease) and hand them over with their credentials unsealed."""
    now = now or utcnow()
    ids = await repository.claim_due(session, owner=owner, now=now, until=now + timedelta(seconds=LEASE_S), limit=limit)
    if not ids:
        return []
    return [
        PollAssignment(
            device_id=device.id,
            name=device.name,
            host=device.host,
            port=device.port,
            credentials=credentials_of(device, settings),
            timeout_s=device.timeout_ms / 1000,
            retries=device.retries,
        )
        for device, _ in await repository.devices_with_status(session, ids)
    ]


async def release(session: AsyncSession, *, owner: str, device_ids: list[int]) -> int:
    """Give back leases that will not be polled (the poller is stopping); the devices are due at once."""
    return await repository.release(session, owner=owner, device_ids=device_ids)


# --- what a line's health is ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenIncident:
    id: int
    summary: str
    started_at: datetime
    acknowledged: bool


@dataclass(frozen=True, slots=True)
class LineHealth:
    """A line's health as its port was last seen: the device being down makes the line down too."""

    line_id: int
    state: HealthState
    since: datetime | None
    device_name: str
    interface_name: str | None
    sampled_at: datetime | None
    sync_down_kbps: int | None
    sync_up_kbps: int | None
    attainable_down_kbps: int | None
    snr_margin_down_db: float | None
    open_incidents: tuple[OpenIncident, ...]


async def all_line_health(session: AsyncSession) -> dict[int, LineHealth]:
    """The health of every line with a port in the inventory."""
    return await line_health(session, line_ids=await repository.watched_line_ids(session))


async def line_health(session: AsyncSession, *, line_ids: list[int]) -> dict[int, LineHealth]:
    """The health of the lines that have a port in the inventory, by line id (lines without one are left
    out: nothing watches them)."""
    found: dict[int, LineHealth] = {}
    incidents = await repository.open_incidents_of_lines(session, line_ids)
    for port, device, status, interface in await repository.line_ports_with_state(session, line_ids):
        if status.state is HealthState.DOWN or interface is None:
            state, since = status.state, status.state_since
        else:
            state, since = interface.state, interface.state_since
        found[port.line_id] = LineHealth(
            line_id=port.line_id,
            state=state,
            since=since,
            device_name=device.name,
            interface_name=interface.name if interface else None,
            sampled_at=interface.sampled_at if interface else status.last_polled_at,
            sync_down_kbps=interface.actual_down_kbps if interface else None,
            sync_up_kbps=interface.actual_up_kbps if interface else None,
            attainable_down_kbps=interface.attainable_down_kbps if interface else None,
            snr_margin_down_db=(
                interface.snr_margin_down_tenth_db / 10
                if interface is not None and interface.snr_margin_down_tenth_db is not None
                else None
            ),
            open_incidents=tuple(
                OpenIncident(i.id, i.summary, i.started_at, i.acknowledged_at is not None)
                for i in incidents.get(port.line_id, ())
            ),
        )
    return found


@dataclass(frozen=True, slots=True)
class LineTraffic:
    """A line's traffic as its port counted it: today so far (local day) and hourly over seven days.
    'to member' is what the port sent out towards the line, 'from member' what came in from it."""

    today_to_member_bytes: float
    today_from_member_bytes: float
    week: list[graph.Point]
    week_start: datetime
    week_end: datetime


async def line_traffic(
    session: AsyncSession, *, line_id: int, zone: str, now: datetime | None = None
) -> LineTraffic | None:
    """None for a line without a port in the inventory."""
    port = await repository.line_port(session, line_id)
    if port is None:
        return None
    now = now or utcnow()
    midnight = now.astimezone(ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    today = await history.buckets(
        session, device_id=port.device_id, if_index=port.if_index, resolution_s=300, since=midnight
    )
    week_start = now - timedelta(days=7)
    hourly = await history.buckets(
        session, device_id=port.device_id, if_index=port.if_index, resolution_s=3600, since=week_start
    )
    totals = [history.octets(b) for b in today]
    return LineTraffic(
        today_to_member_bytes=sum(out for _, out in totals),
        today_from_member_bytes=sum(in_ for in_, _ in totals),
        week=[
            graph.Point(
                at=b.bucket_start + timedelta(seconds=b.resolution_s / 2),
                to_member_bps=b.out_bps_sum / b.samples,
                from_member_bps=b.in_bps_sum / b.samples,
            )
            for b in hourly
            if b.samples
        ],
        week_start=week_start,
        week_end=now,
    )
