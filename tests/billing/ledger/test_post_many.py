"""Set-based posting books a batch with the same rules as ``post``: a bad entry refuses the batch, a source
booked already is not booked again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import Conflict, Invalid
from app.settings import Settings
from billing.ledger import service as ledger
from tests.builders import BOARD, credit, debit, entry_draft, make_member


async def test_a_batch_is_booked_at_once_and_a_booked_source_is_not_booked_again(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    drafts = [
        entry_draft(debit("1400", 119, member=member), credit("8401", 100), credit("1776", 19), source_id=f"PM-{n}")
        for n in range(3)
    ]

    ids = await ledger.post_many(db_session, actor=BOARD, entries=drafts)
    again = await ledger.post_many(db_session, actor=BOARD, entries=drafts[:1])

    assert len(set(ids)) == 3
    assert again == ids[:1]
    lines = await db_session.execute(
        sa.text("SELECT count(*) FROM journal_lines WHERE entry_id IN (:a, :b, :c)"),
        {"a": ids[0], "b": ids[1], "c": ids[2]},
    )
    assert lines.scalar_one() == 9


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ((debit("8401", 100), credit("1776", 99)), "ledger_unbalanced"),
        ((debit("1400", 100), credit("8401", 100)), "ledger_member_required"),
        ((debit("9999", 100), credit("8401", 100)), "ledger_unknown_account"),
    ],
)
async def test_one_bad_entry_refuses_the_whole_batch(
    db_session: AsyncSession, lines: tuple[object, ...], code: str
) -> None:
    good = entry_draft(debit("1200", 100), credit("8401", 100), source_id="PM-GOOD")
    bad = entry_draft(*lines, source_id="PM-BAD")  # type: ignore[arg-type]

    with pytest.raises(Invalid) as refused:
        await ledger.post_many(db_session, actor=BOARD, entries=[good, bad])

    assert refused.value.code == code
    booked = await db_session.execute(sa.text("SELECT count(*) FROM journal_entries WHERE source_id = 'PM-GOOD'"))
    assert booked.scalar_one() == 0


async def test_a_source_booked_with_other_lines_is_a_conflict(db_session: AsyncSession) -> None:
    await ledger.post_many(
        db_session, actor=BOARD, entries=[entry_draft(debit("1200", 100), credit("8401", 100), source_id="PM-C")]
    )

    with pytest.raises(Conflict):
        await ledger.post_many(
            db_session, actor=BOARD, entries=[entry_draft(debit("1200", 200), credit("8401", 200), source_id="PM-C")]
        )
