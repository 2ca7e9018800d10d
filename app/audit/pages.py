"""The board's audit log page: who changed what, when, with the values before and after."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from app.audit import repository
from app.auth.deps import SessionDep
from app.web.shell import BoardPage

router = APIRouter()
PAGE = 50


def _clean(value: str) -> str | None:
    text = "".join(ch for ch in value if ch.isprintable())[:100].strip()
    return text or None


@router.get("/board/audit", response_class=HTMLResponse)
async def audit_log(
    web: BoardPage,
    session: SessionDep,
    entity_type: str = "",
    entity_id: str = "",
    actor: str = "",
    action: str = "",
    offset: int = 0,
) -> Response:
    filters = repository.AuditFilter(
        entity_type=_clean(entity_type), entity_id=_clean(entity_id), actor=_clean(actor), action=_clean(action)
    )
    start = max(offset, 0)
    events, total = await repository.search(session, filters=filters, limit=PAGE, offset=start)
    rows = []
    for event in events:
        before, after = event.before or {}, event.after or {}
        keys = [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k) and k != "updated_at"]
        rows.append((event, [(k, before.get(k), after.get(k)) for k in keys]))
    query = "&".join(
        f"{k}={v}"
        for k, v in (("entity_type", entity_type), ("entity_id", entity_id), ("actor", actor), ("action", action))
        if v
    )
    return web.render("audit/log.html", rows=rows, total=total, offset=start, page=PAGE, filters=filters, query=query)
