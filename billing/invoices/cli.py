"""``opentelecom billing run --period 2026-10 [--issue]``: preview (and issue) a month's bill run."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.main import JsonOption, cli_actor, emit, run
from app.settings import Settings
from billing.invoices import billrun
from billing.invoices.schemas import BillRunOut

billing_cli = typer.Typer(help="Bill runs and invoices.", no_args_is_help=True)


@billing_cli.command("run")
def run_command(
    period: Annotated[str, typer.Option(help="The month to bill, YYYY-MM.")],
    issue: Annotated[bool, typer.Option("--issue", help="Issue the run (default: preview only).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Preview a month's invoices (drafts you can look at and throw away); with --issue, issue them."""

    async def work(session: AsyncSession, settings: Settings) -> BillRunOut:
        actor = cli_actor()
        made = await billrun.preview(session, actor=actor, settings=settings, period=billrun.check_period(period))
        if issue:
            await billrun.issue(session, actor=actor, settings=settings, run_id=made.id)
        found, by_service = await billrun.get_run(session, actor=actor, run_id=made.id)
        out = BillRunOut.model_validate(found)
        out.net_by_service = by_service
        return out

    emit(run(work), as_json=as_json)
