"""API routes: a member's mandate and payments; staff's import of statements, notifications and status reports,
matching queue, manual payments, collection and payout files."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.auth.deps import ActorDep, BoardDep, SessionDep, SettingsDep, StaffDep
from app.kit.errors import Invalid, NotFound
from app.kit.pagination import Page, PageParams, page_params
from app.kit.time import local_today
from app.kit.validation import IdPath
from billing.payments import credit, mandates, repository, sepa, service, status_reports
from billing.payments.models import BankTransaction, Payment, PaymentAllocation, SepaFile, SepaFileKind
from billing.payments.schemas import (
    AllocationOut,
    CollectionRequest,
    CreditApplicationOut,
    CreditOut,
    CreditPayback,
    ImportReport,
    MandateCreate,
    MandateOut,
    ManualPayment,
    NotOurs,
    PaymentOut,
    PayoutInstruction,
    QueueAssignment,
    ReturnedDebitOut,
    SepaFileOut,
    StatusReportOut,
    TransactionOut,
)

router = APIRouter(tags=["payments"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not found, or not yours"}}
# A month of a small coop's account is some hundred kilobytes; far more is no statement (or report) of ours.
MAX_STATEMENT_BYTES = 20 * 1024 * 1024


async def _xml_body(request: Request, *, what: str, code: str) -> bytes:
    data = await request.body()
    if not data or len(data) > MAX_STATEMENT_BYTES:
        raise Invalid(f"Send the {what} file as the request body (at most 20 MB).", code=code)
    return data


def payment_out(payment: Payment, allocations: list[PaymentAllocation]) -> PaymentOut:
    return PaymentOut(
        id=payment.id,
        member_id=payment.member_id,
        amount_cents=payment.amount_cents,
        paid_on=payment.paid_on,
        method=payment.method,
        reference=payment.reference,
        allocations=[AllocationOut.model_validate(a) for a in allocations],
    )


def transaction_out(transaction: BankTransaction) -> TransactionOut:
    iban = transaction.counterparty_iban
    return TransactionOut(
        id=transaction.id,
        booking_date=transaction.booking_date,
        value_date=transaction.value_date,
        amount_cents=transaction.amount_cents,
        credit=transaction.credit,
        counterparty_name=transaction.counterparty_name,
        counterparty_iban_masked=mandates.mask_iban(iban) if iban else None,
        remittance=transaction.remittance,
        end_to_end_id=transaction.end_to_end_id,
        bank_reference=transaction.bank_reference,
        return_reason=transaction.return_reason,
        status=transaction.status,
        member_id=transaction.member_id,
        note=transaction.note,
    )


# --- a member's mandate and payments -----------------------------------------------------------------


@router.get("/members/{member_id}/mandate", response_model=MandateOut, responses=NOT_FOUND)
async def get_mandate(actor: ActorDep, session: SessionDep, settings: SettingsDep, member_id: IdPath) -> MandateOut:
    """The member's mandate that is not revoked (its IBAN masked); 404 if there is none."""
    mandate = await mandates.current(session, actor=actor, member_id=member_id)
    if mandate is None:
        raise NotFound("No mandate.", code="mandate_none")
    return mandates.out(mandate, local_today(settings.timezone))


@router.put("/members/{member_id}/mandate", response_model=MandateOut, status_code=201, responses=NOT_FOUND)
async def give_mandate(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, data: MandateCreate
) -> MandateOut:
    """A new mandate (the member's own, or one staff record from a signed form); it replaces the old one."""
    mandate = await mandates.give(session, actor=actor, settings=settings, member_id=member_id, data=data)
    return mandates.out(mandate, local_today(settings.timezone))


@router.delete("/members/{member_id}/mandate", response_model=MandateOut, responses=NOT_FOUND)
async def revoke_mandate(actor: ActorDep, session: SessionDep, settings: SettingsDep, member_id: IdPath) -> MandateOut:
    mandate = await mandates.revoke(session, actor=actor, settings=settings, member_id=member_id)
    return mandates.out(mandate, local_today(settings.timezone))


@router.get("/members/{member_id}/payments", response_model=list[PaymentOut], responses=NOT_FOUND)
async def list_member_payments(actor: ActorDep, session: SessionDep, member_id: IdPath) -> list[PaymentOut]:
    return [payment_out(p, a) for p, a in await service.payments_of(session, actor=actor, member_id=member_id)]


@router.get("/members/{member_id}/returned-debits", response_model=list[ReturnedDebitOut], responses=NOT_FOUND)
async def list_returned_debits(actor: ActorDep, session: SessionDep, member_id: IdPath) -> list[ReturnedDebitOut]:
    rows = await service.returned_debits_of(session, actor=actor, member_id=member_id)
    return [ReturnedDebitOut.model_validate(r) for r in rows]


@router.get("/members/{member_id}/credit", response_model=CreditOut, responses=NOT_FOUND)
async def get_credit(actor: ActorDep, session: SessionDep, member_id: IdPath) -> CreditOut:
    """The member's credit (Guthaben): money of theirs no invoice counts yet (the rest of a payment, an
    overpaid invoice), and where their credit went. The next bill run sets it off on their invoice."""
    return await credit.credit_of(session, actor=actor, member_id=member_id)


@router.post(
    "/members/{member_id}/credit/applications",
    response_model=list[CreditApplicationOut],
    status_code=201,
    responses=NOT_FOUND,
)
async def apply_credit(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, member_id: IdPath
) -> list[CreditApplicationOut]:
    """Use the member's credit now on their overdue invoices (and on any open one if they pay without a
    mandate), oldest first; an empty list when nothing could take it."""
    return await credit.apply_for(session, actor=actor, member_id=member_id, on=local_today(settings.timezone))


@router.post("/members/{member_id}/credit/payout", response_model=SepaFileOut, status_code=201, responses=NOT_FOUND)
async def pay_back_credit(
    actor: BoardDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, data: CreditPayback
) -> SepaFileOut:
    """Pay the member's credit back by credit transfer (a pain.001 of one transfer, booked receivables to
    bank): all of it unless an amount is given, to the account of their mandate unless one is given."""
    made = await credit.pay_back(
        session, actor=actor, settings=settings, member_id=member_id, on=local_today(settings.timezone), data=data
    )
    return SepaFileOut.model_validate(made)


# --- staff ---------------------------------------------------------------------------------------------


@router.post("/payments/statements", response_model=ImportReport)
async def import_statement(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, request: Request
) -> ImportReport:
    """Import a camt.053 statement or a camt.054 notification (the transactions of a batch booking) sent as the
    request body (``application/xml``); importing it again creates nothing, nor does an entry the bank reported
    in the other kind of report before (``covered``)."""
    data = await _xml_body(request, what="camt.053 or camt.054", code="camt_invalid")
    return await service.import_statement(session, actor=actor, settings=settings, data=data)


@router.post("/payments/status-reports", response_model=StatusReportOut, responses=NOT_FOUND)
async def import_status_report(actor: StaffDep, session: SessionDep, request: Request) -> StatusReportOut:
    """Import the bank's pain.002 status report for one of our files, sent as the request body
    (``application/xml``): what it rejected is open (a debit) or due (a payout) again; importing it again
    changes nothing (``known``). 404 if no file of ours has its original message id."""
    data = await _xml_body(request, what="pain.002", code="pain002_invalid")
    return await status_reports.import_status_report(session, actor=actor, data=data)


@router.get("/payments/queue", response_model=Page[TransactionOut])
async def list_queue(
    actor: StaffDep, session: SessionDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[TransactionOut]:
    """Transactions matching could not book, oldest first."""
    rows, total = await service.queue(session, actor=actor, limit=page.limit, offset=page.offset)
    return Page(items=[transaction_out(t) for t in rows], total=total, limit=page.limit, offset=page.offset)


@router.post("/payments/queue/{transaction_id}/assignment", response_model=PaymentOut, responses=NOT_FOUND)
async def assign_transaction(
    actor: StaffDep, session: SessionDep, transaction_id: IdPath, data: QueueAssignment
) -> PaymentOut:
    payment = await service.assign(session, actor=actor, transaction_id=transaction_id, data=data)
    allocations = await repository.allocations_of(session, [payment.id])
    return payment_out(payment, allocations.get(payment.id, []))


@router.post("/payments/queue/{transaction_id}/not-ours", response_model=TransactionOut, responses=NOT_FOUND)
async def not_ours(actor: StaffDep, session: SessionDep, transaction_id: IdPath, data: NotOurs) -> TransactionOut:
    transaction = await service.mark_not_ours(session, actor=actor, transaction_id=transaction_id, note=data.note)
    return transaction_out(transaction)


@router.post("/payments/manual", response_model=PaymentOut, status_code=201)
async def record_manual_payment(actor: StaffDep, session: SessionDep, data: ManualPayment) -> PaymentOut:
    payment = await service.record_manual(session, actor=actor, data=data)
    allocations = await repository.allocations_of(session, [payment.id])
    return payment_out(payment, allocations.get(payment.id, []))


@router.post("/payments/collections", response_model=list[SepaFileOut], status_code=201)
async def collect(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, requests: list[CollectionRequest]
) -> list[SepaFileOut]:
    """pain.008 files for these invoices, one per collection date and sequence type."""
    files = await sepa.collect(session, actor=actor, settings=settings, requests=requests)
    return [SepaFileOut.model_validate(f) for f in files]


@router.post("/payments/payouts", response_model=SepaFileOut, status_code=201)
async def pay_out(
    actor: BoardDep, session: SessionDep, settings: SettingsDep, instructions: list[PayoutInstruction]
) -> SepaFileOut:
    """A pain.001 file for these payouts, each booked off the liability it settles."""
    return SepaFileOut.model_validate(
        await sepa.pay_out(session, actor=actor, settings=settings, instructions=instructions)
    )


@router.get("/payments/files", response_model=list[SepaFileOut])
async def list_files(
    actor: StaffDep,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    kind: SepaFileKind | None = None,
) -> list[SepaFileOut]:
    rows = await repository.files(session, kind=kind, limit=page.limit, offset=page.offset)
    return [SepaFileOut.model_validate(f) for f in rows]


@router.get("/payments/files/{file_id}/xml", responses=NOT_FOUND)
async def download_file(actor: StaffDep, session: SessionDep, file_id: IdPath) -> Response:
    """The file exactly as stored (and as its SHA-256 says), to hand to the bank."""
    stored = await repository.file(session, file_id)
    if stored is None:
        raise NotFound(f"SEPA file {file_id} not found.", code="sepa_file_not_found")
    return file_download(stored)


def file_download(stored: SepaFile) -> Response:
    """A stored SEPA file as a download named after its schema and message id."""
    return Response(
        stored.content,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{stored.schema}-{stored.message_id}.xml"'},
    )
