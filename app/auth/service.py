"""Logging in, tokens and sessions, users; turning a token into the acting user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action, bind_actor
from app.auth import repository
from app.auth.models import AuthToken, LoginAttempt, TokenKind, User
from app.auth.security import hash_password, needs_rehash, new_token, token_digest, verify_password
from app.kit.actor import Actor, Channel, Role
from app.kit.errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthorized
from app.kit.time import utcnow
from app.settings import Settings

MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user: User


async def login(
    session: AsyncSession,
    *,
    settings: Settings,
    email: str,
    password: str,
    client: str,
    kind: TokenKind,
) -> IssuedToken:
    """Check a password, throttling repeated failures per e-mail and per client; issue a token."""
    now = utcnow()
    email = email.strip().lower()
    window_start = now - timedelta(minutes=settings.login_window_minutes)
    failures = await repository.recent_failures(session, email=email, client=client, since=window_start)
    if failures >= settings.login_max_failures:
        raise TooManyRequests(
            "Too many failed logins; try again later.",
            retry_after=settings.login_window_minutes * 60,
        )
    user = await repository.user_by_email(session, email)
    ok = verify_password(user.password_hash if user else None, password)
    session.add(LoginAttempt(email=email, client=client[:64], at=now, succeeded=ok and bool(user and user.is_active)))
    if not ok or user is None or not user.is_active:
        raise Unauthorized("E-mail or password is wrong.", code="invalid_credentials", keep_changes=True)
    bind_actor(session, actor_for(user, Channel.WEB if kind is TokenKind.SESSION else Channel.API))
    with action(session, "auth.login"):
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = now
    hours = settings.session_hours if kind is TokenKind.SESSION else settings.api_token_hours
    token = new_token()
    expires_at = now + timedelta(hours=hours)
    session.add(
        AuthToken(user_id=user.id, token_hash=token_digest(token), kind=kind, created_at=now, expires_at=expires_at)
    )
    await session.flush()
    return IssuedToken(token=token, expires_at=expires_at, user=user)


async def logout(session: AsyncSession, *, token: str) -> None:
    await session.execute(
        sa.update(AuthToken).where(AuthToken.token_hash == token_digest(token)).values(revoked_at=utcnow())
    )


def actor_for(user: User, channel: Channel, request_id: str | None = None) -> Actor:
    return Actor(
        user_id=user.id,
        label=user.email,
        role=user.role,
        channel=channel,
        member_id=user.member_id,
        request_id=request_id,
    )


async def resolve_token(session: AsyncSession, *, token: str, kind: TokenKind) -> User:
    """The active user behind a live token of the given kind, or Unauthorized."""
    found = await repository.user_by_token(session, token_digest(token), utcnow())
    if found is None or found[1].kind is not kind:
        raise Unauthorized("Not logged in, or the session has expired.", code="invalid_token")
    return found[0]


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    role: Role,
    display_name: str,
    member_id: int | None = None,
    locale: str | None = None,
) -> User:
    """Create a login. A member login must point at a member record."""
    email = email.strip().lower()
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"Password must have at least {MIN_PASSWORD_LENGTH} characters.", field="password")
    if role is Role.MEMBER and member_id is None:
        raise Invalid("A member login needs the member it belongs to.", field="member_id")
    if await repository.user_by_email(session, email) is not None:
        raise Conflict(f"A user with e-mail {email} exists already.", code="email_taken", field="email")
    if member_id is not None:
        from app.members.service import get_member_for_link

        await get_member_for_link(session, member_id=member_id)
        taken = await session.execute(sa.select(User.id).where(User.member_id == member_id))
        if taken.first() is not None:
            raise Conflict("That member has a login already.", code="member_has_login", field="member_id")
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=role,
        display_name=display_name,
        member_id=member_id,
        locale=locale,
        is_active=True,
    )
    session.add(user)
    await session.flush()
    return user


async def get_user(session: AsyncSession, *, user_id: int) -> User:
    user = await repository.user_by_id(session, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    return user


async def set_active(session: AsyncSession, *, user_id: int, active: bool) -> User:
    user = await get_user(session, user_id=user_id)
    user.is_active = active
    if not active:
        await session.execute(
            sa.update(AuthToken)
            .where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    await session.flush()
    return user
