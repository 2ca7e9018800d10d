"""What an access router should hold for each subscriber line, what it was found holding, and the report
of a convergence. Pure data and comparison; nothing here talks to the kernel."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Network
from typing import Literal

LINE_PREFIX = "otl"  # only interfaces named otl* are lines of ours
SHAPER_PREFIX = "otu"  # before shared shapers, line otlX had its own upstream shaper, an IFB device otuX
IFNAME_MAX = 15
UNSPECIFIED = IPv4Address(0)  # in a line read back: the address is missing

PortKind = Literal["veth", "vxlan", "vlan"]


class LineState(enum.StrEnum):
    """Whether a line is open, or walled in: only the coop's portal reachable (e.g. unpaid, suspended)."""

    ACTIVE = "active"
    WALLED = "walled"


@dataclass(frozen=True, slots=True)
class LinePort:
    """How a line reaches the router.

    ``veth``: a veth pair whose far end is moved into ``peer_netns`` (a customer-premises namespace in
    tests) or, when that is None, left in the router's namespace; the far end is called ``peer_ifname``,
    by default ``eth0`` in another namespace and ``otp<id>`` beside the line. ``vxlan``: VNI ``vni`` from
    ``local`` to ``remote`` over the ``underlay`` device. ``vlan``: 802.1Q ``vlan_id`` on ``parent``.
    Build one with ``LinePort.veth()``, ``LinePort.vxlan()`` or ``LinePort.vlan()``."""

    kind: PortKind
    peer_netns: str | None = None
    peer_ifname: str | None = None
    vni: int | None = None
    local: IPv4Address | None = None
    remote: IPv4Address | None = None
    underlay: str | None = None
    parent: str | None = None
    vlan_id: int | None = None

    def __post_init__(self) -> None:
        if self.kind == "vxlan":
            if self.vni is None or not 0 < self.vni < 1 << 24:
                raise ValueError(f"a VXLAN port needs a VNI from 1 to 16777215, not {self.vni}")
            if self.local is None or self.remote is None or not self.underlay:
                raise ValueError("a VXLAN port needs local, remote and underlay")
        elif self.kind == "vlan":
            if not self.parent or self.vlan_id is None or not 0 < self.vlan_id < 4095:
                raise ValueError(f"a VLAN port needs a parent and a VLAN id from 1 to 4094, not {self.vlan_id}")
        elif self.kind != "veth":
            raise ValueError(f"unknown port kind {self.kind!r}")
        if self.peer_ifname is not None and not 0 < len(self.peer_ifname) <= IFNAME_MAX:
            raise ValueError(f"interface name {self.peer_ifname!r} is not 1-{IFNAME_MAX} characters")

    @classmethod
    def veth(cls, *, peer_netns: str | None = None, peer_ifname: str | None = None) -> LinePort:
        return cls("veth", peer_netns=peer_netns, peer_ifname=peer_ifname)

    @classmethod
    def vxlan(cls, *, vni: int, local: IPv4Address, remote: IPv4Address, underlay: str) -> LinePort:
        return cls("vxlan", vni=vni, local=local, remote=remote, underlay=underlay)

    @classmethod
    def vlan(cls, *, parent: str, vlan_id: int) -> LinePort:
        return cls("vlan", parent=parent, vlan_id=vlan_id)

    def describe(self, ifname: str) -> str:
        if self.kind == "veth":
            return f"veth to {peer_name(ifname, self)} in {self.peer_netns or 'the router namespace'}"
        if self.kind == "vxlan":
            return f"vxlan {self.vni} {self.local}->{self.remote} over {self.underlay}"
        return f"vlan {self.vlan_id} on {self.parent}"


def peer_name(ifname: str, port: LinePort) -> str:
    """The name of a veth line's far end."""
    if port.peer_ifname:
        return port.peer_ifname
    return "eth0" if port.peer_netns else "otp" + ifname[len(LINE_PREFIX) :]


def shaper_name(ifname: str) -> str:
    """The IFB device that shaped a line's upstream traffic before shared shapers (removed when found)."""
    return SHAPER_PREFIX + ifname[len(LINE_PREFIX) :]


@dataclass(frozen=True, slots=True)
class LineSpec:
    """One subscriber line on the router: its interface, addresses, rates and state.

    ``gateway`` is the router's address as the subscriber sees it (on the router's loopback, and the
    source of the host route; the line itself is unnumbered), ``ipv4`` the subscriber's address (a /32
    host route through the line), ``ipv6_prefix`` the delegated prefix (routed through the line).
    Rates are in kbit/s: ``down_kbps`` toward the subscriber, ``up_kbps`` from them."""

    ifname: str
    port: LinePort
    gateway: IPv4Address
    ipv4: IPv4Address
    ipv6_prefix: IPv6Network | None
    down_kbps: int
    up_kbps: int
    state: LineState = LineState.ACTIVE

    def __post_init__(self) -> None:
        if not self.ifname.startswith(LINE_PREFIX) or not len(LINE_PREFIX) < len(self.ifname) <= IFNAME_MAX:
            raise ValueError(f"line interface {self.ifname!r} must be {LINE_PREFIX}<id>, at most {IFNAME_MAX} chars")
        if self.down_kbps < 0 or self.up_kbps < 0:
            raise ValueError("rates cannot be negative")

    @property
    def walled(self) -> bool:
        return self.state is LineState.WALLED


@dataclass(frozen=True, slots=True)
class LineObservation:
    """What the kernel holds for one line interface, read from links, addresses, routes and tc.

    ``down_kbps``/``up_kbps`` are None when the shaping is missing (the line's class on its shared
    upstream shaper, for ``up_kbps``); a ``walled_*`` field is the address the walled-garden filter lets
    through, None when there is no such filter (an unrecognised filter in its place reads as 0.0.0.0).
    ``up_unclassified``: the line's routed addresses whose upstream packets its shaper does not classify
    into the line's class."""

    ifname: str
    port: LinePort | None  # None: an otl* interface of a kind we never create
    up: bool
    gateways: frozenset[IPv4Address]  # sources of the line's host routes that are the router's addresses
    hosts: frozenset[IPv4Network]
    prefixes: frozenset[IPv6Network]
    down_kbps: int | None
    up_kbps: int | None
    shaper: bool  # the line's shared shaper (an IFB device) exists
    shaper_up: bool
    redirect: bool  # the ingress qdisc sends everything through the shaper
    walled_up: IPv4Address | None
    walled_down: IPv4Address | None
    up_unclassified: frozenset[IPv4Network | IPv6Network] = frozenset()
    shaper_complete: bool = True  # the shaper's own qdiscs, tables and block are all there
    addresses: frozenset[IPv4Address] = frozenset()  # IPv4 /32s on the line itself (it should have none)

    def spec(self) -> LineSpec:
        """The line as found, as a spec (missing addresses read as 0.0.0.0, missing rates as 0)."""
        walled = self.walled_up is not None or self.walled_down is not None
        return LineSpec(
            ifname=self.ifname,
            port=self.port or LinePort.veth(),
            gateway=min(self.gateways, default=UNSPECIFIED),
            ipv4=min((host.network_address for host in self.hosts), default=UNSPECIFIED),
            ipv6_prefix=min(self.prefixes, default=None),
            down_kbps=self.down_kbps or 0,
            up_kbps=self.up_kbps or 0,
            state=LineState.WALLED if walled else LineState.ACTIVE,
        )


def port_differences(want: LineSpec, have: LinePort | None) -> list[str]:
    """Why the interface itself must be made again (these cannot be changed in place)."""
    if have is None:
        return ["interface of an unknown kind"]
    wanted = want.port
    if have.kind != wanted.kind:
        return [f"port {have.kind}, want {wanted.describe(want.ifname)}"]
    if wanted.kind == "veth":
        same = have.peer_netns == wanted.peer_netns and have.peer_ifname == peer_name(want.ifname, wanted)
    elif wanted.kind == "vxlan":
        same = (have.vni, have.local, have.remote, have.underlay) == (
            wanted.vni,
            wanted.local,
            wanted.remote,
            wanted.underlay,
        )
    else:
        same = (have.parent, have.vlan_id) == (wanted.parent, wanted.vlan_id)
    if same:
        return []
    return [f"port {have.describe(want.ifname)}, want {wanted.describe(want.ifname)}"]


def differences(want: LineSpec, have: LineObservation, *, portal: IPv4Address) -> list[str]:
    """Everything about the line that differs from the spec, in words, in a stable order."""
    found = port_differences(want, have.port)
    if not have.up:
        found.append("interface down")
    if want.gateway not in have.gateways:
        found.append(f"gateway {want.gateway} missing")
    found += [f"unexpected gateway {ip}" for ip in sorted(have.gateways - {want.gateway})]
    found += [f"unexpected address {ip}/32 on the line" for ip in sorted(have.addresses)]
    host = host_network(want)
    if host not in have.hosts:
        found.append(f"route to {host} missing")
    found += [f"unexpected route to {net}" for net in sorted(have.hosts - {host})]
    prefixes = frozenset({want.ipv6_prefix} if want.ipv6_prefix else ())
    found += [f"route to {net} missing" for net in sorted(prefixes - have.prefixes)]
    found += [f"unexpected route to {net}" for net in sorted(have.prefixes - prefixes)]
    found += _rate("down", want.down_kbps, have.down_kbps)
    if not have.shaper:
        found.append("upstream shaper missing")
    else:
        if not have.shaper_up:
            found.append("upstream shaper down")
        if not have.shaper_complete:
            found.append("upstream shaper incomplete")
        found += _rate("up", want.up_kbps, have.up_kbps)
        if have.up_kbps is not None:
            routed = (have.hosts | have.prefixes) & {host, *prefixes} & have.up_unclassified
            found += [f"upstream classifier for {net} missing" for net in sorted_networks(routed)]
    if not have.redirect:
        found.append("upstream redirect missing")
    for direction, seen in (("up", have.walled_up), ("down", have.walled_down)):
        if want.walled and seen is None:
            found.append(f"walled filter missing ({direction})")
        elif want.walled and seen != portal:
            found.append(f"walled filter ({direction}) lets through {seen}, want portal {portal}")
        elif not want.walled and seen is not None:
            found.append(f"walled filter present ({direction}) on an active line")
    return found


def host_network(spec: LineSpec) -> IPv4Network:
    """The subscriber's address as the /32 routed through the line."""
    return IPv4Network(int(spec.ipv4))  # from the integer: four times faster than from the address


def sorted_networks(networks: Iterable[IPv4Network | IPv6Network]) -> list[IPv4Network | IPv6Network]:
    """IPv4 first, then IPv6, each in address order."""
    return sorted(networks, key=lambda net: (net.version, net))


def _rate(direction: str, want: int, have: int | None) -> list[str]:
    if have is None:
        return [f"{direction} shaping missing"]
    if have != want:
        return [f"{direction} rate {have} kbit, want {want}"]
    return []


@dataclass(frozen=True, slots=True)
class RouterReport:
    """What a convergence changed (or, for ``plan``, would change).

    ``drift`` maps each line that differed to the differences found; ``failed`` maps lines to the
    requests the kernel refused (such a line is not counted as created, updated or removed)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    drift: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.removed)

    @property
    def ok(self) -> bool:
        return not self.failed
