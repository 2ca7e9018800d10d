"""RFC 5176 Dynamic Authorization: CoA-Request and Disconnect-Request to a NAS, with pyrad's async client.

The adapter boundary: callers pass our values and get an ``Answer`` back; pyrad's packets, codes and
attribute encodings stay in this module.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pyrad import packet
from pyrad.client_async import ClientAsync
from pyrad.dictionary import Dictionary

DICTIONARY_PATH = Path(__file__).with_name("dictionary")

# RFC 5176 section 3.6; the ones an operator needs to read in words.
ERROR_CAUSES = {
    201: "Residual Session Context Removed",
    401: "Unsupported Attribute",
    402: "Missing Attribute",
    403: "NAS Identification Mismatch",
    404: "Invalid Request",
    405: "Unsupported Service",
    406: "Unsupported Extension",
    407: "Invalid Attribute Value",
    501: "Administratively Prohibited",
    502: "Request Not Routable (Proxy)",
    503: "Session Context Not Found",
    504: "Session Context Not Removable",
    505: "Other Proxy Processing Error",
    506: "Resources Unavailable",
    507: "Request Initiated",
    508: "Multiple Session Selection Unsupported",
}
SESSION_NOT_FOUND = 503


class Verdict(enum.StrEnum):
    ACK = "ack"
    NAK = "nak"
    TIMEOUT = "timeout"
    ERROR = "error"


@dataclass(frozen=True)
class Answer:
    """What the NAS said to one request."""

    verdict: Verdict
    error_cause: int | None = None
    detail: str = ""
    attributes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def session_gone(self) -> bool:
        """A NAK saying the session no longer exists: for a disconnect, the goal is reached."""
        return self.verdict is Verdict.NAK and self.error_cause == SESSION_NOT_FOUND


@dataclass(frozen=True)
class Nas:
    """Where and how to reach a NAS's dynamic-authorization port."""

    host: str
    port: int
    secret: str


@lru_cache(maxsize=1)
def dictionary() -> Dictionary:
    """Our RADIUS dictionary (RFC attributes we use, plus WISPr rates)."""
    return Dictionary(str(DICTIONARY_PATH))


def _error_cause(reply: packet.Packet) -> int | None:
    # Read the raw attribute (type 101): the dictionary may turn known values into names.
    raw = reply.get(101)
    if not raw:
        return None
    value = raw[0]
    return int.from_bytes(value, "big") if isinstance(value, bytes) else int(value)


def _describe(cause: int | None) -> str:
    if cause is None:
        return ""
    return f"Error-Cause {cause} ({ERROR_CAUSES.get(cause, 'unknown')})"


async def send(
    nas: Nas,
    *,
    disconnect: bool,
    attributes: Mapping[str, str | int],
    timeout_s: float = 2.0,
    retries: int = 1,
) -> Answer:
    """Send one CoA-Request (``disconnect=False``) or Disconnect-Request and wait for ACK/NAK.

    Every request carries a Message-Authenticator (RFC 5176 and the BlastRADIUS hardening).
    """
    client = ClientAsync(
        server=nas.host,
        coa_port=nas.port,
        secret=nas.secret.encode(),
        dict=dictionary(),
        retries=retries,
        timeout=timeout_s,
        logger_name="opentelecom.coa",
    )
    try:
        await client.initialize_transports(enable_coa=True)
    except OSError as error:
        return Answer(Verdict.ERROR, detail=f"cannot open a socket to {nas.host}:{nas.port}: {error}")
    try:
        request = client.CreateCoAPacket(
            code=packet.DisconnectRequest if disconnect else packet.CoARequest, message_authenticator=True
        )
        for name, value in attributes.items():
            request[name] = value
        try:
            reply = await asyncio.wait_for(client.SendPacket(request), timeout_s * (retries + 1) + 1)
        except TimeoutError:
            return Answer(Verdict.TIMEOUT, detail=f"no answer from {nas.host}:{nas.port} after {retries + 1} tries")
        except (OSError, ConnectionError) as error:
            return Answer(Verdict.ERROR, detail=f"{nas.host}:{nas.port}: {error}")
        received = {key: [str(v) for v in reply[key]] for key in reply.keys() if isinstance(key, str)}  # noqa: SIM118 - keys() decodes names
        cause = _error_cause(reply)
        if reply.code in (packet.DisconnectACK, packet.CoAACK):
            return Answer(Verdict.ACK, detail="acknowledged", attributes=received)
        return Answer(Verdict.NAK, error_cause=cause, detail=_describe(cause) or "refused", attributes=received)
    finally:
        await client.deinitialize_transports()
