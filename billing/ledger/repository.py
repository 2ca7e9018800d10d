"""All queries on the chart of accounts and the journal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from billing.ledger.models import Account, JournalEntry, JournalLine, SourceKind, SystemAccount


async def accounts(session: AsyncSession) -> list[Account]:
    return list((await session.execute(sa.select(Account).order_by(Account.code))).scalars())


async def accounts_by_code(session: AsyncSession, codes: set[str]) -> dict[str, Account]:
    if not codes:
        return {}
    rows = await session.execute(sa.select(Account).where(Account.code.in_(codes)))
    return {a.code: a for a in rows.scalars()}


async def account_by_code(session: AsyncSession, code: str, *, lock: bool = False) -> Account | None:
    query = sa.select(Account).where(Account.code == code)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def system_accounts(session: AsyncSession) -> dict[SystemAccount, Account]:
    rows = await session.execute(sa.select(Account).where(Account.system_key.is_not(None)))
    return {a.system_key: a for a in rows.scalars() if a.system_key is not None}


def _with_lines() -> sa.Select[JournalEntry]:
    return sa.select(JournalEntry).options(selectinload(JournalEntry.lines))


async def entry(session: AsyncSession, entry_id: int) -> JournalEntry | None:
    return (await session.execute(_with_lines().where(JournalEntry.id == entry_id))).scalar_one_or_none()


async def entry_by_source(session: AsyncSession, kind: SourceKind, source_id: str) -> JournalEntry | None:
    query = _with_lines().where(JournalEntry.source_kind == kind, JournalEntry.source_id == source_id)
    return (await session.execute(query)).scalar_one_or_none()


async def booked_source_ids(session: AsyncSession, kind: SourceKind, source_ids: Sequence[str]) -> set[str]:
    if not source_ids:
        return set()
    rows = await session.execute(
        sa.select(JournalEntry.source_id).where(
            JournalEntry.source_kind == kind, JournalEntry.source_id.in_(source_ids)
        )
    )
    return set(rows.scalars())


async def reversal_ids(session: AsyncSession, entry_ids: Sequence[int]) -> dict[int, int]:
    """Reversed entry id -> the id of the entry that reverses it."""
    if not entry_ids:
        return {}
    rows = await session.execute(
        sa.select(JournalEntry.reverses_id, JournalEntry.id).where(JournalEntry.reverses_id.in_(entry_ids))
    )
    return {int(reversed_id): int(entry_id) for reversed_id, entry_id in rows.all() if reversed_id is not None}


@dataclass(frozen=True, slots=True)
class EntryFilter:
    date_from: date | None = None
    date_to: date | None = None
    source_kind: SourceKind | None = None
    account_code: str | None = None
    member_id: int | None = None


def _entry_conditions(filters: EntryFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if filters.date_from is not None:
        conditions.append(JournalEntry.entry_date >= filters.date_from)
    if filters.date_to is not None:
        conditions.append(JournalEntry.entry_date <= filters.date_to)
    if filters.source_kind is not None:
        conditions.append(JournalEntry.source_kind == filters.source_kind)
    if filters.account_code is not None or filters.member_id is not None:
        line_conditions: list[sa.ColumnElement[bool]] = [JournalLine.entry_id == JournalEntry.id]
        if filters.account_code is not None:
            account_id = sa.select(Account.id).where(Account.code == filters.account_code).scalar_subquery()
            line_conditions.append(JournalLine.account_id == account_id)
        if filters.member_id is not None:
            line_conditions.append(JournalLine.member_id == filters.member_id)
        conditions.append(sa.exists().where(*line_conditions))
    return conditions


async def search_entries(
    session: AsyncSession, *, filters: EntryFilter, limit: int | None, offset: int = 0
) -> tuple[list[JournalEntry], int]:
    """Entries in booking order (date, then id) with their lines, and how many match in all."""
    where = sa.and_(sa.true(), *_entry_conditions(filters))
    total = int((await session.execute(sa.select(sa.func.count()).select_from(JournalEntry).where(where))).scalar_one())
    query = _with_lines().where(where).order_by(JournalEntry.entry_date, JournalEntry.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).scalars()), total


async def account_codes(session: AsyncSession, account_ids: set[int]) -> dict[int, str]:
    if not account_ids:
        return {}
    rows = await session.execute(sa.select(Account.id, Account.code).where(Account.id.in_(account_ids)))
    return {int(i): str(c) for i, c in rows.all()}


async def totals(
    session: AsyncSession, *, on: date | None, member_id: int | None = None, per_member_only: bool = False
) -> list[tuple[Account, int, int]]:
    """Every account (or only the per-member ones) with its debit and credit totals up to and including ``on``,
    for one member if ``member_id`` is given. Accounts without postings have zero totals."""
    line = aliased(JournalLine)
    entry_ = aliased(JournalEntry)
    sums = sa.select(
        line.account_id.label("account_id"),
        sa.func.coalesce(sa.func.sum(line.debit_cents), 0).label("debit"),
        sa.func.coalesce(sa.func.sum(line.credit_cents), 0).label("credit"),
    ).join(entry_, entry_.id == line.entry_id)
    if on is not None:
        sums = sums.where(entry_.entry_date <= on)
    if member_id is not None:
        sums = sums.where(line.member_id == member_id)
    subquery = sums.group_by(line.account_id).subquery()
    query = (
        sa.select(
            Account,
            sa.func.coalesce(subquery.c.debit, 0),
            sa.func.coalesce(subquery.c.credit, 0),
        )
        .outerjoin(subquery, subquery.c.account_id == Account.id)
        .order_by(Account.code)
    )
    if per_member_only:
        query = query.where(Account.per_member.is_(True))
    rows = await session.execute(query)
    return [(account, int(debit), int(credit)) for account, debit, credit in rows.all()]
