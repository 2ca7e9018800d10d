"""API routes for invoices (members see their own) and bill runs (the board)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from app.auth.deps import ActorDep, BoardDep, SessionDep, SettingsDep, StaffDep
from app.kit.pagination import Page, PageParams, page_params
from app.kit.validation import IdPath, IdQuery
from billing.documents.service import sha256
from billing.invoices import billrun, documents, repository, service
from billing.invoices.models import BillRun, DocumentFormat, InvoiceKind, InvoiceStatus
from billing.invoices.schemas import BillRunCreate, BillRunOut, CreditNoteCreate, InvoiceDetail, InvoiceOut

router = APIRouter(tags=["invoices"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not found, or not yours"}}
PeriodQuery = Annotated[date | None, Query(ge=date(1900, 1, 1), le=date(2199, 12, 31))]


@router.get("/invoices", response_model=Page[InvoiceOut])
async def list_invoices(
    actor: ActorDep,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    number: Annotated[str | None, Query(max_length=24)] = None,
    member_id: IdQuery = None,
    period: PeriodQuery = None,
    status: InvoiceStatus | None = None,
    kind: InvoiceKind | None = None,
    bill_run_id: IdQuery = None,
) -> Page[InvoiceOut]:
    """The invoices the caller may see, newest first (a member: their own issued ones)."""
    items, total = await service.search_invoices(
        session,
        actor=actor,
        filters=repository.InvoiceFilter(
            number=number, member_id=member_id, period=period, status=status, kind=kind, bill_run_id=bill_run_id
        ),
        limit=page.limit,
        offset=page.offset,
    )
    return Page(items=[InvoiceOut.model_validate(i) for i in items], total=total, limit=page.limit, offset=page.offset)


@router.get("/invoices/{invoice_id}", response_model=InvoiceDetail, responses=NOT_FOUND)
async def get_invoice(actor: ActorDep, session: SessionDep, settings: SettingsDep, invoice_id: IdPath) -> InvoiceDetail:
    return await service.invoice_detail(session, actor=actor, settings=settings, invoice_id=invoice_id)


@router.get("/invoices/{invoice_id}/pdf", response_class=Response, responses=NOT_FOUND)
async def get_invoice_pdf(actor: ActorDep, session: SessionDep, settings: SettingsDep, invoice_id: IdPath) -> Response:
    """The invoice's PDF (PDF/A-3 with Factur-X): the stored one, rendered and stored on first request."""
    found = await service.get_invoice(session, actor=actor, invoice_id=invoice_id)
    content = await documents.stored_or_made(session, settings=settings, invoice=found, fmt=DocumentFormat.PDF)
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="rechnung-{found.number}.pdf"', "ETag": sha256(content)},
    )


@router.get(
    "/invoices/{invoice_id}/xrechnung",
    response_class=Response,
    responses={**NOT_FOUND, 409: {"description": "A consumer's invoice (`xrechnung_business_only`) or not issued"}},
)
async def get_invoice_xrechnung(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, invoice_id: IdPath
) -> Response:
    """The invoice as XRechnung 3.0 (CII XML) for a business member's e-invoicing; stored on first export.
    Invoices to consumers have none (409 ``xrechnung_business_only``)."""
    found = await service.get_invoice(session, actor=actor, invoice_id=invoice_id)
    content = await documents.stored_or_made(session, settings=settings, invoice=found, fmt=DocumentFormat.XML)
    return Response(
        content,
        media_type="application/xml",
        headers={
            "Content-Disposition": f'attachment; filename="xrechnung-{found.number}.xml"',
            "ETag": sha256(content),
        },
    )


@router.post("/invoices/{invoice_id}/credit-notes", response_model=InvoiceOut, status_code=201, responses=NOT_FOUND)
async def create_credit_note(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, invoice_id: IdPath, data: CreditNoteCreate
) -> InvoiceOut:
    """Correct an issued invoice (all lines, or those at ``positions``) by a credit note that names it."""
    note = await service.create_credit_note(session, actor=actor, settings=settings, invoice_id=invoice_id, data=data)
    return InvoiceOut.model_validate(note)


def _run_out(run: BillRun, by_service: dict[str, int]) -> BillRunOut:
    out = BillRunOut.model_validate(run)
    out.net_by_service = by_service
    return out


@router.post("/bill-runs", response_model=BillRunOut, status_code=201, tags=["bill runs"])
async def preview_bill_run(
    actor: BoardDep, session: SessionDep, settings: SettingsDep, data: BillRunCreate
) -> BillRunOut:
    """Preview a period's invoices as drafts (replacing any open preview)."""
    run = await billrun.preview(
        session, actor=actor, settings=settings, period=billrun.check_period(data.period), issue_on=data.issue_on
    )
    return _run_out(*await billrun.get_run(session, actor=actor, run_id=run.id))


@router.get("/bill-runs/{run_id}", response_model=BillRunOut, tags=["bill runs"], responses=NOT_FOUND)
async def get_bill_run(actor: BoardDep, session: SessionDep, run_id: IdPath) -> BillRunOut:
    """A run's counts, totals (by service) and timings."""
    return _run_out(*await billrun.get_run(session, actor=actor, run_id=run_id))


@router.post("/bill-runs/{run_id}/issue", response_model=BillRunOut, tags=["bill runs"], responses=NOT_FOUND)
async def issue_bill_run(actor: BoardDep, session: SessionDep, settings: SettingsDep, run_id: IdPath) -> BillRunOut:
    """Issue a previewed run: numbers, ledger postings, credits consumed, in one transaction."""
    await billrun.issue(session, actor=actor, settings=settings, run_id=run_id)
    return _run_out(*await billrun.get_run(session, actor=actor, run_id=run_id))
