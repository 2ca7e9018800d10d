"""Benchmark: the SNMP poller's own CPU per device-round, against net-snmp's command-line tools reading the
same OIDs from the same agents.

Agents: NAMESPACES snmpd instances, each in a namespace of its own with 48 veth ports (plus lo and its
management link), and snmpsim serving our 48-port VDSL2 DSLAM recording (DSLAMS devices). The agents share
the machine's two cores with the poller, so wall time says little: the poller runs in a child process of
its own and its CPU is that process's time.process_time() over ROUNDS rounds (after one warm-up round);
net-snmp's CPU is the children's rusage (RUSAGE_CHILDREN) of the snmpget/snmpbulkget runs. Every loop is
bounded in count (rounds, devices) and time (subprocess timeouts).

    python tools/bench_snmp.py
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from network.snmp import Community, Target, oids  # noqa: E402
from network.snmp.poller import _VDSL2_INSTANCES, GET_CHUNK, INTERFACE_COLUMNS  # noqa: E402

NAMESPACES = 3
DSLAMS = 3
PORT_PAIRS = 24  # 48 ports per namespace
ROUNDS = 5
NETSNMP_ROUNDS = 2
CHILD_TIMEOUT_S = 300


def _child(backend: str, targets: list[dict[str, object]]) -> None:
    """In the child: poll every target ROUNDS times (plus a warm-up) and print figures as JSON."""
    from network.snmp import poll_many
    from network.snmp.client import shared_client

    # Patient targets: the agents share two busy cores with the poller, and a timeout here would end the
    # measurement, not measure anything.
    devices = [
        Target(
            host=str(t["host"]),
            port=int(t["port"]),  # type: ignore[call-overload]
            credentials=Community(str(t["community"])),
            timeout_s=3.0,
            retries=2,
            deadline_s=60.0,
        )
        for t in targets
    ]
    client = shared_client() if backend == "pysnmp" else None

    async def run() -> dict[str, float]:
        warm = await poll_many(devices, concurrency=16, client=client)
        if not all(sample.reachable for sample in warm):
            raise SystemExit(f"unreachable in warm-up: {[s.error for s in warm if not s.reachable]}")
        cpu_started, wall_started = time.process_time(), time.monotonic()
        varbinds = 0
        for _ in range(ROUNDS):
            samples = await poll_many(devices, concurrency=16, client=client)
            varbinds += sum(len(s.interfaces) * 9 + len(s.dsl_lines) * 10 for s in samples)
        cpu = time.process_time() - cpu_started
        return {
            "cpu_ms_per_device": cpu * 1000 / (ROUNDS * len(devices)),
            "wall_s": time.monotonic() - wall_started,
            "varbinds_per_round_device": varbinds / (ROUNDS * len(devices)),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }

    print(json.dumps(asyncio.run(run())))


def _poller_figures(backend: str, targets: list[dict[str, object]]) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", backend],
        input=json.dumps(targets),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"poller child ({backend}) failed:\n{result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _netsnmp_round(address: str, community: str, *, rows: int, dsl_ports: int) -> None:
    """What one poll asks, done with net-snmp's tools: sysUpTime, one GETBULK of the interface columns,
    one of the host columns, and the DSL instances in GETs of GET_CHUNK."""
    base = ["-v2c", "-c", community, "-On", "-m", "", "-r1", "-t2", address]

    def run(tool: str, *args: str) -> None:
        subprocess.run([tool, *base, *args], capture_output=True, check=True, timeout=30)

    run("snmpget", oids.SYS_UPTIME)
    run("snmpbulkget", f"-Cr{rows}", *INTERFACE_COLUMNS)
    run("snmpbulkget", "-Cr10", oids.HR_PROCESSOR_LOAD, oids.HR_STORAGE_TYPE)
    instances = [
        f"{column}.{port}{suffix}" for port in range(1, dsl_ports + 1) for _, column, suffix in _VDSL2_INSTANCES
    ]
    for start in range(0, len(instances), GET_CHUNK):
        run("snmpget", *instances[start : start + GET_CHUNK])


def bench_snmp() -> dict[str, float]:
    from tests.network.snmp.agents import namespace_agent, running_simulator

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        agents = [stack.enter_context(namespace_agent(work / f"ns{n}", pairs=PORT_PAIRS)) for n in range(NAMESPACES)]
        simulator = stack.enter_context(running_simulator(work / "snmpsim"))
        snmpd_targets = [{"host": a.address, "port": 161, "community": a.agent.community} for a in agents]
        dslam_targets = [{"host": "127.0.0.1", "port": simulator.port, "community": "dslam-vdsl2"}] * DSLAMS
        figures: dict[str, dict[str, float]] = {}
        for backend in ("default", "pysnmp"):
            figures[f"{backend}_snmpd"] = _poller_figures(backend, snmpd_targets)
            figures[f"{backend}_dslam"] = _poller_figures(backend, dslam_targets)
            figures[f"{backend}_all"] = _poller_figures(backend, snmpd_targets + dslam_targets)
        started = resource.getrusage(resource.RUSAGE_CHILDREN)
        for _ in range(NETSNMP_ROUNDS):
            for agent in agents:
                _netsnmp_round(f"{agent.address}:161", agent.agent.community, rows=2 * PORT_PAIRS + 3, dsl_ports=0)
            for _ in range(DSLAMS):
                _netsnmp_round(f"127.0.0.1:{simulator.port}", "dslam-vdsl2", rows=50, dsl_ports=48)
        ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    netsnmp_cpu_s = (ended.ru_utime + ended.ru_stime) - (started.ru_utime + started.ru_stime)
    netsnmp_ms = netsnmp_cpu_s * 1000 / (NETSNMP_ROUNDS * (NAMESPACES + DSLAMS))
    ours = figures["default_all"]["cpu_ms_per_device"]
    return {
        "snmp_poller_cpu_ms_per_device": round(ours, 2),
        "snmp_poller_devices_per_minute_per_core": round(60_000 / ours),
        "snmp_poller_cpu_ms_per_device_snmpd": round(figures["default_snmpd"]["cpu_ms_per_device"], 2),
        "snmp_poller_cpu_ms_per_device_dslam": round(figures["default_dslam"]["cpu_ms_per_device"], 2),
        "snmp_pysnmp_cpu_ms_per_device": round(figures["pysnmp_all"]["cpu_ms_per_device"], 2),
        "snmp_pysnmp_cpu_ms_per_device_snmpd": round(figures["pysnmp_snmpd"]["cpu_ms_per_device"], 2),
        "snmp_pysnmp_cpu_ms_per_device_dslam": round(figures["pysnmp_dslam"]["cpu_ms_per_device"], 2),
        "snmp_netsnmp_cpu_ms_per_device": round(netsnmp_ms, 2),
        "snmp_cpu_ratio_vs_netsnmp": round(ours / netsnmp_ms, 3),
        "snmp_pysnmp_cpu_ratio_vs_netsnmp": round(figures["pysnmp_all"]["cpu_ms_per_device"] / netsnmp_ms, 3),
        "snmp_poller_peak_rss_mib": round(figures["default_all"]["peak_rss_mib"], 1),
        "snmp_pysnmp_peak_rss_mib": round(figures["pysnmp_all"]["peak_rss_mib"], 1),
        "snmp_varbinds_per_device_round": round(figures["default_all"]["varbinds_per_round_device"]),
    }


def print_table(results: dict[str, float]) -> None:
    print(
        f"SNMP poll of {NAMESPACES} snmpd (48 ports each) + {DSLAMS} snmpsim DSLAMs (48 VDSL2 ports), {ROUNDS} rounds"
    )
    for key, value in results.items():
        print(f"{key:<44} {value}")
    print("goal: snmp_poller_cpu_ms_per_device at most 60 ms (>= 1,000 devices per minute per core)")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        _child(sys.argv[2], json.loads(sys.stdin.read()))
    else:
        print_table(bench_snmp())
