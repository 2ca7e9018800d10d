"""Asterisk 22 for real, with our configuration from deploy/asterisk, and sipp as the phone.

``asterisk`` runs one Asterisk for the session, from the Debian unstable root tools/asterisk_root.sh
builds, on free loopback ports, reading PJSIP realtime from and writing CDRs into the session's test
database (``pg_url``). Asterisk reads what is committed, so tests that give it rows commit them and
remove them again. A missing root, sipp or an Asterisk that does not come up fails the tests; it never
skips them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tools import asterisk as asterisk_tool
from tools import processes

SCENARIOS = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
# Bounds for every sipp run: one call, each answer within 5 s, the whole run within 15 s.
SIPP_RECV_TIMEOUT_MS = 5000
SIPP_TIMEOUT_S = 15


@dataclass(frozen=True)
class AsteriskServer:
    """A running Asterisk on our configuration, and how to reach it."""

    host: str
    sip_port: int
    ami_port: int
    ami_user: str
    ami_secret: str
    log: Path


@dataclass(frozen=True)
class SippRun:
    """What one sipp run did: its exit status (0: the scenario went as written) and the SIP it exchanged."""

    returncode: int
    messages: str
    output: str
    local_port: int

    @property
    def status_lines(self) -> list[str]:
        """The status line of every SIP response sipp received, in order."""
        return [line.strip() for line in self.messages.splitlines() if line.strip().startswith("SIP/2.0 ")]


@contextmanager
def running_asterisk(database_url: str, name: str) -> Iterator[AsteriskServer]:
    """An Asterisk instance ``name`` on free loopback ports (SIP over UDP, AMI over TCP) reading the database
    of ``database_url``; fails the test (never skips) if it does not start."""
    if shutil.which("sipp") is None:
        pytest.fail("sipp is missing: tools/system-deps.sh test installs Debian's sip-tester", pytrace=False)
    database = make_url(database_url).database
    assert database is not None
    sip_port, ami_port = processes.free_udp_port(), processes.free_tcp_port()
    try:
        directory = asterisk_tool.render(
            f"{name}-{os.getpid()}-{secrets.token_hex(3)}", db_name=database, sip_port=sip_port, ami_port=ami_port
        )
        process = asterisk_tool.start(directory)
    except RuntimeError as error:
        pytest.fail(f"Asterisk did not start: {error}", pytrace=False)
    rendered = asterisk_tool.Rendered.load(directory)
    try:
        yield AsteriskServer(LOOPBACK, sip_port, ami_port, rendered.ami_user, rendered.ami_secret, rendered.log)
    finally:
        processes.stop(process)
        if not os.environ.get("OPENTELECOM_KEEP_ASTERISK"):
            asterisk_tool.remove_instance(directory)


@pytest.fixture(scope="session")
def asterisk(pg_url: str) -> Iterator[AsteriskServer]:
    """Asterisk against the session's test database."""
    with running_asterisk(pg_url, "test") as server:
        yield server


async def start_sipp(
    scenario: str,
    arguments: list[str],
    *,
    workdir: Path,
    local_port: int | None = None,
    hold_ms: int = 0,
) -> SippProcess:
    """Start one bounded sipp run of a scenario from tests/voip on loopback; ``SippProcess.result`` waits
    for it. sipp uses ``local_port`` (a free one if None) and keeps its message log in ``workdir``."""
    local_port = local_port or processes.free_udp_port()
    message_file = workdir / f"{Path(scenario).stem}-{local_port}.log"
    command = [
        "sipp",
        *arguments,
        "-sf",
        str(SCENARIOS / scenario),
        "-i",
        LOOPBACK,
        "-p",
        str(local_port),
        "-mp",
        str(processes.free_udp_ports(4)),  # sipp binds audio and video RTP/RTCP from here
        "-d",
        str(hold_ms),
        "-m",
        "1",
        "-l",
        "1",
        "-recv_timeout",
        str(SIPP_RECV_TIMEOUT_MS),
        "-timeout",
        f"{SIPP_TIMEOUT_S}s",
        "-timeout_error",
        "-nostdin",
        "-trace_msg",
        "-message_file",
        str(message_file),
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=workdir,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    return SippProcess(process, message_file, local_port)


@dataclass(frozen=True)
class SippProcess:
    """A running sipp."""

    process: asyncio.subprocess.Process
    message_file: Path
    local_port: int

    async def result(self) -> SippRun:
        try:
            output, _ = await asyncio.wait_for(self.process.communicate(), timeout=SIPP_TIMEOUT_S + 5)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise
        assert self.process.returncode is not None
        messages = self.message_file.read_text(errors="replace") if self.message_file.exists() else ""
        return SippRun(self.process.returncode, messages, output.decode(errors="replace"), self.local_port)


async def run_sipp(
    server: AsteriskServer,
    scenario: str,
    *,
    extension: str,
    password: str,
    workdir: Path,
    keys: Mapping[str, str] | None = None,
    hold_ms: int = 0,
    local_port: int | None = None,
) -> SippRun:
    """Run one sipp scenario as the phone of ``extension`` against ``server``, to its end.

    ``keys`` fill the scenario's own keywords (``expires``, ``dialed``); ``hold_ms`` is how long a call
    scenario's ``<pause/>`` holds the call.
    """
    arguments = phone_arguments(server, extension=extension, password=password, keys=keys)
    sipp = await start_sipp(scenario, arguments, workdir=workdir, local_port=local_port, hold_ms=hold_ms)
    return await sipp.result()


def phone_arguments(
    server: AsteriskServer, *, extension: str, password: str, keys: Mapping[str, str] | None = None
) -> list[str]:
    """sipp's arguments to act as the phone of ``extension`` (its digest credentials) towards ``server``."""
    arguments = [f"{server.host}:{server.sip_port}", "-s", extension, "-au", extension, "-ap", password]
    for key, value in (keys or {}).items():
        arguments += ["-key", key, value]
    return arguments
