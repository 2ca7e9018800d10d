"""Background loops: periodic jobs run by the serving process, with a heartbeat /healthz reports.

Each loop runs its job in its own transaction. On PostgreSQL a transaction-scoped advisory lock keeps
a job from running in two processes at once, so any number of processes can run the loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.time import utcnow

log = logging.getLogger("opentelecom.loops")

Job = Callable[[AsyncSession], Awaitable[int]]
# A job that opens its own transactions (it waits on the network between them, e.g. an SNMP poll round).
SelfManagedJob = Callable[[], Awaitable[int]]


@dataclass
class LoopState:
    name: str
    interval_s: float
    job: Job | None
    exclusive: bool = True
    self_managed: SelfManagedJob | None = None
    last_run_at: datetime | None = None
    last_ok_at: datetime | None = None
    last_error: str | None = None
    last_result: int | None = None
    runs: int = 0
    failures: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def healthy(self, now: datetime) -> bool:
        if self.task is not None and self.task.done():
            return False
        if self.last_run_at is None:
            return True  # not due yet
        if self.last_error is not None:
            return False
        return self.last_ok_at is not None and (now - self.last_ok_at).total_seconds() < self.interval_s * 3 + 60

    def report(self, now: datetime) -> dict[str, object]:
        return {
            "status": "ok" if self.healthy(now) else "failing",
            "interval_s": self.interval_s,
            "runs": self.runs,
            "failures": self.failures,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "last_ok_at": self.last_ok_at.isoformat() if self.last_ok_at else None,
            "last_error": self.last_error,
            "last_result": self.last_result,
        }


class LoopRunner:
    """Owns the loops of one process."""

    def __init__(self, transaction: Callable[[], object], *, dialect: str):
        self._transaction = transaction
        self._dialect = dialect
        self.loops: dict[str, LoopState] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def register(self, name: str, interval_s: float, job: Job, *, exclusive: bool = True) -> None:
        """``exclusive`` loops run in one process at a time; the others (queue workers that claim their
        own rows) run in every process at once."""
        self.loops[name] = LoopState(name=name, interval_s=interval_s, job=job, exclusive=exclusive)

    def register_self_managed(self, name: str, interval_s: float, job: SelfManagedJob) -> None:
        """A loop whose job opens its own transactions; it runs in every process (it shares its work with
        the other processes by itself, as the SNMP pollers do with leases)."""
        self.loops[name] = LoopState(name=name, interval_s=interval_s, job=None, exclusive=False, self_managed=job)

    def on_stop(self, close: Callable[[], Awaitable[None]]) -> None:
        """Run ``close`` in ``stop`` once the loops have ended (a loop's connection to an outside system)."""
        self._closers.append(close)

    async def run_once(self, name: str) -> int:
        state = self.loops[name]
        state.last_run_at = utcnow()
        state.runs += 1
        try:
            if state.self_managed is not None:
                result = await state.self_managed()
            else:
                result = await self._in_transaction(state)
        except Exception as error:
            state.failures += 1
            state.last_error = f"{type(error).__name__}: {error}"
            log.exception("loop %s failed", name)
            raise
        state.last_ok_at = utcnow()
        state.last_error = None
        state.last_result = result
        return result

    async def _in_transaction(self, state: LoopState) -> int:
        assert state.job is not None
        async with self._transaction() as session:  # type: ignore[attr-defined]
            if self._dialect == "postgresql" and state.exclusive:
                key = zlib.crc32(state.name.encode())
                got = (await session.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})).scalar()
                if not got:
                    return 0
            return await state.job(session)

    async def _forever(self, name: str) -> None:
        state = self.loops[name]
        while True:
            # A failure is logged and counted in run_once; the loop itself goes on.
            with contextlib.suppress(Exception):
                await self.run_once(name)
            await asyncio.sleep(state.interval_s)

    def start(self) -> None:
        for name, state in self.loops.items():
            state.task = asyncio.create_task(self._forever(name), name=f"loop:{name}")

    async def stop(self) -> None:
        tasks = [s.task for s in self.loops.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for close in self._closers:
            try:
                await close()
            except Exception:
                log.exception("closing after the loops failed")

    def report(self) -> dict[str, dict[str, object]]:
        now = utcnow()
        return {name: state.report(now) for name, state in self.loops.items()}

    def healthy(self) -> bool:
        now = utcnow()
        return all(state.healthy(now) for state in self.loops.values())
