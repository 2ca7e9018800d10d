"""Shares and paid-in capital: subscriptions (also in instalments), payments, transfers, partial cancellation,
all read as of a date."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.kit.actor import Actor, Channel, Role
from app.kit.errors import Conflict, Forbidden, Invalid
from app.members import repository
from app.members import service as members
from app.members.models import LeavingReason, Member, MemberStatus, ShareMovementKind, SubscriptionStatus
from app.members.schemas import SharesOverview
from app.settings import Settings
from tests.builders import BOARD, make_applicant, make_member, make_user, token_for

NOMINAL = 10_000  # the default statute: 100.00 EUR per share


async def holding(session: AsyncSession, member: Member, on: date) -> tuple[int, int]:
    """Shares and paid-in capital (cents) at the end of ``on``."""
    return (
        await repository.shares_on(session, member.id, on),
        await repository.capital_on(session, member.id, on),
    )


async def pay(session: AsyncSession, settings: Settings, member: Member, cents: int, on: date) -> None:
    await members.record_share_payment(
        session, actor=BOARD, settings=settings, member_id=member.id, amount_cents=cents, paid_on=on
    )


# --- subscriptions --------------------------------------------------------------------------------


async def test_further_shares_count_only_from_the_day_the_board_approves_them(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, shares=2, admitted_on=date(2025, 1, 10))
    subscription = await members.subscribe_shares(
        db_session, actor=BOARD, settings=settings, member_id=member.id, shares=3, subscribed_on=date(2025, 3, 1)
    )
    pending_status = subscription.status

    await members.approve_subscription(
        db_session, actor=BOARD, settings=settings, subscription_id=subscription.id, effective_on=date(2025, 4, 1)
    )
    before = await members.shares_overview(
        db_session, actor=BOARD, settings=settings, member_id=member.id, on=date(2025, 3, 31)
    )
    after = await members.shares_overview(
        db_session, actor=BOARD, settings=settings, member_id=member.id, on=date(2025, 4, 1)
    )

    assert pending_status is SubscriptionStatus.PENDING
    assert (subscription.status, subscription.effective_on) == (SubscriptionStatus.EFFECTIVE, date(2025, 4, 1))
    assert (before.shares, before.subscribed_cents, before.capital_cents, before.outstanding_cents) == (
        2,
        2 * NOMINAL,
        2 * NOMINAL,
        0,
    )
    assert (after.shares, after.subscribed_cents, after.capital_cents, after.outstanding_cents) == (
        5,
        5 * NOMINAL,
        2 * NOMINAL,
        3 * NOMINAL,
    )
    assert [(m.delta, m.effective_on, m.kind) for m in after.share_movements] == [
        (2, date(2025, 1, 10), ShareMovementKind.SUBSCRIPTION),
        (3, date(2025, 4, 1), ShareMovementKind.SUBSCRIPTION),
    ]


async def test_approval_dated_before_the_subscription_is_invalid(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)
    subscription = await members.subscribe_shares(
        db_session, actor=BOARD, settings=settings, member_id=member.id, shares=1, subscribed_on=date(2025, 3, 1)
    )

    with pytest.raises(Invalid) as refused:
        await members.approve_subscription(
            db_session, actor=BOARD, settings=settings, subscription_id=subscription.id, effective_on=date(2025, 2, 28)
        )

    assert refused.value.field == "effective_on"
    assert subscription.status is SubscriptionStatus.PENDING
    assert await repository.shares_on(db_session, member.id, date.max) == 1


async def test_approving_a_subscription_twice_is_conflict(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)
    subscription = await members.subscribe_shares(
        db_session, actor=BOARD, settings=settings, member_id=member.id, shares=1, subscribed_on=date(2025, 3, 1)
    )
    await members.approve_subscription(
        db_session, actor=BOARD, settings=settings, subscription_id=subscription.id, effective_on=date(2025, 3, 2)
    )

    with pytest.raises(Conflict) as refused:
        await members.approve_subscription(
            db_session, actor=BOARD, settings=settings, subscription_id=subscription.id, effective_on=date(2025, 3, 3)
        )

    assert refused.value.code == "not_pending"
    assert await repository.shares_on(db_session, member.id, date.max) == 2


async def test_statutory_share_maximum_counts_pending_subscriptions(
    db_session: AsyncSession, settings: Settings
) -> None:
    statute = settings.model_copy(update={"max_shares_per_member": 5})
    member = await make_member(db_session, statute, shares=2)
    await members.subscribe_shares(
        db_session, actor=BOARD, settings=statute, member_id=member.id, shares=2, subscribed_on=date(2025, 3, 1)
    )

    with pytest.raises(Invalid) as refused:
        await members.subscribe_shares(
            db_session, actor=BOARD, settings=statute, member_id=member.id, shares=2, subscribed_on=date(2025, 3, 2)
        )
    last = await members.subscribe_shares(
        db_session, actor=BOARD, settings=statute, member_id=member.id, shares=1, subscribed_on=date(2025, 3, 2)
    )

    assert refused.value.field == "shares"
    assert last.shares == 1


async def test_subscription_dated_before_admission_is_conflict(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings, admitted_on=date(2025, 1, 10))

    with pytest.raises(Conflict) as refused:
        await members.subscribe_shares(
            db_session, actor=BOARD, settings=settings, member_id=member.id, shares=1, subscribed_on=date(2025, 1, 9)
        )

    assert refused.value.code == "not_a_member"


async def test_member_who_gave_notice_cannot_subscribe_further_shares(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await members.give_notice(
        db_session, actor=BOARD, settings=settings, member_id=member.id, received_on=date(2025, 3, 1)
    )

    with pytest.raises(Conflict) as refused:
        await members.subscribe_shares(
            db_session, actor=BOARD, settings=settings, member_id=member.id, shares=1, subscribed_on=date(2025, 4, 1)
        )

    assert refused.value.code == "notice_given"
    assert len(await repository.subscriptions(db_session, member.id)) == 1


# --- payments and capital -------------------------------------------------------------------------


async def test_shares_paid_in_instalments_raise_capital_on_each_payment_day(
    db_session: AsyncSession, settings: Settings
) -> None:
    applicant = await make_applicant(db_session, settings, shares=4, instalments=4, applied_on=date(2025, 1, 2))
    member = await members.admit(
        db_session, actor=BOARD, settings=settings, member_id=applicant.id, admitted_on=date(2025, 1, 10)
    )
    for paid_on in (date(2025, 1, 10), date(2025, 2, 10), date(2025, 3, 10)):
        await pay(db_session, settings, member, NOMINAL, paid_on)

    overview = await members.shares_overview(
        db_session, actor=BOARD, settings=settings, member_id=member.id, on=date(2025, 3, 10)
    )

    assert await holding(db_session, member, date(2025, 1, 10)) == (4, 1 * NOMINAL)
    assert await holding(db_session, member, date(2025, 2, 9)) == (4, 1 * NOMINAL)
    assert await holding(db_session, member, date(2025, 2, 10)) == (4, 2 * NOMINAL)
    assert await holding(db_session, member, date(2025, 3, 10)) == (4, 3 * NOMINAL)
    assert (overview.shares, overview.capital_cents, overview.outstanding_cents) == (4, 3 * NOMINAL, NOMINAL)
    assert [s.instalments for s in overview.subscriptions] == [4]
    assert [(i.number, i.due_on, i.amount_cents) for i in overview.instalments] == [
        (1, date(2025, 1, 10), NOMINAL),
        (2, date(2025, 2, 10), NOMINAL),
        (3, date(2025, 3, 10), NOMINAL),
        (4, date(2025, 4, 10), NOMINAL),
    ]
    assert overview.due_cents == 0, "every instalment due so far is paid"
    assert [(c.amount_cents, c.effective_on) for c in overview.capital_movements] == [
        (NOMINAL, date(2025, 1, 10)),
        (NOMINAL, date(2025, 2, 10)),
        (NOMINAL, date(2025, 3, 10)),
    ]


async def test_missed_instalment_is_due_from_its_due_day(db_session: AsyncSession, settings: Settings) -> None:
    applicant = await make_applicant(db_session, settings, shares=2, instalments=2, applied_on=date(2025, 1, 2))
    member = await members.admit(
        db_session, actor=BOARD, settings=settings, member_id=applicant.id, admitted_on=date(2025, 1, 10)
    )
    await pay(db_session, settings, member, NOMINAL, date(2025, 1, 10))

    def overview_on(day: date) -> Awaitable[SharesOverview]:
        return members.shares_overview(db_session, actor=BOARD, settings=settings, member_id=member.id, on=day)

    assert (await overview_on(date(2025, 2, 9))).due_cents == 0
    assert (await overview_on(date(2025, 2, 10))).due_cents == NOMINAL
    assert (await overview_on(date(2025, 2, 10))).outstanding_cents == NOMINAL


async def test_payment_beyond_the_subscribed_capital_is_invalid(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings, shares=2, paid_cents=15_000)

    with pytest.raises(Invalid) as refused:
        await pay(db_session, settings, member, 5_001, date(2025, 2, 1))
    await pay(db_session, settings, member, 5_000, date(2025, 2, 1))

    assert refused.value.field == "amount_cents"
    assert await holding(db_session, member, date.max) == (2, 2 * NOMINAL)


async def test_applicant_may_pay_in_before_admission_up_to_the_subscription(
    db_session: AsyncSession, settings: Settings
) -> None:
    applicant = await make_applicant(db_session, settings, shares=2, applied_on=date(2025, 1, 2))

    await pay(db_session, settings, applicant, 2 * NOMINAL, date(2025, 1, 5))
    with pytest.raises(Invalid):
        await pay(db_session, settings, applicant, 1, date(2025, 1, 6))

    assert await holding(db_session, applicant, date(2025, 1, 5)) == (0, 2 * NOMINAL)


async def test_subscribed_but_unapproved_shares_may_already_be_paid_for(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, shares=1)
    await members.subscribe_shares(
        db_session, actor=BOARD, settings=settings, member_id=member.id, shares=2, subscribed_on=date(2025, 3, 1)
    )

    await pay(db_session, settings, member, 2 * NOMINAL, date(2025, 3, 1))

    assert await holding(db_session, member, date(2025, 3, 1)) == (1, 3 * NOMINAL)


# --- transfers ------------------------------------------------------------------------------------


async def test_partial_transfer_moves_shares_and_their_part_of_the_capital_on_the_effective_day(
    db_session: AsyncSession, settings: Settings
) -> None:
    giver = await make_member(db_session, settings, shares=4, paid_cents=2 * NOMINAL)
    receiver = await make_member(db_session, settings, shares=1)

    transfer = await members.transfer_shares(
        db_session,
        actor=BOARD,
        settings=settings,
        from_member_id=giver.id,
        to_member_id=receiver.id,
        shares=2,
        agreed_on=date(2025, 5, 20),
        effective_on=date(2025, 6, 1),
    )

    assert (transfer.shares, transfer.capital_cents) == (2, NOMINAL), "half the shares carry half the capital"
    assert (transfer.agreed_on, transfer.effective_on) == (date(2025, 5, 20), date(2025, 6, 1))
    assert await holding(db_session, giver, date(2025, 5, 31)) == (4, 2 * NOMINAL)
    assert await holding(db_session, receiver, date(2025, 5, 31)) == (1, NOMINAL)
    assert await holding(db_session, giver, date(2025, 6, 1)) == (2, NOMINAL)
    assert await holding(db_session, receiver, date(2025, 6, 1)) == (3, 2 * NOMINAL)
    assert giver.leaving_on is None
    assert giver.status is MemberStatus.MEMBER
    assert [t.id for t in await repository.transfers_of(db_session, receiver.id)] == [transfer.id]


async def test_receiver_of_partly_paid_shares_may_pay_in_the_rest(db_session: AsyncSession, settings: Settings) -> None:
    giver = await make_member(db_session, settings, shares=4, paid_cents=2 * NOMINAL)
    receiver = await make_member(db_session, settings, shares=1)
    await members.transfer_shares(
        db_session,
        actor=BOARD,
        settings=settings,
        from_member_id=giver.id,
        to_member_id=receiver.id,
        shares=2,
        effective_on=date(2025, 6, 1),
    )

    await pay(db_session, settings, receiver, NOMINAL, date(2025, 7, 1))
    with pytest.raises(Invalid):
        await pay(db_session, settings, receiver, 1, date(2025, 7, 2))

    assert await holding(db_session, receiver, date(2025, 7, 1)) == (3, 3 * NOMINAL)


async def test_giver_may_pay_in_only_what_the_shares_still_held_lack(
    db_session: AsyncSession, settings: Settings
) -> None:
    giver = await make_member(db_session, settings, shares=4, paid_cents=2 * NOMINAL)
    receiver = await make_member(db_session, settings, shares=1)
    await members.transfer_shares(
        db_session,
        actor=BOARD,
        settings=settings,
        from_member_id=giver.id,
        to_member_id=receiver.id,
        shares=2,
        effective_on=date(2025, 6, 1),
    )

    with pytest.raises(Invalid):
        await pay(db_session, settings, giver, NOMINAL + 1, date(2025, 7, 1))
    await pay(db_session, settings, giver, NOMINAL, date(2025, 7, 1))

    assert await holding(db_session, giver, date(2025, 7, 1)) == (2, 2 * NOMINAL)


async def test_transfer_of_all_shares_ends_the_givers_membership_the_day_before_it_takes_effect(
    db_session: AsyncSession, settings: Settings
) -> None:
    giver = await make_member(db_session, settings, shares=2)
    receiver = await make_member(db_session, settings, shares=1)

    transfer = await members.transfer_shares(
        db_session,
        actor=BOARD,
        settings=settings,
        from_member_id=giver.id,
        to_member_id=receiver.id,
        shares=2,
        agreed_on=date(2025, 5, 20),
        effective_on=date(2025, 6, 1),
    )

    assert transfer.capital_cents == 2 * NOMINAL
    assert giver.leaving_on == date(2025, 5, 31)
    assert giver.leaving_reason is LeavingReason.TRANSFER
    assert giver.notice_given_on == date(2025, 5, 20)
    assert await holding(db_session, giver, date(2025, 5, 31)) == (2, 2 * NOMINAL)
    assert await holding(db_session, giver, date(2025, 6, 1)) == (0, 0)
    assert await holding(db_session, receiver, date(2025, 6, 1)) == (3, 3 * NOMINAL)
    with pytest.raises(Conflict) as later:
        await members.subscribe_shares(
            db_session, actor=BOARD, settings=settings, member_id=giver.id, shares=1, subscribed_on=date(2025, 6, 2)
        )
    assert later.value.code == "member_left"


@pytest.mark.parametrize(
    ("case", "shares", "error"),
    [
        ("to_self", 1, Invalid),
        ("more_than_held", 3, Invalid),
        ("to_applicant", 1, Conflict),
        ("effective_before_agreed", 1, Invalid),
        ("over_receivers_maximum", 2, Invalid),
    ],
)
async def test_refused_transfer_moves_nothing(
    db_session: AsyncSession, settings: Settings, case: str, shares: int, error: type[Exception]
) -> None:
    statute = settings.model_copy(update={"max_shares_per_member": 2})
    giver = await make_member(db_session, statute, shares=2)
    receiver = await make_member(db_session, statute, shares=1)
    applicant = await make_applicant(db_session, statute)
    to = {"to_self": giver, "to_applicant": applicant}.get(case, receiver)
    agreed = date(2025, 6, 2) if case == "effective_before_agreed" else date(2025, 5, 20)

    with pytest.raises(error):
        await members.transfer_shares(
            db_session,
            actor=BOARD,
            settings=statute,
            from_member_id=giver.id,
            to_member_id=to.id,
            shares=shares,
            agreed_on=agreed,
            effective_on=date(2025, 6, 1),
        )

    assert await repository.transfers_of(db_session, giver.id) == []
    assert await holding(db_session, giver, date.max) == (2, 2 * NOMINAL)
    assert giver.leaving_on is None


async def test_only_the_board_transfers_shares(db_session: AsyncSession, settings: Settings) -> None:
    giver = await make_member(db_session, settings, shares=2)
    receiver = await make_member(db_session, settings)
    operator = Actor(user_id=None, label="test-operator", role=Role.OPERATOR, channel=Channel.SYSTEM)
    bind_actor(db_session, operator)

    with pytest.raises(Forbidden):
        await members.transfer_shares(
            db_session, actor=operator, settings=settings, from_member_id=giver.id, to_member_id=receiver.id, shares=1
        )

    assert await repository.shares_on(db_session, giver.id, date.max) == 2


# --- partial cancellation -------------------------------------------------------------------------


async def test_cancelled_additional_shares_lapse_the_day_after_the_business_year_end(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, shares=5)

    movement = await members.cancel_additional_shares(
        db_session, actor=BOARD, settings=settings, member_id=member.id, shares=2, received_on=date(2025, 9, 30)
    )
    during = await members.shares_overview(
        db_session, actor=BOARD, settings=settings, member_id=member.id, on=date(2025, 10, 1)
    )
    lapsed = await members.shares_overview(
        db_session, actor=BOARD, settings=settings, member_id=member.id, on=date(2026, 1, 1)
    )

    assert (movement.delta, movement.effective_on, movement.kind) == (
        -2,
        date(2026, 1, 1),
        ShareMovementKind.CANCELLATION,
    )
    assert await holding(db_session, member, date(2025, 12, 31)) == (5, 5 * NOMINAL)
    assert (during.shares, during.pending_cancellation_shares) == (5, 2)
    assert (lapsed.shares, lapsed.pending_cancellation_shares) == (3, 0)
    assert lapsed.capital_cents == 5 * NOMINAL, "the capital on lapsed shares stays until it is paid out"
    assert member.leaving_on is None


async def test_share_cancellation_received_after_30_september_lapses_a_year_later(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, shares=3)

    movement = await members.cancel_additional_shares(
        db_session, actor=BOARD, settings=settings, member_id=member.id, shares=1, received_on=date(2025, 10, 1)
    )

    assert movement.effective_on == date(2027, 1, 1)


async def test_share_cancellation_follows_the_statutes_business_year(
    db_session: AsyncSession, settings: Settings
) -> None:
    statute = settings.model_copy(update={"business_year_end_month": 6})
    member = await make_member(db_session, statute, shares=3)

    movement = await members.cancel_additional_shares(
        db_session, actor=BOARD, settings=statute, member_id=member.id, shares=1, received_on=date(2025, 3, 31)
    )

    assert movement.effective_on == date(2025, 7, 1)


async def test_cancelling_every_share_is_invalid_one_must_remain(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings, shares=5)
    await members.cancel_additional_shares(
        db_session, actor=BOARD, settings=settings, member_id=member.id, shares=2, received_on=date(2025, 3, 1)
    )

    with pytest.raises(Invalid) as refused:
        await members.cancel_additional_shares(
            db_session, actor=BOARD, settings=settings, member_id=member.id, shares=3, received_on=date(2025, 3, 2)
        )

    assert refused.value.field == "shares"
    assert await repository.shares_on(db_session, member.id, date.max) == 3


async def test_transfer_scheduled_for_later_is_not_a_pending_cancellation(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, shares=5)
    receiver = await make_member(db_session, settings)
    await members.cancel_additional_shares(
        db_session, actor=BOARD, settings=settings, member_id=member.id, shares=2, received_on=date(2025, 3, 1)
    )
    await members.transfer_shares(
        db_session,
        actor=BOARD,
        settings=settings,
        from_member_id=member.id,
        to_member_id=receiver.id,
        shares=1,
        agreed_on=date(2025, 3, 1),
        effective_on=date(2025, 12, 1),
    )

    overview = await members.shares_overview(
        db_session, actor=BOARD, settings=settings, member_id=member.id, on=date(2025, 10, 1)
    )

    assert overview.shares == 5
    assert overview.pending_cancellation_shares == 2


async def test_member_cancels_own_additional_shares_and_reads_shares_as_of_a_date_via_api(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, shares=3)
    member_id = member.id
    headers = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=member))

    cancelled = await client.post(
        f"/api/v1/members/{member_id}/share-cancellations",
        headers=headers,
        json={"shares": 1, "received_on": "2025-06-15"},
    )
    before = await client.get(f"/api/v1/members/{member_id}/shares", headers=headers, params={"on": "2025-12-31"})
    after = await client.get(f"/api/v1/members/{member_id}/shares", headers=headers, params={"on": "2026-01-01"})

    assert cancelled.status_code == 201, cancelled.text
    assert (cancelled.json()["delta"], cancelled.json()["effective_on"]) == (-1, "2026-01-01")
    assert (before.json()["shares"], before.json()["pending_cancellation_shares"]) == (3, 1)
    assert (after.json()["shares"], after.json()["capital_cents"]) == (2, 3 * NOMINAL)
