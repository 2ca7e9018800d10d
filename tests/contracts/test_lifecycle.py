"""The contract lifecycle: ordered -> active -> suspended -> active -> terminated, each step on record."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.contracts import repository
from app.contracts import service as contracts
from app.contracts.models import Contract, ContractEvent, ContractStatus
from app.contracts.schemas import PlanUpdate
from app.kit.actor import Role
from app.kit.errors import Conflict, Invalid
from app.kit.time import local_today, utcnow
from app.members import service as members
from app.members.models import LeavingReason
from app.members.schemas import CustomerCreate
from app.settings import Settings
from tests.builders import (
    BOARD,
    make_applicant,
    make_contract,
    make_member,
    make_plan,
    make_premises,
    make_user,
    token_for,
)


async def staff_headers(client: httpx.AsyncClient, session: AsyncSession, role: Role = Role.OPERATOR) -> dict[str, str]:
    return await token_for(client, await make_user(session, role=role))


def steps(events: list[dict[str, Any]]) -> list[tuple[str | None, str, str, str | None]]:
    return [(e["from_status"], e["to_status"], e["effective_on"], e["reason"]) for e in events]


async def test_contract_goes_through_its_lifecycle_with_each_step_recorded_by_whom_when_and_why(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    plan = await make_plan(db_session, min_term_months=24)
    premises = await make_premises(db_session, member=member)
    operator = await make_user(db_session, role=Role.OPERATOR)
    operator_id, operator_email = operator.id, operator.email
    headers = await token_for(client, operator)
    before = utcnow()

    ordered = await client.post(
        "/api/v1/contracts",
        headers=headers,
        json={"member_id": member.id, "premises_id": premises.id, "plan_id": plan.id, "ordered_on": "2025-02-01"},
    )
    assert ordered.status_code == 201, ordered.text
    contract_id = ordered.json()["id"]
    base = f"/api/v1/contracts/{contract_id}"
    active = await client.post(
        f"{base}/activate", headers=headers, json={"effective_on": "2025-02-15", "reason": "line switched on"}
    )
    suspended = await client.post(
        f"{base}/suspend", headers=headers, json={"effective_on": "2025-06-01", "reason": "payment overdue"}
    )
    resumed = await client.post(
        f"{base}/resume", headers=headers, json={"effective_on": "2025-06-10", "reason": "paid"}
    )
    terminated = await client.post(
        f"{base}/terminate", headers=headers, json={"effective_on": "2025-07-31", "reason": "moved abroad"}
    )
    events = await client.get(f"{base}/events", headers=headers)
    after = utcnow()

    assert ordered.json()["status"] == "ordered"
    assert ordered.json()["number"] == f"C-{contract_id:07d}"
    assert ordered.json()["start_on"] is None
    assert (active.status_code, active.json()["status"], active.json()["start_on"]) == (200, "active", "2025-02-15")
    assert active.json()["terms"]["min_term_end_on"] == "2027-02-14"
    assert (suspended.status_code, suspended.json()["status"]) == (200, "suspended")
    assert (resumed.status_code, resumed.json()["status"]) == (200, "active")
    assert resumed.json()["start_on"] == "2025-02-15", "resuming must not restart the minimum term"
    assert terminated.status_code == 200
    assert terminated.json()["status"] == "terminated"
    assert terminated.json()["terminated_on"] == "2025-07-31"
    assert terminated.json()["ends_on"] == "2025-07-31"
    assert events.status_code == 200
    assert steps(events.json()) == [
        (None, "ordered", "2025-02-01", None),
        ("ordered", "active", "2025-02-15", "line switched on"),
        ("active", "suspended", "2025-06-01", "payment overdue"),
        ("suspended", "active", "2025-06-10", "paid"),
        ("active", "terminated", "2025-07-31", "moved abroad"),
    ]
    assert {e["actor_label"] for e in events.json()} == {operator_email}
    for event in events.json():
        assert before <= datetime.fromisoformat(event["at"]) <= after
    stored = (
        await db_session.execute(sa.select(ContractEvent.actor_user_id).where(ContractEvent.contract_id == contract_id))
    ).scalars()
    assert list(stored) == [operator_id] * 5


async def test_bulk_activation_switches_on_every_named_contract_with_its_own_recorded_step(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    plan = await make_plan(db_session)
    ordered = [await make_contract(db_session, settings, member=member, plan=plan, active_from=None) for _ in range(3)]
    headers = await token_for(client, await make_user(db_session, role=Role.OPERATOR))

    response = await client.post(
        "/api/v1/contracts/activations",
        headers=headers,
        json={"contract_ids": [c.id for c in ordered], "effective_on": "2025-03-01", "reason": "street live"},
    )

    assert response.status_code == 200, response.text
    assert [(c["id"], c["status"], c["start_on"]) for c in response.json()] == [
        (c.id, "active", "2025-03-01") for c in ordered
    ]
    for contract in ordered:
        events = await client.get(f"/api/v1/contracts/{contract.id}/events", headers=headers)
        assert steps(events.json())[-1] == ("ordered", "active", "2025-03-01", "street live")


async def test_bulk_activation_with_one_contract_that_cannot_move_changes_none_and_names_it(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    plan = await make_plan(db_session)
    ordered = await make_contract(db_session, settings, member=member, plan=plan, active_from=None)
    running = await make_contract(db_session, settings, member=member, plan=plan)
    ordered_id, running_id, number = ordered.id, running.id, running.number
    headers = await token_for(client, await make_user(db_session, role=Role.OPERATOR))

    refused = await client.post(
        "/api/v1/contracts/activations", headers=headers, json={"contract_ids": [ordered_id, running_id]}
    )
    twice = await client.post(
        "/api/v1/contracts/activations", headers=headers, json={"contract_ids": [ordered_id, ordered_id]}
    )
    unknown = await client.post(
        "/api/v1/contracts/activations", headers=headers, json={"contract_ids": [ordered_id, 987654321]}
    )

    assert refused.status_code == 409 and number in refused.json()["detail"]
    assert twice.status_code == 422
    assert unknown.status_code == 404
    after = await client.get(f"/api/v1/contracts/{ordered_id}", headers=headers)
    assert after.json()["status"] == "ordered"


FORBIDDEN_STEPS = [
    (ContractStatus.ORDERED, "suspend"),
    (ContractStatus.ACTIVE, "activate"),
    (ContractStatus.ACTIVE, "resume"),
    (ContractStatus.SUSPENDED, "suspend"),
    (ContractStatus.TERMINATED, "activate"),
    (ContractStatus.TERMINATED, "suspend"),
    (ContractStatus.TERMINATED, "resume"),
    (ContractStatus.TERMINATED, "terminate"),
]


async def contract_in(session: AsyncSession, settings: Settings, status: ContractStatus) -> Contract:
    member = await make_member(session, settings)
    active_from = None if status is ContractStatus.ORDERED else date(2025, 2, 15)
    contract = await make_contract(session, settings, member=member, active_from=active_from)
    if status in (ContractStatus.SUSPENDED, ContractStatus.TERMINATED):
        contract = await contracts.transition(
            session, actor=BOARD, settings=settings, contract_id=contract.id, to=status, effective_on=date(2025, 3, 1)
        )
    assert contract.status is status
    return contract


@pytest.mark.parametrize(("status", "route"), FORBIDDEN_STEPS)
async def test_forbidden_lifecycle_step_is_conflict_409_and_changes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, status: ContractStatus, route: str
) -> None:
    contract = await contract_in(db_session, settings, status)
    contract_id = contract.id
    events_before = len(await repository.events(db_session, contract_id))
    headers = await staff_headers(client, db_session)

    response = await client.post(
        f"/api/v1/contracts/{contract_id}/{route}", headers=headers, json={"effective_on": "2025-04-01"}
    )

    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_transition"
    reloaded = await contracts.get_contract(db_session, actor=BOARD, contract_id=contract_id)
    assert reloaded.status is status
    assert len(await repository.events(db_session, contract_id)) == events_before


async def test_member_may_not_switch_their_own_contract(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    contract = await make_contract(db_session, settings, member=member)
    contract_id = contract.id
    headers = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=member))

    response = await client.post(f"/api/v1/contracts/{contract_id}/suspend", headers=headers, json={})

    assert response.status_code == 403
    reloaded = await contracts.get_contract(db_session, actor=BOARD, contract_id=contract_id)
    assert reloaded.status is ContractStatus.ACTIVE


async def test_step_dated_before_the_contract_started_is_invalid(db_session: AsyncSession, settings: Settings) -> None:
    contract = await contract_in(db_session, settings, ContractStatus.ACTIVE)

    with pytest.raises(Invalid) as refused:
        await contracts.transition(
            db_session,
            actor=BOARD,
            settings=settings,
            contract_id=contract.id,
            to=ContractStatus.SUSPENDED,
            effective_on=date(2025, 2, 14),
        )

    assert refused.value.field == "effective_on"
    assert contract.status is ContractStatus.ACTIVE


async def test_activation_dated_before_the_order_is_invalid(db_session: AsyncSession, settings: Settings) -> None:
    contract = await contract_in(db_session, settings, ContractStatus.ORDERED)

    with pytest.raises(Invalid):
        await contracts.transition(
            db_session,
            actor=BOARD,
            settings=settings,
            contract_id=contract.id,
            to=ContractStatus.ACTIVE,
            effective_on=date(2025, 1, 31),
        )

    assert contract.start_on is None


async def test_resume_dated_before_the_suspension_is_invalid(db_session: AsyncSession, settings: Settings) -> None:
    contract = await contract_in(db_session, settings, ContractStatus.ACTIVE)
    await contracts.transition(
        db_session,
        actor=BOARD,
        settings=settings,
        contract_id=contract.id,
        to=ContractStatus.SUSPENDED,
        effective_on=date(2025, 6, 1),
    )

    with pytest.raises(Invalid) as refused:
        await contracts.transition(
            db_session,
            actor=BOARD,
            settings=settings,
            contract_id=contract.id,
            to=ContractStatus.ACTIVE,
            effective_on=date(2025, 5, 20),
        )

    assert refused.value.field == "effective_on"
    assert contract.status is ContractStatus.SUSPENDED


async def test_withdrawn_order_is_terminated_at_once_without_ever_starting(
    db_session: AsyncSession, settings: Settings
) -> None:
    contract = await contract_in(db_session, settings, ContractStatus.ORDERED)

    withdrawn = await contracts.cancel(
        db_session, actor=BOARD, settings=settings, contract_id=contract.id, received_on=date(2025, 2, 5)
    )

    assert withdrawn.status is ContractStatus.TERMINATED
    assert withdrawn.start_on is None
    assert withdrawn.terminated_on == date(2025, 2, 5)
    assert withdrawn.ends_on == date(2025, 2, 5)
    last = (await repository.events(db_session, contract.id))[-1]
    assert (last.from_status, last.to_status, last.effective_on, last.reason) == (
        ContractStatus.ORDERED,
        ContractStatus.TERMINATED,
        date(2025, 2, 5),
        "order withdrawn",
    )
    assert last.actor_label == BOARD.label


async def test_order_withdrawn_with_a_date_before_the_order_ends_on_the_order_date(
    db_session: AsyncSession, settings: Settings
) -> None:
    contract = await contract_in(db_session, settings, ContractStatus.ORDERED)

    withdrawn = await contracts.cancel(
        db_session, actor=BOARD, settings=settings, contract_id=contract.id, received_on=date(2025, 1, 20)
    )

    assert withdrawn.terminated_on == date(2025, 2, 1)


async def test_member_cancelling_in_time_gets_end_of_minimum_term_as_ends_on(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    contract = await make_contract(db_session, settings, member=member, active_from=date(2025, 3, 15))
    contract_id = contract.id
    headers = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=member))

    response = await client.post(
        f"/api/v1/contracts/{contract_id}/cancel", headers=headers, json={"received_on": "2027-02-14"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ends_on"] == "2027-03-14"
    assert body["cancellation_received_on"] == "2027-02-14"
    assert body["status"] == "active", "the contract runs until its end date"
    assert body["terms"]["ends_on"] == "2027-03-14"


async def test_cancellation_a_day_too_late_for_the_minimum_term_ends_a_month_after_receipt(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    contract = await make_contract(db_session, settings, member=member, active_from=date(2025, 3, 15))

    cancelled = await contracts.cancel(
        db_session, actor=BOARD, settings=settings, contract_id=contract.id, received_on=date(2027, 2, 15)
    )

    assert cancelled.ends_on == date(2027, 3, 15)


async def test_cancellation_may_ask_for_a_later_end_but_not_an_earlier_one(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    early = await make_contract(db_session, settings, member=member, active_from=date(2025, 3, 15))
    late = await make_contract(db_session, settings, member=member, active_from=date(2025, 3, 15))

    with pytest.raises(Invalid) as refused:
        await contracts.cancel(
            db_session,
            actor=BOARD,
            settings=settings,
            contract_id=early.id,
            received_on=date(2025, 5, 1),
            requested_end_on=date(2027, 3, 13),
        )
    honoured = await contracts.cancel(
        db_session,
        actor=BOARD,
        settings=settings,
        contract_id=late.id,
        received_on=date(2025, 5, 1),
        requested_end_on=date(2027, 6, 30),
    )

    assert refused.value.field == "requested_end_on"
    assert early.ends_on is None
    assert early.cancellation_received_on is None
    assert honoured.ends_on == date(2027, 6, 30)


async def test_cancelling_twice_is_conflict(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    contract = await make_contract(db_session, settings, member=member, active_from=date(2025, 3, 15))
    contract_id = contract.id
    headers = await staff_headers(client, db_session)
    first = await client.post(
        f"/api/v1/contracts/{contract_id}/cancel", headers=headers, json={"received_on": "2025-05-01"}
    )

    second = await client.post(
        f"/api/v1/contracts/{contract_id}/cancel", headers=headers, json={"received_on": "2025-05-02"}
    )

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["code"] == "already_cancelled"
    reloaded = await contracts.get_contract(db_session, actor=BOARD, contract_id=contract_id)
    assert reloaded.cancellation_received_on == date(2025, 5, 1)


async def test_cancelling_a_terminated_contract_is_conflict(db_session: AsyncSession, settings: Settings) -> None:
    contract = await contract_in(db_session, settings, ContractStatus.TERMINATED)

    with pytest.raises(Conflict) as refused:
        await contracts.cancel(db_session, actor=BOARD, settings=settings, contract_id=contract.id)

    assert refused.value.code == "already_terminated"


async def test_terminating_before_the_cancelled_end_moves_ends_on_forward(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    contract = await make_contract(db_session, settings, member=member, active_from=date(2025, 3, 15))
    await contracts.cancel(
        db_session, actor=BOARD, settings=settings, contract_id=contract.id, received_on=date(2025, 5, 1)
    )

    ended = await contracts.transition(
        db_session,
        actor=BOARD,
        settings=settings,
        contract_id=contract.id,
        to=ContractStatus.TERMINATED,
        effective_on=date(2025, 9, 30),
    )

    assert ended.ends_on == date(2025, 9, 30)
    assert ended.terminated_on == date(2025, 9, 30)


async def cancelled_to_end_on(session: AsyncSession, settings: Settings, *, ends_on: date) -> Contract:
    """A running contract without minimum term, cancelled long ago to end on ``ends_on``."""
    member = await make_member(session, settings)
    plan = await make_plan(session, min_term_months=0)
    contract = await make_contract(session, settings, member=member, plan=plan, active_from=date(2025, 2, 15))
    return await contracts.cancel(
        session,
        actor=BOARD,
        settings=settings,
        contract_id=contract.id,
        received_on=date(2025, 3, 1),
        requested_end_on=ends_on,
    )


async def test_end_due_contracts_terminates_contracts_whose_end_date_has_passed(
    db_session: AsyncSession, settings: Settings
) -> None:
    today = local_today(settings.timezone)
    yesterday = today - timedelta(days=1)
    past_due = await cancelled_to_end_on(db_session, settings, ends_on=yesterday)
    suspended_past_due = await cancelled_to_end_on(db_session, settings, ends_on=today - timedelta(days=40))
    await contracts.transition(
        db_session,
        actor=BOARD,
        settings=settings,
        contract_id=suspended_past_due.id,
        to=ContractStatus.SUSPENDED,
        effective_on=date(2025, 6, 1),
    )
    ends_today = await cancelled_to_end_on(db_session, settings, ends_on=today)
    uncancelled = await contract_in(db_session, settings, ContractStatus.ACTIVE)

    ended = await contracts.end_due_contracts(db_session, settings=settings)

    assert ended == 2
    assert (past_due.status, past_due.terminated_on) == (ContractStatus.TERMINATED, yesterday)
    assert suspended_past_due.status is ContractStatus.TERMINATED
    assert suspended_past_due.terminated_on == today - timedelta(days=40)
    assert ends_today.status is ContractStatus.ACTIVE, "a contract ending today runs until the end of the day"
    assert uncancelled.status is ContractStatus.ACTIVE
    last = (await repository.events(db_session, past_due.id))[-1]
    assert (last.from_status, last.to_status, last.effective_on) == (
        ContractStatus.ACTIVE,
        ContractStatus.TERMINATED,
        yesterday,
    )
    assert (last.actor_label, last.actor_user_id, last.reason) == ("contract-end-loop", None, "end of contract")
    suspended_last = (await repository.events(db_session, suspended_past_due.id))[-1]
    assert suspended_last.from_status is ContractStatus.SUSPENDED
    assert await contracts.end_due_contracts(db_session, settings=settings) == 0, "a second run finds nothing"


# --- ordering -------------------------------------------------------------------------------------


async def test_ordering_for_an_applicant_is_conflict(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    applicant = await make_applicant(db_session, settings)
    plan = await make_plan(db_session)
    premises = await make_premises(db_session, member=applicant)
    body = {"member_id": applicant.id, "premises_id": premises.id, "plan_id": plan.id}
    headers = await staff_headers(client, db_session)

    response = await client.post("/api/v1/contracts", headers=headers, json=body)

    assert response.status_code == 409
    assert response.json()["code"] == "not_a_member"
    count = (await db_session.execute(sa.select(sa.func.count()).select_from(Contract))).scalar_one()
    assert count == 0


async def test_ordering_for_someone_elses_premises_is_refused(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    anna = await make_member(db_session, settings, first_name="Anna")
    ben = await make_member(db_session, settings, first_name="Ben")
    plan = await make_plan(db_session)
    bens_premises = await make_premises(db_session, member=ben)
    body = {"member_id": anna.id, "premises_id": bens_premises.id, "plan_id": plan.id}
    headers = await staff_headers(client, db_session)

    response = await client.post("/api/v1/contracts", headers=headers, json=body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "premises_id"


async def test_ordering_for_a_member_who_has_left_is_conflict(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings, admitted_on=date(2024, 1, 10), applied_on=date(2024, 1, 2))
    await members.give_notice(
        db_session, actor=BOARD, settings=settings, member_id=member.id, received_on=date(2024, 5, 1)
    )
    premises = await make_premises(db_session, member=member)
    plan = await make_plan(db_session)

    with pytest.raises(Conflict) as refused:
        await contracts.order(
            db_session, actor=BOARD, settings=settings, member_id=member.id, premises_id=premises.id, plan_id=plan.id
        )

    assert member.leaving_reason is LeavingReason.NOTICE
    assert refused.value.code == "not_a_member"


async def test_ordering_an_inactive_plan_is_invalid(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)
    premises = await make_premises(db_session, member=member)
    plan = await make_plan(db_session)
    await contracts.update_plan(db_session, actor=BOARD, plan_id=plan.id, data=PlanUpdate(is_active=False))

    with pytest.raises(Invalid) as refused:
        await contracts.order(
            db_session, actor=BOARD, settings=settings, member_id=member.id, premises_id=premises.id, plan_id=plan.id
        )

    assert refused.value.field == "plan_id"


async def test_non_member_customer_may_order_only_where_the_statute_allows(
    db_session: AsyncSession, settings: Settings
) -> None:
    open_statute = settings.model_copy(update={"allow_non_member_customers": True})
    bind_actor(db_session, BOARD)
    customer = await members.apply(
        db_session,
        actor=BOARD,
        settings=open_statute,
        customer=True,
        application=CustomerCreate(
            first_name="Kim",
            last_name="Kunde",
            street="Kundenweg 1",
            postal_code="10115",
            city="Berlin",
            email="kim@example.org",
        ),
    )
    premises = await make_premises(db_session, member=customer)
    plan = await make_plan(db_session)

    with pytest.raises(Conflict):
        await contracts.order(
            db_session, actor=BOARD, settings=settings, member_id=customer.id, premises_id=premises.id, plan_id=plan.id
        )
    allowed = await contracts.order(
        db_session, actor=BOARD, settings=open_statute, member_id=customer.id, premises_id=premises.id, plan_id=plan.id
    )

    assert allowed.status is ContractStatus.ORDERED
    assert allowed.member_id == customer.id


async def test_order_copies_the_plans_terms_so_later_plan_changes_do_not_touch_it(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    plan = await make_plan(db_session, min_term_months=12, notice_months=1)

    contract = await make_contract(db_session, settings, member=member, plan=plan, active_from=None)

    assert (contract.min_term_months, contract.notice_months) == (12, 1)
    assert contract.ordered_on == date(2025, 2, 1)
    assert contract.status is ContractStatus.ORDERED
    first = (await repository.events(db_session, contract.id))[0]
    assert (first.from_status, first.to_status, first.effective_on) == (None, ContractStatus.ORDERED, date(2025, 2, 1))


async def test_resume_route_does_not_switch_on_an_order_and_activate_does_not_lift_a_suspension(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    ordered = await make_contract(db_session, settings, member=member, active_from=None)
    running = await make_contract(db_session, settings, member=member)
    ordered_id, running_id = ordered.id, running.id
    headers = await token_for(client, await make_user(db_session, role=Role.OPERATOR))
    await client.post(f"/api/v1/contracts/{running_id}/suspend", headers=headers, json={})

    resume_order = await client.post(f"/api/v1/contracts/{ordered_id}/resume", headers=headers, json={})
    activate_suspended = await client.post(f"/api/v1/contracts/{running_id}/activate", headers=headers, json={})

    assert resume_order.status_code == 409
    assert activate_suspended.status_code == 409
    assert (await client.get(f"/api/v1/contracts/{ordered_id}", headers=headers)).json()["status"] == "ordered"
    assert (await client.get(f"/api/v1/contracts/{running_id}", headers=headers)).json()["status"] == "suspended"
