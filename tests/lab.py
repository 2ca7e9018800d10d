"""A lab around one access router: the router namespace (portal on its loopback, forwarding, an uplink
to a core namespace with a server) and a customer-premises namespace at the far end of a line. Used by
the provisioning tests; the adapter's own tests in tests/network/router have a smaller site without a core."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Network
from pathlib import Path

import pytest

from network.router import LinePort, LineSpec, LineState, LinuxRouter
from tests.network import traffic

ROOT = Path(__file__).resolve().parents[1]
PORTAL = IPv4Address("198.51.100.80")
SERVER = "203.0.113.10"  # in the core namespace, beyond the router's uplink
GATEWAY = IPv4Address("100.64.0.1")


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=60)


@dataclass
class Lab:
    router: str
    core: str
    cpe: str

    def spec(self, *, state: LineState = LineState.ACTIVE, down: int = 20_000, up: int = 5_000) -> LineSpec:
        return LineSpec(
            ifname="otl7",
            port=LinePort.veth(peer_netns=self.cpe),
            gateway=GATEWAY,
            ipv4=IPv4Address("100.64.0.10"),
            ipv6_prefix=IPv6Network("2001:db8:100::/56"),
            down_kbps=down,
            up_kbps=up,
            state=state,
        )

    def driver(self) -> LinuxRouter:
        return LinuxRouter(self.router, portal=PORTAL)

    def configure_cpe(self, address: IPv4Address = IPv4Address("100.64.0.10"), wan: str = "eth0") -> None:
        """What the customer's router does after PPPoE/IPoE: its address, the gateway, a default route.
        ``wan`` is the far end of the line (the adapter names a veth's far end eth0)."""
        sh("ip", "-n", self.cpe, "link", "set", "lo", "up")
        sh("ip", "-n", self.cpe, "addr", "replace", f"{address}/32", "dev", wan)
        sh("ip", "-n", self.cpe, "link", "set", wan, "up")
        sh("ip", "-n", self.cpe, "route", "replace", str(GATEWAY), "dev", wan)
        sh("ip", "-n", self.cpe, "route", "replace", "default", "via", str(GATEWAY))

    def ping(self, target: str) -> bool:
        return (
            sh(
                "ip", "netns", "exec", self.cpe, "ping", "-c", "2", "-i", "0.2", "-W", "1", target, check=False
            ).returncode
            == 0
        )

    def goodput_kbps(self, *, sender_ns: str, receiver_ns: str, receiver_ip: str, seconds: float = 3.0) -> float:
        return traffic.goodput_kbps(sender_ns=sender_ns, receiver_ns=receiver_ns, address=receiver_ip, seconds=seconds)


@pytest.fixture
def lab() -> Iterator[Lab]:
    tag = secrets.token_hex(3)
    lab = Lab(router=f"ot-r-{tag}", core=f"ot-k-{tag}", cpe=f"ot-c-{tag}")
    for ns in (lab.router, lab.core, lab.cpe):
        sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", lab.router, "link", "set", "lo", "up")
        # The host is a router (set up once per machine, not by the adapter): it forwards to the core.
        forwarding = ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
        sh("ip", "netns", "exec", lab.router, "sysctl", "-qw", *forwarding)
        sh("ip", "-n", lab.router, "addr", "add", f"{PORTAL}/32", "dev", "lo")
        sh("ip", "-n", lab.router, "link", "add", "up0", "type", "veth", "peer", "name", "core0", "netns", lab.core)
        sh("ip", "-n", lab.router, "addr", "add", "203.0.113.1/24", "dev", "up0")
        sh("ip", "-n", lab.router, "link", "set", "up0", "up")
        sh("ip", "-n", lab.core, "link", "set", "lo", "up")
        sh("ip", "-n", lab.core, "addr", "add", f"{SERVER}/24", "dev", "core0")
        sh("ip", "-n", lab.core, "link", "set", "core0", "up")
        sh("ip", "-n", lab.core, "route", "add", "default", "via", "203.0.113.1")
        yield lab
    finally:
        for ns in (lab.router, lab.core, lab.cpe):
            sh("ip", "netns", "del", ns, check=False)
