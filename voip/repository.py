"""All queries on numbers, phone lines and registrations, scoped to what the actor may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.service import service_summary_subquery
from app.kit.actor import Actor
from voip.lines import PhoneLine, PhoneLineState, PhoneRegistration
from voip.numbers import NumberBlock, NumberStatus, PhoneNumber


async def overlapping_block(session: AsyncSession, *, first: str, last: str) -> NumberBlock | None:
    """A block sharing a number with ``first``..``last`` (blocks of one length compare as text)."""
    query = sa.select(NumberBlock).where(
        sa.func.length(NumberBlock.first_number) == len(first),
        NumberBlock.first_number <= last,
        NumberBlock.last_number >= first,
    )
    return (await session.scalars(query.limit(1))).first()


async def take_free_number(session: AsyncSession, *, now: datetime, block_id: int | None = None) -> PhoneNumber | None:
    """Lock and return a number for a new line: in the first active block that has one, its lowest free
    number, else its lowest number whose quarantine is over (so a released number rests as long as the
    block has fresh ones).

    Each lookup is one range of ``ix_phone_numbers_block_status`` (block, status, number), so taking a
    number costs the same whether ten or ninety thousand of the block are assigned; one query over "free
    or out of quarantine" had to sort every candidate each time. ``SKIP LOCKED``: parallel allocations
    each take a different row instead of queueing on one.
    """
    blocks = sa.select(NumberBlock.id).where(NumberBlock.is_active.is_(True)).order_by(NumberBlock.id)
    if block_id is not None:
        blocks = blocks.where(NumberBlock.id == block_id)
    reusable = (
        PhoneNumber.status == NumberStatus.FREE,
        sa.and_(PhoneNumber.status == NumberStatus.QUARANTINED, PhoneNumber.quarantine_until <= now),
    )
    for candidate_block in (await session.scalars(blocks)).all():
        for condition in reusable:
            query = (
                sa.select(PhoneNumber)
                .where(PhoneNumber.block_id == candidate_block, condition)
                .order_by(PhoneNumber.e164)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            found = (await session.scalars(query)).first()
            if found is not None:
                return found
    return None


async def number_by_e164(session: AsyncSession, e164: str, *, lock: bool = False) -> PhoneNumber | None:
    query = sa.select(PhoneNumber).where(PhoneNumber.e164 == e164)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def number_of_line(session: AsyncSession, phone_line_id: int) -> PhoneNumber | None:
    query = sa.select(PhoneNumber).where(PhoneNumber.phone_line_id == phone_line_id).with_for_update()
    return (await session.scalars(query)).one_or_none()


async def block(session: AsyncSession, block_id: int) -> NumberBlock | None:
    return await session.get(NumberBlock, block_id)


async def line_by_contract(session: AsyncSession, contract_id: int, *, lock: bool = False) -> PhoneLine | None:
    query = sa.select(PhoneLine).where(PhoneLine.contract_id == contract_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def line_by_extension(session: AsyncSession, extension: str) -> PhoneLine | None:
    return (await session.scalars(sa.select(PhoneLine).where(PhoneLine.extension == extension))).one_or_none()


async def registration(session: AsyncSession, phone_line_id: int) -> PhoneRegistration | None:
    return await session.get(PhoneRegistration, phone_line_id)


async def registered_extensions(session: AsyncSession) -> set[str]:
    """The extensions whose phone is recorded as registered now."""
    query = (
        sa.select(PhoneLine.extension)
        .join(PhoneRegistration, PhoneRegistration.phone_line_id == PhoneLine.id)
        .where(PhoneRegistration.registered.is_(True))
    )
    return set(await session.scalars(query))


@dataclass(frozen=True)
class PhoneLineView:
    """A phone line with its contract, number and registration, read in one query."""

    line: PhoneLine
    contract_number: str
    member_id: int
    number: str | None
    number_ported_in: bool
    registration: PhoneRegistration | None


async def line_views(
    session: AsyncSession,
    *,
    actor: Actor | None = None,
    line_ids: list[int] | None = None,
    contract_id: int | None = None,
) -> list[PhoneLineView]:
    """Phone lines the actor may see (a member: their own), optionally only some."""
    summary = service_summary_subquery()
    query = (
        sa.select(
            PhoneLine,
            summary.c.contract_number,
            summary.c.member_id,
            PhoneNumber.e164,
            PhoneNumber.is_ported_in,
            PhoneRegistration,
        )
        .join(summary, summary.c.contract_id == PhoneLine.contract_id)
        .outerjoin(PhoneNumber, PhoneNumber.phone_line_id == PhoneLine.id)
        .outerjoin(PhoneRegistration, PhoneRegistration.phone_line_id == PhoneLine.id)
        .order_by(PhoneLine.id)
    )
    if actor is not None and actor.is_member:
        query = query.where(summary.c.member_id == (actor.member_id if actor.member_id is not None else -1))
    if line_ids is not None:
        query = query.where(PhoneLine.id.in_(line_ids))
    if contract_id is not None:
        query = query.where(PhoneLine.contract_id == contract_id)
    return [
        PhoneLineView(line, number, member_id, e164, bool(ported), reg)
        for line, number, member_id, e164, ported, reg in (await session.execute(query)).all()
    ]


async def on_net(session: AsyncSession) -> tuple[set[str], set[str]]:
    """Our assigned numbers (E.164 digits) and the extensions of our lines that are not terminated."""
    numbers = await session.scalars(sa.select(PhoneNumber.e164).where(PhoneNumber.status == NumberStatus.ASSIGNED))
    extensions = await session.scalars(
        sa.select(PhoneLine.extension).where(PhoneLine.state != PhoneLineState.TERMINATED)
    )
    return {n.lstrip("+") for n in numbers}, set(extensions)
