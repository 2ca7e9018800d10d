"""API shapes for access routers and address pools."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.kit.validation import NoControl, text
from network.models import PoolFamily

Name = Annotated[str, text(63, min_length=2, pattern=r"^[a-z0-9][a-z0-9.-]{1,62}$"), NoControl]
Netns = Annotated[str, text(63, min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"), NoControl]


def _ipv4(value: str) -> str:
    try:
        address = ipaddress.IPv4Address(value.strip())
    except ValueError:
        raise ValueError("not an IPv4 address") from None
    if address.is_unspecified or address.is_multicast:
        raise ValueError("not a usable unicast address")
    return str(address)


class RouterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    netns: Netns | None = Field(default=None, description="network namespace the worker configures; none = by hand")
    nas_ip: str = Field(description="address the router sends RADIUS from and receives CoA on")
    coa_port: int = Field(default=3799, ge=1, le=65535)
    portal_ipv4: str = Field(description="the coop's portal, reachable from a walled (suspended) line")

    _addresses = field_validator("nas_ip", "portal_ipv4")(_ipv4)


class RouterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    netns: str | None
    nas_ip: str
    coa_port: int
    portal_ipv4: str
    is_active: bool
    radius_secret: str = Field(description="shared secret the router's NAS uses with FreeRADIUS")


class PoolCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    family: PoolFamily
    cidr: Annotated[str, text(49), NoControl]
    gateway: str | None = Field(default=None, description="IPv4 pools: the router's address on each line")
    delegated_length: int | None = Field(default=None, ge=48, le=64, description="IPv6 pools: prefix per line")
    quarantine_days: int = Field(default=30, ge=0, le=365)


class PoolUsageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    pool_id: int
    router_id: int
    family: PoolFamily
    cidr: str
    size: int
    assigned: int
    quarantined: int
    free: int
    percent_used: float
