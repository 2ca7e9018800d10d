"""API routes for logging in and managing users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from app.auth import repository, service
from app.auth.deps import ActorDep, AdminDep, SessionDep, SettingsDep, oauth2_scheme
from app.auth.models import TokenKind
from app.auth.schemas import TokenOut, UserCreate, UserOut
from app.kit.pagination import Page, PageParams, page_params

router = APIRouter(tags=["auth"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    429: {"description": "Too many failed logins"},
}


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/token", response_model=TokenOut, responses=ERRORS)
async def issue_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenOut:
    """OAuth2 password flow: e-mail as ``username``; returns a bearer token."""
    issued = await service.login(
        session,
        settings=settings,
        email=form.username,
        password=form.password,
        client=client_key(request),
        kind=TokenKind.API,
    )
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at)


@router.post("/auth/logout", status_code=204, responses=ERRORS)
async def revoke_token(
    actor: ActorDep, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> None:
    """Revoke the bearer token used for this request."""
    if token:
        await service.logout(session, token=token)


@router.get("/users", response_model=Page[UserOut])
async def list_users(
    actor: AdminDep, session: SessionDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[UserOut]:
    users, total = await repository.list_users(session, limit=page.limit, offset=page.offset)
    return Page(items=[UserOut.model_validate(u) for u in users], total=total, limit=page.limit, offset=page.offset)


@router.post("/users", response_model=UserOut, status_code=201)
async def create_user(actor: AdminDep, session: SessionDep, data: UserCreate) -> UserOut:
    user = await service.create_user(
        session,
        email=str(data.email),
        password=data.password,
        role=data.role,
        display_name=data.display_name,
        member_id=data.member_id,
        locale=data.locale,
    )
    return UserOut.model_validate(user)


@router.get("/users/{user_id}", response_model=UserOut, responses={404: {"description": "No such user"}})
async def get_user(actor: AdminDep, session: SessionDep, user_id: int) -> UserOut:
    return UserOut.model_validate(await service.get_user(session, user_id=user_id))


@router.post("/users/{user_id}/deactivate", response_model=UserOut)
async def deactivate_user(actor: AdminDep, session: SessionDep, user_id: int) -> UserOut:
    """Disable a login and revoke its tokens at once."""
    return UserOut.model_validate(await service.set_active(session, user_id=user_id, active=False))
