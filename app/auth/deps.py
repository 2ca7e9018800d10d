"""Request dependencies: the unit of work, and the acting user from a bearer token or a session cookie."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.auth.models import TokenKind
from app.auth.service import actor_for, resolve_token
from app.db import Database
from app.kit.actor import Actor, Channel, Role
from app.kit.errors import Unauthorized
from app.settings import Settings

SESSION_COOKIE = "ot_session"

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed before the response is sent (``scope="function"``),
    rolled back on error."""
    async with get_database(request).transaction() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def api_actor(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Actor:
    """The user behind the bearer token; every audited write in this request is theirs."""
    if not token:
        raise Unauthorized("Send a bearer token (POST /api/v1/auth/token).", code="missing_token")
    user = await resolve_token(session, token=token, kind=TokenKind.API)
    actor = actor_for(user, Channel.API, getattr(request.state, "request_id", None))
    bind_actor(session, actor)
    return actor


async def web_actor_optional(request: Request, session: SessionDep) -> Actor | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        user = await resolve_token(session, token=token, kind=TokenKind.SESSION)
    except Unauthorized:
        return None
    actor = actor_for(user, Channel.WEB, getattr(request.state, "request_id", None))
    bind_actor(session, actor)
    return actor


ActorDep = Annotated[Actor, Depends(api_actor)]


def require_roles(*roles: Role):  # type: ignore[no-untyped-def]
    """A dependency that lets only the given roles (and admins) through."""

    async def dependency(actor: ActorDep) -> Actor:
        actor.require(*roles)
        return actor

    return dependency


StaffDep = Annotated[Actor, Depends(require_roles(Role.OPERATOR, Role.BOARD))]
BoardDep = Annotated[Actor, Depends(require_roles(Role.BOARD))]
OperatorDep = Annotated[Actor, Depends(require_roles(Role.OPERATOR))]
AdminDep = Annotated[Actor, Depends(require_roles(Role.ADMIN))]
