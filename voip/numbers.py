"""The coop's telephone numbers: the E.164 blocks it holds and each number's state.

A block's numbers are rows from the day the block is added, so allocation is a row lock on one free row
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers anyway), and ``e164`` and
``phone_line_id`` are unique in the database: two lines can never hold one number even if a lock were
forgotten. A released number rests in quarantine until its date before it is handed out again, so calls
meant for the old holder do not reach the new one. Ported-in numbers belong to no block and never go
back into allocation.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.db import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, enum_column, fk

DEFAULT_QUARANTINE_DAYS = 90


class NumberBlock(IdMixin, TimestampMixin, Base):
    """A range of E.164 numbers assigned to the coop (by the Bundesnetzagentur or a carrier), e.g.
    +49 331 555 1000 to +49 331 555 1999."""

    __tablename__ = "number_blocks"
    __audited__ = True

    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    # Both ends in E.164 ("+493315551000"), the same length, first <= last.
    first_number: Mapped[str] = mapped_column(sa.String(16), unique=True)
    last_number: Mapped[str] = mapped_column(sa.String(16))
    quarantine_days: Mapped[int] = mapped_column(sa.Integer, default=DEFAULT_QUARANTINE_DAYS)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    __table_args__ = (
        sa.CheckConstraint(
            "length(first_number) = length(last_number) AND first_number <= last_number", name="range_ordered"
        ),
        sa.CheckConstraint("quarantine_days BETWEEN 0 AND 3650", name="quarantine_range"),
    )


class NumberStatus(enum.StrEnum):
    """free -> assigned -> quarantined (until a date) -> free again; ported-in numbers start assigned."""

    FREE = "free"
    ASSIGNED = "assigned"
    QUARANTINED = "quarantined"


class PhoneNumber(IdMixin, TimestampMixin, Base):
    """One telephone number in E.164, who holds it now, and whether it came to us by porting."""

    __tablename__ = "phone_numbers"
    __audited__ = True

    e164: Mapped[str] = mapped_column(sa.String(16), unique=True)
    # None for a ported-in number: it belongs to no block of ours.
    block_id: Mapped[int | None] = mapped_column(IdType, fk("number_blocks.id"))
    status: Mapped[NumberStatus] = mapped_column(enum_column(NumberStatus, "number_status"))
    phone_line_id: Mapped[int | None] = mapped_column(IdType, fk("phone_lines.id"), unique=True)
    is_ported_in: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # The network the number came from (for the porting record).
    ported_from: Mapped[str | None] = mapped_column(sa.String(80))
    ported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    quarantine_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        sa.CheckConstraint("(status = 'assigned') = (phone_line_id IS NOT NULL)", name="assigned_has_line"),
        sa.CheckConstraint("status != 'quarantined' OR quarantine_until IS NOT NULL", name="quarantine_has_date"),
        sa.CheckConstraint("is_ported_in OR block_id IS NOT NULL", name="from_block_or_ported"),
        # The allocation query: a block's free (or quarantine-expired) numbers in order.
        sa.Index("ix_phone_numbers_block_status", "block_id", "status", "e164"),
    )
