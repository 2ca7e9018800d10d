"""Desired state of the outside systems, computed from lines and their contracts.

The router adapter (``network.router``) and the NAS only ever see values built here, so the worker and
the reconciler agree on what "converged" means.
"""

from __future__ import annotations

import ipaddress
from contextlib import AbstractAsyncContextManager

from network.models import AccessRouter
from network.router import LinePort, LineSpec, LinuxRouter
from network.router import LineState as RouterLineState
from network.service import gateway_for
from provisioning.models import LineState, PortKind
from provisioning.radius import rows
from provisioning.repository import LineView

ON_ROUTER = frozenset({LineState.ACTIVE, LineState.WALLED})


def line_spec(view: LineView, gateways: list[tuple[ipaddress.IPv4Network, str]], *, router: AccessRouter) -> LineSpec:
    """What ``router`` should hold for a serving or walled line.

    A VXLAN line's tunnel starts at the router's NAS address: an address the router is known to hold,
    and the one the far end already reaches it by (the line records only the far end's address)."""
    line = view.line
    assert line.ifname is not None and line.ipv4 is not None, "a line on the router has an interface and an address"
    gateway = gateway_for(gateways, line.ipv4)
    if gateway is None:
        raise ValueError(f"no IPv4 pool of the router holds {line.ipv4}")
    if line.port_kind is PortKind.VETH:
        port = LinePort.veth(peer_netns=line.port_peer)
    elif line.port_kind is PortKind.VXLAN:
        assert line.port_tag is not None and line.port_remote is not None and line.port_peer is not None
        port = LinePort.vxlan(
            vni=line.port_tag,
            local=ipaddress.IPv4Address(router.nas_ip),
            remote=ipaddress.IPv4Address(line.port_remote),
            underlay=line.port_peer,
        )
    else:
        assert line.port_tag is not None and line.port_peer is not None
        port = LinePort.vlan(parent=line.port_peer, vlan_id=line.port_tag)
    return LineSpec(
        ifname=line.ifname,
        port=port,
        gateway=ipaddress.IPv4Address(gateway),
        ipv4=ipaddress.IPv4Address(line.ipv4),
        ipv6_prefix=ipaddress.IPv6Network(line.ipv6_prefix) if line.ipv6_prefix else None,
        down_kbps=view.down_kbps,
        up_kbps=view.up_kbps,
        state=RouterLineState.ACTIVE if line.state is LineState.ACTIVE else RouterLineState.WALLED,
    )


def rate_attributes(view: LineView) -> dict[str, str | int]:
    """The plan's rates as a CoA-Request carries them (the same attributes FreeRADIUS replies with)."""
    return {
        item.attribute: int(item.value)
        for item in rows.plan_group_items(down_kbps=view.down_kbps, up_kbps=view.up_kbps)
    }


def router_driver(router: AccessRouter) -> AbstractAsyncContextManager[LinuxRouter]:
    """The adapter that configures this router (today: a Linux host or namespace over netlink)."""
    assert router.netns is not None
    return LinuxRouter(router.netns, portal=ipaddress.IPv4Address(router.portal_ipv4))
