"""All queries on numbers, phone lines and registrations, scoped to what the actor may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.service import service_summary_subquery
from app.kit.actor import Actor
from voip.lines import CallTeardown, PhoneLine, PhoneLineState, PhoneRegistration
from voip.numbers import NumberBlock, NumberStatus, PhoneNumber


async def overlapping_block(session: AsyncSession, *, first: str, last: str) -> NumberBlock | None:
    """A block sharing a number with ``first``..``last`` (blocks of one length compare as text)."""
    query = sa.select(NumberBlock).where(
        sa.func.length(NumberBlock.first_number) == len(first),
        NumberBlock.first_number <= last,
        NumberBlock.last_number >= first,
    )
    return (await session.scalars(query.limit(1))).first()


async def take_free_numbers(
    session: AsyncSession, *, now: datetime, count: int, block_id: int | None = None
) -> list[PhoneNumber]:
    """Lock and return up to ``count`` numbers for new lines: from the active blocks in order, each
    block's lowest free numbers first, then its lowest numbers whose quarantine is over (so a released
    number rests as long as the block has fresh ones). Fewer than ``count`` when the blocks run out.

    Each lookup is one range of ``ix_phone_numbers_block_status`` (block, status, number), so taking
    numbers costs the same whether ten or ninety thousand of the block are assigned; one query over
    "free or out of quarantine" had to sort every candidate each time. ``SKIP LOCKED``: parallel
    allocations each take different rows instead of queueing on the same ones.
    """
    taken: list[PhoneNumber] = []
    if count <= 0:
        return taken
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
                .limit(count - len(taken))
                .with_for_update(skip_locked=True)
            )
            taken.extend((await session.scalars(query)).all())
            if len(taken) == count:
                return taken
    return taken


async def number_by_e164(session: AsyncSession, e164: str, *, lock: bool = False) -> PhoneNumber | None:
    query = sa.select(PhoneNumber).where(PhoneNumber.e164 == e164)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def numbers_of_lines(session: AsyncSession, phone_line_ids: Sequence[int]) -> dict[int, PhoneNumber]:
    """The numbers these lines hold, locked, by line id."""
    query = (
        sa.select(PhoneNumber)
        .where(PhoneNumber.phone_line_id.in_(phone_line_ids))
        .order_by(PhoneNumber.id)
        .with_for_update()
    )
    return {number.phone_line_id: number for number in (await session.scalars(query)).all() if number.phone_line_id}


async def blocks(session: AsyncSession, block_ids: Sequence[int]) -> dict[int, NumberBlock]:
    query = sa.select(NumberBlock).where(NumberBlock.id.in_(block_ids))
    return {block.id: block for block in (await session.scalars(query)).all()}


async def line_by_contract(session: AsyncSession, contract_id: int, *, lock: bool = False) -> PhoneLine | None:
    query = sa.select(PhoneLine).where(PhoneLine.contract_id == contract_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def next_line_ids(session: AsyncSession, count: int) -> list[int] | None:
    """``count`` new phone line ids drawn from PostgreSQL's sequence (None on SQLite, which has none)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    query = sa.text("SELECT nextval(pg_get_serial_sequence('phone_lines', 'id')) FROM generate_series(1, :n)")
    return [int(n) for n in (await session.scalars(query, {"n": count})).all()]


async def lines_by_contracts(
    session: AsyncSession, contract_ids: Sequence[int], *, lock: bool = False
) -> dict[int, PhoneLine]:
    """The phone lines of these contracts, by contract id (locked in id order when asked)."""
    query = sa.select(PhoneLine).where(PhoneLine.contract_id.in_(contract_ids)).order_by(PhoneLine.id)
    if lock:
        query = query.with_for_update()
    return {line.contract_id: line for line in (await session.scalars(query)).all()}


async def line_by_extension(session: AsyncSession, extension: str) -> PhoneLine | None:
    return (await session.scalars(sa.select(PhoneLine).where(PhoneLine.extension == extension))).one_or_none()


async def registration(session: AsyncSession, phone_line_id: int) -> PhoneRegistration | None:
    return await session.get(PhoneRegistration, phone_line_id)


async def pending_teardowns(session: AsyncSession, *, limit: int) -> list[CallTeardown]:
    """The oldest requests to end calls not carried out yet, locked; a second watcher skips them."""
    query = (
        sa.select(CallTeardown)
        .where(CallTeardown.done_at.is_(None))
        .order_by(CallTeardown.requested_at, CallTeardown.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(await session.scalars(query))


async def delete_done_teardowns(session: AsyncSession, *, done_before: datetime) -> int:
    """Delete the requests to end calls that were carried out or given up before ``done_before``; how many.
    Pending ones (``done_at`` NULL) are never deleted."""
    result = await session.execute(sa.delete(CallTeardown).where(CallTeardown.done_at < done_before))
    return int(getattr(result, "rowcount", 0) or 0)


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
