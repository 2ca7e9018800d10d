"""Lines and the work that turns them into real configuration: the outbox and each line's history."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.db import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, enum_column, fk


class LineState(enum.StrEnum):
    """What a line should be: pending (created, not switched on), serving, walled (suspended: only the
    portal), or removed (terminated)."""

    PENDING = "pending"
    ACTIVE = "active"
    WALLED = "walled"
    REMOVED = "removed"


class PortKind(enum.StrEnum):
    """How the line reaches its access router."""

    VETH = "veth"
    VXLAN = "vxlan"
    VLAN = "vlan"


class Line(IdMixin, TimestampMixin, Base):
    """A subscriber line: the connection a contract is delivered on, with its login and addresses."""

    __tablename__ = "lines"
    __audited__ = True
    # The login password is a secret: the audit log records that a line changed, never the password.
    __audit_exclude__ = frozenset({"password"})

    contract_id: Mapped[int] = mapped_column(IdType, fk("contracts.id"), unique=True)
    router_id: Mapped[int] = mapped_column(IdType, fk("access_routers.id"), index=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # Stored in clear because CHAP (PPPoE) needs it; FreeRADIUS reads the same value from radcheck.
    password: Mapped[str] = mapped_column(sa.String(64))
    ifname: Mapped[str | None] = mapped_column(sa.String(15), unique=True)
    port_kind: Mapped[PortKind] = mapped_column(enum_column(PortKind, "port_kind"))
    # veth: namespace of the far end; vxlan: underlay device; vlan: parent device.
    port_peer: Mapped[str | None] = mapped_column(sa.String(63))
    # vxlan: VNI; vlan: VLAN id.
    port_tag: Mapped[int | None] = mapped_column(sa.Integer)
    # vxlan: the far end's underlay address.
    port_remote: Mapped[str | None] = mapped_column(sa.String(45))
    ipv4: Mapped[str | None] = mapped_column(sa.String(15))
    ipv6_prefix: Mapped[str | None] = mapped_column(sa.String(49))
    state: Mapped[LineState] = mapped_column(enum_column(LineState, "line_state"), index=True)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        sa.CheckConstraint("state IN ('pending', 'removed') OR ipv4 IS NOT NULL", name="live_line_has_address"),
        sa.CheckConstraint(
            "port_kind = 'veth' OR (port_peer IS NOT NULL AND port_tag IS NOT NULL)", name="port_complete"
        ),
    )


class JobKind(enum.StrEnum):
    """Work for the outside world, queued in the transaction that made it necessary."""

    ROUTER_SYNC = "router_sync"  # converge one line on its access router
    DISCONNECT = "disconnect"  # end the line's live sessions (RFC 5176 Disconnect-Request)
    COA = "coa"  # push the line's new rate attributes into its live sessions (CoA-Request)


class JobStatus(enum.StrEnum):
    """pending -> done, or -> failed after the last retry (raised to the operator)."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class ProvisioningJob(IdMixin, Base):
    """One piece of outside work in the outbox; a worker takes it after commit, with retries."""

    __tablename__ = "provisioning_jobs"

    kind: Mapped[JobKind] = mapped_column(enum_column(JobKind, "job_kind"))
    line_id: Mapped[int] = mapped_column(IdType, fk("lines.id"), index=True)
    router_id: Mapped[int] = mapped_column(IdType, fk("access_routers.id"))
    status: Mapped[JobStatus] = mapped_column(enum_column(JobStatus, "job_status"))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    requested_by: Mapped[str] = mapped_column(sa.String(254))

    __table_args__ = (
        # The worker's query: due pending jobs, oldest first.
        sa.Index("ix_provisioning_jobs_due", "status", "run_after"),
    )


class EventOutcome(enum.StrEnum):
    """How a provisioning step ended, as the outside system answered."""

    OK = "ok"
    ACK = "ack"
    NAK = "nak"
    TIMEOUT = "timeout"
    ERROR = "error"
    GAVE_UP = "gave_up"


class ProvisioningEvent(IdMixin, Base):
    """A line's provisioning history: each step, what was sent and what came back."""

    __tablename__ = "provisioning_events"

    line_id: Mapped[int] = mapped_column(IdType, fk("lines.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(IdType, fk("provisioning_jobs.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    step: Mapped[str] = mapped_column(sa.String(40))
    outcome: Mapped[EventOutcome] = mapped_column(enum_column(EventOutcome, "event_outcome"))
    detail: Mapped[str] = mapped_column(sa.String(1000))
    error_cause: Mapped[int | None] = mapped_column(sa.Integer)
    data: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)


class OutageCompensation(TimestampMixin, Base):
    """Compensation a contract is owed for a complete outage of its line (Entschädigung, §58 (3) TKG): the
    days of one outage within one billing month, at the lower rate (days 3 and 4: 5 EUR or 10 % of the
    monthly fee, whichever is higher) and the higher rate (from day 5: 10 EUR or 20 %). Billing credits it
    on the next invoice; the amounts are billing's to work out from the fee."""

    __tablename__ = "outage_compensations"

    contract_id: Mapped[int] = mapped_column(IdType, fk("contracts.id"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(IdType, fk("incidents.id"), primary_key=True)
    # The first day of the billing month the outage days fall in.
    period: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    line_id: Mapped[int] = mapped_column(IdType, fk("lines.id"), index=True)
    outage_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outage_ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lower_rate_days: Mapped[int] = mapped_column(sa.Integer)
    higher_rate_days: Mapped[int] = mapped_column(sa.Integer)

    __table_args__ = (
        sa.CheckConstraint("lower_rate_days BETWEEN 0 AND 2 AND higher_rate_days >= 0", name="days_range"),
        sa.Index("ix_outage_compensations_period", "period"),
    )
