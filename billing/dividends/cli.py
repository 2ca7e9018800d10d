"""``opentelecom dividends ...``: enter the assembly's decision, preview and run it, schedule leaving members'
payouts."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.main import JsonOption, cli_actor, emit, run
from app.kit.time import local_today
from app.settings import Settings
from billing.dividends import payouts, refunds, service, transfers
from billing.dividends.models import DividendBasis
from billing.dividends.schemas import (
    CapitalPayoutSchedule,
    DecisionCreate,
    DecisionOut,
    DividendPreview,
    PayOutReport,
    RunReport,
)
from billing.ledger.cli import _day, _eur

dividends_cli = typer.Typer(help="Member dividends and leaving members' payouts.", no_args_is_help=True)
YearOption = Annotated[int, typer.Option("--year", min=1900, max=2199, help="The business year.")]


def _percent(value: str, option: str) -> Decimal:
    try:
        return Decimal(value.replace(",", "."))
    except InvalidOperation as error:
        raise typer.BadParameter(f"{option} must be a number") from error


@dividends_cli.command("decide")
def decide_command(
    year: YearOption,
    rate: Annotated[str, typer.Option(help="Dividend rate in percent of paid-in capital, e.g. 3.5.")],
    decided_on: Annotated[str, typer.Option("--decided-on", help="Day of the general assembly, YYYY-MM-DD.")],
    basis: Annotated[DividendBasis | None, typer.Option(help="days or months (default from settings).")] = None,
    refund_percent: Annotated[
        str | None,
        typer.Option("--refund-percent", help="Patronage refund in percent of net service revenue, if decided."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Enter the general assembly's dividend decision for a business year (a draft until it is run), with the
    patronage refund if one was decided."""
    data = DecisionCreate(
        business_year=year,
        rate_percent=_percent(rate, "--rate"),
        decided_on=_day(decided_on, "--decided-on"),
        basis=basis,
        refund_percent=_percent(refund_percent, "--refund-percent") if refund_percent is not None else None,
    )

    async def work(session: AsyncSession, settings: Settings) -> DecisionOut:
        decision = await service.enter_decision(session, actor=cli_actor(), settings=settings, data=data)
        return service.decision_out(decision)

    emit(run(work), as_json=as_json)


@dividends_cli.command("refund-percent")
def refund_percent_command(
    year: YearOption,
    percent: Annotated[str, typer.Option(help="The patronage refund the assembly decided, e.g. 2.5.")],
    as_json: JsonOption = False,
) -> None:
    """Record the patronage refund on the year's decision, also once it is approved or booked (refused once
    refunds were issued at another percent)."""
    rate = _percent(percent, "--percent")

    async def work(session: AsyncSession, settings: Settings) -> DecisionOut:
        decision = await service.decision_for_year(session, actor=cli_actor(), year=year)
        decision = await service.record_refund_percent(
            session, actor=cli_actor(), decision_id=decision.id, percent=rate
        )
        return service.decision_out(decision)

    emit(run(work), as_json=as_json)


@dividends_cli.command("preview")
def preview_command(year: YearOption, as_json: JsonOption = False) -> None:
    """Every member's dividend for the year's decision and the totals; books nothing."""

    async def work(session: AsyncSession, settings: Settings) -> DividendPreview:
        decision = await service.decision_for_year(session, actor=cli_actor(), year=year)
        return await service.preview(session, actor=cli_actor(), settings=settings, decision_id=decision.id)

    result = run(work)
    if as_json:
        emit(result, as_json=True)
        return
    d = result.decision
    typer.echo(f"Dividende {d.business_year}: {d.rate_percent.normalize()} % ({d.basis.value}), {d.status.value}")
    for warning in d.warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW)
    header = ["no.", "member", "gross", "exempt", "tax", "soli", "net", "capital", "payout", "set off"]
    table = [header]
    for a in result.allocations:
        table.append(
            [
                str(a.member_number or ""),
                a.member_name,
                *(
                    _eur(v)
                    for v in (
                        a.gross_cents,
                        a.exemption_used_cents,
                        a.capital_gains_tax_cents,
                        a.solidarity_surcharge_cents,
                        a.net_cents,
                        a.to_capital_cents,
                        a.payout_cents,
                        a.set_off_cents,
                    )
                ),
            ]
        )
    t = result.totals
    table.append(
        [
            "",
            f"total ({t.members})",
            *(
                _eur(v)
                for v in (
                    t.gross_cents,
                    t.exemption_used_cents,
                    t.capital_gains_tax_cents,
                    t.solidarity_surcharge_cents,
                    t.net_cents,
                    t.to_capital_cents,
                    t.payout_cents,
                    t.set_off_cents,
                )
            ),
        ]
    )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        typer.echo(
            "  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True)))
        )


@dividends_cli.command("run")
def run_command(year: YearOption, as_json: JsonOption = False) -> None:
    """Approve and book the year's decision; running it again books nothing."""

    async def work(session: AsyncSession, settings: Settings) -> RunReport:
        decision = await service.decision_for_year(session, actor=cli_actor(), year=year)
        return await service.run(session, actor=cli_actor(), settings=settings, decision_id=decision.id)

    emit(run(work), as_json=as_json)


@dividends_cli.command("schedule-payouts")
def schedule_payouts_command(
    year: YearOption,
    approved_on: Annotated[str, typer.Option("--approved-on", help="Day the balance sheet was approved, YYYY-MM-DD.")],
    as_json: JsonOption = False,
) -> None:
    """Schedule and book the capital payouts of the members who left at the end of the year (§73 GenG)."""
    data = CapitalPayoutSchedule(business_year=year, balance_sheet_approved_on=_day(approved_on, "--approved-on"))

    async def work(session: AsyncSession, settings: Settings) -> list[BaseModel]:
        await payouts.schedule_capital_payouts(session, actor=cli_actor(), settings=settings, data=data)
        return list(await payouts.capital_payouts(session, actor=cli_actor(), business_year=year))

    emit(
        run(work),
        as_json=as_json,
        columns=["id", "member_id", "capital_cents", "due_on", "set_off_cents", "payout_cents", "status"],
    )


@dividends_cli.command("pay-out")
def pay_out_command(
    decision: Annotated[int, typer.Option("--decision", min=1, help="The booked dividend decision's id.")],
    execution_date: Annotated[
        str | None, typer.Option("--execution-date", help="Day the bank executes, YYYY-MM-DD (default today).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Pay the decision's dividends and the capital payouts due by credit transfer (one pain.001 file); members
    without an account are listed as waiting. Run again, it pays only what was not paid."""

    async def work(session: AsyncSession, settings: Settings) -> PayOutReport:
        day = _day(execution_date, "--execution-date") if execution_date else local_today(settings.timezone)
        return await transfers.pay_out(
            session, actor=cli_actor(), settings=settings, decision_id=decision, execution_date=day
        )

    emit(run(work), as_json=as_json)


@dividends_cli.command("refund")
def refund_command(
    year: YearOption,
    issue_on: Annotated[str, typer.Option("--issue-on", help="Issue date of the credit notes, YYYY-MM-DD.")],
    percent: Annotated[
        str | None,
        typer.Option(help="The refund percent you expect, e.g. 3: refused unless the year's decision says the same."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue the year's patronage refunds (§22 KStG) at the refund percent entered on the year's dividend
    decision: one credit note per member; members refunded before are skipped."""
    rate = _percent(percent, "--percent") if percent is not None else None
    day = _day(issue_on, "--issue-on")

    async def work(session: AsyncSession, settings: Settings) -> list[BaseModel]:
        decision = await service.decision_for_year(session, actor=cli_actor(), year=year)
        report = await refunds.issue_decided_refunds(
            session,
            actor=cli_actor(),
            settings=settings,
            decision_id=decision.id,
            issue_on=day,
            expected_percent=rate,
        )
        return list(report.issued)

    columns = ["credit_note_number", "issued_on", "net_cents", "vat_cents", "gross_cents"]
    emit(run(work), as_json=as_json, columns=columns)
