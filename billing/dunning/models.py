"""Dunning: the notices a member in arrears receives, level by level, up to the suspension of their service."""

from __future__ import annotations

import enum
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.db import Base, IdMixin, IdType, TimestampMixin, enum_column, fk


class DunningLevel(enum.IntEnum):
    """The steps of dunning: a payment reminder (Zahlungserinnerung), a warning (Mahnung) that announces the
    suspension at least two weeks ahead (§61 (3) TKG), and the suspension of service (Sperre), which never
    stops emergency calls."""

    REMINDER = 1
    WARNING = 2
    SUSPENSION = 3


class DunningStatus(enum.StrEnum):
    """A notice is open until the member's arrears are paid (settled) or an operator withdraws it."""

    OPEN = "open"
    SETTLED = "settled"
    WITHDRAWN = "withdrawn"


class DunningNotice(IdMixin, TimestampMixin, Base):
    """One dunning step for a member: which overdue invoices it names, the arrears, the fee charged, until when
    to pay, and for a suspension which contracts it suspended (so that payment resumes exactly those)."""

    __tablename__ = "dunning_notices"
    __audited__ = True

    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    level: Mapped[int] = mapped_column(sa.SmallInteger)
    status: Mapped[DunningStatus] = mapped_column(enum_column(DunningStatus, "dunning_status"), index=True)
    issued_on: Mapped[date] = mapped_column(sa.Date)
    pay_by: Mapped[date] = mapped_column(sa.Date)
    # A warning names the first day service may be suspended; a suspension the day it was.
    suspension_on: Mapped[date | None] = mapped_column(sa.Date)
    arrears_cents: Mapped[int] = mapped_column(sa.BigInteger)
    fee_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # [{"invoice_id": 1, "number": "2026-000001", "due_on": "2026-10-15", "open_cents": 4748}, ...]
    items: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    suspended_contract_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    settled_on: Mapped[date | None] = mapped_column(sa.Date)
    # A suspension lifted because the arrears fell below the threshold, while some remain open.
    resumed_on: Mapped[date | None] = mapped_column(sa.Date)

    __table_args__ = (
        sa.CheckConstraint("level BETWEEN 1 AND 3", name="level_range"),
        sa.CheckConstraint("arrears_cents > 0 AND fee_cents >= 0", name="amounts"),
        sa.CheckConstraint("(status = 'settled') = (settled_on IS NOT NULL)", name="settled_has_date"),
        sa.Index(
            "ix_dunning_notices_member_open",
            "member_id",
            "level",
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        ),
    )
