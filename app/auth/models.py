"""Users, their tokens and login attempts."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.actor import Role
from app.kit.db import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, enum_column, fk


class User(IdMixin, TimestampMixin, Base):
    """Someone who logs in: a member, an operator, a board member or an administrator."""

    __tablename__ = "users"
    __audited__ = True
    __audit_exclude__ = frozenset({"password_hash"})

    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    display_name: Mapped[str] = mapped_column(sa.String(200))
    member_id: Mapped[int | None] = mapped_column(IdType, fk("members.id"), unique=True)
    locale: Mapped[str | None] = mapped_column(sa.String(5))
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (sa.CheckConstraint("role <> 'member' OR member_id IS NOT NULL", name="member_role_has_member"),)


class TokenKind(enum.StrEnum):
    API = "api"
    SESSION = "session"


class AuthToken(IdMixin, Base):
    """A bearer token or web session; only its SHA-256 is stored, so a database leak reveals no live token."""

    __tablename__ = "auth_tokens"

    user_id: Mapped[int] = mapped_column(IdType, fk("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[TokenKind] = mapped_column(enum_column(TokenKind, "token_kind"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginAttempt(IdMixin, Base):
    """A login try, kept for throttling and for the audit of access."""

    __tablename__ = "login_attempts"

    email: Mapped[str] = mapped_column(sa.String(254))
    client: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    succeeded: Mapped[bool] = mapped_column(sa.Boolean)

    __table_args__ = (sa.Index("ix_login_attempts_email_at", "email", "at"),)
