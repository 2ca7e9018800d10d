"""Builders for bill-run tests, keyword-only."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.contracts import service as contracts
from app.contracts.models import Plan
from app.contracts.schemas import PlanCreate
from app.kit.time import local_today
from app.settings import Settings
from billing.invoices import billrun
from billing.invoices.models import BillRun
from tests.builders import BOARD, _next


async def make_billed_plan(session: AsyncSession, *, fee_cents: int = 3990, setup_fee_cents: int = 0) -> Plan:
    bind_actor(session, BOARD)
    n = _next()
    return await contracts.create_plan(
        session,
        actor=BOARD,
        data=PlanCreate(
            code=f"bill-{n}",
            name=f"Glasfaser {n}",
            down_kbps=100_000,
            up_kbps=40_000,
            monthly_fee_cents=fee_cents,
            setup_fee_cents=setup_fee_cents,
            min_term_months=12,
            notice_months=1,
        ),
    )


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
