"""A member's credit (an overpayment, a credit note on a paid invoice) is set off by the next bill run on their
invoice, stated there and counted in its amount due; credit arising later goes to overdue invoices (and to
any open one of a member who pays without a mandate), never to a debit already announced; nothing is
booked twice and nothing is used twice."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
import sqlalchemy as sa
from facturx import xml_check_xsd
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.kit.actor import Role
from app.kit.errors import Conflict
from app.kit.time import local_today
from app.members.models import Member
from app.settings import Settings
from billing.documents.pdf import invoice_html
from billing.documents.service import invoice_xml
from billing.dunning import service as dunning
from billing.dunning.models import DunningNotice
from billing.invoices import billrun, documents
from billing.invoices import service as invoices
from billing.invoices.models import Invoice
from billing.invoices.schemas import CreditNoteCreate
from billing.ledger import service as ledger
from billing.payments import credit, open_items, repository, sepa, service, status_reports
from billing.payments.models import CreditApplication
from billing.payments.schemas import CreditPayback, ManualPayment
from tests.billing.invoices.builders import run_period
from tests.billing.payments.builders import (
    OTHER_IBAN,
    TxStatus,
    make_invoice,
    make_mandate,
    pain002,
    payout_instruction,
)
from tests.builders import BOARD, OPERATOR, make_contract, make_member, make_plan, make_user, token_for
from tests.web.test_pages import csrf_of, web_login

pytestmark = pytest.mark.postgres

PERIOD = "2026-10"


async def receivables(session: AsyncSession, member: Member) -> int:
    """The member's receivables in the ledger: debits minus credits."""
    balances = await ledger.member_balances(session, actor=BOARD, member_id=member.id)
    return sum(a.balance_cents for a in balances.accounts if a.code == "1400")


async def account(session: AsyncSession, code: str) -> int:
    return (await ledger.account_balance(session, actor=BOARD, account=code)).balance_cents


async def assert_books_agree(session: AsyncSession, member: Member) -> None:
    """What the member owes on their invoices less their credit is what the ledger says they owe."""
    owed = sum(i.open_cents for i in await open_items.open_items(session, member_ids={member.id}))
    has = (await credit.balances(session, [member.id])).get(member.id, 0)
    assert owed - has == await receivables(session, member)


async def pay(session: AsyncSession, member: Member, cents: int, *numbers: str, on: date = date(2026, 10, 20)) -> None:
    bind_actor(session, OPERATOR)
    await service.record_manual(
        session,
        actor=OPERATOR,
        data=ManualPayment(member_id=member.id, amount_cents=cents, paid_on=on, invoice_numbers=list(numbers)),
    )


async def paid_then_credited(session: AsyncSession, settings: Settings, member: Member, cents: int = 4990) -> Invoice:
    """An invoice of ``member`` paid in full, then corrected in full by a credit note: ``cents`` of credit."""
    invoice = await make_invoice(session, member=member, gross_cents=cents)
    await pay(session, member, cents, str(invoice.number))
    await invoices.create_credit_note(
        session, actor=BOARD, settings=settings, invoice_id=invoice.id, data=CreditNoteCreate(reason="Storno")
    )
    return invoice


async def applications(session: AsyncSession, member: Member) -> list[CreditApplication]:
    query = sa.select(CreditApplication).where(CreditApplication.member_id == member.id).order_by(CreditApplication.id)
    return list((await session.scalars(query)).all())


async def test_a_credit_note_on_a_paid_invoice_is_set_off_on_the_next_invoice_and_booked_nowhere_twice(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_mandate(db_session, settings, member=member)
    await make_contract(db_session, settings, member=member, plan=await make_plan(db_session, fee_cents=1990))
    corrected = await paid_then_credited(db_session, settings, member, cents=4990)
    assert await credit.balances(db_session, [member.id]) == {member.id: 4990}
    assert await receivables(db_session, member) == -4990
    entries_before = (await ledger.trial_balance(db_session, actor=BOARD)).debit_cents

    run = await run_period(db_session, settings, period=PERIOD)

    [new] = (await db_session.scalars(sa.select(Invoice).where(Invoice.bill_run_id == run.id))).all()
    assert new.gross_cents < 4990
    assert new.amount_due_cents == 0  # the credit covers it: nothing to debit
    [settlement] = await invoices.repository.settlements(db_session, new.id)
    assert (settlement.text, settlement.amount_cents) == (credit.SETTLEMENT_TEXT, -new.gross_cents)
    [used] = await applications(db_session, member)
    assert (used.from_invoice_id, used.invoice_id, used.amount_cents, used.settled) == (
        corrected.id,
        new.id,
        new.gross_cents,
        True,
    )
    assert await credit.balances(db_session, [member.id]) == {member.id: 4990 - new.gross_cents}
    assert await open_items.open_items(db_session, member_ids={member.id}) == []
    # Only the invoice itself was booked (receivables to revenue and VAT); the set-off moved nothing.
    booked = (await ledger.trial_balance(db_session, actor=BOARD)).debit_cents - entries_before
    assert booked == new.gross_cents
    await assert_books_agree(db_session, member)
    # Nothing to collect from this run; a run of the period again bills and uses nothing.
    assert await billrun_collect(db_session, settings, run.id) == []
    await run_period(db_session, settings, period=PERIOD)
    assert len(await applications(db_session, member)) == 1


async def billrun_collect(session: AsyncSession, settings: Settings, run_id: int) -> list[object]:
    from billing.payments import sepa

    return list(await sepa.collect_run(session, actor=BOARD, settings=settings, run_id=run_id))


async def test_a_partly_used_credit_lowers_the_debit_the_invoice_announces(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_mandate(db_session, settings, member=member)
    await make_contract(db_session, settings, member=member, plan=await make_plan(db_session, fee_cents=3990))
    await paid_then_credited(db_session, settings, member, cents=1000)

    run = await run_period(db_session, settings, period=PERIOD)

    [new] = (await db_session.scalars(sa.select(Invoice).where(Invoice.bill_run_id == run.id))).all()
    assert new.amount_due_cents == new.gross_cents - 1000
    assert await credit.balances(db_session, [member.id]) == {}
    # The document states the set-off as a prepaid amount (BT-113) and debits only the rest.
    doc = await documents.document_for(db_session, settings=settings, invoice_id=new.id)
    xml = invoice_xml(doc)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert b"<ram:TotalPrepaidAmount>10.00</ram:TotalPrepaidAmount>" in xml
    assert b"Verrechnung mit Ihrem Guthaben" in invoice_html(doc).encode()
    [debit] = await billrun_collect(db_session, settings, run.id)
    assert debit.total_cents == new.gross_cents - 1000  # type: ignore[attr-defined]
    await assert_books_agree(db_session, member)


async def test_an_overpayment_goes_to_the_other_open_invoice_of_a_member_without_a_mandate(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    first = await make_invoice(db_session, member=member, gross_cents=4990)
    second = await make_invoice(db_session, member=member, gross_cents=2000, issued_on=date(2026, 10, 15))

    await pay(db_session, member, 6000, str(first.number))

    open_now = {i.number: i.open_cents for i in await open_items.open_items(db_session, member_ids={member.id})}
    assert open_now == {second.number: 2000 - 1010}
    [used] = await applications(db_session, member)
    assert (used.payment_id is not None, used.invoice_id, used.amount_cents, used.settled) == (
        True,
        second.id,
        1010,
        False,
    )
    assert await credit.balances(db_session, [member.id]) == {}
    await assert_books_agree(db_session, member)


async def test_credit_waits_for_the_next_invoice_rather_than_change_an_announced_debit(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_mandate(db_session, settings, member=member)
    today = local_today(settings.timezone)
    announced = await make_invoice(db_session, member=member, gross_cents=2000, issued_on=today)
    overdue = await make_invoice(
        db_session, member=member, gross_cents=1500, issued_on=date(2026, 9, 1), due_on=date(2026, 9, 15)
    )
    paid = await make_invoice(db_session, member=member, gross_cents=5000, issued_on=date(2026, 9, 2))

    # 5,500 on the invoice of 5,000: the 500 over go to the overdue invoice, not to the one whose debit is
    # announced for its due day.
    await pay(db_session, member, 5500, str(paid.number))

    open_now = {i.invoice_id: i.open_cents for i in await open_items.open_items(db_session, member_ids={member.id})}
    assert open_now == {overdue.id: 1000, announced.id: 2000}
    assert await credit.balances(db_session, [member.id]) == {}
    await assert_books_agree(db_session, member)


async def test_dunning_sets_credit_off_on_arrears_first_and_duns_only_what_is_left(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_mandate(db_session, settings, member=member)
    today = local_today(settings.timezone)
    # Not due yet when the credit arises, its debit announced: the credit waits.
    later = await make_invoice(
        db_session,
        member=member,
        gross_cents=3000,
        issued_on=today - timedelta(days=10),
        due_on=today + timedelta(days=3),
    )
    await paid_then_credited(db_session, settings, member, cents=2000)
    assert await applications(db_session, member) == []

    # Weeks later the debit has not come in and the invoice is overdue: the credit goes to it first.
    report = await dunning.run_due(db_session, actor=BOARD, settings=settings, today=today + timedelta(days=40))

    [used] = await applications(db_session, member)
    assert (used.invoice_id, used.amount_cents, used.settled) == (later.id, 2000, False)
    [notice_id] = report.notices
    notice = await db_session.get(DunningNotice, notice_id)
    assert notice is not None and notice.arrears_cents == 1000
    await assert_books_agree(db_session, member)


async def test_issuing_refuses_a_preview_whose_credit_was_used_since(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_contract(db_session, settings, member=member, plan=await make_plan(db_session, fee_cents=1990))
    await paid_then_credited(db_session, settings, member, cents=4990)
    bind_actor(db_session, BOARD)
    today = local_today(settings.timezone)
    run = await billrun.preview(db_session, actor=BOARD, settings=settings, period=PERIOD, issue_on=today)
    # Meanwhile an old invoice turns up overdue and the credit goes to it.
    await make_invoice(db_session, member=member, gross_cents=4990, issued_on=date(2026, 8, 1))
    assert await credit.apply(db_session, actor=BOARD, on=today, member_ids=[member.id])

    with pytest.raises(Conflict) as refused:
        await billrun.issue(db_session, actor=BOARD, settings=settings, run_id=run.id)

    assert refused.value.code == "bill_run_stale"


async def test_a_member_reads_their_credit_and_an_operator_sets_it_off(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await paid_then_credited(db_session, settings, member, cents=1234)
    member_user = await make_user(db_session, role=Role.MEMBER, member=member)
    operator = await make_user(db_session, role=Role.OPERATOR)
    await make_invoice(
        db_session, member=member, gross_cents=1000, issued_on=date(2026, 8, 1), due_on=date(2026, 8, 15)
    )
    # The credit note's own apply ran before this invoice existed; it waits for an operator or the next run.
    await db_session.commit()

    mine = await client.get(f"/api/v1/members/{member.id}/credit", headers=await token_for(client, member_user))
    assert mine.status_code == 200
    assert mine.json()["credit_cents"] == 1234
    [source] = mine.json()["sources"]
    assert source["invoice_number"] and source["amount_cents"] == 1234

    await web_login(client, member_user.email)
    portal = await client.get("/portal/payments")
    assert 'id="credit"' in portal.text
    assert "ein Guthaben von 12,34\xa0€" in portal.text

    await web_login(client, operator.email)
    token = await csrf_of(client, "/console/payments")
    page = await client.get("/console/payments")
    assert page.text.count('class="member-credit"') == 1
    done = await client.post(f"/console/payments/credit/{member.id}", data={"csrf": token})
    assert done.status_code == 303, done.text
    after = await client.get(f"/api/v1/members/{member.id}/credit", headers=await token_for(client, operator))
    assert after.json()["credit_cents"] == 234
    assert [(a["amount_cents"], a["settled"]) for a in after.json()["applications"]] == [(1000, False)]
    again = await client.post(
        f"/api/v1/members/{member.id}/credit/applications", headers=await token_for(client, operator)
    )
    assert (again.status_code, again.json()) == (201, [])


async def test_a_source_is_never_used_beyond_its_amount_over_many_applications(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await paid_then_credited(db_session, settings, member, cents=2500)
    today = local_today(settings.timezone)
    for n in range(4):
        await make_invoice(
            db_session, member=member, gross_cents=900, issued_on=date(2026, 7, 1) + timedelta(days=n), due_on=today
        )
        await credit.apply(db_session, actor=BOARD, on=today + timedelta(days=1), member_ids=[member.id])

    used = await applications(db_session, member)
    assert sum(a.amount_cents for a in used) == 2500
    assert [a.amount_cents for a in used] == [900, 900, 700]
    assert await credit.balances(db_session, [member.id]) == {}
    open_now = [i.open_cents for i in await open_items.open_items(db_session, member_ids={member.id})]
    assert sorted(open_now) == [200, 900]
    await assert_books_agree(db_session, member)


async def test_credit_paid_back_is_used_up_and_the_bank_rejecting_the_transfer_gives_it_back(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    mandate = await make_mandate(db_session, settings, member=member)
    await paid_then_credited(db_session, settings, member, cents=1234)
    today = local_today(settings.timezone)
    bank_before = await account(db_session, "1200")

    made = await credit.pay_back(
        db_session, actor=BOARD, settings=settings, member_id=member.id, on=today, data=CreditPayback()
    )

    [item] = await repository.payout_items(db_session, made.id)
    assert (item.amount_cents, item.iban, item.end_to_end_id) == (1234, mandate.iban, f"GH-{member.id}-1")
    assert made.due_on >= today
    assert await credit.balances(db_session, [member.id]) == {}
    assert await receivables(db_session, member) == 0
    assert await account(db_session, "1200") - bank_before == -1234
    await assert_books_agree(db_session, member)
    # Nothing left to pay back, and nothing for a payout made by hand either.
    with pytest.raises(Conflict) as refused:
        await credit.pay_back(
            db_session, actor=BOARD, settings=settings, member_id=member.id, on=today, data=CreditPayback()
        )
    assert refused.value.code == "credit_insufficient"
    by_hand = payout_instruction(member=member, cents=1, reference="GH-HAND-1")
    with pytest.raises(Conflict):
        await sepa.pay_out(
            db_session,
            actor=BOARD,
            settings=settings,
            instructions=[by_hand.model_copy(update={"liability": "receivables"})],
        )

    # The bank rejects the transfer: the booking is reversed and the credit is the member's again.
    report = pain002(TxStatus(item.end_to_end_id, "RJCT", "AC04"), of=made.content, group_status="PART")
    await status_reports.import_status_report(db_session, actor=BOARD, data=report)
    assert await credit.balances(db_session, [member.id]) == {member.id: 1234}
    assert await receivables(db_session, member) == -1234
    await assert_books_agree(db_session, member)
    again = await credit.pay_back(
        db_session,
        actor=BOARD,
        settings=settings,
        member_id=member.id,
        on=today,
        data=CreditPayback(amount_cents=1000, name="Erika Mustermann", iban=OTHER_IBAN),
    )
    [second] = await repository.payout_items(db_session, again.id)
    assert (second.amount_cents, second.iban, second.end_to_end_id) == (1000, OTHER_IBAN, f"GH-{member.id}-2")
    assert await credit.balances(db_session, [member.id]) == {member.id: 234}


async def test_paying_credit_back_is_the_boards_and_needs_an_account(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await paid_then_credited(db_session, settings, member, cents=500)
    board = await make_user(db_session, role=Role.BOARD)
    operator = await make_user(db_session, role=Role.OPERATOR)
    url = f"/api/v1/members/{member.id}/credit/payout"
    await db_session.commit()
    as_operator, as_board = await token_for(client, operator), await token_for(client, board)

    by_operator = await client.post(url, json={}, headers=as_operator)
    no_account = await client.post(url, json={}, headers=as_board)
    too_much = await client.post(url, json={"amount_cents": 501, "iban": OTHER_IBAN, "name": "Erika"}, headers=as_board)
    paid = await client.post(url, json={"iban": OTHER_IBAN, "name": "Erika"}, headers=as_board)

    assert by_operator.status_code == 403
    assert (no_account.status_code, no_account.json()["code"]) == (422, "credit_no_account")
    assert (too_much.status_code, too_much.json()["code"]) == (409, "credit_insufficient")
    assert paid.status_code == 201, paid.text
    assert (paid.json()["item_count"], paid.json()["total_cents"]) == (1, 500)


async def test_the_board_pays_credit_back_from_the_console(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_id = member.id
    await make_mandate(db_session, settings, member=member)
    await paid_then_credited(db_session, settings, member, cents=777)
    board = await make_user(db_session, role=Role.BOARD)
    operator = await make_user(db_session, role=Role.OPERATOR)
    board_email, operator_email = board.email, operator.email
    await db_session.commit()

    await web_login(client, operator_email)
    assert f"/console/payments/credit/{member_id}/payout" not in (await client.get("/console/payments")).text
    await web_login(client, board_email)
    token = await csrf_of(client, "/console/payments")
    done = await client.post(f"/console/payments/credit/{member_id}/payout", data={"csrf": token})

    assert done.status_code == 303, done.text
    assert "zur%C3%BCckgezahlt" in done.headers["location"] or "zurückgezahlt" in done.headers["location"]
    assert await credit.balances(db_session, [member_id]) == {}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE credit_applications SET amount_cents = amount_cents + 1",
        "DELETE FROM credit_applications",
        "TRUNCATE credit_applications",
    ],
)
async def test_the_database_refuses_to_change_a_use_of_credit(
    db_session: AsyncSession, settings: Settings, statement: str
) -> None:
    member = await make_member(db_session, settings)
    await make_invoice(db_session, member=member, gross_cents=900, issued_on=date(2026, 8, 1))
    await paid_then_credited(db_session, settings, member, cents=1000)
    [used] = await applications(db_session, member)

    with pytest.raises(DBAPIError, match="append-only"):
        async with db_session.begin_nested():
            await db_session.execute(sa.text(statement))

    assert (
        await db_session.scalar(sa.select(CreditApplication.amount_cents).where(CreditApplication.id == used.id))
    ) == 900


async def test_the_board_sees_open_items_by_days_past_due_and_the_members_credit(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    today = local_today(settings.timezone)
    owing, owed = await make_member(db_session, settings), await make_member(db_session, settings)
    for days_past_due, cents in ((-5, 1000), (10, 2000), (45, 3000), (75, 4000), (200, 5000)):
        due = today - timedelta(days=days_past_due)
        await make_invoice(db_session, member=owing, gross_cents=cents, issued_on=due - timedelta(days=14), due_on=due)
    await pay(db_session, owing, 500, on=today)  # part of the oldest: 4,500 left over 90 days
    await paid_then_credited(db_session, settings, owed, cents=1234)

    found = await open_items.aging(db_session, on=today, credit_cents=1234)

    assert found.not_due_cents == 1000
    assert found.overdue_cents == {"1-30": 2000, "31-60": 3000, "61-90": 4000, "91+": 4500}
    assert (found.invoices, found.credit_cents) == (5, 1234)
    board = await make_user(db_session, role=Role.BOARD)
    await web_login(client, board.email)
    page = await client.get("/board/billing")
    assert page.status_code == 200
    assert "Offene Posten nach Fälligkeit" in page.text
    assert "45,00\xa0€" in page.text and "-12,34\xa0€" in page.text
    assert "5 offene Rechnungen." in page.text
