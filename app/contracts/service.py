"""Plans, premises and the contract lifecycle, with the consumer-protection dates of TKG §56."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.contracts import repository
from app.contracts.models import Contract, ContractEvent, ContractStatus, Plan, Premises
from app.contracts.schemas import PlanCreate, PlanUpdate, PremisesCreate
from app.kit.actor import Actor, Role
from app.kit.errors import Conflict, Invalid, NotFound
from app.kit.events import ContractChanged, publish
from app.kit.time import add_months, last_day_of_month, local_today, utcnow
from app.members.models import MemberStatus
from app.members.service import get_member_for_link
from app.settings import Settings

# Which step may follow which. "ordered -> terminated" is an order withdrawn before activation.
TRANSITIONS: dict[ContractStatus, frozenset[ContractStatus]] = {
    ContractStatus.ORDERED: frozenset({ContractStatus.ACTIVE, ContractStatus.TERMINATED}),
    ContractStatus.ACTIVE: frozenset({ContractStatus.SUSPENDED, ContractStatus.TERMINATED}),
    ContractStatus.SUSPENDED: frozenset({ContractStatus.ACTIVE, ContractStatus.TERMINATED}),
    ContractStatus.TERMINATED: frozenset(),
}


# --- plans ---------------------------------------------------------------------------------------


async def create_plan(session: AsyncSession, *, actor: Actor, data: PlanCreate) -> Plan:
    actor.require(Role.BOARD)
    if await repository.plan_by_code(session, data.code) is not None:
        raise Conflict(f"A plan with code {data.code} exists already.", code="plan_code_taken", field="code")
    plan = Plan(**data.model_dump(), is_active=True)
    with action(session, "plan.create"):
        session.add(plan)
        await session.flush()
    return plan


async def get_plan(session: AsyncSession, *, plan_id: int) -> Plan:
    plan = await repository.get_plan(session, plan_id)
    if plan is None:
        raise NotFound(f"Plan {plan_id} not found.")
    return plan


async def includes_phone(session: AsyncSession, *, contract_ids: Sequence[int]) -> dict[int, bool]:
    """Whether each contract's current plan includes a phone line, by contract id."""
    return await repository.includes_phone(session, contract_ids)


async def contract_ids_by_status(
    session: AsyncSession, *, member_ids: Sequence[int], statuses: Sequence[ContractStatus]
) -> dict[int, list[int]]:
    """The ids of these members' contracts that are in one of ``statuses``, by member id."""
    return await repository.contract_ids_by_status(session, member_ids, statuses)


async def contract_states(session: AsyncSession, *, contract_ids: Sequence[int]) -> dict[int, ContractStatus]:
    """Where each of these contracts stands now, by contract id."""
    return await repository.contract_states(session, contract_ids)


async def update_plan(session: AsyncSession, *, actor: Actor, plan_id: int, data: PlanUpdate) -> Plan:
    """Price changes apply to new orders; running contracts keep the terms they were signed on."""
    actor.require(Role.BOARD)
    plan = await get_plan(session, plan_id=plan_id)
    with action(session, "plan.update"):
        for field, value in data.model_dump(exclude_unset=True).items():
            if value is None:
                raise Invalid(f"{field} cannot be empty.", field=field)
            setattr(plan, field, value)
        await session.flush()
    return plan


async def list_plans(session: AsyncSession, *, actor: Actor) -> list[Plan]:
    return await repository.list_plans(session, active_only=actor.is_member)


def service_summary_subquery() -> sa.Subquery:
    """Contracts with status and plan rates (columns ``contract_id``, ``contract_number``, ``member_id``,
    ``contract_status``, ``plan_code``, ``down_kbps``, ``up_kbps``), for other domains to join on."""
    return repository.service_summary().subquery("contract_summary")


# --- premises ------------------------------------------------------------------------------------


async def create_premises(session: AsyncSession, *, actor: Actor, data: PremisesCreate) -> Premises:
    actor.require(Role.OPERATOR, Role.BOARD)
    await get_member_for_link(session, member_id=data.member_id)
    premises = Premises(**data.model_dump())
    with action(session, "premises.create"):
        session.add(premises)
        await session.flush()
    return premises


async def get_premises(session: AsyncSession, *, actor: Actor, premises_id: int) -> Premises:
    premises = await repository.get_premises(session, premises_id, actor=actor)
    if premises is None:
        raise NotFound(f"Premises {premises_id} not found.")
    return premises


# --- contracts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """The dates a subscriber must be told (TKG §56, TKTransparenzV §5)."""

    start_on: date | None
    min_term_months: int
    min_term_end_on: date | None
    notice_months: int
    last_day_to_cancel_for_min_term_end: date | None
    earliest_end_if_cancelled_today: date | None
    ends_on: date | None


def min_term_end(start_on: date, months: int) -> date:
    """Last day of the minimum term: a 24-month contract from 15 Mar ends on 14 Mar two years on.

    The term ends the day before the start day's number in the last month; where that month has no such
    day (a start on 31 Jan, one month), it ends with the month's last day, 28 Feb (§188 (2), (3) BGB).
    """
    if not months:
        return start_on
    same_day = add_months(start_on, months)
    if same_day.day < start_on.day:
        return same_day
    return same_day - timedelta(days=1)


def last_day_to_cancel(term_end: date, notice_months: int) -> date:
    """The last day a notice of ``notice_months`` still ends the contract on ``term_end``.

    It is the latest day from which ``notice_months`` reach no further than ``term_end``: for a term ending on
    the last day of a month that is the last day of the month the notice period starts in (31 Jan for 28 Feb).
    """
    day = add_months(term_end, -notice_months)
    if term_end == last_day_of_month(term_end.year, term_end.month):
        return last_day_of_month(day.year, day.month)
    return day


def earliest_end(
    *, start_on: date, min_term_months: int, notice_months: int, received_on: date, notice_after_min_term_months: int
) -> date:
    """When a contract ends if the subscriber cancels on ``received_on``.

    Within the minimum term the plan's notice period applies towards its end; once that date is missed,
    the contract runs on and can be cancelled at any time with the statutory short notice (§56 (3) TKG).
    """
    term_end = min_term_end(start_on, min_term_months)
    if add_months(received_on, notice_months) <= term_end:
        return term_end
    return max(term_end, add_months(received_on, notice_after_min_term_months))


def terms(contract: Contract, *, settings: Settings, today: date) -> ContractTerms:
    if contract.start_on is None:
        return ContractTerms(None, contract.min_term_months, None, contract.notice_months, None, None, contract.ends_on)
    term_end = min_term_end(contract.start_on, contract.min_term_months)
    last_day = last_day_to_cancel(term_end, contract.notice_months)
    running = contract.status in (ContractStatus.ACTIVE, ContractStatus.SUSPENDED)
    return ContractTerms(
        start_on=contract.start_on,
        min_term_months=contract.min_term_months,
        min_term_end_on=term_end,
        notice_months=contract.notice_months,
        last_day_to_cancel_for_min_term_end=last_day if last_day >= contract.start_on else None,
        earliest_end_if_cancelled_today=earliest_end(
            start_on=contract.start_on,
            min_term_months=contract.min_term_months,
            notice_months=contract.notice_months,
            received_on=max(today, contract.start_on),
            notice_after_min_term_months=settings.contract_notice_after_min_term_months,
        )
        if running
        else None,
        ends_on=contract.ends_on,
    )


async def get_contract(session: AsyncSession, *, actor: Actor, contract_id: int, lock: bool = False) -> Contract:
    contract = await repository.get_contract(session, contract_id, actor=actor, lock=lock)
    if contract is None:
        raise NotFound(f"Contract {contract_id} not found.")
    return contract


async def order(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    member_id: int,
    premises_id: int,
    plan_id: int,
    ordered_on: date | None = None,
) -> Contract:
    """A subscriber orders a plan at a premises; subscribers are members unless the statute allows otherwise."""
    actor.require(Role.OPERATOR, Role.BOARD)
    member = await get_member_for_link(session, member_id=member_id)
    allowed = {MemberStatus.MEMBER}
    if settings.allow_non_member_customers:
        allowed.add(MemberStatus.CUSTOMER)
    if member.status not in allowed or (member.leaving_on and member.leaving_on < local_today(settings.timezone)):
        raise Conflict(
            f"{member.display_name} is {member.status.value}; only admitted members can order.",
            code="not_a_member",
            field="member_id",
        )
    premises = await repository.get_premises(session, premises_id)
    if premises is None or premises.member_id != member.id:
        raise Invalid("The premises do not belong to that member.", field="premises_id")
    plan = await repository.get_plan(session, plan_id)
    if plan is None or not plan.is_active:
        raise Invalid("No orderable plan with that id.", field="plan_id")
    day = ordered_on or local_today(settings.timezone)
    contract = Contract(
        number="pending-" + secrets.token_hex(6),
        member_id=member.id,
        premises_id=premises.id,
        plan_id=plan.id,
        status=ContractStatus.ORDERED,
        ordered_on=day,
        min_term_months=plan.min_term_months,
        notice_months=plan.notice_months,
    )
    with action(session, "contract.order"):
        session.add(contract)
        await session.flush()
        contract.number = f"C-{contract.id:07d}"
        _record_event(session, contract, actor=actor, from_status=None, effective_on=day, reason=None)
        await session.flush()
    return await get_contract(session, actor=actor, contract_id=contract.id)


def _record_event(
    session: AsyncSession,
    contract: Contract,
    *,
    actor: Actor,
    from_status: ContractStatus | None,
    effective_on: date,
    reason: str | None,
) -> None:
    session.add(
        ContractEvent(
            contract_id=contract.id,
            from_status=from_status,
            to_status=contract.status,
            effective_on=effective_on,
            at=utcnow(),
            actor_user_id=actor.user_id,
            actor_label=actor.label,
            reason=reason,
        )
    )


async def transition(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    contract_id: int,
    to: ContractStatus,
    effective_on: date | None = None,
    reason: str | None = None,
    from_status: ContractStatus | None = None,
) -> Contract:
    """Move a contract one step along its lifecycle, recording who did it, when and why.

    ``from_status`` pins the step to one starting state, so "resume" never switches on a new order and
    "activate" never lifts a suspension.
    """
    (contract,) = await transition_many(
        session,
        actor=actor,
        settings=settings,
        contract_ids=[contract_id],
        to=to,
        effective_on=effective_on,
        reason=reason,
        from_status=from_status,
    )
    return contract


async def transition_many(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    contract_ids: Sequence[int],
    to: ContractStatus,
    effective_on: date | None = None,
    reason: str | None = None,
    from_status: ContractStatus | None = None,
) -> list[Contract]:
    """Move several contracts the same step at once (a street's lines going live, a migration): all of
    them or, when one cannot move, none, with an error naming that one.

    The same rules as ``transition``, checked for each contract; the contracts are locked in one query,
    written in one flush and announced in one event batch, so the domains that follow contracts
    (provisioning, voip) handle the lot together.
    """
    actor.require(Role.OPERATOR, Role.BOARD)
    if len(set(contract_ids)) != len(contract_ids):
        raise Invalid("Each contract can be named once.", field="contract_ids")
    found = await repository.get_contracts(session, contract_ids, actor=actor, lock=True)
    missing = [contract_id for contract_id in contract_ids if contract_id not in found]
    if missing:
        raise NotFound(f"Contract {missing[0]} not found.")
    chosen = [found[contract_id] for contract_id in contract_ids]
    for contract in chosen:
        if from_status is not None and contract.status is not from_status:
            raise Conflict(
                f"Contract {contract.number} is {contract.status.value}, not {from_status.value}.",
                code="invalid_transition",
            )
    return await _step(
        session,
        actor=actor,
        contracts=chosen,
        to=to,
        day=effective_on or local_today(settings.timezone),
        reason=reason,
    )


async def _step(
    session: AsyncSession,
    *,
    actor: Actor,
    contracts: Sequence[Contract],
    to: ContractStatus,
    day: date,
    reason: str | None,
) -> list[Contract]:
    last_steps = await repository.last_steps_on(session, [contract.id for contract in contracts])
    by_action: dict[str, list[Contract]] = {}
    for contract in contracts:
        if to not in TRANSITIONS[contract.status]:
            raise Conflict(
                f"Contract {contract.number} is {contract.status.value}; it cannot become {to.value}.",
                code="invalid_transition",
            )
        # A step cannot take effect before the one it follows (no resume dated before the suspension).
        floor = max(contract.start_on or contract.ordered_on, last_steps.get(contract.id) or date.min)
        if day < floor:
            raise Invalid(
                f"The date cannot precede {floor.isoformat()} (contract {contract.number}).", field="effective_on"
            )
        resumed = contract.status is ContractStatus.SUSPENDED and to is ContractStatus.ACTIVE
        by_action.setdefault("resume" if resumed else to.value, []).append(contract)
    for name, group in by_action.items():
        with action(session, f"contract.{name}"):
            previous_of: dict[int, ContractStatus] = {}
            for contract in group:
                previous = previous_of[contract.id] = contract.status
                contract.status = to
                if to is ContractStatus.ACTIVE and previous is ContractStatus.ORDERED:
                    contract.start_on = day
                if to is ContractStatus.TERMINATED:
                    contract.terminated_on = day
                    contract.ends_on = contract.ends_on if contract.ends_on and contract.ends_on <= day else day
                _record_event(session, contract, actor=actor, from_status=previous, effective_on=day, reason=reason)
            await session.flush()
            await _announce(session, group, actor=actor, previous_of=previous_of)
    return list(contracts)


async def _announce(
    session: AsyncSession,
    contracts: Sequence[Contract],
    *,
    actor: Actor,
    previous_of: Mapping[int, ContractStatus | None],
    plan_changed: bool = False,
) -> None:
    await publish(
        session,
        *(
            ContractChanged(
                contract_id=contract.id,
                previous=previous.value if (previous := previous_of[contract.id]) else None,
                status=contract.status.value,
                plan_changed=plan_changed,
                actor=actor,
            )
            for contract in contracts
        ),
    )


async def change_plan(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    contract_id: int,
    plan_id: int,
    reason: str | None = None,
) -> Contract:
    """Move a running contract to another plan; the line's live session follows (CoA).

    The minimum term is not restarted: a plan change is a change of the same contract, and the
    subscriber keeps the notice period of the contract they signed.
    """
    actor.require(Role.OPERATOR, Role.BOARD)
    contract = await get_contract(session, actor=actor, contract_id=contract_id, lock=True)
    if contract.status not in (ContractStatus.ORDERED, ContractStatus.ACTIVE, ContractStatus.SUSPENDED):
        raise Conflict(f"Contract {contract.number} has ended; its plan cannot change.", code="invalid_transition")
    plan = await repository.get_plan(session, plan_id)
    if plan is None or not plan.is_active:
        raise Invalid("No orderable plan with that id.", field="plan_id")
    if plan.id == contract.plan_id:
        raise Conflict(f"Contract {contract.number} is on that plan already.", code="same_plan", field="plan_id")
    with action(session, "contract.change_plan"):
        contract.plan_id = plan.id
        _record_event(
            session,
            contract,
            actor=actor,
            from_status=contract.status,
            effective_on=local_today(settings.timezone),
            reason=reason or f"plan changed to {plan.code}",
        )
        await session.flush()
        await _announce(session, [contract], actor=actor, previous_of={contract.id: contract.status}, plan_changed=True)
    session.expire(contract, ["plan"])
    return await get_contract(session, actor=actor, contract_id=contract.id)


async def cancel(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    contract_id: int,
    received_on: date | None = None,
    requested_end_on: date | None = None,
    reason: str | None = None,
) -> Contract:
    """Record the subscriber's notice: the contract will end on the earliest date its terms allow."""
    actor.require(Role.MEMBER, Role.OPERATOR, Role.BOARD)
    contract = await get_contract(session, actor=actor, contract_id=contract_id, lock=True)
    day = received_on or local_today(settings.timezone)
    if contract.status is ContractStatus.ORDERED:
        # Withdrawing an order that was never switched on ends it at once.
        (withdrawn,) = await _step(
            session,
            actor=actor,
            contracts=[contract],
            to=ContractStatus.TERMINATED,
            day=max(day, contract.ordered_on),
            reason=reason or "order withdrawn",
        )
        return withdrawn
    if contract.status is ContractStatus.TERMINATED:
        raise Conflict(f"Contract {contract.number} has ended already.", code="already_terminated")
    if contract.cancellation_received_on is not None:
        raise Conflict(f"Contract {contract.number} has been cancelled already.", code="already_cancelled")
    assert contract.start_on is not None
    end = earliest_end(
        start_on=contract.start_on,
        min_term_months=contract.min_term_months,
        notice_months=contract.notice_months,
        received_on=max(day, contract.start_on),
        notice_after_min_term_months=settings.contract_notice_after_min_term_months,
    )
    if requested_end_on is not None:
        if requested_end_on < end:
            raise Invalid(f"The earliest possible end is {end.isoformat()}.", field="requested_end_on")
        end = requested_end_on
    with action(session, "contract.cancel"):
        contract.cancellation_received_on = day
        contract.ends_on = end
        await session.flush()
    return contract


async def end_due_contracts(session: AsyncSession, *, settings: Settings) -> int:
    """Terminate contracts whose end date has passed; run daily by a background loop."""
    today = local_today(settings.timezone)
    system = Actor.system("contract-end-loop")
    contracts = await repository.contracts_due_to_end(session, today)
    previous_of: dict[int, ContractStatus] = {}
    with action(session, "contract.terminated"):
        for contract in contracts:
            previous = previous_of[contract.id] = contract.status
            contract.status = ContractStatus.TERMINATED
            contract.terminated_on = contract.ends_on
            assert contract.ends_on is not None
            _record_event(
                session,
                contract,
                actor=system,
                from_status=previous,
                effective_on=contract.ends_on,
                reason="end of contract",
            )
        await session.flush()
        await _announce(session, contracts, actor=system, previous_of=previous_of)
    return len(contracts)


# --- what billing reads --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BillablePlan:
    """A plan's fees as a bill run needs them."""

    id: int
    code: str
    name: str
    monthly_fee_cents: int
    setup_fee_cents: int
    includes_phone: bool


@dataclass(frozen=True, slots=True)
class BillableContract:
    """A contract that ran on at least one day of a billing period: its plan now, its start and its end (the
    day it was terminated, else the day it is due to end, if any)."""

    id: int
    number: str
    member_id: int
    plan_id: int
    start_on: date
    end_on: date | None
    min_term_months: int
    notice_months: int


@dataclass(frozen=True, slots=True)
class PlanChange:
    """A contract moved from one plan to another, effective from ``effective_on`` (the coop's local day);
    ``recorded_at`` is when it was made (a bill run drafted before that moment billed the old plan)."""

    contract_id: int
    effective_on: date
    from_plan_id: int
    to_plan_id: int
    recorded_at: datetime | None = None


async def billable_plans(session: AsyncSession) -> dict[int, BillablePlan]:
    """Every plan (also retired ones: contracts may still run on them), by id."""
    return {row.id: BillablePlan(**row._mapping) for row in await repository.plan_rows(session)}


async def members_in_service(session: AsyncSession, *, first: date, last: date) -> list[int]:
    """The ids, ascending, of members with a contract that ran on a day of [first, last]."""
    return await repository.member_ids_in_service(session, first=first, last=last)


async def billable_contracts(
    session: AsyncSession,
    *,
    first: date,
    last: date,
    member_from: int,
    member_to: int,
    ended_before: date | None = None,
    or_ids: Collection[int] = (),
) -> list[BillableContract]:
    """The contracts that ran on a day of [first, last] of the members with ids in [member_from, member_to],
    by member and id (plain rows: for bill runs of many members); with ``ended_before``, only those that
    ended before that day or are among ``or_ids``."""
    rows = await repository.billing_rows(
        session,
        first=first,
        last=last,
        member_from=member_from,
        member_to=member_to,
        ended_before=ended_before,
        or_ids=or_ids,
    )
    return [BillableContract(*row) for row in rows]


async def plan_changes(session: AsyncSession, *, since: date, zone: str) -> list[PlanChange]:
    """Every contract's plan changes effective on or after ``since``, oldest first (few in a month). A plan change takes
    effect on the local day it was made (``change_plan``); the audit log keeps the plan before and after."""
    start = datetime.combine(since - timedelta(days=1), datetime.min.time(), ZoneInfo(zone))
    changes = []
    for entity_id, at, before, after in await repository.plan_change_rows(session, since=start):
        day = at.astimezone(ZoneInfo(zone)).date()
        if day >= since and before and after and "plan_id" in before and "plan_id" in after:
            changes.append(PlanChange(int(entity_id), day, int(before["plan_id"]), int(after["plan_id"]), at))
    return changes
