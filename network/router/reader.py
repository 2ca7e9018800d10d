"""Read what a router namespace actually holds for our lines, from the kernel (never from a cache):
links, IPv4 addresses, routes, qdiscs, and each line's classes and filters."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Network

from network.router import netlink, tc
from network.router.channel import NETNS_DIR, Channel
from network.router.netlink import Link
from network.router.state import LINE_PREFIX, SHAPER_PREFIX, LineObservation, LinePort, shaper_name
from network.router.tc import Tc


@dataclass(frozen=True, slots=True)
class Found:
    """One line as found, with the kernel details a repair needs beside the observation."""

    index: int
    observation: LineObservation
    shaper_index: int | None
    line_root: bool  # our HTB root (1:) on the line
    line_ingress: bool
    redirect_filter: bool  # some filter at the redirect priority, right or wrong


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The router namespace as read: every link by name, our lines, and shapers left without a line."""

    links: dict[str, Link]
    lines: dict[str, Found]
    orphan_shapers: dict[str, int]

    @property
    def max_index(self) -> int:
        return max((link.index for link in self.links.values()), default=1)

    def free_group(self) -> int:
        """A device group no link is in, for marking devices to delete together."""
        taken = {link.group for link in self.links.values()}
        return next(group for group in range(0x4F544C00, 0x4F544C00 + len(taken) + 1) if group not in taken)


@dataclass
class _Tc:
    """The tc objects of one device that matter to us."""

    root: bool = False  # HTB with handle 1:
    ingress: bool = False
    tbf: int | None = None  # kbit/s of a TBF root (the shaper's)
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
    shapers = {name: link for name, link in links.items() if name.startswith(SHAPER_PREFIX) and link.kind == "ifb"}
    ours = {link.index for link in lines.values()}

    gateways: dict[int, set[IPv4Address]] = defaultdict(set)
    for message in await channel.dump(netlink.dump_addresses()):
        index, address, prefixlen = netlink.parse_address(message)
        if index in ours and prefixlen == 32:
            gateways[index].add(address)
    hosts: dict[int, set[IPv4Network]] = defaultdict(set)
    prefixes: dict[int, set[IPv6Network]] = defaultdict(set)
    for family in (netlink.AF_INET, netlink.AF_INET6):
        for message in await channel.dump(netlink.dump_routes(family)):
            oif, destination = netlink.parse_route(message)
            if oif in ours and isinstance(destination, IPv4Network):
                hosts[oif].add(destination)
            elif oif in ours and isinstance(destination, IPv6Network):
                prefixes[oif].add(destination)

    traffic = await _read_tc(channel, [link.index for link in lines.values()])
    ports = await _ports(channel, lines.values(), by_index)

    found: dict[str, Found] = {}
    for name, link in lines.items():
        shaper = shapers.get(shaper_name(name))
        line_tc, shaper_tc = traffic[link.index], traffic[shaper.index] if shaper else _Tc()
        observation = LineObservation(
            ifname=name,
            port=ports.get(name),
            up=link.up,
            gateways=frozenset(gateways[link.index]),
            hosts=frozenset(hosts[link.index]),
            prefixes=frozenset(prefixes[link.index]),
            down_kbps=line_tc.rate if line_tc.root else line_tc.tbf,
            up_kbps=shaper_tc.tbf,
            shaper=shaper is not None,
            shaper_up=shaper is not None and shaper.up,
            redirect=shaper is not None and line_tc.redirect_to == shaper.index,
            walled_up=line_tc.walled_up,
            walled_down=line_tc.walled_down if line_tc.root else None,
        )
        found[name] = Found(
            index=link.index,
            observation=observation,
            shaper_index=shaper.index if shaper else None,
            line_root=line_tc.root,
            line_ingress=line_tc.ingress,
            redirect_filter=line_tc.redirect_filter,
        )
    orphans = {
        name: link.index for name, link in shapers.items() if LINE_PREFIX + name[len(SHAPER_PREFIX) :] not in lines
    }
    return Snapshot(links=links, lines=found, orphan_shapers=orphans)


async def _read_tc(channel: Channel, indexes: list[int]) -> dict[int, _Tc]:
    found: dict[int, _Tc] = defaultdict(_Tc)
    for qdisc in map(tc.parse_tc, await channel.dump(tc.dump_qdiscs())):
        if qdisc.kind == "htb" and qdisc.parent == tc.TC_H_ROOT and qdisc.handle == tc.handle(1, 0):
            found[qdisc.index].root = True
        elif qdisc.kind == "ingress" and qdisc.parent == tc.TC_H_INGRESS:
            found[qdisc.index].ingress = True
        elif qdisc.kind == "tbf" and qdisc.parent == tc.TC_H_ROOT:
            found[qdisc.index].tbf = tc.tbf_kbps(qdisc)
    # The classes and filters we make, asked for by handle (see tc.get_class).
    wanted = set(indexes)
    requests: list[netlink.Request] = []
    for index, seen in found.items():
        if index not in wanted:
            continue
        if seen.root:
            requests += [tc.get_class(index), tc.get_walled_filter(index, upstream=False)]
        if seen.ingress:
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
