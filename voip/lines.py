"""Phone lines: a contract's SIP extension and number, and what Asterisk last said about its phone.

The SIP password is not here: it lives only in ``ps_auths``, where Asterisk needs it (voip/endpoints.py),
so it cannot leak through this model's audit diffs or its API shapes.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.db import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, enum_column, fk


class PhoneLineState(enum.StrEnum):
    """active (can register and call), suspended (emergency calls only, no registration), terminated."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class PhoneLine(IdMixin, TimestampMixin, Base):
    """A contract's telephone line: its SIP extension (username and PJSIP endpoint id) and state."""

    __tablename__ = "phone_lines"
    __audited__ = True

    contract_id: Mapped[int] = mapped_column(IdType, fk("contracts.id"), unique=True)
    # Digits only, so the members' dialplan (``_X.``) reaches it; never reused, unlike numbers.
    extension: Mapped[str] = mapped_column(sa.String(20), unique=True)
    state: Mapped[PhoneLineState] = mapped_column(enum_column(PhoneLineState, "phone_line_state"), index=True)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        sa.CheckConstraint("(state = 'terminated') = (terminated_at IS NOT NULL)", name="terminated_has_date"),
    )


class PhoneRegistration(Base):
    """Whether a phone line's phone is registered now, since when, from which device and how far away
    (kept current from Asterisk's ContactStatus events and PJSIPShowContacts)."""

    __tablename__ = "phone_registrations"

    phone_line_id: Mapped[int] = mapped_column(IdType, fk("phone_lines.id", ondelete="CASCADE"), primary_key=True)
    registered: Mapped[bool] = mapped_column(sa.Boolean)
    # When ``registered`` last changed.
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))
    round_trip_ms: Mapped[int | None] = mapped_column(sa.Integer)
    contact_uri: Mapped[str | None] = mapped_column(sa.String(511))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CallTeardown(IdMixin, Base):
    """A request to end a phone line's live calls because its contract was suspended or terminated: written
    with the contract's change, carried out over AMI by the registration watcher once that change committed.
    Emergency calls are left running (DOMAIN.md: suspension never stops emergency calls)."""

    __tablename__ = "call_teardowns"

    extension: Mapped[str] = mapped_column(sa.String(20), index=True)
    reason: Mapped[str] = mapped_column(sa.String(20))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    # Set when the request is carried out (or given up after too many attempts, with last_error).
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    calls_ended: Mapped[int] = mapped_column(sa.Integer, default=0)

    __table_args__ = (
        sa.Index(
            "ix_call_teardowns_pending",
            "requested_at",
            postgresql_where=sa.text("done_at IS NULL"),
            sqlite_where=sa.text("done_at IS NULL"),
        ),
    )
