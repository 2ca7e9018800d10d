"""The poller (network.snmp) against real agents: net-snmp's snmpd in a namespace of the test's own and
snmpsim on loopback. Its figures are checked against what Debian's snmpget/snmpbulkwalk read from the
same agent."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from network.snmp import DeviceSample, DslMib, IfStatus, SnmpErrorCode, Target, oids, poll_device, poll_many
from network.snmp.client import shared_client
from network.snmp.poller import SnmpBackend
from network.snmp.rates import RateStatus, device_rates
from tests.network.snmp.agents import NamespaceAgent, RunningSimulator

pytestmark = pytest.mark.snmp

AGENT_IF_CACHE_S = 3.5


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A loopback UDP port that is bound but never answers (no ICMP port-unreachable either): a dead device."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture(params=["default", "pysnmp"])
def backend(request: pytest.FixtureRequest) -> SnmpBackend | None:
    """The poller's default client (gufo-snmp on the hot path) and the pysnmp adapter on its own."""
    return None if request.param == "default" else shared_client()


def column(walk: dict[str, str], oid: str) -> dict[int, str]:
    """One column of a net-snmp walk, by ifIndex."""
    prefix = oid + "."
    return {int(key[len(prefix) :]): value for key, value in walk.items() if key.startswith(prefix)}


def text(value: str) -> str:
    """A net-snmp string value: as printed, or decoded where net-snmp printed hex (non-printable bytes,
    such as the NUL that ends Windows' ifDescr, which the poller strips)."""
    parts = value.split()
    if parts and all(len(part) == 2 and all(c in "0123456789ABCDEF" for c in part) for part in parts):
        return bytes.fromhex("".join(parts)).rstrip(b"\0").decode()
    return value


def check_interfaces_against(sample: DeviceSample, walk_before: dict[str, str], walk_after: dict[str, str]) -> None:
    """Statuses, names, speeds and error counters equal what net-snmp read; octet counters lie between
    the walk before and the walk after the poll (the management link carries the polls themselves)."""
    names = column(walk_before, oids.IF_NAME) or column(walk_before, oids.IF_DESCR)
    assert sorted(sample.interfaces) == sorted(names)
    exact = {
        oids.IF_ADMIN_STATUS: "admin_status",
        oids.IF_OPER_STATUS: "oper_status",
        oids.IF_HIGH_SPEED: "speed_mbps",
        oids.IF_TYPE: "if_type",
    }
    for oid, attribute in exact.items():
        expected = {index: int(value) for index, value in column(walk_before, oid).items()}
        assert {i: getattr(s, attribute) for i, s in sample.interfaces.items() if i in expected} == expected, oid
    assert {i: s.name for i, s in sample.interfaces.items()} == {i: text(v) for i, v in names.items()}
    bits = 64 if column(walk_before, oids.IF_HC_IN_OCTETS) else 32
    in_oid, out_oid = (
        (oids.IF_HC_IN_OCTETS, oids.IF_HC_OUT_OCTETS) if bits == 64 else (oids.IF_IN_OCTETS, oids.IF_OUT_OCTETS)
    )
    for oid, attribute in (
        (in_oid, "in_octets"),
        (out_oid, "out_octets"),
        (oids.IF_IN_ERRORS, "in_errors"),
        (oids.IF_OUT_ERRORS, "out_errors"),
    ):
        low, high = column(walk_before, oid), column(walk_after, oid)
        for index, interface in sample.interfaces.items():
            assert int(low[index]) <= getattr(interface, attribute) <= int(high[index]), (oid, index)
    assert all(interface.counter_bits == bits for interface in sample.interfaces.values())


def interface_walk(walk: callable) -> dict[str, str]:  # type: ignore[valid-type]
    values: dict[str, str] = {}
    for oid in ("1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1"):
        values.update(walk(oid))
    return values


async def test_poller_reads_what_snmpbulkwalk_reads_from_snmpd_in_a_namespace(
    ns_agent: NamespaceAgent, backend: SnmpBackend | None
) -> None:
    before = interface_walk(ns_agent.walk)
    sample = await poll_device(ns_agent.v2c(), client=backend)
    after = interface_walk(ns_agent.walk)
    assert sample.reachable, sample.error
    assert {"lo", "mgmt0", *ns_agent.ports} == {i.name for i in sample.interfaces.values()}
    check_interfaces_against(sample, before, after)
    uptime = ns_agent.walk(oids.SYS_UPTIME)[oids.SYS_UPTIME]
    assert sample.uptime_ticks is not None and 0 < sample.uptime_ticks <= int(uptime)
    # HOST-RESOURCES: the namespace's host is this machine; RAM as hrStorageSize * units, CPU 0..100 %.
    storage = ns_agent.walk("1.3.6.1.2.1.25.2.3.1")
    ram = next(
        k.rsplit(".", 1)[1]
        for k, v in storage.items()
        if k.startswith(oids.HR_STORAGE_TYPE) and v.lstrip(".") == oids.HR_STORAGE_RAM
    )
    units = int(storage[f"{oids.HR_STORAGE_ALLOCATION_UNITS}.{ram}"])
    assert sample.memory_total_bytes == int(storage[f"{oids.HR_STORAGE_SIZE}.{ram}"]) * units
    assert sample.memory_used_bytes is not None and 0 < sample.memory_used_bytes <= sample.memory_total_bytes
    # hrProcessorLoad is a one-minute average: a fresh snmpd has no rows yet, and then neither do we.
    loads = column(ns_agent.walk(oids.HR_PROCESSOR_LOAD), oids.HR_PROCESSOR_LOAD)
    if loads:
        assert sample.cpu_load_percent == pytest.approx(sum(map(int, loads.values())) / len(loads), abs=5)
    else:
        assert sample.cpu_load_percent is None
    assert sample.dsl_lines == {}


async def test_interface_taken_down_shows_down_in_the_next_poll(
    ns_agent: NamespaceAgent, backend: SnmpBackend | None
) -> None:
    first = await poll_device(ns_agent.v2c(), client=backend)
    port = next(i for i in first.interfaces.values() if i.name == "port1")
    assert port.oper_status == IfStatus.UP and port.admin_status == IfStatus.UP
    ns_agent.set_link("port1", up=False)
    # net-snmp answers ifTable from a cache it refreshes at most every 3 s (its own view lags the kernel's
    # by that much); the first poll after that sees the change.
    await asyncio.sleep(AGENT_IF_CACHE_S)
    second = await poll_device(ns_agent.v2c(), client=backend)
    down = second.interfaces[port.index]
    assert (down.admin_status, down.oper_status) == (IfStatus.DOWN, IfStatus.DOWN)
    # Its veth peer loses carrier: administratively up, operationally not.
    peer = next(i for i in second.interfaces.values() if i.name == "port2")
    assert peer.admin_status == IfStatus.UP and peer.oper_status != IfStatus.UP
    ns_agent.set_link("port1", up=True)
    await asyncio.sleep(AGENT_IF_CACHE_S)
    third = await poll_device(ns_agent.v2c(), client=backend)
    assert third.interfaces[port.index].oper_status == IfStatus.UP


async def test_v3_works_and_a_wrong_key_fails_cleanly(ns_agent: NamespaceAgent, backend: SnmpBackend | None) -> None:
    good = await poll_device(ns_agent.v3(), client=backend)
    assert good.reachable, good.error
    assert {i.name for i in good.interfaces.values()} >= {"lo", "mgmt0", "port1"}
    started = time.monotonic()
    bad = await poll_device(ns_agent.v3(auth_key="not-the-right-pass-phrase", timeout_s=0.5, retries=0), client=backend)
    assert time.monotonic() - started < 3
    assert not bad.reachable
    assert bad.error_code in (SnmpErrorCode.AUTH, SnmpErrorCode.TIMEOUT)
    assert bad.interfaces == {} and bad.uptime_ticks is None
    # The shared engine is none the worse for it.
    again = await poll_device(ns_agent.v3(), client=backend)
    assert again.reachable and again.interfaces.keys() == good.interfaces.keys()


async def test_poller_reads_the_dslam_recording_as_snmpget_does(
    simulator: RunningSimulator, backend: SnmpBackend | None
) -> None:
    sample = await poll_device(simulator.v2c("dslam-vdsl2"), client=backend)
    assert sample.reachable, sample.error
    walk = interface_walk(lambda oid: simulator.walk("dslam-vdsl2", oid))
    check_interfaces_against(sample, walk, walk)  # a static recording: before and after are the same
    assert len(sample.interfaces) == 49
    assert sorted(sample.dsl_lines) == list(range(1, 49))
    wanted = []
    for port in range(1, 49):
        wanted += [
            f"{oids.XDSL2_CH_ACT_DATA_RATE}.{port}.1",
            f"{oids.XDSL2_CH_ACT_DATA_RATE}.{port}.2",
            f"{oids.XDSL2_ATTAINABLE_RATE_DS}.{port}",
            f"{oids.XDSL2_ATTAINABLE_RATE_US}.{port}",
            f"{oids.XDSL2_BAND_SNR_MARGIN}.{port}.2",
            f"{oids.XDSL2_BAND_SNR_MARGIN}.{port}.1",
            f"{oids.XDSL2_BAND_LN_ATTEN}.{port}.4",
            f"{oids.XDSL2_BAND_LN_ATTEN}.{port}.5",
        ]
    read: dict[str, str] = {}
    for start in range(0, len(wanted), 48):
        read.update(simulator.get("dslam-vdsl2", wanted[start : start + 48]))

    def tenth(value: str) -> float | None:
        return None if int(value) in (oids.XDSL2_UNAVAILABLE, oids.XDSL2_OUT_OF_RANGE) else int(value) / 10

    for port, line in sample.dsl_lines.items():
        assert line.mib is DslMib.VDSL2
        assert line.actual_rate_down_bps == int(read[f"{oids.XDSL2_CH_ACT_DATA_RATE}.{port}.1"])
        assert line.actual_rate_up_bps == int(read[f"{oids.XDSL2_CH_ACT_DATA_RATE}.{port}.2"])
        assert line.attainable_rate_down_bps == int(read[f"{oids.XDSL2_ATTAINABLE_RATE_DS}.{port}"])
        assert line.attainable_rate_up_bps == int(read[f"{oids.XDSL2_ATTAINABLE_RATE_US}.{port}"])
        assert line.snr_margin_down_db == tenth(read[f"{oids.XDSL2_BAND_SNR_MARGIN}.{port}.2"])
        assert line.snr_margin_up_db == tenth(read[f"{oids.XDSL2_BAND_SNR_MARGIN}.{port}.1"])
        assert line.attenuation_down_db == tenth(read[f"{oids.XDSL2_BAND_LN_ATTEN}.{port}.4"])
        assert line.attenuation_up_db == tenth(read[f"{oids.XDSL2_BAND_LN_ATTEN}.{port}.5"])
    # What the recording says of its special ports.
    assert sample.dsl_lines[45].snr_margin_down_db == pytest.approx(1.8)
    assert sample.dsl_lines[47].snr_margin_down_db is None and sample.dsl_lines[47].actual_rate_down_bps == 0
    assert sample.interfaces[46].admin_status == IfStatus.DOWN
    assert 50e6 < sample.dsl_lines[1].actual_rate_down_bps <= 116.8e6  # type: ignore[operator]


@pytest.mark.parametrize("recording", ["linux-full-walk", "winxp-full-walk"])
async def test_poller_reads_snmpsims_walks_of_real_devices_as_snmpbulkwalk_does(
    simulator: RunningSimulator, recording: str
) -> None:
    sample = await poll_device(simulator.v2c(recording))
    assert sample.reachable, sample.error
    walk = interface_walk(lambda oid: simulator.walk(recording, oid))
    check_interfaces_against(sample, walk, walk)
    loads = column(simulator.walk(recording, oids.HR_PROCESSOR_LOAD), oids.HR_PROCESSOR_LOAD)
    assert sample.cpu_load_percent == pytest.approx(sum(map(int, loads.values())) / len(loads))
    storage = simulator.walk(recording, "1.3.6.1.2.1.25.2.3.1")
    ram = next(
        k.rsplit(".", 1)[1]
        for k, v in storage.items()
        if k.startswith(oids.HR_STORAGE_TYPE) and v.lstrip(".") == oids.HR_STORAGE_RAM
    )
    units = int(storage[f"{oids.HR_STORAGE_ALLOCATION_UNITS}.{ram}"])
    assert sample.memory_total_bytes == int(storage[f"{oids.HR_STORAGE_SIZE}.{ram}"]) * units
    assert sample.memory_used_bytes == int(storage[f"{oids.HR_STORAGE_USED}.{ram}"]) * units


async def test_v3_against_snmpsim_and_a_wrong_privacy_key_fails_cleanly(simulator: RunningSimulator) -> None:
    good = await poll_device(simulator.v3("dslam-vdsl2"))
    assert good.reachable, good.error
    assert len(good.dsl_lines) == 48
    started = time.monotonic()
    bad = await poll_device(simulator.v3("dslam-vdsl2", priv_key="wrong-privacy-pass", timeout_s=0.5, retries=0))
    assert time.monotonic() - started < 3
    assert not bad.reachable and bad.error_code in (SnmpErrorCode.AUTH, SnmpErrorCode.TIMEOUT)


async def test_dead_device_times_out_without_delaying_the_others(
    simulator: RunningSimulator, black_hole: int, backend: SnmpBackend | None
) -> None:
    dead = Target(
        host="127.0.0.1",
        port=black_hole,
        credentials=simulator.v2c("x").credentials,
        timeout_s=2.0,
        retries=1,
        deadline_s=8.0,
    )
    live = [simulator.v2c("dslam-vdsl2", timeout_s=2.0) for _ in range(3)]
    started = time.monotonic()
    samples = await poll_many([dead, *live], concurrency=2, client=backend)
    wall = time.monotonic() - started
    assert not samples[0].reachable and samples[0].error_code == SnmpErrorCode.TIMEOUT
    # One request and one resend of 2 s each, within its own deadline.
    assert 3.6 <= samples[0].duration_s <= dead.deadline_s
    assert all(s.reachable for s in samples[1:])
    # The live ones went through the other slot while the dead one waited: each started before it gave up
    # (had they queued behind it, each would start after). Order, not speed: a busy machine slows every poll,
    # but three of them start well inside the dead one's 4 s.
    dead_ended = samples[0].taken_at + timedelta(seconds=samples[0].duration_s)
    assert all(s.taken_at < dead_ended for s in samples[1:]), [(s.taken_at, s.duration_s) for s in samples]
    assert wall < samples[0].duration_s + 1.5


async def test_a_poll_never_outlasts_its_deadline(simulator: RunningSimulator, black_hole: int) -> None:
    dead = Target(
        host="127.0.0.1",
        port=black_hole,
        credentials=simulator.v2c("x").credentials,
        timeout_s=5.0,
        retries=3,
        deadline_s=1.0,
    )
    started = time.monotonic()
    sample = await poll_device(dead)
    assert time.monotonic() - started < 1.5
    assert sample.error_code == SnmpErrorCode.TIMEOUT and "deadline" in (sample.error or "")


async def wait_past_wrap(sample: DeviceSample, wrap_at_s: float) -> None:
    # The stepping recordings count from snmpsim's start, which sysUpTime tells (1000 ticks at start).
    assert sample.uptime_ticks is not None
    running_s = (sample.uptime_ticks - 1000) / 100
    assert running_s < wrap_at_s - 0.5, "the counters wrapped before the first poll: snmpsim started too slowly"
    await asyncio.sleep(wrap_at_s - running_s + 1.0)


@pytest.mark.parametrize(("recording", "bits", "bps"), [("counters-step", 64, 8e9), ("counters-step32", 32, 8e8)])
async def test_counter_wrap_and_reboot_against_a_stepping_agent(
    stepping_simulator: RunningSimulator, recording: str, bits: int, bps: float
) -> None:
    target = stepping_simulator.v2c(recording)
    first = await poll_device(target)
    assert first.reachable, first.error
    await wait_past_wrap(first, 8.0)
    second = await poll_device(target)
    before, after = first.interfaces[1], second.interfaces[1]
    assert before.counter_bits == after.counter_bits == bits
    assert after.in_octets < before.in_octets  # type: ignore[operator]  # it wrapped in between
    rates = device_rates(first, second)
    assert rates.status is RateStatus.OK
    assert rates.interfaces[1].in_bps == pytest.approx(bps, rel=0.05)
    assert rates.interfaces[1].out_bps == pytest.approx(8e6, rel=0.05)
    # A reboot: snmpsim starts again, and with it sysUpTime and every counter.
    stepping_simulator.restart()
    third = await poll_device(target)
    assert third.uptime_ticks < second.uptime_ticks  # type: ignore[operator]
    assert device_rates(second, third).status is RateStatus.REBOOTED
    await asyncio.sleep(1.5)
    fourth = await poll_device(target)
    after_reboot = device_rates(third, fourth)
    assert after_reboot.status is RateStatus.OK
    assert after_reboot.interfaces[1].in_bps == pytest.approx(bps, rel=0.1)
