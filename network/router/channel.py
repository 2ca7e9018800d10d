"""A route-netlink socket inside one network namespace, for batched writes and dumps.

Writes go out as batches of many messages per ``sendmsg``: the kernel handles route-netlink requests
synchronously inside the system call, so one batch of a thousand requests costs one call instead of a
thousand round trips. Successful requests are not acknowledged (errors always are); a NOOP with an ACK
closes each batch, so once its acknowledgement is read every error of the batch has been read too. The
system call runs in a worker thread, which releases the GIL while the kernel works: the event loop
builds the next batch meanwhile, so Python and the kernel use both cores.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import os
import socket
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from network.router import netlink
from network.router.netlink import Message, Request

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10  # errors echo only the header of the refused request, not all of it
NETLINK_EXT_ACK = 11  # errors say why in words, where the kernel has words for it
NETLINK_ROUTE = 0
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33
BUFFER_BYTES = 32 * 1024 * 1024
BATCH_BYTES = 256 * 1024  # per sendmsg; well below the send buffer
QUERIES_PER_BATCH = 512  # GETs sent together; their answers must fit the receive buffer
TIMEOUT_S = 120.0  # for one batch or one dump: the kernel answers in milliseconds unless something is wrong

_libc = ctypes.CDLL(None, use_errno=True)


class ChannelError(Exception):
    """The namespace cannot be reached, or the kernel's answers did not arrive as expected."""

    code = "router_channel"


@dataclass(frozen=True, slots=True)
class Failure:
    """A request the kernel refused."""

    request: Request
    errno: int
    detail: str = ""  # the kernel's own explanation, when it gives one

    def __str__(self) -> str:
        reason = f"{os.strerror(self.errno)} ({self.detail})" if self.detail else os.strerror(self.errno)
        return f"{self.request.what}: {reason}"


def namespace_fd(netns: str) -> int:
    """An open file descriptor of a named network namespace (``ip netns`` style); the caller closes it."""
    path = NETNS_DIR / netns
    if "/" in netns or not path.exists():
        raise ChannelError(f"no network namespace {netns!r}")
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def _socket_in(netns: str) -> socket.socket:
    # A socket belongs to the namespace it was created in. setns() switches only the calling thread, so a
    # short-lived thread enters the namespace and makes the socket; the process stays where it was. (This
    # replaces pyroute2's netns= helper, which forks a helper process per socket and would create the
    # namespace if it did not exist.)
    created: list[socket.socket] = []
    failed: list[BaseException] = []

    def enter() -> None:
        # Every failure is handed to the caller: an exception left in this thread would only be printed.
        try:
            fd = namespace_fd(netns)
        except (OSError, ChannelError) as error:
            failed.append(error)
            return
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                code = ctypes.get_errno()
                raise OSError(code, f"setns {netns}: {os.strerror(code)}")
            created.append(socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE))
        except OSError as error:
            failed.append(error)
        finally:
            os.close(fd)

    thread = threading.Thread(target=enter, name=f"netns-{netns}", daemon=True)
    thread.start()
    thread.join(timeout=10)
    if failed:
        raise ChannelError(str(failed[0])) from failed[0]
    if not created:
        raise ChannelError(f"could not open a netlink socket in {netns!r}")
    return created[0]


class Channel:
    """Route netlink in one namespace. Use ``await Channel.open(name)``; ``close()`` when done."""

    def __init__(self, sock: socket.socket, netns: str) -> None:
        self._sock = sock
        self.netns = netns
        self._seq = 0
        self._lock = asyncio.Lock()  # one conversation at a time: replies are read in order

    @classmethod
    async def open(cls, netns: str) -> Channel:
        sock = await asyncio.to_thread(_socket_in, netns)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, BUFFER_BYTES)
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, BUFFER_BYTES)
            sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
            sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
            sock.bind((0, 0))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return cls(sock, netns)

    def close(self) -> None:
        self._sock.close()

    def _next_seq(self) -> int:
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq

    async def _receive(self) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.sock_recv(self._sock, 1 << 20), TIMEOUT_S)
        except TimeoutError as error:
            raise ChannelError(f"no answer from the kernel in {self.netns!r} within {TIMEOUT_S:.0f} s") from error
        except OSError as error:
            if error.errno == errno.ENOBUFS:
                raise ChannelError(f"netlink receive buffer overrun in {self.netns!r}") from error
            raise

    async def run(self, requests: Sequence[Request]) -> list[Failure]:
        """Send every request in order, in batches; the refused ones, with their errno."""
        async with self._lock:
            failures: list[Failure] = []
            sending: asyncio.Future[int] | None = None
            pending: tuple[dict[int, Request], int] | None = None
            for batch in _batches(requests):
                by_seq: dict[int, Request] = {}
                chunks: list[bytes] = []
                for request in batch:
                    seq = self._next_seq()
                    by_seq[seq] = request
                    chunks.append(request.encode(seq))
                barrier = self._next_seq()
                chunks.append(Request(netlink.NLMSG_NOOP, netlink.F_REQUEST | netlink.F_ACK, b"").encode(barrier))
                data = b"".join(chunks)
                if sending is not None and pending is not None:
                    await sending
                    failures += await self._collect(*pending)
                sending = asyncio.ensure_future(asyncio.to_thread(self._sock.send, data))
                pending = (by_seq, barrier)
            if sending is not None and pending is not None:
                await sending
                failures += await self._collect(*pending)
            return failures

    async def _collect(self, by_seq: dict[int, Request], barrier: int) -> list[Failure]:
        failures: list[Failure] = []
        while True:
            for message in netlink.split(await self._receive()):
                if message.type != netlink.NLMSG_ERROR:
                    continue
                if message.seq == barrier:
                    return failures
                request = by_seq.get(message.seq)
                code = netlink.error_code(message)
                if request is not None and code:
                    failures.append(Failure(request, code, netlink.error_text(message)))

    async def dump(self, request: Request) -> list[Message]:
        """The answer to one dump request."""
        return (await self.query([request]))[0]

    async def query(self, requests: Sequence[Request]) -> list[list[Message]]:
        """The answers to many requests, each answered by messages and then an acknowledgement (a GET
        with ``F_ACK``) or NLMSG_DONE (a dump). GETs go many per ``sendmsg``; dumps one at a time, as
        the kernel runs one dump per socket and finishes it only as its answer is read. A request refused
        with ENOENT, ENODEV or EINVAL (the object or its device is not there) gets an empty answer."""
        answers: list[list[Message]] = []
        async with self._lock:
            batch: list[Request] = []
            for request in requests:
                if request.flags & netlink.F_DUMP == netlink.F_DUMP:
                    answers += await self._exchange(batch) if batch else []
                    answers += await self._exchange([request])
                    batch = []
                else:
                    batch.append(request)
                    if len(batch) >= QUERIES_PER_BATCH:
                        answers += await self._exchange(batch)
                        batch = []
            if batch:
                answers += await self._exchange(batch)
        return answers

    async def _exchange(self, requests: Sequence[Request]) -> list[list[Message]]:
        seqs = [self._next_seq() for _ in requests]
        slot = {seq: n for n, seq in enumerate(seqs)}
        data = b"".join(request.encode(seq) for request, seq in zip(requests, seqs, strict=True))
        await asyncio.to_thread(self._sock.send, data)
        answers: list[list[Message]] = [[] for _ in requests]
        open_ = set(seqs)
        while open_:
            for message in netlink.split(await self._receive()):
                if message.seq not in open_:
                    continue
                if message.type == netlink.NLMSG_DONE:
                    open_.discard(message.seq)
                elif message.type == netlink.NLMSG_ERROR:
                    open_.discard(message.seq)
                    code = netlink.error_code(message)
                    if code not in (0, errno.ENOENT, errno.ENODEV, errno.EINVAL):
                        raise ChannelError(f"query refused in {self.netns!r}: {os.strerror(code)}")
                else:
                    answers[slot[message.seq]].append(message)
        return answers


def _batches(requests: Iterable[Request]) -> Iterable[list[Request]]:
    batch: list[Request] = []
    size = 0
    for request in requests:
        batch.append(request)
        size += len(request.body) + 16
        if size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch
