"""Netlink at batch speed: our own encoding of the few rtnetlink messages a line needs, sent many
per ``sendmsg`` on a socket opened inside the router's namespace, with every acknowledgement read.

pyroute2 encodes one message in ~0.3 ms; 10,000 lines need ~70,000 messages, so its encoder would
take longer than the kernel work itself. Links, addresses and routes are encoded here with ``struct``;
HTB messages (with their rate tables) are compiled by pyroute2 once per distinct rate and only their
interface index and handle are patched per line.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Network

from pyroute2 import IPBatch
from pyroute2.netns import popns, pushns

NETLINK_ROUTE = 0
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLMSG_ERROR = 2
RTM_NEWLINK, RTM_DELLINK = 16, 17
RTM_NEWADDR, RTM_DELADDR = 20, 21
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTM_NEWQDISC, RTM_DELQDISC = 36, 37
RTM_DELTCLASS = 41
RTM_NEWTFILTER, RTM_DELTFILTER = 44, 45
RTM_NEWRULE, RTM_DELRULE = 32, 33
TCA_KIND, TCA_OPTIONS = 1, 2
TCA_U32_CLASSID, TCA_U32_HASH, TCA_U32_LINK, TCA_U32_DIVISOR, TCA_U32_SEL = 1, 2, 3, 4, 5
TC_U32_TERMINAL = 1
FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_PRIORITY, FRA_TABLE = 1, 2, 3, 6, 15
FR_ACT_TO_TBL, FR_ACT_BLACKHOLE = 1, 6
# Walled garden: "allow" rules (to/from the portal) come before the "blackhole" rules of the line.
RULE_ALLOW, RULE_BLOCK = 1000, 1001
IFF_UP = 0x1
IFLA_IFNAME, IFLA_LINK, IFLA_LINKINFO, IFLA_NET_NS_FD = 3, 5, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFLA_VLAN_ID = 1
IFLA_VXLAN_ID, IFLA_VXLAN_GROUP, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL, IFLA_VXLAN_PORT = 1, 2, 3, 4, 15
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_PREFSRC = 1, 4, 7
RT_TABLE_MAIN = 254
RTN_UNICAST = 1
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK = 0, 253
# Routes we add carry our own protocol number, so we can tell them from anyone else's.
RTPROT_OPENTELECOM = 201
TC_H_ROOT = 0xFFFFFFFF
HTB_ROOT = 0x10000  # 1:
HTB_CLASS = 0x10001  # 1:1
ETH_P_ALL, ETH_P_IP, ETH_P_IPV6 = 0x0003, 0x0800, 0x86DD
VXLAN_PORT = 4789
BATCH_BYTES = 48 * 1024
TCMSG_IFINDEX_OFFSET = 20  # nlmsghdr (16) + tcm_family, pads (4)


class NetlinkError(OSError):
    """The kernel refused one or more requests of a batch."""

    def __init__(self, failures: list[tuple[str, int]]):
        self.failures = failures
        first, code = failures[0]
        super().__init__(code, f"{len(failures)} netlink request(s) refused, first: {first}: {os.strerror(code)}")


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def _message(kind: int, flags: int, body: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(body), kind, flags | NLM_F_REQUEST | NLM_F_ACK, 0, 0) + body


def _ifinfo(index: int = 0, *, up: bool = False) -> bytes:
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP if up else 0)


def _name(value: str) -> bytes:
    return value.encode() + b"\0"


def link_veth(index: int, ifname: str, *, peer_name: str, peer_index: int = 0, peer_ns_fd: int | None = None) -> bytes:
    peer_attrs = _attr(IFLA_IFNAME, _name(peer_name))
    if peer_ns_fd is not None:
        peer_attrs += _attr(IFLA_NET_NS_FD, struct.pack("=I", peer_ns_fd))
    peer = _ifinfo(peer_index) + peer_attrs
    info = _attr(IFLA_INFO_KIND, _name("veth")) + _attr(IFLA_INFO_DATA, _attr(VETH_INFO_PEER, peer))
    body = _ifinfo(index, up=True) + _attr(IFLA_IFNAME, _name(ifname)) + _attr(IFLA_LINKINFO, info)
    return _message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)


def link_vxlan(index: int, ifname: str, *, vni: int, underlay: int, remote: IPv4Address) -> bytes:
    data = (
        _attr(IFLA_VXLAN_ID, struct.pack("=I", vni))
        + _attr(IFLA_VXLAN_GROUP, remote.packed)
        + _attr(IFLA_VXLAN_LINK, struct.pack("=I", underlay))
        + _attr(IFLA_VXLAN_PORT, struct.pack("!H", VXLAN_PORT))
    )
    info = _attr(IFLA_INFO_KIND, _name("vxlan")) + _attr(IFLA_INFO_DATA, data)
    body = _ifinfo(index, up=True) + _attr(IFLA_IFNAME, _name(ifname)) + _attr(IFLA_LINKINFO, info)
    return _message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)


def link_vlan(index: int, ifname: str, *, parent: int, vlan_id: int) -> bytes:
    info = _attr(IFLA_INFO_KIND, _name("vlan")) + _attr(IFLA_INFO_DATA, _attr(IFLA_VLAN_ID, struct.pack("=H", vlan_id)))
    body = (
        _ifinfo(index, up=True)
        + _attr(IFLA_IFNAME, _name(ifname))
        + _attr(IFLA_LINK, struct.pack("=I", parent))
        + _attr(IFLA_LINKINFO, info)
    )
    return _message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)


def link_up(index: int) -> bytes:
    return _message(RTM_NEWLINK, 0, _ifinfo(index, up=True))


def link_delete(index: int) -> bytes:
    return _message(RTM_DELLINK, 0, _ifinfo(index))


def host_route(index: int, *, gateway: IPv4Address, peer: IPv4Address, add: bool = True) -> bytes:
    """An unnumbered line: the subscriber's /32 routed to the line's interface, answered from the gateway
    address (which lives once on the router's loopback, not on every line)."""
    body = struct.pack(
        "=BBBBBBBBI", socket.AF_INET, 32, 0, 0, RT_TABLE_MAIN, RTPROT_OPENTELECOM, RT_SCOPE_LINK, RTN_UNICAST, 0
    )
    body += _attr(RTA_DST, peer.packed) + _attr(RTA_OIF, struct.pack("=I", index)) + _attr(RTA_PREFSRC, gateway.packed)
    return _message(RTM_NEWROUTE if add else RTM_DELROUTE, NLM_F_CREATE | NLM_F_EXCL if add else 0, body)


def loopback_address(index: int, address: IPv4Address) -> bytes:
    """A gateway address on the loopback (/32), shared by every line whose pool it serves."""
    body = struct.pack("=BBBBI", socket.AF_INET, 32, 0, RT_SCOPE_UNIVERSE, index)
    body += _attr(IFA_LOCAL, address.packed) + _attr(IFA_ADDRESS, address.packed)
    return _message(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)


def prefix_route(index: int, prefix: IPv6Network, *, add: bool = True) -> bytes:
    """The delegated IPv6 prefix, routed to the line's interface."""
    body = struct.pack(
        "=BBBBBBBBI",
        socket.AF_INET6,
        prefix.prefixlen,
        0,
        0,
        RT_TABLE_MAIN,
        RTPROT_OPENTELECOM,
        RT_SCOPE_UNIVERSE,
        RTN_UNICAST,
        0,
    )
    body += _attr(RTA_DST, prefix.network_address.packed) + _attr(RTA_OIF, struct.pack("=I", index))
    return _message(RTM_NEWROUTE if add else RTM_DELROUTE, NLM_F_CREATE | NLM_F_EXCL if add else 0, body)


def qdisc_delete(index: int) -> bytes:
    """Delete the root qdisc of an interface (its classes and filters go with it)."""
    return _message(RTM_DELQDISC, 0, struct.pack("=BxxxiIII", socket.AF_UNSPEC, index, HTB_ROOT, TC_H_ROOT, 0))


def class_delete(index: int, handle: int) -> bytes:
    return _message(RTM_DELTCLASS, 0, struct.pack("=BxxxiIII", socket.AF_UNSPEC, index, handle, HTB_ROOT, 0))


@dataclass(frozen=True)
class Template:
    """A tc message compiled once by pyroute2 (HTB with its rate tables), patched per interface/class."""

    message: bytes

    def render(self, index: int, handle: int | None = None) -> bytes:
        message = bytearray(self.message)
        struct.pack_into("=i", message, TCMSG_IFINDEX_OFFSET, index)
        if handle is not None:
            struct.pack_into("=I", message, TCMSG_IFINDEX_OFFSET + 4, handle)
        return bytes(message)


def _burst_bytes(kbps: int) -> int:
    # Room for ~20 ms at the rate, never below 32 KiB: TCP needs it to reach the configured rate.
    return max(32 * 1024, kbps * 1000 // 8 // 50)


def _compiled(build: Callable[[IPBatch], None]) -> Template:
    batch = IPBatch()
    try:
        build(batch)
        return Template(bytes(batch.batch))
    finally:
        batch.close()


def htb_root(*, default_minor: int) -> Template:
    """An HTB root qdisc 1: whose unclassified traffic goes to class 1:``default_minor`` (0: unshaped)."""
    return _compiled(lambda b: b.tc("add", "htb", index=1, handle=HTB_ROOT, default=default_minor))


def htb_class(kbps: int) -> Template:
    """An HTB class under 1: at ``kbps`` (rate = ceil); its handle is patched per use."""
    rate = f"{kbps}kbit"
    burst = _burst_bytes(kbps)
    return _compiled(
        lambda b: b.tc(
            "add-class",
            "htb",
            index=1,
            handle=HTB_CLASS,
            parent=HTB_ROOT,
            rate=rate,
            ceil=rate,
            burst=burst,
            cburst=burst,
        )
    )


# Upstream classification on the uplink: one u32 prio with a 256-bucket hash table keyed on the last
# byte of the source address; each line is one node in its bucket with an explicit handle, so it can be
# deleted alone and the kernel's 2,048 automatic handles per table are no limit.
UPSTREAM_PRIO = 100
UPSTREAM_TABLE = 2  # u32 hash table 2:


def _u32_handle(table: int, bucket: int = 0, node: int = 0) -> int:
    return (table << 20) | (bucket << 12) | node


def upstream_node(source: IPv4Address) -> tuple[int, int]:
    """(bucket, node) of a subscriber address: the last byte picks the bucket, the next 11 bits the node
    (unique for every address within a /13)."""
    value = int(source)
    return value & 0xFF, ((value >> 8) & 0x7FF) + 1


def _u32(index: int, *, handle: int, options: bytes, add: bool) -> bytes:
    info = (UPSTREAM_PRIO << 16) | socket.htons(ETH_P_IP)
    body = struct.pack("=BxxxiIII", socket.AF_UNSPEC, index, handle, HTB_ROOT, info)
    if not add:
        return _message(RTM_DELTFILTER, 0, body + _attr(TCA_KIND, _name("u32")))
    body += _attr(TCA_KIND, _name("u32")) + _attr(TCA_OPTIONS, options)
    return _message(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, body)


def upstream_table(index: int) -> list[bytes]:
    """The hash table and the root filter that hashes IPv4 packets into it by source address."""
    table = _u32(
        index, handle=_u32_handle(UPSTREAM_TABLE), options=_attr(TCA_U32_DIVISOR, struct.pack("=I", 256)), add=True
    )
    selector = struct.pack("=BBBxHHhhI", 0, 0, 1, 0, 0, 0, 12, socket.htonl(0xFF))
    key = struct.pack("=IIii", 0, 0, 12, 0)
    link = _u32(
        index,
        handle=0,
        options=_attr(TCA_U32_LINK, struct.pack("=I", _u32_handle(UPSTREAM_TABLE)))
        + _attr(TCA_U32_HASH, struct.pack("=I", 0x80000000))
        + _attr(TCA_U32_SEL, selector + key),
        add=True,
    )
    return [table, link]


def upstream_filter(index: int, *, source: IPv4Address, classid: int, add: bool = True) -> bytes:
    """Send IPv4 packets from ``source`` to class ``classid`` (or remove that filter)."""
    bucket, node = upstream_node(source)
    handle = _u32_handle(UPSTREAM_TABLE, bucket, node)
    selector = struct.pack("=BBBxHHhhI", TC_U32_TERMINAL, 0, 1, 0, 0, 0, 0, 0)
    key = struct.pack("=4s4sii", b"\xff\xff\xff\xff", source.packed, 12, 0)
    options = (
        _attr(TCA_U32_CLASSID, struct.pack("=I", classid))
        + _attr(TCA_U32_HASH, struct.pack("=I", _u32_handle(UPSTREAM_TABLE, bucket)))
        + _attr(TCA_U32_SEL, selector + key)
    )
    return _u32(index, handle=handle, options=options, add=add)


def rule(
    *,
    family: int,
    priority: int,
    blackhole: bool,
    iif: str | None = None,
    source: IPv4Address | None = None,
    destination: IPv4Address | IPv6Network | None = None,
    add: bool = True,
) -> bytes:
    """A policy-routing rule: the walled garden is built from these (no tc actions on this kernel)."""
    dst_len = 0
    attrs = _attr(FRA_PRIORITY, struct.pack("=I", priority))
    if iif is not None:
        attrs += _attr(FRA_IIFNAME, _name(iif))
    if source is not None:
        attrs += _attr(FRA_SRC, source.packed)
    src_len = 32 if source is not None else 0
    if isinstance(destination, IPv6Network):
        attrs += _attr(FRA_DST, destination.network_address.packed)
        dst_len = destination.prefixlen
    elif destination is not None:
        attrs += _attr(FRA_DST, destination.packed)
        dst_len = 32
    action = FR_ACT_BLACKHOLE if blackhole else FR_ACT_TO_TBL
    table = 0 if blackhole else RT_TABLE_MAIN
    if not blackhole:
        attrs += _attr(FRA_TABLE, struct.pack("=I", RT_TABLE_MAIN))
    body = struct.pack("=BBBBBBBBI", family, dst_len, src_len, 0, table, 0, 0, action, 0) + attrs
    return _message(RTM_NEWRULE if add else RTM_DELRULE, NLM_F_CREATE if add else 0, body)


def _split(buffer: bytes) -> Iterator[bytes]:
    offset = 0
    while offset < len(buffer):
        (length,) = struct.unpack_from("=I", buffer, offset)
        yield buffer[offset : offset + length]
        offset += (length + 3) & ~3


@contextmanager
def socket_in(netns: str | None) -> Iterator[socket.socket]:
    """A raw rtnetlink socket bound inside ``netns`` (None: this process's own namespace)."""
    if netns is not None:
        pushns(netns)
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    finally:
        if netns is not None:
            popns()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        sock.bind((0, 0))
        yield sock
    finally:
        sock.close()


@dataclass(frozen=True)
class Request:
    """One netlink message with a label for error reports; a ``tolerant`` request (deleting what may
    already be gone) does not fail the batch on ENOENT and the like."""

    label: str
    message: bytes
    tolerant: bool = False


def send_all(sock: socket.socket, requests: Iterable[Request]) -> list[tuple[str, int]]:
    """Send requests many per sendmsg, read every acknowledgement, and return the refusals as
    ``(label, errno)``."""
    failures: list[tuple[str, int]] = []
    labels: dict[int, Request] = {}
    pending: list[bytes] = []
    size = 0

    def flush() -> None:
        nonlocal size
        if not pending:
            return
        sock.send(b"".join(pending))
        waiting = len(pending)
        pending.clear()
        size = 0
        while waiting:
            data = sock.recv(1 << 20)
            offset = 0
            while offset < len(data):
                length, kind, _flags, number, _pid = struct.unpack_from("=IHHII", data, offset)
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", data, offset + 16)
                    waiting -= 1
                    request = labels.pop(number, None)
                    tolerated = request is not None and request.tolerant and -code in IGNORE_ON_DELETE
                    if code and not tolerated:
                        failures.append((request.label if request else "?", -code))
                offset += (length + 3) & ~3

    for seq, request in enumerate(requests, start=1):
        numbered = bytearray(request.message)
        struct.pack_into("=I", numbered, 8, seq)
        labels[seq] = request
        pending.append(bytes(numbered))
        size += len(numbered)
        if size >= BATCH_BYTES:
            flush()
    flush()
    return failures


IGNORE_ON_DELETE = frozenset({errno.ENOENT, errno.ENODEV, errno.EINVAL, errno.ESRCH, errno.EADDRNOTAVAIL})
