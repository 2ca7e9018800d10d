"""API routes for plans, premises and contracts."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from app.auth.deps import ActorDep, BoardDep, SessionDep, SettingsDep, StaffDep
from app.contracts import repository, service
from app.contracts.models import Contract, ContractStatus
from app.contracts.schemas import (
    BulkActivation,
    Cancellation,
    ContractDetail,
    ContractEventOut,
    ContractOrder,
    ContractOut,
    ContractPlanChange,
    ContractTermsOut,
    PlanCreate,
    PlanOut,
    PlanUpdate,
    PremisesCreate,
    PremisesOut,
    Transition,
)
from app.kit.actor import Actor
from app.kit.pagination import Page, PageParams, page_params
from app.kit.time import local_today
from app.kit.validation import IdPath, IdQuery, SearchQuery
from app.settings import Settings

router = APIRouter()
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not found, or not yours"}}


@router.get("/plans", response_model=list[PlanOut], tags=["plans"])
async def list_plans(actor: ActorDep, session: SessionDep) -> list[PlanOut]:
    return [PlanOut.model_validate(p) for p in await service.list_plans(session, actor=actor)]


@router.post("/plans", response_model=PlanOut, status_code=201, tags=["plans"])
async def create_plan(actor: BoardDep, session: SessionDep, data: PlanCreate) -> PlanOut:
    return PlanOut.model_validate(await service.create_plan(session, actor=actor, data=data))


@router.get("/plans/{plan_id}", response_model=PlanOut, tags=["plans"], responses=NOT_FOUND)
async def get_plan(actor: ActorDep, session: SessionDep, plan_id: IdPath) -> PlanOut:
    return PlanOut.model_validate(await service.get_plan(session, plan_id=plan_id))


@router.patch("/plans/{plan_id}", response_model=PlanOut, tags=["plans"], responses=NOT_FOUND)
async def update_plan(actor: BoardDep, session: SessionDep, plan_id: IdPath, data: PlanUpdate) -> PlanOut:
    return PlanOut.model_validate(await service.update_plan(session, actor=actor, plan_id=plan_id, data=data))


@router.get("/premises", response_model=Page[PremisesOut], tags=["premises"])
async def list_premises(
    actor: ActorDep, session: SessionDep, page: Annotated[PageParams, Depends(page_params)], member_id: IdQuery = None
) -> Page[PremisesOut]:
    rows, total = await repository.list_premises(
        session, actor=actor, member_id=member_id, limit=page.limit, offset=page.offset
    )
    return Page(items=[PremisesOut.model_validate(p) for p in rows], total=total, limit=page.limit, offset=page.offset)


@router.post("/premises", response_model=PremisesOut, status_code=201, tags=["premises"])
async def create_premises(actor: StaffDep, session: SessionDep, data: PremisesCreate) -> PremisesOut:
    return PremisesOut.model_validate(await service.create_premises(session, actor=actor, data=data))


@router.get("/premises/{premises_id}", response_model=PremisesOut, tags=["premises"], responses=NOT_FOUND)
async def get_premises(actor: ActorDep, session: SessionDep, premises_id: IdPath) -> PremisesOut:
    return PremisesOut.model_validate(await service.get_premises(session, actor=actor, premises_id=premises_id))


def detail(contract: Contract, settings: Settings) -> ContractDetail:
    terms = service.terms(contract, settings=settings, today=local_today(settings.timezone))
    base = ContractOut.model_validate(contract).model_dump()
    return ContractDetail(
        **base,
        plan=PlanOut.model_validate(contract.plan),
        premises=PremisesOut.model_validate(contract.premises),
        terms=ContractTermsOut.model_validate(dataclasses.asdict(terms)),
    )


@router.get("/contracts", response_model=Page[ContractOut], tags=["contracts"])
async def list_contracts(
    actor: ActorDep,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[ContractStatus | None, Query()] = None,
    member_id: IdQuery = None,
    plan_id: IdQuery = None,
    q: SearchQuery = None,
) -> Page[ContractOut]:
    """Contracts the caller may see (a member: their own), filtered and paginated."""
    rows, total = await repository.search_contracts(
        session,
        actor=actor,
        filters=repository.ContractFilter(status=status, member_id=member_id, plan_id=plan_id, search=q),
        limit=page.limit,
        offset=page.offset,
    )
    return Page(items=[ContractOut.model_validate(c) for c in rows], total=total, limit=page.limit, offset=page.offset)


@router.post("/contracts", response_model=ContractDetail, status_code=201, tags=["contracts"])
async def order_contract(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, data: ContractOrder
) -> ContractDetail:
    contract = await service.order(
        session,
        actor=actor,
        settings=settings,
        member_id=data.member_id,
        premises_id=data.premises_id,
        plan_id=data.plan_id,
        ordered_on=data.ordered_on,
    )
    return detail(contract, settings)


@router.get("/contracts/{contract_id}", response_model=ContractDetail, tags=["contracts"], responses=NOT_FOUND)
async def get_contract(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, contract_id: IdPath
) -> ContractDetail:
    """A contract with its plan, premises and the dates of its terms (TKG §56)."""
    return detail(await service.get_contract(session, actor=actor, contract_id=contract_id), settings)


@router.get(
    "/contracts/{contract_id}/events", response_model=list[ContractEventOut], tags=["contracts"], responses=NOT_FOUND
)
async def contract_events(actor: ActorDep, session: SessionDep, contract_id: IdPath) -> list[ContractEventOut]:
    contract = await service.get_contract(session, actor=actor, contract_id=contract_id)
    return [ContractEventOut.model_validate(e) for e in await repository.events(session, contract.id)]


async def _transition(
    actor: Actor,
    session: SessionDep,
    settings: Settings,
    contract_id: int,
    to: ContractStatus,
    data: Transition,
    from_status: ContractStatus | None = None,
) -> ContractDetail:
    await service.transition(
        session,
        actor=actor,
        settings=settings,
        contract_id=contract_id,
        to=to,
        effective_on=data.effective_on,
        reason=data.reason,
        from_status=from_status,
    )
    return detail(await service.get_contract(session, actor=actor, contract_id=contract_id), settings)


@router.post(
    "/contracts/{contract_id}/activate", response_model=ContractDetail, tags=["contracts"], responses=NOT_FOUND
)
async def activate(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, contract_id: IdPath, data: Transition
) -> ContractDetail:
    return await _transition(actor, session, settings, contract_id, ContractStatus.ACTIVE, data, ContractStatus.ORDERED)


@router.post("/contracts/activations", response_model=list[ContractOut], tags=["contracts"], responses=NOT_FOUND)
async def activate_many(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, data: BulkActivation
) -> list[ContractOut]:
    """Switch on many ordered contracts in one step: all of them, or (409/404/422 naming the first that
    cannot be) none. Their lines, phone lines and RADIUS and Asterisk rows are written in the same
    transaction, as for one."""
    activated = await service.transition_many(
        session,
        actor=actor,
        settings=settings,
        contract_ids=data.contract_ids,
        to=ContractStatus.ACTIVE,
        effective_on=data.effective_on,
        reason=data.reason,
        from_status=ContractStatus.ORDERED,
    )
    return [ContractOut.model_validate(contract) for contract in activated]


@router.post("/contracts/{contract_id}/suspend", response_model=ContractDetail, tags=["contracts"], responses=NOT_FOUND)
async def suspend(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, contract_id: IdPath, data: Transition
) -> ContractDetail:
    return await _transition(actor, session, settings, contract_id, ContractStatus.SUSPENDED, data)


@router.post("/contracts/{contract_id}/resume", response_model=ContractDetail, tags=["contracts"], responses=NOT_FOUND)
async def resume(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, contract_id: IdPath, data: Transition
) -> ContractDetail:
    return await _transition(
        actor, session, settings, contract_id, ContractStatus.ACTIVE, data, ContractStatus.SUSPENDED
    )


@router.post(
    "/contracts/{contract_id}/terminate", response_model=ContractDetail, tags=["contracts"], responses=NOT_FOUND
)
async def terminate(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, contract_id: IdPath, data: Transition
) -> ContractDetail:
    return await _transition(actor, session, settings, contract_id, ContractStatus.TERMINATED, data)


@router.post("/contracts/{contract_id}/plan", response_model=ContractDetail, tags=["contracts"], responses=NOT_FOUND)
async def change_plan(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, contract_id: IdPath, data: ContractPlanChange
) -> ContractDetail:
    """Change the plan of a contract; a running line gets the new rates at once (CoA)."""
    await service.change_plan(
        session, actor=actor, settings=settings, contract_id=contract_id, plan_id=data.plan_id, reason=data.reason
    )
    return detail(await service.get_contract(session, actor=actor, contract_id=contract_id), settings)


@router.post("/contracts/{contract_id}/cancel", response_model=ContractDetail, tags=["contracts"], responses=NOT_FOUND)
async def cancel(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, contract_id: IdPath, data: Cancellation
) -> ContractDetail:
    """The subscriber's notice; ``ends_on`` in the response is when the contract will end."""
    await service.cancel(
        session,
        actor=actor,
        settings=settings,
        contract_id=contract_id,
        received_on=data.received_on,
        requested_end_on=data.requested_end_on,
        reason=data.reason,
    )
    return detail(await service.get_contract(session, actor=actor, contract_id=contract_id), settings)
