"""Pages about dividends: the member's choice, exemption orders and annual statements in the portal; the
board's decision, preview and run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from app.auth.deps import SessionDep
from app.kit.errors import DomainError
from app.kit.money import decimal_to_cents
from app.kit.time import local_today
from app.kit.validation import IdPath
from app.web.shell import BoardPage, MemberPage, Web, redirect
from billing.dividends import choices, service, statements
from billing.dividends.models import DividendBasis, DividendChoice
from billing.dividends.schemas import DecisionCreate, ExemptionOrderCreate

router = APIRouter()


def _invalid(web: Web) -> Response:
    return web.render("error.html", status_code=422, message=web.translator.gettext("The input is not valid."))


def _amount(form: Mapping[str, Any], field: str) -> Decimal:
    return Decimal(str(form.get(field, "")).strip().replace(",", "."))


@router.get("/portal/dividends", response_class=HTMLResponse)
async def portal_dividends(web: MemberPage, session: SessionDep) -> Response:
    """My dividend choice, my exemption orders and my annual statements."""
    actor = web.user
    assert actor.member_id is not None
    return web.render(
        "dividends/portal.html",
        preference=await choices.get_preference(session, actor=actor, member_id=actor.member_id),
        orders=await choices.exemption_orders(session, actor=actor, member_id=actor.member_id),
        years=await statements.statement_years(session, actor=actor, settings=web.settings, member_id=actor.member_id),
        choices=list(DividendChoice),
        this_year=local_today(web.settings.timezone).year,
    )


@router.post("/portal/dividends/choice", response_class=HTMLResponse)
async def portal_choice(web: MemberPage, session: SessionDep) -> Response:
    form = await web.check_csrf()
    actor = web.user
    assert actor.member_id is not None
    try:
        choice = DividendChoice(str(form.get("choice", "")))
    except ValueError:
        return _invalid(web)
    await choices.set_preference(session, actor=actor, member_id=actor.member_id, choice=choice)
    return redirect("/portal/dividends", flash=web.translator.gettext("Your choice was saved."))


@router.post("/portal/dividends/exemption-orders", response_class=HTMLResponse)
async def portal_exemption_order(web: MemberPage, session: SessionDep) -> Response:
    """File an exemption order; the allowance is typed in euros."""
    form = await web.check_csrf()
    actor = web.user
    assert actor.member_id is not None
    try:
        data = ExemptionOrderCreate(
            calendar_year=int(str(form.get("calendar_year", ""))),
            allowance_cents=decimal_to_cents(_amount(form, "allowance")),
        )
        await choices.file_exemption_order(
            session, actor=actor, settings=web.settings, member_id=actor.member_id, data=data
        )
    except DomainError as error:
        return web.error(error)
    except (InvalidOperation, ValueError):
        return _invalid(web)
    return redirect("/portal/dividends", flash=web.translator.gettext("Your exemption order was saved."))


@router.get("/portal/dividends/statements/{year}.pdf")
async def portal_statement_pdf(web: MemberPage, session: SessionDep, year: int) -> Response:
    actor = web.user
    assert actor.member_id is not None
    try:
        statement = await statements.annual_statement(
            session, actor=actor, settings=web.settings, member_id=actor.member_id, business_year=year
        )
    except DomainError as error:
        return web.error(error)
    pdf = await statements.statement_pdf(statement, settings=web.settings, locale=web.translator.locale)
    name = f"jahresmitteilung-{year}.pdf"
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


# --- board ---------------------------------------------------------------------------------------


@router.get("/board/dividends", response_class=HTMLResponse)
async def board_dividends(web: BoardPage, session: SessionDep) -> Response:
    """The dividend decisions by year, and the form for a new one."""
    return web.render(
        "dividends/board.html",
        decisions=[service.decision_out(d) for d in await service.list_decisions(session, actor=web.user)],
        last_year=local_today(web.settings.timezone).year - 1,
        bases=list(DividendBasis),
        default_basis=web.settings.dividend_basis,
    )


@router.post("/board/dividends", response_class=HTMLResponse)
async def board_decide(web: BoardPage, session: SessionDep) -> Response:
    form = await web.check_csrf()
    try:
        data = DecisionCreate(
            business_year=int(str(form.get("business_year", ""))),
            rate_percent=_amount(form, "rate_percent"),
            decided_on=date.fromisoformat(str(form.get("decided_on", ""))),
            basis=DividendBasis(str(form.get("basis", web.settings.dividend_basis))),
        )
        decision = await service.enter_decision(session, actor=web.user, settings=web.settings, data=data)
    except DomainError as error:
        return web.error(error)
    except (InvalidOperation, ValueError):
        return _invalid(web)
    return redirect(f"/board/dividends/{decision.id}", flash=web.translator.gettext("Decision recorded."))


@router.get("/board/dividends/{decision_id}", response_class=HTMLResponse)
async def board_preview(web: BoardPage, session: SessionDep, decision_id: IdPath) -> Response:
    """Every member's dividend with the totals, and the button that runs it."""
    try:
        preview = await service.preview(session, actor=web.user, settings=web.settings, decision_id=decision_id)
    except DomainError as error:
        return web.error(error)
    return web.render("dividends/board_preview.html", preview=preview)


@router.post("/board/dividends/{decision_id}/run", response_class=HTMLResponse)
async def board_run(web: BoardPage, session: SessionDep, decision_id: IdPath) -> Response:
    await web.check_csrf()
    try:
        await service.run(session, actor=web.user, settings=web.settings, decision_id=decision_id)
    except DomainError as error:
        return web.error(error)
    return redirect(f"/board/dividends/{decision_id}", flash=web.translator.gettext("The dividend was booked."))
