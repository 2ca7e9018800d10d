"""API routes for the books: chart of accounts, journal, trial balance, the accountant's export (board only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from app.auth.deps import BoardDep, SessionDep
from app.kit.errors import Invalid
from app.kit.pagination import Page, PageParams, page_params
from app.kit.validation import DateQuery, IdPath, IdQuery
from billing.ledger import export, repository, service
from billing.ledger.models import SourceKind
from billing.ledger.schemas import (
    AccountOut,
    EntryDraft,
    EntryOut,
    ManualEntryCreate,
    ReversalCreate,
    TrialBalance,
)

router = APIRouter(prefix="/ledger", tags=["ledger"])

AccountQuery = Annotated[str | None, Query(pattern=r"^[0-9]{4,8}$")]
FromQuery = Annotated[date | None, Query(alias="from", ge=date(1900, 1, 1), le=date(2199, 12, 31))]
ToQuery = Annotated[date | None, Query(alias="to", ge=date(1900, 1, 1), le=date(2199, 12, 31))]


@router.get("/accounts", response_model=list[AccountOut])
async def list_accounts(actor: BoardDep, session: SessionDep) -> list[AccountOut]:
    """The chart of accounts, by code."""
    return [AccountOut.model_validate(a) for a in await service.list_accounts(session, actor=actor)]


@router.get("/trial-balance", response_model=TrialBalance)
async def trial_balance(actor: BoardDep, session: SessionDep, on: DateQuery = None) -> TrialBalance:
    """Every account's debit and credit totals and balance up to and including ``on`` (default: everything)."""
    return await service.trial_balance(session, actor=actor, on=on)


@router.get("/entries", response_model=Page[EntryOut])
async def list_entries(
    actor: BoardDep,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    date_from: FromQuery = None,
    date_to: ToQuery = None,
    source_kind: SourceKind | None = None,
    account: AccountQuery = None,
    member_id: IdQuery = None,
) -> Page[EntryOut]:
    """The journal in booking order, with each entry's lines; filter by period, source, account or member."""
    items, total = await service.search_entries(
        session,
        actor=actor,
        filters=repository.EntryFilter(
            date_from=date_from, date_to=date_to, source_kind=source_kind, account_code=account, member_id=member_id
        ),
        limit=page.limit,
        offset=page.offset,
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("/entries", response_model=EntryOut, status_code=201)
async def post_manual_entry(actor: BoardDep, session: SessionDep, data: ManualEntryCreate) -> EntryOut:
    """A hand posting by the board; the same ``document`` again returns the entry booked for it."""
    entry = await service.post(
        session,
        actor=actor,
        entry=EntryDraft(
            entry_date=data.entry_date,
            text=data.text,
            source_kind=SourceKind.MANUAL,
            source_id=data.document,
            lines=data.lines,
        ),
    )
    return await service.get_entry(session, actor=actor, entry_id=entry.id)


@router.get("/entries/{entry_id}", response_model=EntryOut)
async def get_entry(actor: BoardDep, session: SessionDep, entry_id: IdPath) -> EntryOut:
    return await service.get_entry(session, actor=actor, entry_id=entry_id)


@router.post("/entries/{entry_id}/reversal", response_model=EntryOut, status_code=201)
async def reverse_entry(actor: BoardDep, session: SessionDep, entry_id: IdPath, data: ReversalCreate) -> EntryOut:
    """Undo an entry by a reversal dated ``reversed_on`` (Storno); an entry is reversed at most once."""
    entry = await service.reverse(session, actor=actor, entry_id=entry_id, reversed_on=data.reversed_on, text=data.text)
    return await service.get_entry(session, actor=actor, entry_id=entry.id)


@router.get("/export", response_class=Response)
async def export_entries(
    actor: BoardDep,
    session: SessionDep,
    date_from: FromQuery = None,
    date_to: ToQuery = None,
    encoding: Literal["utf-8-sig", "cp1252"] = "utf-8-sig",
) -> Response:
    """The entries of a period as a DATEV-style CSV for the tax accountant (see billing/ledger/export.py)."""
    if date_from is None or date_to is None:
        raise Invalid("Give the period: from and to.", code="ledger_period", field="from")
    data = await export.export_csv(session, actor=actor, date_from=date_from, date_to=date_to, encoding=encoding)
    charset = "utf-8" if encoding == "utf-8-sig" else "windows-1252"
    filename = f"buchungen-{date_from.isoformat()}-{date_to.isoformat()}.csv"
    return Response(
        data,
        media_type=f"text/csv; charset={charset}",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
