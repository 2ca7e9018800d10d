"""Pages about contracts (operator console): the contract, its terms and history, and its lifecycle steps."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from app.auth.deps import SessionDep
from app.contracts import repository, service
from app.contracts.models import ContractStatus
from app.kit.errors import DomainError
from app.kit.time import local_today
from app.kit.validation import IdPath
from app.web.shell import StaffPage, redirect

router = APIRouter()

STEPS = {
    "activate": ContractStatus.ACTIVE,
    "suspend": ContractStatus.SUSPENDED,
    "resume": ContractStatus.ACTIVE,
    "terminate": ContractStatus.TERMINATED,
}


FROM = {"activate": ContractStatus.ORDERED, "resume": ContractStatus.SUSPENDED}


@router.get("/console/contracts/{contract_id}", response_class=HTMLResponse)
async def console_contract(web: StaffPage, session: SessionDep, contract_id: IdPath) -> Response:
    """A contract with plan, premises, its TKG §56 dates, its history and the steps allowed now."""
    actor = web.user
    try:
        contract = await service.get_contract(session, actor=actor, contract_id=contract_id)
    except DomainError as error:
        return web.error(error)
    allowed = service.TRANSITIONS[contract.status]
    steps = [
        name
        for name, target in STEPS.items()
        if target in allowed
        and (name != "activate" or contract.status is ContractStatus.ORDERED)
        and (name != "resume" or contract.status is ContractStatus.SUSPENDED)
    ]
    return web.render(
        "contracts/console_contract.html",
        contract=contract,
        terms=service.terms(contract, settings=web.settings, today=local_today(web.settings.timezone)),
        events=await repository.events(session, contract.id),
        steps=steps,
    )


@router.post("/console/contracts/{contract_id}/{step}", response_class=HTMLResponse)
async def console_contract_step(web: StaffPage, session: SessionDep, contract_id: IdPath, step: str) -> Response:
    form = await web.check_csrf()
    actor = web.user
    if step not in STEPS and step != "cancel":
        return web.render("error.html", status_code=404, message=web.translator.gettext("Not found"))
    try:
        day = date.fromisoformat(str(form.get("on"))) if form.get("on") else None
    except ValueError:
        return web.render("error.html", status_code=422, message=web.translator.gettext("The date is not valid."))
    reason = str(form.get("reason", "")).strip()[:500] or None
    try:
        if step == "cancel":
            await service.cancel(
                session, actor=actor, settings=web.settings, contract_id=contract_id, received_on=day, reason=reason
            )
        else:
            await service.transition(
                session,
                actor=actor,
                settings=web.settings,
                contract_id=contract_id,
                to=STEPS[step],
                effective_on=day,
                reason=reason,
                from_status=FROM.get(step),
            )
    except DomainError as error:
        return web.error(error)
    return redirect(f"/console/contracts/{contract_id}", flash=web.translator.gettext("Contract updated."))
