"""``opentelecom dunning run [--today D]``: one dunning pass over the overdue invoices."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.main import JsonOption, cli_actor, emit, run
from app.kit.time import local_today
from app.settings import Settings
from billing.dunning import service
from billing.dunning.schemas import DunningReportOut

dunning_cli = typer.Typer(help="Dunning: reminders, warnings, suspension for arrears.", no_args_is_help=True)


@dunning_cli.command("run")
def run_command(
    today: Annotated[str | None, typer.Option(help="The day to dun for, YYYY-MM-DD (default: today).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue the reminders, warnings and suspensions due, and resume and settle what was paid."""
    try:
        day = date.fromisoformat(today) if today else None
    except ValueError as error:
        raise typer.BadParameter("--today must be YYYY-MM-DD") from error

    async def work(session: AsyncSession, settings: Settings) -> DunningReportOut:
        on = day or local_today(settings.timezone)
        report = await service.run_due(session, actor=cli_actor(), settings=settings, today=on)
        return DunningReportOut.model_validate(report)

    emit(run(work), as_json=as_json)
