"""All queries on members, shares and capital. Scoping to what an actor may see lives here, once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Actor
from app.members.models import (
    REGISTER_FIELDS,
    CapitalMovement,
    CapitalMovementKind,
    Member,
    MemberDetails,
    MemberStatus,
    ShareMovement,
    ShareMovementKind,
    ShareSubscription,
    ShareTransfer,
)


def visible_members(actor: Actor) -> sa.ColumnElement[bool]:
    """The one filter that keeps a member to their own record; staff see every member."""
    if actor.is_member:
        return Member.id == (actor.member_id if actor.member_id is not None else -1)
    return sa.true()


async def get(
    session: AsyncSession, member_id: int, *, actor: Actor | None = None, lock: bool = False
) -> Member | None:
    query = sa.select(Member).where(Member.id == member_id)
    if actor is not None:
        query = query.where(visible_members(actor))
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class MemberFilter:
    status: MemberStatus | None = None
    search: str | None = None
    number: int | None = None


async def search(
    session: AsyncSession, *, actor: Actor, filters: MemberFilter, limit: int, offset: int
) -> tuple[list[Member], int]:
    conditions: list[sa.ColumnElement[bool]] = [visible_members(actor)]
    if filters.status is not None:
        conditions.append(Member.status == filters.status)
    if filters.number is not None:
        conditions.append(Member.number == filters.number)
    if filters.search:
        pattern = f"%{filters.search.strip().lower()}%"
        conditions.append(
            sa.or_(
                sa.func.lower(Member.last_name).like(pattern),
                sa.func.lower(Member.first_name).like(pattern),
                sa.func.lower(sa.func.coalesce(Member.organisation, "")).like(pattern),
                sa.func.lower(Member.email).like(pattern),
                sa.func.lower(Member.city).like(pattern),
            )
        )
    where = sa.and_(*conditions)
    total = int((await session.execute(sa.select(sa.func.count()).select_from(Member).where(where))).scalar_one())
    rows = await session.execute(
        sa.select(Member)
        .where(where)
        .order_by(Member.last_name, Member.first_name, Member.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows.scalars()), total


async def next_member_number(session: AsyncSession) -> int:
    current = (await session.execute(sa.select(sa.func.max(Member.number)))).scalar_one()
    return int(current or 0) + 1


async def shares_on(session: AsyncSession, member_id: int, on: date) -> int:
    query = sa.select(sa.func.coalesce(sa.func.sum(ShareMovement.delta), 0)).where(
        ShareMovement.member_id == member_id, ShareMovement.effective_on <= on
    )
    return int((await session.execute(query)).scalar_one())


async def capital_on(session: AsyncSession, member_id: int, on: date) -> int:
    query = sa.select(sa.func.coalesce(sa.func.sum(CapitalMovement.amount_cents), 0)).where(
        CapitalMovement.member_id == member_id, CapitalMovement.effective_on <= on
    )
    return int((await session.execute(query)).scalar_one())


async def share_payments(
    session: AsyncSession, *, after_id: int, limit: int, payment_ids: list[int] | None
) -> list[CapitalMovement]:
    query = sa.select(CapitalMovement).where(CapitalMovement.kind == CapitalMovementKind.PAYMENT)
    if payment_ids is not None:
        query = query.where(CapitalMovement.id.in_(payment_ids))
    query = query.where(CapitalMovement.id > after_id).order_by(CapitalMovement.id).limit(limit)
    return list((await session.execute(query)).scalars())


async def share_transfers(
    session: AsyncSession, *, after_id: int, limit: int, transfer_ids: list[int] | None
) -> list[ShareTransfer]:
    query = sa.select(ShareTransfer).where(ShareTransfer.id > after_id)
    if transfer_ids is not None:
        query = query.where(ShareTransfer.id.in_(transfer_ids))
    return list((await session.execute(query.order_by(ShareTransfer.id).limit(limit))).scalars())


async def existing_ids(session: AsyncSession, member_ids: set[int]) -> set[int]:
    if not member_ids:
        return set()
    rows = await session.execute(sa.select(Member.id).where(Member.id.in_(member_ids)))
    return set(rows.scalars())


async def pending_share_cancellations(session: AsyncSession, member_id: int, after: date) -> int:
    """Shares already given notice on that lapse after ``after`` (as a positive number); transfers are not notice."""
    query = sa.select(sa.func.coalesce(sa.func.sum(ShareMovement.delta), 0)).where(
        ShareMovement.member_id == member_id,
        ShareMovement.effective_on > after,
        ShareMovement.kind == ShareMovementKind.CANCELLATION,
    )
    return -int((await session.execute(query)).scalar_one())


async def subscriptions(session: AsyncSession, member_id: int) -> list[ShareSubscription]:
    rows = await session.execute(
        sa.select(ShareSubscription).where(ShareSubscription.member_id == member_id).order_by(ShareSubscription.id)
    )
    return list(rows.scalars())


async def get_subscription(session: AsyncSession, subscription_id: int) -> ShareSubscription | None:
    return await session.get(ShareSubscription, subscription_id)


async def share_movements(session: AsyncSession, member_id: int) -> list[ShareMovement]:
    rows = await session.execute(
        sa.select(ShareMovement)
        .where(ShareMovement.member_id == member_id)
        .order_by(ShareMovement.effective_on, ShareMovement.id)
    )
    return list(rows.scalars())


async def capital_movements(session: AsyncSession, member_id: int) -> list[CapitalMovement]:
    rows = await session.execute(
        sa.select(CapitalMovement)
        .where(CapitalMovement.member_id == member_id)
        .order_by(CapitalMovement.effective_on, CapitalMovement.id)
    )
    return list(rows.scalars())


async def transfers_of(session: AsyncSession, member_id: int) -> list[ShareTransfer]:
    rows = await session.execute(
        sa.select(ShareTransfer)
        .where(sa.or_(ShareTransfer.from_member_id == member_id, ShareTransfer.to_member_id == member_id))
        .order_by(ShareTransfer.effective_on, ShareTransfer.id)
    )
    return list(rows.scalars())


async def pending_applications(session: AsyncSession) -> list[tuple[Member, int]]:
    rows = await session.execute(
        sa.select(Member, Member.shares_applied)
        .where(Member.status == MemberStatus.APPLICANT)
        .order_by(Member.applied_on, Member.id)
    )
    return [(row[0], int(row[1])) for row in rows]


async def pending_subscriptions(session: AsyncSession) -> list[tuple[ShareSubscription, Member]]:
    rows = await session.execute(
        sa.select(ShareSubscription, Member)
        .join(Member, Member.id == ShareSubscription.member_id)
        .where(ShareSubscription.status == "pending", Member.status == MemberStatus.MEMBER)
        .order_by(ShareSubscription.subscribed_on, ShareSubscription.id)
    )
    return [(row[0], row[1]) for row in rows]


async def register_rows(session: AsyncSession, on: date) -> list[dict[str, Any]]:
    """Everyone admitted on or before ``on``, with shares and capital as of that day (set-based, one query)."""
    shares = (
        sa.select(ShareMovement.member_id, sa.func.sum(ShareMovement.delta).label("shares"))
        .where(ShareMovement.effective_on <= on)
        .group_by(ShareMovement.member_id)
        .subquery()
    )
    capital = (
        sa.select(CapitalMovement.member_id, sa.func.sum(CapitalMovement.amount_cents).label("capital"))
        .where(CapitalMovement.effective_on <= on)
        .group_by(CapitalMovement.member_id)
        .subquery()
    )
    last_change = (
        sa.select(ShareMovement.member_id, sa.func.max(ShareMovement.effective_on).label("changed_on"))
        .where(ShareMovement.effective_on <= on)
        .group_by(ShareMovement.member_id)
        .subquery()
    )
    query = (
        sa.select(
            Member,
            sa.func.coalesce(shares.c.shares, 0),
            sa.func.coalesce(capital.c.capital, 0),
            last_change.c.changed_on,
        )
        .outerjoin(shares, shares.c.member_id == Member.id)
        .outerjoin(capital, capital.c.member_id == Member.id)
        .outerjoin(last_change, last_change.c.member_id == Member.id)
        .where(Member.admitted_on.is_not(None), Member.admitted_on <= on)
        .order_by(Member.number)
    )
    result = []
    for member, share_count, capital_cents, changed_on in await session.execute(query):
        result.append(
            {
                "member": member,
                "shares": int(share_count),
                "capital_cents": int(capital_cents),
                "changed_on": changed_on,
            }
        )
    return result


async def members_due_to_leave(session: AsyncSession, today: date) -> list[Member]:
    rows = await session.execute(
        sa.select(Member).where(Member.status == MemberStatus.MEMBER, Member.leaving_on < today).with_for_update()
    )
    return list(rows.scalars())


async def details_as_of(session: AsyncSession, member_ids: list[int], on: date) -> dict[int, MemberDetails]:
    """For each member, the name and address valid at the end of ``on`` (one query for all of them)."""
    if not member_ids:
        return {}
    rows = await session.execute(
        sa.select(MemberDetails)
        .where(MemberDetails.member_id.in_(member_ids), MemberDetails.effective_on <= on)
        .order_by(MemberDetails.member_id, MemberDetails.effective_on, MemberDetails.id)
    )
    latest: dict[int, MemberDetails] = {}
    for details in rows.scalars():
        latest[details.member_id] = details  # ordered ascending: the last one seen is the one in force
    return latest


async def members_with_capital_in(
    session: AsyncSession, start: date, end: date, member_ids: list[int] | None
) -> list[Member]:
    """Members admitted by ``end`` who had not left before ``start``, by member number."""
    query = sa.select(Member).where(
        Member.admitted_on.is_not(None),
        Member.admitted_on <= end,
        sa.or_(Member.leaving_on.is_(None), Member.leaving_on >= start),
    )
    if member_ids is not None:
        query = query.where(Member.id.in_(member_ids))
    return list((await session.execute(query.order_by(Member.number, Member.id))).scalars())


async def capital_totals_on(session: AsyncSession, member_ids: list[int], on: date) -> dict[int, int]:
    """Each member's paid-in capital at the end of ``on`` (one query)."""
    if not member_ids:
        return {}
    rows = await session.execute(
        sa.select(CapitalMovement.member_id, sa.func.sum(CapitalMovement.amount_cents))
        .where(CapitalMovement.member_id.in_(member_ids), CapitalMovement.effective_on <= on)
        .group_by(CapitalMovement.member_id)
    )
    return {int(member_id): int(total) for member_id, total in rows}


async def share_totals_on(session: AsyncSession, member_ids: list[int], on: date) -> dict[int, int]:
    """Each member's shares at the end of ``on`` (one query)."""
    if not member_ids:
        return {}
    rows = await session.execute(
        sa.select(ShareMovement.member_id, sa.func.sum(ShareMovement.delta))
        .where(ShareMovement.member_id.in_(member_ids), ShareMovement.effective_on <= on)
        .group_by(ShareMovement.member_id)
    )
    return {int(member_id): int(total) for member_id, total in rows}


async def capital_movements_between(
    session: AsyncSession, member_ids: list[int], start: date, end: date
) -> list[CapitalMovement]:
    """The capital movements of ``member_ids`` dated from ``start`` to ``end``, by member, date and id."""
    if not member_ids:
        return []
    rows = await session.execute(
        sa.select(CapitalMovement)
        .where(
            CapitalMovement.member_id.in_(member_ids),
            CapitalMovement.effective_on >= start,
            CapitalMovement.effective_on <= end,
        )
        .order_by(CapitalMovement.member_id, CapitalMovement.effective_on, CapitalMovement.id)
    )
    return list(rows.scalars())


async def buyer_rows(session: AsyncSession, *, member_from: int, member_to: int, on: date) -> dict[int, dict[str, Any]]:
    """Number, name, address and business details (flag, VAT ID) of the members with ids in [member_from,
    member_to] as they stood at the end of ``on`` (plain rows, two queries for the whole range: for bill runs of
    many members)."""
    columns = REGISTER_FIELDS
    connection = await session.connection()  # Core rows: a bill run reads every member this way
    members = await connection.execute(
        sa.select(Member.id, Member.number, *(getattr(Member, c) for c in columns)).where(
            Member.id.between(member_from, member_to)
        )
    )
    found = {row.id: dict(row._mapping) for row in members}
    details = await connection.execute(
        sa.select(MemberDetails.member_id, *(getattr(MemberDetails, c) for c in columns))
        .where(MemberDetails.member_id.between(member_from, member_to), MemberDetails.effective_on <= on)
        .order_by(MemberDetails.member_id, MemberDetails.effective_on, MemberDetails.id)
    )
    for row in details:
        if row.member_id in found:
            found[row.member_id].update({c: getattr(row, c) for c in columns})
    return found
