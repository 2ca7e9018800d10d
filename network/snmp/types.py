"""Plain types of the SNMP adapter: who to ask (``Target`` with its credentials), what comes back (``Value``),
and what can go wrong (``SnmpError`` and its kinds). No pysnmp in here: the rest of openTelecom sees only
these."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# What a varbind's value becomes at the adapter's edge: INTEGER, Counter32/64, Gauge32, TimeTicks and
# Unsigned32 are ``int``; OCTET STRING and IpAddress are ``bytes``; an OBJECT IDENTIFIER is its dotted ``str``.
Value = int | bytes | str


class AuthProtocol(enum.StrEnum):
    """SNMPv3 USM authentication protocols we configure (RFC 3414, RFC 7860)."""

    SHA = "SHA"  # usmHMACSHAAuthProtocol (HMAC-SHA-96)
    SHA256 = "SHA256"  # usmHMAC192SHA256AuthProtocol


class PrivProtocol(enum.StrEnum):
    """SNMPv3 USM privacy protocols we configure (RFC 3826)."""

    AES = "AES"  # usmAesCfb128Protocol


@dataclass(frozen=True)
class Community:
    """SNMPv2c read community."""

    community: str = field(repr=False)


@dataclass(frozen=True)
class UsmUser:
    """SNMPv3 user-based security (authPriv): user name, authentication and privacy pass phrases.
    ``context`` is the SNMPv3 context name (empty for most agents; snmpsim picks a recording by it)."""

    user: str
    auth_key: str = field(repr=False)
    priv_key: str = field(repr=False)
    auth_protocol: AuthProtocol = AuthProtocol.SHA
    priv_protocol: PrivProtocol = PrivProtocol.AES
    context: str = ""


Credentials = Community | UsmUser


@dataclass(frozen=True)
class Target:
    """One SNMP agent to poll and how patient to be with it.

    ``timeout_s`` is per request and ``retries`` the resends after a timeout; ``deadline_s`` bounds a whole
    poll of the device (all its requests), so one slow device can never hold a poll round longer than
    that. ``max_repetitions`` is the GETBULK row count per request (per column)."""

    host: str
    credentials: Credentials
    port: int = 161
    timeout_s: float = 1.0
    retries: int = 1
    deadline_s: float = 10.0
    max_repetitions: int = 25

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not a UDP port")
        if self.timeout_s <= 0 or self.deadline_s <= 0:
            raise ValueError("timeout_s and deadline_s must be positive")
        if self.retries < 0:
            raise ValueError("retries must not be negative")
        if not 1 <= self.max_repetitions <= 1000:
            raise ValueError("max_repetitions must be within 1..1000")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class SnmpErrorCode(enum.StrEnum):
    """Why a request failed, in words a health rule can act on."""

    TIMEOUT = "timeout"  # no (authentic) answer within timeout and retries, or the poll's deadline passed
    AUTH = "auth"  # the agent refused our credentials (USM report: unknown user, wrong digest, ...)
    AGENT = "agent"  # the agent answered with an error status (genErr, tooBig, ...)
    PROTOCOL = "protocol"  # anything else the SNMP engine reported


class SnmpError(Exception):
    """A request to an agent failed; ``code`` says how, ``target`` which agent."""

    def __init__(self, code: SnmpErrorCode, target: str, detail: str) -> None:
        super().__init__(f"{target}: {code.value}: {detail}")
        self.code = code
        self.target = target
        self.detail = detail
