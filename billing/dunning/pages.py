"""The operator's dunning page: the dunning list and a pass for today."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from app.auth.deps import SessionDep
from app.kit.time import local_today
from app.web.shell import StaffPage, redirect
from billing.dunning import service
from billing.dunning.models import DunningStatus

router = APIRouter()
PAGE = 50


@router.get("/console/dunning", response_class=HTMLResponse)
async def console_dunning(web: StaffPage, session: SessionDep, status: str = "open", offset: int = 0) -> Response:
    """Notices (open ones unless told): member, level, arrears, dates, the contracts a suspension stopped."""
    chosen = DunningStatus(status) if status in {s.value for s in DunningStatus} else None
    start = max(offset, 0)
    notices, total = await service.list_notices(session, actor=web.user, status=chosen, limit=PAGE, offset=start)
    return web.render(
        "dunning/console.html",
        notices=notices,
        total=total,
        offset=start,
        page=PAGE,
        status=chosen.value if chosen else "",
        statuses=[s.value for s in DunningStatus],
        today=local_today(web.settings.timezone),
    )


@router.post("/console/dunning/runs", response_class=HTMLResponse)
async def console_run(web: StaffPage, session: SessionDep) -> Response:
    await web.check_csrf()
    today = local_today(web.settings.timezone)
    report = await service.run_due(session, actor=web.user, settings=web.settings, today=today)
    message = web.translator.gettext(
        "Dunning run: %(reminders)s reminders, %(warnings)s warnings, %(suspensions)s suspensions, "
        "%(resumed)s contracts resumed.",
        reminders=report.reminders,
        warnings=report.warnings,
        suspensions=report.suspensions,
        resumed=report.contracts_resumed,
    )
    return redirect("/console/dunning", flash=message)
