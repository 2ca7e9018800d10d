"""A NAS peer for tests: really listens on UDP (RFC 5176 port 3799 on loopback) and answers CoA and
Disconnect requests as a BNG would, recording what it received."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from pyrad import packet

from provisioning.radius.coa import dictionary

# What the NAS answers: ("ack", None) or ("nak", error_cause); None = stay silent (a timeout).
Policy = Callable[["Received"], tuple[str, int | None] | None]


@dataclass
class Received:
    """One request as the NAS saw it."""

    code: int
    attributes: dict[str, list[Any]]
    had_message_authenticator: bool
    authentic: bool


@dataclass
class NasPeer(asyncio.DatagramProtocol):
    secret: str
    policy: Policy = lambda _: ("ack", None)
    received: list[Received] = field(default_factory=list)
    on_disconnect: Callable[[Received], None] | None = None
    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = packet.CoAPacket(packet=data, secret=self.secret.encode(), dict=dictionary())
        has_ma = 80 in request  # Message-Authenticator
        authentic = bool(request.VerifyCoARequest()) and (not has_ma or request.verify_message_authenticator())
        attributes = {key: list(request[key]) for key in request.keys() if isinstance(key, str)}  # noqa: SIM118 - keys() decodes names
        seen = Received(request.code, attributes, has_ma, authentic)
        self.received.append(seen)
        answer = self.policy(seen)
        if answer is None or not authentic:
            return
        verdict, cause = answer
        disconnect = request.code == packet.DisconnectRequest
        reply = request.CreateReply()
        if verdict == "ack":
            reply.code = packet.DisconnectACK if disconnect else packet.CoAACK
        else:
            reply.code = packet.DisconnectNAK if disconnect else packet.CoANAK
            if cause is not None:
                reply["Error-Cause"] = cause
        assert self.transport is not None
        self.transport.sendto(reply.ReplyPacket(), addr)
        if verdict == "ack" and disconnect and self.on_disconnect is not None:
            self.on_disconnect(seen)


async def start_nas(secret: str, *, host: str = "127.0.0.1", port: int = 3799, policy: Policy | None = None) -> NasPeer:
    loop = asyncio.get_running_loop()
    peer = NasPeer(secret=secret, policy=policy or (lambda _: ("ack", None)))
    await loop.create_datagram_endpoint(lambda: peer, local_addr=(host, port))
    return peer


def stop_nas(peer: NasPeer) -> None:
    if peer.transport is not None:
        peer.transport.close()
