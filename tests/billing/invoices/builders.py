"""Builders for bill-run tests, keyword-only."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.kit.time import local_today
from app.settings import Settings
from billing.invoices import billrun
from billing.invoices.models import BillRun
from tests.builders import BOARD


async def run_period(
    session: AsyncSession, settings: Settings, *, period: str, issue: bool = True, issue_on: date | None = None
) -> BillRun:
    """Preview ``period`` (issued today unless told) and, with ``issue``, issue it."""
    bind_actor(session, BOARD)
    run = await billrun.preview(
        session, actor=BOARD, settings=settings, period=period, issue_on=issue_on or local_today(settings.timezone)
    )
    if issue:
        run = await billrun.issue(session, actor=BOARD, settings=settings, run_id=run.id)
    return run
