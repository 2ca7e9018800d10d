"""Real SNMP agents for the poller's tests and benchmark: net-snmp's snmpd inside a network namespace we make
(reached over a veth from the host), snmpsim on loopback, and what Debian's net-snmp tools read from them.

Addresses: each namespace gets a random /30 out of 198.18.0.0/15 (RFC 2544's benchmarking range) on its
management veth; nothing outside this machine is ever addressed.
"""

from __future__ import annotations

import ipaddress
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from network.snmp import Community, Target, UsmUser
from tools import snmpd, snmpsim
from tools.processes import stop

BENCH_RANGE = ipaddress.ip_network("198.18.0.0/15")


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=60)


@dataclass
class NamespaceAgent:
    """snmpd in namespace ``netns``, listening on ``address``:161 (the namespace end of its management
    veth ``mgmt0``); ``ports`` are the namespace's other interfaces (veth pairs, no traffic)."""

    netns: str
    address: str
    host_ifname: str
    ports: list[str]
    agent: snmpd.Agent
    directory: Path

    def v2c(self, **options: float) -> Target:
        return Target(host=self.address, port=161, credentials=Community(self.agent.community), **options)

    def v3(self, *, auth_key: str | None = None, **options: float) -> Target:
        user = UsmUser(self.agent.v3_user, auth_key or self.agent.auth_pass, self.agent.priv_pass)
        return Target(host=self.address, port=161, credentials=user, **options)

    def set_link(self, ifname: str, *, up: bool) -> None:
        sh("ip", "-n", self.netns, "link", "set", ifname, "up" if up else "down")

    def walk(self, oid: str) -> dict[str, str]:
        return netsnmp_walk(f"{self.address}:161", self.agent.community, oid)


@contextmanager
def namespace_agent(work_dir: Path, *, pairs: int = 2) -> Iterator[NamespaceAgent]:
    """A namespace with ``pairs`` veth pairs (2 * pairs ports) and snmpd in it; all removed afterwards."""
    tag = secrets.token_hex(3)
    netns = f"ot-snmp-{tag}"
    host_ifname = f"ots{tag}"
    subnet = ipaddress.ip_network(
        (int(BENCH_RANGE.network_address) + 4 * secrets.randbelow(BENCH_RANGE.num_addresses // 4), 30)
    )
    host_ip, agent_ip = (str(address) for address in list(subnet.hosts())[:2])
    sh("ip", "netns", "add", netns)
    process: subprocess.Popen[bytes] | None = None
    try:
        quiet = ("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        sh("ip", "netns", "exec", netns, "sysctl", "-qw", *quiet)
        sh("ip", "link", "add", host_ifname, "type", "veth", "peer", "name", "mgmt0", "netns", netns)
        # No IPv6 on the management link either: its neighbour discovery would be traffic nobody asked for.
        sh("sysctl", "-qw", f"net.ipv6.conf.{host_ifname}.disable_ipv6=1")
        sh("ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv6.conf.mgmt0.disable_ipv6=1")
        sh("ip", "addr", "add", f"{host_ip}/30", "dev", host_ifname)
        sh("ip", "link", "set", host_ifname, "up")
        sh("ip", "-n", netns, "link", "set", "lo", "up")
        sh("ip", "-n", netns, "addr", "add", f"{agent_ip}/30", "dev", "mgmt0")
        sh("ip", "-n", netns, "link", "set", "mgmt0", "up")
        ports: list[str] = []
        for n in range(1, pairs + 1):
            a, b = f"port{2 * n - 1}", f"port{2 * n}"
            sh("ip", "-n", netns, "link", "add", a, "type", "veth", "peer", "name", b)
            sh("ip", "-n", netns, "link", "set", a, "up")
            sh("ip", "-n", netns, "link", "set", b, "up")
            ports += [a, b]
        directory = snmpd.render(work_dir / netns, name=netns, netns=netns, listen=agent_ip, port=161)
        process = snmpd.start(directory)
        agent = NamespaceAgent(netns, agent_ip, host_ifname, ports, snmpd.Agent.load(directory), directory)
        _wait_reachable_from_host(agent)
        yield agent
    finally:
        if process is not None:
            stop(process)
        # Removing the namespace removes both ends of every veth in it, mgmt0's host end too.
        sh("ip", "netns", "del", netns, check=False)


def _wait_reachable_from_host(agent: NamespaceAgent, *, within_s: float = 30.0) -> None:
    """Wait until snmpd answers from the host side and reports every interface up, as they all are now.

    snmpd answers inside its namespace before the management veth carries packets from the host (about a
    second here), and its first interface table can be stale: every port, the management veth too,
    reported down for a second or more after it started (seen here).
    """
    deadline = time.monotonic() + within_s
    seen = ""
    while time.monotonic() < deadline:
        result = sh(
            "snmpbulkwalk", "-v2c", "-c", agent.agent.community, "-r0", "-t2", *NETSNMP_FORMAT,
            f"{agent.address}:161", "1.3.6.1.2.1.2.2.1.8", check=False,
        )  # fmt: skip
        statuses = _parse(result.stdout) if result.returncode == 0 else {}
        if len(statuses) >= 2 + len(agent.ports) and set(statuses.values()) == {"1"}:
            return
        seen = result.stderr.strip() or str(statuses)
        time.sleep(0.2)
    raise RuntimeError(f"snmpd in {agent.netns} not ready from the host within {within_s} s: {seen}")


@dataclass
class RunningSimulator:
    """snmpsim on 127.0.0.1:``port``; a recording is chosen by community (v2c) or context name (v3)."""

    simulator: snmpsim.Simulator
    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def port(self) -> int:
        return self.simulator.port

    def v2c(self, recording: str, **options: float) -> Target:
        return Target(host="127.0.0.1", port=self.port, credentials=Community(recording), **options)

    def v3(self, recording: str, *, priv_key: str | None = None, **options: float) -> Target:
        user = UsmUser(
            self.simulator.v3_user, self.simulator.auth_pass, priv_key or self.simulator.priv_pass, context=recording
        )
        return Target(host="127.0.0.1", port=self.port, credentials=user, **options)

    def walk(self, recording: str, oid: str) -> dict[str, str]:
        return netsnmp_walk(f"127.0.0.1:{self.port}", recording, oid)

    def get(self, recording: str, oids: list[str]) -> dict[str, str]:
        return netsnmp_get(f"127.0.0.1:{self.port}", recording, oids)

    def restart(self) -> None:
        """Stop and start again on the same port: the simulated device reboots (its clock starts over)."""
        stop(self.process)
        self.process = snmpsim.start(self.directory)


@contextmanager
def running_simulator(work_dir: Path) -> Iterator[RunningSimulator]:
    directory = snmpsim.render(work_dir)
    running = RunningSimulator(snmpsim.Simulator.load(directory), directory, snmpsim.start(directory))
    try:
        yield running
    finally:
        stop(running.process)


def _parse(output: str) -> dict[str, str]:
    """net-snmp's ``-On -OQ -Oe -Ot`` lines (``.oid = value``) as {oid without the dot: value}; strings
    lose their quotes."""
    values: dict[str, str] = {}
    last = None
    for line in output.splitlines():
        oid, separator, value = line.partition(" = ")
        if not separator:
            if last is not None:  # a hex string continues on the next line
                values[last] += " " + line.strip()
            continue
        last = oid.lstrip(".")
        values[last] = value.strip()
    return {oid: value.strip().strip('"').strip() for oid, value in values.items()}


NETSNMP_FORMAT = ("-On", "-OQ", "-Oe", "-Ot", "-m", "")


def netsnmp_walk(address: str, community: str, oid: str) -> dict[str, str]:
    """Debian's snmpbulkwalk of ``oid`` (SNMPv2c)."""
    result = sh("snmpbulkwalk", "-v2c", "-c", community, *NETSNMP_FORMAT, "-Cr25", address, oid)
    return _parse(result.stdout)


def netsnmp_get(address: str, community: str, oids: list[str]) -> dict[str, str]:
    """Debian's snmpget of ``oids`` (SNMPv2c)."""
    result = sh("snmpget", "-v2c", "-c", community, *NETSNMP_FORMAT, address, *oids)
    return _parse(result.stdout)
