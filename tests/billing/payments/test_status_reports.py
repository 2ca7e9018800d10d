"""The bank's pain.002 status reports applied to the files we made: a rejected debit leaves its invoice open and
collectable again, books nothing and ends the mandate for a mandate reason; a rejected payout is reversed in
the books and paid once in a later file; the same report twice changes nothing; a report on no file of ours
is refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import DomainError
from app.members.models import Member
from app.settings import Settings
from billing.dunning import service as dunning
from billing.ledger import service as ledger
from billing.ledger.models import SourceKind
from billing.ledger.repository import EntryFilter
from billing.payments import open_items, repository, sepa, status_reports
from billing.payments.models import (
    CollectionItem,
    ItemStatus,
    PayoutItem,
    SepaFile,
    SepaStatusReport,
    SequenceType,
)
from tests.billing.invoices.builders import run_period
from tests.billing.payments.builders import (
    OTHER_IBAN,
    TxStatus,
    make_invoice,
    make_mandate,
    pain002,
    payout_instruction,
)
from tests.billing.payments.test_service import balance, collected_invoice, entries
from tests.builders import BOARD, make_contract, make_member, make_plan

pytestmark = pytest.mark.postgres

COLLECTED_ON = date(2026, 11, 3)


@dataclass
class Collection:
    """Two members' invoices collected in one pain.008 file the code made."""

    anna: Member
    ben: Member
    file: SepaFile


async def collection(session: AsyncSession, settings: Settings) -> Collection:
    anna, ben = await make_member(session, settings), await make_member(session, settings)
    await make_invoice(session, member=anna, number="2026-000123", gross_cents=4990)
    await make_invoice(session, member=ben, number="2026-000124", gross_cents=1999)
    for member in (anna, ben):
        await make_mandate(session, settings, member=member)
    requests = await sepa.due_collections(session, actor=BOARD, on=COLLECTED_ON)
    [made] = await sepa.collect(session, actor=BOARD, settings=settings, requests=requests)
    return Collection(anna=anna, ben=ben, file=made)


async def journal_size(session: AsyncSession) -> int:
    return (await ledger.search_entries(session, actor=BOARD, filters=EntryFilter(), limit=1, offset=0))[1]


async def item_statuses(session: AsyncSession, file_id: int) -> dict[str, ItemStatus]:
    return {i.end_to_end_id: i.status for i in await repository.collection_items(session, file_id)}


async def test_a_debit_rejected_for_no_mandate_leaves_its_invoice_open_books_nothing_and_ends_the_mandate(
    db_session: AsyncSession, settings: Settings
) -> None:
    c = await collection(db_session, settings)
    journal_before = await journal_size(db_session)
    data = pain002(
        TxStatus("2026-000123", "RJCT", "MD01", "Kein gueltiges Mandat"),
        TxStatus("2026-000124", "ACCP"),
        of=c.file.content,
        group_status="PART",
    )

    result = await status_reports.import_status_report(db_session, actor=BOARD, data=data)

    assert (result.known, result.rejected, result.unchanged, result.transactions) == (False, 1, 0, 2)
    assert [(r.end_to_end_id, r.member_id, r.reason_code, r.reason_info) for r in result.rejections] == [
        ("2026-000123", c.anna.id, "MD01", "Kein gueltiges Mandat")
    ]
    assert await item_statuses(db_session, c.file.id) == {
        "2026-000123": ItemStatus.REJECTED,
        "2026-000124": ItemStatus.SUBMITTED,
    }
    # No money moved: nothing booked, no fee, and the invoice is open as before.
    assert await journal_size(db_session) == journal_before
    assert [(i.number, i.open_cents) for i in await open_items.open_items(db_session, member_ids={c.anna.id})] == [
        ("2026-000123", 4990)
    ]
    # No longer being collected: dunned when overdue, and collected again once there is a mandate.
    assert await repository.pending_collections(db_session, ["2026-000123", "2026-000124"]) == {"2026-000124"}
    overdue = await dunning.overdue_items(db_session, date(2026, 11, 20), member_ids={c.anna.id, c.ben.id})
    assert [i.number for i in overdue] == ["2026-000123", "2026-000124"]
    assert await repository.active_mandate(db_session, c.anna.id) is None
    assert await repository.active_mandate(db_session, c.ben.id) is not None
    await make_mandate(db_session, settings, member=c.anna, iban=OTHER_IBAN, signed_on=date(2026, 11, 5))
    again = await sepa.due_collections(db_session, actor=BOARD, on=date(2026, 11, 16))
    assert [(r.member_id, r.end_to_end_id, r.amount_cents) for r in again] == [(c.anna.id, "2026-000123", 4990)]
    [second] = await sepa.collect(db_session, actor=BOARD, settings=settings, requests=again)
    assert await item_statuses(db_session, second.id) == {"2026-000123": ItemStatus.SUBMITTED}
    stored = (await db_session.execute(sa.select(SepaStatusReport))).scalars().all()
    assert [(s.file_id, s.group_status, s.transaction_count, s.rejected_count) for s in stored] == [
        (c.file.id, "PART", 2, 1)
    ]


async def test_the_same_report_twice_changes_nothing_and_says_so(db_session: AsyncSession, settings: Settings) -> None:
    c = await collection(db_session, settings)
    data = pain002(TxStatus("2026-000124", "RJCT", "AM04"), of=c.file.content)
    first = await status_reports.import_status_report(db_session, actor=BOARD, data=data)
    # Meanwhile the invoice is collected again; the old report must not touch the new collection.
    [again] = await sepa.collect(
        db_session,
        actor=BOARD,
        settings=settings,
        requests=[r for r in await sepa.due_collections(db_session, actor=BOARD, on=date(2026, 11, 16))],
    )

    second = await status_reports.import_status_report(db_session, actor=BOARD, data=data)

    assert (first.known, first.rejected) == (False, 1)
    assert (second.known, second.rejected, second.unchanged, second.id) == (True, 0, 1, first.id)
    assert [r.item_status for r in second.rejections] == [ItemStatus.REJECTED]
    assert await item_statuses(db_session, again.id) == {"2026-000124": ItemStatus.SUBMITTED}
    count = sa.select(sa.func.count()).select_from(SepaStatusReport)
    assert (await db_session.execute(count)).scalar_one() == 1
    # An insufficient-funds rejection is no reason to end the mandate.
    assert await repository.active_mandate(db_session, c.ben.id) is not None


async def test_a_report_on_no_file_of_ours_is_refused(db_session: AsyncSession, settings: Settings) -> None:
    c = await collection(db_session, settings)

    with pytest.raises(DomainError) as refused:
        await status_reports.import_status_report(
            db_session,
            actor=BOARD,
            data=pain002(TxStatus("2026-000123"), of=c.file.content, original_message_id="FREMDE-NACHRICHT"),
        )

    assert (refused.value.code, refused.value.status) == ("pain002_unknown_file", 404)
    assert await item_statuses(db_session, c.file.id) == {
        "2026-000123": ItemStatus.SUBMITTED,
        "2026-000124": ItemStatus.SUBMITTED,
    }


async def test_a_rejected_file_rejects_every_debit_in_it(db_session: AsyncSession, settings: Settings) -> None:
    c = await collection(db_session, settings)

    result = await status_reports.import_status_report(
        db_session, actor=BOARD, data=pain002(of=c.file.content, group_status="RJCT", group_reason="FF01")
    )

    assert [(r.end_to_end_id, r.reason_code) for r in result.rejections] == [
        ("2026-000123", "FF01"),
        ("2026-000124", "FF01"),
    ]
    assert set((await item_statuses(db_session, c.file.id)).values()) == {ItemStatus.REJECTED}
    invoices = [i.invoice_id for i in await open_items.open_items(db_session, member_ids={c.anna.id, c.ben.id})]
    assert await repository.collected_invoices(db_session, invoices) == set()
    mandate = await repository.active_mandate(db_session, c.anna.id)
    assert mandate is not None
    # The first debit never reached the member's bank: the mandate is unused, its next debit first again.
    assert (mandate.sequence, mandate.last_collected_on) == (SequenceType.FRST, None)


async def test_a_rejected_recurring_debit_leaves_the_mandate_as_its_last_booked_debit_left_it(
    db_session: AsyncSession, settings: Settings
) -> None:
    c = await collection(db_session, settings)
    await make_invoice(db_session, member=c.anna, number="2026-000200", gross_cents=1000)
    later = await sepa.due_collections(db_session, actor=BOARD, on=date(2026, 12, 3))
    [second] = await sepa.collect(db_session, actor=BOARD, settings=settings, requests=later)

    await status_reports.import_status_report(
        db_session,
        actor=BOARD,
        data=pain002(TxStatus("2026-000200", "RJCT", "AM04"), of=second.content, group_status="PART"),
    )

    mandate = await repository.active_mandate(db_session, c.anna.id)
    assert mandate is not None
    assert (mandate.sequence, mandate.last_collected_on) == (SequenceType.RCUR, COLLECTED_ON)


async def test_accepted_statuses_only_record_the_report(db_session: AsyncSession, settings: Settings) -> None:
    c = await collection(db_session, settings)

    result = await status_reports.import_status_report(
        db_session, actor=BOARD, data=pain002(of=c.file.content, group_status="ACCP")
    )

    assert (result.rejected, result.rejections, result.group_status) == (0, [], "ACCP")
    assert set((await item_statuses(db_session, c.file.id)).values()) == {ItemStatus.SUBMITTED}


async def test_a_rejection_of_a_debit_the_bank_booked_already_leaves_it_booked(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await collected_invoice(db_session, settings, member)
    item = (await db_session.execute(sa.select(CollectionItem))).scalar_one()
    stored = await db_session.get(SepaFile, item.file_id)
    assert stored is not None

    result = await status_reports.import_status_report(
        db_session, actor=BOARD, data=pain002(TxStatus("2026-000123", "RJCT", "MD01"), of=stored.content)
    )

    assert (result.rejected, result.unchanged) == (0, 1)
    assert item.status is ItemStatus.COLLECTED
    assert await repository.active_mandate(db_session, member.id) is not None
    assert await open_items.open_items(db_session, member_ids={member.id}) == []


async def test_a_rejected_payout_is_reversed_in_the_books_and_paid_once_in_a_later_file(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_mandate(db_session, settings, member=member, iban=OTHER_IBAN)
    instruction = payout_instruction(member=member, cents=1234, reference="DV-2025-1")
    made = await sepa.pay_out(db_session, actor=BOARD, settings=settings, instructions=[instruction])
    assert await balance(db_session, "1795", member) == 1234  # the payout cleared the payable
    bank_before = await balance(db_session, "1200")
    data = pain002(
        TxStatus("DV-2025-1", "RJCT", "AC04", "Konto erloschen"),
        of=made.content,
        created="2026-11-02T09:00:00+01:00",
    )

    result = await status_reports.import_status_report(db_session, actor=BOARD, data=data)

    [item] = await repository.payout_items(db_session, made.id)
    assert (result.rejected, item.status) == (1, ItemStatus.REJECTED)
    assert await balance(db_session, "1795", member) == 0  # payable again
    assert await balance(db_session, "1200") == bank_before + 1234
    [reversal] = await entries(db_session, SourceKind.REVERSAL)
    assert reversal == [("1795", 0, 1234, member.id), ("1200", 1234, 0, None)]
    # The account is closed: the mandate naming it ends, as for a returned debit.
    assert await repository.active_mandate(db_session, member.id) is None
    assert (await ledger.trial_balance(db_session, actor=BOARD)).balance_cents == 0

    repaid = await sepa.pay_out(db_session, actor=BOARD, settings=settings, instructions=[instruction])
    with pytest.raises(DomainError) as twice:
        await sepa.pay_out(db_session, actor=BOARD, settings=settings, instructions=[instruction])

    [new_item] = await repository.payout_items(db_session, repaid.id)
    assert (new_item.end_to_end_id, new_item.status) == ("DV-2025-1", ItemStatus.SUBMITTED)
    assert twice.value.code == "payout_duplicate"
    assert await balance(db_session, "1795", member) == 1234
    # The database holds one payout per end-to-end id that the bank did not reject.
    savepoint = await db_session.begin_nested()
    item.status = ItemStatus.SUBMITTED
    with pytest.raises(IntegrityError):
        await db_session.flush()
    await savepoint.rollback()


async def test_a_reversal_is_not_dated_before_the_payout_it_reverses(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    made = await sepa.pay_out(
        db_session, actor=BOARD, settings=settings, instructions=[payout_instruction(member=member)]
    )

    # The bank answers the day before the execution date (30 June).
    await status_reports.import_status_report(
        db_session,
        actor=BOARD,
        data=pain002(of=made.content, group_status="RJCT", created="2026-06-29T09:00:00+02:00"),
    )

    found, _ = await ledger.search_entries(
        db_session, actor=BOARD, filters=EntryFilter(source_kind=SourceKind.REVERSAL), limit=5, offset=0
    )
    assert [e.entry_date for e in found] == [date(2026, 6, 30)]
    [item] = (await db_session.execute(sa.select(PayoutItem))).scalars().all()
    assert item.status is ItemStatus.REJECTED


async def test_a_rejected_debit_of_a_bill_run_is_collected_again_only_on_the_day_it_announced(
    db_session: AsyncSession, settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    member = await make_member(db_session, settings)
    await make_mandate(db_session, settings, member=member)
    await make_contract(db_session, settings, member=member, plan=await make_plan(db_session, fee_cents=1990))
    run = await run_period(db_session, settings, period="2026-10")
    [first] = await sepa.collect_run(db_session, actor=BOARD, settings=settings, run_id=run.id)
    [number] = (await item_statuses(db_session, first.id)).keys()

    async def reject(made: SepaFile) -> None:
        data = pain002(TxStatus(number, "RJCT", "AM04"), of=made.content, message_id=f"STS-{made.id}")
        assert (await status_reports.import_status_report(db_session, actor=BOARD, data=data)).rejected == 1

    await reject(first)
    # The announced day can still be reached: the same debit again, on the same day.
    [again] = await sepa.collect_run(db_session, actor=BOARD, settings=settings, run_id=run.id)
    assert (again.due_on, again.total_cents) == (first.due_on, first.total_cents)
    await reject(again)

    # On the announced day itself it is too late: nothing is made, and the operator is told.
    monkeypatch.setattr(sepa, "local_today", lambda _zone: first.due_on)
    with caplog.at_level("WARNING", logger="opentelecom.payments"):
        assert await sepa.collect_run(db_session, actor=BOARD, settings=settings, run_id=run.id) == []
    assert number in caplog.text
    assert [i.number for i in await open_items.open_items(db_session, member_ids={member.id})] == [number]
