"""From a poll to what we keep: a device's status, its interfaces with rates, the health conditions and
incidents they give, and the interface history for graphs.

``record`` runs in the transaction after the poll (the poll itself runs outside any transaction). Rates
come from the previous answer kept in ``device_status``/``device_interfaces`` (network/snmp/rates.py:
64- and 32-bit wrap, reboots, gaps). A result whose lease another poller holds by now (ours ran out) is
dropped: that poller's answer counts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.events import LineOutagesEnded, publish
from app.settings import Settings
from network.health import history, repository, rules
from network.health.models import (
    DEVICE_ITSELF,
    ConditionKind,
    Device,
    DeviceInterface,
    DeviceStatus,
    HealthCondition,
    HealthState,
    Incident,
    IncidentLine,
)
from network.health.service import PollAssignment
from network.snmp import rates as snmp_rates
from network.snmp.samples import DeviceSample, DslLineSample, IfStatus, InterfaceSample
from network.snmp.types import AuthProtocol, Community, PrivProtocol, Target, UsmUser

log = logging.getLogger("opentelecom.network.health")


def target_for(assignment: PollAssignment) -> Target:
    """The SNMP adapter's target for a leased device; a whole poll gets a few request timeouts' worth."""
    credentials = assignment.credentials
    secret: Community | UsmUser
    if credentials.community is not None:
        secret = Community(credentials.community)
    else:
        # The inventory holds v3 as authPriv only (devices.credentials_complete).
        assert credentials.user and credentials.auth_key and credentials.priv_key
        assert credentials.auth_protocol and credentials.priv_protocol
        secret = UsmUser(
            user=credentials.user,
            auth_key=credentials.auth_key,
            priv_key=credentials.priv_key,
            auth_protocol=AuthProtocol[credentials.auth_protocol.name],
            priv_protocol=PrivProtocol[credentials.priv_protocol.name],
        )
    per_request = assignment.timeout_s * (assignment.retries + 1)
    return Target(
        host=assignment.host,
        port=assignment.port,
        credentials=secret,
        timeout_s=assignment.timeout_s,
        retries=assignment.retries,
        deadline_s=min(120.0, max(10.0, 4 * per_request)),
    )


def _previous(device: Device, status: DeviceStatus, interfaces: Mapping[int, DeviceInterface]) -> DeviceSample | None:
    """The last answer as a sample, to take deltas against (None before the first answer)."""
    if status.last_ok_at is None:
        return None
    return DeviceSample(
        address=f"{device.host}:{device.port}",
        taken_at=status.last_ok_at,
        reachable=True,
        uptime_ticks=status.uptime_cs,
        interfaces={
            index: InterfaceSample(
                index=index,
                name=row.name,
                admin_status=None,
                oper_status=None,
                in_octets=int(row.in_octets) if row.in_octets is not None else None,
                out_octets=int(row.out_octets) if row.out_octets is not None else None,
                in_errors=int(row.in_errors) if row.in_errors is not None else None,
                out_errors=int(row.out_errors) if row.out_errors is not None else None,
                speed_mbps=row.speed_mbps,
                counter_bits=row.counter_bits,
            )
            for index, row in interfaces.items()
        },
    )


def _tenths(db: float | None) -> int | None:
    return round(db * 10) if db is not None else None


def _kbps(bps: int | None) -> int | None:
    return bps // 1000 if bps is not None else None


def _status_of(value: int | None) -> bool | None:
    return None if value is None else value == IfStatus.UP


def _apply_interface(
    row: DeviceInterface, sample: InterfaceSample, rate: snmp_rates.InterfaceRates | None, dsl: DslLineSample | None
) -> None:
    row.name = sample.name[:255] or f"ifIndex {sample.index}"
    row.admin_up = _status_of(sample.admin_status)
    row.oper_up = _status_of(sample.oper_status)
    row.speed_mbps = sample.speed_mbps
    row.in_octets, row.out_octets = sample.in_octets, sample.out_octets
    row.in_errors, row.out_errors = sample.in_errors, sample.out_errors
    row.counter_bits = sample.counter_bits
    row.in_bps = round(rate.in_bps) if rate and rate.in_bps is not None else None
    row.out_bps = round(rate.out_bps) if rate and rate.out_bps is not None else None
    errors = [e for e in (rate.in_errors_per_s, rate.out_errors_per_s) if e is not None] if rate else []
    row.errors_per_s = sum(errors) if errors else None
    row.actual_down_kbps = _kbps(dsl.actual_rate_down_bps) if dsl else None
    row.actual_up_kbps = _kbps(dsl.actual_rate_up_bps) if dsl else None
    row.attainable_down_kbps = _kbps(dsl.attainable_rate_down_bps) if dsl else None
    row.attainable_up_kbps = _kbps(dsl.attainable_rate_up_bps) if dsl else None
    row.snr_margin_down_tenth_db = _tenths(dsl.snr_margin_down_db) if dsl else None
    row.snr_margin_up_tenth_db = _tenths(dsl.snr_margin_up_db) if dsl else None
    row.attenuation_down_tenth_db = _tenths(dsl.attenuation_down_db) if dsl else None
    row.attenuation_up_tenth_db = _tenths(dsl.attenuation_up_db) if dsl else None


async def record(
    session: AsyncSession, *, settings: Settings, owner: str, device_id: int, sample: DeviceSample
) -> bool:
    """Keep what one poll found; False when the device is gone or no longer leased to ``owner``."""
    status = await session.get(DeviceStatus, device_id, with_for_update=True)
    device = await session.get(Device, device_id)
    if status is None or device is None:
        return False
    if status.lease_owner != owner:
        log.warning("poll of %s by %s dropped: the device is leased to %s now", device.name, owner, status.lease_owner)
        return False
    at = sample.taken_at
    interfaces = await repository.interfaces(session, device_id)
    gap = max(snmp_rates.DEFAULT_MAX_GAP_S, 3.0 * device.poll_interval_s)
    rates = snmp_rates.device_rates(_previous(device, status, interfaces), sample, max_gap_s=gap)

    status.last_polled_at = at
    status.next_poll_at = at + timedelta(seconds=device.poll_interval_s)
    status.lease_owner, status.lease_until = None, None
    if sample.reachable:
        status.last_ok_at, status.last_error, status.failures_in_a_row = at, None, 0
        status.uptime_cs = sample.uptime_ticks
        status.cpu_percent = round(sample.cpu_load_percent) if sample.cpu_load_percent is not None else None
        total, used = sample.memory_total_bytes, sample.memory_used_bytes
        status.memory_percent = round(100 * used / total) if total and used is not None else None
        for index, observed in sample.interfaces.items():
            row = interfaces.get(index)
            if row is None:
                row = interfaces[index] = DeviceInterface(
                    device_id=device_id, if_index=index, sampled_at=at, state_since=at
                )
                session.add(row)
            _apply_interface(row, observed, rates.interfaces.get(index), sample.dsl_lines.get(index))
            row.sampled_at = at
    else:
        status.last_error = (sample.error or "no answer")[:255]
        status.failures_in_a_row += 1

    findings: dict[int, list[rules.Finding]] = {
        DEVICE_ITSELF: rules.device_findings(
            reachable=sample.reachable, error=sample.error, cpu_percent=sample.cpu_load_percent, settings=settings
        )
    }
    if sample.reachable:
        for index in sample.interfaces:
            row = interfaces[index]
            findings[index] = rules.interface_findings(
                admin_up=row.admin_up,
                oper_up=row.oper_up,
                snr_margin_down_db=row.snr_margin_down_tenth_db / 10
                if row.snr_margin_down_tenth_db is not None
                else None,
                errors_per_s=row.errors_per_s,
                settings=settings,
            )
    held = await _conditions(session, settings=settings, device=device, at=at, findings=findings)
    _set_state(status, held.get(DEVICE_ITSELF, ()), at)
    for index in findings.keys() - {DEVICE_ITSELF}:
        _set_state(interfaces[index], held.get(index, ()), at)
    if sample.reachable:
        await history.add(
            session, device_id=device_id, at=at, interfaces=interfaces.values(), indexes=sample.interfaces
        )
    await session.flush()
    return True


def _set_state(subject: DeviceStatus | DeviceInterface, kinds: Iterable[ConditionKind], at: datetime) -> None:
    state = rules.state_of(kinds)
    if subject.state is not state:
        subject.state, subject.state_since = state, at


async def _conditions(
    session: AsyncSession,
    *,
    settings: Settings,
    device: Device,
    at: datetime,
    findings: Mapping[int, list[rules.Finding]],
) -> dict[int, list[ConditionKind]]:
    """Bring the device's conditions in line with this poll's findings (subjects not checked this time, the
    interfaces of a device that did not answer, keep theirs), open incidents for conditions that lasted,
    close those whose condition cleared. The kinds that hold now, by subject."""
    existing = {(c.if_index, c.kind): c for c in await repository.conditions(session, device.id)}
    found = {(index, f.kind): f for index, listed in findings.items() for f in listed}
    ended: list[LineOutagesEnded] = []
    for key, condition in existing.items():
        if key[0] in findings and key not in found:
            if condition.incident_id is not None:
                incident = await session.get(Incident, condition.incident_id)
                if incident is not None and incident.ended_at is None:
                    incident.ended_at = max(at, incident.started_at)
                    if incident.severity is HealthState.DOWN:
                        ended.append(await _outage_ended(session, incident, settings))
            await session.delete(condition)
    if ended:
        await publish(session, *ended)
    held: dict[int, list[ConditionKind]] = {}
    lasting = timedelta(seconds=settings.health_incident_after_s)
    for (index, kind), finding in found.items():
        condition = existing.get((index, kind)) or HealthCondition(
            device_id=device.id, if_index=index, kind=kind, since=at, detail=finding.detail
        )
        session.add(condition)
        condition.detail = finding.detail
        held.setdefault(index, []).append(kind)
        if condition.incident_id is None and at - condition.since >= lasting:
            condition.incident_id = await _open_incident(session, device=device, condition=condition)
    for index, kind in existing:
        if index not in findings:
            held.setdefault(index, []).append(kind)
    return held


async def _outage_ended(session: AsyncSession, incident: Incident, settings: Settings) -> LineOutagesEnded:
    assert incident.ended_at is not None
    return LineOutagesEnded(
        incident_id=incident.id,
        line_ids=tuple(await repository.incident_lines(session, incident.id)),
        started_at=incident.started_at,
        ended_at=incident.ended_at,
        timezone=settings.timezone,
    )


async def _open_incident(session: AsyncSession, *, device: Device, condition: HealthCondition) -> int:
    where = (
        ""
        if condition.if_index == DEVICE_ITSELF
        else f" {await repository.interface_name(session, device.id, condition.if_index)}"
    )
    incident = Incident(
        kind=condition.kind,
        severity=condition.kind.severity,
        device_id=device.id,
        if_index=condition.if_index,
        summary=f"{device.name}{where}: {condition.detail}"[:255],
        started_at=condition.since,
    )
    session.add(incident)
    await session.flush()
    lines = await repository.lines_on(
        session, device_id=device.id, if_index=None if condition.if_index == DEVICE_ITSELF else condition.if_index
    )
    session.add_all(IncidentLine(incident_id=incident.id, line_id=line_id) for line_id in lines)
    log.info("incident %s opened: %s (%s lines)", incident.id, incident.summary, len(lines))
    return incident.id


async def prune(session: AsyncSession, *, now: datetime) -> int:
    """Drop history past its resolution's keeping time (run hourly by the poller)."""
    return await history.prune(session, now=now)
