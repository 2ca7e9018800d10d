"""Prometheus metrics: the pollers' own figures (this process's) and the latest device and line figures
from the database, in the text exposition format, named after Prometheus's conventions (base units, a
``_total`` suffix on counters, labels for what varies).

Line figures are exported per line that has a port in the inventory, labelled by line id only: the
metrics carry no member's name or address.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from network.health.models import Device, DeviceInterface, DeviceStatus, HealthState, Incident, LinePort


@dataclass
class PollerStats:
    """What the pollers of this process did since it started."""

    rounds: int = 0
    polls: Counter[str] = field(default_factory=Counter)  # by result: ok, unreachable
    errors: Counter[str] = field(default_factory=Counter)  # by SNMP error code
    poll_seconds_sum: float = 0.0
    poll_seconds_count: int = 0
    recorded: int = 0
    record_failures: int = 0


STATS = PollerStats()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: object) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(str(value))}"' for key, value in labels.items()) + "}"


class _Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, object], float]]) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            suffix = "_total" if kind == "counter" else ""
            self.lines.append(f"{name}{suffix}{_labels(**labels)} {value:g}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _poller(out: _Out, stats: PollerStats) -> None:
    out.family("opentelecom_snmp_poll_rounds", "counter", "Poll rounds run by this process.", [({}, stats.rounds)])
    out.family(
        "opentelecom_snmp_polls",
        "counter",
        "Device polls by this process, by result.",
        [({"result": result}, stats.polls.get(result, 0)) for result in ("ok", "unreachable")],
    )
    out.family(
        "opentelecom_snmp_poll_errors",
        "counter",
        "Failed device polls by this process, by SNMP error.",
        [({"code": code}, count) for code, count in sorted(stats.errors.items())],
    )
    out.lines.append("# HELP opentelecom_snmp_poll_duration_seconds Time one device poll took (this process).")
    out.lines.append("# TYPE opentelecom_snmp_poll_duration_seconds summary")
    out.lines.append(f"opentelecom_snmp_poll_duration_seconds_sum {stats.poll_seconds_sum:g}")
    out.lines.append(f"opentelecom_snmp_poll_duration_seconds_count {stats.poll_seconds_count}")
    out.family(
        "opentelecom_snmp_record_failures",
        "counter",
        "Polls whose result could not be stored (the device is polled again when its lease runs out).",
        [({}, stats.record_failures)],
    )


async def render(session: AsyncSession, *, stats: PollerStats = STATS) -> str:
    """The whole exposition, read in a few queries."""
    out = _Out()
    _poller(out, stats)
    devices = (
        await session.execute(
            sa.select(Device.name, Device.kind, DeviceStatus)
            .join(DeviceStatus, DeviceStatus.device_id == Device.id)
            .where(Device.is_active.is_(True))
            .order_by(Device.name)
        )
    ).all()
    out.family(
        "opentelecom_device_up",
        "gauge",
        "Whether the device answered its last poll (1) or not (0).",
        [({"device": name, "kind": kind.value}, 1 if s.last_ok_at and s.last_ok_at == s.last_polled_at else 0)
         for name, kind, s in devices if s.last_polled_at],
    )  # fmt: skip
    out.family(
        "opentelecom_device_state",
        "gauge",
        "The device's health state (1 for the state it is in).",
        [({"device": name, "state": state.value}, 1 if s.state is state else 0)
         for name, _, s in devices for state in HealthState],
    )  # fmt: skip
    out.family(
        "opentelecom_device_cpu_ratio",
        "gauge",
        "CPU load of the device at its last poll (0 to 1).",
        [({"device": name}, s.cpu_percent / 100) for name, _, s in devices if s.cpu_percent is not None],
    )
    lines = (
        await session.execute(
            sa.select(LinePort.line_id, DeviceInterface)
            .join(
                DeviceInterface,
                sa.and_(DeviceInterface.device_id == LinePort.device_id, DeviceInterface.if_index == LinePort.if_index),
            )
            .order_by(LinePort.line_id)
        )
    ).all()
    out.family(
        "opentelecom_line_up",
        "gauge",
        "Whether the line's port was up at its last poll.",
        [({"line": line_id}, 1 if i.oper_up else 0) for line_id, i in lines if i.oper_up is not None],
    )
    out.family(
        "opentelecom_line_traffic_bits_per_second",
        "gauge",
        "Traffic on the line's port between its last two polls, as the device counts it.",
        [({"line": line_id, "direction": d}, v) for line_id, i in lines
         for d, v in (("in", i.in_bps), ("out", i.out_bps)) if v is not None],
    )  # fmt: skip
    out.family(
        "opentelecom_line_sync_rate_bits_per_second",
        "gauge",
        "The DSL line's actual data rate.",
        [({"line": line_id, "direction": d}, 1000 * v) for line_id, i in lines
         for d, v in (("down", i.actual_down_kbps), ("up", i.actual_up_kbps)) if v is not None],
    )  # fmt: skip
    out.family(
        "opentelecom_line_snr_margin_decibels",
        "gauge",
        "The DSL line's signal-to-noise margin.",
        [({"line": line_id, "direction": d}, v / 10) for line_id, i in lines
         for d, v in (("down", i.snr_margin_down_tenth_db), ("up", i.snr_margin_up_tenth_db)) if v is not None],
    )  # fmt: skip
    open_by_severity = dict(
        (
            await session.execute(
                sa.select(Incident.severity, sa.func.count())
                .where(Incident.ended_at.is_(None))
                .group_by(Incident.severity)
            )
        ).all()
    )
    out.family(
        "opentelecom_incidents_open",
        "gauge",
        "Incidents not ended yet, by severity.",
        [({"severity": s.value}, open_by_severity.get(s, 0)) for s in (HealthState.DOWN, HealthState.DEGRADED)],
    )
    return out.text()
