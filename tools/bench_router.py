"""Benchmark: provision 10,000 subscriber lines on one access router (a scratch network namespace) in one
``apply`` of ``network.router.LinuxRouter``, read them back, and take them away again.

Each line has its gateway (the source of its host route), host route, delegated /56, TBF down shaping, a
class on one of the router's shared upstream shapers and, for every 50th line, the walled garden. By
default each line is a veth pair whose far end goes into one bulk namespace standing in for all the
customer premises, as in the tests (``router_provision_10k_s``). ``vxlan`` lines (one VXLAN interface each
over one underlay) can be measured too; on this kernel they are much slower to make and remove than veth
pairs, because the kernel does per-device work that grows with the number of VXLAN devices (see
network/README.md).

Each run happens in a child process, so its peak RSS is the adapter's own and a run that hangs can be
stopped; the namespaces are deleted whatever happens.

    python tools/bench_router.py [COUNT] [veth|vxlan]
"""

from __future__ import annotations

import asyncio
import json
import resource
import secrets
import subprocess
import sys
import time
from ipaddress import IPv4Address, IPv6Network
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from network.router import LinePort, LineSpec, LineState, LinuxRouter  # noqa: E402

PORTAL = IPv4Address("198.51.100.80")
LIMIT_S = 600.0  # the whole child run; a healthy one takes well under a minute


# The VXLAN underlay: a veth pair from the router namespace to the bulk one, in the benchmarking range.
UNDERLAY, UNDERLAY_LOCAL, UNDERLAY_REMOTE = "ul0", IPv4Address("198.18.0.1"), IPv4Address("198.18.0.2")
KINDS = ("veth",)


def _port(kind: str, n: int, bulk: str) -> LinePort:
    if kind == "vxlan":
        return LinePort.vxlan(vni=n, local=UNDERLAY_LOCAL, remote=UNDERLAY_REMOTE, underlay=UNDERLAY)
    return LinePort.veth(peer_netns=bulk, peer_ifname=f"p{n}")


def specs(count: int, bulk: str, kind: str) -> list[LineSpec]:
    """``count`` lines of mixed plans, every 50th walled; veth far ends in the namespace ``bulk``."""
    base = int(IPv4Address("100.64.0.0"))
    prefixes = IPv6Network("2001:db8::/32").subnets(new_prefix=56)
    return [
        LineSpec(
            ifname=f"otl{n}",
            port=_port(kind, n, bulk),
            gateway=IPv4Address("100.64.0.1"),
            ipv4=IPv4Address(base + 2 + n),
            ipv6_prefix=next(prefixes),
            down_kbps=(50_000, 100_000, 250_000)[n % 3],
            up_kbps=(10_000, 40_000, 50_000)[n % 3],
            state=LineState.WALLED if n % 50 == 0 else LineState.ACTIVE,
        )
        for n in range(1, count + 1)
    ]


async def _provision(router_ns: str, bulk: str, count: int, kind: str) -> dict[str, float]:
    lines = specs(count, bulk, kind)
    async with LinuxRouter(router_ns, portal=PORTAL) as router:
        started = time.perf_counter()
        report = await router.apply(lines, prune=True)
        provisioned = time.perf_counter() - started
        if len(report.created) != count or report.failed:
            raise RuntimeError(f"created {len(report.created)} of {count}; failed: {list(report.failed.items())[:5]}")
        started = time.perf_counter()
        found = await router.read()
        read = time.perf_counter() - started
        wrong = [line.ifname for line in lines if found.get(line.ifname) != line]
        if wrong or len(found) != count:
            raise RuntimeError(f"read back {len(found)} lines; missing or different: {wrong[:5]}")
        started = time.perf_counter()
        removed = await router.remove(found)
        if len(removed.removed) != count or removed.failed:
            raise RuntimeError(f"removed {len(removed.removed)} of {count}")
        return {"provision_s": provisioned, "read_s": read, "remove_s": time.perf_counter() - started}


def _child(router_ns: str, bulk: str, count: int, kind: str) -> None:
    figures = asyncio.run(_provision(router_ns, bulk, count, kind))
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=120)


def bench_router_provision(count: int = 10_000, kinds: tuple[str, ...] = KINDS) -> dict[str, float]:
    """For each kind of line, provision ``count`` lines in one apply on a scratch router namespace: seconds
    and the provisioning process's peak RSS, plus the read-back and removal times."""
    results: dict[str, float] = {}
    for kind in kinds:
        results.update(_bench_kind(count, kind))
    return results


def _bench_kind(count: int, kind: str) -> dict[str, float]:
    tag = secrets.token_hex(3)
    router_ns, bulk = f"otb-r-{tag}", f"otb-p-{tag}"
    try:
        _ip("netns", "add", router_ns)
        _ip("netns", "add", bulk)
        _ip("-n", router_ns, "link", "set", "lo", "up")
        _ip("-n", router_ns, "addr", "add", f"{PORTAL}/32", "dev", "lo")
        if kind == "vxlan":
            _ip("-n", router_ns, "link", "add", UNDERLAY, "type", "veth", "peer", "name", UNDERLAY, "netns", bulk)
            for ns, address in ((router_ns, UNDERLAY_LOCAL), (bulk, UNDERLAY_REMOTE)):
                _ip("-n", ns, "addr", "add", f"{address}/30", "dev", UNDERLAY)
                _ip("-n", ns, "link", "set", UNDERLAY, "up")
        done = subprocess.run(
            [sys.executable, __file__, "--child", router_ns, bulk, str(count), kind],
            check=True,
            capture_output=True,
            text=True,
            timeout=LIMIT_S,
        )
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"router benchmark failed:\n{error.stderr[-2000:]}") from error
    finally:
        for ns in (router_ns, bulk):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=120, check=False)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    name = ("10k" if count == 10_000 else str(count)) + ("" if kind == "veth" else f"_{kind}")
    return {
        f"router_provision_{name}_s": round(figures["provision_s"], 2),
        f"router_provision_{name}_peak_rss_mib": round(figures["peak_rss_mib"], 1),
        f"router_read_{name}_s": round(figures["read_s"], 2),
        f"router_remove_{name}_s": round(figures["remove_s"], 2),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        kinds = (sys.argv[2],) if len(sys.argv) > 2 else KINDS
        result = bench_router_provision(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000, kinds)
        for key, value in result.items():
            print(f"{key:<34} {value}")
