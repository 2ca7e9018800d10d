"""Access routers and their address pools: where lines terminate and which addresses they get."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.db import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, enum_column, fk


class AccessRouter(IdMixin, TimestampMixin, Base):
    """An access router (BNG): a Linux host where subscriber lines terminate; also the RADIUS NAS."""

    __tablename__ = "access_routers"
    __audited__ = True

    name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    # The network namespace the worker configures; None means the router is configured by hand
    # (reconcile reports it as unmanaged instead of touching it).
    netns: Mapped[str | None] = mapped_column(sa.String(63))
    # Unused: upstream was once shaped on this device towards the core; now each line has its own
    # shaper (network/router). Kept, always NULL for new routers, until a migration drops the column.
    uplink: Mapped[str | None] = mapped_column(sa.String(15))
    nas_ip: Mapped[str] = mapped_column(sa.String(45), unique=True)
    coa_port: Mapped[int] = mapped_column(sa.Integer, default=3799)
    radius_secret: Mapped[str] = mapped_column(sa.String(128))
    portal_ipv4: Mapped[str] = mapped_column(sa.String(15))
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    __table_args__ = (sa.CheckConstraint("coa_port BETWEEN 1 AND 65535", name="coa_port_range"),)


class PoolFamily(enum.StrEnum):
    """IPv4 address pools hand out single addresses; IPv6 pools hand out delegated prefixes."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"


class AddressPool(IdMixin, TimestampMixin, Base):
    """A block of addresses (IPv4) or prefixes to delegate (IPv6) that belongs to one access router."""

    __tablename__ = "address_pools"
    __audited__ = True

    router_id: Mapped[int] = mapped_column(IdType, fk("access_routers.id"), index=True)
    family: Mapped[PoolFamily] = mapped_column(enum_column(PoolFamily, "pool_family"))
    cidr: Mapped[str] = mapped_column(sa.String(49), unique=True)
    # IPv4: the router's own address on every line (the subscribers' gateway); never handed out.
    gateway: Mapped[str | None] = mapped_column(sa.String(15))
    # IPv6: the length of each delegated prefix (a /56 per line is common).
    delegated_length: Mapped[int | None] = mapped_column(sa.Integer)
    quarantine_days: Mapped[int] = mapped_column(sa.Integer, default=30)
    # Where the next search for a free slot starts; makes allocation O(1) on a long-lived pool.
    next_slot: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (
        sa.CheckConstraint("quarantine_days BETWEEN 0 AND 365", name="quarantine_range"),
        sa.CheckConstraint(
            "(family = 'ipv4' AND gateway IS NOT NULL AND delegated_length IS NULL)"
            " OR (family = 'ipv6' AND gateway IS NULL AND delegated_length BETWEEN 48 AND 64)",
            name="family_fields",
        ),
    )


class AssignmentStatus(enum.StrEnum):
    """An address is held by a line, or rests in quarantine after release before it can be reused."""

    ASSIGNED = "assigned"
    QUARANTINED = "quarantined"


class AddressAssignment(IdMixin, Base):
    """One address or delegated prefix of a pool, held by a line or resting in quarantine."""

    __tablename__ = "address_assignments"
    __audited__ = True

    pool_id: Mapped[int] = mapped_column(IdType, fk("address_pools.id"))
    # Offset of the address (IPv4) or of the prefix (IPv6) within the pool: the collision key.
    slot: Mapped[int] = mapped_column(sa.BigInteger)
    value: Mapped[str] = mapped_column(sa.String(49))
    line_id: Mapped[int | None] = mapped_column(IdType, index=True)
    status: Mapped[AssignmentStatus] = mapped_column(enum_column(AssignmentStatus, "assignment_status"))
    is_static: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    quarantine_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        # Two lines can never hold the same address, whatever the application does.
        sa.UniqueConstraint("pool_id", "slot"),
        sa.CheckConstraint(
            "(status = 'assigned' AND line_id IS NOT NULL) OR (status = 'quarantined' AND line_id IS NULL)",
            name="holder_matches_status",
        ),
    )
