"""API shapes for lines, provisioning history, jobs and reconcile reports."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.kit.validation import IdRef, NoControl, text
from provisioning.models import EventOutcome, JobKind, JobStatus, LineState, PortKind

Target = Literal["lines", "radius", "router", "sessions", "asterisk"]
ALL_TARGETS: tuple[Target, ...] = ("lines", "radius", "router", "sessions", "asterisk")
DeviceName = Annotated[str, text(63, min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"), NoControl]


class ProvisionRequest(BaseModel):
    """Switch an ordered contract on: which router, optionally which static address, how the line attaches."""

    model_config = ConfigDict(extra="forbid")

    router_id: IdRef
    ipv4: str | None = Field(default=None, description="a static address from the router's pool; none = next free")
    port_kind: PortKind = PortKind.VETH
    port_peer: DeviceName | None = Field(
        default=None, description="veth: far-end namespace; vxlan: underlay; vlan: parent"
    )
    port_tag: int | None = Field(default=None, ge=1, le=16_777_215, description="vxlan VNI or VLAN id")
    port_remote: str | None = Field(
        default=None, description="vxlan: the far end's underlay address (the router's end is its NAS address)"
    )

    @field_validator("ipv4", "port_remote")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.IPv4Address(value.strip()))
        except ValueError:
            raise ValueError("not an IPv4 address") from None

    @model_validator(mode="after")
    def _port_complete(self) -> ProvisionRequest:
        if self.port_kind is PortKind.VLAN and (
            self.port_peer is None or self.port_tag is None or self.port_tag > 4094
        ):
            raise ValueError("a VLAN line needs port_peer (parent device) and port_tag (1-4094)")
        if self.port_kind is PortKind.VXLAN and (
            self.port_peer is None or self.port_tag is None or self.port_remote is None
        ):
            raise ValueError("a VXLAN line needs port_peer (underlay device), port_tag (VNI) and port_remote")
        return self


class LineOut(BaseModel):
    id: int
    contract_id: int
    contract_number: str
    contract_status: str
    router_id: int
    username: str
    ifname: str | None
    port_kind: PortKind
    ipv4: str | None
    ipv6_prefix: str | None
    state: LineState
    plan_code: str
    down_kbps: int
    up_kbps: int
    created_at: datetime
    removed_at: datetime | None


class SessionOut(BaseModel):
    """The line's latest accounting session, as the NAS reported it."""

    model_config = ConfigDict(from_attributes=True)

    online: bool
    acct_session_id: str
    nas_ip: str
    framed_ip: str | None
    started_at: datetime | None
    updated_at: datetime | None
    stopped_at: datetime | None
    input_octets: int
    output_octets: int
    terminate_cause: str | None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    step: str
    outcome: EventOutcome
    detail: str
    error_cause: int | None
    job_id: int | None
    data: dict[str, Any] | None


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: JobKind
    line_id: int
    router_id: int
    status: JobStatus
    attempts: int
    run_after: datetime
    created_at: datetime
    finished_at: datetime | None
    last_error: str | None
    requested_by: str


class LineDetail(LineOut):
    password: str = Field(description="PPPoE/IPoE password (shown to the line's member and to operators)")
    session: SessionOut | None
    events: list[EventOut]
    jobs: list[JobOut]


class ReconcileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = False
    targets: list[Target] = Field(default_factory=lambda: list(ALL_TARGETS), min_length=1, max_length=len(ALL_TARGETS))


class DriftOut(BaseModel):
    target: str
    subject: str
    problem: str
    line_id: int | None
    repaired: bool


class ReconcileOut(BaseModel):
    dry_run: bool
    converged: bool
    changed: int
    summary: str
    checked: dict[str, int]
    unmanaged: list[str]
    drift: list[DriftOut]
