"""Rates from two samples (network.snmp.rates), without agents: wraps, restarts, gaps, discontinuities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from network.snmp.rates import RateStatus, counter_delta, device_rates, interval
from network.snmp.samples import DeviceSample, InterfaceSample

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def interface(
    *, in_octets: int = 0, out_octets: int = 0, in_errors: int = 0, bits: int = 64, speed_mbps: int | None = 1000
) -> InterfaceSample:
    return InterfaceSample(
        index=3,
        name="eth0",
        admin_status=1,
        oper_status=1,
        in_octets=in_octets,
        out_octets=out_octets,
        in_errors=in_errors,
        out_errors=0,
        speed_mbps=speed_mbps,
        counter_bits=bits,
    )


def sample(*, at_s: float, uptime_s: float | None, port: InterfaceSample, reachable: bool = True) -> DeviceSample:
    return DeviceSample(
        address="192.0.2.1:161",
        taken_at=T0 + timedelta(seconds=at_s),
        reachable=reachable,
        uptime_ticks=None if uptime_s is None else int(uptime_s * 100) % 2**32,
        interfaces={3: port},
    )


def test_counter_delta_allows_one_wrap_of_either_width() -> None:
    assert counter_delta(10, 25, bits=64) == 15
    assert counter_delta(2**64 - 5, 10, bits=64) == 15
    assert counter_delta(2**32 - 1, 0, bits=32) == 1
    with pytest.raises(ValueError, match="outside"):
        counter_delta(2**32, 0, bits=32)


def test_64_bit_counter_that_wrapped_gives_the_true_rate() -> None:
    before = sample(at_s=0, uptime_s=1000, port=interface(in_octets=2**64 - 1_000_000, out_octets=500))
    after = sample(at_s=60, uptime_s=1060, port=interface(in_octets=5_000_000, out_octets=500 + 60_000))
    rates = device_rates(before, after)
    assert rates.status is RateStatus.OK
    assert rates.interval_s == pytest.approx(60)
    assert rates.interfaces[3].in_bps == pytest.approx(6_000_000 * 8 / 60)
    assert rates.interfaces[3].out_bps == pytest.approx(8_000)


def test_32_bit_counter_that_wrapped_gives_the_true_rate() -> None:
    before = sample(at_s=0, uptime_s=50, port=interface(in_octets=2**32 - 100, in_errors=2**32 - 1, bits=32))
    after = sample(at_s=10, uptime_s=60, port=interface(in_octets=900, in_errors=9, bits=32))
    port = device_rates(before, after).interfaces[3]
    assert port.in_bps == pytest.approx(1000 * 8 / 10)
    assert port.in_errors_per_s == pytest.approx(1.0)


def test_uptime_that_went_back_is_a_restart_and_gives_no_rate() -> None:
    before = sample(at_s=0, uptime_s=86_400, port=interface(in_octets=10**12))
    after = sample(at_s=300, uptime_s=120, port=interface(in_octets=10**6))
    assert device_rates(before, after).status is RateStatus.REBOOTED
    assert device_rates(before, after).interfaces == {}


def test_restart_that_left_uptime_above_the_old_value_is_still_found() -> None:
    # Up 10 s at the first poll; restarted, and up 200 s when polled again 300 s later.
    before = sample(at_s=0, uptime_s=10, port=interface(in_octets=5000))
    after = sample(at_s=300, uptime_s=200, port=interface(in_octets=9000))
    assert device_rates(before, after).status is RateStatus.REBOOTED


def test_uptime_wrapping_after_497_days_is_not_a_restart() -> None:
    before = sample(at_s=0, uptime_s=(2**32 - 3000) / 100, port=interface(in_octets=0))
    after = sample(at_s=60, uptime_s=(2**32 + 3000) / 100, port=interface(in_octets=7_500_000))
    status, seconds = interval(before, after)
    assert status is RateStatus.OK
    assert seconds == pytest.approx(60)
    assert device_rates(before, after).interfaces[3].in_bps == pytest.approx(1_000_000)


def test_samples_too_far_apart_give_no_rate() -> None:
    before = sample(at_s=0, uptime_s=100, port=interface(in_octets=0))
    after = sample(at_s=3600, uptime_s=3700, port=interface(in_octets=10**9))
    assert device_rates(before, after).status is RateStatus.GAP
    assert device_rates(before, after, max_gap_s=7200).status is RateStatus.OK


def test_32_bit_counter_that_could_have_wrapped_twice_gives_no_rate() -> None:
    # 10 Gbit/s wraps a 32-bit octet counter every 3.4 s: a 60 s delta is ambiguous.
    before = sample(at_s=0, uptime_s=100, port=interface(in_octets=0, bits=32, speed_mbps=10_000))
    after = sample(at_s=60, uptime_s=160, port=interface(in_octets=1000, in_errors=6, bits=32, speed_mbps=10_000))
    port = device_rates(before, after).interfaces[3]
    assert port.in_bps is None
    assert port.in_errors_per_s == pytest.approx(0.1)


def test_counter_reset_without_restart_gives_no_rate() -> None:
    # The counter went back (a re-created interface): modulo 2^64 that would be an absurd rate.
    before = sample(at_s=0, uptime_s=100, port=interface(in_octets=10**9))
    after = sample(at_s=60, uptime_s=160, port=interface(in_octets=10))
    assert device_rates(before, after).interfaces[3].in_bps is None


def test_no_baseline_when_either_sample_is_unanswered_or_missing() -> None:
    answered = sample(at_s=60, uptime_s=160, port=interface())
    unanswered = sample(at_s=0, uptime_s=None, port=interface(), reachable=False)
    assert device_rates(None, answered).status is RateStatus.NO_BASELINE
    assert device_rates(unanswered, answered).status is RateStatus.NO_BASELINE


def test_wall_clock_is_the_interval_when_the_agent_has_no_uptime() -> None:
    before = sample(at_s=0, uptime_s=None, port=interface(in_octets=0))
    after = sample(at_s=20, uptime_s=None, port=interface(in_octets=2_500_000))
    rates = device_rates(before, after)
    assert rates.interval_s == pytest.approx(20)
    assert rates.interfaces[3].in_bps == pytest.approx(1_000_000)


def test_time_that_did_not_advance_gives_no_rate() -> None:
    now = sample(at_s=0, uptime_s=100, port=interface())
    assert device_rates(now, now).status is RateStatus.NO_INTERVAL
