"""API routes for access routers and their address pools."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.auth.deps import OperatorDep, SessionDep, StaffDep
from app.kit.validation import IdPath, IdQuery
from network import ipam, service
from network.schemas import PoolCreate, PoolUsageOut, RouterCreate, RouterOut

router = APIRouter()
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not found"}}


def usage_out(usage: ipam.PoolUsage) -> PoolUsageOut:
    return PoolUsageOut(
        pool_id=usage.pool_id,
        router_id=usage.router_id,
        family=usage.family,
        cidr=usage.cidr,
        size=usage.size,
        assigned=usage.assigned,
        quarantined=usage.quarantined,
        free=usage.free,
        percent_used=usage.percent_used,
    )


@router.get("/routers", response_model=list[RouterOut], tags=["network"])
async def list_routers(actor: StaffDep, session: SessionDep) -> list[RouterOut]:
    return [RouterOut.model_validate(r) for r in await service.list_routers(session)]


@router.post("/routers", response_model=RouterOut, status_code=201, tags=["network"])
async def create_router(actor: OperatorDep, session: SessionDep, data: RouterCreate) -> RouterOut:
    """Register an access router; it becomes a RADIUS client with a generated secret."""
    return RouterOut.model_validate(await service.create_router(session, actor=actor, data=data))


@router.get("/routers/{router_id}", response_model=RouterOut, tags=["network"], responses=NOT_FOUND)
async def get_router(actor: StaffDep, session: SessionDep, router_id: IdPath) -> RouterOut:
    return RouterOut.model_validate(await service.get_router(session, router_id=router_id))


@router.post(
    "/routers/{router_id}/pools", response_model=PoolUsageOut, status_code=201, tags=["network"], responses=NOT_FOUND
)
async def create_pool(actor: OperatorDep, session: SessionDep, router_id: IdPath, data: PoolCreate) -> PoolUsageOut:
    """Add an IPv4 block (addresses per line) or an IPv6 block (delegated prefixes) to a router."""
    pool = await service.create_pool(session, actor=actor, router_id=router_id, data=data)
    usage = [u for u in await ipam.usage(session, router_id=router_id) if u.pool_id == pool.id]
    return usage_out(usage[0])


@router.get("/pools", response_model=list[PoolUsageOut], tags=["network"])
async def pool_usage(actor: StaffDep, session: SessionDep, router_id: IdQuery = None) -> list[PoolUsageOut]:
    """Every pool's size, assigned and quarantined counts."""
    return [usage_out(u) for u in await ipam.usage(session, router_id=router_id)]
