"""Posting from a query books in the database with the rules of ``post_many``, checked on the staged lines
before anything is written: a bad line refuses the whole set, a source booked already is a conflict."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import Conflict, Invalid
from app.settings import Settings
from billing.ledger import repository
from billing.ledger import service as ledger
from billing.ledger.schemas import SELECTED_LINE_COLUMNS
from tests.builders import BOARD, make_member

DAY = date(2026, 11, 1)


async def _lines(session: AsyncSession, rows: list[tuple[str, str, int | None, int, int]]) -> sa.Select[Any]:
    """A query of posting lines: (source id, account code, member, debit, credit) as literal rows."""
    ids = {
        code: account.id for code, account in (await repository.accounts_by_code(session, {r[1] for r in rows})).items()
    }
    selects = [
        sa.select(
            *(
                sa.literal(value, type_).label(name)
                for value, type_, name in zip(
                    ("manual", source, DAY, f"Test {source}", n, ids.get(code, 999_999), member, dr, cr),
                    (
                        sa.String,
                        sa.String,
                        sa.Date,
                        sa.String,
                        sa.Integer,
                        sa.BigInteger,
                        sa.BigInteger,
                        sa.BigInteger,
                        sa.BigInteger,
                    ),
                    SELECTED_LINE_COLUMNS,
                    strict=True,
                )
            )
        )
        for n, (source, code, member, dr, cr) in enumerate(rows)
    ]
    return sa.select(sa.union_all(*selects).subquery())


async def _count(session: AsyncSession, sql: str) -> int:
    return int((await session.execute(sa.text(sql))).scalar_one())


async def test_the_selected_lines_are_booked_as_one_entry_per_source(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    query = await _lines(
        db_session,
        [
            ("PS-1", "1400", member.id, 119, 0),
            ("PS-1", "8401", None, 0, 100),
            ("PS-1", "1776", None, 0, 19),
            ("PS-2", "1200", None, 50, 0),
            ("PS-2", "8401", None, 0, 50),
        ],
    )

    booked = await ledger.post_selected(db_session, actor=BOARD, lines=query)

    assert booked == 2
    assert await _count(db_session, "SELECT count(*) FROM journal_entries WHERE source_id LIKE 'PS-%'") == 2
    assert (
        await _count(
            db_session,
            "SELECT count(*) FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id "
            "WHERE e.source_id = 'PS-1'",
        )
        == 3
    )
    balance = await ledger.trial_balance(db_session, actor=BOARD, on=DAY)
    assert balance.debit_cents == balance.credit_cents


@pytest.mark.parametrize(
    ("rows", "code"),
    [
        ([("PS-B", "8401", None, 100, 0), ("PS-B", "1776", None, 0, 99)], "ledger_unbalanced"),
        ([("PS-B", "8401", None, 100, 0)], "ledger_unbalanced"),
        ([("PS-B", "8401", None, 100, 100), ("PS-B", "1776", None, 0, 0)], "ledger_amount_not_positive"),
        ([("PS-B", "1400", None, 100, 0), ("PS-B", "8401", None, 0, 100)], "ledger_account_refused"),
        ([("PS-B", "9999", None, 100, 0), ("PS-B", "8401", None, 0, 100)], "ledger_account_refused"),
    ],
)
async def test_one_bad_line_refuses_the_whole_set_before_anything_is_written(
    db_session: AsyncSession, rows: list[tuple[str, str, int | None, int, int]], code: str
) -> None:
    good = [("PS-GOOD", "1200", None, 100, 0), ("PS-GOOD", "8401", None, 0, 100)]

    with pytest.raises(Invalid) as refused:
        await ledger.post_selected(db_session, actor=BOARD, lines=await _lines(db_session, good + rows))

    assert refused.value.code == code
    assert await _count(db_session, "SELECT count(*) FROM journal_entries WHERE source_id = 'PS-GOOD'") == 0


async def test_a_source_booked_already_is_a_conflict(db_session: AsyncSession) -> None:
    rows = [("PS-C", "1200", None, 100, 0), ("PS-C", "8401", None, 0, 100)]
    await ledger.post_selected(db_session, actor=BOARD, lines=await _lines(db_session, rows))

    with pytest.raises(Conflict) as refused:
        await ledger.post_selected(db_session, actor=BOARD, lines=await _lines(db_session, rows))

    assert refused.value.code == "ledger_source_conflict"
