"""``opentelecom billing run --period 2026-10 [--issue]``: preview (and issue) a month's bill run;
``opentelecom billing render [--run ID]``: render and store the PDFs of issued invoices that have none."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.main import JsonOption, cli_actor, emit, run, run_async
from app.db import Database
from app.settings import Settings, get_settings
from billing.invoices import billrun, documents
from billing.invoices.schemas import BillRunOut

billing_cli = typer.Typer(help="Bill runs and invoices.", no_args_is_help=True)


def _progress(done: int, total: int) -> None:
    if done == total or done % 10 == 0:
        sys.stderr.write(f"\rPDFs: {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def render_stored(*, run_id: int | None, limit: int | None = None) -> documents.RenderReport:
    """Render the pending PDFs (after the issuing transaction committed), with a progress line on stderr."""
    settings = get_settings()

    async def main() -> documents.RenderReport:
        database = Database(settings)
        try:
            return await documents.render_pending(
                database, settings=settings, run_id=run_id, limit=limit, progress=_progress
            )
        finally:
            await database.dispose()

    return run_async(main)


def _report(report: documents.RenderReport) -> None:
    typer.echo(f"rendered {report.rendered} PDFs in {report.seconds:.1f} s ({report.per_second:.1f}/s)", err=True)


@billing_cli.command("run")
def run_command(
    period: Annotated[str, typer.Option(help="The month to bill, YYYY-MM.")],
    issue: Annotated[bool, typer.Option("--issue", help="Issue the run and render its PDFs.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Preview a month's invoices (drafts you can look at and throw away); with --issue, issue them and then
    render and store their PDFs."""

    async def work(session: AsyncSession, settings: Settings) -> BillRunOut:
        actor = cli_actor()
        made = await billrun.preview(session, actor=actor, settings=settings, period=billrun.check_period(period))
        if issue:
            await billrun.issue(session, actor=actor, settings=settings, run_id=made.id)
        found, by_service = await billrun.get_run(session, actor=actor, run_id=made.id)
        out = BillRunOut.model_validate(found)
        out.net_by_service = by_service
        return out

    out = run(work)
    if issue:
        _report(render_stored(run_id=out.id))
    emit(out, as_json=as_json)


@billing_cli.command("render")
def render_command(
    run_id: Annotated[int | None, typer.Option("--run", min=1, help="Only this bill run's invoices.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = None,
) -> None:
    """Render and store the PDF of every issued invoice (of a run) that has none yet; each is stored once."""
    _report(render_stored(run_id=run_id, limit=limit))
