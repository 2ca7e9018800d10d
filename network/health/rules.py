"""Health rules: what a poll's figures say is wrong with a device or an interface (pure, no I/O).

A device that does not answer is ``device_unreachable``; a busy CPU is ``cpu_high``. An interface that is
not operationally up is ``interface_down``, also when it was switched off on purpose (the line behind it
does not work either way, and the incident records who knew); a DSL port whose downstream SNR margin is
below the threshold, or an interface with more errors per second than allowed, is degraded. Thresholds
come from the settings (``health_*``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.settings import Settings
from network.health.models import ConditionKind, HealthState


@dataclass(frozen=True, slots=True)
class Finding:
    kind: ConditionKind
    detail: str


def device_findings(
    *, reachable: bool, error: str | None, cpu_percent: float | None, settings: Settings
) -> list[Finding]:
    if not reachable:
        return [Finding(ConditionKind.DEVICE_UNREACHABLE, f"no SNMP answer: {error or 'timeout'}"[:255])]
    if cpu_percent is not None and cpu_percent > settings.health_cpu_max_percent:
        return [Finding(ConditionKind.CPU_HIGH, f"CPU at {cpu_percent:.0f} %")]
    return []


def interface_findings(
    *,
    admin_up: bool | None,
    oper_up: bool | None,
    snr_margin_down_db: float | None,
    errors_per_s: float | None,
    settings: Settings,
) -> list[Finding]:
    if admin_up is False:
        return [Finding(ConditionKind.INTERFACE_DOWN, "interface is switched off (administratively down)")]
    if oper_up is False:
        return [Finding(ConditionKind.INTERFACE_DOWN, "interface is down")]
    found = []
    if snr_margin_down_db is not None and snr_margin_down_db < settings.health_snr_margin_min_db:
        found.append(Finding(ConditionKind.SNR_MARGIN_LOW, f"downstream SNR margin {snr_margin_down_db:.1f} dB"))
    if errors_per_s is not None and errors_per_s > settings.health_error_rate_max_per_s:
        found.append(Finding(ConditionKind.ERROR_RATE, f"{errors_per_s:.1f} errors/s"))
    return found


def state_of(kinds: Iterable[ConditionKind]) -> HealthState:
    """The worst severity among the conditions that hold; none: ok."""
    severities = {kind.severity for kind in kinds}
    if HealthState.DOWN in severities:
        return HealthState.DOWN
    return HealthState.DEGRADED if severities else HealthState.OK
