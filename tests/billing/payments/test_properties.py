"""Property: after any sequence of invoices, statements (payments naming invoices with any amount, unclaimed
money, direct debits and their returns, the same statement again), operator assignments, credit notes and
uses of the members' credit, the books balance, every member's receivables equal invoices − credit notes +
returns + fees − payments, and what the seam says is open less the member's credit differs from what the
books say the member owes by exactly the returned-debit fees (which no invoice carries)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit.service import bind_actor
from app.kit.errors import DomainError
from app.settings import Settings
from billing.invoices import service as invoices_service
from billing.invoices.schemas import CreditNoteCreate
from billing.ledger import service as ledger
from billing.ledger.models import SystemAccount
from billing.payments import credit, open_items, sepa, service
from billing.payments.schemas import CollectionRequest, QueueAssignment
from tests.billing.payments.builders import Booking, camt053, make_invoice, make_mandate
from tests.builders import BOARD, make_member

pytestmark = pytest.mark.postgres
MEMBERS = 2


@dataclass(frozen=True)
class Invoice:
    member: int
    cents: int


@dataclass(frozen=True)
class Pay:
    invoices: tuple[int, ...]  # indexes into the invoices issued so far
    cents: int


@dataclass(frozen=True)
class Unclaimed:
    cents: int
    assign_to: int | None


@dataclass(frozen=True)
class Collect:
    invoice: int
    returned: str | None  # a SEPA reason code, or collected fine


@dataclass(frozen=True)
class ImportAgain:
    pass


@dataclass(frozen=True)
class CreditNote:
    invoice: int


@dataclass(frozen=True)
class UseCredit:
    pass


cents = st.integers(min_value=1, max_value=20_000)
operations = st.lists(
    st.one_of(
        st.builds(Invoice, member=st.integers(0, MEMBERS - 1), cents=cents),
        st.builds(Pay, invoices=st.lists(st.integers(0, 5), min_size=1, max_size=3).map(tuple), cents=cents),
        st.builds(Unclaimed, cents=cents, assign_to=st.one_of(st.none(), st.integers(0, MEMBERS - 1))),
        st.builds(Collect, invoice=st.integers(0, 5), returned=st.sampled_from([None, "AM04", "MD06"])),
        st.just(ImportAgain()),
        st.builds(CreditNote, invoice=st.integers(0, 5)),
        st.just(UseCredit()),
    ),
    min_size=1,
    max_size=10,
)


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
async def test_the_books_balance_after_any_sequence_of_payments(
    engine: AsyncEngine, settings: Settings, ops: list[object]
) -> None:
    async with engine.connect() as connection:
        outer = await connection.begin()
        session = AsyncSession(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
        try:
            bind_actor(session, BOARD)
            members = [await make_member(session, settings, paid_cents=0) for _ in range(MEMBERS)]
            for member in members:
                await make_mandate(session, settings, member=member)
            invoices: list[tuple[str, int]] = []  # number, member index
            statements = 0
            last: bytes | None = None

            async def read(data: bytes) -> None:
                nonlocal last
                last = data
                await service.import_statement(session, actor=BOARD, settings=settings, data=data)

            for op in ops:
                statements += 1
                sid = f"S{statements}"
                if isinstance(op, Invoice):
                    number = f"2026-{len(invoices) + 1:06d}"
                    await make_invoice(session, member=members[op.member], number=number, gross_cents=op.cents)
                    invoices.append((number, op.member))
                elif isinstance(op, Pay) and invoices:
                    named = " ".join(invoices[i % len(invoices)][0] for i in op.invoices)
                    await read(camt053(Booking(f"{op.cents / 100:.2f}", remittance=named), statement_id=sid))
                elif isinstance(op, Unclaimed):
                    await read(camt053(Booking(f"{op.cents / 100:.2f}", remittance="Danke"), statement_id=sid))
                    if op.assign_to is not None:
                        waiting, _ = await service.queue(session, actor=BOARD, limit=500, offset=0)
                        for transaction in waiting:
                            if transaction.credit:
                                await service.assign(
                                    session,
                                    actor=BOARD,
                                    transaction_id=transaction.id,
                                    data=QueueAssignment(member_id=members[op.assign_to].id),
                                )
                elif isinstance(op, Collect) and invoices:
                    number, owner = invoices[op.invoice % len(invoices)]
                    [item] = await open_items.open_items(session, numbers={number}) or [None]
                    if item is None or await _pending(session, number):
                        continue
                    request = CollectionRequest(
                        member_id=members[owner].id,
                        amount_cents=item.open_cents,
                        end_to_end_id=number,
                        remittance=f"Rechnung {number}",
                        collection_date=date(2026, 11, 16),
                    )
                    await sepa.collect(session, actor=BOARD, settings=settings, requests=[request])
                    amount = f"{item.open_cents / 100:.2f}"
                    await read(camt053(batches=[[Booking(amount, end_to_end_id=number)]], statement_id=sid + "c"))
                    if op.returned:
                        back = Booking(amount, credit=False, end_to_end_id=number, return_reason=op.returned)
                        await read(camt053(back, statement_id=sid + "r"))
                elif isinstance(op, ImportAgain) and last is not None:
                    await read(last)
                elif isinstance(op, CreditNote) and invoices:
                    number, _ = invoices[op.invoice % len(invoices)]
                    with contextlib.suppress(DomainError):  # credited before
                        await invoices_service.create_credit_note(
                            session,
                            actor=BOARD,
                            settings=settings,
                            invoice_id=await _invoice_id(session, number),
                            data=CreditNoteCreate(reason="Storno"),
                        )
                elif isinstance(op, UseCredit):
                    await credit.apply(session, actor=BOARD, on=date(2026, 12, 31))

            trial = await ledger.trial_balance(session, actor=BOARD)
            assert trial.balance_cents == 0
            for member in members:
                owed = await _receivable_balance(session, member.id)
                listed = sum(i.open_cents for i in await open_items.open_items(session, member_ids={member.id}))
                has = (await credit.balances(session, [member.id])).get(member.id, 0)
                assert has >= 0
                # What is open less the member's credit (money no invoice took, overpaid invoices) is what
                # the books say is owed, less the returned-debit fees.
                assert listed - has == owed - await _fees(session, member.id)
                assert owed == await _expected_receivables(session, member.id)
                # No source was used beyond its amount, no invoice got more credit than was open on it.
                assert all(
                    s.cents > 0 for found in (await credit.sources(session, [member.id])).values() for s in found
                )
        finally:
            await session.close()
            await outer.rollback()


async def _pending(session: AsyncSession, number: str) -> bool:
    from billing.payments import repository

    return bool(await repository.pending_collections(session, [number]))


async def _receivable_balance(session: AsyncSession, member_id: int) -> int:
    balances = await ledger.member_balances(session, actor=BOARD, member_id=member_id)
    receivables = (await ledger.system_account_codes(session))[SystemAccount.RECEIVABLES]
    return sum(a.balance_cents for a in balances.accounts if a.code == receivables)


async def _invoice_id(session: AsyncSession, number: str) -> int:
    from billing.invoices.models import Invoice as IssuedInvoice

    return int((await session.scalars(sa.select(IssuedInvoice.id).where(IssuedInvoice.number == number))).one())


async def _fees(session: AsyncSession, member_id: int) -> int:
    from billing.payments.models import ReturnedDebit

    fees = await session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(ReturnedDebit.fee_cents), 0)).where(ReturnedDebit.member_id == member_id)
    )
    return int(fees or 0)


async def _expected_receivables(session: AsyncSession, member_id: int) -> int:
    """Invoices − credit notes + returned debits + their fees − payments, from the payments tables and the
    invoice table."""
    from billing.invoices.models import Invoice as IssuedInvoice
    from billing.invoices.models import InvoiceKind
    from billing.payments.models import Payment, ReturnedDebit

    invoiced = await session.scalar(
        sa.select(
            sa.func.coalesce(
                sa.func.sum(
                    sa.case(
                        (IssuedInvoice.kind == InvoiceKind.CREDIT_NOTE, -IssuedInvoice.amount_due_cents),
                        else_=IssuedInvoice.amount_due_cents,
                    )
                ),
                0,
            )
        ).where(IssuedInvoice.member_id == member_id)
    )
    paid = (
        await session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(Payment.amount_cents), 0)).where(Payment.member_id == member_id)
        )
    ).scalar_one()
    returned = (
        await session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(ReturnedDebit.amount_cents + ReturnedDebit.fee_cents), 0)).where(
                ReturnedDebit.member_id == member_id
            )
        )
    ).scalar_one()
    return int(invoiced) - int(paid) + int(returned)
