"""Plans, premises and contracts: what a subscriber ordered, where, and where it stands."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.kit.db import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, enum_column, fk


class Plan(IdMixin, TimestampMixin, Base):
    """A product the coop sells: line rates, fees, minimum term and notice period."""

    __tablename__ = "plans"
    __audited__ = True

    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    down_kbps: Mapped[int] = mapped_column(sa.Integer)
    up_kbps: Mapped[int] = mapped_column(sa.Integer)
    monthly_fee_cents: Mapped[int] = mapped_column(sa.BigInteger)
    setup_fee_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    min_term_months: Mapped[int] = mapped_column(sa.Integer)
    notice_months: Mapped[int] = mapped_column(sa.Integer, default=1)
    includes_phone: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    __table_args__ = (
        sa.CheckConstraint("down_kbps > 0 AND up_kbps > 0", name="rates_positive"),
        sa.CheckConstraint("monthly_fee_cents >= 0 AND setup_fee_cents >= 0", name="fees_not_negative"),
        # TKG §56: a minimum term of at most 24 months.
        sa.CheckConstraint("min_term_months BETWEEN 0 AND 24", name="min_term_range"),
        sa.CheckConstraint("notice_months BETWEEN 0 AND 3", name="notice_range"),
    )


class Premises(IdMixin, TimestampMixin, Base):
    """An address where a line is delivered."""

    __tablename__ = "premises"
    __audited__ = True

    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    street: Mapped[str] = mapped_column(sa.String(200))
    postal_code: Mapped[str] = mapped_column(sa.String(10))
    city: Mapped[str] = mapped_column(sa.String(100))
    country: Mapped[str] = mapped_column(sa.String(2), default="DE")
    unit: Mapped[str | None] = mapped_column(sa.String(60))


class ContractStatus(enum.StrEnum):
    """Lifecycle: ordered -> active -> suspended -> active -> terminated (an order can also be withdrawn)."""

    ORDERED = "ordered"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class Contract(IdMixin, TimestampMixin, Base):
    """A subscriber's contract for one plan at one premises."""

    __tablename__ = "contracts"
    __audited__ = True

    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    premises_id: Mapped[int] = mapped_column(IdType, fk("premises.id"), index=True)
    plan_id: Mapped[int] = mapped_column(IdType, fk("plans.id"), index=True)
    status: Mapped[ContractStatus] = mapped_column(enum_column(ContractStatus, "contract_status"), index=True)
    ordered_on: Mapped[date] = mapped_column(sa.Date)
    start_on: Mapped[date | None] = mapped_column(sa.Date)
    min_term_months: Mapped[int] = mapped_column(sa.Integer)
    notice_months: Mapped[int] = mapped_column(sa.Integer)
    cancellation_received_on: Mapped[date | None] = mapped_column(sa.Date)
    ends_on: Mapped[date | None] = mapped_column(sa.Date)
    terminated_on: Mapped[date | None] = mapped_column(sa.Date)

    plan: Mapped[Plan] = relationship(lazy="raise")
    premises: Mapped[Premises] = relationship(lazy="raise")

    __table_args__ = (
        sa.CheckConstraint("min_term_months BETWEEN 0 AND 24", name="min_term_range"),
        sa.CheckConstraint(
            "status = 'ordered' OR status = 'terminated' OR start_on IS NOT NULL", name="running_has_start"
        ),
    )


class ContractEvent(IdMixin, Base):
    """One step of a contract's lifecycle: from which state to which, when, by whom and why."""

    __tablename__ = "contract_events"

    contract_id: Mapped[int] = mapped_column(IdType, fk("contracts.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[ContractStatus | None] = mapped_column(enum_column(ContractStatus, "from_status"))
    to_status: Mapped[ContractStatus] = mapped_column(enum_column(ContractStatus, "to_status"))
    effective_on: Mapped[date] = mapped_column(sa.Date)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_user_id: Mapped[int | None] = mapped_column(IdType, fk("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(sa.String(254))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
