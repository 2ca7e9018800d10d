"""Every query of dunning."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing.dunning.models import DunningNotice, DunningStatus


async def open_notices(
    session: AsyncSession, member_ids: Sequence[int] | None = None
) -> dict[int, list[DunningNotice]]:
    """Open notices by member, oldest first, locked (a second run waits for this one)."""
    query = sa.select(DunningNotice).where(DunningNotice.status == DunningStatus.OPEN)
    if member_ids is not None:
        query = query.where(DunningNotice.member_id.in_(member_ids))
    query = query.order_by(DunningNotice.member_id, DunningNotice.level, DunningNotice.id).with_for_update()
    found: dict[int, list[DunningNotice]] = {}
    for notice in await session.scalars(query):
        found.setdefault(notice.member_id, []).append(notice)
    return found


async def list_notices(
    session: AsyncSession, *, status: DunningStatus | None, member_id: int | None, limit: int, offset: int
) -> tuple[list[DunningNotice], int]:
    query = sa.select(DunningNotice)
    if status is not None:
        query = query.where(DunningNotice.status == status)
    if member_id is not None:
        query = query.where(DunningNotice.member_id == member_id)
    total = await session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(DunningNotice.issued_on.desc(), DunningNotice.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)
