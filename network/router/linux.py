"""A Linux access router (in tests: a network namespace), converged to the subscriber lines it should hold.

What a line consists of is in ``changes.py``; how the kernel is read, in ``reader.py``. Here: the public
API, and sending a convergence to the kernel. An ``apply`` goes in chunks of lines, each built in a worker
thread while the kernel works through the one before, and each sent phase by phase in large batches (see
``changes.STEPS``). A line whose request is refused is left out of the later phases and reported in
``RouterReport.failed``; a new line that failed half-way is taken away again.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from ipaddress import IPv4Address
from types import TracebackType

from network.router import netlink, shapers, tc
from network.router.changes import EARLY, LATE, STEPS, Changes, build, remove_line
from network.router.channel import Channel
from network.router.reader import Snapshot, observe
from network.router.shapers import Upstream
from network.router.state import LINE_PREFIX, LineSpec, RouterReport, differences, shaper_name

log = logging.getLogger(__name__)

CHUNK_LINES = 2_000
FIRST_CHUNKS = (250, 1_000)  # small first chunks: the kernel starts early while Python builds the next


def _chunks(jobs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    chunks, start = [], 0
    for size in FIRST_CHUNKS:
        if start < len(jobs):
            chunks.append(jobs[start : start + size])
            start += size
    return chunks + [jobs[begin : begin + CHUNK_LINES] for begin in range(start, len(jobs), CHUNK_LINES)]


class LinuxRouter:
    """The lines of one access router, read from and written to its network namespace over netlink.

    ``portal`` is the coop's portal address, the one destination a walled line can still reach. Use as
    ``async with LinuxRouter("ns", portal=...) as router: ...``; the namespace must exist."""

    def __init__(self, netns: str, *, portal: IPv4Address) -> None:
        self.netns = netns
        self.portal = portal
        self._channel: Channel | None = None

    async def __aenter__(self) -> LinuxRouter:
        self._channel = await Channel.open(self.netns)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    @property
    def channel(self) -> Channel:
        if self._channel is None:
            raise RuntimeError("use LinuxRouter as an async context manager")
        return self._channel

    async def read(self) -> dict[str, LineSpec]:
        """Our lines as the kernel holds them now (missing addresses read as 0.0.0.0, missing rates as 0)."""
        snapshot = await observe(self.channel)
        return {name: found.observation.spec() for name, found in sorted(snapshot.lines.items())}

    async def plan(self, desired: Sequence[LineSpec], *, prune: bool) -> RouterReport:
        """What ``apply`` would do, changing nothing."""
        wanted = self._wanted(desired)
        created, updated, removed, unchanged, drift = self._diff(wanted, await observe(self.channel), prune=prune)
        return RouterReport(created, updated, removed, unchanged, drift)

    async def apply(self, desired: Sequence[LineSpec], *, prune: bool) -> RouterReport:
        """Converge the router to ``desired``: create missing lines, repair differing ones in place, and
        with ``prune`` remove our lines (``otl*``) that are not desired. Running it twice changes nothing."""
        wanted = self._wanted(desired)
        snapshot = await observe(self.channel)
        created, updated, removed, unchanged, drift = self._diff(wanted, snapshot, prune=prune)
        jobs = [("remove", name) for name in removed]
        jobs += [("orphan", name) for name in snapshot.orphan_shapers] if prune else []
        jobs += [("create", name) for name in created] + [("repair", name) for name in updated]
        chunks = _chunks(jobs)
        failed: dict[str, list[str]] = {}
        peer_fds: dict[str, int] = {}
        upstream = Upstream(snapshot.shards, snapshot.load())
        changes = Changes(self.portal, snapshot.max_index, peer_fds, snapshot.free_group(), upstream)
        sent: list[Changes] = []  # what has had its EARLY steps and waits for the LATE ones
        if created or updated or (prune and (snapshot.orphan_classes or snapshot.orphan_classifiers)):
            await self._prepare(changes, wanted, snapshot, prune=prune)
            sent.append(changes)
        building: asyncio.Future[Changes] | None = None
        try:
            for position, chunk in enumerate(chunks):
                if building is None:
                    following = Changes(self.portal, changes.next_index, peer_fds, changes.group, upstream)
                    building = asyncio.ensure_future(asyncio.to_thread(build, chunk, wanted, snapshot, following))
                changes = await building
                building = None
                if position + 1 < len(chunks):  # Python builds the next chunk while the kernel works
                    following = Changes(self.portal, changes.next_index, peer_fds, changes.group, upstream)
                    args = (chunks[position + 1], wanted, snapshot, following)
                    building = asyncio.ensure_future(asyncio.to_thread(build, *args))
                await self._run(changes, EARLY)
                changes.forget(EARLY)
                sent.append(changes)
            for changes in sent:
                await self._run(changes, LATE)
                await self._undo(changes)
                failed.update(changes.failed)
        finally:
            if building is not None:
                await asyncio.wait([building])
            for fd in peer_fds.values():
                os.close(fd)
        kept = [name for name in snapshot.lines if name not in wanted and (name not in removed or name in failed)]
        failed.update(await self._tidy(snapshot, {spec.gateway for spec in wanted.values()}, kept, changes))
        return RouterReport(
            created=[name for name in created if name not in failed],
            updated=[name for name in updated if name not in failed],
            removed=[name for name in removed if name not in failed],
            unchanged=unchanged,
            drift=drift,
            failed=failed,
        )

    async def _prepare(self, changes: Changes, wanted: dict[str, LineSpec], snapshot: Snapshot, *, prune: bool) -> None:
        """Put the lines' gateways on the loopback and make the shared shapers complete (see ``shapers.py``)
        before any line refers to them (a block's missing redirect filter only after them, see
        ``shapers.prepare``: this sends the EARLY steps, the caller the LATE ones); with ``prune``, take
        away the classes and classifiers no line uses. A shaper the kernel refuses is reported under its own
        name in ``failed`` (a gateway under "lo"); its lines then fail on their own requests."""
        for gateway in sorted({spec.gateway for spec in wanted.values()} - snapshot.local_addresses):
            changes.add("lo", netlink.address(netlink.LOOPBACK, gateway, add=True, label=netlink.GATEWAY_LABEL))
        lengths = {spec.ipv6_prefix.prefixlen for spec in wanted.values() if spec.ipv6_prefix is not None}
        made: dict[int, int] = {}
        tabled: list[shapers.Shard] = []  # existing shards that get tables anew
        for number, shard in sorted(snapshot.shards.items()):
            if not shard.missing(lengths):
                continue
            fresh = shard.index is None
            index = changes.index() if fresh else shard.index
            assert index is not None
            requests, late = shapers.prepare(shard, index, lengths, fresh=fresh)
            changes.add(shapers.shaper_name(number), *requests)
            changes.add(shapers.shaper_name(number), *late, phase="shapers")
            made[number] = index
            if not fresh and shard.root and any(request.what.startswith("add u32 table") for request in requests):
                tabled.append(shard)
        if prune:
            for number, network, classifier in snapshot.orphan_classifiers:
                index = snapshot.shards[number].index
                assert index is not None
                changes.clear(shapers.shaper_name(number), shapers.delete_classifier(index, classifier, network))
            for number, minor in snapshot.orphan_classes:
                index = snapshot.shards[number].index
                assert index is not None
                changes.clear(shapers.shaper_name(number), tc.del_class(index, minor))
        await self._run(changes, EARLY)
        changes.forget(EARLY)
        for number, index in made.items():
            changes.upstream.made(number, None if shapers.shaper_name(number) in changes.failed else index)
        for shard in tabled:
            changes.upstream.refresh(await shapers.reread(self.channel, shard))

    async def remove(self, ifnames: Iterable[str]) -> RouterReport:
        """Remove these lines completely: interface (a veth's far end goes with it), shaper, addresses,
        routes and tc. Names that are not there are left out of the report."""
        names = list(dict.fromkeys(ifnames))
        for name in names:
            if not name.startswith(LINE_PREFIX):
                raise ValueError(f"{name!r} is not a line interface ({LINE_PREFIX}*)")
        snapshot = await observe(self.channel)
        upstream = Upstream(snapshot.shards, snapshot.load())
        changes = Changes(self.portal, snapshot.max_index, {}, snapshot.free_group(), upstream)
        present = [name for name in names if name in snapshot.lines or shaper_name(name) in snapshot.orphan_shapers]
        for name in present:
            remove_line(changes, name, snapshot)
        await self._run(changes)
        kept = [name for name in snapshot.lines if name not in present or name in changes.failed]
        failed = {**changes.failed, **await self._tidy(snapshot, set(), kept, changes)}
        return RouterReport(removed=[name for name in present if name not in changes.failed], failed=failed)

    async def _tidy(
        self, snapshot: Snapshot, gateways: set[IPv4Address], kept: Iterable[str], last: Changes
    ) -> dict[str, list[str]]:
        """Take our gateways off the loopback once no line uses them: the desired ``gateways`` and those of
        the lines ``kept`` as they were. What the kernel refused, by "lo"."""
        used = set(gateways).union(*(snapshot.lines[name].observation.gateways for name in kept))
        unused = sorted(snapshot.our_gateways - used)
        if not unused:
            return {}
        changes = Changes(self.portal, last.next_index, {}, last.group, last.upstream)
        for gateway in unused:
            changes.add("lo", netlink.address(netlink.LOOPBACK, gateway, add=False, label=netlink.GATEWAY_LABEL))
        await self._run(changes)
        return changes.failed

    def _wanted(self, desired: Sequence[LineSpec]) -> dict[str, LineSpec]:
        wanted: dict[str, LineSpec] = {}
        for spec in desired:
            if spec.ifname in wanted:
                raise ValueError(f"line {spec.ifname} is desired twice")
            if spec.down_kbps <= 0 or spec.up_kbps <= 0:
                raise ValueError(f"line {spec.ifname} needs positive rates")
            if spec.port.peer_netns == self.netns:  # "the router's own namespace" has one spelling: None
                spec = replace(spec, port=replace(spec.port, peer_netns=None))
            wanted[spec.ifname] = spec
        return wanted

    def _diff(
        self, wanted: dict[str, LineSpec], snapshot: Snapshot, *, prune: bool
    ) -> tuple[list[str], list[str], list[str], int, dict[str, list[str]]]:
        created: list[str] = []
        updated: list[str] = []
        drift: dict[str, list[str]] = {}
        for name, spec in wanted.items():
            found = snapshot.lines.get(name)
            found_differences = (
                ["missing interface"] if found is None else differences(spec, found.observation, portal=self.portal)
            )
            if found is None:
                created.append(name)
            elif found_differences:
                updated.append(name)
            if found_differences:
                drift[name] = found_differences
        removed = sorted(name for name in snapshot.lines if name not in wanted) if prune else []
        for name in removed:
            drift[name] = ["not desired"]
        return created, updated, removed, len(wanted) - len(created) - len(updated), drift

    async def _run(self, changes: Changes, steps: Sequence[Sequence[str]] = STEPS) -> None:
        if changes.doomed and "remove" in (phase for step in steps for phase in step):  # one go: netlink.del_group
            group = changes.group
            marks = [(line, netlink.set_group(index, device, group)) for line, index, device in changes.doomed]
            changes.phases["remove"] = [*marks, ("", netlink.del_group(group))]
        for step in steps:
            requests = [pair for phase in step for pair in changes.phases[phase] if pair[0] not in changes.failed]
            if not requests:
                continue
            owner = {id(request): line for line, request in requests}
            for failure in await self.channel.run([request for _, request in requests]):
                gone = failure.request.type in netlink.DELETES and failure.errno in netlink.GONE
                if gone or (failure.errno == errno.ENODEV and failure.request.what.startswith("mark ")):
                    continue  # already gone: what a removal wants
                if failure.errno == errno.EEXIST and failure.request.exists_ok:
                    continue
                line = owner[id(failure.request)]
                for failed in [line] if line else sorted({line for line, _, _ in changes.doomed}):
                    changes.fail(failed, str(failure))
                log.warning("router %s, line %s: %s", self.netns, line or "(all removed)", failure)

    async def _undo(self, changes: Changes) -> None:
        """Take away what was made of lines whose creation failed half-way, so none is left half-made.

        By name: a failed line's index may never have become ours."""
        undo = [
            request
            for name in sorted(changes.fresh & set(changes.failed))
            for request in (*(undo() for undo in changes.undo.get(name, [])), netlink.del_link_named(name))
        ]
        if undo:
            await self.channel.run(undo)  # refusals mean the piece was never made
