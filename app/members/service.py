"""Membership rules (GenG): application, admission, shares, capital, transfers, notice and leaving.

Everything that changes a member's shares or capital is a dated movement, so the register and the
paid-in capital can be read as of any past date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.errors import Conflict, Forbidden, Invalid, NotFound
from app.kit.events import ShareCapitalTransferred, SharePaymentRecorded, publish
from app.kit.time import add_months, local_today, utcnow
from app.members import repository
from app.members.business import business_details
from app.members.models import (
    REGISTER_FIELDS,
    CapitalMovement,
    CapitalMovementKind,
    LeavingReason,
    Member,
    MemberDetails,
    MemberStatus,
    ShareMovement,
    ShareMovementKind,
    ShareSubscription,
    ShareTransfer,
    SubscriptionStatus,
    display_name,
)
from app.members.schemas import (
    CapitalHistory,
    CapitalMovementOut,
    CapitalPosition,
    ContactUpdate,
    Instalment,
    MemberApplication,
    Register,
    RegisterEntry,
    ShareMovementOut,
    SharePayment,
    SharesOverview,
    ShareSubscriptionOut,
    ShareTransferOut,
)
from app.settings import Settings


async def get_member(session: AsyncSession, *, actor: Actor, member_id: int, lock: bool = False) -> Member:
    """A member the actor may see; anyone else's record is reported as not found."""
    member = await repository.get(session, member_id, actor=actor, lock=lock)
    if member is None:
        raise NotFound(f"Member {member_id} not found.")
    return member


async def get_member_for_link(session: AsyncSession, *, member_id: int) -> Member:
    """Unscoped lookup for staff workflows that attach things (logins, contracts) to a member."""
    member = await repository.get(session, member_id)
    if member is None:
        raise Invalid(f"Member {member_id} does not exist.", field="member_id")
    return member


def leaving_date(settings: Settings, received_on: date, *, notice_months: int | None = None) -> date:
    """The business-year end a notice received on ``received_on`` takes effect at (§65 GenG).

    The notice must arrive at least ``notice_months`` before that year end.
    """
    months = settings.membership_notice_months if notice_months is None else notice_months
    earliest = add_months(received_on, months)
    year_end = settings.business_year_end(earliest.year)
    if year_end < earliest:
        year_end = settings.business_year_end(earliest.year + 1)
    return year_end


def business_year_end_on_or_after(settings: Settings, day: date) -> date:
    year_end = settings.business_year_end(day.year)
    return year_end if year_end >= day else settings.business_year_end(day.year + 1)


async def apply(
    session: AsyncSession, *, actor: Actor, settings: Settings, application: MemberApplication, customer: bool = False
) -> Member:
    """Record an application for membership (or, where allowed, a non-member customer)."""
    actor.require(Role.OPERATOR, Role.BOARD)
    today = local_today(settings.timezone)
    if application.shares > settings.max_shares_per_member:
        raise Invalid(f"At most {settings.max_shares_per_member} shares per member.", field="shares")
    if customer and not settings.allow_non_member_customers:
        raise Forbidden("The statute does not allow non-member customers.", code="non_members_not_allowed")
    applied_on = application.applied_on or today
    is_business, vat_id = business_details(is_business=application.is_business, vat_id=application.vat_id)
    member = Member(
        status=MemberStatus.CUSTOMER if customer else MemberStatus.APPLICANT,
        first_name=application.first_name,
        last_name=application.last_name,
        organisation=application.organisation,
        street=application.street,
        postal_code=application.postal_code,
        city=application.city,
        country=application.country,
        email=str(application.email).lower(),
        phone=application.phone,
        birth_date=application.birth_date,
        is_business=is_business,
        vat_id=vat_id,
        applied_on=applied_on,
        shares_applied=application.shares,
    )
    with action(session, "member.apply" if not customer else "customer.create"):
        session.add(member)
        await session.flush()
        _record_details(session, member, applied_on)
        if not customer:
            session.add(
                ShareSubscription(
                    member_id=member.id,
                    shares=application.shares,
                    nominal_cents=settings.share_nominal_cents,
                    instalments=application.instalments,
                    subscribed_on=applied_on,
                    status=SubscriptionStatus.PENDING,
                )
            )
            await session.flush()
    return member


async def admit(
    session: AsyncSession, *, actor: Actor, settings: Settings, member_id: int, admitted_on: date | None = None
) -> Member:
    """The board admits an applicant: membership and their first shares start on ``admitted_on``."""
    actor.require(Role.BOARD)
    member = await get_member(session, actor=actor, member_id=member_id, lock=True)
    if member.status is not MemberStatus.APPLICANT:
        raise Conflict(f"Member {member_id} is {member.status.value}, not an applicant.", code="not_an_applicant")
    day = admitted_on or local_today(settings.timezone)
    if day < member.applied_on:
        raise Invalid("Admission cannot precede the application.", field="admitted_on")
    with action(session, "member.admit"):
        member.status = MemberStatus.MEMBER
        member.admitted_on = day
        member.number = await repository.next_member_number(session)
        for subscription in await repository.subscriptions(session, member.id):
            if subscription.status is SubscriptionStatus.PENDING:
                _make_effective(session, subscription, day)
        await session.flush()
    return member


def _make_effective(session: AsyncSession, subscription: ShareSubscription, day: date) -> None:
    subscription.status = SubscriptionStatus.EFFECTIVE
    subscription.effective_on = day
    session.add(
        ShareMovement(
            member_id=subscription.member_id,
            delta=subscription.shares,
            effective_on=day,
            kind=ShareMovementKind.SUBSCRIPTION,
            subscription_id=subscription.id,
            recorded_at=utcnow(),
        )
    )


async def reject(
    session: AsyncSession, *, actor: Actor, settings: Settings, member_id: int, rejected_on: date | None = None
) -> Member:
    actor.require(Role.BOARD)
    member = await get_member(session, actor=actor, member_id=member_id, lock=True)
    if member.status is not MemberStatus.APPLICANT:
        raise Conflict(f"Member {member_id} is {member.status.value}, not an applicant.", code="not_an_applicant")
    with action(session, "member.reject"):
        member.status = MemberStatus.REJECTED
        member.rejected_on = rejected_on or local_today(settings.timezone)
        for subscription in await repository.subscriptions(session, member.id):
            if subscription.status is SubscriptionStatus.PENDING:
                subscription.status = SubscriptionStatus.REJECTED
        await session.flush()
    return member


def _require_current_member(member: Member, on: date) -> None:
    if member.status is not MemberStatus.MEMBER or member.admitted_on is None or member.admitted_on > on:
        raise Conflict(f"{member.display_name} is not a member on {on.isoformat()}.", code="not_a_member")
    if member.leaving_on is not None and member.leaving_on < on:
        raise Conflict(f"{member.display_name} left on {member.leaving_on.isoformat()}.", code="member_left")


async def subscribe_shares(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    member_id: int,
    shares: int,
    instalments: int = 1,
    subscribed_on: date | None = None,
) -> ShareSubscription:
    """A member subscribes further shares; they count once the board approves (§15b GenG)."""
    actor.require(Role.MEMBER, Role.OPERATOR, Role.BOARD)
    member = await get_member(session, actor=actor, member_id=member_id, lock=True)
    day = subscribed_on or local_today(settings.timezone)
    _require_current_member(member, day)
    if member.notice_given_on is not None:
        raise Conflict("A member who has given notice cannot subscribe further shares.", code="notice_given")
    held = await repository.shares_on(session, member.id, date.max)
    pending = sum(
        s.shares for s in await repository.subscriptions(session, member.id) if s.status is SubscriptionStatus.PENDING
    )
    if held + pending + shares > settings.max_shares_per_member:
        raise Invalid(f"At most {settings.max_shares_per_member} shares per member.", field="shares")
    subscription = ShareSubscription(
        member_id=member.id,
        shares=shares,
        nominal_cents=settings.share_nominal_cents,
        instalments=instalments,
        subscribed_on=day,
        status=SubscriptionStatus.PENDING,
    )
    with action(session, "shares.subscribe"):
        session.add(subscription)
        await session.flush()
    return subscription


async def approve_subscription(
    session: AsyncSession, *, actor: Actor, settings: Settings, subscription_id: int, effective_on: date | None = None
) -> ShareSubscription:
    actor.require(Role.BOARD)
    subscription = await repository.get_subscription(session, subscription_id)
    if subscription is None:
        raise NotFound(f"Share subscription {subscription_id} not found.")
    member = await get_member(session, actor=actor, member_id=subscription.member_id, lock=True)
    if subscription.status is not SubscriptionStatus.PENDING:
        raise Conflict("That subscription is not pending.", code="not_pending")
    day = effective_on or local_today(settings.timezone)
    if day < subscription.subscribed_on:
        raise Invalid("Shares cannot count before they were subscribed.", field="effective_on")
    _require_current_member(member, day)
    with action(session, "shares.approve"):
        _make_effective(session, subscription, day)
        await session.flush()
    return subscription


async def record_share_payment(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    member_id: int,
    amount_cents: int,
    paid_on: date | None = None,
    reference: str | None = None,
) -> CapitalMovement:
    """Money paid in on shares raises the paid-in capital; it may not exceed what the member's shares are worth.

    That is the shares the member holds (subscribed, received by transfer, less those passed on or cancelled)
    plus subscriptions still waiting for the board.
    """
    actor.require(Role.OPERATOR, Role.BOARD)
    member = await get_member(session, actor=actor, member_id=member_id, lock=True)
    if member.status not in (MemberStatus.MEMBER, MemberStatus.APPLICANT):
        raise Conflict(f"{member.display_name} is {member.status.value}; no share payments.", code="not_a_member")
    day = paid_on or local_today(settings.timezone)
    held = await repository.shares_on(session, member.id, date.max)
    pending = sum(
        s.shares * s.nominal_cents
        for s in await repository.subscriptions(session, member.id)
        if s.status is SubscriptionStatus.PENDING
    )
    subscribed = held * settings.share_nominal_cents + pending
    paid = await repository.capital_on(session, member.id, date.max)
    if paid + amount_cents > subscribed:
        raise Invalid(
            f"Payment exceeds the subscribed capital (open: {max(subscribed - paid, 0)} cents).",
            field="amount_cents",
        )
    movement = CapitalMovement(
        member_id=member.id,
        amount_cents=amount_cents,
        effective_on=day,
        kind=CapitalMovementKind.PAYMENT,
        reference=reference,
        recorded_at=utcnow(),
    )
    with action(session, "capital.payment"):
        session.add(movement)
        await session.flush()
    # The ledger books it in this transaction (bank to member capital); members never import billing.
    await publish(
        session,
        SharePaymentRecorded(
            payment_id=movement.id,
            member_id=member.id,
            amount_cents=amount_cents,
            paid_on=day,
            reference=reference,
            actor=actor,
        ),
    )
    return movement


async def share_payments(
    session: AsyncSession, *, after_id: int = 0, limit: int = 1000, payment_ids: list[int] | None = None
) -> list[SharePayment]:
    """Payments on shares in id order, from after ``after_id`` (or exactly ``payment_ids``), for the ledger."""
    rows = await repository.share_payments(session, after_id=after_id, limit=limit, payment_ids=payment_ids)
    return [SharePayment.model_validate(row) for row in rows]


async def share_transfers(
    session: AsyncSession, *, after_id: int = 0, limit: int = 1000, transfer_ids: list[int] | None = None
) -> list[ShareTransferOut]:
    """Share transfers in id order, from after ``after_id`` (or exactly ``transfer_ids``), for the ledger."""
    rows = await repository.share_transfers(session, after_id=after_id, limit=limit, transfer_ids=transfer_ids)
    return [ShareTransferOut.model_validate(row) for row in rows]


async def existing_member_ids(session: AsyncSession, member_ids: set[int]) -> set[int]:
    """Which of ``member_ids`` are in the register (any status): for other domains that refer to members."""
    return await repository.existing_ids(session, member_ids)


async def transfer_shares(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    from_member_id: int,
    to_member_id: int,
    shares: int,
    agreed_on: date | None = None,
    effective_on: date | None = None,
) -> ShareTransfer:
    """Shares pass to another member with their share of the paid-in capital (§76 GenG).

    Transferring every share ends the transferor's membership on the effective date.
    """
    actor.require(Role.BOARD)
    if from_member_id == to_member_id:
        raise Invalid("A member cannot transfer shares to themselves.", field="to_member_id")
    today = local_today(settings.timezone)
    day = effective_on or today
    agreed = agreed_on or day
    if agreed > day:
        raise Invalid("A transfer cannot take effect before it was agreed.", field="effective_on")
    # Lock in id order so two crossing transfers cannot deadlock.
    first, second = sorted((from_member_id, to_member_id))
    locked = {m: await get_member(session, actor=actor, member_id=m, lock=True) for m in (first, second)}
    giver, receiver = locked[from_member_id], locked[to_member_id]
    _require_current_member(giver, day)
    _require_current_member(receiver, day)
    held = await repository.shares_on(session, giver.id, date.max)
    if shares > held:
        raise Invalid(f"{giver.display_name} holds only {held} shares.", field="shares")
    if await repository.shares_on(session, receiver.id, date.max) + shares > settings.max_shares_per_member:
        raise Invalid(f"At most {settings.max_shares_per_member} shares per member.", field="shares")
    capital = await repository.capital_on(session, giver.id, date.max)
    moved_capital = capital * shares // held if held else 0
    transfer = ShareTransfer(
        from_member_id=giver.id,
        to_member_id=receiver.id,
        shares=shares,
        capital_cents=moved_capital,
        agreed_on=agreed,
        effective_on=day,
    )
    now = utcnow()
    with action(session, "shares.transfer"):
        session.add(transfer)
        await session.flush()
        session.add_all(
            [
                ShareMovement(
                    member_id=giver.id,
                    delta=-shares,
                    effective_on=day,
                    kind=ShareMovementKind.TRANSFER_OUT,
                    transfer_id=transfer.id,
                    recorded_at=now,
                ),
                ShareMovement(
                    member_id=receiver.id,
                    delta=shares,
                    effective_on=day,
                    kind=ShareMovementKind.TRANSFER_IN,
                    transfer_id=transfer.id,
                    recorded_at=now,
                ),
            ]
        )
        if moved_capital:
            session.add_all(
                [
                    CapitalMovement(
                        member_id=giver.id,
                        amount_cents=-moved_capital,
                        effective_on=day,
                        kind=CapitalMovementKind.TRANSFER_OUT,
                        transfer_id=transfer.id,
                        recorded_at=now,
                    ),
                    CapitalMovement(
                        member_id=receiver.id,
                        amount_cents=moved_capital,
                        effective_on=day,
                        kind=CapitalMovementKind.TRANSFER_IN,
                        transfer_id=transfer.id,
                        recorded_at=now,
                    ),
                ]
            )
        if shares == held:
            # Whoever passes on all their capital leaves the coop with the transfer (§76 (1) GenG).
            giver.leaving_on = day - timedelta(days=1) if day > (giver.admitted_on or day) else day
            giver.leaving_reason = LeavingReason.TRANSFER
            giver.notice_given_on = giver.notice_given_on or agreed
        await session.flush()
    if moved_capital:
        await publish(
            session,
            ShareCapitalTransferred(
                transfer_id=transfer.id,
                from_member_id=giver.id,
                to_member_id=receiver.id,
                capital_cents=moved_capital,
                effective_on=day,
                actor=actor,
            ),
        )
    return transfer


async def cancel_additional_shares(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    member_id: int,
    shares: int,
    received_on: date | None = None,
) -> ShareMovement:
    """Notice on some of a member's shares (§67b GenG); they lapse at the end of the business year."""
    actor.require(Role.MEMBER, Role.OPERATOR, Role.BOARD)
    member = await get_member(session, actor=actor, member_id=member_id, lock=True)
    day = received_on or local_today(settings.timezone)
    _require_current_member(member, day)
    held = await repository.shares_on(session, member.id, date.max)
    if shares >= held:
        raise Invalid(f"One share must remain; to give up all {held}, give notice on the membership.", field="shares")
    ends = leaving_date(settings, day)
    movement = ShareMovement(
        member_id=member.id,
        delta=-shares,
        effective_on=ends + timedelta(days=1),
        kind=ShareMovementKind.CANCELLATION,
        recorded_at=utcnow(),
    )
    with action(session, "shares.cancel"):
        session.add(movement)
        await session.flush()
    return movement


async def give_notice(
    session: AsyncSession, *, actor: Actor, settings: Settings, member_id: int, received_on: date | None = None
) -> Member:
    """A member's notice to leave; it takes effect at the end of a business year (§65 GenG)."""
    actor.require(Role.MEMBER, Role.OPERATOR, Role.BOARD)
    member = await get_member(session, actor=actor, member_id=member_id, lock=True)
    day = received_on or local_today(settings.timezone)
    _require_current_member(member, day)
    if member.leaving_on is not None:
        raise Conflict(
            f"{member.display_name} already leaves on {member.leaving_on.isoformat()}.", code="already_leaving"
        )
    with action(session, "member.notice"):
        member.notice_given_on = day
        member.leaving_on = leaving_date(settings, day)
        member.leaving_reason = LeavingReason.NOTICE
        await session.flush()
    return member


async def record_leaving(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    member_id: int,
    reason: LeavingReason,
    occurred_on: date | None = None,
) -> Member:
    """Death (§77) or exclusion (§68): membership ends at the end of that business year."""
    actor.require(Role.BOARD)
    if reason not in (LeavingReason.DEATH, LeavingReason.EXCLUSION):
        raise Invalid("Only death or exclusion are recorded this way.", field="reason")
    member = await get_member(session, actor=actor, member_id=member_id, lock=True)
    day = occurred_on or local_today(settings.timezone)
    _require_current_member(member, day)
    ends = business_year_end_on_or_after(settings, day)
    if member.leaving_on is not None and member.leaving_on < ends:
        # Someone who passed on all their shares leaves with the transfer; a year end would leave them without any.
        raise Conflict(
            f"{member.display_name} already leaves on {member.leaving_on.isoformat()}.", code="already_leaving"
        )
    with action(session, f"member.{reason.value}"):
        member.leaving_on = ends
        member.leaving_reason = reason
        member.notice_given_on = member.notice_given_on or day
        await session.flush()
    return member


async def withdraw_notice(session: AsyncSession, *, actor: Actor, settings: Settings, member_id: int) -> Member:
    """The board accepts that a member takes back their notice before it took effect.

    A leaving by transfer of all shares cannot be taken back this way: the shares have moved already, and a
    member without shares cannot stay.
    """
    actor.require(Role.BOARD)
    member = await get_member(session, actor=actor, member_id=member_id, lock=True)
    today = local_today(settings.timezone)
    if (
        member.leaving_on is None
        or member.leaving_on < today
        or member.leaving_reason is LeavingReason.TRANSFER
        or member.status is not MemberStatus.MEMBER
    ):
        raise Conflict("There is no pending notice to withdraw.", code="no_pending_notice")
    with action(session, "member.notice_withdrawn"):
        member.notice_given_on = None
        member.leaving_on = None
        member.leaving_reason = None
        await session.flush()
    return member


BUSINESS_FIELDS = frozenset({"is_business", "vat_id"})
REQUIRED_FIELDS = frozenset({"email", "street", "postal_code", "city", "country", "is_business"})


def _record_details(session: AsyncSession, member: Member, effective_on: date) -> None:
    """Keep the register's history: name, address and business details as they stand from ``effective_on``."""
    session.add(
        MemberDetails(
            member_id=member.id,
            effective_on=effective_on,
            recorded_at=utcnow(),
            **{field: getattr(member, field) for field in REGISTER_FIELDS},
        )
    )


async def update_contact(
    session: AsyncSession,
    *,
    actor: Actor,
    member_id: int,
    changes: ContactUpdate,
    effective_on: date | None = None,
    zone: str = "Europe/Berlin",
) -> Member:
    """Members keep their own contact data current; operators may correct it and set whether the member is a
    business and its VAT ID (which invoices name from then on). A change of address or business details is
    dated (today unless ``effective_on`` says otherwise) so past registers and invoices keep the old one."""
    actor.require(Role.MEMBER, Role.OPERATOR, Role.BOARD)
    member = await get_member(session, actor=actor, member_id=member_id, lock=True)
    values = changes.model_dump(exclude_unset=True)
    for field, value in values.items():
        if value is None and field in REQUIRED_FIELDS:
            raise Invalid(f"{field} cannot be empty.", field=field)
    if BUSINESS_FIELDS & values.keys():
        if actor.is_member:
            raise Forbidden(
                "Whether a member is a business, and its VAT ID, are recorded by the coop's staff.",
                code="business_details_staff_only",
            )
        values["is_business"], values["vat_id"] = business_details(
            is_business=values.get("is_business", member.is_business), vat_id=values.get("vat_id", member.vat_id)
        )
    before = {field: getattr(member, field) for field in REGISTER_FIELDS}
    for field, value in values.items():
        setattr(member, field, str(value).lower() if field == "email" and value else value)
    with action(session, "member.contact_update"):
        if any(getattr(member, field) != before[field] for field in REGISTER_FIELDS):
            _record_details(session, member, effective_on or local_today(zone))
        await session.flush()
    return member


async def apply_departures(session: AsyncSession, *, settings: Settings) -> int:
    """Mark members whose leaving date has passed as having left; run daily by a background loop."""
    today = local_today(settings.timezone)
    members = await repository.members_due_to_leave(session, today)
    with action(session, "member.left"):
        for member in members:
            member.status = MemberStatus.LEFT
        await session.flush()
    return len(members)


def instalment_schedule(subscriptions: list[ShareSubscription]) -> list[Instalment]:
    """Equal monthly instalments from the day the shares count; the last one takes the rounding remainder."""
    schedule = []
    for subscription in subscriptions:
        if subscription.status is not SubscriptionStatus.EFFECTIVE or subscription.effective_on is None:
            continue
        total = subscription.shares * subscription.nominal_cents
        part = total // subscription.instalments
        for n in range(subscription.instalments):
            amount = part if n < subscription.instalments - 1 else total - part * (subscription.instalments - 1)
            schedule.append(
                Instalment(
                    subscription_id=subscription.id,
                    number=n + 1,
                    due_on=add_months(subscription.effective_on, n),
                    amount_cents=amount,
                )
            )
    return schedule


async def shares_overview(
    session: AsyncSession, *, actor: Actor, settings: Settings, member_id: int, on: date | None = None
) -> SharesOverview:
    member = await get_member(session, actor=actor, member_id=member_id)
    day = on or local_today(settings.timezone)
    shares = await repository.shares_on(session, member.id, day)
    capital = await repository.capital_on(session, member.id, day)
    subscriptions = await repository.subscriptions(session, member.id)
    schedule = instalment_schedule(subscriptions)
    subscribed = sum(
        s.shares * s.nominal_cents
        for s in subscriptions
        if s.status is SubscriptionStatus.EFFECTIVE and s.effective_on and s.effective_on <= day
    )
    return SharesOverview(
        member_id=member.id,
        on=day,
        shares=shares,
        nominal_cents=settings.share_nominal_cents,
        subscribed_cents=subscribed,
        capital_cents=capital,
        outstanding_cents=max(shares * settings.share_nominal_cents - capital, 0),
        pending_cancellation_shares=await repository.pending_share_cancellations(session, member.id, day),
        due_cents=max(sum(i.amount_cents for i in schedule if i.due_on <= day) - capital, 0),
        instalments=schedule,
        subscriptions=[ShareSubscriptionOut.model_validate(s) for s in subscriptions],
        share_movements=[
            ShareMovementOut.model_validate(m) for m in await repository.share_movements(session, member.id)
        ],
        capital_movements=[
            CapitalMovementOut.model_validate(m) for m in await repository.capital_movements(session, member.id)
        ],
    )


async def register_as_of(session: AsyncSession, *, actor: Actor, on: date) -> Register:
    """The member register (§30 GenG) as it stood at the end of ``on``: only facts dated up to that day."""
    actor.require(Role.BOARD, Role.OPERATOR)
    entries: list[RegisterEntry] = []
    members = shares_total = capital_total = 0
    rows = await repository.register_rows(session, on)
    details = await repository.details_as_of(session, [row["member"].id for row in rows], on)
    for row in rows:
        member: Member = row["member"]
        held = details.get(member.id, member)
        left = member.leaving_on is not None and member.leaving_on < on
        notice = member.notice_given_on if member.notice_given_on and member.notice_given_on <= on else None
        entries.append(
            RegisterEntry(
                number=member.number or 0,
                member_id=member.id,
                name=display_name(held.first_name, held.last_name, held.organisation),
                address=f"{held.street}, {held.postal_code} {held.city}",
                shares=row["shares"],
                capital_cents=row["capital_cents"],
                joined_on=member.admitted_on or on,
                last_change_on=row["changed_on"],
                left_on=member.leaving_on if left else None,
                leaving_reason=member.leaving_reason if left or notice else None,
                notice_given_on=notice,
            )
        )
        if not left:
            members += 1
            shares_total += row["shares"]
            capital_total += row["capital_cents"]
    return Register(on=on, members=members, shares=shares_total, capital_cents=capital_total, entries=entries)


async def capital_histories(
    session: AsyncSession, *, start: date, end: date, member_ids: list[int] | None = None
) -> list[CapitalHistory]:
    """Every member who could hold capital between ``start`` and ``end`` (admitted by ``end``, not left before
    ``start``) with their paid-in capital before ``start`` and its dated changes in the period, for billing's
    dividends. Set-based: three queries, whatever the number of members."""
    members = await repository.members_with_capital_in(session, start, end, member_ids)
    ids = [m.id for m in members]
    opening = await repository.capital_totals_on(session, ids, start - timedelta(days=1))
    movements: dict[int, list[CapitalMovementOut]] = {}
    for movement in await repository.capital_movements_between(session, ids, start, end):
        movements.setdefault(movement.member_id, []).append(CapitalMovementOut.model_validate(movement))
    return [
        CapitalHistory(
            member_id=m.id,
            number=m.number,
            name=m.display_name,
            status=m.status,
            admitted_on=m.admitted_on or start,
            leaving_on=m.leaving_on,
            leaving_reason=m.leaving_reason,
            start=start,
            end=end,
            opening_cents=opening.get(m.id, 0),
            movements=movements.get(m.id, []),
        )
        for m in members
    ]


async def capital_positions(session: AsyncSession, *, member_ids: list[int], on: date) -> dict[int, CapitalPosition]:
    """Shares and paid-in capital of each of ``member_ids`` at the end of ``on`` (two queries)."""
    shares = await repository.share_totals_on(session, member_ids, on)
    capital = await repository.capital_totals_on(session, member_ids, on)
    return {
        m: CapitalPosition(member_id=m, on=on, shares=shares.get(m, 0), capital_cents=capital.get(m, 0))
        for m in member_ids
    }


CAPITAL_CHANGES_FROM_BILLING = {CapitalMovementKind.DIVIDEND_CREDIT: 1, CapitalMovementKind.PAYOUT: -1}


async def record_capital_change(
    session: AsyncSession,
    *,
    actor: Actor,
    member_id: int,
    kind: CapitalMovementKind,
    amount_cents: int,
    effective_on: date,
    reference: str,
) -> CapitalMovement:
    """A change of paid-in capital that billing books itself: a dividend credited to the capital (raises it) or
    the capital of a leaving member becoming payable to them (§73 GenG, lowers it). ``amount_cents`` is
    positive; the sign follows the kind. Audited; no event is announced, since billing books the entry."""
    actor.require(Role.BOARD)
    sign = CAPITAL_CHANGES_FROM_BILLING.get(kind)
    if sign is None:
        raise Invalid(f"Capital changes of kind {kind.value} are not recorded this way.", field="kind")
    if amount_cents <= 0:
        raise Invalid("The amount must be positive.", field="amount_cents")
    member = await get_member(session, actor=actor, member_id=member_id, lock=True)
    movement = CapitalMovement(
        member_id=member.id,
        amount_cents=sign * amount_cents,
        effective_on=effective_on,
        kind=kind,
        reference=reference[:140],
        recorded_at=utcnow(),
    )
    with action(session, f"capital.{kind.value}"):
        session.add(movement)
        await session.flush()
    return movement


@dataclass(frozen=True, slots=True)
class Buyer:
    """A member as an invoice names them: register number, name, address, whether a business and its VAT ID,
    on a given day."""

    member_id: int
    number: int | None
    name: str
    street: str
    postal_code: str
    city: str
    country: str
    is_business: bool
    vat_id: str | None


async def buyers_as_of(session: AsyncSession, *, member_from: int, member_to: int, on: date) -> dict[int, Buyer]:
    """The members with ids in [member_from, member_to] as the register stood at the end of ``on``, by id."""
    rows = await repository.buyer_rows(session, member_from=member_from, member_to=member_to, on=on)
    return {
        member_id: Buyer(
            member_id=member_id,
            number=row["number"],
            name=display_name(row["first_name"], row["last_name"], row["organisation"]),
            street=row["street"],
            postal_code=row["postal_code"],
            city=row["city"],
            country=row["country"],
            is_business=bool(row["is_business"]),
            vat_id=row["vat_id"],
        )
        for member_id, row in rows.items()
    }
