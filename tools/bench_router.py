"""Benchmark: provision 10,000 lines on one access router (a network namespace) in one apply.

Lines are VXLAN interfaces (one per line, its own VNI, over one underlay), each with its point-to-point
address, a delegated IPv6 prefix route, an HTB root and class at the down rate on the line, and an
HTB class + u32 filter at the up rate on the uplink. Read back afterwards to check every line is there.
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import time
from ipaddress import IPv4Address, IPv6Network
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from network.access.linux import LinuxRouter  # noqa: E402
from network.access.state import LinePort, LineSpec, LineState  # noqa: E402

NETNS = "ot-bench-router"


def _ip(*args: str) -> None:
    subprocess.run(["ip", "-n", NETNS, *args], check=True, capture_output=True, timeout=30)


def specs(count: int) -> list[LineSpec]:
    base = int(IPv4Address("100.64.0.0"))
    prefixes = IPv6Network("2001:db8::/32").subnets(new_prefix=56)
    return [
        LineSpec(
            ifname=f"otl{n}",
            port=LinePort("vxlan", vni=n, remote=IPv4Address("10.255.0.2"), underlay="ul0"),
            gateway=IPv4Address("100.64.0.1"),
            ipv4=IPv4Address(base + 2 + n),
            ipv6_prefix=next(prefixes),
            down_kbps=(50_000, 100_000, 250_000)[n % 3],
            up_kbps=(10_000, 40_000, 50_000)[n % 3],
            state=LineState.WALLED if n % 50 == 0 else LineState.ACTIVE,
        )
        for n in range(1, count + 1)
    ]


async def provision(count: int, *, uplink: str | None) -> float:
    lines = specs(count)
    async with LinuxRouter(NETNS, portal=IPv4Address("198.51.100.80"), uplink=uplink) as router:
        started = time.perf_counter()
        report = await router.apply(lines, prune=False)
        elapsed = time.perf_counter() - started
        assert len(report.created) == count, report.drift
        check = await router.plan(lines[:: max(1, count // 200)], prune=False)
        assert not check.changed, check.drift
    return elapsed


def _run(count: int, *, uplink: str | None) -> float:
    subprocess.run(["ip", "netns", "del", NETNS], capture_output=True, timeout=120)
    subprocess.run(["ip", "netns", "add", NETNS], check=True, timeout=30)
    try:
        _ip("link", "set", "lo", "up")
        _ip("link", "add", "ul0", "type", "veth", "peer", "name", "ul1")
        _ip("addr", "add", "10.255.0.1/24", "dev", "ul0")
        _ip("link", "set", "ul0", "up")
        _ip("link", "add", "up0", "type", "veth", "peer", "name", "up1")
        _ip("link", "set", "up0", "up")
        return asyncio.run(provision(count, uplink=uplink))
    finally:
        subprocess.run(["ip", "netns", "del", NETNS], capture_output=True, timeout=600)


def _timed(count: int, uplink: str | None, limit_s: float) -> float | None:
    """One run in a child process, so a run over ``limit_s`` can be stopped; None when it was."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); from tools.bench_router import _run; "
        f"print(_run({count}, uplink={uplink!r}))"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=limit_s, check=True
        )
    except subprocess.TimeoutExpired:
        subprocess.run(["ip", "netns", "del", NETNS], capture_output=True, timeout=600)
        return None
    return float(result.stdout.strip().splitlines()[-1])


def _settle(seconds: float = 60.0) -> None:
    # Deleting a namespace with thousands of devices goes on in the kernel after `ip netns del`
    # returns; measuring during that cleanup measures the cleanup.
    time.sleep(seconds)


def bench_router_provision(count: int = 10_000, limit_s: float = 240.0) -> dict[str, float | None]:
    """Provision ``count`` full lines (dual stack, down shaping, upstream class on the uplink) in one
    apply, and 2,000 the same way to show how the time grows with the number of lines."""
    small = _timed(2_000, "up0", limit_s)
    _settle(20)
    full = _timed(count, "up0", limit_s)
    _settle()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "router_provision_2k_s": None if small is None else round(small, 2),
        "router_provision_10k_s": None if full is None else round(full, 2),
        "router_provision_time_limit_s": limit_s,
        "router_provision_peak_rss_mib": round(rss, 1),
    }


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(bench_router_provision(count))
