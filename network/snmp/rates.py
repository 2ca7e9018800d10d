"""Rates from two samples of one device (pure functions, no I/O).

Counters only ever grow and wrap at 2^32 or 2^64, so a delta is taken modulo the counter's width (one wrap
between samples is fine). Two things make a delta meaningless, and then there is no rate and the current
sample is the new baseline:

* the device restarted: its counters started again from zero. sysUpTime tells: it went back, or it grew
  less than the time that passed between the samples (the agent was down for part of it). A sysUpTime
  that went back only because it wrapped (2^32 ticks, 497 days) is told apart by the time that passed.
* too much time between the samples (``max_gap_s``): an average over hours says little, and a 32-bit
  counter may have wrapped more than once. Per interface, a 32-bit counter whose interface speed could
  wrap it within the interval also gives no rate, and neither does a delta faster than twice the interface
  speed (a counter that was reset without a restart, e.g. a re-created interface).

The interval is the agent's own (sysUpTime delta) when both samples have one: it is the clock the counters
were read against; otherwise the poller's time between the samples.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from network.snmp.samples import DeviceSample, InterfaceSample

UPTIME_WRAP = 2**32  # sysUpTime is TimeTicks (32 bits of 1/100 s)
DEFAULT_MAX_GAP_S = 900.0
# How far sysUpTime may fall behind the wall clock between two samples before we call it a restart:
# request latency and the agents' own uptime caching (net-snmp caches for a second or so).
_CLOCK_SLACK_S = 3.0
_CLOCK_SLACK_RATIO = 0.05
_BURST_FACTOR = 2.0  # a rate above this many times the interface speed is a counter discontinuity


class RateStatus(enum.StrEnum):
    """Whether two samples give rates, and if not why."""

    OK = "ok"
    NO_BASELINE = "no_baseline"  # no earlier answer to compare with (first poll, or it was unreachable)
    REBOOTED = "rebooted"  # sysUpTime says the device restarted between the samples
    GAP = "gap"  # the samples are further apart than max_gap_s
    NO_INTERVAL = "no_interval"  # no time passed between the samples (or the clocks went back)


@dataclass(frozen=True)
class InterfaceRates:
    """Per-second figures of one interface; None where that counter gives no rate this time."""

    index: int
    in_bps: float | None
    out_bps: float | None
    in_errors_per_s: float | None
    out_errors_per_s: float | None


@dataclass(frozen=True)
class DeviceRates:
    """The rates between two samples of a device; ``interfaces`` is empty unless ``status`` is OK."""

    status: RateStatus
    interval_s: float | None = None
    interfaces: Mapping[int, InterfaceRates] = field(default_factory=dict)


def counter_delta(previous: int, current: int, *, bits: int) -> int:
    """How much a ``bits``-wide counter grew from ``previous`` to ``current``, allowing one wrap."""
    if bits not in (32, 64):
        raise ValueError(f"counters are 32 or 64 bits wide, not {bits}")
    modulus = 1 << bits
    if not (0 <= previous < modulus and 0 <= current < modulus):
        raise ValueError(f"counter values outside 0..2^{bits}-1")
    return (current - previous) % modulus


def interval(previous: DeviceSample, current: DeviceSample) -> tuple[RateStatus, float | None]:
    """The time between two samples and whether the device restarted in between (see module doc)."""
    wall_s = (current.taken_at - previous.taken_at).total_seconds()
    if wall_s <= 0:
        return RateStatus.NO_INTERVAL, None
    before, after = previous.uptime_ticks, current.uptime_ticks
    if before is None or after is None:
        return RateStatus.OK, wall_s
    slack = max(_CLOCK_SLACK_S, _CLOCK_SLACK_RATIO * wall_s)
    if after >= before:
        uptime_s = (after - before) / 100
    else:
        wrapped_s = (after + UPTIME_WRAP - before) / 100
        if abs(wrapped_s - wall_s) > slack:
            return RateStatus.REBOOTED, None
        uptime_s = wrapped_s
    if uptime_s < wall_s - slack:
        # The agent's clock ran for less time than passed: it was not running all along.
        return RateStatus.REBOOTED, None
    if uptime_s <= 0:
        return RateStatus.NO_INTERVAL, None
    return RateStatus.OK, uptime_s


def device_rates(
    previous: DeviceSample | None, current: DeviceSample, *, max_gap_s: float = DEFAULT_MAX_GAP_S
) -> DeviceRates:
    """Rates of every interface between ``previous`` and ``current`` (samples of the same device)."""
    if previous is None or not previous.reachable or not current.reachable:
        return DeviceRates(RateStatus.NO_BASELINE)
    status, seconds = interval(previous, current)
    if status is not RateStatus.OK or seconds is None:
        return DeviceRates(status)
    if seconds > max_gap_s:
        return DeviceRates(RateStatus.GAP, seconds)
    rates = {
        index: interface_rates(before, interface, seconds)
        for index, interface in current.interfaces.items()
        if (before := previous.interfaces.get(index)) is not None
    }
    return DeviceRates(RateStatus.OK, seconds, rates)


def interface_rates(before: InterfaceSample, after: InterfaceSample, seconds: float) -> InterfaceRates:
    """One interface's rates over ``seconds`` (already checked: no restart, no gap)."""
    octets_ok = before.counter_bits == after.counter_bits
    speed_bps = after.speed_mbps * 1_000_000 if after.speed_mbps else None
    if octets_ok and after.counter_bits == 32 and speed_bps and seconds > (2**32 * 8) / speed_bps:
        # At line rate this counter could have wrapped more than once: the delta is ambiguous.
        octets_ok = False

    def octet_rate(old: int | None, new: int | None) -> float | None:
        if not octets_ok or old is None or new is None:
            return None
        bps = counter_delta(old, new, bits=after.counter_bits) * 8 / seconds
        if speed_bps and bps > _BURST_FACTOR * speed_bps:
            return None
        return bps

    def error_rate(old: int | None, new: int | None) -> float | None:
        if old is None or new is None:
            return None
        return counter_delta(old, new, bits=32) / seconds

    return InterfaceRates(
        index=after.index,
        in_bps=octet_rate(before.in_octets, after.in_octets),
        out_bps=octet_rate(before.out_octets, after.out_octets),
        in_errors_per_s=error_rate(before.in_errors, after.in_errors),
        out_errors_per_s=error_rate(before.out_errors, after.out_errors),
    )
