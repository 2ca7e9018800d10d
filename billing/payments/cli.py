"""``opentelecom payments ...``: import a bank statement, notification or status report, make direct debit and
payout files."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.main import JsonOption, cli_actor, emit, run
from app.kit.time import local_today
from app.settings import Settings
from billing.payments import credit, sepa, service, status_reports
from billing.payments.models import SepaFile
from billing.payments.schemas import (
    CollectionRequest,
    CreditOut,
    CreditPayback,
    ImportReport,
    PayoutInstruction,
    SepaFileOut,
    StatusReportOut,
)

payments_cli = typer.Typer(help="Payments: bank statements, direct debits, payouts.", no_args_is_help=True)


def _write(files: list[SepaFile], output: Path | None) -> list[BaseModel]:
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        for stored in files:
            target = output / f"{stored.schema}-{stored.message_id}.xml"
            target.write_bytes(stored.content)
            typer.echo(f"wrote {target} ({len(stored.content)} bytes, sha256 {stored.sha256})", err=True)
    return [SepaFileOut.model_validate(f) for f in files]


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as error:
        raise typer.BadParameter(f"{file}: {error}") from error


@payments_cli.command("import-camt")
def import_camt_command(file: Path, as_json: JsonOption = False) -> None:
    """Import a camt.053 bank statement or camt.054 notification (the transactions of a batch booking); matched
    payments and returns are booked, the rest is queued, an entry the other report booked already is covered."""
    data = _read(file)

    async def work(session: AsyncSession, settings: Settings) -> ImportReport:
        return await service.import_statement(session, actor=cli_actor(), settings=settings, data=data)

    emit(run(work), as_json=as_json)


@payments_cli.command("import-pain002")
def import_pain002_command(file: Path, as_json: JsonOption = False) -> None:
    """Import the bank's pain.002 status report for one of our files; rejected debits are open again, rejected
    payouts due again (their booking reversed). Importing it again changes nothing."""
    data = _read(file)

    async def work(session: AsyncSession, settings: Settings) -> StatusReportOut:
        return await status_reports.import_status_report(session, actor=cli_actor(), data=data)

    emit(run(work), as_json=as_json)


@payments_cli.command("credit")
def credit_command(
    member: Annotated[int, typer.Option("--member", help="The member's id.")],
    apply_now: Annotated[
        bool, typer.Option("--apply", help="Set the credit off now on the member's overdue invoices.")
    ] = False,
    pay_back: Annotated[
        bool, typer.Option("--pay-back", help="Pay the credit back by credit transfer (a pain.001 file).")
    ] = False,
    iban: Annotated[str | None, typer.Option(help="With --pay-back: the account (default: the mandate's).")] = None,
    output: Annotated[Path | None, typer.Option(help="With --pay-back: folder to write the pain.001 into.")] = None,
    as_json: JsonOption = False,
) -> None:
    """A member's credit (Guthaben) and where it went; with --apply, set it off now (the next bill run does so
    anyway on the member's invoice); with --pay-back, pay it back to the member's account."""
    if apply_now and pay_back:
        raise typer.BadParameter("give --apply or --pay-back, not both")

    async def work(session: AsyncSession, settings: Settings) -> CreditOut:
        actor = cli_actor()
        today = local_today(settings.timezone)
        if apply_now:
            await credit.apply_for(session, actor=actor, member_id=member, on=today)
        if pay_back:
            data = CreditPayback(iban=iban) if iban else CreditPayback()
            made = await credit.pay_back(session, actor=actor, settings=settings, member_id=member, on=today, data=data)
            _write([made], output)
        return await credit.credit_of(session, actor=actor, member_id=member)

    emit(run(work), as_json=as_json)


@payments_cli.command("collect")
def collect_command(
    on: Annotated[str | None, typer.Option("--date", help="Collection date, YYYY-MM-DD.")] = None,
    run_id: Annotated[
        int | None, typer.Option("--run", help="A bill run: collect its invoices on their collection dates.")
    ] = None,
    items: Annotated[
        Path | None,
        typer.Option(
            help="JSON list of collections (member_id, amount_cents, end_to_end_id, remittance); "
            "default: every open invoice with a usable mandate."
        ),
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Folder to write the pain.008 files into.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Make pain.008 direct debit files (one per date and sequence type) for a collection date or a bill run."""
    if (on is None) == (run_id is None):
        raise typer.BadParameter("give either --date or --run")
    if run_id is not None:
        chosen_run = run_id

        async def run_work(session: AsyncSession, settings: Settings) -> list[BaseModel]:
            files = await sepa.collect_run(session, actor=cli_actor(), settings=settings, run_id=chosen_run)
            return _write(files, output)

        columns = ["id", "due_on", "sequence", "item_count", "total_cents", "sha256"]
        emit(run(run_work), as_json=as_json, columns=columns)
        return
    try:
        day = date.fromisoformat(on or "")
    except ValueError as error:
        raise typer.BadParameter("--date must be YYYY-MM-DD") from error
    given: list[CollectionRequest] | None = None
    if items is not None:
        raw = json.loads(items.read_text(encoding="utf-8")) if items.exists() else None
        if not isinstance(raw, list):
            raise typer.BadParameter(f"{items}: a JSON list of collections")
        try:
            given = [CollectionRequest.model_validate({"collection_date": day.isoformat(), **r}) for r in raw]
        except (TypeError, ValidationError) as error:
            raise typer.BadParameter(f"{items}: {error}") from error

    async def work(session: AsyncSession, settings: Settings) -> list[BaseModel]:
        requests = given if given is not None else await sepa.due_collections(session, actor=cli_actor(), on=day)
        if not requests:
            return []
        return _write(await sepa.collect(session, actor=cli_actor(), settings=settings, requests=requests), output)

    emit(run(work), as_json=as_json, columns=["id", "due_on", "sequence", "item_count", "total_cents", "sha256"])


@payments_cli.command("payout")
def payout_command(
    instructions: Annotated[Path, typer.Argument(help="JSON list of payout instructions (see PayoutInstruction).")],
    output: Annotated[Path | None, typer.Option(help="Folder to write the pain.001 file into.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Make a pain.001 credit transfer file for payouts and book each off its liability."""
    try:
        given = TypeAdapter(list[PayoutInstruction]).validate_python(json.loads(instructions.read_text("utf-8")))
    except (OSError, ValueError) as error:
        raise typer.BadParameter(f"{instructions}: {error}") from error

    async def work(session: AsyncSession, settings: Settings) -> list[BaseModel]:
        return _write([await sepa.pay_out(session, actor=cli_actor(), settings=settings, instructions=given)], output)

    emit(run(work), as_json=as_json, columns=["id", "due_on", "item_count", "total_cents", "sha256"])
