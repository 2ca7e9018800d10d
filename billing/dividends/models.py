"""Member dividends on paid-in capital and the payout of leaving members' capital.

A dividend is decided per business year by the general assembly (§48 GenG) as a rate on paid-in capital;
each member's share of it is an allocation, computed pro rata temporis from the dated capital history and
booked with the tax withheld. Exemption orders lower the withholding; the member's standing choice says
where the rest goes. Leaving members' capital is computed and scheduled for payout (§73 GenG).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.db import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, enum_column, fk


class DividendBasis(enum.StrEnum):
    """How time counts pro rata temporis: every day capital was held, or only whole months held."""

    DAYS = "days"
    MONTHS = "months"


class DecisionStatus(enum.StrEnum):
    """A decision is entered (draft: allocations are only previewed), approved (allocations frozen), booked."""

    DRAFT = "draft"
    APPROVED = "approved"
    BOOKED = "booked"


class DividendChoice(enum.StrEnum):
    """Where a member's net dividend goes."""

    PAYOUT = "payout"
    CAPITAL = "capital"
    SET_OFF = "set_off"


class AllocationStatus(enum.StrEnum):
    """An allocation is frozen with its decision (approved), then booked; a set-off waits for the next invoice."""

    APPROVED = "approved"
    BOOKED = "booked"
    SET_OFF_PENDING = "set_off_pending"


class DividendDecision(IdMixin, TimestampMixin, Base):
    """The general assembly's decision on the dividend of one business year (Gewinnverwendungsbeschluss, §48
    GenG): a rate on paid-in capital, pro rata temporis by days or whole months."""

    __tablename__ = "dividend_decisions"
    __audited__ = True

    business_year: Mapped[int] = mapped_column(sa.Integer, unique=True)
    year_start: Mapped[date] = mapped_column(sa.Date)
    year_end: Mapped[date] = mapped_column(sa.Date)
    rate_percent: Mapped[Decimal] = mapped_column(sa.Numeric(7, 4))
    decided_on: Mapped[date] = mapped_column(sa.Date)
    basis: Mapped[DividendBasis] = mapped_column(enum_column(DividendBasis, "dividend_basis"))
    status: Mapped[DecisionStatus] = mapped_column(enum_column(DecisionStatus, "dividend_decision_status"))
    # Decided more than six months after the year end (§48 (1) GenG): valid, but the board is warned.
    late: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # The patronage refund (§22 KStG) decided with it, in percent of each member's net service revenue of the
    # year; none when no refund was decided.
    refund_percent: Mapped[Decimal | None] = mapped_column(sa.Numeric(7, 4))
    # The tax rates in force when the allocations were frozen.
    capital_gains_tax_percent: Mapped[Decimal] = mapped_column(sa.Numeric(6, 3))
    solidarity_surcharge_percent: Mapped[Decimal] = mapped_column(sa.Numeric(6, 3))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        sa.CheckConstraint("rate_percent > 0 AND rate_percent <= 100", name="rate_range"),
        sa.CheckConstraint("refund_percent > 0 AND refund_percent <= 100", name="refund_range"),
        sa.CheckConstraint("year_start <= year_end", name="year_order"),
    )


class DividendAllocation(IdMixin, TimestampMixin, Base):
    """One member's dividend of a decision: the capital base, gross, exemption used, tax withheld, net, and how
    the net was used (paid out, credited to capital, set off on the next invoice)."""

    __tablename__ = "dividend_allocations"
    __audited__ = True

    decision_id: Mapped[int] = mapped_column(IdType, fk("dividend_decisions.id"), index=True)
    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    # The member's number and name when the allocation was frozen, as its documents show them.
    member_number: Mapped[int | None] = mapped_column(sa.Integer)
    member_name: Mapped[str] = mapped_column(sa.String(200))
    # Cent-days (or cent-months) of paid-in capital held in the year.
    capital_base: Mapped[int] = mapped_column(sa.BigInteger)
    gross_cents: Mapped[int] = mapped_column(sa.BigInteger)
    exemption_order_id: Mapped[int | None] = mapped_column(IdType, fk("exemption_orders.id"))
    exemption_used_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    capital_gains_tax_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    solidarity_surcharge_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    net_cents: Mapped[int] = mapped_column(sa.BigInteger)
    choice: Mapped[DividendChoice] = mapped_column(enum_column(DividendChoice, "dividend_choice"))
    to_capital_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    payout_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    set_off_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    status: Mapped[AllocationStatus] = mapped_column(enum_column(AllocationStatus, "dividend_allocation_status"))

    __table_args__ = (
        sa.UniqueConstraint("decision_id", "member_id", name="uq_dividend_allocations_decision_member"),
        sa.CheckConstraint("gross_cents >= 0 AND capital_base >= 0", name="gross_not_negative"),
        sa.CheckConstraint(
            "net_cents = gross_cents - capital_gains_tax_cents - solidarity_surcharge_cents",
            name="net_is_gross_less_tax",
        ),
        sa.CheckConstraint("net_cents = to_capital_cents + payout_cents + set_off_cents", name="net_fully_used"),
    )


class ExemptionOrder(IdMixin, TimestampMixin, Base):
    """A member's exemption order (Freistellungsauftrag, §44a EStG) for one calendar year: up to
    ``allowance_cents`` of capital income is paid without withholding; ``used_cents`` is what dividends used."""

    __tablename__ = "exemption_orders"
    __audited__ = True

    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    calendar_year: Mapped[int] = mapped_column(sa.Integer)
    allowance_cents: Mapped[int] = mapped_column(sa.BigInteger)
    used_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    filed_on: Mapped[date] = mapped_column(sa.Date)

    __table_args__ = (
        sa.UniqueConstraint("member_id", "calendar_year", name="uq_exemption_orders_member_year"),
        sa.CheckConstraint("used_cents >= 0 AND used_cents <= allowance_cents", name="used_within_allowance"),
    )


class DividendPreference(IdMixin, TimestampMixin, Base):
    """A member's standing choice for their dividends: paid out (the default), credited to capital up to the
    subscribed shares' nominal, or set off on the next invoice."""

    __tablename__ = "dividend_preferences"
    __audited__ = True

    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), unique=True)
    choice: Mapped[DividendChoice] = mapped_column(enum_column(DividendChoice, "dividend_preference_choice"))


class CapitalPayoutStatus(enum.StrEnum):
    """Scheduled and booked as payable; handed to payments once due."""

    BOOKED = "booked"
    HANDED_OVER = "handed_over"


class CapitalPayout(IdMixin, TimestampMixin, Base):
    """What a member who left at a business year's end is paid back (Auseinandersetzungsguthaben, §73 GenG):
    their paid-in capital as of the leaving date, no share in reserves, due within six months after that year
    on the basis of the approved balance sheet."""

    __tablename__ = "capital_payouts"
    __audited__ = True

    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    member_number: Mapped[int | None] = mapped_column(sa.Integer)
    business_year: Mapped[int] = mapped_column(sa.Integer)
    left_on: Mapped[date] = mapped_column(sa.Date)
    capital_cents: Mapped[int] = mapped_column(sa.BigInteger)
    balance_sheet_approved_on: Mapped[date] = mapped_column(sa.Date)
    due_on: Mapped[date] = mapped_column(sa.Date, index=True)
    # Set off against the member's open receivables (§ 387 BGB), if the board chose to.
    set_off_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    status: Mapped[CapitalPayoutStatus] = mapped_column(enum_column(CapitalPayoutStatus, "capital_payout_status"))

    __table_args__ = (
        sa.UniqueConstraint("member_id", "business_year", name="uq_capital_payouts_member_year"),
        sa.CheckConstraint("capital_cents > 0", name="capital_positive"),
        sa.CheckConstraint("set_off_cents >= 0 AND set_off_cents <= capital_cents", name="set_off_within_capital"),
    )

    @property
    def payout_cents(self) -> int:
        return self.capital_cents - self.set_off_cents
