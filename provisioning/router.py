"""API routes for lines, provisioning, the outbox and reconcile."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.deps import ActorDep, OperatorDep, SessionDep, SettingsDep, StaffDep
from app.kit.actor import Actor
from app.kit.pagination import Page, PageParams, page_params
from app.kit.validation import IdPath, IdQuery
from provisioning import reconcile, repository, service
from provisioning.models import JobStatus, LineState
from provisioning.repository import LineView
from provisioning.schemas import (
    DriftOut,
    EventOut,
    JobOut,
    LineDetail,
    LineOut,
    ProvisionRequest,
    ReconcileOut,
    ReconcileRequest,
    SessionOut,
)

router = APIRouter()
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not found, or not yours"}}


def line_out(view: LineView) -> dict[str, Any]:
    line = view.line
    return {
        "id": line.id,
        "contract_id": line.contract_id,
        "contract_number": view.contract_number,
        "contract_status": view.contract_status,
        "router_id": line.router_id,
        "username": line.username,
        "ifname": line.ifname,
        "port_kind": line.port_kind,
        "ipv4": line.ipv4,
        "ipv6_prefix": line.ipv6_prefix,
        "state": line.state,
        "plan_code": view.plan_code,
        "down_kbps": view.down_kbps,
        "up_kbps": view.up_kbps,
        "created_at": line.created_at,
        "removed_at": line.removed_at,
    }


async def line_detail(session: AsyncSession, *, actor: Actor, line_id: int) -> LineDetail:
    view = await service.get_line(session, actor=actor, line_id=line_id)
    live = await service.line_session(session, username=view.line.username)
    return LineDetail(
        **line_out(view),
        password=view.line.password,
        session=SessionOut.model_validate(live) if live else None,
        events=[EventOut.model_validate(e) for e in await repository.events(session, line_id=view.line.id)],
        jobs=[JobOut.model_validate(j) for j in await repository.jobs(session, line_id=view.line.id, limit=20)],
    )


@router.post(
    "/contracts/{contract_id}/provision",
    response_model=LineDetail,
    status_code=201,
    tags=["lines"],
    responses=NOT_FOUND,
)
async def provision(
    actor: OperatorDep, session: SessionDep, settings: SettingsDep, contract_id: IdPath, data: ProvisionRequest
) -> LineDetail:
    """Switch an ordered contract on: a line on the router with its addresses, RADIUS rows and router job."""
    line = await service.provision_contract(
        session,
        actor=actor,
        settings=settings,
        contract_id=contract_id,
        router_id=data.router_id,
        static_ipv4=data.ipv4,
        port=service.Port(kind=data.port_kind, peer=data.port_peer, tag=data.port_tag, remote=data.port_remote),
    )
    return await line_detail(session, actor=actor, line_id=line.id)


@router.get("/lines", response_model=Page[LineOut], tags=["lines"])
async def list_lines(
    actor: ActorDep,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    router_id: IdQuery = None,
    contract_id: IdQuery = None,
    state: Annotated[LineState | None, Query()] = None,
) -> Page[LineOut]:
    """Lines the caller may see (a member: their own)."""
    views = await repository.line_views(
        session,
        actor=actor,
        router_id=router_id,
        contract_id=contract_id,
        states=[state] if state else None,
        limit=page.limit + 1,
        offset=page.offset,
    )
    total = page.offset + len(views)
    return Page(
        items=[LineOut(**line_out(v)) for v in views[: page.limit]], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/lines/{line_id}", response_model=LineDetail, tags=["lines"], responses=NOT_FOUND)
async def get_line(actor: ActorDep, session: SessionDep, line_id: IdPath) -> LineDetail:
    """A line with its login, addresses, live session (radacct) and provisioning history."""
    return await line_detail(session, actor=actor, line_id=line_id)


@router.get("/provisioning/jobs", response_model=list[JobOut], tags=["provisioning"])
async def list_jobs(
    actor: StaffDep,
    session: SessionDep,
    status: Annotated[JobStatus | None, Query()] = None,
    line_id: IdQuery = None,
) -> list[JobOut]:
    """The outbox, newest first; ``status=failed`` lists what needs an operator."""
    return [JobOut.model_validate(j) for j in await repository.jobs(session, status=status, line_id=line_id)]


@router.post("/provisioning/jobs/{job_id}/retry", response_model=JobOut, tags=["provisioning"], responses=NOT_FOUND)
async def retry_job(actor: OperatorDep, session: SessionDep, job_id: IdPath) -> JobOut:
    return JobOut.model_validate(await service.retry_job(session, actor=actor, job_id=job_id))


def _report_out(report: reconcile.ReconcileReport) -> ReconcileOut:
    return ReconcileOut(
        dry_run=report.dry_run,
        converged=report.converged,
        changed=report.changed,
        summary=report.summary(),
        checked=report.checked,
        unmanaged=report.unmanaged,
        drift=[DriftOut(**d.__dict__) for d in report.drift],
    )


@router.get("/provisioning/drift", response_model=ReconcileOut, tags=["provisioning"])
async def drift(actor: OperatorDep, session: SessionDep) -> ReconcileOut:
    """Every difference between the real systems and the contracts, per line (a dry-run reconcile)."""
    return _report_out(await reconcile.reconcile(session, actor=actor, dry_run=True))


@router.post("/provisioning/reconcile", response_model=ReconcileOut, tags=["provisioning"])
async def run_reconcile(actor: OperatorDep, session: SessionDep, data: ReconcileRequest) -> ReconcileOut:
    """Repair drift (or only report it with ``dry_run``)."""
    return _report_out(await reconcile.reconcile(session, actor=actor, dry_run=data.dry_run, targets=data.targets))
