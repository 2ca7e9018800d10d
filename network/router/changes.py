"""The netlink requests that take a router from what was read to what is desired, line by line, sorted into
phases. Building them is pure Python (apart from opening a peer namespace); ``linux.py`` sends them.

Per line ``otlX``: the interface; a TBF root at the down rate; upstream, a class at the up rate on one of
the router's shared shapers (``shapers.py``) with classifiers for the line's address and delegated prefix,
and an ingress qdisc bound to that shaper's shared block, whose filter redirects every packet there; the
host route (from the gateway, which is on the router's loopback: the line has no address of its own) and
the delegated prefix through it. A walled line has an ingress qdisc of its own instead, with a classic-BPF
filter first and then the redirect to its shaper, and an HTB root with class 1:1 at the down rate instead
of the TBF, with the same kind of filter on it (TBF takes no filters).

Why unnumbered lines: with the same gateway /32 on every line, the kernel keeps one local route with an
entry per line and walks that list for each new one (10,000 lines: about a second). The subscriber still
gets its ARP answer for the gateway, as Linux answers ARP for any of its addresses on any interface
(``arp_ignore`` 0, the default), and packets from the router to the subscriber leave from the gateway.

Why TBF and not HTB for an open line, and why no filters of its own on its ingress: the kernel keeps every
filter block (each HTB qdisc, each HTB class, each ingress qdisc with filters of its own has one) in one
global list and searches it linearly whenever a block is made, so creation time grows with the square of
the blocks on the machine. An open line has no block of its own; its class on the shared shaper has one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from ipaddress import IPv4Address, IPv4Network, IPv6Network

from network.router import classify, netlink, tc
from network.router.channel import namespace_fd
from network.router.netlink import Request
from network.router.reader import Found, Snapshot
from network.router.shapers import Network, Upstream, block_of, delete_classifier, place
from network.router.state import LineSpec, host_network, peer_name, port_differences, shaper_name

# The order in which one convergence's requests reach the kernel. Every line's requests depend only on
# earlier phases, and grouping by kind is faster too: the first filter on a just-made ingress qdisc makes
# the kernel wait for an RCU grace period, which has long passed once all the qdiscs are made first.
PHASES = (
    "clear",
    "remove",
    "links",
    "qdiscs",
    "classes",
    "filters",
    "addresses",
    "up",
    "routes",
    "shapers",
    "prefixes",
)
# Phases sent together without waiting in between (the socket keeps their order). Before anything refers
# to a new interface by its index, the kernel must have said yes to "links": had the index been taken
# meanwhile by a device not ours, the rest of the line would land on that device.
EARLY = (("clear",), ("remove",), ("links",), PHASES[3:9])
# Sent once every chunk of an apply has had its EARLY steps: the lines' classes and classifiers on the
# shared shapers, and their IPv6 prefix routes. Both are cheaper then. Every new filter block (each HTB
# class has one) goes to the head of a global list the kernel searches linearly, also when an ingress
# qdisc is bound to a shared block: made after all the bindings, the classes leave the shapers' blocks at
# the head, where the bindings find them at once. And each interface coming up makes the kernel walk the
# namespace's whole IPv6 routing table (``rt6_sync_down_dev``, from linkwatch, up to a second later):
# while the lines come up that table is still nearly empty. Until then a new line's upstream packets go
# through its shaper's class for unclassified traffic (on a router provisioned from scratch they are not
# redirected to the shaper yet at all, see ``shapers.prepare``).
LATE = (("shapers", "prefixes"),)
STEPS = EARLY + LATE
_PHASE_OF = {
    netlink.RTM_DELLINK: "remove",
    netlink.RTM_NEWQDISC: "qdiscs",
    netlink.RTM_DELQDISC: "qdiscs",
    netlink.RTM_NEWTCLASS: "classes",
    netlink.RTM_DELTCLASS: "classes",
    netlink.RTM_NEWTFILTER: "filters",
    netlink.RTM_DELTFILTER: "filters",
    netlink.RTM_NEWADDR: "addresses",
    netlink.RTM_DELADDR: "addresses",
    netlink.RTM_NEWROUTE: "routes",
    netlink.RTM_DELROUTE: "routes",
}


def phase_of(request: Request) -> str:
    """The phase a request belongs to (a new link is made in "links", an existing one brought "up")."""
    if request.type == netlink.RTM_NEWLINK:
        return "links" if request.flags & netlink.F_CREATE else "up"
    return _PHASE_OF[request.type]


@dataclass
class Changes:
    """The requests for some lines, by phase, each with the line it belongs to; and what went wrong."""

    portal: IPv4Address
    next_index: int  # the last interface index handed out (new interfaces get explicit indexes)
    peer_fds: dict[str, int]  # open peer namespaces, shared by all chunks of one apply
    group: int  # the device group doomed devices are put in, to be deleted in one request
    upstream: Upstream  # the shared shapers, and what is handed out on them
    phases: dict[str, list[tuple[str, Request]]] = field(default_factory=lambda: {phase: [] for phase in PHASES})
    failed: dict[str, list[str]] = field(default_factory=dict)
    fresh: set[str] = field(default_factory=set)  # lines being created: undone if any request fails
    doomed: list[tuple[str, int, str]] = field(default_factory=list)  # (line, index, device) to delete
    undo: dict[str, list[Callable[[], Request]]] = field(default_factory=dict)  # takes a fresh line's tc away

    def add(self, line: str, *requests: Request, phase: str | None = None) -> None:
        """Requests of ``line``, in their phase (or in ``phase``)."""
        for request in requests:
            self.phases[phase or phase_of(request)].append((line, request))

    def forget(self, steps: Sequence[Sequence[str]]) -> None:
        """Drop the requests of ``steps``, once sent."""
        for step in steps:
            for phase in step:
                self.phases[phase] = []

    def clear(self, line: str, request: Request) -> None:
        """A request that eases the removal of a doomed line (see ``remove_line``)."""
        self.phases["clear"].append((line, request))

    def doom(self, line: str, index: int, device: str) -> None:
        self.doomed.append((line, index, device))

    def index(self) -> int:
        self.next_index += 1
        return self.next_index

    def fail(self, line: str, reason: str) -> None:
        self.failed.setdefault(line, []).append(reason)


def build(
    jobs: Sequence[tuple[str, str]], wanted: dict[str, LineSpec], snapshot: Snapshot, changes: Changes
) -> Changes:
    """The requests for ``jobs``: ("remove" | "orphan" | "create" | "repair", line name)."""
    for job, name in jobs:
        if job == "remove":
            remove_line(changes, name, snapshot)
        elif job == "orphan":
            changes.doom(name, snapshot.orphan_shapers[name], name)
        elif job == "create":
            create_line(changes, wanted[name], snapshot)
        else:
            repair_line(changes, wanted[name], snapshot.lines[name], snapshot)
    return changes


def remove_line(changes: Changes, name: str, snapshot: Snapshot) -> None:
    """Delete the line's class and classifiers on its shaper, and its interface (a veth's far end goes with
    it)."""
    found = snapshot.lines.get(name)
    if found is not None:
        # Taken away first, because the kernel makes every device removal visit every redirect action
        # and every IPv6 route of the namespace: without them, removing 10,000 lines takes minutes.
        if found.redirect_filter:
            changes.clear(name, tc.del_redirect(found.index))
        for prefix in sorted(found.observation.prefixes):
            changes.clear(name, netlink.route(found.index, prefix, add=False))
        shard = snapshot.shards.get(found.shard) if found.shard is not None else None
        if shard is not None and shard.index is not None and found.minor is not None:
            for network, classifier in shard.by_minor.get(found.minor, []):
                changes.clear(name, delete_classifier(shard.index, classifier, network))
            if found.minor in shard.classes:
                changes.clear(name, tc.del_class(shard.index, found.minor))
        changes.doom(name, found.index, name)
    legacy = found.legacy_shaper if found else snapshot.orphan_shapers.get(shaper_name(name))
    if legacy is not None:
        changes.doom(name, legacy, shaper_name(name))


def create_line(changes: Changes, spec: LineSpec, snapshot: Snapshot) -> None:
    """Everything of a new line. Interfaces are made down and brought up last: adding a qdisc to a
    running device makes the kernel wait for an RCU grace period."""
    name = spec.ifname
    shard = changes.upstream.pick(spec.ipv4)
    if shard is None:
        changes.fail(name, "no upstream shaper could be made")
        return
    link = _link(changes, spec, snapshot)
    if link is None:
        return
    index = link[0]
    orphan = snapshot.orphan_shapers.get(shaper_name(name))
    if orphan is not None:  # left behind by a line deleted by hand: start clean
        changes.doom(name, orphan, shaper_name(name))
    changes.fresh.add(name)
    changes.undo[name] = []
    changes.add(name, link[1])
    changes.add(name, *_line_tc(index, spec, changes.portal, replace=False))
    _upstream(changes, spec, shard, None)
    _ingress(changes, spec, index, shard, None)
    changes.add(name, netlink.set_up(index, name))
    changes.add(name, netlink.route(index, host_network(spec), add=True, source=spec.gateway))
    if spec.ipv6_prefix is not None:
        changes.add(name, netlink.route(index, spec.ipv6_prefix, add=True), phase="prefixes")


def _link(changes: Changes, spec: LineSpec, snapshot: Snapshot) -> tuple[int, Request] | None:
    name, port = spec.ifname, spec.port
    index = changes.index()
    if port.kind == "veth":
        fd = None
        if port.peer_netns is not None:
            fd = changes.peer_fds.get(port.peer_netns)
            if fd is None:
                try:
                    fd = changes.peer_fds[port.peer_netns] = namespace_fd(port.peer_netns)
                except Exception as error:  # noqa: BLE001 - reported for this line, the others go on
                    changes.fail(name, str(error))
                    return None
        peer_index = 0 if fd is not None else changes.index()
        peer = peer_name(name, port)
        return index, netlink.new_veth(name, index=index, peer=peer, peer_index=peer_index, peer_netns_fd=fd)
    if port.kind == "vxlan":
        underlay = snapshot.links.get(port.underlay or "")
        if underlay is None or port.local is None or port.remote is None or port.vni is None:
            changes.fail(name, f"underlay {port.underlay} missing")
            return None
        vxlan = netlink.new_vxlan(
            name, index=index, vni=port.vni, local=port.local, remote=port.remote, underlay=underlay.index
        )
        return index, vxlan
    parent = snapshot.links.get(port.parent or "")
    if parent is None or port.vlan_id is None:
        changes.fail(name, f"parent {port.parent} missing")
        return None
    return index, netlink.new_vlan(name, index=index, parent=parent.index, vlan_id=port.vlan_id)


def repair_line(changes: Changes, spec: LineSpec, found: Found, snapshot: Snapshot) -> None:
    """Fix what differs on an existing line, in place; only a different port means a new interface."""
    name, seen, portal = spec.ifname, found.observation, changes.portal
    if port_differences(spec, seen.port):
        remove_line(changes, name, snapshot)
        create_line(changes, spec, Snapshot(snapshot.links, snapshot.lines, {}))
        return
    index = found.index
    if not seen.up:
        changes.add(name, netlink.set_up(index, name))
    # Downstream: an open line's TBF root, or a walled line's HTB root with its class and walled filter.
    # Replacing the root takes the old one's classes and filters with it.
    if not spec.walled:
        if found.line_root or seen.down_kbps != spec.down_kbps:
            changes.add(name, *_line_tc(index, spec, portal, replace=True))
    elif not found.line_root:
        changes.add(name, *_line_tc(index, spec, portal, replace=True))
    else:
        if seen.down_kbps != spec.down_kbps:
            changes.add(name, tc.htb_class(index, spec.down_kbps, replace=True))
        _fix_walled(changes, spec, index, seen.walled_down, upstream=False)
    # Upstream: the line's class and classifiers on its shaper, and the way there from its ingress.
    if found.legacy_shaper is not None:
        changes.doom(name, found.legacy_shaper, shaper_name(name))
    shard = found.shard if found.shard is not None else changes.upstream.pick(spec.ipv4)
    if shard is None or shard not in changes.upstream.indexes:
        changes.fail(name, "no upstream shaper could be made")
        return
    if found.shard is None:
        found = dataclasses.replace(found, minor=None)
    _upstream(changes, spec, shard, found)
    _ingress(changes, spec, index, shard, found)
    # The line is unnumbered: the gateway is the source of its host route. Addresses on the line itself
    # (from before) go; as the line's last IPv4 address goes, so do its IPv4 routes: the host route is set
    # again after.
    for address in sorted(seen.addresses):
        changes.add(name, netlink.address(index, address, add=False))
    wanted = _destinations(spec)
    present: list[IPv4Network | IPv6Network] = [*sorted(seen.hosts), *sorted(seen.prefixes)]
    for destination in present:
        if destination not in wanted:
            changes.add(name, netlink.route(index, destination, add=False))
    host = host_network(spec)
    if seen.addresses or host not in seen.hosts or found.sources.get(host) != spec.gateway:
        changes.add(name, netlink.route(index, host, add=True, source=spec.gateway, replace=True))
    if spec.ipv6_prefix is not None and spec.ipv6_prefix not in seen.prefixes:
        changes.add(name, netlink.route(index, spec.ipv6_prefix, add=True), phase="prefixes")


def _fix_walled(changes: Changes, spec: LineSpec, index: int, seen: IPv4Address | None, *, upstream: bool) -> None:
    if seen is not None and (not spec.walled or seen != changes.portal):
        changes.add(spec.ifname, tc.del_walled_filter(index, upstream=upstream))
    if spec.walled and seen != changes.portal:
        changes.add(spec.ifname, tc.walled_filter(index, changes.portal, upstream=upstream))


def _line_tc(index: int, spec: LineSpec, portal: IPv4Address, *, replace: bool) -> list[Request]:
    """The line's root qdisc at the down rate (``replace``: whatever root is there)."""
    if not spec.walled:
        return [tc.tbf(index, spec.down_kbps, replace=replace, what="down")]
    return [
        tc.htb_root(index, replace=replace),
        tc.htb_class(index, spec.down_kbps, replace=False),
        tc.walled_filter(index, portal, upstream=False),
    ]


def _upstream(changes: Changes, spec: LineSpec, shard: int, found: Found | None) -> None:
    """The line's class on shaper ``shard`` at the up rate, and classifiers of its address and prefix into
    it (any others of those networks, wherever they are, taken away)."""
    name, upstream = spec.ifname, changes.upstream
    index = upstream.indexes[shard]
    classes = upstream.shards[shard].classes
    if found is not None and found.minor is not None:
        minor = found.minor
        upstream.claim(shard, minor)
    else:
        minor = upstream.minor(shard)
    if minor not in classes:
        changes.add(name, tc.htb_class(index, spec.up_kbps, replace=False, minor=minor), phase="shapers")
        if name in changes.undo:
            changes.undo[name].append(partial(tc.del_class, index, minor))
    elif classes[minor] != spec.up_kbps:
        changes.add(name, tc.htb_class(index, spec.up_kbps, replace=True, minor=minor), phase="shapers")
    wanted = _destinations(spec)
    routed: list[Network] = [*sorted(found.observation.hosts), *sorted(found.observation.prefixes)] if found else []
    for network in [*wanted, *(net for net in routed if net not in wanted)]:
        present = False
        for number, classifier in upstream.classifiers(network):
            if (number, classifier.minor) == (shard, minor) and network in wanted:
                present = True
            elif number in upstream.indexes and (network in wanted or (number, classifier.minor) == (shard, minor)):
                changes.add(name, delete_classifier(upstream.indexes[number], classifier, network), phase="shapers")
        if network in wanted and not present:
            where = place(network)
            handle = upstream.handle(shard, where)
            request = classify.u32_classifier(
                index, handle, prio=where.prio, protocol=where.protocol, keys=where.keys, minor=minor
            )
            changes.add(name, request, phase="shapers")
            if name in changes.undo:
                undo = partial(classify.del_u32, index, handle, prio=where.prio, protocol=where.protocol)
                changes.undo[name].insert(0, undo)


def _ingress(changes: Changes, spec: LineSpec, index: int, shard: int, found: Found | None) -> None:
    """An open line's ingress qdisc bound to its shaper's block; a walled line's with its own walled filter
    and redirect. A qdisc bound to the wrong block, or to none, is made again: the kernel cannot rebind."""
    name, shaper, block = spec.ifname, changes.upstream.indexes[shard], block_of(shard)
    if found is not None and found.line_ingress:
        if not spec.walled and found.ingress_block == block:
            return
        if spec.walled and found.ingress_block is None:
            _fix_walled(changes, spec, index, found.observation.walled_up, upstream=True)
            if not found.observation.redirect or found.shard != shard:
                if found.redirect_filter:
                    changes.add(name, tc.del_redirect(index))
                changes.add(name, tc.redirect(index, shaper))
            return
        changes.add(name, tc.del_ingress(index))
    if not spec.walled:
        changes.add(name, tc.ingress(index, block=block))
        return
    changes.add(
        name, tc.ingress(index), tc.walled_filter(index, changes.portal, upstream=True), tc.redirect(index, shaper)
    )


def _destinations(spec: LineSpec) -> list[Network]:
    return [host_network(spec), *([spec.ipv6_prefix] if spec.ipv6_prefix else [])]
