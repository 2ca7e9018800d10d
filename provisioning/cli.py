"""``opentelecom provision ...``: reconcile, the worker, the outbox, lines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from typing import Annotated

import typer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.audit.service import install as install_audit
from app.cli.main import JsonOption, cli_actor, emit, run
from app.db import Database
from app.kit.actor import Actor
from app.settings import Settings, get_settings
from provisioning import reconcile as reconciler
from provisioning import repository, tasks
from provisioning.models import JobStatus
from provisioning.router import line_detail
from provisioning.schemas import JobOut

provision_cli = typer.Typer(help="Provisioning: reconcile, the worker and its queue, lines.", no_args_is_help=True)


@provision_cli.command("reconcile")
def reconcile_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report drift, change nothing.")] = False,
    target: Annotated[
        list[str] | None, typer.Option(help="lines, radius, router, sessions or asterisk (repeatable; default all).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Compare RADIUS rows, routers, live sessions and Asterisk's endpoints with the contracts; repair drift."""
    targets = target or list(reconciler.TARGETS)
    unknown = set(targets) - set(reconciler.TARGETS)
    if unknown:
        raise typer.BadParameter(f"unknown target(s): {', '.join(sorted(unknown))}")

    async def work(session: AsyncSession, settings: Settings) -> reconciler.ReconcileReport:
        return await reconciler.reconcile(session, actor=cli_actor(), dry_run=dry_run, targets=targets)

    report = run(work)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, default=str))
        return
    for name, count in report.checked.items():
        typer.echo(f"checked {name}: {count}")
    for name in report.unmanaged:
        typer.echo(f"router {name}: configured by hand (not managed), skipped")
    for drift in report.drift:
        mark = "repaired" if drift.repaired else "found"
        typer.echo(f"{mark:>8}  {drift.target:<8} {drift.subject}: {drift.problem}")
    typer.echo(report.summary())


@provision_cli.command("work")
def work_command(
    once: Annotated[bool, typer.Option("--once", help="Drain the due jobs, then stop.")] = False,
    name: Annotated[str | None, typer.Option(help="Worker name in the history (default host:pid).")] = None,
) -> None:
    """Run a provisioning worker: carries out queued router and NAS jobs. Run as many as you like."""
    settings = get_settings()
    install_audit()
    label = name or f"{socket.gethostname()}:{os.getpid()}"

    async def main() -> int:
        database = Database(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        total = 0
        try:
            while not stop.is_set():
                async with database.transaction() as session:
                    bind_actor(session, Actor.system(f"worker:{label}"))
                    claimed = await tasks.run_batch(session, settings=settings)
                total += claimed
                if claimed:
                    typer.echo(f"worker {label}: {claimed} jobs", err=True)
                    continue
                if once:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), settings.provisioning_poll_s)
        finally:
            await database.dispose()
        return total

    typer.echo(f"worker {label}: {asyncio.run(main())} jobs done")


@provision_cli.command("jobs")
def jobs_command(
    status: Annotated[JobStatus | None, typer.Option(help="pending, done or failed")] = None,
    as_json: JsonOption = False,
) -> None:
    """The outbox, newest first."""

    async def work(session: AsyncSession, settings: Settings) -> list[BaseModel]:
        return [JobOut.model_validate(j) for j in await repository.jobs(session, status=status)]

    emit(run(work), as_json=as_json, columns=["id", "kind", "line_id", "status", "attempts", "run_after", "last_error"])


@provision_cli.command("line")
def line_command(line_id: int, as_json: JsonOption = False) -> None:
    """A line with its login, addresses, live session and history."""

    async def work(session: AsyncSession, settings: Settings) -> BaseModel:
        return await line_detail(session, actor=cli_actor(), line_id=line_id)

    emit(run(work), as_json=as_json)
