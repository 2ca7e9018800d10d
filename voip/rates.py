"""What calls cost: the rate table, the minutes a plan includes, and every rated call.

Prices are ``Decimal`` euro cents with four places (1.9 ct a minute is ``1.9000``); a rated call keeps
its exact price and the invoice rounds once, to whole cents (voip/rating.py quantises, nothing else).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.db import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, enum_column, fk

Price = sa.Numeric(14, 4)


class Rate(IdMixin, TimestampMixin, Base):
    """The price per minute of calls to numbers starting with a prefix (E.164 digits without "+"), from a
    day on, billed in increments: ``60/60`` whole minutes, ``60/1`` a first minute then seconds, ``1/1``."""

    __tablename__ = "call_rates"
    __audited__ = True

    prefix: Mapped[str] = mapped_column(sa.String(15))
    name: Mapped[str] = mapped_column(sa.String(120))
    price_per_minute_cents: Mapped[Decimal] = mapped_column(Price)
    first_increment_s: Mapped[int] = mapped_column(sa.Integer)
    next_increment_s: Mapped[int] = mapped_column(sa.Integer)
    # Calls at this rate use up a plan's included minutes first (national calls, typically).
    uses_included_minutes: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    valid_from: Mapped[date] = mapped_column(sa.Date)

    __table_args__ = (
        sa.UniqueConstraint("prefix", "valid_from"),
        sa.CheckConstraint("price_per_minute_cents >= 0", name="price_not_negative"),
        sa.CheckConstraint(
            "first_increment_s BETWEEN 1 AND 3600 AND next_increment_s BETWEEN 1 AND 3600", name="increments_range"
        ),
    )


class PlanCallAllowance(IdMixin, TimestampMixin, Base):
    """The call minutes a plan includes each billing period (a voip table keyed by plan code, so
    plans stay telephony-free)."""

    __tablename__ = "plan_call_allowances"
    __audited__ = True

    plan_code: Mapped[str] = mapped_column(sa.String(40), fk("plans.code"), unique=True)
    included_minutes: Mapped[int] = mapped_column(sa.Integer)

    __table_args__ = (sa.CheckConstraint("included_minutes >= 0", name="minutes_not_negative"),)


class CallClass(enum.StrEnum):
    """How a call was priced: between two of our lines (free), to an emergency or service number (free),
    or to another network at a rate."""

    ON_NET = "on_net"
    EMERGENCY = "emergency"
    SERVICE = "service"
    OFF_NET = "off_net"


class RatedCall(IdMixin, Base):
    """One answered call of a contract, priced for its billing period (a calendar month in the coop's
    zone); one per CDR row, so rating again adds nothing."""

    __tablename__ = "rated_calls"

    cdr_id: Mapped[int] = mapped_column(IdType, fk("cdr.id"), unique=True)
    contract_id: Mapped[int] = mapped_column(IdType, fk("contracts.id"))
    phone_line_id: Mapped[int] = mapped_column(IdType, fk("phone_lines.id"))
    # First day of the billing period.
    period: Mapped[date] = mapped_column(sa.Date)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    called_number: Mapped[str] = mapped_column(sa.String(80))
    call_class: Mapped[CallClass] = mapped_column(enum_column(CallClass, "call_class"))
    rate_id: Mapped[int | None] = mapped_column(IdType, fk("call_rates.id"))
    # Seconds talked (cdr billsec), seconds billed after increments, and of those the included ones.
    talk_seconds: Mapped[int] = mapped_column(sa.Integer)
    billed_seconds: Mapped[int] = mapped_column(sa.Integer)
    included_seconds: Mapped[int] = mapped_column(sa.Integer, default=0)
    price_cents: Mapped[Decimal] = mapped_column(Price)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        sa.Index("ix_rated_calls_contract_period", "contract_id", "period"),
        sa.CheckConstraint(
            "talk_seconds >= 0 AND billed_seconds >= talk_seconds AND included_seconds BETWEEN 0 AND billed_seconds",
            name="seconds_consistent",
        ),
        sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
        sa.CheckConstraint("call_class != 'off_net' OR rate_id IS NOT NULL", name="off_net_has_rate"),
    )
