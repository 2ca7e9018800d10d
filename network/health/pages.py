"""Web pages of network health: the operators' view (devices and lines by state, incidents to work on)
and the board's (availability per month, incidents, time to repair)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from app.auth.deps import SessionDep
from app.kit.errors import DomainError, Invalid
from app.kit.validation import IdPath
from app.web.shell import BoardPage, StaffPage, redirect
from network.health import incidents, reports, service
from network.health.models import HealthState

router = APIRouter()


@router.get("/console/health", response_class=HTMLResponse)
async def console_health(web: StaffPage, session: SessionDep) -> Response:
    """What is broken right now: devices by state, the open incidents, then the latest ended ones."""
    devices = await service.list_devices(session)
    order = {HealthState.DOWN: 0, HealthState.DEGRADED: 1, HealthState.UNKNOWN: 2, HealthState.OK: 3}
    devices.sort(key=lambda pair: (order[pair[1].state], pair[0].name))
    counts = {state.value: sum(1 for _, status in devices if status.state is state) for state in HealthState}
    views = await incidents.list_incidents(session, limit=100)
    lines = await service.all_line_health(session)
    line_counts = {state.value: sum(1 for h in lines.values() if h.state is state) for state in HealthState}
    return web.render(
        "health/console_health.html",
        devices=devices,
        counts=counts,
        line_counts=line_counts,
        troubled=sorted(
            (h for h in lines.values() if h.state in (HealthState.DOWN, HealthState.DEGRADED)),
            key=lambda h: (order[h.state], h.since or h.sampled_at or datetime.min.replace(tzinfo=UTC)),
        )[:200],
        open=[v for v in views if v.incident.ended_at is None],
        ended=[v for v in views if v.incident.ended_at is not None][:30],
        duration_s=incidents.duration_s,
    )


@router.get("/console/incidents/{incident_id}", response_class=HTMLResponse)
async def console_incident(web: StaffPage, session: SessionDep, incident_id: IdPath) -> Response:
    try:
        detail = await incidents.get_incident(session, incident_id=incident_id)
    except DomainError as error:
        return web.error(error)
    return web.render("health/console_incident.html", detail=detail, duration_s=incidents.duration_s)


@router.post("/console/incidents/{incident_id}/acknowledge", response_class=HTMLResponse)
async def acknowledge(web: StaffPage, session: SessionDep, incident_id: IdPath) -> Response:
    await web.check_csrf()
    try:
        await incidents.acknowledge(session, actor=web.user, incident_id=incident_id)
    except DomainError as error:
        return web.error(error)
    return redirect(f"/console/incidents/{incident_id}", flash=web.translator.gettext("Incident acknowledged."))


@router.post("/console/incidents/{incident_id}/comments", response_class=HTMLResponse)
async def comment(web: StaffPage, session: SessionDep, incident_id: IdPath) -> Response:
    form = await web.check_csrf()
    text = str(form.get("text") or "").strip()
    try:
        if not text or len(text) > 4000:
            raise Invalid("A note has 1 to 4000 characters.", field="text")
        await incidents.comment(session, actor=web.user, incident_id=incident_id, text=text)
    except DomainError as error:
        return web.error(error)
    return redirect(f"/console/incidents/{incident_id}", flash=web.translator.gettext("Note added."))


@router.get("/board/network", response_class=HTMLResponse)
async def board_network(web: BoardPage, session: SessionDep) -> Response:
    """How reliable the network was, month by month."""
    return web.render("health/board_network.html", months=await reports.monthly(session, months=12))
