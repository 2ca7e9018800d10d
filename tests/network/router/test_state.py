"""Line specs of the access-router adapter and how they compare with what a router holds (pure logic)."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network, IPv6Network
from typing import Any

import pytest

from network.router.state import (
    LineObservation,
    LinePort,
    LineSpec,
    LineState,
    differences,
    peer_name,
    shaper_name,
)

PORTAL = IPv4Address("198.51.100.80")


def line(**changes: Any) -> LineSpec:
    spec = LineSpec(
        ifname="otl7",
        port=LinePort.veth(peer_netns="cpe"),
        gateway=IPv4Address("100.64.0.1"),
        ipv4=IPv4Address("100.64.0.10"),
        ipv6_prefix=IPv6Network("2001:db8:100::/56"),
        down_kbps=20_000,
        up_kbps=5_000,
    )
    return replace(spec, **changes)


def seen(spec: LineSpec, **changes: Any) -> LineObservation:
    """What a router holding exactly ``spec`` reports, with ``changes``."""
    walled = PORTAL if spec.walled else None
    observation = LineObservation(
        ifname=spec.ifname,
        port=replace(spec.port, peer_ifname=peer_name(spec.ifname, spec.port)),
        up=True,
        gateways=frozenset({spec.gateway}),
        hosts=frozenset({IPv4Network(spec.ipv4)}),
        prefixes=frozenset({spec.ipv6_prefix} if spec.ipv6_prefix else ()),
        down_kbps=spec.down_kbps,
        up_kbps=spec.up_kbps,
        shaper=True,
        shaper_up=True,
        redirect=True,
        walled_up=walled,
        walled_down=walled,
    )
    return replace(observation, **changes)


def test_line_as_found_has_no_differences_and_reads_back_as_its_spec() -> None:
    spec = line(state=LineState.WALLED)
    assert differences(spec, seen(spec), portal=PORTAL) == []
    assert seen(spec).spec() == replace(spec, port=LinePort.veth(peer_netns="cpe", peer_ifname="eth0"))


def test_rate_and_state_differences_are_named() -> None:
    spec = line(down_kbps=100_000, state=LineState.WALLED)
    found = seen(line(down_kbps=50_000), up_kbps=None)
    assert differences(spec, found, portal=PORTAL) == [
        "down rate 50000 kbit, want 100000",
        "up shaping missing",
        "walled filter missing (up)",
        "walled filter missing (down)",
    ]


def test_shared_shaper_problems_are_named_for_each_of_its_lines() -> None:
    spec = line()
    unclassified = seen(spec, up_unclassified=frozenset({spec.ipv6_prefix}), shaper_complete=False)
    assert differences(spec, unclassified, portal=PORTAL) == [
        "upstream shaper incomplete",
        "upstream classifier for 2001:db8:100::/56 missing",
    ]
    # A line whose class is gone reports that alone, not each address as well.
    gone = seen(spec, up_kbps=None, up_unclassified=frozenset({IPv4Network(spec.ipv4)}))
    assert differences(spec, gone, portal=PORTAL) == ["up shaping missing"]
    assert differences(spec, seen(spec, shaper=False, redirect=False), portal=PORTAL) == [
        "upstream shaper missing",
        "upstream redirect missing",
    ]


def test_walled_filter_for_another_portal_is_a_difference() -> None:
    spec = line(state=LineState.WALLED)
    found = seen(spec, walled_up=IPv4Address("203.0.113.5"))
    assert differences(spec, found, portal=PORTAL) == [
        "walled filter (up) lets through 203.0.113.5, want portal 198.51.100.80"
    ]


def test_address_changes_are_missing_and_unexpected_routes() -> None:
    old, new = line(), line(ipv4=IPv4Address("100.64.0.11"), ipv6_prefix=None)
    assert differences(new, seen(old), portal=PORTAL) == [
        "route to 100.64.0.11/32 missing",
        "unexpected route to 100.64.0.10/32",
        "unexpected route to 2001:db8:100::/56",
    ]


def test_port_change_means_another_interface() -> None:
    spec = line(
        port=LinePort.vxlan(vni=9, local=IPv4Address("10.0.0.1"), remote=IPv4Address("10.0.0.2"), underlay="u0")
    )
    assert differences(spec, seen(line()), portal=PORTAL) == ["port veth, want vxlan 9 10.0.0.1->10.0.0.2 over u0"]
    moved = seen(line(), port=LinePort.veth(peer_netns="elsewhere", peer_ifname="eth0"))
    assert differences(line(), moved, portal=PORTAL) == ["port veth to eth0 in elsewhere, want veth to eth0 in cpe"]


def test_line_names_and_ports_are_checked() -> None:
    with pytest.raises(ValueError, match="otl<id>"):
        line(ifname="eth7")
    with pytest.raises(ValueError, match="otl<id>"):
        line(ifname="otl" + "9" * 13)
    with pytest.raises(ValueError, match="VLAN id"):
        LinePort.vlan(parent="trunk0", vlan_id=4095)
    with pytest.raises(ValueError, match="VNI"):
        LinePort.vxlan(vni=0, local=IPv4Address("10.0.0.1"), remote=IPv4Address("10.0.0.2"), underlay="u0")
    assert shaper_name("otl123") == "otu123"
    assert peer_name("otl123", LinePort.veth()) == "otp123"
