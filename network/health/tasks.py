"""The SNMP poller: lease due devices, poll them (outside any transaction), record what they said.

Any number of pollers, in any number of processes on any number of machines, share the devices through
the leases in ``device_status`` (network/health/service.py). A round leases at most ``poller_batch``
devices and keeps ``poller_concurrency`` of them in flight; each device is bounded by its own deadline, so
a slow or dead one holds only its own slot. The serving process runs one poller as a loop
(``register``); ``opentelecom devices poll`` runs one on its own.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import timedelta

from app.audit.service import bind_actor
from app.db import Database
from app.kit.actor import Actor
from app.kit.loops import LoopRunner
from app.kit.time import utcnow
from network.health import polling, service
from network.health.metrics import STATS
from network.snmp.poller import SnmpBackend, poll_many

log = logging.getLogger("opentelecom.network.health")

LOOP_NAME = "snmp-poller"
ROUND_PAUSE_S = 1.0
PRUNE_EVERY = timedelta(hours=1)


def poller_name() -> str:
    """A name that tells the pollers apart in the leases: host, process and a random tag."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(3)}"


class Poller:
    """One poller: ``round`` leases, polls and records once; how many devices it polled."""

    def __init__(self, database: Database, *, name: str | None = None, client: SnmpBackend | None = None):
        self.database = database
        self.settings = database.settings
        self.name = name or poller_name()
        self.client = client
        self._pruned_at = utcnow() - PRUNE_EVERY

    async def round(self) -> int:
        async with self.database.transaction() as session:
            assignments = await service.claim(
                session, settings=self.settings, owner=self.name, limit=self.settings.poller_batch
            )
        if not assignments:
            await self._prune()
            return 0
        samples = await poll_many(
            [polling.target_for(a) for a in assignments],
            concurrency=self.settings.poller_concurrency,
            client=self.client,
        )
        STATS.rounds += 1
        for sample in samples:
            STATS.polls["ok" if sample.reachable else "unreachable"] += 1
            if not sample.reachable:
                STATS.errors[sample.error_code or "unknown"] += 1
            STATS.poll_seconds_sum += sample.duration_s
            STATS.poll_seconds_count += 1
        recorded = 0
        async with self.database.transaction() as session:
            bind_actor(session, Actor.system(LOOP_NAME))
            for assignment, sample in zip(assignments, samples, strict=True):
                try:
                    # One device's bad answer must not lose the others' in this round.
                    async with session.begin_nested():
                        recorded += await polling.record(
                            session,
                            settings=self.settings,
                            owner=self.name,
                            device_id=assignment.device_id,
                            sample=sample,
                        )
                except Exception:
                    STATS.record_failures += 1
                    log.exception(
                        "recording the poll of %s failed; its lease runs out and it is polled again", assignment.name
                    )
        return recorded

    async def _prune(self) -> None:
        now = utcnow()
        if now - self._pruned_at < PRUNE_EVERY:
            return
        async with self.database.transaction() as session:
            dropped = await polling.prune(session, now=now)
        self._pruned_at = now
        if dropped:
            log.info("interface history: %s buckets past their keeping time dropped", dropped)


def register(runner: LoopRunner, database: Database) -> Poller:
    """Run a poller in this process's loops (it shares the devices with pollers elsewhere by leases)."""
    poller = Poller(database)
    runner.register_self_managed(LOOP_NAME, ROUND_PAUSE_S, poller.round)
    return poller
