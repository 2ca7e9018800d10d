"""API route for reading the audit log (board and admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.audit import repository
from app.audit.schemas import AuditEventOut
from app.auth.deps import BoardDep, SessionDep
from app.kit.pagination import Page, PageParams, page_params
from app.kit.validation import DateTimeQuery, SearchQuery

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=Page[AuditEventOut])
async def list_audit_events(
    actor: BoardDep,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    entity_type: SearchQuery = None,
    entity_id: SearchQuery = None,
    actor_label: SearchQuery = None,
    action: SearchQuery = None,
    since: DateTimeQuery = None,
    until: DateTimeQuery = None,
) -> Page[AuditEventOut]:
    """Who changed what and when, newest first; filter by record, person, action or time."""
    events, total = await repository.search(
        session,
        filters=repository.AuditFilter(
            entity_type=entity_type, entity_id=entity_id, actor=actor_label, action=action, since=since, until=until
        ),
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[AuditEventOut.model_validate(e) for e in events], total=total, limit=page.limit, offset=page.offset
    )
