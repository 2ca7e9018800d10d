"""Traffic-control messages for the access router: TBF down shaping (HTB on a walled line), the ingress
qdiscs and redirects that send a line's upstream traffic to its shaper, the HTB classes there (the u32
classifiers are in ``classify.py``, the shapers in ``shapers.py``), and the walled garden's classic-BPF
filter. Built and read like
``netlink.py``."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Literal

from network.router.netlink import (
    AF_UNSPEC,
    CREATE,
    F_CREATE,
    F_DUMP,
    F_REPLACE,
    F_REQUEST,
    GET,
    RTM_DELQDISC,
    RTM_DELTCLASS,
    RTM_DELTFILTER,
    RTM_GETQDISC,
    RTM_GETTCLASS,
    RTM_GETTFILTER,
    RTM_NEWQDISC,
    RTM_NEWTCLASS,
    RTM_NEWTFILTER,
    Message,
    Request,
    as_text,
    as_u16,
    as_u32,
    attr,
    attrs,
    text,
    u32,
)

TCA_KIND, TCA_OPTIONS, TCA_INGRESS_BLOCK = 1, 2, 13
TCA_HTB_PARMS, TCA_HTB_INIT, TCA_HTB_RATE64, TCA_HTB_CEIL64 = 1, 2, 6, 7
TCA_TBF_PARMS, TCA_TBF_RATE64, TCA_TBF_BURST = 1, 4, 6
TCA_U32_CLASSID, TCA_U32_HASH, TCA_U32_LINK, TCA_U32_DIVISOR, TCA_U32_SEL, TCA_U32_ACT = 1, 2, 3, 4, 5, 7
TCA_BPF_OPS_LEN, TCA_BPF_OPS, TCA_BPF_FLAGS = 4, 5, 8
TCA_BPF_FLAG_ACT_DIRECT = 1
TCA_ACT_KIND, TCA_ACT_OPTIONS = 1, 2
TCA_MIRRED_PARMS = 2
TCA_EGRESS_REDIR = 1
TC_ACT_UNSPEC, TC_ACT_SHOT, TC_ACT_STOLEN = -1, 2, 4
TC_U32_TERMINAL = 1
TC_LINKLAYER_ETHERNET = 1
TC_H_ROOT, TC_H_INGRESS = 0xFFFFFFFF, 0xFFFFFFF1
TCM_IFINDEX_MAGIC_BLOCK = -1  # tcm_ifindex of a request about a shared block; tcm_parent is the block index
INGRESS_HANDLE = 0xFFFF0000
ETH_P_ALL, ETH_P_IP, ETH_P_ARP, ETH_P_IPV6 = 0x0003, 0x0800, 0x0806, 0x86DD
REDIRECT_PRIO = 10
WALLED_PRIO = 1
U32_HANDLE = 0x80000001  # 800::1, the first node of u32's default table

_TCMSG = struct.Struct("=BxxxiIII")
_HTB_GLOB = struct.Struct("=IIIII")
_HTB_OPT = struct.Struct("=BBHhHIBBHhHIIIIII")
_TBF_OPT = struct.Struct("=BBHhHIBBHhHIIII")
_U32_SEL = struct.Struct("=BBBxHHhhI")  # hmask (the last field) is in network byte order
_U32_KEY = struct.Struct("=IIii")  # mask and value are in network byte order
_MIRRED = struct.Struct("=IIiiiiI")
_SOCK_FILTER = struct.Struct("=HBBI")


def handle(major: int, minor: int) -> int:
    """A tc handle ``major:minor`` as the kernel stores it."""
    return (major << 16) | minor


def tcmsg(index: int, handle_: int, parent: int, info: int = 0) -> bytes:
    """The tcmsg header of a qdisc, class or filter request."""
    return _TCMSG.pack(AF_UNSPEC, index, handle_, parent, info)


def htb_root(index: int, *, replace: bool, default: int = 1) -> Request:
    """HTB root ``1:`` whose unclassified traffic goes to class ``1:<default>`` (``replace``: whatever root
    is there)."""
    options = attr(TCA_HTB_INIT, _HTB_GLOB.pack(3, 10, default, 0, 0))
    body = tcmsg(index, handle(1, 0), TC_H_ROOT) + text(TCA_KIND, "htb") + attr(TCA_OPTIONS, options)
    return Request(RTM_NEWQDISC, F_REQUEST | F_CREATE | F_REPLACE if replace else CREATE, body, "add HTB root")


def burst_bytes(kbps: int) -> int:
    """The bucket of a line's shaper: 20 ms at the line rate, at least 32 KiB.

    Less than a few ms starves TCP on a 2-core test machine whose timers fire late; the floor keeps a
    64 KiB GSO packet from waiting on a slow line for long."""
    return max(kbps * 125 // 50, 32 * 1024)


def htb_class(index: int, kbps: int, *, replace: bool, minor: int = 1) -> Request:
    """Class ``1:<minor>`` at ``kbps`` (ceil = rate): on a walled line (``1:1``) the whole line downstream,
    on a shaper one line upstream."""
    rate = kbps * 125  # bytes per second
    # The bucket is given in scheduler ticks of 64 ns (PSCHED_SHIFT = 6).
    ticks = burst_bytes(kbps) * 1_000_000_000 // rate // 64
    low = min(rate, 0xFFFFFFFF)
    spec = (0, TC_LINKLAYER_ETHERNET, 0, 0, 0, low)
    options = attr(TCA_HTB_PARMS, _HTB_OPT.pack(*spec, *spec, ticks, ticks, 60_000, 0, 0))
    if rate > 0xFFFFFFFF:
        options += attr(TCA_HTB_RATE64, struct.pack("=Q", rate)) + attr(TCA_HTB_CEIL64, struct.pack("=Q", rate))
    body = tcmsg(index, handle(1, minor), handle(1, 0)) + text(TCA_KIND, "htb") + attr(TCA_OPTIONS, options)
    flags = F_REQUEST | F_CREATE | F_REPLACE if replace else CREATE
    return Request(RTM_NEWTCLASS, flags, body, f"{'set' if replace else 'add'} HTB class 1:{minor:x} at {kbps} kbit")


def del_class(index: int, minor: int) -> Request:
    body = tcmsg(index, handle(1, minor), handle(1, 0))
    return Request(RTM_DELTCLASS, F_REQUEST, body, f"remove HTB class 1:{minor:x}")


def tbf(index: int, kbps: int, *, replace: bool, what: Literal["down", "up"]) -> Request:
    """TBF root at ``kbps``: on an open line (handle ``2:``) the down rate, on a line's shaper (``1:``) the
    up rate. A token bucket with a queue of 200 ms (at least 128 KiB): upstream, a policer that lets a
    burst wait instead of dropping it, which TCP likes better.

    A line's TBF has another handle than a walled line's HTB root (``1:``) because the kernel refuses to
    replace a qdisc by one of another kind under the same handle; under another handle, a replace of the
    root swaps one for the other in one request."""
    rate = kbps * 125
    burst = burst_bytes(kbps)
    limit = max(rate // 5, 128 * 1024)
    ticks = burst * 1_000_000_000 // rate // 64
    spec = (0, TC_LINKLAYER_ETHERNET, 0, 0, 0, min(rate, 0xFFFFFFFF))
    options = attr(TCA_TBF_PARMS, _TBF_OPT.pack(*spec, *(0,) * 6, limit, ticks, 0)) + u32(TCA_TBF_BURST, burst)
    if rate > 0xFFFFFFFF:
        options += attr(TCA_TBF_RATE64, struct.pack("=Q", rate))
    major = 2 if what == "down" else 1
    body = tcmsg(index, handle(major, 0), TC_H_ROOT) + text(TCA_KIND, "tbf") + attr(TCA_OPTIONS, options)
    flags = F_REQUEST | F_CREATE | F_REPLACE if replace else CREATE
    return Request(RTM_NEWQDISC, flags, body, f"{'set' if replace else 'add'} {what}stream TBF at {kbps} kbit")


def tbf_kbps(tc: Tc) -> int | None:
    """The rate of a TBF qdisc in kbit/s."""
    if TCA_TBF_RATE64 in tc.options:
        return int(struct.unpack("=Q", tc.options[TCA_TBF_RATE64])[0]) // 125
    if TCA_TBF_PARMS not in tc.options:
        return None
    return int(_TBF_OPT.unpack_from(tc.options[TCA_TBF_PARMS])[5]) // 125


def ingress(index: int, *, block: int | None = None) -> Request:
    """The ingress qdisc, with filters of its own or (``block``) those of a shared block."""
    body = tcmsg(index, INGRESS_HANDLE, TC_H_INGRESS) + text(TCA_KIND, "ingress") + attr(TCA_OPTIONS, b"")
    if block is not None:
        body += u32(TCA_INGRESS_BLOCK, block)
    return Request(RTM_NEWQDISC, CREATE, body, "add ingress qdisc" + (f" on block {block}" if block else ""))


def del_ingress(index: int) -> Request:
    body = tcmsg(index, INGRESS_HANDLE, TC_H_INGRESS)
    return Request(RTM_DELQDISC, F_REQUEST, body, "remove ingress qdisc")


def filter_info(prio: int, protocol: int) -> int:
    """tcm_info of a filter."""
    # tcm_info: the priority in the upper half, the protocol in network byte order in the lower.
    return (prio << 16) | as_u16(struct.pack("!H", protocol))


def redirect(index: int, target: int, *, block: int | None = None) -> Request:
    """Ingress filter: every packet goes through ``target`` (a shaper, where it is shaped). On a line's own
    ingress qdisc, or (``block``) in a shared block, where it replaces whatever filter is there."""
    selector = _U32_SEL.pack(TC_U32_TERMINAL, 0, 1, 0, 0, 0, 0, 0) + _U32_KEY.pack(0, 0, 0, 0)
    mirred = _MIRRED.pack(0, 0, TC_ACT_STOLEN, 0, 0, TCA_EGRESS_REDIR, target)
    action = text(TCA_ACT_KIND, "mirred") + attr(TCA_ACT_OPTIONS, attr(TCA_MIRRED_PARMS, mirred))
    options = attr(TCA_U32_SEL, selector) + attr(TCA_U32_ACT, attr(1, action))
    info = filter_info(REDIRECT_PRIO, ETH_P_ALL)
    where = tcmsg(index, U32_HANDLE, INGRESS_HANDLE, info) if block is None else _blocktcmsg(block, U32_HANDLE, info)
    body = where + text(TCA_KIND, "u32") + attr(TCA_OPTIONS, options)
    if block is None:
        return Request(RTM_NEWTFILTER, CREATE, body, "add upstream redirect")
    return Request(RTM_NEWTFILTER, F_REQUEST | F_CREATE | F_REPLACE, body, f"set upstream redirect of block {block}")


def _blocktcmsg(block: int, handle_: int, info: int) -> bytes:
    return tcmsg(TCM_IFINDEX_MAGIC_BLOCK, handle_, block, info)


def dump_filters(index: int, parent: int) -> Request:
    """Every filter of one device under ``parent`` (``index`` -1: of the shared block ``parent``)."""
    return Request(RTM_GETTFILTER, F_REQUEST | F_DUMP, tcmsg(index, 0, parent))


def dump_classes(index: int) -> Request:
    return Request(RTM_GETTCLASS, F_REQUEST | F_DUMP, tcmsg(index, 0, 0))


# Classic BPF (no bpf() syscall, no loader): the kernel here has no gact or police actions, but cls_bpf in
# direct-action mode may return TC_ACT_SHOT itself. Offsets count from the Ethernet header on ingress and
# egress alike (cls_bpf pushes the MAC header back on ingress).
_LD_PROTO = (0x28, 0, 0, 0xFFFFF000)  # ldh skb->protocol
_LD_LEN = (0x80, 0, 0, 0)  # ld skb->len


def walled_program(portal: IPv4Address, *, upstream: bool) -> bytes:
    """``ARP, or IPv4 to (upstream) / from (downstream) the portal: go on; anything else: drop``."""
    offset = 30 if upstream else 26  # IPv4 destination / source address
    ops = [
        _LD_PROTO,
        (0x15, 5, 0, ETH_P_ARP),  # jeq ARP -> pass
        (0x15, 0, 5, ETH_P_IP),  # jne IPv4 -> drop
        _LD_LEN,
        (0x35, 0, 3, 34),  # jlt 34 bytes -> drop
        (0x20, 0, 0, offset),  # ld address
        (0x15, 0, 1, int(portal)),  # jne portal -> drop
        (0x06, 0, 0, TC_ACT_UNSPEC & 0xFFFFFFFF),  # pass: on to the next filter
        (0x06, 0, 0, TC_ACT_SHOT),  # drop
    ]
    return b"".join(_SOCK_FILTER.pack(*op) for op in ops)


def walled_filter(index: int, portal: IPv4Address, *, upstream: bool) -> Request:
    """The walled-garden filter, first on the ingress qdisc (upstream) or the HTB root (downstream)."""
    program = walled_program(portal, upstream=upstream)
    options = (
        attr(TCA_BPF_OPS_LEN, struct.pack("=H", len(program) // _SOCK_FILTER.size))
        + attr(TCA_BPF_OPS, program)
        + u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT)
    )
    parent = INGRESS_HANDLE if upstream else handle(1, 0)
    info = filter_info(WALLED_PRIO, ETH_P_ALL)
    body = tcmsg(index, 1, parent, info) + text(TCA_KIND, "bpf") + attr(TCA_OPTIONS, options)
    return Request(RTM_NEWTFILTER, CREATE, body, f"add walled filter ({'up' if upstream else 'down'})")


def del_walled_filter(index: int, *, upstream: bool) -> Request:
    parent = INGRESS_HANDLE if upstream else handle(1, 0)
    body = tcmsg(index, 0, parent, filter_info(WALLED_PRIO, ETH_P_ALL))
    return Request(RTM_DELTFILTER, F_REQUEST, body, f"remove walled filter ({'up' if upstream else 'down'})")


def del_redirect(index: int) -> Request:
    body = tcmsg(index, 0, INGRESS_HANDLE, filter_info(REDIRECT_PRIO, ETH_P_ALL))
    return Request(RTM_DELTFILTER, F_REQUEST, body, "remove upstream redirect")


def dump_qdiscs() -> Request:
    return Request(RTM_GETQDISC, F_REQUEST | F_DUMP, tcmsg(0, 0, 0))


# Classes and filters cannot be dumped for all devices at once, and the kernel finishes a dump only as its
# answer is read, so a batch of dumps would mostly fail with EBUSY. GETs of the objects we make (known
# handles) have no such state and go many per sendmsg.


def get_class(index: int) -> Request:
    """HTB class 1:1 of a device."""
    return Request(RTM_GETTCLASS, GET, tcmsg(index, handle(1, 1), handle(1, 0)))


def get_walled_filter(index: int, *, upstream: bool) -> Request:
    parent = INGRESS_HANDLE if upstream else handle(1, 0)
    return Request(RTM_GETTFILTER, GET, tcmsg(index, 1, parent, filter_info(WALLED_PRIO, ETH_P_ALL)))


def get_redirect(index: int) -> Request:
    body = tcmsg(index, U32_HANDLE, INGRESS_HANDLE, filter_info(REDIRECT_PRIO, ETH_P_ALL))
    return Request(RTM_GETTFILTER, GET, body)


@dataclass(frozen=True, slots=True)
class Tc:
    """One qdisc, class or filter from a dump."""

    index: int
    handle: int
    parent: int
    info: int
    kind: str
    options: dict[int, bytes]
    block: int | None = None  # an ingress qdisc's shared block

    @property
    def prio(self) -> int:
        return self.info >> 16


def parse_tc(message: Message) -> Tc:
    """A qdisc, class or filter message."""
    _, index, handle_, parent, info = _TCMSG.unpack_from(message.body)
    found = attrs(message.body, _TCMSG.size)
    options = attrs(found[TCA_OPTIONS]) if TCA_OPTIONS in found else {}
    block = as_u32(found[TCA_INGRESS_BLOCK]) if TCA_INGRESS_BLOCK in found else None
    return Tc(index, handle_, parent, info, as_text(found.get(TCA_KIND, b"")), options, block or None)


def htb_kbps(tc: Tc) -> int | None:
    """The rate of an HTB class in kbit/s."""
    if TCA_HTB_RATE64 in tc.options:
        return int(struct.unpack("=Q", tc.options[TCA_HTB_RATE64])[0]) // 125
    if TCA_HTB_PARMS not in tc.options:
        return None
    return int(_HTB_OPT.unpack_from(tc.options[TCA_HTB_PARMS])[5]) // 125


def redirect_target(tc: Tc) -> int | None:
    """The device a u32 mirred-redirect filter sends packets to."""
    actions = attrs(tc.options.get(TCA_U32_ACT, b""))
    for action in actions.values():
        found = attrs(action)
        if as_text(found.get(TCA_ACT_KIND, b"")) == "mirred":
            parms = attrs(found.get(TCA_ACT_OPTIONS, b"")).get(TCA_MIRRED_PARMS)
            if parms is not None:
                return int(_MIRRED.unpack_from(parms)[6])
    return None


def bpf_program(tc: Tc) -> bytes | None:
    return tc.options.get(TCA_BPF_OPS)


def walled_portal(program: bytes, *, upstream: bool) -> IPv4Address:
    """The portal a walled-garden program lets through; 0.0.0.0 for a program not made by us."""
    if len(program) == 9 * _SOCK_FILTER.size:
        portal = IPv4Address(_SOCK_FILTER.unpack_from(program, 6 * _SOCK_FILTER.size)[3])
        if walled_program(portal, upstream=upstream) == program:
            return portal
    return IPv4Address(0)
