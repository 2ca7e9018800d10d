"""Queries for users, tokens and login attempts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import AuthToken, LoginAttempt, User


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(sa.select(User).where(User.email == email.lower()))).scalar_one_or_none()


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def user_by_token(session: AsyncSession, digest: str, now: datetime) -> tuple[User, AuthToken] | None:
    row = (
        await session.execute(
            sa.select(User, AuthToken)
            .join(AuthToken, AuthToken.user_id == User.id)
            .where(
                AuthToken.token_hash == digest,
                AuthToken.expires_at > now,
                AuthToken.revoked_at.is_(None),
                User.is_active.is_(True),
            )
        )
    ).first()
    return (row[0], row[1]) if row else None


async def recent_failures(session: AsyncSession, *, email: str, client: str, since: datetime) -> int:
    """Failed logins since ``since`` for this e-mail, or from this client for any e-mail."""
    query = sa.select(sa.func.count()).where(
        LoginAttempt.at >= since,
        LoginAttempt.succeeded.is_(False),
        sa.or_(LoginAttempt.email == email.lower(), LoginAttempt.client == client),
    )
    return int((await session.execute(query)).scalar_one())


async def list_users(session: AsyncSession, *, limit: int, offset: int) -> tuple[list[User], int]:
    total = int((await session.execute(sa.select(sa.func.count()).select_from(User))).scalar_one())
    rows = (await session.execute(sa.select(User).order_by(User.id).limit(limit).offset(offset))).scalars()
    return list(rows), total


async def purge_expired(session: AsyncSession, *, now: datetime, attempts_before: datetime) -> int:
    tokens = await session.execute(sa.delete(AuthToken).where(AuthToken.expires_at < now))
    attempts = await session.execute(sa.delete(LoginAttempt).where(LoginAttempt.at < attempts_before))
    return int(getattr(tokens, "rowcount", 0) or 0) + int(getattr(attempts, "rowcount", 0) or 0)
