"""``opentelecom ledger ...``: the trial balance, the accountant's export, booking share payments."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.main import JsonOption, cli_actor, emit, run
from app.kit.money import cents_to_decimal
from app.settings import Settings
from billing.ledger import export, service, share_payments
from billing.ledger.schemas import ShareBookingReport, TrialBalance

ledger_cli = typer.Typer(help="The books: trial balance, DATEV-style export.", no_args_is_help=True)


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(f"{option} must be YYYY-MM-DD") from error


def _eur(cents: int) -> str:
    return f"{cents_to_decimal(cents):,.2f}"


@ledger_cli.command("trial-balance")
def trial_balance_command(
    on: Annotated[str | None, typer.Option(help="Up to and including YYYY-MM-DD (default: everything).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every account's debits, credits and balance (debits minus credits), in EUR; the balances sum to zero."""
    day = _day(on, "--on") if on else None

    async def work(session: AsyncSession, settings: Settings) -> TrialBalance:
        return await service.trial_balance(session, actor=cli_actor(), on=day)

    result = run(work)
    if as_json:
        emit(result, as_json=True)
        return
    table = [["code", "name", "kind", "debit", "credit", "balance"]]
    table += [
        [a.code, a.name, a.kind.value, _eur(a.debit_cents), _eur(a.credit_cents), _eur(a.balance_cents)]
        for a in result.accounts
    ]
    table.append(["", "total", "", _eur(result.debit_cents), _eur(result.credit_cents), _eur(result.balance_cents)])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    numeric = {3, 4, 5}
    for row in table:
        cells = zip(row, widths, strict=True)
        typer.echo("  ".join(v.rjust(w) if i in numeric else v.ljust(w) for i, (v, w) in enumerate(cells)))


@ledger_cli.command("export")
def export_command(
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    date_to: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
    output: Annotated[Path | None, typer.Option(help="File to write (default: standard output).")] = None,
    encoding: Annotated[str, typer.Option(help="utf-8-sig (default) or cp1252 for DATEV's ANSI import.")] = "utf-8-sig",
) -> None:
    """The entries of a period as a DATEV-style CSV (columns in billing/ledger/export.py)."""
    first, last = _day(date_from, "--from"), _day(date_to, "--to")

    async def work(session: AsyncSession, settings: Settings) -> bytes:
        return await export.export_csv(session, actor=cli_actor(), date_from=first, date_to=last, encoding=encoding)

    data = run(work)
    if output:
        output.write_bytes(data)
        typer.echo(f"wrote {output} ({len(data)} bytes)")
    else:
        sys.stdout.buffer.write(data)


@ledger_cli.command("book-share-payments")
def book_share_payments_command(as_json: JsonOption = False) -> None:
    """Book every share payment and capital transfer that has no entry yet (safe to run again)."""

    async def work(session: AsyncSession, settings: Settings) -> BaseModel:
        paid = await share_payments.book_unbooked_share_payments(session, actor=cli_actor())
        moved = await share_payments.book_unbooked_share_transfers(session, actor=cli_actor())
        return ShareBookingReport(payments=paid.payments, transfers=moved.transfers, booked=paid.booked + moved.booked)

    emit(run(work), as_json=as_json)
