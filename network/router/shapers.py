"""The upstream shapers of an access router, shared by its lines: what one consists of, reading them back,
and the requests that make or complete them.

A line's upstream traffic arrives on its ingress, where there is no queue to shape it in; it is redirected
to an IFB device and shaped on that device's egress. Instead of an IFB per line (10,000 lines: 10,000 more
net devices, the most expensive kernel object here) the router has ``SHARDS`` of them, ``ot-up0`` ...
``ot-up63``, and every line belongs to one (picked by a hash of its address when it is made). On shard ``i``:

- an HTB root ``1:``; per line a class ``1:<minor>`` at its up rate; unclassified traffic (ARP, neighbour
  discovery and other link-local packets, sources that are no line's) goes to class ``1:ffff`` at
  ``UNCLASSIFIED_KBPS``, shared by the shard's lines;
- u32 classifiers that find the line's class by source address in hash tables of 256 buckets: IPv4 (prio
  10) in table ``100:`` by the last octet of the source, a line's delegated IPv6 prefix (prio 20) in table
  ``200+L:`` for prefixes of length L by the last 8 bits of the prefix; a link filter in each root table
  sends packets to the right bucket, so a packet meets a handful of classifiers, not one per line;
- an ingress qdisc bound to the shared block ``BLOCK_BASE + i``, whose one filter redirects everything to
  the shard. An open line's ingress qdisc is bound to that block too, so it needs no filters (and no filter
  block) of its own; a walled line has its own: the walled garden first, then the redirect to its shard.
  The IFB's own binding keeps the block (and its filter) alive while no line is bound to it; an IFB's
  ingress never sees a packet.

Why several shards and not one: the kernel makes every new (or deleted) HTB class visit every class of its
qdisc (to bind filters to it), so that time grows with the square of the classes per qdisc: 10,000
classes on one HTB took 5.3 s, on 16 about 1 s, on 64 the visits are a few percent of a 10,000-line apply.
Shards also spread the HTB root locks (one per qdisc, taken for every packet) over more devices, and so
over more CPUs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Network

from network.router import classify, netlink, tc
from network.router.channel import Channel
from network.router.classify import Key
from network.router.netlink import Link, Request
from network.router.tc import Tc

SHARDS = 64
SHAPER_PREFIX = "ot-up"
BLOCK_BASE = 0x4F540000  # shard i's ingress block is BLOCK_BASE + i
UNCLASSIFIED = 0xFFFF  # the class of packets no classifier claims
UNCLASSIFIED_KBPS = 10_000
MAX_MINOR = 0xFFFE
QUEUE_PACKETS = 1000  # the FIFO under each class
V4_PRIO, V6_PRIO = 10, 20
V4_TABLE = 0x100
NODES = 0xFFF  # classifiers per bucket

Network = IPv4Network | IPv6Network


def shaper_name(shard: int) -> str:
    return f"{SHAPER_PREFIX}{shard}"


def shard_for(address: IPv4Address) -> int:
    """The shard of a line with this address: a multiplicative hash, so that the addresses of one shard
    spread over all buckets of its tables. (Handed out in turn, lines made one after the other with
    consecutive addresses would put only 256 / SHARDS different last octets on each shard, and so
    SHARDS lines in each bucket a packet is looked up in.)"""
    return ((int(address) * 0x9E3779B1) & 0xFFFFFFFF) * SHARDS >> 32


def block_of(shard: int) -> int:
    return BLOCK_BASE + shard


def shard_of_block(block: int | None) -> int | None:
    if block is None or not BLOCK_BASE <= block < BLOCK_BASE + SHARDS:
        return None
    return block - BLOCK_BASE


def v6_table(length: int) -> int:
    return 0x200 + length


@dataclass(frozen=True, slots=True)
class Place:
    """Where the classifier of one source network goes: its table, bucket, and what it matches."""

    htid: int
    bucket: int
    prio: int
    protocol: int
    keys: tuple[Key, ...]


def _v6_hash(length: int) -> tuple[int, int]:
    """(offset, mask) of the bits that pick the bucket of a /``length`` prefix: its last 8 bits, or as many
    of them as lie in the 32-bit word holding the last one."""
    word = (length - 1) // 32
    end = length - 32 * word
    start = max(end - 8, 0)
    return 8 + 4 * word, ((1 << (end - start)) - 1) << (32 - end)


def place(network: Network) -> Place:
    """The classifier place of a line's IPv4 address (a /32) or delegated prefix."""
    if isinstance(network, IPv4Network):
        value = int(network.network_address)
        mask = (0xFFFFFFFF << (32 - network.prefixlen)) & 0xFFFFFFFF
        return Place(V4_TABLE, value & 0xFF, V4_PRIO, tc.ETH_P_IP, (Key(mask, value & mask, 12),))
    length = network.prefixlen
    address = int(network.network_address)
    keys = []
    for word in range((length + 31) // 32):
        bits = min(32, length - 32 * word)
        mask = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
        keys.append(Key(mask, (address >> (96 - 32 * word)) & mask, 8 + 4 * word))
    offset, hash_mask = _v6_hash(length)
    hashed = (address >> (96 - 32 * ((offset - 8) // 4))) & 0xFFFFFFFF
    bucket = (hashed & hash_mask) >> ((hash_mask & -hash_mask).bit_length() - 1)
    return Place(v6_table(length), bucket, V6_PRIO, tc.ETH_P_IPV6, tuple(keys))


def network_of(item: classify.U32) -> Network | None:
    """The source network a classifier of ours matches; None for any other filter."""
    if item.classid is None or not item.keys:
        return None
    try:
        if item.protocol == tc.ETH_P_IP and len(item.keys) == 1 and item.keys[0].offset == 12:
            key = item.keys[0]
            network: Network = IPv4Network((key.value, 32 - (~key.mask & 0xFFFFFFFF).bit_length()))
        elif item.protocol == tc.ETH_P_IPV6:
            length = sum(bin(key.mask).count("1") for key in item.keys)
            value = 0
            for word, key in enumerate(item.keys):
                value |= key.value << (96 - 32 * word)
            network = IPv6Network((value, length))
        else:
            return None
    except ValueError:
        return None
    found = place(network)
    if found.keys != item.keys or item.handle >> 20 != found.htid or (item.handle >> 12) & 0xFF != found.bucket:
        return None
    return network


@dataclass(frozen=True, slots=True)
class Classifier:
    handle: int
    minor: int  # the class it sends to


@dataclass
class Shard:
    """One shared shaper as read (``index`` None: the device is missing)."""

    number: int
    index: int | None = None
    up: bool = False
    root: bool = False
    anchored: bool = False  # its ingress qdisc is bound to its block
    other_ingress: bool = False  # an ingress qdisc that is not
    redirect_to: int | None = None  # where the block's filter redirects
    tables: set[int] = field(default_factory=set)  # htids
    links: set[int] = field(default_factory=set)  # htids linked to from a root table
    classes: dict[int, int | None] = field(default_factory=dict)  # minor -> kbit/s
    classifiers: dict[Network, Classifier] = field(default_factory=dict)
    by_minor: dict[int, list[tuple[Network, Classifier]]] = field(default_factory=lambda: defaultdict(list))
    nodes: dict[tuple[int, int], int] = field(default_factory=dict)  # (htid, bucket): the highest node
    handles: list[int] = field(default_factory=list)  # of every filter in our tables

    def missing(self, lengths: Collection[int] = ()) -> list[str]:
        """What is missing of the shard's fixed parts, for IPv6 prefixes of ``lengths``."""
        if self.index is None:
            return ["device"]
        found = [] if self.up else ["up"]
        found += [] if self.root else ["HTB root"]
        found += [] if UNCLASSIFIED in self.classes else ["class for unclassified traffic"]
        found += [] if self.anchored else ["ingress block"]
        found += [] if self.redirect_to == self.index else ["redirect"]
        for htid in (V4_TABLE, *sorted(v6_table(length) for length in lengths)):
            found += [] if htid in self.tables and htid in self.links else [f"table {htid:x}:"]
        return found


async def read(channel: Channel, links: dict[str, Link], qdiscs: list[Tc]) -> dict[int, Shard]:
    """Every shard as the kernel holds it (classes and filters dumped one device at a time)."""
    shards = {number: Shard(number) for number in range(SHARDS)}
    by_index: dict[int, Shard] = {}
    for number, shard in shards.items():
        link = links.get(shaper_name(number))
        if link is not None and link.kind == "ifb":
            shard.index, shard.up = link.index, link.up
            by_index[link.index] = shard
    for qdisc in qdiscs:
        shard_ = by_index.get(qdisc.index)
        if shard_ is None:
            continue
        if qdisc.kind == "htb" and qdisc.parent == tc.TC_H_ROOT and qdisc.handle == tc.handle(1, 0):
            shard_.root = True
        elif qdisc.kind == "ingress" and qdisc.parent == tc.TC_H_INGRESS:
            if qdisc.block == block_of(shard_.number):
                shard_.anchored = True
            else:
                shard_.other_ingress = True
    for shard in by_index.values():
        assert shard.index is not None
        await _read_one(channel, shard, shard.index)
    return shards


async def _read_one(channel: Channel, shard: Shard, index: int) -> None:
    if shard.root:
        for item in map(tc.parse_tc, await channel.dump(tc.dump_classes(index))):
            if item.kind == "htb" and item.handle >> 16 == 1 and item.handle & 0xFFFF:
                shard.classes[item.handle & 0xFFFF] = tc.htb_kbps(item)
        for item in map(tc.parse_tc, await channel.dump(tc.dump_filters(index, tc.handle(1, 0)))):
            found = classify.parse_u32(item)
            if found is not None and item.handle:
                _note(shard, found)
    block = tc.dump_filters(tc.TCM_IFINDEX_MAGIC_BLOCK, block_of(shard.number))
    for item in map(tc.parse_tc, await channel.dump(block)):
        if item.prio == tc.REDIRECT_PRIO and item.kind == "u32" and item.handle == tc.U32_HANDLE:
            shard.redirect_to = tc.redirect_target(item)


async def reread(channel: Channel, shard: Shard) -> Shard:
    """The classes and filters of an existing shard again (after tables were made anew: they may have
    brought back classifiers, see ``classify.u32_table``)."""
    assert shard.index is not None
    again = Shard(shard.number, shard.index, up=True, root=True, anchored=True)
    await _read_one(channel, again, shard.index)
    return again


def _note(shard: Shard, item: classify.U32) -> None:
    htid, bucket, node = item.handle >> 20, (item.handle >> 12) & 0xFF, item.handle & 0xFFF
    if item.divisor is not None and not node:
        shard.tables.add(htid)
    elif item.link is not None:
        shard.links.add(item.link)
    elif node:
        shard.nodes[(htid, bucket)] = max(node, shard.nodes.get((htid, bucket), 0))
        shard.handles.append(item.handle)
        network = network_of(item)
        if network is None or item.classid is None or item.classid >> 16 != 1:
            return  # not a classifier of ours: left alone
        classifier = Classifier(item.handle, item.classid & 0xFFFF)
        shard.classifiers.setdefault(network, classifier)
        shard.by_minor[classifier.minor].append((network, classifier))


def delete_classifier(index: int, classifier: Classifier, network: Network) -> Request:
    where = place(network)
    return classify.del_u32(index, classifier.handle, prio=where.prio, protocol=where.protocol)


def prepare(shard: Shard, index: int, lengths: set[int], *, fresh: bool) -> tuple[list[Request], list[Request]]:
    """What makes a shard complete (``fresh``: its device is being made, at ``index``): what must be there
    before its lines are, and what should come after them.

    The block's redirect filter, when it has none, comes after: binding a new ingress qdisc to a block that
    has filters makes the kernel wait for an RCU grace period (``mini_qdisc_pair_swap``), 50 µs a line
    here, while a filter added to a block once its qdiscs are a few seconds old waits for none. So a router
    provisioned from scratch binds its lines to empty blocks, and their upstream is redirected at the end
    of the apply. (A block that has a filter keeps it: a live router's lines are never cut off.)"""
    name, number = shaper_name(shard.number), shard.number
    requests: list[Request] = []
    if fresh:
        requests.append(netlink.new_ifb(name, index=index, queue=QUEUE_PACKETS))
    root = shard.root and not fresh
    if not root:
        requests.append(tc.htb_root(index, replace=False, default=UNCLASSIFIED))
    if not root or UNCLASSIFIED not in shard.classes:
        requests.append(tc.htb_class(index, UNCLASSIFIED_KBPS, replace=False, minor=UNCLASSIFIED))
    if fresh or not shard.anchored:
        if shard.other_ingress and not fresh:
            requests.append(tc.del_ingress(index))
        requests.append(tc.ingress(index, block=block_of(number)))
    tables, linked = (shard.tables, shard.links) if root else (set(), set())
    wanted = [(V4_TABLE, V4_PRIO, tc.ETH_P_IP, 12, 0xFF)]
    wanted += [(v6_table(length), V6_PRIO, tc.ETH_P_IPV6, *_v6_hash(length)) for length in sorted(lengths)]
    for htid, prio, protocol, offset, mask in wanted:
        if htid not in tables:
            requests.append(classify.u32_table(index, htid, prio=prio, protocol=protocol))
        if htid not in linked:
            requests.append(
                classify.u32_link(index, htid, prio=prio, protocol=protocol, hash_offset=offset, hash_mask=mask)
            )
    late: list[Request] = []
    if fresh or not shard.anchored or shard.redirect_to != index:
        redirect = tc.redirect(tc.TCM_IFINDEX_MAGIC_BLOCK, index, block=block_of(number))
        (late if fresh or not shard.anchored or shard.redirect_to is None else requests).append(redirect)
    if fresh or not shard.up:
        requests.append(netlink.set_up(index, name))
    return requests, late


class Upstream:
    """The shards as one convergence uses them: which line goes where, and the class minors and classifier
    handles handed out (shared by all chunks of an apply, which are built one after the other)."""

    def __init__(self, shards: dict[int, Shard], load: dict[int, int]) -> None:
        self.shards = dict(shards)
        self.indexes: dict[int, int] = {n: s.index for n, s in shards.items() if s.index is not None}
        self.load = dict(load)
        self._minors: dict[int, set[int]] = {}
        self._next_minor: dict[int, int] = {}
        self._read_nodes: dict[int, dict[tuple[int, int], int]] = {}  # highest node as read, per shard
        self._next: dict[tuple[int, int, int], int] = {}  # (shard, htid, bucket): the next node to hand out
        self._given: dict[tuple[int, int, int], set[int]] = {}  # nodes handed out below the highest
        self._where: dict[Network, list[tuple[int, Classifier]]] = defaultdict(list)
        for shard in shards.values():
            self.refresh(shard)

    def refresh(self, shard: Shard) -> None:
        """Take ``shard`` as read anew (before anything is handed out on it)."""
        number = shard.number
        self.shards[number] = shard
        self._minors[number] = set(shard.classes) | set(shard.by_minor)
        self._next_minor[number] = 1
        self._read_nodes[number] = shard.nodes
        for key in [key for key in self._next if key[0] == number]:
            del self._next[key]
        for network in list(self._where):
            self._where[network] = [(n, c) for n, c in self._where[network] if n != number]
        for network, classifier in shard.classifiers.items():
            self._where[network].append((number, classifier))

    def pick(self, address: IPv4Address) -> int | None:
        """The shard for a line that has none yet: the one its address hashes to (the least loaded if that
        one could not be made)."""
        number = shard_for(address)
        if number not in self.indexes:
            if not self.indexes:
                return None
            number = min(self.indexes, key=lambda n: (self.load.get(n, 0), n))
        self.load[number] = self.load.get(number, 0) + 1
        return number

    def made(self, shard: int, index: int | None) -> None:
        """Shard ``shard`` is now at ``index`` (None: it could not be made)."""
        if index is None:
            self.indexes.pop(shard, None)
        else:
            self.indexes[shard] = index

    def claim(self, shard: int, minor: int) -> None:
        self._minors[shard].add(minor)

    def minor(self, shard: int) -> int:
        used = self._minors[shard]
        minor = self._next_minor[shard]
        while minor in used:
            minor += 1
        if minor > MAX_MINOR:
            raise ValueError(f"{shaper_name(shard)} has no free class left")
        used.add(minor)
        self._next_minor[shard] = minor + 1
        return minor

    def handle(self, shard: int, where: Place) -> int:
        """A free handle for a classifier at ``where``: the node after the highest in its bucket, or (once
        those are used up) the lowest free one."""
        key = (shard, where.htid, where.bucket)
        node = self._next.get(key)
        if node is None:
            node = self._read_nodes[shard].get((where.htid, where.bucket), 0) + 1
        if node > NODES:
            prefix = (where.htid << 20) | (where.bucket << 12)
            used = {h & 0xFFF for h in self.shards[shard].handles if h & 0xFFFFF000 == prefix}
            used |= self._given.get(key, set())
            node = next((node for node in range(1, NODES + 1) if node not in used), 0)
            if not node:
                raise ValueError(f"bucket {where.bucket:x} of table {where.htid:x}: on {shaper_name(shard)} is full")
            self._given.setdefault(key, set()).add(node)
        else:
            self._next[key] = node + 1
        return (where.htid << 20) | (where.bucket << 12) | node

    def classifiers(self, network: Network) -> list[tuple[int, Classifier]]:
        """The classifiers of ``network`` as read, on any shard."""
        return self._where.get(network, [])
