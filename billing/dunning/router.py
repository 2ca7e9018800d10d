"""API routes of dunning for operators and the board: the dunning list and a dunning pass."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.auth.deps import SessionDep, SettingsDep, StaffDep
from app.kit.pagination import Page, PageParams, page_params
from app.kit.time import local_today
from app.kit.validation import IdQuery
from billing.dunning import service
from billing.dunning.models import DunningStatus
from billing.dunning.schemas import DunningReportOut, DunningRunCreate, NoticeOut

router = APIRouter(tags=["dunning"])


@router.get("/dunning/notices", response_model=Page[NoticeOut])
async def list_notices(
    actor: StaffDep,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    status: DunningStatus | None = None,
    member_id: IdQuery = None,
) -> Page[NoticeOut]:
    """Dunning notices, newest first."""
    items, total = await service.list_notices(
        session, actor=actor, status=status, member_id=member_id, limit=page.limit, offset=page.offset
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("/dunning/runs", response_model=DunningReportOut)
async def run_dunning(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, data: DunningRunCreate
) -> DunningReportOut:
    """One dunning pass for a day (default today): notices due, fees, suspensions, resumptions."""
    today = data.today or local_today(settings.timezone)
    report = await service.run_due(session, actor=actor, settings=settings, today=today)
    return DunningReportOut.model_validate(report)
