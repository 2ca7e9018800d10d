"""Leaving the coop: notice to a business-year end (§65 GenG), death (§77), exclusion (§68), and the daily job
that marks departures."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.kit.actor import Actor, Channel, Role
from app.kit.errors import Conflict, Forbidden, Invalid
from app.kit.time import local_today
from app.members import service as members
from app.members.models import LeavingReason, Member, MemberStatus
from app.members.service import leaving_date
from app.settings import Settings
from tests.builders import BOARD, make_applicant, make_member, make_user, token_for

# --- leaving_date: the statute's notice period and business year ----------------------------------


def test_notice_received_on_30_september_takes_effect_at_that_years_end(settings: Settings) -> None:
    assert leaving_date(settings, date(2025, 9, 30)) == date(2025, 12, 31)


def test_notice_received_after_30_september_takes_effect_a_year_later(settings: Settings) -> None:
    assert leaving_date(settings, date(2025, 10, 1)) == date(2026, 12, 31)


def test_notice_received_early_in_the_year_takes_effect_at_that_years_end(settings: Settings) -> None:
    assert leaving_date(settings, date(2025, 1, 1)) == date(2025, 12, 31)


def test_notice_received_on_the_business_year_end_takes_effect_a_year_later(settings: Settings) -> None:
    assert leaving_date(settings, date(2025, 12, 31)) == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("received_on", "leaves_on"),
    [
        (date(2025, 3, 31), date(2025, 6, 30)),
        (date(2025, 4, 1), date(2026, 6, 30)),
        (date(2025, 7, 1), date(2026, 6, 30)),
        (date(2025, 6, 30), date(2026, 6, 30)),
    ],
)
def test_notice_period_runs_to_the_statutes_business_year_end_in_june(
    settings: Settings, received_on: date, leaves_on: date
) -> None:
    statute = settings.model_copy(update={"business_year_end_month": 6})

    assert leaving_date(statute, received_on) == leaves_on


@pytest.mark.parametrize(
    ("received_on", "leaves_on"),
    [
        (date(2025, 11, 30), date(2026, 2, 28)),
        (date(2025, 12, 1), date(2027, 2, 28)),
        (date(2027, 11, 30), date(2028, 2, 29)),
    ],
)
def test_business_year_ending_in_february_ends_on_its_last_day(
    settings: Settings, received_on: date, leaves_on: date
) -> None:
    statute = settings.model_copy(update={"business_year_end_month": 2})

    assert leaving_date(statute, received_on) == leaves_on


@pytest.mark.parametrize(
    ("notice_months", "received_on", "leaves_on"),
    [
        (24, date(2025, 12, 31), date(2027, 12, 31)),
        (24, date(2026, 1, 1), date(2028, 12, 31)),
        (6, date(2025, 6, 30), date(2025, 12, 31)),
        (6, date(2025, 7, 1), date(2026, 12, 31)),
        (60, date(2025, 9, 30), date(2030, 12, 31)),
    ],
)
def test_longer_notice_period_from_the_statute_pushes_the_leaving_date(
    settings: Settings, notice_months: int, received_on: date, leaves_on: date
) -> None:
    statute = settings.model_copy(update={"membership_notice_months": notice_months})

    assert leaving_date(statute, received_on) == leaves_on


def test_explicit_notice_months_override_the_statute(settings: Settings) -> None:
    assert leaving_date(settings, date(2025, 9, 30), notice_months=6) == date(2026, 12, 31)


# --- notice ---------------------------------------------------------------------------------------


async def test_notice_records_when_it_arrived_and_the_year_end_the_member_leaves(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)

    await members.give_notice(
        db_session, actor=BOARD, settings=settings, member_id=member.id, received_on=date(2025, 9, 30)
    )

    assert member.notice_given_on == date(2025, 9, 30)
    assert member.leaving_on == date(2025, 12, 31)
    assert member.leaving_reason is LeavingReason.NOTICE
    assert member.status is MemberStatus.MEMBER, "a member stays a member until the leaving date"


async def test_notice_uses_the_notice_period_of_the_statute(db_session: AsyncSession, settings: Settings) -> None:
    statute = settings.model_copy(update={"membership_notice_months": 24})
    member = await make_member(db_session, statute)

    await members.give_notice(
        db_session, actor=BOARD, settings=statute, member_id=member.id, received_on=date(2025, 3, 1)
    )

    assert member.leaving_on == date(2027, 12, 31)


async def test_member_gives_own_notice_through_the_api(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_id = member.id
    headers = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=member))

    response = await client.post(
        f"/api/v1/members/{member_id}/notice", headers=headers, json={"received_on": "2025-10-01"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["notice_given_on"], body["leaving_on"], body["leaving_reason"]) == (
        "2025-10-01",
        "2026-12-31",
        "notice",
    )


async def test_second_notice_is_conflict_and_keeps_the_first(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)
    await members.give_notice(
        db_session, actor=BOARD, settings=settings, member_id=member.id, received_on=date(2025, 3, 1)
    )

    with pytest.raises(Conflict) as refused:
        await members.give_notice(
            db_session, actor=BOARD, settings=settings, member_id=member.id, received_on=date(2025, 11, 1)
        )

    assert refused.value.code == "already_leaving"
    assert (member.notice_given_on, member.leaving_on) == (date(2025, 3, 1), date(2025, 12, 31))


async def test_applicant_cannot_give_notice(db_session: AsyncSession, settings: Settings) -> None:
    applicant = await make_applicant(db_session, settings)

    with pytest.raises(Conflict) as refused:
        await members.give_notice(db_session, actor=BOARD, settings=settings, member_id=applicant.id)

    assert refused.value.code == "not_a_member"
    assert applicant.leaving_on is None


# --- death and exclusion --------------------------------------------------------------------------


@pytest.mark.parametrize("reason", [LeavingReason.DEATH, LeavingReason.EXCLUSION])
async def test_death_or_exclusion_ends_membership_at_the_end_of_that_business_year(
    db_session: AsyncSession, settings: Settings, reason: LeavingReason
) -> None:
    member = await make_member(db_session, settings)

    await members.record_leaving(
        db_session, actor=BOARD, settings=settings, member_id=member.id, reason=reason, occurred_on=date(2025, 11, 20)
    )

    assert member.leaving_on == date(2025, 12, 31)
    assert member.leaving_reason is reason
    assert member.notice_given_on == date(2025, 11, 20)


@pytest.mark.parametrize(
    ("occurred_on", "leaves_on"),
    [(date(2025, 6, 30), date(2025, 6, 30)), (date(2025, 7, 1), date(2026, 6, 30))],
)
async def test_death_ends_membership_at_the_statutes_business_year_end(
    db_session: AsyncSession, settings: Settings, occurred_on: date, leaves_on: date
) -> None:
    statute = settings.model_copy(update={"business_year_end_month": 6})
    member = await make_member(db_session, statute)

    await members.record_leaving(
        db_session,
        actor=BOARD,
        settings=statute,
        member_id=member.id,
        reason=LeavingReason.DEATH,
        occurred_on=occurred_on,
    )

    assert member.leaving_on == leaves_on


async def test_death_brings_forward_the_leaving_of_a_member_under_long_notice(
    db_session: AsyncSession, settings: Settings
) -> None:
    statute = settings.model_copy(update={"membership_notice_months": 24})
    member = await make_member(db_session, statute)
    await members.give_notice(
        db_session, actor=BOARD, settings=statute, member_id=member.id, received_on=date(2025, 3, 1)
    )

    await members.record_leaving(
        db_session,
        actor=BOARD,
        settings=statute,
        member_id=member.id,
        reason=LeavingReason.DEATH,
        occurred_on=date(2025, 8, 1),
    )

    assert member.leaving_on == date(2025, 12, 31)
    assert member.leaving_reason is LeavingReason.DEATH
    assert member.notice_given_on == date(2025, 3, 1), "the notice that arrived first stays on record"


async def test_exclusion_cannot_postpone_a_leaving_by_transfer(db_session: AsyncSession, settings: Settings) -> None:
    giver = await make_member(db_session, settings, shares=2)
    receiver = await make_member(db_session, settings)
    await members.transfer_shares(
        db_session,
        actor=BOARD,
        settings=settings,
        from_member_id=giver.id,
        to_member_id=receiver.id,
        shares=2,
        agreed_on=date(2025, 6, 1),
        effective_on=date(2025, 7, 1),
    )

    with pytest.raises(Conflict) as refused:
        await members.record_leaving(
            db_session,
            actor=BOARD,
            settings=settings,
            member_id=giver.id,
            reason=LeavingReason.EXCLUSION,
            occurred_on=date(2025, 6, 15),
        )

    assert refused.value.code == "already_leaving"
    assert (giver.leaving_on, giver.leaving_reason) == (date(2025, 6, 30), LeavingReason.TRANSFER)


@pytest.mark.parametrize("reason", [LeavingReason.NOTICE, LeavingReason.TRANSFER])
async def test_notice_and_transfer_are_not_recorded_as_a_leaving(
    db_session: AsyncSession, settings: Settings, reason: LeavingReason
) -> None:
    member = await make_member(db_session, settings)

    with pytest.raises(Invalid) as refused:
        await members.record_leaving(db_session, actor=BOARD, settings=settings, member_id=member.id, reason=reason)

    assert refused.value.field == "reason"
    assert member.leaving_on is None


async def test_only_the_board_records_death_or_exclusion(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_id = member.id
    operator = Actor(user_id=None, label="test-operator", role=Role.OPERATOR, channel=Channel.SYSTEM)
    bind_actor(db_session, operator)
    with pytest.raises(Forbidden):
        await members.record_leaving(
            db_session, actor=operator, settings=settings, member_id=member_id, reason=LeavingReason.EXCLUSION
        )
    headers = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=member))

    response = await client.post(f"/api/v1/members/{member_id}/leaving", headers=headers, json={"reason": "death"})

    assert response.status_code == 403
    assert (await members.get_member(db_session, actor=BOARD, member_id=member_id)).leaving_on is None


# --- withdrawing a notice -------------------------------------------------------------------------


async def test_board_may_withdraw_a_pending_notice(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)
    await members.give_notice(
        db_session, actor=BOARD, settings=settings, member_id=member.id, received_on=local_today(settings.timezone)
    )

    await members.withdraw_notice(db_session, actor=BOARD, settings=settings, member_id=member.id)

    assert (member.notice_given_on, member.leaving_on, member.leaving_reason) == (None, None, None)


async def test_notice_whose_leaving_date_has_passed_cannot_be_withdrawn(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await members.give_notice(
        db_session, actor=BOARD, settings=settings, member_id=member.id, received_on=date(2025, 3, 1)
    )

    with pytest.raises(Conflict) as refused:
        await members.withdraw_notice(db_session, actor=BOARD, settings=settings, member_id=member.id)

    assert refused.value.code == "no_pending_notice"
    assert member.leaving_on == date(2025, 12, 31)


async def test_leaving_by_transfer_of_all_shares_cannot_be_withdrawn_as_a_notice(
    db_session: AsyncSession, settings: Settings
) -> None:
    today = local_today(settings.timezone)
    giver = await make_member(db_session, settings, shares=2)
    receiver = await make_member(db_session, settings)
    await members.transfer_shares(
        db_session,
        actor=BOARD,
        settings=settings,
        from_member_id=giver.id,
        to_member_id=receiver.id,
        shares=2,
        agreed_on=today,
        effective_on=today + timedelta(days=10),
    )

    with pytest.raises(Conflict) as refused:
        await members.withdraw_notice(db_session, actor=BOARD, settings=settings, member_id=giver.id)

    assert refused.value.code == "no_pending_notice"
    assert (giver.leaving_on, giver.leaving_reason) == (today + timedelta(days=9), LeavingReason.TRANSFER)


async def test_withdrawing_without_a_notice_is_conflict(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)

    with pytest.raises(Conflict) as refused:
        await members.withdraw_notice(db_session, actor=BOARD, settings=settings, member_id=member.id)

    assert refused.value.code == "no_pending_notice"


# --- apply_departures -----------------------------------------------------------------------------


async def transfer_all(session: AsyncSession, settings: Settings, giver: Member, *, effective_on: date) -> None:
    receiver = await make_member(session, settings)
    await members.transfer_shares(
        session,
        actor=BOARD,
        settings=settings,
        from_member_id=giver.id,
        to_member_id=receiver.id,
        shares=1,
        agreed_on=effective_on - timedelta(days=30),
        effective_on=effective_on,
    )


async def test_apply_departures_marks_members_whose_leaving_date_has_passed(
    db_session: AsyncSession, settings: Settings
) -> None:
    today = local_today(settings.timezone)
    gave_notice = await make_member(db_session, settings, first_name="Gustav")
    await members.give_notice(
        db_session, actor=BOARD, settings=settings, member_id=gave_notice.id, received_on=date(2025, 3, 1)
    )
    left_yesterday = await make_member(db_session, settings, first_name="Yvonne")
    await transfer_all(db_session, settings, left_yesterday, effective_on=today)
    leaves_today = await make_member(db_session, settings, first_name="Toni")
    await transfer_all(db_session, settings, leaves_today, effective_on=today + timedelta(days=1))
    staying = await make_member(db_session, settings, first_name="Stefan")
    applicant = await make_applicant(db_session, settings)
    bind_actor(db_session, Actor.system("departures-loop"))

    departed = await members.apply_departures(db_session, settings=settings)

    assert departed == 2
    assert gave_notice.status is MemberStatus.LEFT
    assert left_yesterday.status is MemberStatus.LEFT
    assert left_yesterday.leaving_on == today - timedelta(days=1)
    assert leaves_today.status is MemberStatus.MEMBER, "a member leaves at the end of the leaving day"
    assert staying.status is MemberStatus.MEMBER
    assert applicant.status is MemberStatus.APPLICANT
    assert await members.apply_departures(db_session, settings=settings) == 0, "a second run finds nobody"


async def test_member_who_has_left_can_no_longer_act_as_a_member(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings, shares=3)
    await members.give_notice(
        db_session, actor=BOARD, settings=settings, member_id=member.id, received_on=date(2025, 3, 1)
    )
    await members.apply_departures(db_session, settings=settings)

    with pytest.raises(Conflict) as notice:
        await members.give_notice(db_session, actor=BOARD, settings=settings, member_id=member.id)
    with pytest.raises(Conflict) as payment:
        await members.record_share_payment(
            db_session, actor=BOARD, settings=settings, member_id=member.id, amount_cents=1
        )
    with pytest.raises(Conflict) as cancellation:
        await members.cancel_additional_shares(
            db_session, actor=BOARD, settings=settings, member_id=member.id, shares=1, received_on=date(2026, 1, 2)
        )

    assert member.status is MemberStatus.LEFT
    assert notice.value.code == payment.value.code == cancellation.value.code == "not_a_member"
