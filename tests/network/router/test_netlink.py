"""Netlink messages built by the access-router adapter, decoded with pyroute2 (an independent reading of
the wire format), and the walled-garden program. Pure: no kernel involved."""

from __future__ import annotations

import sys
from collections import Counter
from ipaddress import IPv4Address, IPv4Network, IPv6Network
from typing import Any

import pytest
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg
from pyroute2.netlink.rtnl.tcmsg import tcmsg

from network.router import classify, netlink, shapers, tc

PORTAL = IPv4Address("198.51.100.80")


def decode(message_class: Any, request: netlink.Request) -> Any:
    message = message_class(request.encode(1))
    message.decode()
    return message


def test_vlan_link_message_names_parent_and_vlan_id() -> None:
    message = decode(ifinfmsg, netlink.new_vlan("otl9", index=77, parent=3, vlan_id=1234))
    assert message["header"]["type"] == netlink.RTM_NEWLINK
    assert message["index"] == 77 and message["flags"] & netlink.IFF_UP == 0
    assert message.get_attr("IFLA_IFNAME") == "otl9" and message.get_attr("IFLA_LINK") == 3
    info = message.get_attr("IFLA_LINKINFO")
    assert info.get_attr("IFLA_INFO_KIND") == "vlan"
    assert info.get_attr("IFLA_INFO_DATA").get_attr("IFLA_VLAN_ID") == 1234


def test_vxlan_and_veth_link_messages() -> None:
    vxlan = decode(
        ifinfmsg,
        netlink.new_vxlan(
            "otl5", index=9, vni=4242, local=IPv4Address("10.0.0.1"), remote=IPv4Address("10.0.0.2"), underlay=4
        ),
    )
    data = vxlan.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA")
    assert data.get_attr("IFLA_VXLAN_ID") == 4242 and data.get_attr("IFLA_VXLAN_LINK") == 4
    assert data.get_attr("IFLA_VXLAN_GROUP") == "10.0.0.2" and data.get_attr("IFLA_VXLAN_LOCAL") == "10.0.0.1"
    assert data.get_attr("IFLA_VXLAN_PORT") == netlink.VXLAN_PORT
    veth = decode(ifinfmsg, netlink.new_veth("otl5", index=9, peer="eth0", peer_index=0, peer_netns_fd=12))
    peer = veth.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA").get_attr("VETH_INFO_PEER")
    assert peer.get_attr("IFLA_IFNAME") == "eth0" and peer.get_attr("IFLA_NET_NS_FD") == 12


def test_address_and_route_messages() -> None:
    address = decode(ifaddrmsg, netlink.address(5, IPv4Address("100.64.0.1"), add=True))
    assert (address["index"], address["prefixlen"], address.get_attr("IFA_LOCAL")) == (5, 32, "100.64.0.1")
    route = decode(rtmsg, netlink.route(5, IPv6Network("2001:db8:100::/56"), add=True))
    assert (route["dst_len"], route.get_attr("RTA_DST"), route.get_attr("RTA_OIF")) == (56, "2001:db8:100::", 5)


def test_htb_class_message_carries_rate_and_ceil_with_a_sane_bucket() -> None:
    message = decode(tcmsg, tc.htb_class(5, 20_000, replace=True))
    assert message["handle"] == 0x10001 and message["parent"] == 0x10000
    assert decode(tcmsg, tc.htb_class(5, 20_000, replace=False, minor=0x2A))["handle"] == 0x1002A
    params = message.get_attr("TCA_OPTIONS").get_attr("TCA_HTB_PARMS")
    assert params["rate"] == params["ceil"] == 20_000 * 125
    burst_s = params["buffer"] * 64 / 1e9 * params["rate"]
    assert burst_s == pytest.approx(tc.burst_bytes(20_000), rel=0.01)


def test_redirect_filter_sends_everything_to_the_shaper() -> None:
    message = decode(tcmsg, tc.redirect(5, 6))
    options = message.get_attr("TCA_OPTIONS")
    selector = options.get_attr("TCA_U32_SEL")
    assert selector["nkeys"] == 1 and selector["keys"][0]["key_mask"] == 0
    found = tc.parse_tc(netlink.Message(netlink.RTM_NEWTFILTER, 0, 1, tc.redirect(5, 6).body))
    assert tc.redirect_target(found) == 6 and found.prio == tc.REDIRECT_PRIO


def test_walled_program_is_recognised_with_its_portal() -> None:
    for upstream in (True, False):
        program = tc.walled_program(PORTAL, upstream=upstream)
        assert tc.walled_portal(program, upstream=upstream) == PORTAL
        assert tc.walled_portal(program, upstream=not upstream) == IPv4Address(0)


def test_upstream_tbf_message_carries_the_up_rate() -> None:
    message = decode(tcmsg, tc.tbf(6, 5_000, replace=False, what="up"))
    assert message.get_attr("TCA_KIND") == "tbf" and message["parent"] == tc.TC_H_ROOT
    params = message.get_attr("TCA_OPTIONS").get_attr("TCA_TBF_PARMS")
    assert params["rate"] == 5_000 * 125 and params["limit"] >= 128 * 1024
    found = tc.parse_tc(netlink.Message(netlink.RTM_NEWQDISC, 0, 1, tc.tbf(6, 5_000, replace=True, what="up").body))
    assert tc.tbf_kbps(found) == 5_000


def test_lines_are_removed_as_one_device_group() -> None:
    mark = decode(ifinfmsg, netlink.set_group(41, "otl7", 0x4F544C00))
    assert mark["index"] == 41 and mark.get_attr("IFLA_GROUP") == 0x4F544C00
    remove = decode(ifinfmsg, netlink.del_group(0x4F544C00))
    assert remove["header"]["type"] == netlink.RTM_DELLINK and remove["index"] == 0
    assert remove.get_attr("IFLA_GROUP") == 0x4F544C00


def test_shaper_is_made_without_ipv6() -> None:
    message = decode(ifinfmsg, netlink.new_ifb("ot-up0", index=9, queue=shapers.QUEUE_PACKETS))
    assert message.get_attr("IFLA_MTU") < 1280, "IPv6 needs 1280; below it the kernel gives the device none"
    assert message.get_attr("IFLA_TXQLEN") == shapers.QUEUE_PACKETS
    assert message.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_KIND") == "ifb"


def test_ingress_qdisc_of_an_open_line_is_bound_to_its_shapers_block() -> None:
    # This pyroute2 does not know TCA_INGRESS_BLOCK: the attribute is checked as the kernel reads it, by type.
    request = tc.ingress(5, block=shapers.block_of(3))
    message = decode(tcmsg, request)
    assert message.get_attr("TCA_KIND") == "ingress" and message["parent"] == tc.TC_H_INGRESS
    assert netlink.attrs(request.body, 20)[tc.TCA_INGRESS_BLOCK] == shapers.block_of(3).to_bytes(4, sys.byteorder)
    assert tc.parse_tc(netlink.Message(netlink.RTM_NEWQDISC, 0, 1, request.body)).block == shapers.block_of(3)
    assert tc.parse_tc(netlink.Message(netlink.RTM_NEWQDISC, 0, 1, tc.ingress(5).body)).block is None


def test_block_redirect_is_addressed_to_the_block() -> None:
    message = decode(tcmsg, tc.redirect(tc.TCM_IFINDEX_MAGIC_BLOCK, 9, block=shapers.block_of(0)))
    assert message["index"] == tc.TCM_IFINDEX_MAGIC_BLOCK and message["parent"] == shapers.block_of(0)
    assert message["header"]["flags"] & netlink.F_REPLACE


@pytest.mark.parametrize(
    ("network", "bucket"),
    [
        (IPv4Network("100.64.3.7/32"), 7),
        (IPv6Network("2001:db8:12:3400::/56"), 0x34),
        (IPv6Network("2001:db8:12::/48"), 0x12),
        (IPv6Network("2001:db8:0:ab::/64"), 0xAB),
        (IPv6Network("2001:d00::/24"), 0x0D),
    ],
)
def test_classifier_is_placed_by_the_last_bits_of_its_network_and_read_back(
    network: IPv4Network | IPv6Network, bucket: int
) -> None:
    where = shapers.place(network)
    assert where.bucket == bucket
    handle = (where.htid << 20) | (where.bucket << 12) | 5
    request = classify.u32_classifier(9, handle, prio=where.prio, protocol=where.protocol, keys=where.keys, minor=0x2A)
    message = decode(tcmsg, request)
    assert message["handle"] == handle and message["parent"] == tc.handle(1, 0)
    options = message.get_attr("TCA_OPTIONS")
    assert options.get_attr("TCA_U32_CLASSID") == tc.handle(1, 0x2A)
    assert options.get_attr("TCA_U32_HASH") == handle & 0xFFFFF000
    # (This pyroute2 reads u32 keys 4 bytes off; the kernel tests show that the keys match what they should.)
    found = classify.parse_u32(tc.parse_tc(netlink.Message(netlink.RTM_NEWTFILTER, 0, 1, request.body)))
    assert found is not None and shapers.network_of(found) == network and found.classid == tc.handle(1, 0x2A)


def test_link_filter_hashes_on_the_bits_of_the_table() -> None:
    offset, mask = shapers._v6_hash(56)
    assert (offset, mask) == (12, 0x0000FF00)
    found = classify.parse_u32(
        tc.parse_tc(
            netlink.Message(
                netlink.RTM_NEWTFILTER,
                0,
                1,
                classify.u32_link(9, 0x238, prio=20, protocol=tc.ETH_P_IPV6, hash_offset=offset, hash_mask=mask).body,
            )
        )
    )
    assert found is not None and (found.link, found.hash_offset, found.hash_mask) == (0x238, 12, 0xFF00)


def test_consecutive_addresses_spread_over_shapers_and_their_buckets() -> None:
    """Lines made in address order must not pile up in a few buckets of each shaper: a packet is looked up
    in its bucket one classifier after the other."""
    hosts = [IPv4Network(int(IPv4Address("100.64.0.0")) + n) for n in range(10_000)]
    loads = Counter(shapers.shard_for(host.network_address) for host in hosts)
    buckets = Counter((shapers.shard_for(host.network_address), shapers.place(host).bucket) for host in hosts)
    assert len(loads) == shapers.SHARDS and max(loads.values()) - min(loads.values()) <= 10
    assert max(buckets.values()) <= 2
