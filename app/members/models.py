"""Members, their shares and their paid-in capital, kept as dated movements so any past date can be read."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.db import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, enum_column, fk


def display_name(first_name: str, last_name: str, organisation: str | None) -> str:
    """How a person or organisation is named in lists and documents."""
    return organisation or f"{first_name} {last_name}"


class MemberStatus(enum.StrEnum):
    """Where a person stands with the coop."""

    APPLICANT = "applicant"
    MEMBER = "member"
    REJECTED = "rejected"
    LEFT = "left"
    CUSTOMER = "customer"  # a non-member customer, only where the statute allows them


class LeavingReason(enum.StrEnum):
    """Why membership ended (§§65-77a GenG)."""

    NOTICE = "notice"
    TRANSFER = "transfer"
    DEATH = "death"
    EXCLUSION = "exclusion"


class Member(IdMixin, TimestampMixin, Base):
    """A person or organisation in the member register (Mitgliederliste, §30 GenG), from application on."""

    __tablename__ = "members"
    __audited__ = True

    number: Mapped[int | None] = mapped_column(sa.Integer, unique=True)
    status: Mapped[MemberStatus] = mapped_column(enum_column(MemberStatus, "member_status"), index=True)
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100), index=True)
    organisation: Mapped[str | None] = mapped_column(sa.String(200))
    street: Mapped[str] = mapped_column(sa.String(200))
    postal_code: Mapped[str] = mapped_column(sa.String(10))
    city: Mapped[str] = mapped_column(sa.String(100))
    country: Mapped[str] = mapped_column(sa.String(2), default="DE")
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    birth_date: Mapped[date | None] = mapped_column(sa.Date)
    # A business buys as an entrepreneur (§14 UStG): its invoices name its VAT ID and it may ask for XRechnung.
    is_business: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    vat_id: Mapped[str | None] = mapped_column(sa.String(20))  # USt-IdNr., business members only

    applied_on: Mapped[date] = mapped_column(sa.Date)
    shares_applied: Mapped[int] = mapped_column(sa.Integer)
    admitted_on: Mapped[date | None] = mapped_column(sa.Date)
    rejected_on: Mapped[date | None] = mapped_column(sa.Date)
    notice_given_on: Mapped[date | None] = mapped_column(sa.Date)
    leaving_on: Mapped[date | None] = mapped_column(sa.Date, index=True)
    leaving_reason: Mapped[LeavingReason | None] = mapped_column(enum_column(LeavingReason, "leaving_reason"))

    __table_args__ = (
        sa.CheckConstraint("shares_applied > 0", name="shares_applied_positive"),
        sa.CheckConstraint("(leaving_on IS NULL) = (leaving_reason IS NULL)", name="leaving_date_with_reason"),
    )

    @property
    def display_name(self) -> str:
        return display_name(self.first_name, self.last_name, self.organisation)


class SubscriptionStatus(enum.StrEnum):
    PENDING = "pending"
    EFFECTIVE = "effective"
    REJECTED = "rejected"


class ShareSubscription(IdMixin, TimestampMixin, Base):
    """A member's declaration to take shares (Beitrittserklärung / Beteiligungserklärung), paid at once or in
    instalments."""

    __tablename__ = "share_subscriptions"
    __audited__ = True

    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    shares: Mapped[int] = mapped_column(sa.Integer)
    nominal_cents: Mapped[int] = mapped_column(sa.BigInteger)
    instalments: Mapped[int] = mapped_column(sa.Integer, default=1)
    subscribed_on: Mapped[date] = mapped_column(sa.Date)
    effective_on: Mapped[date | None] = mapped_column(sa.Date)
    status: Mapped[SubscriptionStatus] = mapped_column(enum_column(SubscriptionStatus, "subscription_status"))

    __table_args__ = (
        sa.CheckConstraint("shares > 0", name="shares_positive"),
        sa.CheckConstraint("instalments BETWEEN 1 AND 60", name="instalments_range"),
        sa.CheckConstraint("nominal_cents > 0", name="nominal_positive"),
    )


class ShareMovementKind(enum.StrEnum):
    SUBSCRIPTION = "subscription"
    CANCELLATION = "cancellation"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"


class ShareMovement(IdMixin, Base):
    """A dated change in the number of shares a member holds; the register sums these up to a date."""

    __tablename__ = "share_movements"
    __audited__ = True

    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    delta: Mapped[int] = mapped_column(sa.Integer)
    effective_on: Mapped[date] = mapped_column(sa.Date, index=True)
    kind: Mapped[ShareMovementKind] = mapped_column(enum_column(ShareMovementKind, "share_movement_kind"))
    subscription_id: Mapped[int | None] = mapped_column(IdType, fk("share_subscriptions.id"))
    transfer_id: Mapped[int | None] = mapped_column(IdType, fk("share_transfers.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (sa.CheckConstraint("delta <> 0", name="delta_nonzero"),)


class CapitalMovementKind(enum.StrEnum):
    PAYMENT = "payment"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"
    DIVIDEND_CREDIT = "dividend_credit"
    LOSS = "loss"
    PAYOUT = "payout"


class CapitalMovement(IdMixin, Base):
    """A dated change of a member's paid-in capital (Geschäftsguthaben): payments, transfers, credits, losses,
    payouts."""

    __tablename__ = "capital_movements"
    __audited__ = True

    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    effective_on: Mapped[date] = mapped_column(sa.Date, index=True)
    kind: Mapped[CapitalMovementKind] = mapped_column(enum_column(CapitalMovementKind, "capital_movement_kind"))
    reference: Mapped[str | None] = mapped_column(sa.String(140))
    transfer_id: Mapped[int | None] = mapped_column(IdType, fk("share_transfers.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (sa.CheckConstraint("amount_cents <> 0", name="amount_nonzero"),)


class ShareTransfer(IdMixin, TimestampMixin, Base):
    """Shares and the capital behind them passed from one member to another (§76 GenG)."""

    __tablename__ = "share_transfers"
    __audited__ = True

    from_member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    to_member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    shares: Mapped[int] = mapped_column(sa.Integer)
    capital_cents: Mapped[int] = mapped_column(sa.BigInteger)
    agreed_on: Mapped[date] = mapped_column(sa.Date)
    effective_on: Mapped[date] = mapped_column(sa.Date)

    __table_args__ = (
        sa.CheckConstraint("shares > 0", name="shares_positive"),
        sa.CheckConstraint("capital_cents >= 0", name="capital_not_negative"),
        sa.CheckConstraint("from_member_id <> to_member_id", name="distinct_members"),
    )


# What the register keeps a dated history of (``MemberDetails``): a member's row holds the current values.
REGISTER_FIELDS = (
    "first_name",
    "last_name",
    "organisation",
    "street",
    "postal_code",
    "city",
    "country",
    "is_business",
    "vat_id",
)


class MemberDetails(IdMixin, Base):
    """Name, address and business details (flag, VAT ID) of a member as they stood from ``effective_on``: the
    register's dated history of changes (§30 GenG), so a register or an invoice as of a past date shows what
    was valid then."""

    __tablename__ = "member_details"
    __audited__ = True

    member_id: Mapped[int] = mapped_column(IdType, fk("members.id"), index=True)
    effective_on: Mapped[date] = mapped_column(sa.Date)
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    organisation: Mapped[str | None] = mapped_column(sa.String(200))
    street: Mapped[str] = mapped_column(sa.String(200))
    postal_code: Mapped[str] = mapped_column(sa.String(10))
    city: Mapped[str] = mapped_column(sa.String(100))
    country: Mapped[str] = mapped_column(sa.String(2))
    is_business: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    vat_id: Mapped[str | None] = mapped_column(sa.String(20))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (sa.Index("ix_member_details_member_effective", "member_id", "effective_on"),)
