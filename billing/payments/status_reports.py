"""The bank's pain.002 status reports applied to our files: what it rejected before booking anything.

A report names the file it answers by that file's message id; it is stored once (by SHA-256: the same report
again changes nothing and says so) and applied to the file's items still submitted:

* a rejected **direct debit** is ``rejected``: no money moved, so nothing is booked and no fee charged; the
  invoice's open amount never changed, and a rejected item no longer counts as being collected
  (``repository.pending_collections``, ``collected_invoices``), so the invoice is dunned and collected again
  like any open one. A mandate-ending reason (``service.MANDATE_ENDING_REASONS``) ends the item's mandate, as
  a returned debit does; any other rejection undoes the item's use of the mandate: a rejected first debit
  (FRST) leaves the mandate to be used first again (FRST), and its last collection is that of the items not
  rejected.
* a rejected **payout** is ``rejected``: ``sepa.pay_out`` booked it (liability → bank) when the file was made,
  so that entry is reversed (``ledger.reverse_source``) and the liability is due again; it no longer counts as
  paid (``repository.known_payout_refs``), so the next pay-out pays it again under the same end-to-end id,
  once (a partial unique index allows one payout per id that was not rejected). ``PayoutRejected`` is
  announced for the source to follow (dividends hands a capital payout over again). A mandate-ending reason
  ends the member's mandate if it is for the account the payout went to.

Every other status (the file or transactions accepted, pending, ...) is only recorded. An item already
booked by the bank (``collected``, ``returned``) or rejected before is left as it is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.errors import Invalid, NotFound
from app.kit.events import publish
from billing.ledger import service as ledger
from billing.ledger.models import SourceKind
from billing.payments import pain002, repository, service
from billing.payments.models import (
    CollectionItem,
    ItemStatus,
    PayoutItem,
    SepaFile,
    SepaFileKind,
    SepaStatusReport,
    SequenceType,
)
from billing.payments.schemas import RejectionOut, StatusReportOut

# The message a report must answer for each kind of file (pain.002's OrgnlMsgNmId, when the bank gives it).
_MESSAGES = {SepaFileKind.DIRECT_DEBIT: "pain.008", SepaFileKind.CREDIT_TRANSFER: "pain.001"}


@dataclass(frozen=True, slots=True)
class PayoutRejected:
    """The bank rejected a payout before paying it (announced in the import's transaction); its booking is
    reversed already, so the source it pays (``end_to_end_id``: ``DIV-…``, ``CAP-…``) is due again."""

    end_to_end_id: str
    member_id: int
    amount_cents: int
    actor: Actor


async def _file(session: AsyncSession, report: pain002.StatusReport) -> SepaFile:
    sepa_file = await repository.file_by_message_id(session, report.original_message_id, lock=True)
    if sepa_file is None:
        raise NotFound(f"No file of ours has the message id {report.original_message_id}.", code="pain002_unknown_file")
    expected = _MESSAGES[sepa_file.kind]
    if report.original_message_name and not report.original_message_name.startswith(expected):
        raise Invalid(
            f"The report answers a {report.original_message_name}, but file {sepa_file.message_id} is a {expected}.",
            code="pain002_other_message",
        )
    return sepa_file


async def _reject_payout(
    session: AsyncSession, *, actor: Actor, item: PayoutItem, rejection: pain002.Rejection, report: pain002.StatusReport
) -> None:
    reason = rejection.reason.code or "ohne Grund"
    await ledger.reverse_source(
        session,
        actor=actor,
        kind=SourceKind.PAYOUT,
        source_id=str(item.id),
        reversed_on=report.created_on,
        text=f"Storno Auszahlung {item.end_to_end_id}: von der Bank abgelehnt ({reason})",
    )
    await service.end_mandate_for(
        session, member_id=item.member_id, reason=rejection.reason.code, on=report.created_on, iban=item.iban
    )


async def _unuse_mandate(session: AsyncSession, item: CollectionItem) -> None:
    """A rejected debit did not use its mandate: the mandate's sequence and last collection are what its other
    items (not rejected) make them. A first debit (FRST) rejected leaves the mandate unused, so the next
    debit is FRST again; and a rejected debit does not keep the mandate from lapsing (36 months unused)."""
    await session.flush()
    mandate = await repository.mandate(session, item.mandate_id, lock=True)
    if mandate is None:
        return
    used = await repository.mandate_use(session, mandate.id)
    if used is None:
        mandate.sequence = SequenceType.FRST
        mandate.last_collected_on = None
    else:
        mandate.last_collected_on = used


async def _apply(
    session: AsyncSession,
    *,
    actor: Actor,
    report: pain002.StatusReport,
    items: dict[str, CollectionItem | PayoutItem],
    rejections: list[pain002.Rejection],
) -> list[CollectionItem | PayoutItem]:
    """Reject the items still submitted that ``rejections`` name; returns them."""
    applied: list[CollectionItem | PayoutItem] = []
    for rejection in rejections:
        item = items[rejection.end_to_end_id]
        if item.status is not ItemStatus.SUBMITTED:
            continue
        item.status = ItemStatus.REJECTED
        applied.append(item)
        if isinstance(item, CollectionItem):
            ended = await service.end_mandate_for(
                session,
                member_id=item.member_id,
                reason=rejection.reason.code,
                on=report.created_on,
                mandate_id=item.mandate_id,
            )
            if ended is None:
                await _unuse_mandate(session, item)
        else:
            await _reject_payout(session, actor=actor, item=item, rejection=rejection, report=report)
    await session.flush()
    return applied


async def import_status_report(session: AsyncSession, *, actor: Actor, data: bytes) -> StatusReportOut:
    """Import a pain.002 file and apply what it rejected (module docstring).

    Refusals: not a pain.002 (``pain002_invalid``); no file of ours with its original message id
    (``pain002_unknown_file``, 404); a report on another kind of message (``pain002_other_message``); a
    transaction or batch the file does not hold (``pain002_unknown_transaction``)."""
    actor.require(Role.OPERATOR, Role.BOARD)
    report = pain002.parse(data)
    sepa_file = await _file(session, report)
    listed: list[CollectionItem] | list[PayoutItem]
    if sepa_file.kind is SepaFileKind.DIRECT_DEBIT:
        listed = await repository.collection_items(session, sepa_file.id, lock=True)
    else:
        listed = await repository.payout_items(session, sepa_file.id, lock=True)
    items: dict[str, CollectionItem | PayoutItem] = {item.end_to_end_id: item for item in listed}
    rejections = pain002.rejections(report, batches=pain002.batches_of(sepa_file.content), end_to_end_ids=items)
    sha256 = hashlib.sha256(data).hexdigest()
    stored = await repository.status_report_by_sha256(session, sha256)
    known = stored is not None
    applied: list[CollectionItem | PayoutItem] = []
    if stored is None:
        with action(session, "payments.import_status_report"):
            applied = await _apply(session, actor=actor, report=report, items=items, rejections=rejections)
            stored = SepaStatusReport(
                file_id=sepa_file.id,
                message_id=report.message_id,
                created_on=report.created_on,
                group_status=report.group_status,
                sha256=sha256,
                content=data,
                transaction_count=len(report.lines),
                rejected_count=len(applied),
            )
            session.add(stored)
            await session.flush()
        rejected_payouts = [item for item in applied if isinstance(item, PayoutItem)]
        await publish(
            session,
            *(
                PayoutRejected(
                    end_to_end_id=i.end_to_end_id, member_id=i.member_id, amount_cents=i.amount_cents, actor=actor
                )
                for i in rejected_payouts
            ),
        )
    return StatusReportOut(
        id=stored.id,
        file_id=sepa_file.id,
        original_message_id=sepa_file.message_id,
        message_id=report.message_id,
        created_on=report.created_on,
        group_status=report.group_status,
        known=known,
        transactions=len(report.lines),
        rejected=len(applied),
        unchanged=len(rejections) - len(applied),
        rejections=[
            RejectionOut(
                end_to_end_id=r.end_to_end_id,
                member_id=items[r.end_to_end_id].member_id,
                amount_cents=items[r.end_to_end_id].amount_cents,
                reason_code=r.reason.code,
                reason_info=r.reason.info,
                item_status=items[r.end_to_end_id].status,
            )
            for r in rejections
        ],
    )
