"""Every query of the payments package."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments.models import (
    BankStatement,
    BankTransaction,
    CollectionItem,
    ItemStatus,
    Mandate,
    Payment,
    PaymentAllocation,
    PayoutItem,
    ReportKind,
    ReturnedDebit,
    SepaFile,
    SepaFileKind,
    SepaStatusReport,
    TransactionStatus,
)

Item = TypeVar("Item", CollectionItem, PayoutItem)


async def active_mandate(session: AsyncSession, member_id: int, *, lock: bool = False) -> Mandate | None:
    query = sa.select(Mandate).where(Mandate.member_id == member_id, Mandate.revoked_on.is_(None))
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def mandate(session: AsyncSession, mandate_id: int, *, lock: bool = False) -> Mandate | None:
    query = sa.select(Mandate).where(Mandate.id == mandate_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def mandate_use(session: AsyncSession, mandate_id: int) -> date | None:
    """The last collection date of the mandate's direct debits that the bank did not reject (None: unused)."""
    query = sa.select(sa.func.max(CollectionItem.collection_date)).where(
        CollectionItem.mandate_id == mandate_id, CollectionItem.status != ItemStatus.REJECTED
    )
    return (await session.execute(query)).scalar_one_or_none()


async def mandates_of(session: AsyncSession, member_id: int) -> list[Mandate]:
    query = sa.select(Mandate).where(Mandate.member_id == member_id).order_by(Mandate.id.desc())
    return list((await session.execute(query)).scalars())


async def mandate_count(session: AsyncSession, member_id: int) -> int:
    query = sa.select(sa.func.count()).select_from(Mandate).where(Mandate.member_id == member_id)
    return int((await session.execute(query)).scalar_one())


async def active_mandates(
    session: AsyncSession, member_ids: Collection[int], *, lock: bool = True
) -> dict[int, Mandate]:
    query = sa.select(Mandate).where(Mandate.member_id.in_(list(member_ids)), Mandate.revoked_on.is_(None))
    if lock:
        query = query.with_for_update()
    return {m.member_id: m for m in (await session.execute(query)).scalars()}


async def pending_collections(session: AsyncSession, end_to_end_ids: Collection[str]) -> set[str]:
    """The end-to-end ids among ``end_to_end_ids`` already submitted or collected (not returned or rejected)."""
    query = sa.select(CollectionItem.end_to_end_id).where(
        CollectionItem.end_to_end_id.in_(list(end_to_end_ids)),
        CollectionItem.status.not_in((ItemStatus.RETURNED, ItemStatus.REJECTED)),
    )
    return set((await session.execute(query)).scalars())


async def collected_invoices(session: AsyncSession, invoice_ids: Collection[int]) -> set[int]:
    """The invoices among ``invoice_ids`` that a collection item names already (whatever became of it, unless
    the bank rejected it: then nothing was collected)."""
    query = sa.select(CollectionItem.invoice_id).where(
        CollectionItem.invoice_id.in_(list(invoice_ids)), CollectionItem.status != ItemStatus.REJECTED
    )
    return {int(i) for i in (await session.execute(query)).scalars() if i is not None}


async def collections_by_e2e(session: AsyncSession, end_to_end_ids: Collection[str]) -> dict[str, CollectionItem]:
    """The latest collection item for each end-to-end id."""
    query = (
        sa.select(CollectionItem)
        .where(CollectionItem.end_to_end_id.in_(list(end_to_end_ids)))
        .order_by(CollectionItem.id)
    )
    return {item.end_to_end_id: item for item in (await session.execute(query)).scalars()}


async def payouts_by_e2e(session: AsyncSession, end_to_end_ids: Collection[str]) -> dict[str, PayoutItem]:
    """The latest payout item for each end-to-end id (a rejected payout is paid again under its id)."""
    query = sa.select(PayoutItem).where(PayoutItem.end_to_end_id.in_(list(end_to_end_ids))).order_by(PayoutItem.id)
    return {item.end_to_end_id: item for item in (await session.execute(query)).scalars()}


async def known_payout_refs(session: AsyncSession, refs: Collection[str]) -> set[str]:
    """The references among ``refs`` paid out already: in a file, and not rejected by the bank."""
    query = sa.select(PayoutItem.end_to_end_id).where(
        PayoutItem.end_to_end_id.in_(list(refs)), PayoutItem.status != ItemStatus.REJECTED
    )
    return set((await session.execute(query)).scalars())


async def files(session: AsyncSession, *, kind: SepaFileKind | None, limit: int, offset: int) -> list[SepaFile]:
    query = sa.select(SepaFile).order_by(SepaFile.id.desc()).limit(limit).offset(offset)
    if kind is not None:
        query = query.where(SepaFile.kind == kind)
    return list((await session.execute(query)).scalars())


async def files_paying(session: AsyncSession, end_to_end_ids: sa.Select[str]) -> list[SepaFile]:
    """The credit transfer files with a payout of ``end_to_end_ids`` (a query), newest first, without content."""
    paying = sa.select(PayoutItem.file_id).where(PayoutItem.end_to_end_id.in_(end_to_end_ids))
    query = (
        sa.select(SepaFile)
        .where(SepaFile.id.in_(paying))
        .options(sa.orm.defer(SepaFile.content, raiseload=True))
        .order_by(SepaFile.id.desc())
    )
    return list((await session.execute(query)).scalars())


async def file(session: AsyncSession, file_id: int) -> SepaFile | None:
    return await session.get(SepaFile, file_id)


async def file_by_message_id(session: AsyncSession, message_id: str, *, lock: bool = False) -> SepaFile | None:
    query = sa.select(SepaFile).where(SepaFile.message_id == message_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def collection_items(session: AsyncSession, file_id: int, *, lock: bool = False) -> list[CollectionItem]:
    query = sa.select(CollectionItem).where(CollectionItem.file_id == file_id).order_by(CollectionItem.id)
    if lock:
        query = query.with_for_update()
    return list((await session.execute(query)).scalars())


async def payout_items(session: AsyncSession, file_id: int, *, lock: bool = False) -> list[PayoutItem]:
    query = sa.select(PayoutItem).where(PayoutItem.file_id == file_id).order_by(PayoutItem.id)
    if lock:
        query = query.with_for_update()
    return list((await session.execute(query)).scalars())


async def status_report_by_sha256(session: AsyncSession, sha256: str) -> SepaStatusReport | None:
    query = sa.select(SepaStatusReport).where(SepaStatusReport.sha256 == sha256)
    return (await session.execute(query)).scalar_one_or_none()


async def status_reports(session: AsyncSession, *, limit: int, offset: int) -> list[tuple[SepaStatusReport, str]]:
    """The status reports newest first, each with the message id of the file it answers, without content."""
    query = (
        sa.select(SepaStatusReport, SepaFile.message_id)
        .join(SepaFile, SepaFile.id == SepaStatusReport.file_id)
        .options(sa.orm.defer(SepaStatusReport.content, raiseload=True))
        .order_by(SepaStatusReport.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(report, str(message_id)) for report, message_id in (await session.execute(query)).all()]


async def batch_items(
    session: AsyncSession, *, credit: bool, batch_id: str | None = None, message_id: str | None = None
) -> list[CollectionItem] | list[PayoutItem]:
    """The items (locked) of our batch ``batch_id`` (its PmtInfId), or else of our file ``message_id``: direct
    debits for money in (``credit``), payouts for money out."""
    if credit:
        return await _batch_items(session, CollectionItem, batch_id=batch_id, message_id=message_id)
    return await _batch_items(session, PayoutItem, batch_id=batch_id, message_id=message_id)


async def _batch_items(
    session: AsyncSession, kind: type[Item], *, batch_id: str | None, message_id: str | None
) -> list[Item]:
    query = sa.select(kind).order_by(kind.id).with_for_update(of=kind)
    if batch_id is not None:
        query = query.where(kind.batch_id == batch_id)
    else:
        query = query.join(SepaFile, SepaFile.id == kind.file_id).where(SepaFile.message_id == message_id)
    return list((await session.execute(query)).scalars())


async def outstanding_collection_batches(
    session: AsyncSession, *, collected_from: date, collected_to: date
) -> dict[str, list[CollectionItem]]:
    """Our direct debit batches with items still submitted whose collection date lies in the range: those items
    (locked) by batch id."""
    query = (
        sa.select(CollectionItem)
        .where(
            CollectionItem.status == ItemStatus.SUBMITTED,
            CollectionItem.batch_id.is_not(None),
            CollectionItem.collection_date.between(collected_from, collected_to),
        )
        .order_by(CollectionItem.id)
        .with_for_update()
    )
    found: dict[str, list[CollectionItem]] = {}
    for item in (await session.execute(query)).scalars():
        found.setdefault(str(item.batch_id), []).append(item)
    return found


async def statement(
    session: AsyncSession, *, account_iban: str, kind: ReportKind, statement_id: str
) -> BankStatement | None:
    query = sa.select(BankStatement).where(
        BankStatement.account_iban == account_iban,
        BankStatement.kind == kind,
        BankStatement.statement_id == statement_id,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def entry_transactions(
    session: AsyncSession, *, references: Collection[str], batch_ids: Collection[str]
) -> list[tuple[BankTransaction, BankStatement]]:
    """The transactions (locked) of entries with one of the bank's entry ``references`` or ``batch_ids``, each
    with the report it came in (without its content)."""
    if not references and not batch_ids:
        return []
    query = (
        sa.select(BankTransaction, BankStatement)
        .join(BankStatement, BankStatement.id == BankTransaction.statement_id)
        .where(
            sa.or_(BankTransaction.entry_reference.in_(list(references)), BankTransaction.batch_id.in_(list(batch_ids)))
        )
        .options(sa.orm.defer(BankStatement.content, raiseload=True))
        .order_by(BankTransaction.id)
        .with_for_update(of=BankTransaction)
    )
    return [(transaction, report) for transaction, report in (await session.execute(query)).all()]


async def known_fingerprints(session: AsyncSession, fingerprints: Collection[str]) -> set[str]:
    query = sa.select(BankTransaction.fingerprint).where(BankTransaction.fingerprint.in_(list(fingerprints)))
    return set((await session.execute(query)).scalars())


async def transaction(session: AsyncSession, transaction_id: int, *, lock: bool = False) -> BankTransaction | None:
    query = sa.select(BankTransaction).where(BankTransaction.id == transaction_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def transactions(
    session: AsyncSession, *, statuses: Collection[TransactionStatus] | None, limit: int, offset: int
) -> tuple[list[BankTransaction], int]:
    where = sa.true() if statuses is None else BankTransaction.status.in_(list(statuses))
    total = int(
        (await session.execute(sa.select(sa.func.count()).select_from(BankTransaction).where(where))).scalar_one()
    )
    query = (
        sa.select(BankTransaction)
        .where(where)
        .order_by(BankTransaction.booking_date, BankTransaction.id)
        .limit(limit)
        .offset(offset)
    )
    return list((await session.execute(query)).scalars()), total


async def payments_of(session: AsyncSession, member_id: int) -> list[tuple[Payment, list[PaymentAllocation]]]:
    payments = list(
        (
            await session.execute(
                sa.select(Payment).where(Payment.member_id == member_id).order_by(Payment.paid_on.desc(), Payment.id)
            )
        ).scalars()
    )
    allocations = await allocations_of(session, [p.id for p in payments])
    return [(p, allocations.get(p.id, [])) for p in payments]


async def allocations_of(session: AsyncSession, payment_ids: Collection[int]) -> dict[int, list[PaymentAllocation]]:
    found: dict[int, list[PaymentAllocation]] = {}
    if not payment_ids:
        return found
    query = (
        sa.select(PaymentAllocation)
        .where(PaymentAllocation.payment_id.in_(list(payment_ids)))
        .order_by(PaymentAllocation.id)
    )
    for allocation in (await session.execute(query)).scalars():
        found.setdefault(allocation.payment_id, []).append(allocation)
    return found


async def returned_debits_of(session: AsyncSession, member_id: int) -> list[ReturnedDebit]:
    query = sa.select(ReturnedDebit).where(ReturnedDebit.member_id == member_id).order_by(ReturnedDebit.id.desc())
    return list((await session.execute(query)).scalars())
