"""API routes for dividends: the board's decisions, previews and runs and leaving members' payouts; each
member's choice, exemption orders and annual statements (404 for anyone else's)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from app.auth.deps import ActorDep, BoardDep, SessionDep, SettingsDep
from app.kit.time import local_today
from app.kit.validation import IdPath
from billing.dividends import choices, payouts, refunds, service, statements, transfers
from billing.dividends.schemas import (
    AnnualStatement,
    CapitalPayoutOut,
    CapitalPayoutSchedule,
    DecisionCreate,
    DecisionOut,
    DividendPreview,
    ExemptionOrderCreate,
    ExemptionOrderOut,
    PayOutReport,
    PayOutRequest,
    PreferenceOut,
    PreferenceUpdate,
    RefundIssue,
    RefundPercentUpdate,
    RefundReport,
    RefundTotals,
    RunReport,
)
from billing.payments.schemas import SepaFileOut

router = APIRouter(prefix="/dividends", tags=["dividends"])
YearPath = Annotated[int, Path(ge=1900, le=2199)]
YearQuery = Annotated[int | None, Query(ge=1900, le=2199)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such member or statement, or not yours"}}


@router.post("/decisions", response_model=DecisionOut, status_code=201)
async def enter_decision(
    actor: BoardDep, session: SessionDep, settings: SettingsDep, data: DecisionCreate
) -> DecisionOut:
    """Enter the general assembly's decision (a draft: preview it, then run it); a draft's year again replaces it."""
    decision = await service.enter_decision(session, actor=actor, settings=settings, data=data)
    return service.decision_out(decision)


@router.get("/decisions", response_model=list[DecisionOut])
async def list_decisions(actor: BoardDep, session: SessionDep) -> list[DecisionOut]:
    return [service.decision_out(d) for d in await service.list_decisions(session, actor=actor)]


@router.put("/decisions/{decision_id}/refund-percent", response_model=DecisionOut)
async def record_refund_percent(
    actor: BoardDep, session: SessionDep, decision_id: IdPath, data: RefundPercentUpdate
) -> DecisionOut:
    """Record the patronage refund the assembly decided, also on an approved or booked decision; refused (409
    ``refund_issued``) once refunds were issued at another percent."""
    decision = await service.record_refund_percent(
        session, actor=actor, decision_id=decision_id, percent=data.refund_percent
    )
    return service.decision_out(decision)


@router.get("/decisions/{decision_id}/allocations", response_model=DividendPreview)
async def allocations(
    actor: BoardDep, session: SessionDep, settings: SettingsDep, decision_id: IdPath
) -> DividendPreview:
    """Every member's dividend with the totals (computed afresh while the decision is a draft)."""
    return await service.preview(session, actor=actor, settings=settings, decision_id=decision_id)


@router.post("/decisions/{decision_id}/run", response_model=RunReport)
async def run(actor: BoardDep, session: SessionDep, settings: SettingsDep, decision_id: IdPath) -> RunReport:
    """Approve and book the decision; running a booked decision again books nothing."""
    return await service.run(session, actor=actor, settings=settings, decision_id=decision_id)


@router.post("/decisions/{decision_id}/payouts", response_model=PayOutReport)
async def pay_out(
    actor: BoardDep, session: SessionDep, settings: SettingsDep, decision_id: IdPath, data: PayOutRequest | None = None
) -> PayOutReport:
    """One pain.001 file for the booked decision's dividend payouts and the §73 capital payouts due by the
    execution date (default today); members without an account wait. Again, it pays only what is new
    (``file_id`` null when nothing was). Download the file from ``/payments/files/{file_id}/xml``."""
    day = data.execution_date if data and data.execution_date else local_today(settings.timezone)
    return await transfers.pay_out(session, actor=actor, settings=settings, decision_id=decision_id, execution_date=day)


@router.get("/decisions/{decision_id}/payouts", response_model=list[SepaFileOut])
async def payout_files(actor: BoardDep, session: SessionDep, decision_id: IdPath) -> list[SepaFileOut]:
    """The credit transfer files that paid the decision's dividends, newest first."""
    return await transfers.payout_files(session, actor=actor, decision_id=decision_id)


@router.post("/decisions/{decision_id}/refunds", response_model=RefundReport)
async def issue_refunds(
    actor: BoardDep, session: SessionDep, settings: SettingsDep, decision_id: IdPath, data: RefundIssue | None = None
) -> RefundReport:
    """Issue the patronage refund credit notes at the decision's ``refund_percent`` (issue date default today);
    members refunded before are skipped."""
    day = data.issue_on if data and data.issue_on else local_today(settings.timezone)
    return await refunds.issue_decided_refunds(
        session, actor=actor, settings=settings, decision_id=decision_id, issue_on=day
    )


@router.get("/decisions/{decision_id}/refunds", response_model=RefundTotals)
async def refund_totals(actor: BoardDep, session: SessionDep, decision_id: IdPath) -> RefundTotals:
    """The patronage refund credit notes issued for the decision's business year so far."""
    decision = await service.get_decision(session, actor=actor, decision_id=decision_id)
    return await refunds.refund_totals(session, actor=actor, business_year=decision.business_year)


@router.post("/capital-payouts", response_model=list[CapitalPayoutOut], status_code=201)
async def schedule_capital_payouts(
    actor: BoardDep, session: SessionDep, settings: SettingsDep, data: CapitalPayoutSchedule
) -> list[CapitalPayoutOut]:
    """Schedule and book the payouts of the members who left at the end of ``business_year`` (§73 GenG)."""
    await payouts.schedule_capital_payouts(session, actor=actor, settings=settings, data=data)
    return await payouts.capital_payouts(session, actor=actor, business_year=data.business_year)


@router.get("/capital-payouts", response_model=list[CapitalPayoutOut])
async def list_capital_payouts(
    actor: BoardDep, session: SessionDep, business_year: YearQuery = None
) -> list[CapitalPayoutOut]:
    return await payouts.capital_payouts(session, actor=actor, business_year=business_year)


@router.get("/members/{member_id}/choice", response_model=PreferenceOut, responses=NOT_FOUND)
async def get_choice(actor: ActorDep, session: SessionDep, member_id: IdPath) -> PreferenceOut:
    return await choices.get_preference(session, actor=actor, member_id=member_id)


@router.put("/members/{member_id}/choice", response_model=PreferenceOut, responses=NOT_FOUND)
async def set_choice(actor: ActorDep, session: SessionDep, member_id: IdPath, data: PreferenceUpdate) -> PreferenceOut:
    """Where future net dividends go: paid out, credited to capital (up to the shares' nominal), or set off."""
    return await choices.set_preference(session, actor=actor, member_id=member_id, choice=data.choice)


@router.get("/members/{member_id}/exemption-orders", response_model=list[ExemptionOrderOut], responses=NOT_FOUND)
async def list_exemption_orders(actor: ActorDep, session: SessionDep, member_id: IdPath) -> list[ExemptionOrderOut]:
    orders = await choices.exemption_orders(session, actor=actor, member_id=member_id)
    return [ExemptionOrderOut.model_validate(o) for o in orders]


@router.post(
    "/members/{member_id}/exemption-orders", response_model=ExemptionOrderOut, status_code=201, responses=NOT_FOUND
)
async def file_exemption_order(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, data: ExemptionOrderCreate
) -> ExemptionOrderOut:
    """File or change the exemption order (Freistellungsauftrag) of a calendar year."""
    order = await choices.file_exemption_order(session, actor=actor, settings=settings, member_id=member_id, data=data)
    return ExemptionOrderOut.model_validate(order)


@router.get("/members/{member_id}/statements", response_model=list[int], responses=NOT_FOUND)
async def list_statements(actor: ActorDep, session: SessionDep, settings: SettingsDep, member_id: IdPath) -> list[int]:
    """The business years with an annual statement, newest first."""
    return await statements.statement_years(session, actor=actor, settings=settings, member_id=member_id)


@router.get("/members/{member_id}/statements/{year}", response_model=AnnualStatement, responses=NOT_FOUND)
async def get_statement(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, year: YearPath
) -> AnnualStatement:
    return await statements.annual_statement(
        session, actor=actor, settings=settings, member_id=member_id, business_year=year
    )


@router.get("/members/{member_id}/statements/{year}/pdf", response_class=Response, responses=NOT_FOUND)
async def get_statement_pdf(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, year: YearPath
) -> Response:
    statement = await statements.annual_statement(
        session, actor=actor, settings=settings, member_id=member_id, business_year=year
    )
    pdf = await statements.statement_pdf(statement, settings=settings, locale=settings.default_locale)
    name = f"jahresmitteilung-{year}-{statement.member_number or member_id}.pdf"
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
