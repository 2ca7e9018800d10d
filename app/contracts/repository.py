"""All queries on plans, premises and contracts, scoped to what the actor may see."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.contracts.models import Contract, ContractEvent, ContractStatus, Plan, Premises
from app.kit.actor import Actor


def _own(actor: Actor, column: sa.ColumnElement[int] | sa.orm.InstrumentedAttribute[int]) -> sa.ColumnElement[bool]:
    if actor.is_member:
        return column == (actor.member_id if actor.member_id is not None else -1)
    return sa.true()


def visible_contracts(actor: Actor) -> sa.ColumnElement[bool]:
    return _own(actor, Contract.member_id)


def visible_premises(actor: Actor) -> sa.ColumnElement[bool]:
    return _own(actor, Premises.member_id)


async def list_plans(session: AsyncSession, *, active_only: bool) -> list[Plan]:
    query = sa.select(Plan).order_by(Plan.monthly_fee_cents, Plan.id)
    if active_only:
        query = query.where(Plan.is_active.is_(True))
    return list((await session.execute(query)).scalars())


async def get_plan(session: AsyncSession, plan_id: int) -> Plan | None:
    return await session.get(Plan, plan_id)


async def includes_phone(session: AsyncSession, contract_ids: Sequence[int]) -> dict[int, bool]:
    """Whether each contract's plan, as it is now in the database, includes a phone, by contract id."""
    query = (
        sa.select(Contract.id, Plan.includes_phone)
        .join(Plan, Plan.id == Contract.plan_id)
        .where(Contract.id.in_(contract_ids))
    )
    return {contract_id: bool(flag) for contract_id, flag in (await session.execute(query)).all()}


async def contract_ids_by_status(
    session: AsyncSession, member_ids: Sequence[int], statuses: Sequence[ContractStatus]
) -> dict[int, list[int]]:
    """The ids of these members' contracts in these states, by member, in id order."""
    query = (
        sa.select(Contract.member_id, Contract.id)
        .where(Contract.member_id.in_(member_ids), Contract.status.in_(statuses))
        .order_by(Contract.id)
    )
    found: dict[int, list[int]] = {}
    for member_id, contract_id in (await session.execute(query)).all():
        found.setdefault(member_id, []).append(contract_id)
    return found


async def contract_states(session: AsyncSession, contract_ids: Sequence[int]) -> dict[int, ContractStatus]:
    """Where each of these contracts stands now, by id."""
    query = sa.select(Contract.id, Contract.status).where(Contract.id.in_(contract_ids))
    return {contract_id: status for contract_id, status in (await session.execute(query)).all()}


async def plan_by_code(session: AsyncSession, code: str) -> Plan | None:
    return (await session.execute(sa.select(Plan).where(Plan.code == code))).scalar_one_or_none()


async def get_premises(session: AsyncSession, premises_id: int, *, actor: Actor | None = None) -> Premises | None:
    query = sa.select(Premises).where(Premises.id == premises_id)
    if actor is not None:
        query = query.where(visible_premises(actor))
    return (await session.execute(query)).scalar_one_or_none()


async def list_premises(
    session: AsyncSession, *, actor: Actor, member_id: int | None, limit: int, offset: int
) -> tuple[list[Premises], int]:
    where = sa.and_(visible_premises(actor), Premises.member_id == member_id if member_id else sa.true())
    total = int((await session.execute(sa.select(sa.func.count()).select_from(Premises).where(where))).scalar_one())
    rows = await session.execute(sa.select(Premises).where(where).order_by(Premises.id).limit(limit).offset(offset))
    return list(rows.scalars()), total


async def get_contract(
    session: AsyncSession, contract_id: int, *, actor: Actor | None = None, lock: bool = False
) -> Contract | None:
    query = (
        sa.select(Contract)
        .options(joinedload(Contract.plan), joinedload(Contract.premises))
        .where(Contract.id == contract_id)
    )
    if actor is not None:
        query = query.where(visible_contracts(actor))
    if lock:
        query = query.with_for_update(of=Contract)
    return (await session.execute(query)).unique().scalar_one_or_none()


async def get_contracts(
    session: AsyncSession, contract_ids: Sequence[int], *, actor: Actor | None = None, lock: bool = False
) -> dict[int, Contract]:
    """The contracts among ``contract_ids`` (that the actor may see), by id; locked in id order, so two
    bulk steps over overlapping contracts wait for each other instead of deadlocking."""
    if not contract_ids:
        return {}
    query = (
        sa.select(Contract)
        .options(joinedload(Contract.plan), joinedload(Contract.premises))
        .where(Contract.id.in_(contract_ids))
        .order_by(Contract.id)
    )
    if actor is not None:
        query = query.where(visible_contracts(actor))
    if lock:
        query = query.with_for_update(of=Contract)
    return {contract.id: contract for contract in (await session.execute(query)).unique().scalars()}


@dataclass(frozen=True, slots=True)
class ContractFilter:
    status: ContractStatus | None = None
    member_id: int | None = None
    plan_id: int | None = None
    search: str | None = None


async def search_contracts(
    session: AsyncSession, *, actor: Actor, filters: ContractFilter, limit: int, offset: int
) -> tuple[list[Contract], int]:
    conditions: list[sa.ColumnElement[bool]] = [visible_contracts(actor)]
    if filters.status is not None:
        conditions.append(Contract.status == filters.status)
    if filters.member_id is not None:
        conditions.append(Contract.member_id == filters.member_id)
    if filters.plan_id is not None:
        conditions.append(Contract.plan_id == filters.plan_id)
    if filters.search:
        conditions.append(sa.func.lower(Contract.number).like(f"%{filters.search.strip().lower()}%"))
    where = sa.and_(*conditions)
    total = int((await session.execute(sa.select(sa.func.count()).select_from(Contract).where(where))).scalar_one())
    rows = await session.execute(
        sa.select(Contract)
        .options(joinedload(Contract.plan), joinedload(Contract.premises))
        .where(where)
        .order_by(Contract.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.unique().scalars()), total


async def events(session: AsyncSession, contract_id: int) -> list[ContractEvent]:
    rows = await session.execute(
        sa.select(ContractEvent)
        .where(ContractEvent.contract_id == contract_id)
        .order_by(ContractEvent.at, ContractEvent.id)
    )
    return list(rows.scalars())


async def last_steps_on(session: AsyncSession, contract_ids: Sequence[int]) -> dict[int, date]:
    """The effective date of each contract's latest lifecycle step (contracts without one are left out)."""
    query = (
        sa.select(ContractEvent.contract_id, sa.func.max(ContractEvent.effective_on))
        .where(ContractEvent.contract_id.in_(contract_ids))
        .group_by(ContractEvent.contract_id)
    )
    return {contract_id: day for contract_id, day in (await session.execute(query)).all()}


async def contracts_due_to_end(session: AsyncSession, today: date) -> list[Contract]:
    rows = await session.execute(
        sa.select(Contract)
        .where(Contract.status.in_([ContractStatus.ACTIVE, ContractStatus.SUSPENDED]), Contract.ends_on < today)
        .with_for_update()
    )
    return list(rows.scalars())


async def counts_by_status(session: AsyncSession) -> dict[ContractStatus, int]:
    rows = await session.execute(sa.select(Contract.status, sa.func.count()).group_by(Contract.status))
    return {status: int(count) for status, count in rows}


def service_summary() -> sa.Select[int, str, int, ContractStatus, str, int, int]:
    """Each contract with what the network needs to deliver it, as a select other domains can join on."""
    return sa.select(
        Contract.id.label("contract_id"),
        Contract.number.label("contract_number"),
        Contract.member_id.label("member_id"),
        Contract.status.label("contract_status"),
        Plan.code.label("plan_code"),
        Plan.down_kbps.label("down_kbps"),
        Plan.up_kbps.label("up_kbps"),
    ).join(Plan, Plan.id == Contract.plan_id)


def _in_service(first: date, last: date) -> sa.ColumnElement[bool]:
    """Contracts that ran on at least one day of [first, last]."""
    ended = sa.func.coalesce(Contract.terminated_on, Contract.ends_on)
    return sa.and_(
        Contract.start_on.is_not(None),
        Contract.start_on <= last,
        sa.or_(ended.is_(None), ended >= first),
        Contract.status != ContractStatus.ORDERED,
    )


async def member_ids_in_service(session: AsyncSession, *, first: date, last: date) -> list[int]:
    query = sa.select(Contract.member_id).where(_in_service(first, last)).distinct().order_by(Contract.member_id)
    return [int(m) for m in (await session.execute(query)).scalars()]


async def billing_rows(
    session: AsyncSession,
    *,
    first: date,
    last: date,
    member_from: int,
    member_to: int,
    ended_before: date | None = None,
    or_ids: Collection[int] = (),
) -> list[Any]:
    end_on = sa.func.coalesce(Contract.terminated_on, Contract.ends_on)
    query = (
        sa.select(
            Contract.id,
            Contract.number,
            Contract.member_id,
            Contract.plan_id,
            Contract.start_on,
            end_on.label("end_on"),
            Contract.min_term_months,
            Contract.notice_months,
        )
        .where(_in_service(first, last), Contract.member_id.between(member_from, member_to))
        .order_by(Contract.member_id, Contract.id)
    )
    if ended_before is not None:
        query = query.where(sa.or_(end_on < ended_before, Contract.id.in_(list(or_ids))))
    # Core, not the ORM's result processing: a bill run reads every contract this way.
    return list((await (await session.connection()).execute(query)).all())


async def plan_rows(session: AsyncSession) -> list[Any]:
    query = sa.select(Plan.id, Plan.code, Plan.name, Plan.monthly_fee_cents, Plan.setup_fee_cents, Plan.includes_phone)
    return list((await session.execute(query)).all())


async def plan_change_rows(session: AsyncSession, *, since: datetime) -> list[Any]:
    """The audit log's record of plan changes (the plan id before and after, and when) since ``since``."""
    from app.audit.models import AuditEvent

    query = (
        sa.select(AuditEvent.entity_id, AuditEvent.at, AuditEvent.before, AuditEvent.after)
        .where(
            AuditEvent.action == "contract.change_plan",
            AuditEvent.entity_type == Contract.__tablename__,
            AuditEvent.at >= since,
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return list((await session.execute(query)).all())
