"""A member's annual statement: paid-in capital at the start and end of the business year with its movements,
shares held, the dividend for the year with the tax withheld and how it was used, and any patronage refund.
As data (``annual_statement``) and as a PDF (``statement_pdf``, WeasyPrint through app.kit.pdf)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Actor
from app.kit.errors import NotFound
from app.kit.pdf import html_to_pdf
from app.kit.time import local_today, utcnow
from app.members import service as members
from app.settings import Settings
from app.web.i18n import Translator
from app.web.templating import render
from billing.dividends import repository
from billing.dividends.models import DecisionStatus
from billing.dividends.refunds import refunds_of
from billing.dividends.schemas import AllocationOut, AnnualStatement, RefundLine, StatementMovement
from billing.dividends.service import business_year_bounds, decision_out


async def _patronage_refunds(session: AsyncSession, *, member_id: int, business_year: int) -> list[RefundLine]:
    """The patronage refunds (credit notes) of the year; the statement shows the section when there are any."""
    return await refunds_of(session, member_id=member_id, business_year=business_year)


async def statement_years(session: AsyncSession, *, actor: Actor, settings: Settings, member_id: int) -> list[int]:
    """The business years a statement exists for: from the year of admission to the last year that has ended
    (or the year the member left), newest first."""
    member = await members.get_member(session, actor=actor, member_id=member_id)
    if member.admitted_on is None:
        return []
    first = members.business_year_end_on_or_after(settings, member.admitted_on).year
    today = local_today(settings.timezone)
    last = members.business_year_end_on_or_after(settings, today).year - 1
    if member.leaving_on is not None:
        last = min(last, members.business_year_end_on_or_after(settings, member.leaving_on).year)
    return list(range(last, first - 1, -1))


async def annual_statement(
    session: AsyncSession, *, actor: Actor, settings: Settings, member_id: int, business_year: int
) -> AnnualStatement:
    """The statement of one member and business year; anyone else's member, or a year without membership, is
    not found."""
    if business_year not in await statement_years(session, actor=actor, settings=settings, member_id=member_id):
        raise NotFound(f"No statement for {business_year}.", code="dividend_statement_not_found")
    start, end = business_year_bounds(settings, business_year)
    (history,) = await members.capital_histories(session, start=start, end=end, member_ids=[member_id])
    position = (await members.capital_positions(session, member_ids=[member_id], on=end))[member_id]
    decision = await repository.decision_for_year(session, business_year)
    allocation = None
    if decision is not None and decision.status is not DecisionStatus.DRAFT:
        found = await repository.allocations(session, decision.id, member_id=member_id)
        allocation = AllocationOut.model_validate(found[0]) if found else None
    return AnnualStatement(
        member_id=member_id,
        member_number=history.number,
        member_name=history.name,
        business_year=business_year,
        year_start=start,
        year_end=end,
        capital_start_cents=history.opening_cents,
        capital_end_cents=position.capital_cents,
        shares_end=position.shares,
        movements=[
            StatementMovement(effective_on=m.effective_on, kind=m.kind.value, amount_cents=m.amount_cents)
            for m in history.movements
        ],
        decision=decision_out(decision)
        if decision is not None and decision.status is not DecisionStatus.DRAFT
        else None,
        allocation=allocation,
        refunds=await _patronage_refunds(session, member_id=member_id, business_year=business_year),
    )


def statement_html(statement: AnnualStatement, *, settings: Settings, locale: str = "de") -> str:
    return render(
        "dividends/statement_pdf.html",
        translator=Translator(locale, settings.timezone),
        s=statement,
        coop_name=settings.coop_name,
        coop_address=settings.coop_address,
        coop_register_court=settings.coop_register_court,
        printed_at=utcnow(),
    )


async def statement_pdf(statement: AnnualStatement, *, settings: Settings, locale: str = "de") -> bytes:
    return await html_to_pdf(statement_html(statement, settings=settings, locale=locale))
