"""What one poll of one device found, as plain frozen dataclasses (made by ``network.snmp.poller``, read by
``network.snmp.rates`` and by whoever stores them)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


class IfStatus(enum.IntEnum):
    """IF-MIB ifAdminStatus / ifOperStatus values (RFC 2863)."""

    UP = 1
    DOWN = 2
    TESTING = 3
    UNKNOWN = 4
    DORMANT = 5
    NOT_PRESENT = 6
    LOWER_LAYER_DOWN = 7


class DslMib(enum.StrEnum):
    """Which MIB a DSL port's figures came from."""

    VDSL2 = "vdsl2"  # VDSL2-LINE-MIB (RFC 5650), also used for ADSL2+ on VDSL2 line cards
    ADSL = "adsl"  # ADSL-LINE-MIB (RFC 2662)


@dataclass(frozen=True)
class InterfaceSample:
    """One IF-MIB row. Octet counters are ifHCIn/OutOctets (``counter_bits`` 64) or, on agents without
    ifXTable counters, ifIn/OutOctets (32). None: the agent did not return that column for this row."""

    index: int
    name: str
    admin_status: int | None
    oper_status: int | None
    in_octets: int | None
    out_octets: int | None
    in_errors: int | None
    out_errors: int | None
    speed_mbps: int | None
    if_type: int | None = None
    counter_bits: int = 64

    @property
    def is_up(self) -> bool:
        return self.oper_status == IfStatus.UP


@dataclass(frozen=True)
class DslLineSample:
    """A DSL port's line figures. Rates in bit/s; SNR margin and attenuation in dB (the MIBs' 0.1 dB
    units divided by ten); None where the agent reports the figure unavailable (2147483646), out of range
    (2147483647) or not at all."""

    index: int
    mib: DslMib
    actual_rate_down_bps: int | None
    actual_rate_up_bps: int | None
    attainable_rate_down_bps: int | None
    attainable_rate_up_bps: int | None
    snr_margin_down_db: float | None
    snr_margin_up_db: float | None
    attenuation_down_db: float | None
    attenuation_up_db: float | None


@dataclass(frozen=True)
class DeviceSample:
    """One poll of one device. ``reachable`` False means no authentic answer (``error`` says why: its
    ``SnmpErrorCode`` value and detail); every other figure is then empty. ``uptime_ticks`` is sysUpTime
    (1/100 s). ``cpu_load_percent`` is the mean hrProcessorLoad over the device's processors."""

    address: str
    taken_at: datetime
    reachable: bool
    error: str | None = None
    error_code: str | None = None
    uptime_ticks: int | None = None
    interfaces: Mapping[int, InterfaceSample] = field(default_factory=dict)
    cpu_load_percent: float | None = None
    memory_total_bytes: int | None = None
    memory_used_bytes: int | None = None
    dsl_lines: Mapping[int, DslLineSample] = field(default_factory=dict)
    duration_s: float = 0.0
