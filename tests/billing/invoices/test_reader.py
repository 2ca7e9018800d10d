"""A bill run on a database it commits to reads its chunks on a second connection (one snapshot, beside the
writes): it bills what the single-connection run bills, and a new preview re-bills what the preview it throws
away had drafted, although that reader cannot see the delete."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app import migrate
from app.audit.service import bind_actor
from app.db import Database
from app.demo import seed
from app.kit.actor import Actor, Channel, Role
from app.kit.time import local_today
from app.settings import Settings
from billing.invoices import billrun
from tests.conftest import _async_url, create_database, drop_database, fresh_database_name

pytestmark = pytest.mark.postgres

BOARD = Actor(user_id=None, label="test board", role=Role.BOARD, channel=Channel.CLI)


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    name = fresh_database_name("_reader")
    await create_database(name)
    url = _async_url(name)
    await asyncio.to_thread(migrate.upgrade, url)  # Alembic runs its own event loop
    database = Database(Settings(environment="test", database_url=url, run_background_loops=False, _env_file=None))  # type: ignore[call-arg]
    try:
        yield database
    finally:
        await database.dispose()
        await drop_database(name)


async def _drafts(session: AsyncSession, run_id: int) -> list[tuple[Any, ...]]:
    rows = await session.execute(
        sa.text(
            "SELECT i.member_id, i.net_cents, count(l.id) FROM invoices i JOIN invoice_lines l ON l.invoice_id = i.id "
            "WHERE i.bill_run_id = :run GROUP BY i.member_id, i.net_cents ORDER BY i.member_id"
        ),
        {"run": run_id},
    )
    return [tuple(r) for r in rows]


async def test_a_run_reads_beside_its_writes_and_a_new_preview_rebills_the_discarded_one(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = database.settings
    async with database.transaction() as session:
        await seed.seed(session, settings=settings, members_count=12)
    period = f"{local_today(settings.timezone):%Y-%m}"
    readers: list[bool] = []
    read = billrun._read

    async def spy(reading: AsyncSession, *args: Any, **kwargs: Any) -> Any:
        readers.append(reading is not writer)
        return await read(reading, *args, **kwargs)

    monkeypatch.setattr(billrun, "_read", spy)
    async with database.transaction() as writer:
        bind_actor(writer, BOARD)
        first = await billrun.preview(writer, actor=BOARD, settings=settings, period=period)
    async with database.transaction() as writer:
        bind_actor(writer, BOARD)
        drafted = await _drafts(writer, first.id)
        second = await billrun.preview(writer, actor=BOARD, settings=settings, period=period)
        redrafted = await _drafts(writer, second.id)
        await billrun.issue(writer, actor=BOARD, settings=settings, run_id=second.id)
    async with database.transaction() as writer:
        bind_actor(writer, BOARD)
        third = await billrun.preview(writer, actor=BOARD, settings=settings, period=period)

    assert readers and all(readers)
    assert drafted and redrafted == drafted
    assert third.invoice_count == 0
