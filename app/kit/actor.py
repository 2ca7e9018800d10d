"""Who is acting: passed keyword-only into every service call that writes or reads scoped data."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from app.kit.errors import Forbidden


class Role(enum.StrEnum):
    """A user's role; one per user."""

    MEMBER = "member"
    OPERATOR = "operator"
    BOARD = "board"
    ADMIN = "admin"


class Channel(enum.StrEnum):
    """Where a change came in; recorded in the audit log."""

    API = "api"
    WEB = "web"
    CLI = "cli"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated user (or the system) behind a call."""

    user_id: int | None
    label: str
    role: Role
    channel: Channel
    member_id: int | None = None
    request_id: str | None = None

    @property
    def is_member(self) -> bool:
        return self.role is Role.MEMBER

    def has(self, *roles: Role) -> bool:
        return self.role in roles or self.role is Role.ADMIN

    def require(self, *roles: Role) -> None:
        """Refuse (403) unless the actor holds one of ``roles`` or is an admin."""
        if not self.has(*roles):
            raise Forbidden("Your role may not do this.")

    @classmethod
    def system(cls, label: str = "system", channel: Channel = Channel.SYSTEM) -> Actor:
        return cls(user_id=None, label=label, role=Role.ADMIN, channel=channel)


def owned_by(actor: Actor, member_column: Any) -> Any:
    """The one filter that keeps a member to their own rows (``member_column`` is the row's member id);
    staff see every row."""
    import sqlalchemy as sa

    if actor.is_member:
        return member_column == (actor.member_id if actor.member_id is not None else -1)
    return sa.true()
