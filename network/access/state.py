"""What a line looks like on an access router, in our types (no netlink in here)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Network
from typing import Literal

OURS = "otl"  # only interfaces named otl<line id> belong to us; nothing else on the router is touched


class LineState(enum.StrEnum):
    """Serving, or walled: only the coop's portal is reachable (a suspended line)."""

    ACTIVE = "active"
    WALLED = "walled"


@dataclass(frozen=True)
class LinePort:
    """How the line reaches the router.

    veth: a point-to-point link whose far end is moved into ``peer_netns`` (a customer premises in the
    lab and in tests); vxlan: a VXLAN tunnel ``vni`` to ``remote`` over the ``underlay`` device; vlan:
    802.1Q ``vlan_id`` on the ``parent`` device (not available in this machine's kernel).
    """

    kind: Literal["veth", "vxlan", "vlan"]
    peer_netns: str | None = None
    vni: int | None = None
    remote: IPv4Address | None = None
    underlay: str | None = None
    parent: str | None = None
    vlan_id: int | None = None


@dataclass(frozen=True)
class LineSpec:
    """Everything the router holds for one line."""

    ifname: str
    port: LinePort
    gateway: IPv4Address
    ipv4: IPv4Address
    ipv6_prefix: IPv6Network | None
    down_kbps: int
    up_kbps: int
    state: LineState

    def __post_init__(self) -> None:
        if not self.ifname.startswith(OURS) or len(self.ifname) > 15:
            raise ValueError(f"line interface {self.ifname!r} must be named {OURS}<id> (at most 15 characters)")
        if self.down_kbps <= 0 or self.up_kbps <= 0:
            raise ValueError("rates must be positive")


@dataclass(frozen=True)
class Observed:
    """A line as read back from the kernel; fields are None where the piece is missing."""

    ifname: str
    kind: str | None
    up: bool
    gateway: IPv4Address | None
    ipv4: IPv4Address | None
    ipv6_prefix: IPv6Network | None
    down_kbps: int | None
    up_kbps: int | None
    walled: bool | None


@dataclass
class RouterReport:
    """What a plan found or an apply changed, per interface."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    drift: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.removed)


def differences(want: LineSpec, have: Observed | None) -> list[str]:
    """Human-readable differences between a line's desired and observed state ([] = converged)."""
    if have is None:
        return ["missing interface"]
    found: list[str] = []
    if have.kind != want.port.kind:
        found.append(f"interface is {have.kind or 'unknown'}, want {want.port.kind}")
    if not have.up:
        found.append("interface is down")
    if have.ipv4 != want.ipv4 or have.gateway != want.gateway:
        found.append(f"address {have.gateway}->{have.ipv4}, want {want.gateway}->{want.ipv4}")
    if have.ipv6_prefix != want.ipv6_prefix:
        found.append(f"route to {want.ipv6_prefix or 'no prefix'} missing or wrong (found {have.ipv6_prefix})")
    if have.down_kbps is None:
        found.append("down shaper missing")
    elif not close(have.down_kbps, want.down_kbps):
        found.append(f"down rate {have.down_kbps} kbit, want {want.down_kbps}")
    if have.up_kbps is None:
        found.append("up policer missing")
    elif not close(have.up_kbps, want.up_kbps):
        found.append(f"up rate {have.up_kbps} kbit, want {want.up_kbps}")
    want_walled = want.state is LineState.WALLED
    if have.walled is None or have.walled != want_walled:
        found.append("walled-garden rules missing" if want_walled else "walled-garden rules on a serving line")
    return found


def structural(want: LineSpec, have: Observed) -> bool:
    """Whether the interface itself must be rebuilt (wrong kind), not only its settings."""
    return have.kind != want.port.kind


def close(have_kbps: int, want_kbps: int) -> bool:
    # The kernel keeps rates in bytes per second: allow the rounding of kbit -> byte.
    return abs(have_kbps - want_kbps) <= max(1, want_kbps // 1000)
