"""Applying for membership and the board's decision: admission starts membership and the first shares."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.kit.actor import Actor, Channel, Role
from app.kit.errors import Conflict, Forbidden, Invalid
from app.members import repository
from app.members import service as members
from app.members.models import MemberStatus, SubscriptionStatus
from app.members.schemas import CustomerCreate
from app.settings import Settings
from tests.builders import BOARD, make_applicant, make_member, make_user, token_for

OPERATOR = Actor(user_id=None, label="test-operator", role=Role.OPERATOR, channel=Channel.SYSTEM)


async def test_application_records_an_applicant_with_a_pending_subscription(
    db_session: AsyncSession, settings: Settings
) -> None:
    applicant = await make_applicant(db_session, settings, shares=3, instalments=6, applied_on=date(2025, 4, 2))

    subscriptions = await repository.subscriptions(db_session, applicant.id)

    assert applicant.status is MemberStatus.APPLICANT
    assert applicant.number is None
    assert applicant.admitted_on is None
    assert (applicant.applied_on, applicant.shares_applied) == (date(2025, 4, 2), 3)
    assert [(s.shares, s.instalments, s.status, s.subscribed_on, s.effective_on) for s in subscriptions] == [
        (3, 6, SubscriptionStatus.PENDING, date(2025, 4, 2), None)
    ]
    assert subscriptions[0].nominal_cents == settings.share_nominal_cents
    assert await repository.shares_on(db_session, applicant.id, date.max) == 0


async def test_subscription_takes_the_share_value_from_the_statute(
    db_session: AsyncSession, settings: Settings
) -> None:
    statute = settings.model_copy(update={"share_nominal_cents": 25_000})

    applicant = await make_applicant(db_session, statute, shares=2)

    assert [s.nominal_cents for s in await repository.subscriptions(db_session, applicant.id)] == [25_000]


async def test_application_for_more_shares_than_the_statute_allows_is_invalid(
    db_session: AsyncSession, settings: Settings
) -> None:
    statute = settings.model_copy(update={"max_shares_per_member": 5})

    with pytest.raises(Invalid) as refused:
        await make_applicant(db_session, statute, shares=6)

    assert refused.value.field == "shares"


async def test_admission_makes_a_member_with_the_next_number_and_shares_from_that_day(
    db_session: AsyncSession, settings: Settings
) -> None:
    first = await make_member(db_session, settings, admitted_on=date(2025, 1, 10))
    applicant = await make_applicant(db_session, settings, shares=2, applied_on=date(2025, 3, 1))

    admitted = await members.admit(
        db_session, actor=BOARD, settings=settings, member_id=applicant.id, admitted_on=date(2025, 3, 12)
    )

    assert admitted.status is MemberStatus.MEMBER
    assert admitted.admitted_on == date(2025, 3, 12)
    assert first.number is not None
    assert admitted.number == first.number + 1
    assert await repository.shares_on(db_session, admitted.id, date(2025, 3, 11)) == 0
    assert await repository.shares_on(db_session, admitted.id, date(2025, 3, 12)) == 2
    [subscription] = await repository.subscriptions(db_session, admitted.id)
    assert (subscription.status, subscription.effective_on) == (SubscriptionStatus.EFFECTIVE, date(2025, 3, 12))


async def test_admission_on_the_application_day_is_allowed_but_not_before(
    db_session: AsyncSession, settings: Settings
) -> None:
    early = await make_applicant(db_session, settings, applied_on=date(2025, 3, 1))
    same_day = await make_applicant(db_session, settings, applied_on=date(2025, 3, 1))

    with pytest.raises(Invalid) as refused:
        await members.admit(
            db_session, actor=BOARD, settings=settings, member_id=early.id, admitted_on=date(2025, 2, 28)
        )
    admitted = await members.admit(
        db_session, actor=BOARD, settings=settings, member_id=same_day.id, admitted_on=date(2025, 3, 1)
    )

    assert refused.value.field == "admitted_on"
    assert early.status is MemberStatus.APPLICANT
    assert admitted.admitted_on == date(2025, 3, 1)


async def test_admitting_a_member_twice_is_conflict_and_keeps_the_number(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    number = member.number

    with pytest.raises(Conflict) as refused:
        await members.admit(
            db_session, actor=BOARD, settings=settings, member_id=member.id, admitted_on=date(2025, 2, 1)
        )

    assert refused.value.code == "not_an_applicant"
    assert (member.number, member.admitted_on) == (number, date(2025, 1, 10))
    assert await repository.shares_on(db_session, member.id, date.max) == 1


async def test_rejection_closes_the_application_and_its_subscription(
    db_session: AsyncSession, settings: Settings
) -> None:
    applicant = await make_applicant(db_session, settings, shares=2, applied_on=date(2025, 3, 1))

    rejected = await members.reject(
        db_session, actor=BOARD, settings=settings, member_id=applicant.id, rejected_on=date(2025, 3, 20)
    )

    assert rejected.status is MemberStatus.REJECTED
    assert rejected.rejected_on == date(2025, 3, 20)
    assert rejected.number is None
    assert [s.status for s in await repository.subscriptions(db_session, applicant.id)] == [SubscriptionStatus.REJECTED]
    with pytest.raises(Conflict):
        await members.admit(db_session, actor=BOARD, settings=settings, member_id=applicant.id)
    assert await repository.shares_on(db_session, applicant.id, date.max) == 0


async def test_rejected_applicant_cannot_pay_in_capital(db_session: AsyncSession, settings: Settings) -> None:
    applicant = await make_applicant(db_session, settings)
    await members.reject(
        db_session, actor=BOARD, settings=settings, member_id=applicant.id, rejected_on=date(2025, 3, 1)
    )

    with pytest.raises(Conflict) as refused:
        await members.record_share_payment(
            db_session, actor=BOARD, settings=settings, member_id=applicant.id, amount_cents=10_000
        )

    assert refused.value.code == "not_a_member"


async def test_only_the_board_admits_and_rejects(db_session: AsyncSession, settings: Settings) -> None:
    applicant = await make_applicant(db_session, settings)
    bind_actor(db_session, OPERATOR)

    with pytest.raises(Forbidden):
        await members.admit(db_session, actor=OPERATOR, settings=settings, member_id=applicant.id)
    with pytest.raises(Forbidden):
        await members.reject(db_session, actor=OPERATOR, settings=settings, member_id=applicant.id)

    assert applicant.status is MemberStatus.APPLICANT


async def test_non_member_customer_is_refused_unless_the_statute_allows_them(
    db_session: AsyncSession, settings: Settings
) -> None:
    data = CustomerCreate(
        first_name="Kim", last_name="Kunde", street="Kundenweg 1", postal_code="10115", city="Berlin", email="K@x.org"
    )
    bind_actor(db_session, BOARD)

    with pytest.raises(Forbidden) as refused:
        await members.apply(db_session, actor=BOARD, settings=settings, application=data, customer=True)
    customer = await members.apply(
        db_session,
        actor=BOARD,
        settings=settings.model_copy(update={"allow_non_member_customers": True}),
        application=data,
        customer=True,
    )

    assert refused.value.code == "non_members_not_allowed"
    assert customer.status is MemberStatus.CUSTOMER
    assert customer.email == "k@x.org"
    assert await repository.subscriptions(db_session, customer.id) == [], "a customer subscribes no shares"


async def test_board_admits_an_applicant_through_the_api_and_operator_gets_403(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    applicant = await make_applicant(db_session, settings, applied_on=date(2025, 3, 1))
    applicant_id = applicant.id
    operator = await token_for(client, await make_user(db_session, role=Role.OPERATOR))
    board = await token_for(client, await make_user(db_session, role=Role.BOARD))

    refused = await client.post(f"/api/v1/members/{applicant_id}/admit", headers=operator, json={})
    queued = await client.get("/api/v1/admissions", headers=board)
    admitted = await client.post(
        f"/api/v1/members/{applicant_id}/admit", headers=board, json={"admitted_on": "2025-03-05"}
    )

    assert refused.status_code == 403
    assert [a["id"] for a in queued.json()["applications"]] == [applicant_id]
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["status"] == "member"
    assert admitted.json()["admitted_on"] == "2025-03-05"
    assert admitted.json()["number"] >= 1
    assert (await client.get("/api/v1/admissions", headers=board)).json()["applications"] == []
