"""Read what a router namespace actually holds for our lines, from the kernel (never from a cache):
links, IPv4 addresses, routes, qdiscs, each line's classes and filters, and the shared upstream shapers."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network, IPv6Network
from typing import Any, TypeVar

from network.router import netlink, shapers, tc
from network.router.channel import NETNS_DIR, Channel
from network.router.netlink import Link
from network.router.shapers import UNCLASSIFIED, Classifier, Network, Shard
from network.router.state import LINE_PREFIX, SHAPER_PREFIX, LineObservation, LinePort, shaper_name
from network.router.tc import Tc

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Found:
    """One line as found, with the kernel details a repair needs beside the observation."""

    index: int
    observation: LineObservation
    shard: int | None  # the shared shaper the line belongs to (see shapers.py)
    minor: int | None  # its class there
    line_root: bool  # our HTB root (1:) on the line
    line_ingress: bool
    ingress_block: int | None  # the shared block the line's ingress qdisc is bound to
    redirect_filter: bool  # some filter at the redirect priority on the line's own ingress, right or wrong
    legacy_shaper: int | None  # an IFB otuX of the line, from the design before shared shapers
    sources: dict[IPv4Network, IPv4Address | None] = field(default_factory=dict)  # each host route's source


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The router namespace as read: every link by name, our lines, the shared shapers, the router's own
    addresses, and what is left over: IFBs of lines that are gone (``orphan_shapers``, from the design with
    an IFB per line), classes and classifiers on the shapers that no line uses."""

    links: dict[str, Link]
    lines: dict[str, Found]
    orphan_shapers: dict[str, int]
    shards: dict[int, Shard] = field(default_factory=dict)
    orphan_classes: list[tuple[int, int]] = field(default_factory=list)  # (shard, minor)
    orphan_classifiers: list[tuple[int, Network, Classifier]] = field(default_factory=list)
    local_addresses: frozenset[IPv4Address] = frozenset()  # the router's own, on anything but a line
    our_gateways: frozenset[IPv4Address] = frozenset()  # the gateways we put on the loopback

    @property
    def max_index(self) -> int:
        return max((link.index for link in self.links.values()), default=1)

    def free_group(self) -> int:
        """A device group no link is in, for marking devices to delete together."""
        taken = {link.group for link in self.links.values()}
        return next(group for group in range(0x4F544C00, 0x4F544C00 + len(taken) + 1) if group not in taken)

    def load(self) -> dict[int, int]:
        """Lines per shard."""
        counts = dict.fromkeys(self.shards, 0)
        for found in self.lines.values():
            if found.shard is not None:
                counts[found.shard] = counts.get(found.shard, 0) + 1
        return counts


@dataclass
class _Tc:
    """The tc objects of one device that matter to us."""

    root: bool = False  # HTB with handle 1:
    ingress: bool = False
    block: int | None = None  # the ingress qdisc's shared block
    tbf: int | None = None  # kbit/s of a TBF root
    rate: int | None = None  # class 1:1, kbit/s
    walled_up: IPv4Address | None = None
    walled_down: IPv4Address | None = None
    redirect_filter: bool = False
    redirect_to: int | None = None


async def observe(channel: Channel) -> Snapshot:
    """Everything about our lines in the channel's namespace."""
    links = {link.name: link for link in map(netlink.parse_link, await channel.dump(netlink.dump_links()))}
    by_index = {link.index: link for link in links.values()}
    lines = {name: link for name, link in links.items() if name.startswith(LINE_PREFIX)}
    legacy = {name: link for name, link in links.items() if name.startswith(SHAPER_PREFIX) and link.kind == "ifb"}
    ours = {link.index for link in lines.values()}

    addresses: dict[int, set[IPv4Address]] = defaultdict(set)  # on the lines themselves
    local: set[IPv4Address] = set()  # the router's own addresses, on anything but a line
    gateways: set[IPv4Address] = set()  # ours, on the loopback
    for message in await channel.dump(netlink.dump_addresses()):
        address = netlink.parse_address(message)
        if address.index in ours:
            if address.prefixlen == 32:
                addresses[address.index].add(address.ip)
            continue
        local.add(address.ip)
        if address.index == netlink.LOOPBACK and address.label == netlink.GATEWAY_LABEL:
            gateways.add(address.ip)
    hosts: dict[int, set[IPv4Network]] = defaultdict(set)
    prefixes: dict[int, set[IPv6Network]] = defaultdict(set)
    sources: dict[int, dict[IPv4Network, IPv4Address | None]] = defaultdict(dict)
    for family in (netlink.AF_INET, netlink.AF_INET6):
        for message in await channel.dump(netlink.dump_routes(family)):
            route = netlink.parse_route(message)
            if route is None or route.oif not in ours:
                continue
            if isinstance(route.destination, IPv4Network):
                hosts[route.oif].add(route.destination)
                sources[route.oif][route.destination] = route.source
            else:
                prefixes[route.oif].add(route.destination)

    qdiscs = list(map(tc.parse_tc, await channel.dump(tc.dump_qdiscs())))
    traffic = await _read_tc(channel, qdiscs, [link.index for link in lines.values()])
    shards = await shapers.read(channel, links, qdiscs)
    ports = await _ports(channel, lines.values(), by_index)
    shard_at = {shard.index: number for number, shard in shards.items() if shard.index is not None}
    classified: dict[Network, tuple[int, Classifier]] = {}
    for shard in sorted(shards.values(), key=lambda shard: shard.number):
        for network, classifier in shard.classifiers.items():
            classified.setdefault(network, (shard.number, classifier))

    found: dict[str, Found] = {}
    for name, link in lines.items():
        line_tc = traffic[link.index]
        routed: list[Network] = [*sorted(hosts[link.index]), *sorted(prefixes[link.index])]
        number: int | None = None
        minor: int | None = None
        for network in routed:
            if (where := classified.get(network)) is not None:
                number, minor = where[0], where[1].minor
                break
        if number is None and line_tc.ingress:
            number = shapers.shard_of_block(line_tc.block)
            if number is None and line_tc.redirect_to is not None:
                number = shard_at.get(line_tc.redirect_to)
        observation = _observe_line(name, link, line_tc, shards.get(number) if number is not None else None, minor)
        observation = replace(
            observation,
            port=ports.get(name),
            gateways=_frozen(source for source in sources[link.index].values() if source in local),
            addresses=_frozen(addresses[link.index]),
            hosts=_frozen(hosts[link.index]),
            prefixes=_frozen(prefixes[link.index]),
        )
        old = legacy.get(shaper_name(name))
        found[name] = Found(
            index=link.index,
            observation=observation,
            shard=number,
            minor=minor,
            line_root=line_tc.root,
            line_ingress=line_tc.ingress,
            ingress_block=line_tc.block,
            redirect_filter=line_tc.redirect_filter,
            legacy_shaper=old.index if old else None,
            sources=sources[link.index],
        )
    orphans = {
        name: link.index for name, link in legacy.items() if LINE_PREFIX + name[len(SHAPER_PREFIX) :] not in lines
    }
    snapshot = Snapshot(
        links=links,
        lines=found,
        orphan_shapers=orphans,
        shards=shards,
        local_addresses=frozenset(local),
        our_gateways=frozenset(gateways),
    )
    _leftovers(snapshot)
    return snapshot


_EMPTY: frozenset[Any] = frozenset()


def _frozen(items: Iterable[T]) -> frozenset[T]:
    """``frozenset(items)``, sharing one empty set: most of a line's sets are empty or hold one item, and an
    empty frozenset of its own costs 216 bytes."""
    found = frozenset(items)
    return found if found else _EMPTY


def _observe_line(name: str, link: Link, line_tc: _Tc, shard: Shard | None, minor: int | None) -> LineObservation:
    """The line's interface, down shaping, walled filters and upstream shaping (addresses and routes are
    filled in by the caller)."""
    observation = LineObservation(
        ifname=name,
        port=None,
        up=link.up,
        gateways=frozenset(),
        hosts=frozenset(),
        prefixes=frozenset(),
        down_kbps=line_tc.rate if line_tc.root else line_tc.tbf,
        up_kbps=None,
        shaper=shard is not None and shard.index is not None,
        shaper_up=False,
        redirect=False,
        walled_up=line_tc.walled_up if line_tc.block is None else None,
        walled_down=line_tc.walled_down if line_tc.root else None,
    )
    if shard is None or shard.index is None:
        return observation
    own = line_tc.ingress and line_tc.block is None and line_tc.redirect_to == shard.index
    shared = line_tc.ingress and line_tc.block == shapers.block_of(shard.number) and shard.redirect_to == shard.index
    return replace(
        observation,
        up_kbps=shard.classes.get(minor) if minor is not None else None,
        shaper_up=shard.up,
        redirect=own or shared,
    )


def _classification(found: Found, shard: Shard | None) -> Found:
    """``found`` with what its shard says about its addresses: which are not classified into its class,
    and whether the shard is complete for them."""
    seen = found.observation
    if shard is None or shard.index is None:
        return found
    routed: list[Network] = [*seen.hosts, *seen.prefixes]
    unclassified = _frozen(
        network
        for network in routed
        if (classifier := shard.classifiers.get(network)) is None or classifier.minor != found.minor
    )
    missing = shard.missing({prefix.prefixlen for prefix in seen.prefixes})
    complete = not [part for part in missing if part not in ("up", "redirect")]
    return replace(found, observation=replace(seen, up_unclassified=unclassified, shaper_complete=complete))


def _leftovers(snapshot: Snapshot) -> None:
    """Fill in each line's classification, and the classes and classifiers no line uses."""
    used: set[tuple[int, int]] = set()
    routed: dict[Network, tuple[int, int]] = {}
    for name, found in snapshot.lines.items():
        shard = snapshot.shards.get(found.shard) if found.shard is not None else None
        snapshot.lines[name] = _classification(found, shard)
        if found.shard is not None and found.minor is not None:
            used.add((found.shard, found.minor))
            networks: list[Network] = [*found.observation.hosts, *found.observation.prefixes]
            for network in networks:
                routed[network] = (found.shard, found.minor)
    for number, shard in sorted(snapshot.shards.items()):
        for network, classifier in shard.classifiers.items():
            if routed.get(network) != (number, classifier.minor):
                snapshot.orphan_classifiers.append((number, network, classifier))
        snapshot.orphan_classes.extend(
            (number, minor) for minor in sorted(shard.classes) if minor != UNCLASSIFIED and (number, minor) not in used
        )


async def _read_tc(channel: Channel, qdiscs: list[Tc], indexes: list[int]) -> dict[int, _Tc]:
    found: dict[int, _Tc] = defaultdict(_Tc)
    for qdisc in qdiscs:
        if qdisc.kind == "htb" and qdisc.parent == tc.TC_H_ROOT and qdisc.handle == tc.handle(1, 0):
            found[qdisc.index].root = True
        elif qdisc.kind == "ingress" and qdisc.parent == tc.TC_H_INGRESS:
            found[qdisc.index].ingress = True
            found[qdisc.index].block = qdisc.block
        elif qdisc.kind == "tbf" and qdisc.parent == tc.TC_H_ROOT:
            found[qdisc.index].tbf = tc.tbf_kbps(qdisc)
    # The classes and filters we make, asked for by handle (see tc.get_class). An ingress qdisc bound to a
    # shared block has no filters of its own (asked, the kernel would answer with the block's).
    wanted = set(indexes)
    requests: list[netlink.Request] = []
    for index, seen in found.items():
        if index not in wanted:
            continue
        if seen.root:
            requests += [tc.get_class(index), tc.get_walled_filter(index, upstream=False)]
        if seen.ingress and seen.block is None:
            requests += [tc.get_walled_filter(index, upstream=True), tc.get_redirect(index)]
    for answer in await channel.query(requests):
        for item in map(tc.parse_tc, answer):
            _note(found[item.index], item)
    return found


def _note(seen: _Tc, item: Tc) -> None:
    if item.kind == "htb" and item.handle == tc.handle(1, 1):
        seen.rate = tc.htb_kbps(item)
    elif item.kind == "bpf" and item.prio == tc.WALLED_PRIO and (program := tc.bpf_program(item)):
        upstream = item.parent == tc.INGRESS_HANDLE
        portal = tc.walled_portal(program, upstream=upstream)
        if upstream:
            seen.walled_up = portal
        else:
            seen.walled_down = portal
    elif item.parent == tc.INGRESS_HANDLE and item.prio == tc.REDIRECT_PRIO:
        seen.redirect_filter = True
        target = tc.redirect_target(item) if item.kind == "u32" else None
        if target is not None:
            seen.redirect_to = target


async def _ports(channel: Channel, lines: Iterable[Link], by_index: dict[int, Link]) -> dict[str, LinePort]:
    """How each line reaches the router, as far as the kernel tells it."""
    lines = list(lines)
    remote = {link.link_netnsid for link in lines if link.kind == "veth" and link.link_netnsid is not None}
    namespaces = await _nsid_names(channel) if remote else {}
    far: dict[int, dict[int, str]] = {}
    for nsid in remote:
        answer = await channel.dump(netlink.dump_links(target_nsid=nsid))
        far[nsid] = {link.index: link.name for link in map(netlink.parse_link, answer)}
    ports: dict[str, LinePort] = {}
    for link in lines:
        try:
            port = _port(link, by_index, namespaces, far)
        except (KeyError, ValueError, IndexError):
            port = None  # not one we made: the line is reported and made again
        if port is not None:
            ports[link.name] = port
    return ports


def _port(
    link: Link, by_index: dict[int, Link], names: dict[int, str], far: dict[int, dict[int, str]]
) -> LinePort | None:
    if link.kind == "veth" and link.link is not None:
        if link.link_netnsid is None:
            return LinePort.veth(peer_ifname=by_index[link.link].name)
        nsid = link.link_netnsid
        return LinePort.veth(peer_netns=names.get(nsid, f"<nsid {nsid}>"), peer_ifname=far[nsid][link.link])
    if link.kind == "vxlan":
        info = link.info
        return LinePort.vxlan(
            vni=netlink.as_u32(info[netlink.IFLA_VXLAN_ID]),
            local=IPv4Address(info[netlink.IFLA_VXLAN_LOCAL]),
            remote=IPv4Address(info[netlink.IFLA_VXLAN_GROUP]),
            underlay=by_index[netlink.as_u32(info[netlink.IFLA_VXLAN_LINK])].name,
        )
    if link.kind == "vlan" and link.link is not None:
        vlan_id = netlink.as_u16(link.info[netlink.IFLA_VLAN_ID])
        return LinePort.vlan(parent=by_index[link.link].name, vlan_id=vlan_id)
    return None


async def _nsid_names(channel: Channel) -> dict[int, str]:
    """Names (as in ``ip netns``) of the namespaces this one has ids for."""
    names = sorted(entry.name for entry in NETNS_DIR.iterdir()) if NETNS_DIR.is_dir() else []
    fds: list[tuple[str, int]] = []
    try:
        for name in names:
            try:
                fds.append((name, os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)))
            except OSError:
                continue  # deleted while we looked
        answers = await channel.query([netlink.get_nsid(fd) for _, fd in fds])
    finally:
        for _, fd in fds:
            os.close(fd)
    found: dict[int, str] = {}
    for (name, _), answer in zip(fds, answers, strict=True):
        for message in answer:
            nsid = netlink.parse_nsid(message)
            if nsid is not None and name != channel.netns:
                found.setdefault(nsid, name)
    return found
