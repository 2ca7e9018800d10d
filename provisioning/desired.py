"""Desired state of the outside systems, computed from lines and their contracts.

The router adapter (``network.router``) and the NAS only ever see values built here, so the worker and
the reconciler agree on what "converged" means.
"""

from __future__ import annotations

import ipaddress
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from network.models import AccessRouter
from network.service import gateway_for
from provisioning.models import LineState, PortKind
from provisioning.radius import rows
from provisioning.repository import LineView

if TYPE_CHECKING:
    from network.access.linux import LinuxRouter
    from network.access.state import LineSpec

ON_ROUTER = frozenset({LineState.ACTIVE, LineState.WALLED})


def line_spec(view: LineView, gateways: list[tuple[ipaddress.IPv4Network, str]]) -> LineSpec:
    """What the router should hold for a serving or walled line."""
    from network.access.state import LinePort, LineSpec
    from network.access.state import LineState as RouterState

    line = view.line
    assert line.ifname is not None and line.ipv4 is not None, "a line on the router has an interface and an address"
    gateway = gateway_for(gateways, line.ipv4)
    if gateway is None:
        raise ValueError(f"no IPv4 pool of the router holds {line.ipv4}")
    if line.port_kind is PortKind.VETH:
        port = LinePort(kind="veth", peer_netns=line.port_peer)
    elif line.port_kind is PortKind.VXLAN:
        assert line.port_tag is not None and line.port_remote is not None and line.port_peer is not None
        port = LinePort(
            kind="vxlan", vni=line.port_tag, remote=ipaddress.IPv4Address(line.port_remote), underlay=line.port_peer
        )
    else:
        assert line.port_tag is not None and line.port_peer is not None
        port = LinePort(kind="vlan", parent=line.port_peer, vlan_id=line.port_tag)
    return LineSpec(
        ifname=line.ifname,
        port=port,
        gateway=ipaddress.IPv4Address(gateway),
        ipv4=ipaddress.IPv4Address(line.ipv4),
        ipv6_prefix=ipaddress.IPv6Network(line.ipv6_prefix) if line.ipv6_prefix else None,
        down_kbps=view.down_kbps,
        up_kbps=view.up_kbps,
        state=RouterState.ACTIVE if line.state is LineState.ACTIVE else RouterState.WALLED,
    )


def rate_attributes(view: LineView) -> dict[str, str | int]:
    """The plan's rates as a CoA-Request carries them (the same attributes FreeRADIUS replies with)."""
    return {
        item.attribute: int(item.value)
        for item in rows.plan_group_items(down_kbps=view.down_kbps, up_kbps=view.up_kbps)
    }


def router_driver(router: AccessRouter) -> AbstractAsyncContextManager[LinuxRouter]:
    """The adapter that configures this router (today: a Linux host or namespace over netlink)."""
    from network.access.linux import LinuxRouter

    assert router.netns is not None
    driver: AbstractAsyncContextManager[LinuxRouter] = LinuxRouter(
        router.netns, portal=ipaddress.IPv4Address(router.portal_ipv4), uplink=router.uplink
    )
    return driver
