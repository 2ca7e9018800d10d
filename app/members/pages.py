"""Pages about members: the member portal, the operator console's member search and detail, and the board's
admission queue and member register."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from app.auth.deps import SessionDep
from app.contracts import repository as contracts_repository
from app.contracts import service as contracts_service
from app.kit.errors import DomainError
from app.kit.money import decimal_to_cents
from app.kit.time import local_today
from app.kit.validation import IdPath
from app.members import register as register_export
from app.members import repository, service
from app.members.schemas import ContactUpdate
from app.web.shell import BoardPage, MemberPage, StaffPage, Web, redirect

router = APIRouter()
PAGE = 25


@router.get("/portal", response_class=HTMLResponse)
async def portal_home(web: MemberPage, session: SessionDep) -> Response:
    """My data, my shares, my contracts."""
    actor = web.user
    assert actor.member_id is not None
    member = await service.get_member(session, actor=actor, member_id=actor.member_id)
    shares = await service.shares_overview(session, actor=actor, settings=web.settings, member_id=member.id)
    contracts, _ = await contracts_repository.search_contracts(
        session, actor=actor, filters=contracts_repository.ContractFilter(), limit=100, offset=0
    )
    today = local_today(web.settings.timezone)
    rows = [(c, contracts_service.terms(c, settings=web.settings, today=today)) for c in contracts]
    return web.render("members/portal.html", member=member, shares=shares, contracts=rows)


@router.post("/portal/contact", response_class=HTMLResponse)
async def portal_contact(web: MemberPage, session: SessionDep) -> Response:
    form = await web.check_csrf()
    actor = web.user
    assert actor.member_id is not None
    try:
        changes = ContactUpdate.model_validate(
            {
                k: (str(form.get(k)).strip() or None)
                for k in ("email", "phone", "street", "postal_code", "city")
                if k in form
            }
        )
        await service.update_contact(
            session, actor=actor, member_id=actor.member_id, changes=changes, zone=web.settings.timezone
        )
    except DomainError as error:
        return web.error(error)
    except ValueError as error:
        return web.render("error.html", status_code=422, message=str(error))
    return redirect("/portal", flash=web.translator.gettext("Your contact data was saved."))


# --- operator console ----------------------------------------------------------------------------


@router.get("/console", response_class=HTMLResponse)
async def console_search(web: StaffPage, session: SessionDep, q: str = "", offset: int = 0) -> Response:
    """Find members and contracts by name, e-mail, city or contract number."""
    actor = web.user
    query = "".join(ch for ch in q if ch.isprintable())[:100].strip()
    start = max(offset, 0)
    members, total = await repository.search(
        session, actor=actor, filters=repository.MemberFilter(search=query or None), limit=PAGE, offset=start
    )
    contracts, _ = await contracts_repository.search_contracts(
        session, actor=actor, filters=contracts_repository.ContractFilter(search=query or None), limit=PAGE, offset=0
    )
    return web.render(
        "members/console.html", q=query, members=members, total=total, offset=start, page=PAGE, contracts=contracts
    )


@router.get("/console/members/{member_id}", response_class=HTMLResponse)
async def console_member(web: StaffPage, session: SessionDep, member_id: IdPath) -> Response:
    actor = web.user
    try:
        member = await service.get_member(session, actor=actor, member_id=member_id)
    except DomainError as error:
        return web.error(error)
    shares = await service.shares_overview(session, actor=actor, settings=web.settings, member_id=member.id)
    contracts, _ = await contracts_repository.search_contracts(
        session, actor=actor, filters=contracts_repository.ContractFilter(member_id=member.id), limit=100, offset=0
    )
    return web.render("members/console_member.html", member=member, shares=shares, contracts=contracts)


@router.post("/console/members/{member_id}/share-payments", response_class=HTMLResponse)
async def console_share_payment(web: StaffPage, session: SessionDep, member_id: IdPath) -> Response:
    """Record money paid in on shares; the amount is typed in euros (comma or point)."""
    form = await web.check_csrf()
    actor = web.user
    try:
        cents = decimal_to_cents(Decimal(str(form.get("amount", "")).strip().replace(",", ".")))
        paid_on = date.fromisoformat(str(form.get("paid_on"))) if form.get("paid_on") else None
    except (InvalidOperation, ValueError):
        return web.render("error.html", status_code=422, message=web.translator.gettext("Amount or date is not valid."))
    try:
        await service.record_share_payment(
            session, actor=actor, settings=web.settings, member_id=member_id, amount_cents=cents, paid_on=paid_on
        )
    except DomainError as error:
        return web.error(error)
    return redirect(f"/console/members/{member_id}", flash=web.translator.gettext("Payment recorded."))


@router.post("/console/members/{member_id}/business", response_class=HTMLResponse)
async def console_business(web: StaffPage, session: SessionDep, member_id: IdPath) -> Response:
    """Whether the member buys as a business, and its VAT ID (invoices name it from today on)."""
    form = await web.check_csrf()
    try:
        changes = ContactUpdate(is_business=form.get("is_business") == "on", vat_id=str(form.get("vat_id", "")))
        await service.update_contact(
            session, actor=web.user, member_id=member_id, changes=changes, zone=web.settings.timezone
        )
    except DomainError as error:
        return web.error(error)
    except ValueError as error:
        return web.render("error.html", status_code=422, message=str(error))
    return redirect(f"/console/members/{member_id}", flash=web.translator.gettext("Business details saved."))


# --- board ---------------------------------------------------------------------------------------


@router.get("/board", response_class=HTMLResponse)
async def board_home(web: BoardPage, session: SessionDep) -> Response:
    """Admission queue and the coop at a glance."""
    actor = web.user
    today = local_today(web.settings.timezone)
    register = await service.register_as_of(session, actor=actor, on=today)
    return web.render(
        "members/board.html",
        applications=[m for m, _ in await repository.pending_applications(session)],
        subscriptions=await repository.pending_subscriptions(session),
        register=register,
        contract_counts=await contracts_repository.counts_by_status(session),
        today=today,
    )


@router.post("/board/admissions/{member_id}/{decision}", response_class=HTMLResponse)
async def board_decide(web: BoardPage, session: SessionDep, member_id: IdPath, decision: str) -> Response:
    form = await web.check_csrf()
    actor = web.user
    try:
        day = date.fromisoformat(str(form.get("on"))) if form.get("on") else None
    except ValueError:
        return web.render("error.html", status_code=422, message=web.translator.gettext("The date is not valid."))
    try:
        if decision == "admit":
            await service.admit(session, actor=actor, settings=web.settings, member_id=member_id, admitted_on=day)
        elif decision == "reject":
            await service.reject(session, actor=actor, settings=web.settings, member_id=member_id, rejected_on=day)
        else:
            return web.render("error.html", status_code=404, message=web.translator.gettext("Not found"))
    except DomainError as error:
        return web.error(error)
    return redirect("/board", flash=web.translator.gettext("Decision recorded."))


@router.post("/board/subscriptions/{subscription_id}/approve", response_class=HTMLResponse)
async def board_approve(web: BoardPage, session: SessionDep, subscription_id: IdPath) -> Response:
    await web.check_csrf()
    actor = web.user
    try:
        await service.approve_subscription(session, actor=actor, settings=web.settings, subscription_id=subscription_id)
    except DomainError as error:
        return web.error(error)
    return redirect("/board", flash=web.translator.gettext("Decision recorded."))


def _register_day(web: Web, on: str | None) -> date:
    try:
        return date.fromisoformat(on) if on else local_today(web.settings.timezone)
    except ValueError:
        return local_today(web.settings.timezone)


@router.get("/board/register", response_class=HTMLResponse)
async def board_register(web: BoardPage, session: SessionDep, on: str | None = None) -> Response:
    """The member register (§30 GenG) as of a chosen day, with CSV and PDF downloads."""
    actor = web.user
    day = _register_day(web, on)
    register = await service.register_as_of(session, actor=actor, on=day)
    return web.render("members/register.html", register=register, on=day)


@router.get("/board/register.{kind}")
async def board_register_download(web: BoardPage, session: SessionDep, kind: str, on: str | None = None) -> Response:
    actor = web.user
    day = _register_day(web, on)
    register = await service.register_as_of(session, actor=actor, on=day)
    name = f"member-register-{day.isoformat()}.{kind}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if kind == "csv":
        data = register_export.to_csv(register, locale=web.translator.locale)
        return Response(data, media_type="text/csv; charset=utf-8", headers=headers)
    if kind == "pdf":
        pdf = await register_export.to_pdf(register, settings=web.settings, locale=web.translator.locale)
        return Response(pdf, media_type="application/pdf", headers=headers)
    return web.render("error.html", status_code=404, message=web.translator.gettext("Not found"))
