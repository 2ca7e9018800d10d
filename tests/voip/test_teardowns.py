"""Requests to end calls are kept while pending and for ``call_teardown_retention_days`` once done, then the
``call-teardown-cleanup`` loop deletes them. No Asterisk: the rows are written as the contract change and the
registration watcher leave them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.kit.loops import LoopRunner
from app.main import register_loops
from app.settings import Settings
from voip import service
from voip.lines import CallTeardown

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _teardown(extension: str, *, requested_days_ago: int, done_days_ago: int | None) -> CallTeardown:
    return CallTeardown(
        extension=extension,
        reason="suspended",
        requested_at=NOW - timedelta(days=requested_days_ago),
        attempts=1,
        done_at=None if done_days_ago is None else NOW - timedelta(days=done_days_ago),
        calls_ended=0,
    )


async def _extensions(session: AsyncSession, prefix: str) -> list[str]:
    query = sa.select(CallTeardown.extension).where(CallTeardown.extension.like(f"{prefix}%"))
    return sorted(await session.scalars(query))


async def test_done_requests_older_than_the_retention_go_and_pending_and_recent_ones_stay(
    db_session: AsyncSession,
) -> None:
    db_session.add_all(
        [
            _teardown("7901-old-done", requested_days_ago=200, done_days_ago=100),
            _teardown("7901-given-up", requested_days_ago=95, done_days_ago=91),
            _teardown("7901-old-pending", requested_days_ago=200, done_days_ago=None),
            _teardown("7901-recent-done", requested_days_ago=200, done_days_ago=89),
            _teardown("7901-fresh", requested_days_ago=0, done_days_ago=0),
        ]
    )
    await db_session.flush()

    deleted = await service.prune_teardowns(db_session, retention_days=90, now=NOW)

    assert deleted == 2
    assert await _extensions(db_session, "7901-") == ["7901-fresh", "7901-old-pending", "7901-recent-done"]


async def test_the_cleanup_loop_prunes_with_the_retention_setting(committed_db: Database, settings: Settings) -> None:
    now = datetime.now(UTC)
    kept = settings.call_teardown_retention_days
    async with committed_db.transaction() as session:
        session.add_all(
            [
                CallTeardown(
                    extension="7902-expired",
                    reason="terminated",
                    requested_at=now - timedelta(days=kept + 2),
                    attempts=1,
                    done_at=now - timedelta(days=kept + 1),
                    calls_ended=1,
                ),
                CallTeardown(
                    extension="7902-within",
                    reason="terminated",
                    requested_at=now - timedelta(days=kept),
                    attempts=1,
                    done_at=now - timedelta(days=kept - 1),
                    calls_ended=0,
                ),
            ]
        )
    runner = LoopRunner(committed_db.transaction, dialect=committed_db.engine.dialect.name)
    register_loops(runner, settings)

    try:
        deleted = await runner.run_once("call-teardown-cleanup")
        async with committed_db.transaction() as session:
            left = await _extensions(session, "7902-")
    finally:
        async with committed_db.transaction() as session:
            await session.execute(sa.delete(CallTeardown).where(CallTeardown.extension.like("7902-%")))

    assert deleted >= 1
    assert left == ["7902-within"]
