"""API routes for members, shares, capital and the member register."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from app.auth.deps import ActorDep, BoardDep, SessionDep, SettingsDep, StaffDep
from app.auth.schemas import UserOut
from app.auth.service import get_user
from app.kit.pagination import Page, PageParams, page_params
from app.kit.time import local_today
from app.kit.validation import DateQuery, IdPath, SearchQuery
from app.members import register as register_export
from app.members import repository, service
from app.members.models import MemberStatus
from app.members.schemas import (
    Admission,
    CapitalMovementOut,
    ContactUpdate,
    CustomerCreate,
    LeavingRecord,
    MemberApplication,
    MemberOut,
    MembershipNotice,
    Register,
    Rejection,
    ShareCancellationCreate,
    ShareMovementOut,
    SharePaymentCreate,
    SharesOverview,
    ShareSubscriptionCreate,
    ShareSubscriptionOut,
    ShareTransferCreate,
    ShareTransferOut,
    SubscriptionApproval,
)

router = APIRouter(tags=["members"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such member, or not yours"}}


class Me(BaseModel):
    user: UserOut
    member: MemberOut | None


def _out(member: object) -> MemberOut:
    return MemberOut.model_validate(member)


@router.get("/me", response_model=Me)
async def me(actor: ActorDep, session: SessionDep) -> Me:
    """The logged-in user and, for members, their own member record."""
    assert actor.user_id is not None
    user = await get_user(session, user_id=actor.user_id)
    member = None
    if actor.member_id is not None:
        member = _out(await service.get_member(session, actor=actor, member_id=actor.member_id))
    return Me(user=UserOut.model_validate(user), member=member)


@router.get("/members", response_model=Page[MemberOut])
async def list_members(
    actor: StaffDep,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[MemberStatus | None, Query()] = None,
    q: SearchQuery = None,
    number: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Page[MemberOut]:
    """Search members by name, e-mail or city; filter by status or member number."""
    members, total = await repository.search(
        session,
        actor=actor,
        filters=repository.MemberFilter(status=status, search=q, number=number),
        limit=page.limit,
        offset=page.offset,
    )
    return Page(items=[_out(m) for m in members], total=total, limit=page.limit, offset=page.offset)


@router.post("/members", response_model=MemberOut, status_code=201)
async def apply_for_membership(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, data: MemberApplication
) -> MemberOut:
    """Record an application with the shares subscribed; the board admits it."""
    return _out(await service.apply(session, actor=actor, settings=settings, application=data))


@router.post("/customers", response_model=MemberOut, status_code=201, responses={403: {"description": "Not allowed"}})
async def create_customer(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, data: CustomerCreate
) -> MemberOut:
    """A non-member customer; only where the statute allows them (``allow_non_member_customers``)."""
    return _out(await service.apply(session, actor=actor, settings=settings, application=data, customer=True))


@router.get("/members/{member_id}", response_model=MemberOut, responses=NOT_FOUND)
async def get_member(actor: ActorDep, session: SessionDep, member_id: IdPath) -> MemberOut:
    return _out(await service.get_member(session, actor=actor, member_id=member_id))


@router.patch("/members/{member_id}", response_model=MemberOut, responses=NOT_FOUND)
async def update_contact(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, data: ContactUpdate
) -> MemberOut:
    """Change contact data: members their own, operators anyone's."""
    return _out(
        await service.update_contact(session, actor=actor, member_id=member_id, changes=data, zone=settings.timezone)
    )


@router.post("/members/{member_id}/admit", response_model=MemberOut, responses=NOT_FOUND)
async def admit(
    actor: BoardDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, data: Admission
) -> MemberOut:
    return _out(
        await service.admit(session, actor=actor, settings=settings, member_id=member_id, admitted_on=data.admitted_on)
    )


@router.post("/members/{member_id}/reject", response_model=MemberOut, responses=NOT_FOUND)
async def reject(
    actor: BoardDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, data: Rejection
) -> MemberOut:
    return _out(
        await service.reject(session, actor=actor, settings=settings, member_id=member_id, rejected_on=data.rejected_on)
    )


@router.get("/members/{member_id}/shares", response_model=SharesOverview, responses=NOT_FOUND)
async def shares(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, on: DateQuery = None
) -> SharesOverview:
    """Shares held and paid-in capital as of ``on`` (default today), with their history."""
    return await service.shares_overview(session, actor=actor, settings=settings, member_id=member_id, on=on)


@router.post(
    "/members/{member_id}/share-subscriptions",
    response_model=ShareSubscriptionOut,
    status_code=201,
    responses=NOT_FOUND,
)
async def subscribe(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, data: ShareSubscriptionCreate
) -> ShareSubscriptionOut:
    subscription = await service.subscribe_shares(
        session,
        actor=actor,
        settings=settings,
        member_id=member_id,
        shares=data.shares,
        instalments=data.instalments,
        subscribed_on=data.subscribed_on,
    )
    return ShareSubscriptionOut.model_validate(subscription)


@router.post("/share-subscriptions/{subscription_id}/approve", response_model=ShareSubscriptionOut, responses=NOT_FOUND)
async def approve_subscription(
    actor: BoardDep, session: SessionDep, settings: SettingsDep, subscription_id: IdPath, data: SubscriptionApproval
) -> ShareSubscriptionOut:
    subscription = await service.approve_subscription(
        session, actor=actor, settings=settings, subscription_id=subscription_id, effective_on=data.effective_on
    )
    return ShareSubscriptionOut.model_validate(subscription)


@router.post(
    "/members/{member_id}/share-payments", response_model=CapitalMovementOut, status_code=201, responses=NOT_FOUND
)
async def record_payment(
    actor: StaffDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, data: SharePaymentCreate
) -> CapitalMovementOut:
    movement = await service.record_share_payment(
        session,
        actor=actor,
        settings=settings,
        member_id=member_id,
        amount_cents=data.amount_cents,
        paid_on=data.paid_on,
        reference=data.reference,
    )
    return CapitalMovementOut.model_validate(movement)


@router.post(
    "/members/{member_id}/share-transfers", response_model=ShareTransferOut, status_code=201, responses=NOT_FOUND
)
async def transfer(
    actor: BoardDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, data: ShareTransferCreate
) -> ShareTransferOut:
    """Transfer shares (and the capital paid on them) from this member to another."""
    result = await service.transfer_shares(
        session,
        actor=actor,
        settings=settings,
        from_member_id=member_id,
        to_member_id=data.to_member_id,
        shares=data.shares,
        agreed_on=data.agreed_on,
        effective_on=data.effective_on,
    )
    return ShareTransferOut.model_validate(result)


@router.post(
    "/members/{member_id}/share-cancellations", response_model=ShareMovementOut, status_code=201, responses=NOT_FOUND
)
async def cancel_shares(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, data: ShareCancellationCreate
) -> ShareMovementOut:
    """Give notice on additional shares; they lapse at the end of the business year."""
    movement = await service.cancel_additional_shares(
        session, actor=actor, settings=settings, member_id=member_id, shares=data.shares, received_on=data.received_on
    )
    return ShareMovementOut.model_validate(movement)


@router.post("/members/{member_id}/notice", response_model=MemberOut, responses=NOT_FOUND)
async def give_notice(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, data: MembershipNotice
) -> MemberOut:
    """Notice to leave; the response's ``leaving_on`` is the business-year end it takes effect."""
    return _out(
        await service.give_notice(
            session, actor=actor, settings=settings, member_id=member_id, received_on=data.received_on
        )
    )


@router.post("/members/{member_id}/notice/withdraw", response_model=MemberOut, responses=NOT_FOUND)
async def withdraw_notice(actor: BoardDep, session: SessionDep, settings: SettingsDep, member_id: IdPath) -> MemberOut:
    return _out(await service.withdraw_notice(session, actor=actor, settings=settings, member_id=member_id))


@router.post("/members/{member_id}/leaving", response_model=MemberOut, responses=NOT_FOUND)
async def record_leaving(
    actor: BoardDep, session: SessionDep, settings: SettingsDep, member_id: IdPath, data: LeavingRecord
) -> MemberOut:
    """Record a death or an exclusion; membership ends at the end of that business year."""
    return _out(
        await service.record_leaving(
            session,
            actor=actor,
            settings=settings,
            member_id=member_id,
            reason=data.reason,
            occurred_on=data.occurred_on,
        )
    )


class AdmissionQueue(BaseModel):
    applications: list[MemberOut]
    subscriptions: list[ShareSubscriptionOut]


@router.get("/admissions", response_model=AdmissionQueue)
async def admission_queue(actor: BoardDep, session: SessionDep) -> AdmissionQueue:
    """Applications and additional share subscriptions waiting for the board."""
    applications = await repository.pending_applications(session)
    subscriptions = await repository.pending_subscriptions(session)
    return AdmissionQueue(
        applications=[_out(m) for m, _ in applications],
        subscriptions=[ShareSubscriptionOut.model_validate(s) for s, _ in subscriptions],
    )


@router.get(
    "/register",
    response_model=Register,
    responses={
        200: {"content": {"text/csv": {}, "application/pdf": {}}, "description": "The register as JSON, CSV or PDF"}
    },
)
async def member_register(
    actor: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    on: DateQuery = None,
    format: Annotated[Literal["json", "csv", "pdf"], Query()] = "json",
    lang: Annotated[Literal["de", "en"], Query()] = "de",
) -> Register | Response:
    """The member register (§30 GenG) as it stood at the end of ``on`` (default today)."""
    day: date = on or local_today(settings.timezone)
    register = await service.register_as_of(session, actor=actor, on=day)
    if format == "csv":
        return Response(
            register_export.to_csv(register, locale=lang),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="member-register-{day.isoformat()}.csv"'},
        )
    if format == "pdf":
        pdf = await register_export.to_pdf(register, settings=settings, locale=lang)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="member-register-{day.isoformat()}.pdf"'},
        )
    return register
