"""Our AMI client against a real Asterisk 22: login, endpoint and contact listings as our types,
ContactStatus events from a sipp phone, timeouts, and a session that survives Asterisk restarting."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.voip import test_asterisk
from tests.voip.conftest import LOOPBACK, AsteriskServer, run_sipp, start_sipp
from tests.voip.test_asterisk import Provision
from tools import asterisk as asterisk_tool
from tools import processes
from voip.ami import Ami, AmiLoginRefused, AmiTimeout, AmiUnavailable, ContactState, ContactStatusChanged
from voip.models import PjsipAor, PjsipEndpoint

pytestmark = [pytest.mark.asterisk, pytest.mark.postgres]

# test_asterisk's fixture that commits an extension's rows (and removes them afterwards), used here too.
provision = test_asterisk.provision

# How long Asterisk may take to come back after a restart, and the client to notice it.
RECONNECT_BOUND_S = 30.0


def _client(host: str, port: int, user: str, secret: str, **options: float) -> Ami:
    return Ami(host=host, port=port, username=user, secret=secret, **options)


@pytest.fixture
async def ami(asterisk: AsteriskServer) -> AsyncIterator[Ami]:
    client = _client(asterisk.host, asterisk.ami_port, asterisk.ami_user, asterisk.ami_secret)
    await client.start()
    yield client
    await client.close()


@dataclass
class OwnAsterisk:
    """An Asterisk of the test's own (the session's one must not be restarted), on fixed ports."""

    directory: Path
    process: subprocess.Popen[bytes]
    rendered: asterisk_tool.Rendered

    async def stop(self) -> None:
        await asyncio.to_thread(processes.stop, self.process)

    async def start(self) -> None:
        self.process = await asyncio.to_thread(asterisk_tool.start, self.directory)

    def client(self, **options: float) -> Ami:
        r = self.rendered
        return _client(r.ami_listen, r.ami_port, r.ami_user, r.ami_secret, **options)


@pytest.fixture
async def own_asterisk(pg_url: str) -> AsyncIterator[OwnAsterisk]:
    database = make_url(pg_url).database
    assert database is not None
    try:
        directory = asterisk_tool.render(
            f"test-ami-{os.getpid()}-{secrets.token_hex(3)}",
            db_name=database,
            sip_port=processes.free_udp_port(),
            ami_port=processes.free_tcp_port(),
        )
        process = await asyncio.to_thread(asterisk_tool.start, directory)
    except RuntimeError as error:
        pytest.fail(f"Asterisk did not start: {error}", pytrace=False)
    own = OwnAsterisk(directory, process, asterisk_tool.Rendered.load(directory))
    assert own.rendered.ami_listen == LOOPBACK
    try:
        yield own
    finally:
        # A frozen Asterisk would ignore SIGTERM until it is thawed.
        if own.process.poll() is None:
            own.process.send_signal(signal.SIGCONT)
        await own.stop()
        asterisk_tool.remove_instance(directory)


async def _until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not true within {timeout_s} s"
        await asyncio.sleep(0.05)


def _state(pid: int) -> str:
    """A process's state letter from /proc (T: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


async def test_login_opens_a_session_that_answers(ami: Ami) -> None:
    assert ami.connected
    await ami.ping()


async def test_wrong_secret_is_refused_with_our_error(asterisk: AsteriskServer) -> None:
    client = _client(asterisk.host, asterisk.ami_port, asterisk.ami_user, secrets.token_urlsafe(32))

    with pytest.raises(AmiLoginRefused) as refused:
        await client.start()

    assert refused.value.code == "ami_login_refused"
    assert not client.connected
    with pytest.raises(AmiUnavailable):
        await client.ping()
    await client.close()


async def test_provisioned_endpoint_and_its_changes_are_seen_without_a_reload(
    ami: Ami, provision: Provision, engine: AsyncEngine
) -> None:
    await provision(extension="1301")

    details = await ami.show_endpoint("1301")

    assert details is not None
    assert (details.name, details.context, details.transport) == ("1301", "members", "transport-udp")
    assert (details.aors, details.auths, details.codecs) == (("1301",), ("1301",), ("ulaw", "alaw"))
    assert details.contacts == ()
    assert details.active_channels == 0
    # Realtime without a cache: the changed row is what the next lookup returns.
    async with AsyncSession(engine) as session:
        await session.execute(sa.update(PjsipEndpoint).where(PjsipEndpoint.id == "1301").values(context="suspended"))
        await session.commit()
    changed = await ami.show_endpoint("1301")
    assert changed is not None and changed.context == "suspended"


async def test_unknown_endpoint_is_none(ami: Ami) -> None:
    assert await ami.show_endpoint("1399") is None


async def test_registered_phone_is_listed_and_its_contact_status_events_arrive(
    ami: Ami, asterisk: AsteriskServer, provision: Provision, engine: AsyncEngine, tmp_path: Path
) -> None:
    password = await provision(extension="1302")
    await _set_qualify(engine, "1302", frequency_s=1)
    picked_up = await ami.pick_up_endpoint("1302")
    assert picked_up.name == "1302"
    changes = ami.subscribe_contact_status()
    try:
        before = datetime.now(UTC)
        registration = await run_sipp(
            asterisk, "register.xml", extension="1302", password=password, workdir=tmp_path, keys={"expires": "300"}
        )
        assert registration.returncode == 0, f"{registration.output}\n{registration.messages}"
        uri = f"sip:1302@127.0.0.1:{registration.local_port}"
        # The phone answers Asterisk's qualify ping on the port its contact names.
        phone = await start_sipp("answer_options.xml", [], workdir=tmp_path, local_port=registration.local_port)

        seen: list[ContactStatusChanged] = []
        while not any(change.status is ContactState.REACHABLE for change in seen):
            change = await changes.get(timeout_s=10)
            if change.aor == "1302":
                seen.append(change)
        answered = await phone.result()
        contacts = [c for c in await ami.show_contacts() if c.aor == "1302"]
    finally:
        changes.close()
        # Asterisk would otherwise keep pinging this contact for the rest of the session.
        await _set_qualify(engine, "1302", frequency_s=0)
        await ami.pick_up_endpoint("1302")

    assert answered.returncode == 0, f"{answered.output}\n{answered.messages}"
    assert (seen[0].endpoint, seen[0].uri, seen[0].status) == ("1302", uri, ContactState.NON_QUALIFIED)
    assert seen[0].rtt_ms is None
    assert seen[0].at is not None and before.timestamp() - 1 <= seen[0].at.timestamp() <= time.time() + 1
    reachable = next(change for change in seen if change.status is ContactState.REACHABLE)
    assert reachable.uri == uri
    assert reachable.rtt_ms is not None and 0 < reachable.rtt_ms < 1000
    [contact] = contacts
    assert (contact.endpoint, contact.uri, contact.user_agent) == ("1302", uri, "openTelecom-test-phone")
    assert contact.expires_at is not None
    assert 250 < (contact.expires_at - datetime.now(UTC)).total_seconds() <= 300


async def _set_qualify(engine: AsyncEngine, aor: str, *, frequency_s: int) -> None:
    async with AsyncSession(engine) as session:
        await session.execute(sa.update(PjsipAor).where(PjsipAor.id == aor).values(qualify_frequency=frequency_s))
        await session.commit()


async def test_client_reconnects_by_itself_after_asterisk_restarts(own_asterisk: OwnAsterisk) -> None:
    client = own_asterisk.client(action_timeout_s=2.0, backoff_initial_s=0.2, backoff_max_s=1.0)
    await client.start()
    try:
        await client.ping()

        await own_asterisk.stop()
        await _until(lambda: not client.connected, timeout_s=5)
        started = time.monotonic()
        with pytest.raises(AmiUnavailable) as unavailable:
            await client.show_contacts()
        assert time.monotonic() - started < client.action_timeout_s
        assert unavailable.value.code == "ami_unavailable"

        await own_asterisk.start()
        await client.wait_connected(RECONNECT_BOUND_S)

        assert client.connected
        assert client.reconnects == 1
        await client.ping()
        assert await client.show_endpoint("1399") is None
        assert isinstance(await client.show_contacts(), list)
    finally:
        await client.close()
    assert not client.connected


async def test_action_against_a_frozen_asterisk_times_out_with_our_error(own_asterisk: OwnAsterisk) -> None:
    client = own_asterisk.client(action_timeout_s=1.0, ping_interval_s=60.0)
    await client.start()
    try:
        own_asterisk.process.send_signal(signal.SIGSTOP)
        # SIGSTOP takes effect a moment later; until then Asterisk might still answer.
        await _until(lambda: _state(own_asterisk.process.pid) == "T", timeout_s=5)
        started = time.monotonic()
        with pytest.raises(AmiTimeout) as timed_out:
            await client.show_contacts()
        elapsed = time.monotonic() - started
        own_asterisk.process.send_signal(signal.SIGCONT)

        assert timed_out.value.code == "ami_timeout"
        assert 1.0 <= elapsed < 2.0
        # The late answer is dropped; the session goes on.
        await client.ping()
    finally:
        await client.close()
