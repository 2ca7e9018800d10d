"""A Linux access router (or a network namespace standing in for one), converged to desired lines.

Per line: an interface (veth/vxlan/vlan), unnumbered: a /32 route to the subscriber through it, answered
from the pool's gateway address that sits once on the router's loopback; a route for the delegated IPv6
prefix; and an HTB root with one class at the plan's down rate. Upstream is shaped where the subscriber's
traffic leaves the router: an HTB class per line at the up rate on the uplink, chosen by a u32 match on
the subscriber's address. (This kernel has no tc actions, so an ingress policer is not available; shaping
on the uplink needs none.) The walled garden of a suspended line is made of policy-routing rules: to and
from the portal allowed, everything else of the line blackholed.

Reads go through pyroute2 (clear, decoded messages); writes go through ``netlink.send_all`` in large
batches, because provisioning thousands of lines one round trip at a time takes minutes.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Network
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netns import popns, pushns

from network.access import netlink
from network.access.netlink import Request
from network.access.state import OURS, LineSpec, LineState, Observed, RouterReport, close, differences, structural

NETNS_DIR = "/run/netns"
# Interface indexes we choose for new lines, so that one batch can refer to a link it creates.
INDEX_BASE = 1 << 24


def upstream_minor(ipv4: IPv4Address) -> int:
    """The uplink class (and filter prio) of a line: the low 16 bits of its address, so unique within
    any /16 of pools on one router."""
    return (int(ipv4) & 0xFFFF) or 0xFFFF


@dataclass(frozen=True)
class _Link:
    index: int
    kind: str | None
    up: bool


@dataclass
class _Snapshot:
    links: dict[str, _Link]
    observed: dict[str, Observed]
    uplink_classes: dict[int, int] = field(default_factory=dict)  # minor -> kbit/s
    uplink_filters: set[int] = field(default_factory=set)  # prios with a filter
    uplink_root: bool = False
    gateways: set[IPv4Address] = field(default_factory=set)  # addresses on the loopback
    rules: list[tuple[int, int, str | None, str | None, str | None, int]] = field(default_factory=list)


def _find(message: Any, name: str) -> Any:
    """The first attribute called ``name`` anywhere below ``message`` (tc options nest)."""
    stack = [message]
    while stack:
        current = stack.pop()
        for item in current.get("attrs", ()) if hasattr(current, "get") else ():
            key, value = item[0], item[1]
            if key == name:
                return value
            if hasattr(value, "get"):
                stack.append(value)
    return None


def _class_kbps(message: Any) -> int | None:
    rate64 = _find(message, "TCA_HTB_RATE64")
    params = _find(message, "TCA_HTB_PARMS")
    rate = rate64 or (params["rate"] if params is not None else None)
    return None if rate is None else round(rate * 8 / 1000)


class LinuxRouter:
    """Configures the lines (``otl*`` interfaces) of one Linux router in network namespace ``netns``."""

    def __init__(self, netns: str, *, portal: IPv4Address, uplink: str | None = None):
        self.netns = netns
        self.portal = portal
        self.uplink = uplink
        self._templates: dict[tuple[str, int], netlink.Template] = {}

    async def __aenter__(self) -> LinuxRouter:
        if not await asyncio.to_thread(os.path.exists, os.path.join(NETNS_DIR, self.netns)):
            raise FileNotFoundError(f"network namespace {self.netns!r} does not exist")
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    # --- reading -----------------------------------------------------------------------------------

    async def read(self, ifnames: Iterable[str] | None = None) -> dict[str, Observed]:
        """Our lines as the kernel has them (all, or only ``ifnames``)."""
        wanted = set(ifnames) if ifnames is not None else None
        return (await asyncio.to_thread(self._read, wanted)).observed

    def _read(self, wanted: set[str] | None) -> _Snapshot:
        # The socket is opened inside the namespace by this thread (setns), not through pyroute2's
        # netns= helper: that one forks, and a forked child inherits asyncio's signal wake-up fd.
        pushns(self.netns)
        try:
            ipr = IPRoute()
        finally:
            popns()
        with ipr:
            links: dict[str, _Link] = {}
            for msg in ipr.get_links():
                info = msg.get_attr("IFLA_LINKINFO")
                kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
                links[msg.get_attr("IFLA_IFNAME")] = _Link(msg["index"], kind, bool(msg["flags"] & netlink.IFF_UP))
            ours = {n: link for n, link in links.items() if n.startswith(OURS) and (wanted is None or n in wanted)}
            by_index = {link.index: name for name, link in ours.items()}
            addresses: dict[str, tuple[IPv4Address, IPv4Address]] = {}
            for msg in ipr.get_routes(family=socket.AF_INET):
                name = by_index.get(msg.get_attr("RTA_OIF"))
                if name is not None and msg["proto"] == netlink.RTPROT_OPENTELECOM and msg["dst_len"] == 32:
                    source = msg.get_attr("RTA_PREFSRC")
                    if source is not None:
                        addresses[name] = (IPv4Address(source), IPv4Address(msg.get_attr("RTA_DST")))
            lo = links.get("lo")
            snapshot_gateways = {
                IPv4Address(m.get_attr("IFA_LOCAL"))
                for m in ipr.get_addr(family=socket.AF_INET)
                if lo is not None and m["index"] == lo.index
            }
            prefixes: dict[str, IPv6Network] = {}
            for msg in ipr.get_routes(family=socket.AF_INET6):
                name = by_index.get(msg.get_attr("RTA_OIF"))
                if name is not None and msg["proto"] == netlink.RTPROT_OPENTELECOM:
                    prefixes[name] = IPv6Network(f"{msg.get_attr('RTA_DST')}/{msg['dst_len']}")
            htb = {
                by_index[m["index"]]
                for m in ipr.get_qdiscs()
                if m["index"] in by_index and m.get_attr("TCA_KIND") == "htb"
            }
            snapshot = _Snapshot(links=links, observed={}, gateways=snapshot_gateways)
            uplink = links.get(self.uplink) if self.uplink else None
            if uplink is not None:
                snapshot.uplink_root = any(
                    m["index"] == uplink.index and m["handle"] == netlink.HTB_ROOT for m in ipr.get_qdiscs()
                )
                if snapshot.uplink_root:
                    for msg in ipr.get_classes(index=uplink.index):
                        rate = _class_kbps(msg)
                        if rate is not None:
                            snapshot.uplink_classes[msg["handle"] & 0xFFFF] = rate
                    for msg in ipr.get_filters(index=uplink.index, parent=netlink.HTB_ROOT):
                        if msg["info"] >> 16 == netlink.UPSTREAM_PRIO and msg["handle"]:
                            snapshot.uplink_filters.add(msg["handle"])
            for family in (socket.AF_INET, socket.AF_INET6):
                for msg in ipr.get_rules(family=family):
                    dst = msg.get_attr("FRA_DST")
                    src = msg.get_attr("FRA_SRC")
                    snapshot.rules.append(
                        (
                            family,
                            msg.get_attr("FRA_PRIORITY") or 0,
                            msg.get_attr("FRA_IIFNAME"),
                            src,
                            dst,
                            msg["action"],
                        )
                    )
            walled_ifaces = {
                r[2] for r in snapshot.rules if r[5] == netlink.FR_ACT_BLACKHOLE and r[2] and r[0] == socket.AF_INET
            }
            walled_dsts = {r[4] for r in snapshot.rules if r[5] == netlink.FR_ACT_BLACKHOLE and r[2] is None and r[4]}
            for name, link in ours.items():
                down = None
                if name in htb:
                    for msg in ipr.get_classes(index=link.index):
                        if msg["handle"] == netlink.HTB_CLASS:
                            down = _class_kbps(msg)
                gateway, peer = addresses.get(name, (None, None))
                up = None
                if uplink is None:
                    up = -1  # upstream not shaped on this router
                elif peer is not None:
                    bucket, node = netlink.upstream_node(peer)
                    if (netlink.UPSTREAM_TABLE << 20 | bucket << 12 | node) in snapshot.uplink_filters:
                        up = snapshot.uplink_classes.get(upstream_minor(peer))
                iface_walled = name in walled_ifaces
                dst_walled = peer is not None and str(peer) in walled_dsts
                snapshot.observed[name] = Observed(
                    ifname=name,
                    kind=link.kind,
                    up=link.up,
                    gateway=gateway,
                    ipv4=peer,
                    ipv6_prefix=prefixes.get(name),
                    down_kbps=down,
                    up_kbps=up,
                    walled=iface_walled if iface_walled == dst_walled else None,
                )
            return snapshot

    # --- converging --------------------------------------------------------------------------------

    async def plan(self, desired: Sequence[LineSpec], *, prune: bool) -> RouterReport:
        """What ``apply`` would change, changing nothing."""
        snapshot = await asyncio.to_thread(self._read, None if prune else {s.ifname for s in desired})
        return self._diff(self._expected(desired), snapshot, prune=prune)

    async def apply(self, desired: Sequence[LineSpec], *, prune: bool) -> RouterReport:
        """Converge: create missing lines, fix differing ones in place, and (``prune``) remove ``otl*``
        interfaces nobody wants. Running it twice changes nothing the second time."""
        return await asyncio.to_thread(self._apply, self._expected(desired), prune)

    async def remove(self, ifnames: Iterable[str]) -> RouterReport:
        """Take lines off the router completely: interface, address, routes, shaping, walled rules."""
        return await asyncio.to_thread(self._remove, list(ifnames))

    def _expected(self, desired: Sequence[LineSpec]) -> list[LineSpec]:
        # Without an uplink the up rate cannot be shaped here; compare it as "not shaped" (-1).
        if self.uplink is not None:
            return list(desired)
        return [LineSpec(**{**spec.__dict__, "up_kbps": 1}) for spec in desired]

    def _diff(self, desired: Sequence[LineSpec], snapshot: _Snapshot, *, prune: bool) -> RouterReport:
        report = RouterReport()
        for spec in desired:
            have = snapshot.observed.get(spec.ifname)
            if have is not None and self.uplink is None:
                have = Observed(**{**have.__dict__, "up_kbps": 1})
            problems = differences(spec, have)
            if not problems:
                report.unchanged += 1
                continue
            report.drift[spec.ifname] = problems
            (report.created if have is None else report.updated).append(spec.ifname)
        if prune:
            keep = {spec.ifname for spec in desired}
            for name in sorted(set(snapshot.observed) - keep):
                report.drift[name] = ["interface of no current line"]
                report.removed.append(name)
        return report

    def _template(self, kind: str, value: int) -> netlink.Template:
        key = (kind, value)
        if key not in self._templates:
            self._templates[key] = netlink.htb_root(default_minor=value) if kind == "root" else netlink.htb_class(value)
        return self._templates[key]

    def _apply(self, desired: list[LineSpec], prune: bool) -> RouterReport:
        snapshot = self._read(None if prune else {s.ifname for s in desired})
        report = self._diff(desired, snapshot, prune=prune)
        if not report.changed:
            return report
        _enable_forwarding(self.netns)
        specs = {spec.ifname: spec for spec in desired}
        links = snapshot.links
        next_index = max([INDEX_BASE, *(link.index for link in links.values())]) + 1
        requests: list[Request] = []
        uplink = links.get(self.uplink) if self.uplink else None
        if self.uplink and uplink is None:
            raise FileNotFoundError(f"uplink {self.uplink!r} not found on the router")
        lo = links.get("lo")
        assert lo is not None, "a Linux router has a loopback"
        for gateway in sorted({spec.gateway for spec in desired} - snapshot.gateways):
            requests.append(Request(f"gateway {gateway}", netlink.loopback_address(lo.index, gateway)))
        if uplink is not None and not snapshot.uplink_root:
            requests.append(Request("uplink: shaping root", self._template("root", 0).render(uplink.index)))
            requests.extend(Request("uplink: upstream table", m) for m in netlink.upstream_table(uplink.index))
        fds: list[int] = []
        try:
            for name in report.removed:
                requests.extend(self._teardown(name, snapshot, uplink))
            for name in report.updated:
                spec, have = specs[name], snapshot.observed[name]
                if structural(spec, have):
                    requests.extend(self._teardown(name, snapshot, uplink))
                    index, next_index = next_index, next_index + 2
                    requests.extend(self._create(spec, index, snapshot, uplink, fds))
                else:
                    requests.extend(self._fix(spec, have, links[name].index, uplink))
            for name in report.created:
                index, next_index = next_index, next_index + 2
                requests.extend(self._create(specs[name], index, snapshot, uplink, fds))
            with netlink.socket_in(self.netns) as sock:
                failures = netlink.send_all(sock, requests)
        finally:
            for fd in fds:
                os.close(fd)
        if failures:
            raise netlink.NetlinkError(failures)
        return report

    def _remove(self, ifnames: list[str]) -> RouterReport:
        snapshot = self._read(set(ifnames))
        report = RouterReport(removed=[name for name in ifnames if name in snapshot.observed])
        report.unchanged = len(ifnames) - len(report.removed)
        uplink = snapshot.links.get(self.uplink) if self.uplink else None
        requests = [r for name in report.removed for r in self._teardown(name, snapshot, uplink)]
        if requests:
            with netlink.socket_in(self.netns) as sock:
                failures = netlink.send_all(sock, requests)
            if failures:
                raise netlink.NetlinkError(failures)
        return report

    def _teardown(self, name: str, snapshot: _Snapshot, uplink: _Link | None) -> list[Request]:
        have = snapshot.observed[name]
        requests = [Request(f"{name}: delete", netlink.link_delete(snapshot.links[name].index), tolerant=True)]
        if have.ipv4 is not None:
            requests.extend(self._upstream(name, have.ipv4, None, uplink))
            requests.extend(self._walls(name, have.ipv4, have.ipv6_prefix, add=False))
        return requests

    def _upstream(self, name: str, ipv4: IPv4Address, kbps: int | None, uplink: _Link | None) -> list[Request]:
        """The line's class and filter on the uplink (``kbps`` None: remove them)."""
        if uplink is None:
            return []
        minor = upstream_minor(ipv4)
        handle = (netlink.HTB_ROOT & 0xFFFF0000) | minor
        if kbps is None:
            return [
                Request(
                    f"{name}: upstream filter",
                    netlink.upstream_filter(uplink.index, source=ipv4, classid=handle, add=False),
                    tolerant=True,
                ),
                Request(f"{name}: upstream class", netlink.class_delete(uplink.index, handle), tolerant=True),
            ]
        return [
            Request(f"{name}: upstream class", self._template("class", kbps).render(uplink.index, handle)),
            Request(f"{name}: upstream filter", netlink.upstream_filter(uplink.index, source=ipv4, classid=handle)),
        ]

    def _walls(self, name: str, ipv4: IPv4Address, prefix: IPv6Network | None, *, add: bool) -> list[Request]:
        """The walled garden's rules for one line (added, or removed tolerantly)."""
        v4, v6 = socket.AF_INET, socket.AF_INET6
        allow, block = netlink.RULE_ALLOW, netlink.RULE_BLOCK
        rules = [
            netlink.rule(family=v4, priority=allow, blackhole=False, iif=name, destination=self.portal, add=add),
            netlink.rule(family=v4, priority=allow, blackhole=False, source=self.portal, destination=ipv4, add=add),
            netlink.rule(family=v4, priority=block, blackhole=True, iif=name, add=add),
            netlink.rule(family=v4, priority=block, blackhole=True, destination=ipv4, add=add),
            netlink.rule(family=v6, priority=block, blackhole=True, iif=name, add=add),
        ]
        if prefix is not None:
            rules.append(netlink.rule(family=v6, priority=block, blackhole=True, destination=prefix, add=add))
        return [Request(f"{name}: walled garden", r, tolerant=not add) for r in rules]

    def _create(
        self, spec: LineSpec, index: int, leftovers: _Snapshot, uplink: _Link | None, fds: list[int]
    ) -> list[Request]:
        links = leftovers.links
        name, port = spec.ifname, spec.port
        if port.kind == "veth":
            if port.peer_netns is not None:
                fd = os.open(os.path.join(NETNS_DIR, port.peer_netns), os.O_RDONLY)
                fds.append(fd)
                link = netlink.link_veth(index, name, peer_name="wan0", peer_ns_fd=fd)
            else:
                link = netlink.link_veth(index, name, peer_name="otp" + name[len(OURS) :], peer_index=index + 1)
        elif port.kind == "vxlan":
            assert port.underlay is not None and port.vni is not None and port.remote is not None
            underlay = links.get(port.underlay)
            if underlay is None:
                raise FileNotFoundError(f"underlay device {port.underlay!r} not found on the router")
            link = netlink.link_vxlan(index, name, vni=port.vni, underlay=underlay.index, remote=port.remote)
        else:
            assert port.parent is not None and port.vlan_id is not None
            parent = links.get(port.parent)
            if parent is None:
                raise FileNotFoundError(f"parent device {port.parent!r} not found on the router")
            link = netlink.link_vlan(index, name, parent=parent.index, vlan_id=port.vlan_id)
        requests = [
            Request(f"{name}: create", link),
            Request(f"{name}: route", netlink.host_route(index, gateway=spec.gateway, peer=spec.ipv4)),
        ]
        if spec.ipv6_prefix is not None:
            requests.append(Request(f"{name}: prefix route", netlink.prefix_route(index, spec.ipv6_prefix)))
        requests.append(Request(f"{name}: shaping root", self._template("root", 1).render(index)))
        requests.append(Request(f"{name}: down class", self._template("class", spec.down_kbps).render(index)))
        # Leftovers of a line whose interface was deleted by hand live on the uplink and in the rules.
        minor = upstream_minor(spec.ipv4)
        if uplink is not None and minor in leftovers.uplink_classes:
            requests.extend(self._upstream(name, spec.ipv4, None, uplink))
        requests.extend(self._upstream(name, spec.ipv4, spec.up_kbps, uplink))
        if any(r[2] == name or r[4] == str(spec.ipv4) for r in leftovers.rules):
            requests.extend(self._walls(name, spec.ipv4, spec.ipv6_prefix, add=False))
        if spec.state is LineState.WALLED:
            requests.extend(self._walls(name, spec.ipv4, spec.ipv6_prefix, add=True))
        return requests

    def _fix(self, spec: LineSpec, have: Observed, index: int, uplink: _Link | None) -> list[Request]:
        name = spec.ifname
        requests: list[Request] = []
        if not have.up:
            requests.append(Request(f"{name}: up", netlink.link_up(index)))
        moved = (have.gateway, have.ipv4) != (spec.gateway, spec.ipv4)
        if moved:
            if have.gateway is not None and have.ipv4 is not None:
                old = netlink.host_route(index, gateway=have.gateway, peer=have.ipv4, add=False)
                requests.append(Request(f"{name}: old route", old, tolerant=True))
            requests.append(Request(f"{name}: route", netlink.host_route(index, gateway=spec.gateway, peer=spec.ipv4)))
        if have.ipv6_prefix != spec.ipv6_prefix:
            if have.ipv6_prefix is not None:
                old = netlink.prefix_route(index, have.ipv6_prefix, add=False)
                requests.append(Request(f"{name}: old prefix", old, tolerant=True))
            if spec.ipv6_prefix is not None:
                requests.append(Request(f"{name}: prefix route", netlink.prefix_route(index, spec.ipv6_prefix)))
        if have.down_kbps is None or not close(have.down_kbps, spec.down_kbps):
            requests.append(Request(f"{name}: clear shaping", netlink.qdisc_delete(index), tolerant=True))
            requests.append(Request(f"{name}: shaping root", self._template("root", 1).render(index)))
            requests.append(Request(f"{name}: down class", self._template("class", spec.down_kbps).render(index)))
        if uplink is not None and (moved or have.up_kbps is None or not close(have.up_kbps, spec.up_kbps)):
            if have.ipv4 is not None:
                requests.extend(self._upstream(name, have.ipv4, None, uplink))
            requests.extend(self._upstream(name, spec.ipv4, spec.up_kbps, uplink))
        want_walled = spec.state is LineState.WALLED
        if moved or have.walled is not want_walled:
            if have.ipv4 is not None:
                requests.extend(self._walls(name, have.ipv4, have.ipv6_prefix, add=False))
            if want_walled:
                requests.extend(self._walls(name, spec.ipv4, spec.ipv6_prefix, add=True))
        return requests


ROUTER_SYSCTLS = {
    # A router forwards.
    "net/ipv4/ip_forward": "1",
    "net/ipv6/conf/all/forwarding": "1",
    # New line interfaces: no duplicate-address detection or router solicitations of our own. With
    # thousands of lines, their timers cost more kernel time than creating the interfaces.
    "net/ipv6/conf/default/accept_dad": "0",
    "net/ipv6/conf/default/dad_transmits": "0",
    "net/ipv6/conf/default/router_solicitations": "0",
    # No kernel-generated link-local address per line: the delegated prefix is routed without one, and
    # addrconf's per-interface work dominates the time to create thousands of lines.
    "net/ipv6/conf/default/addr_gen_mode": "1",
}


def _enable_forwarding(netns: str) -> None:
    """The namespace behaves as a router (idempotent)."""
    pushns(netns)
    try:
        for key, value in ROUTER_SYSCTLS.items():
            with open(f"/proc/sys/{key}", "w") as handle:
                handle.write(value)
    finally:
        popns()


__all__ = ["LinuxRouter", "upstream_minor"]
