"""API shapes for the SNMP device inventory; secrets go in and never come out."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.kit.validation import IdRef, NoControl, text
from network.health.models import AuthProtocol, ConditionKind, DeviceKind, HealthState, PrivProtocol, SnmpVersion
from network.schemas import Name

# RFC 3414 keys are at least 8 characters; communities are printable ASCII in practice.
Community = Annotated[str, text(64, pattern=r"^[\x21-\x7e]+$"), NoControl]
UsmKey = Annotated[str, text(64, min_length=8, pattern=r"^[\x20-\x7e]+$"), NoControl]
UsmUser = Annotated[str, text(32, pattern=r"^[A-Za-z0-9_.-]+$"), NoControl]


def _host(value: str) -> str:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise ValueError("not an IP address") from None
    if address.is_unspecified or address.is_multicast:
        raise ValueError("not a usable unicast address")
    return str(address)


class Credentials(BaseModel):
    """SNMP credentials: v2c with a community, or v3 with a USM user, an auth key and a privacy key
    (authPriv only: what the poller reads of a line is not sent in the clear)."""

    model_config = ConfigDict(extra="forbid")

    version: SnmpVersion
    community: Community | None = None
    user: UsmUser | None = None
    auth_protocol: AuthProtocol | None = None
    auth_key: UsmKey | None = None
    priv_protocol: PrivProtocol | None = None
    priv_key: UsmKey | None = None

    @model_validator(mode="after")
    def _complete(self) -> Self:
        v3_fields = (self.user, self.auth_protocol, self.auth_key, self.priv_protocol, self.priv_key)
        if self.version is SnmpVersion.V2C:
            if self.community is None:
                raise ValueError("v2c needs a community")
            if any(f is not None for f in v3_fields):
                raise ValueError("v2c takes a community only")
            return self
        if self.community is not None:
            raise ValueError("v3 takes no community")
        if None in (self.user, self.auth_protocol, self.auth_key, self.priv_protocol, self.priv_key):
            raise ValueError("v3 needs a user, an auth protocol and key, and a privacy protocol and key")
        return self


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: DeviceKind
    host: str = Field(description="the agent's IP address")
    port: int = Field(default=161, ge=1, le=65535)
    router_id: IdRef | None = Field(default=None, description="the access router this device is, if it is one")
    credentials: Credentials
    poll_interval_s: int = Field(default=300, ge=10, le=86400)
    timeout_ms: int = Field(default=2000, ge=100, le=60000)
    retries: int = Field(default=1, ge=0, le=5)

    _host = field_validator("host")(_host)


class DeviceUpdate(BaseModel):
    """Only what is given changes; new credentials replace the old ones as a whole."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    credentials: Credentials | None = None
    poll_interval_s: int | None = Field(default=None, ge=10, le=86400)
    timeout_ms: int | None = Field(default=None, ge=100, le=60000)
    retries: int | None = Field(default=None, ge=0, le=5)
    is_active: bool | None = None

    _host = field_validator("host")(lambda v: _host(v) if v is not None else None)


class DeviceStatusOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    state: HealthState
    state_since: datetime
    next_poll_at: datetime
    last_polled_at: datetime | None
    last_ok_at: datetime | None
    last_error: str | None
    uptime_cs: int | None
    cpu_percent: int | None
    memory_percent: int | None


class DeviceOut(BaseModel):
    """A device as operators see it: which credentials it uses, never the secrets themselves."""

    id: int
    name: str
    kind: DeviceKind
    host: str
    port: int
    router_id: int | None
    snmp_version: SnmpVersion
    v3_user: str | None
    auth_protocol: AuthProtocol | None
    priv_protocol: PrivProtocol | None
    poll_interval_s: int
    timeout_ms: int
    retries: int
    is_active: bool
    status: DeviceStatusOut


class LinePortSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_id: IdRef
    if_index: int = Field(ge=1, le=2_147_483_647)


class LinePortOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line_id: int
    device_id: int
    if_index: int


class IncidentOut(BaseModel):
    id: int
    kind: ConditionKind
    severity: HealthState
    device_id: int
    device_name: str
    if_index: int = Field(description="0: the device itself")
    summary: str
    started_at: datetime
    ended_at: datetime | None
    duration_s: float
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    lines: int = Field(description="how many lines it hit")


class IncidentCommentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    author_label: str
    text: str


class IncidentDetailOut(IncidentOut):
    line_ids: list[int]
    comments: list[IncidentCommentOut]


class IncidentCommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, text(4000), NoControl]
