"""Pages about members: the member's own portal home."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from app.auth.deps import SessionDep
from app.contracts import repository as contracts_repository
from app.contracts import service as contracts_service
from app.kit.errors import DomainError
from app.kit.time import local_today
from app.members import service
from app.members.schemas import ContactUpdate
from app.web.shell import MemberPage, redirect

router = APIRouter()


@router.get("/portal", response_class=HTMLResponse)
async def portal_home(web: MemberPage, session: SessionDep) -> Response:
    """My data, my shares, my contracts."""
    actor = web.actor
    assert actor is not None and actor.member_id is not None
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
    actor = web.actor
    assert actor is not None and actor.member_id is not None
    try:
        changes = ContactUpdate.model_validate(
            {k: (str(form.get(k)).strip() or None) for k in ("email", "phone", "street", "postal_code", "city") if k in form}
        )
        await service.update_contact(session, actor=actor, member_id=actor.member_id, changes=changes)
    except DomainError as error:
        return web.error(error)
    except ValueError as error:
        return web.render("error.html", status_code=422, message=str(error))
    return redirect("/portal", flash=web.translator.gettext("Your contact data was saved."))
