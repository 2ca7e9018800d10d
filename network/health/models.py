"""The devices we poll over SNMP, their interfaces as last seen, and which line each interface serves.

The inventory (``devices``, ``line_ports``) is what operators edit and is audited. What the poller writes
every few minutes (``device_status``, ``device_interfaces``) is not: it is observation, kept current in
place, and auditing it would bury the operators' changes under the poller's.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.kit.db import Base, IdMixin, IdType, TimestampMixin, UTCDateTime, enum_column, fk


class Counter(TypeDecorator[int]):
    """An unsigned 64-bit counter (Counter64) as an exact integer: numeric(20) on PostgreSQL, whose bigint
    is signed, and decimal text on SQLite, which keeps larger numbers only as floats (a counter of 2^57
    would lose its last digits there, and with them every rate)."""

    impl = sa.Numeric(20, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(20))
        return dialect.type_descriptor(sa.Numeric(20, 0))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(int(value)) if dialect.name == "sqlite" else Decimal(int(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class DeviceKind(enum.StrEnum):
    """What a device is in the access network."""

    ROUTER = "router"
    DSLAM = "dslam"
    OLT = "olt"
    SWITCH = "switch"
    CPE = "cpe"


class SnmpVersion(enum.StrEnum):
    """v2c: a community string; v3: a USM user with authentication and privacy keys."""

    V2C = "v2c"
    V3 = "v3"


class AuthProtocol(enum.StrEnum):
    """SNMPv3 USM authentication: HMAC-SHA-256 (RFC 7860) where the agent has it, HMAC-SHA-1 for older ones."""

    SHA = "sha"
    SHA256 = "sha256"


class PrivProtocol(enum.StrEnum):
    """SNMPv3 USM privacy: AES-128 CFB (RFC 3826), which every agent has."""

    AES = "aes"


class HealthState(enum.StrEnum):
    """ok, degraded (working but a figure is out of bounds), down, or unknown (not polled yet)."""

    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"


class Device(IdMixin, TimestampMixin, Base):
    """A device of the access network that we poll over SNMP: router, DSLAM, OLT, switch or CPE."""

    __tablename__ = "devices"
    __audited__ = True
    # Sealed secrets change when re-entered; the audit log says that the device changed, not the secret.
    __audit_exclude__ = frozenset({"community_sealed", "auth_key_sealed", "priv_key_sealed"})

    name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    kind: Mapped[DeviceKind] = mapped_column(enum_column(DeviceKind, "device_kind"))
    host: Mapped[str] = mapped_column(sa.String(45))
    port: Mapped[int] = mapped_column(sa.Integer, default=161)
    # The access router this device is, when it is one (its lines are then served by it).
    router_id: Mapped[int | None] = mapped_column(IdType, fk("access_routers.id"), index=True)
    snmp_version: Mapped[SnmpVersion] = mapped_column(enum_column(SnmpVersion, "snmp_version"))
    # Secrets are sealed with the application's secret key (app/kit/sealing.py) and never leave the API.
    community_sealed: Mapped[str | None] = mapped_column(sa.Text)
    v3_user: Mapped[str | None] = mapped_column(sa.String(64))
    # v3 is always authPriv: the poller's reads (traffic, line figures) are not sent in the clear.
    auth_protocol: Mapped[AuthProtocol | None] = mapped_column(enum_column(AuthProtocol, "snmp_auth_protocol"))
    auth_key_sealed: Mapped[str | None] = mapped_column(sa.Text)
    priv_protocol: Mapped[PrivProtocol | None] = mapped_column(enum_column(PrivProtocol, "snmp_priv_protocol"))
    priv_key_sealed: Mapped[str | None] = mapped_column(sa.Text)
    poll_interval_s: Mapped[int] = mapped_column(sa.Integer, default=300)
    timeout_ms: Mapped[int] = mapped_column(sa.Integer, default=2000)
    retries: Mapped[int] = mapped_column(sa.Integer, default=1)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    __table_args__ = (
        sa.UniqueConstraint("host", "port"),
        sa.CheckConstraint("port BETWEEN 1 AND 65535", name="port_range"),
        sa.CheckConstraint("poll_interval_s BETWEEN 10 AND 86400", name="poll_interval_range"),
        sa.CheckConstraint("timeout_ms BETWEEN 100 AND 60000 AND retries BETWEEN 0 AND 5", name="timeout_range"),
        sa.CheckConstraint(
            "(snmp_version = 'v2c' AND community_sealed IS NOT NULL)"
            " OR (snmp_version = 'v3' AND v3_user IS NOT NULL AND auth_protocol IS NOT NULL"
            " AND auth_key_sealed IS NOT NULL AND priv_protocol IS NOT NULL AND priv_key_sealed IS NOT NULL)",
            name="credentials_complete",
        ),
    )


class DeviceStatus(Base):
    """When a device is polled next and by whom, and what its last poll found (kept current in place).

    ``lease_owner``/``lease_until``: a poller claims due devices by setting them, so pollers in any number
    of processes share the devices without polling one twice; a lease that runs out (a poller died) frees
    the device for the others.
    """

    __tablename__ = "device_status"

    device_id: Mapped[int] = mapped_column(IdType, fk("devices.id", ondelete="CASCADE"), primary_key=True)
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.String(255))
    failures_in_a_row: Mapped[int] = mapped_column(sa.Integer, default=0)
    # sysUpTime in hundredths of a second at the last answer; when it goes back, the device rebooted.
    uptime_cs: Mapped[int | None] = mapped_column(sa.BigInteger)
    cpu_percent: Mapped[int | None] = mapped_column(sa.SmallInteger)
    memory_percent: Mapped[int | None] = mapped_column(sa.SmallInteger)
    state: Mapped[HealthState] = mapped_column(enum_column(HealthState, "health_state"), default=HealthState.UNKNOWN)
    state_since: Mapped[datetime] = mapped_column(UTCDateTime())


class DeviceInterface(Base):
    """One interface (or DSL port) of a device as the last poll saw it, with rates from counter deltas."""

    __tablename__ = "device_interfaces"

    device_id: Mapped[int] = mapped_column(IdType, fk("devices.id", ondelete="CASCADE"), primary_key=True)
    if_index: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(255))
    admin_up: Mapped[bool | None] = mapped_column(sa.Boolean)
    oper_up: Mapped[bool | None] = mapped_column(sa.Boolean)
    speed_mbps: Mapped[int | None] = mapped_column(sa.BigInteger)
    in_octets: Mapped[int | None] = mapped_column(Counter())
    out_octets: Mapped[int | None] = mapped_column(Counter())
    in_errors: Mapped[int | None] = mapped_column(Counter())
    out_errors: Mapped[int | None] = mapped_column(Counter())
    # 64 (ifHCIn/OutOctets) or 32 (ifIn/OutOctets, on agents without ifXTable counters).
    counter_bits: Mapped[int] = mapped_column(sa.SmallInteger, default=64)
    # Bits per second and errors per second since the previous poll; None across a reboot or a gap.
    in_bps: Mapped[int | None] = mapped_column(sa.BigInteger)
    out_bps: Mapped[int | None] = mapped_column(sa.BigInteger)
    errors_per_s: Mapped[float | None] = mapped_column(sa.Float)
    # DSL line figures (VDSL2-LINE-MIB / ADSL-LINE-MIB); dB values in tenths, as the MIBs give them.
    actual_down_kbps: Mapped[int | None] = mapped_column(sa.Integer)
    actual_up_kbps: Mapped[int | None] = mapped_column(sa.Integer)
    attainable_down_kbps: Mapped[int | None] = mapped_column(sa.Integer)
    attainable_up_kbps: Mapped[int | None] = mapped_column(sa.Integer)
    snr_margin_down_tenth_db: Mapped[int | None] = mapped_column(sa.Integer)
    snr_margin_up_tenth_db: Mapped[int | None] = mapped_column(sa.Integer)
    attenuation_down_tenth_db: Mapped[int | None] = mapped_column(sa.Integer)
    attenuation_up_tenth_db: Mapped[int | None] = mapped_column(sa.Integer)
    sampled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[HealthState] = mapped_column(enum_column(HealthState, "health_state"), default=HealthState.UNKNOWN)
    state_since: Mapped[datetime] = mapped_column(UTCDateTime())


class LinePort(TimestampMixin, Base):
    """Which device interface (or DSL port) a subscriber line runs over: the line's health is that port's."""

    __tablename__ = "line_ports"
    __audited__ = True

    line_id: Mapped[int] = mapped_column(IdType, fk("lines.id", ondelete="CASCADE"), primary_key=True)
    device_id: Mapped[int] = mapped_column(IdType, fk("devices.id", ondelete="CASCADE"), index=True)
    if_index: Mapped[int] = mapped_column(sa.Integer)

    __table_args__ = (
        sa.UniqueConstraint("device_id", "if_index"),
        sa.CheckConstraint("if_index > 0", name="if_index_positive"),
    )


class ConditionKind(enum.StrEnum):
    """What a health rule found wrong; the first two make a device or line ``down``, the rest ``degraded``."""

    DEVICE_UNREACHABLE = "device_unreachable"
    INTERFACE_DOWN = "interface_down"
    SNR_MARGIN_LOW = "snr_margin_low"
    ERROR_RATE = "error_rate"
    CPU_HIGH = "cpu_high"

    @property
    def severity(self) -> HealthState:
        return HealthState.DOWN if self in (self.DEVICE_UNREACHABLE, self.INTERFACE_DOWN) else HealthState.DEGRADED


# ``if_index`` 0 stands for the device itself (IF-MIB numbers interfaces from 1).
DEVICE_ITSELF = 0


class HealthCondition(Base):
    """A rule's finding that holds now, on a device (``if_index`` 0) or one of its interfaces, since when;
    once it has lasted long enough it has an incident. Deleted when the rule no longer finds it."""

    __tablename__ = "health_conditions"

    device_id: Mapped[int] = mapped_column(IdType, fk("devices.id", ondelete="CASCADE"), primary_key=True)
    if_index: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    kind: Mapped[ConditionKind] = mapped_column(enum_column(ConditionKind, "condition_kind"), primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[str] = mapped_column(sa.String(255))
    incident_id: Mapped[int | None] = mapped_column(IdType, fk("incidents.id", ondelete="SET NULL"))


class Incident(IdMixin, TimestampMixin, Base):
    """A fault that lasted: what (kind, device, interface), from when to when, which lines it hit, and the
    operators' acknowledgement. Opened and closed by the poller; ``ended_at`` is the first poll that found
    the fault gone."""

    __tablename__ = "incidents"
    __audited__ = True

    kind: Mapped[ConditionKind] = mapped_column(enum_column(ConditionKind, "condition_kind"))
    severity: Mapped[HealthState] = mapped_column(enum_column(HealthState, "health_state"))
    device_id: Mapped[int] = mapped_column(IdType, fk("devices.id", ondelete="CASCADE"), index=True)
    if_index: Mapped[int] = mapped_column(sa.Integer)
    summary: Mapped[str] = mapped_column(sa.String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(sa.String(255))

    __table_args__ = (sa.CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ends_after_start"),)


class IncidentLine(Base):
    """A line an incident hit (the lines on the interface, or every line on a device that went down)."""

    __tablename__ = "incident_lines"

    incident_id: Mapped[int] = mapped_column(IdType, fk("incidents.id", ondelete="CASCADE"), primary_key=True)
    line_id: Mapped[int] = mapped_column(IdType, fk("lines.id", ondelete="CASCADE"), primary_key=True, index=True)


class IncidentComment(IdMixin, Base):
    """An operator's note on an incident (what was found, what was done)."""

    __tablename__ = "incident_comments"

    incident_id: Mapped[int] = mapped_column(IdType, fk("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    author_user_id: Mapped[int | None] = mapped_column(IdType, fk("users.id", ondelete="SET NULL"))
    author_label: Mapped[str] = mapped_column(sa.String(255))
    text: Mapped[str] = mapped_column(sa.Text)


class InterfaceHistory(Base):
    """An interface's figures for graphs, per time bucket of ``resolution_s`` (5 minutes, an hour, a day);
    coarser buckets are kept longer (network/health/history.py), so the table stays bounded."""

    __tablename__ = "interface_history"

    device_id: Mapped[int] = mapped_column(IdType, fk("devices.id", ondelete="CASCADE"), primary_key=True)
    if_index: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    resolution_s: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    samples: Mapped[int] = mapped_column(sa.Integer)
    # Sums, so a bucket's mean is sum / samples however many polls fell into it.
    in_bps_sum: Mapped[int] = mapped_column(sa.BigInteger)
    out_bps_sum: Mapped[int] = mapped_column(sa.BigInteger)
    in_bps_max: Mapped[int] = mapped_column(sa.BigInteger)
    out_bps_max: Mapped[int] = mapped_column(sa.BigInteger)
    up_samples: Mapped[int] = mapped_column(sa.Integer)
    snr_margin_down_min_tenth_db: Mapped[int | None] = mapped_column(sa.Integer)
