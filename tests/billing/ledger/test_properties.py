"""Property: after any sequence of postings, re-postings, reversals, refused entries and share payments, every
entry balances, the trial balance sums to zero and agrees with a model of what was booked, and each member's
balances equal the sum of that member's lines."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit.service import bind_actor
from app.kit.errors import Conflict, Invalid
from app.members import service as members
from app.settings import Settings
from billing.ledger import service as ledger
from billing.ledger import share_payments
from billing.ledger.schemas import EntryDraft, LineDraft
from tests.builders import BOARD, entry_draft, make_member

MEMBERS = 3
# (code, kept per member)
ACCOUNTS = [
    ("1200", False),
    ("1400", True),
    ("0800", True),
    ("1776", False),
    ("1795", True),
    ("8401", False),
    ("8404", False),
]
BANK, CAPITAL = "1200", "0800"
YEAR_START = date(2026, 1, 1)


@dataclass(frozen=True)
class Post:
    entry_date: date
    lines: tuple[tuple[int, int, int, int], ...]  # account index, member index, debit, credit


@dataclass(frozen=True)
class Repost:
    index: int


@dataclass(frozen=True)
class Reverse:
    index: int
    days_later: int


@dataclass(frozen=True)
class Pay:
    member: int
    cents: int
    day: int


@dataclass(frozen=True)
class Unbalanced:
    entry_date: date
    cents: int


def _split(draw: st.DrawFn, total: int, parts: int) -> list[int]:
    cuts = sorted(draw(st.sets(st.integers(1, total - 1), min_size=parts - 1, max_size=parts - 1))) if parts > 1 else []
    bounds = [0, *cuts, total]
    return [b - a for a, b in itertools.pairwise(bounds)]


@st.composite
def balanced_posts(draw: st.DrawFn) -> Post:
    debits = draw(st.lists(st.integers(1, 5_000_000), min_size=1, max_size=3))
    total = sum(debits)
    credits = _split(draw, total, draw(st.integers(1, min(3, total))))
    where = st.tuples(st.integers(0, len(ACCOUNTS) - 1), st.integers(0, MEMBERS - 1))
    sides = [(amount, 0) for amount in debits] + [(0, amount) for amount in credits]
    places = draw(st.lists(where, min_size=len(sides), max_size=len(sides)))
    lines = tuple((a, m, d, c) for (a, m), (d, c) in zip(places, sides, strict=True))
    order = draw(st.permutations(range(len(lines))))
    day = YEAR_START + timedelta(days=draw(st.integers(0, 364)))
    return Post(entry_date=day, lines=tuple(lines[i] for i in order))


operations = st.lists(
    st.one_of(
        balanced_posts(),
        st.builds(Repost, index=st.integers(0, 20)),
        st.builds(Reverse, index=st.integers(0, 20), days_later=st.integers(0, 40)),
        st.builds(Pay, member=st.integers(0, MEMBERS - 1), cents=st.integers(1, 10_000), day=st.integers(0, 364)),
        st.builds(
            Unbalanced,
            entry_date=st.just(YEAR_START),
            cents=st.integers(1, 1000),
        ),
    ),
    min_size=1,
    max_size=10,
)


@dataclass
class Books:
    """What the operations should have booked: per entry its date and lines (code, member id, debit, credit)."""

    entries: dict[int, tuple[date, list[tuple[str, int | None, int, int]]]] = field(default_factory=dict)
    drafts: list[EntryDraft] = field(default_factory=list)
    reversed: set[int] = field(default_factory=set)

    def totals(self, *, on: date | None = None, member_id: int | None = None) -> dict[str, tuple[int, int]]:
        sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for day, lines in self.entries.values():
            if on is not None and day > on:
                continue
            for code, member, debit, credit in lines:
                if member_id is None or member == member_id:
                    sums[code][0] += debit
                    sums[code][1] += credit
        return {code: (d, c) for code, (d, c) in sums.items()}


def _line(account: int, member_id: int, debit: int, credit: int) -> LineDraft:
    code, per_member = ACCOUNTS[account]
    return LineDraft(account=code, debit_cents=debit, credit_cents=credit, member_id=member_id if per_member else None)


async def _apply(
    session: AsyncSession, app_settings: Settings, member_ids: list[int], books: Books, op: object
) -> None:
    if isinstance(op, Post):
        draft = entry_draft(*(_line(a, member_ids[m], d, c) for a, m, d, c in op.lines), entry_date=op.entry_date)
        entry = await ledger.post(session, actor=BOARD, entry=draft)
        books.drafts.append(draft)
        booked = [(ln.account, ln.member_id, ln.debit_cents, ln.credit_cents) for ln in draft.lines]
        books.entries[entry.id] = (op.entry_date, booked)
    elif isinstance(op, Repost) and books.drafts:
        draft = books.drafts[op.index % len(books.drafts)]
        before = len(books.entries)
        entry = await ledger.post(session, actor=BOARD, entry=draft)
        assert entry.id in books.entries and len(books.entries) == before
    elif isinstance(op, Reverse) and books.entries:
        entry_id = sorted(books.entries)[op.index % len(books.entries)]
        day, lines = books.entries[entry_id]
        if entry_id in books.reversed:
            with pytest.raises(Conflict) as twice:
                await ledger.reverse(session, actor=BOARD, entry_id=entry_id, reversed_on=day)
            assert twice.value.code == "ledger_already_reversed"
            return
        reversal = await ledger.reverse(
            session, actor=BOARD, entry_id=entry_id, reversed_on=day + timedelta(days=op.days_later)
        )
        books.reversed.add(entry_id)
        books.entries[reversal.id] = (reversal.entry_date, [(c, m, cr, d) for c, m, d, cr in lines])
    elif isinstance(op, Pay):
        member_id = member_ids[op.member]
        paid_on = YEAR_START + timedelta(days=op.day)
        payment = await members.record_share_payment(
            session, actor=BOARD, settings=app_settings, member_id=member_id, amount_cents=op.cents, paid_on=paid_on
        )
        entry = await share_payments.book_share_payment(session, actor=BOARD, payment_id=payment.id)
        assert entry.id not in books.entries, "the payment was booked when it was recorded, and only then"
        books.entries[entry.id] = (paid_on, [(BANK, None, op.cents, 0), (CAPITAL, member_id, 0, op.cents)])
        again = await share_payments.book_share_payment(session, actor=BOARD, payment_id=payment.id)
        assert again.id == entry.id
    elif isinstance(op, Unbalanced):
        draft = entry_draft(
            LineDraft(account=BANK, debit_cents=op.cents), LineDraft(account="8401", credit_cents=op.cents + 1)
        )
        with pytest.raises(Invalid) as refused:
            await ledger.post(session, actor=BOARD, entry=draft)
        assert refused.value.code == "ledger_unbalanced"


async def _check(session: AsyncSession, member_ids: list[int], books: Books) -> None:
    unbalanced = await session.execute(
        sa.text(
            "SELECT e.id FROM journal_entries e LEFT JOIN journal_lines l ON l.entry_id = e.id GROUP BY e.id "
            "HAVING count(l.id) < 2 OR coalesce(sum(l.debit_cents), 0) <> coalesce(sum(l.credit_cents), 0)"
        )
    )
    assert unbalanced.all() == []
    count = await session.execute(sa.text("SELECT count(*) FROM journal_entries"))
    assert count.scalar_one() == len(books.entries)
    # The database's own check (deferred to commit) agrees: run it now.
    await session.execute(sa.text("SET CONSTRAINTS journal_entries_balanced IMMEDIATE"))

    for on in (None, date(2026, 6, 30)):
        trial = await ledger.trial_balance(session, actor=BOARD, on=on)
        assert trial.balance_cents == 0
        assert trial.debit_cents == trial.credit_cents
        expected = books.totals(on=on)
        assert {a.code: (a.debit_cents, a.credit_cents) for a in trial.accounts if a.debit_cents or a.credit_cents} == {
            code: sums for code, sums in expected.items() if sums != (0, 0)
        }

    for member_id in member_ids:
        balances = await ledger.member_balances(session, actor=BOARD, member_id=member_id)
        lines = await session.execute(
            sa.text(
                "SELECT a.code, sum(l.debit_cents) - sum(l.credit_cents) FROM journal_lines l "
                "JOIN ledger_accounts a ON a.id = l.account_id WHERE l.member_id = :member GROUP BY a.code"
            ),
            {"member": member_id},
        )
        from_lines = {str(code): int(balance) for code, balance in lines.all()}
        expected = {code: d - c for code, (d, c) in books.totals(member_id=member_id).items()}
        for account in balances.accounts:
            assert account.balance_cents == from_lines.get(account.code, 0) == expected.get(account.code, 0)


@hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=operations)
async def test_the_books_balance_after_any_sequence_of_operations(
    engine: AsyncEngine, settings: Settings, ops: list[object]
) -> None:
    async with engine.connect() as connection:
        outer = await connection.begin()
        session = AsyncSession(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
        try:
            bind_actor(session, BOARD)
            member_ids = [(await make_member(session, settings, shares=20, paid_cents=0)).id for _ in range(MEMBERS)]
            books = Books()
            for op in ops:
                await _apply(session, settings, member_ids, books, op)
            await _check(session, member_ids, books)
        finally:
            await session.close()
            await outer.rollback()
