"""Pages: the operator's network overview, the activation wizard, a line's page, drift with repair;
and the member's own line status in the portal."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.deps import SessionDep
from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.kit.errors import DomainError, Invalid
from app.kit.validation import IdPath
from app.web.shell import MemberPage, StaffPage, Web, redirect
from network import ipam
from network import service as network
from network.health import graph
from network.health import service as health
from provisioning import reconcile, repository, service
from provisioning.models import JobStatus, PortKind
from voip import service as voip

router = APIRouter()


@router.get("/console/network", response_class=HTMLResponse)
async def console_network(web: StaffPage, session: SessionDep) -> Response:
    """Routers, pool usage, the outbox and what needs an operator."""
    routers = await network.list_routers(session)
    return web.render(
        "provisioning/console_network.html",
        routers=routers,
        router_names={r.id: r.name for r in routers},
        pools=await ipam.usage(session),
        counts={status.value: count for status, count in (await repository.job_counts(session)).items()},
        failed=await repository.jobs(session, status=JobStatus.FAILED, limit=50),
    )


@router.get("/console/contracts/{contract_id}/line", response_class=HTMLResponse)
async def console_contract_line(web: StaffPage, session: SessionDep, contract_id: IdPath) -> Response:
    """The contract's line, or the activation wizard while it has none."""
    view = await service.line_for_contract(session, actor=web.user, contract_id=contract_id)
    if view is not None:
        return redirect(f"/console/lines/{view.line.id}")
    return redirect(f"/console/contracts/{contract_id}/provision")


@router.get("/console/contracts/{contract_id}/provision", response_class=HTMLResponse)
async def provision_form(web: StaffPage, session: SessionDep, contract_id: IdPath) -> Response:
    """Activation wizard: the contract's premises and plan, then router, address and line attachment."""
    try:
        contract = await contracts.get_contract(session, actor=web.user, contract_id=contract_id)
    except DomainError as error:
        return web.error(error)
    routers = [r for r in await network.list_routers(session) if r.is_active]
    return web.render(
        "provisioning/provision.html",
        contract=contract,
        routers=routers,
        pools=await ipam.usage(session),
        kinds=[k.value for k in PortKind],
        ready=contract.status is ContractStatus.ORDERED,
    )


def _optional_int(value: object, field: str) -> int | None:
    text = str(value or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        raise Invalid(f"{field} must be a whole number.", field=field)
    return int(text)


def _optional_ipv4(value: object, field: str) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise Invalid(f"{text!r} is not an IPv4 address.", field=field) from None


@router.post("/console/contracts/{contract_id}/provision", response_class=HTMLResponse)
async def provision_submit(web: StaffPage, session: SessionDep, contract_id: IdPath) -> Response:
    form = await web.check_csrf()
    try:
        router_id = _optional_int(form.get("router_id"), "router_id")
        if router_id is None:
            raise Invalid("Choose a router.", field="router_id")
        kind = str(form.get("port_kind") or "veth")
        if kind not in {k.value for k in PortKind}:
            raise Invalid("Unknown kind of line.", field="port_kind")
        peer = str(form.get("port_peer") or "").strip()[:63] or None
        line = await service.provision_contract(
            session,
            actor=web.user,
            settings=web.settings,
            contract_id=contract_id,
            router_id=router_id,
            static_ipv4=_optional_ipv4(form.get("ipv4"), "ipv4"),
            port=service.Port(
                kind=PortKind(kind),
                peer=peer,
                tag=_optional_int(form.get("port_tag"), "port_tag"),
                remote=_optional_ipv4(form.get("port_remote"), "port_remote"),
            ),
        )
    except DomainError as error:
        return web.error(error)
    return redirect(
        f"/console/lines/{line.id}",
        flash=web.translator.gettext("Line provisioned: RADIUS is live, the router is being configured."),
    )


@router.get("/console/lines/{line_id}", response_class=HTMLResponse)
async def console_line(web: StaffPage, session: SessionDep, line_id: IdPath) -> Response:
    """A line: RADIUS state, addresses, router interface, live session, provisioning history."""
    try:
        view = await service.get_line(session, actor=web.user, line_id=line_id)
    except DomainError as error:
        return web.error(error)
    radius = await service.radius_state(session, username=view.line.username)
    return web.render(
        "provisioning/console_line.html",
        view=view,
        line=view.line,
        router=await network.get_router(session, router_id=view.line.router_id),
        radius=radius,
        live=await service.line_session(session, username=view.line.username),
        events=await repository.events(session, line_id=view.line.id),
        jobs=await repository.jobs(session, line_id=view.line.id, limit=20),
        phone=await voip.phone_line_for_contract(session, actor=web.user, contract_id=view.line.contract_id),
        health=(await health.line_health(session, line_ids=[view.line.id])).get(view.line.id),
    )


@router.post("/console/jobs/{job_id}/retry", response_class=HTMLResponse)
async def retry_job(web: StaffPage, session: SessionDep, job_id: IdPath) -> Response:
    await web.check_csrf()
    try:
        job = await service.retry_job(session, actor=web.user, job_id=job_id)
    except DomainError as error:
        return web.error(error)
    return redirect(f"/console/lines/{job.line_id}", flash=web.translator.gettext("Job queued again."))


async def _drift(web: Web, session: AsyncSession, *, repair: bool) -> Response:
    try:
        report = await reconcile.reconcile(session, actor=web.user, dry_run=not repair)
    except DomainError as error:
        return web.error(error)
    return web.render("provisioning/drift.html", report=report, repaired=repair)


@router.get("/console/drift", response_class=HTMLResponse)
async def console_drift(web: StaffPage, session: SessionDep) -> Response:
    """Every difference between the real systems and the contracts (a dry run; nothing changes)."""
    return await _drift(web, session, repair=False)


@router.post("/console/drift", response_class=HTMLResponse)
async def repair_drift(web: StaffPage, session: SessionDep) -> Response:
    await web.check_csrf()
    return await _drift(web, session, repair=True)


@router.get("/portal/line", response_class=HTMLResponse)
async def portal_line(web: MemberPage, session: SessionDep) -> Response:
    """The member's lines: online or not, since when, with which address, and the login for their router;
    their phone lines: number, extension and whether the phone is registered."""
    views = await repository.line_views(session, actor=web.user)
    lines = [(view, await service.line_session(session, username=view.line.username)) for view in views]
    phones = await voip.phone_lines(session, actor=web.user)
    health_of = await health.line_health(session, line_ids=[view.line.id for view in views])
    traffic_of = {}
    for view in views:
        traffic = await health.line_traffic(session, line_id=view.line.id, zone=web.settings.timezone)
        if traffic is not None:
            traffic_of[view.line.id] = (traffic, _traffic_graph(web, traffic))
    return web.render(
        "provisioning/portal_line.html", lines=lines, phones=phones, health_of=health_of, traffic_of=traffic_of
    )


def _traffic_graph(web: Web, traffic: health.LineTraffic) -> Markup:
    words = web.translator.gettext
    return graph.traffic_svg(
        traffic.week,
        start=traffic.week_start,
        end=traffic.week_end,
        zone=web.settings.timezone,
        labels={
            "title": words("Traffic over the last 7 days"),
            "to_member": words("to you"),
            "from_member": words("from you"),
            "summary": words("Hourly means over the last seven days; the highest was %(peak)s Mbit/s."),
        },
    )
