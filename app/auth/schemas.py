"""API shapes for tokens and users."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, StringConstraints

from app.kit.actor import Role
from app.kit.validation import IdRef, NoControl, text


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: Annotated[str, StringConstraints(min_length=8, max_length=200), NoControl]
    role: Role
    display_name: Annotated[str, text(200), NoControl]
    member_id: IdRef | None = None
    locale: Annotated[str, text(2, min_length=2, pattern=r"^(de|en)$"), NoControl] | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    role: Role
    display_name: str
    member_id: int | None
    locale: str | None
    is_active: bool
    last_login_at: datetime | None
    created_at: datetime
