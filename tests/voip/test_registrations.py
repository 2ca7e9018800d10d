"""The registration watcher against a real Asterisk: a provisioned line's phone (sipp) registers and the
line pages say so; unregistering, suspension and an Asterisk restart (with the registration expiring
meanwhile) are followed; without AMI settings no watcher runs."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.audit.service import bind_actor
from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.db import Database
from app.kit.actor import Role
from app.kit.loops import LoopRunner
from app.main import create_app
from app.settings import Settings
from provisioning import repository as provisioning_repository
from provisioning import tasks as provisioning_tasks
from tests.builders import (
    BOARD,
    OPERATOR,
    make_contract,
    make_member,
    make_number_block,
    make_plan,
    make_router,
    make_user,
)
from tests.voip.conftest import LOOPBACK, AsteriskServer, SippRun, phone_arguments, run_sipp, start_sipp
from tests.voip.test_ami import OwnAsterisk
from tests.web.test_pages import web_login
from tools import asterisk as asterisk_tool
from tools import processes
from voip import service, tasks
from voip.ami import Ami, AmiUnavailable, Channel
from voip.lines import CallTeardown
from voip.models import PjsipContact
from voip.schemas import PhoneLineOut, RegistrationOut

# Every wait on the watcher is bounded by this (it polls every POLL_S and takes events every second).
WAIT_S = 20.0
POLL_S = 2.0
USER_AGENT = "openTelecom-test-phone"


@pytest.fixture
async def asterisk_on_committed_db(committed_db_url: str) -> AsyncIterator[OwnAsterisk]:
    """An Asterisk of the test's own on the committed database, which the test may stop and start."""
    database = make_url(committed_db_url).database
    assert database is not None
    try:
        directory = asterisk_tool.render(
            f"registrations-{os.getpid()}-{secrets.token_hex(3)}",
            db_name=database,
            sip_port=processes.free_udp_port(),
            ami_port=processes.free_tcp_port(),
        )
        process = await asyncio.to_thread(asterisk_tool.start, directory)
    except RuntimeError as error:
        pytest.fail(f"Asterisk did not start: {error}", pytrace=False)
    own = OwnAsterisk(directory, process, asterisk_tool.Rendered.load(directory))
    assert own.rendered.ami_listen == own.rendered.sip_listen == LOOPBACK
    try:
        yield own
    finally:
        if own.process.poll() is None:
            own.process.send_signal(signal.SIGCONT)
        await own.stop()
        asterisk_tool.remove_instance(directory)


def _server(own: OwnAsterisk) -> AsteriskServer:
    r = own.rendered
    return AsteriskServer(LOOPBACK, r.sip_port, r.ami_port, r.ami_user, r.ami_secret, r.log)


def _settings(committed_db_url: str, *, poll_s: float = POLL_S, **ami: object) -> Settings:
    return Settings(
        environment="test",
        database_url=committed_db_url,
        run_background_loops=False,
        registration_poll_s=poll_s,
        _env_file=None,  # type: ignore[call-arg]
        **ami,  # type: ignore[arg-type]
    )


@dataclass
class Watching:
    """The watcher loop running in the test, as the serving process runs it."""

    runner: LoopRunner
    watcher: tasks.RegistrationWatcher

    @property
    def failures(self) -> int:
        return self.runner.loops[tasks.LOOP_NAME].failures


@pytest.fixture
async def watch(committed_db: Database) -> AsyncIterator[Callable[[Settings], Watching]]:
    runners: list[LoopRunner] = []

    def start(settings: Settings) -> Watching:
        runner = LoopRunner(committed_db.transaction, dialect="postgresql")
        watcher = tasks.register(runner, settings, reconnect_wait_s=1.0, backoff_initial_s=0.2, backoff_max_s=1.0)
        assert watcher is not None and list(runner.loops) == [tasks.LOOP_NAME]
        runner.start()
        runners.append(runner)
        return Watching(runner, watcher)

    yield start
    for runner in runners:
        await runner.stop()


@dataclass(frozen=True)
class Phone:
    contract_id: int
    phone_line_id: int
    extension: str
    password: str
    member_email: str


Provisioned = Callable[..., Awaitable[Phone]]


@pytest.fixture
async def phone_line(committed_db: Database) -> AsyncIterator[Provisioned]:
    """Commit an active contract with a phone (its own number block ``prefix``000..009) and a member
    login, and with ``broadband`` an access line too (on a router configured by hand); terminated
    afterwards, which removes its realtime rows and its registration."""
    made: list[Phone] = []

    async def provision(prefix: str, *, broadband: bool = False) -> Phone:
        async with committed_db.transaction() as session:
            if broadband:
                await make_router(session)
            bind_actor(session, BOARD)
            await make_number_block(session, first_number=f"{prefix}000", last_number=f"{prefix}009")
            member = await make_member(session, committed_db.settings)
            plan = await make_plan(session, includes_phone=True)
            contract = await make_contract(session, committed_db.settings, member=member, plan=plan)
            line = await service.phone_line_for_contract(session, actor=BOARD, contract_id=contract.id)
            assert line is not None
            credentials = await service.sip_credentials(session, actor=OPERATOR, phone_line_id=line.id)
            user = await make_user(session, role=Role.MEMBER, member=member)
        phone = Phone(contract.id, line.id, line.extension, credentials.password, user.email)
        made.append(phone)
        return phone

    yield provision
    for phone in made:
        await _transition(committed_db, phone.contract_id, ContractStatus.TERMINATED)
    await _drain_provisioning(committed_db)


async def _transition(database: Database, contract_id: int, to: ContractStatus) -> None:
    async with database.transaction() as session:
        bind_actor(session, BOARD)
        await contracts.transition(session, actor=BOARD, settings=database.settings, contract_id=contract_id, to=to)


async def _drain_provisioning(database: Database) -> None:
    """Carry out the outbox jobs a broadband line of these tests queued (routers configured by hand)."""
    for _ in range(10):
        async with database.transaction() as session:
            if not await provisioning_tasks.run_batch(session, settings=database.settings):
                return


async def _line(database: Database, phone: Phone) -> PhoneLineOut:
    async with database.transaction() as session:
        return await service.get_phone_line(session, actor=OPERATOR, phone_line_id=phone.phone_line_id)


async def _until(
    database: Database, phone: Phone, wanted: Callable[[RegistrationOut | None], bool], what: str
) -> RegistrationOut | None:
    deadline = time.monotonic() + WAIT_S
    while True:
        registration = (await _line(database, phone)).registration
        if wanted(registration):
            return registration
        assert time.monotonic() < deadline, f"not {what} within {WAIT_S} s: {registration}"
        await asyncio.sleep(0.2)


def _registered(registration: RegistrationOut | None) -> bool:
    return registration is not None and registration.registered


def _not_registered(registration: RegistrationOut | None) -> bool:
    return registration is not None and not registration.registered


async def _register(
    server: AsteriskServer, phone: Phone, tmp_path: Path, *, expires: int = 300, local_port: int | None = None
) -> SippRun:
    """sipp registers the phone (``expires=0`` from the contact's ``local_port``: unregisters it)."""
    run = await run_sipp(
        server,
        "register.xml",
        extension=phone.extension,
        password=phone.password,
        workdir=tmp_path,
        keys={"expires": str(expires)},
        local_port=local_port,
    )
    assert run.returncode == 0, f"{run.output}\n{run.messages}"
    assert run.status_lines[-1] == "SIP/2.0 200 OK"
    return run


def _phone_badge(text: str, extension: str) -> str:
    flat = text.replace("\n", "")
    start = flat.index(f'id="phone-{extension}"')
    marker = 'class="phone-registration"><span class="badge '
    badge = flat[flat.index(marker, start) + len(marker) :]
    return badge.split(">", 1)[1].split("<", 1)[0]


async def _page(database: Database, email: str, path: str) -> str:
    # Without AMI settings: the pages only read what the watcher recorded.
    application = create_app(database.settings, database=database, run_loops=False)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await web_login(client, email)
            page = await client.get(path)
    assert page.status_code == 200, page.text
    return page.text


@pytest.mark.asterisk
async def test_registered_phone_is_recorded_and_shown_on_both_line_pages_then_unregistering_clears_it(
    asterisk_on_committed_db: OwnAsterisk,
    committed_db: Database,
    committed_db_url: str,
    phone_line: Provisioned,
    watch: Callable[[Settings], Watching],
    tmp_path: Path,
) -> None:
    server = _server(asterisk_on_committed_db)
    phone = await phone_line("+49331998100", broadband=True)
    # The convenience of `make services`: the AMI settings come from the instance's server.json.
    # No periodic listing within the test: after the listing that fetches the new phone's User-Agent,
    # the unregistration can only arrive as a ContactStatus event (asserted below by the event count).
    server_file = asterisk_on_committed_db.directory / "server.json"
    watching = watch(_settings(committed_db_url, poll_s=10 * WAIT_S, asterisk_server_file=server_file))
    # The first listing (right after connecting) has nothing for the new line.
    assert (await _line(committed_db, phone)).registration is None

    registration = await _register(server, phone, tmp_path)
    registered = await _until(
        committed_db, phone, lambda r: _registered(r) and r is not None and r.user_agent is not None, "registered"
    )

    assert registered is not None
    assert registered.user_agent == USER_AGENT
    assert registered.contact_uri == f"sip:{phone.extension}@127.0.0.1:{registration.local_port}"
    async with committed_db.transaction() as session:
        operator = await make_user(session, role=Role.OPERATOR)
        line = await provisioning_repository.line_by_contract(session, phone.contract_id)
    assert line is not None
    portal = await _page(committed_db, phone.member_email, "/portal/line")
    console = await _page(committed_db, operator.email, f"/console/lines/{line.id}")
    assert _phone_badge(portal, phone.extension) == _phone_badge(console, phone.extension) == "angemeldet"
    assert USER_AGENT in portal and USER_AGENT in console

    await _register(server, phone, tmp_path, expires=0, local_port=registration.local_port)
    gone = await _until(committed_db, phone, _not_registered, "unregistered")

    assert gone is not None and gone.since >= registered.since and gone.user_agent is None
    assert watching.watcher.events >= 2
    assert watching.failures == 0
    portal = await _page(committed_db, phone.member_email, "/portal/line")
    assert _phone_badge(portal, phone.extension) == "nicht angemeldet"


def _explicit(committed_db_url: str, own: OwnAsterisk) -> Settings:
    r = own.rendered
    return _settings(
        committed_db_url, ami_host=r.ami_listen, ami_port=r.ami_port, ami_username=r.ami_user, ami_secret=r.ami_secret
    )


async def _eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"not {what} within {WAIT_S} s"
        await asyncio.sleep(0.1)


@pytest.mark.asterisk
async def test_watcher_survives_asterisk_restarting_and_catches_up_with_what_happened_meanwhile(
    asterisk_on_committed_db: OwnAsterisk,
    committed_db: Database,
    committed_db_url: str,
    phone_line: Provisioned,
    watch: Callable[[Settings], Watching],
    tmp_path: Path,
) -> None:
    server = _server(asterisk_on_committed_db)
    phone = await phone_line("+49331998200")
    watching = watch(_explicit(committed_db_url, asterisk_on_committed_db))
    await _register(server, phone, tmp_path)
    first = await _until(committed_db, phone, _registered, "registered")
    assert first is not None

    await asterisk_on_committed_db.stop()
    # The registration runs out while Asterisk is down (at boot it drops expired contacts): no event
    # will ever say so, only the listing after the reconnect.
    async with committed_db.transaction() as session:
        await session.execute(sa.delete(PjsipContact).where(PjsipContact.endpoint == phone.extension))
    await _eventually(lambda: watching.failures > 0, "a failed run counted while Asterisk is down")
    down = watching.runner.loops[tasks.LOOP_NAME].last_error
    await asterisk_on_committed_db.start()
    gone = await _until(committed_db, phone, _not_registered, "caught up (not registered)")

    assert down is not None and "AmiUnavailable" in down
    assert watching.watcher.reconnects == 1
    assert gone is not None and gone.since > first.since
    await _register(server, phone, tmp_path)
    back = await _until(committed_db, phone, _registered, "registered again")
    assert back is not None and back.since > gone.since
    await _eventually(lambda: watching.runner.loops[tasks.LOOP_NAME].last_error is None, "the loop healthy again")
    assert watching.runner.healthy()


@pytest.mark.asterisk
async def test_suspension_ends_the_registration_and_resumption_lets_the_phone_register_again(
    asterisk_on_committed_db: OwnAsterisk,
    committed_db: Database,
    committed_db_url: str,
    phone_line: Provisioned,
    watch: Callable[[Settings], Watching],
    tmp_path: Path,
) -> None:
    server = _server(asterisk_on_committed_db)
    phone = await phone_line("+49331998300")
    watching = watch(_explicit(committed_db_url, asterisk_on_committed_db))
    await _register(server, phone, tmp_path)
    await _until(committed_db, phone, _registered, "registered")

    await _transition(committed_db, phone.contract_id, ContractStatus.SUSPENDED)
    suspended = await _until(committed_db, phone, _not_registered, "unregistered by the suspension")
    refused = await run_sipp(
        server,
        "register_rejected.xml",
        extension=phone.extension,
        password=phone.password,
        workdir=tmp_path,
        keys={"expires": "300"},
    )
    polls = watching.watcher.polls
    await _eventually(lambda: watching.watcher.polls >= polls + 2, "two more listings")
    still = (await _line(committed_db, phone)).registration

    assert refused.returncode == 0 and refused.status_lines[-1] == "SIP/2.0 403 Forbidden"
    assert suspended is not None and suspended.user_agent is None
    assert still is not None and not still.registered and still.since == suspended.since
    await _transition(committed_db, phone.contract_id, ContractStatus.ACTIVE)
    await _register(server, phone, tmp_path)
    resumed = await _until(committed_db, phone, _registered, "registered after resumption")
    assert resumed is not None and resumed.since > suspended.since
    assert watching.failures == 0


async def _legs(own: OwnAsterisk, wanted: Callable[[list[Channel]], bool], what: str) -> list[Channel]:
    """The live call legs, once ``wanted`` holds for them (polled over a separate AMI session)."""
    r = own.rendered
    ami = Ami(host=r.ami_listen, port=r.ami_port, username=r.ami_user, secret=r.ami_secret)
    await ami.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while not wanted(legs := await ami.show_channels()):
            assert time.monotonic() < deadline, f"not {what} within {WAIT_S} s: {legs}"
            await asyncio.sleep(0.1)
        return legs
    finally:
        await ami.close()


async def _teardowns(database: Database, extension: str) -> list[CallTeardown]:
    async with database.transaction() as session:
        query = sa.select(CallTeardown).where(CallTeardown.extension == extension).order_by(CallTeardown.id)
        return list(await session.scalars(query))


def _up(*extensions: str) -> Callable[[list[Channel]], bool]:
    return lambda legs: {leg.endpoint for leg in legs if leg.state == "Up"} >= set(extensions)


@pytest.mark.asterisk
async def test_suspension_hangs_up_the_lines_live_call_but_never_an_emergency_call(
    asterisk_on_committed_db: OwnAsterisk,
    committed_db: Database,
    committed_db_url: str,
    phone_line: Provisioned,
    watch: Callable[[Settings], Watching],
    tmp_path: Path,
) -> None:
    server = _server(asterisk_on_committed_db)
    caller, callee = await phone_line("+49331998400"), await phone_line("+49331998410")
    watching = watch(_explicit(committed_db_url, asterisk_on_committed_db))
    registration = await _register(server, callee, tmp_path)
    answering = await start_sipp("answer.xml", [], workdir=tmp_path, local_port=registration.local_port)
    calling = await start_sipp(
        "call_ended_by_network.xml",
        phone_arguments(
            server, extension=caller.extension, password=caller.password, keys={"dialed": callee.extension}
        ),
        workdir=tmp_path,
    )
    await _legs(asterisk_on_committed_db, _up(caller.extension, callee.extension), "the call up")

    await _transition(committed_db, caller.contract_id, ContractStatus.SUSPENDED)
    hung_up, answered = await calling.result(), await answering.result()
    [teardown] = await _teardowns(committed_db, caller.extension)

    assert hung_up.returncode == 0, f"{hung_up.output}\n{hung_up.messages}"
    assert answered.returncode == 0, f"{answered.output}\n{answered.messages}"
    assert (teardown.reason, teardown.calls_ended, teardown.last_error) == ("suspended", 1, None)
    assert teardown.done_at is not None and watching.watcher.calls_ended == 1

    # Suspended, the line still reaches 112 (answered by an echo in the lab); a request to end its calls
    # leaves that call alone: the phone hangs up itself after 5 s, as call.xml says.
    emergency = await start_sipp(
        "call.xml",
        phone_arguments(server, extension=caller.extension, password=caller.password, keys={"dialed": "112"}),
        workdir=tmp_path,
        hold_ms=5000,
    )
    [leg] = await _legs(asterisk_on_committed_db, _up(caller.extension), "the emergency call up")
    async with committed_db.transaction() as session:
        await service.request_teardowns(session, extensions=[caller.extension], reason="suspended")
    deadline = time.monotonic() + WAIT_S
    while (second := (await _teardowns(committed_db, caller.extension))[-1]).done_at is None:
        assert time.monotonic() < deadline, f"the second request not carried out within {WAIT_S} s"
        await asyncio.sleep(0.1)
    still = await _legs(asterisk_on_committed_db, _up(caller.extension), "the emergency call still up")
    finished = await emergency.result()

    assert (leg.context, leg.exten) == ("emergency-call", "112") and still == [leg]
    assert finished.returncode == 0, f"{finished.output}\n{finished.messages}"
    assert second.calls_ended == 0
    assert watching.failures == 0


def test_without_ami_settings_no_watcher_runs() -> None:
    runner = LoopRunner(lambda: None, dialect="postgresql")

    watcher = tasks.register(runner, Settings(_env_file=None))  # type: ignore[call-arg]

    assert watcher is None and tasks.LOOP_NAME not in runner.loops


def test_ami_settings_come_from_the_instances_server_file(tmp_path: Path) -> None:
    server = tmp_path / "server.json"
    server.write_text(json.dumps({"ami_listen": "127.0.0.1", "ami_port": 5039, "ami_user": "ot", "ami_secret": "s3"}))
    runner = LoopRunner(lambda: None, dialect="postgresql")
    settings = Settings(asterisk_server_file=server, _env_file=None)  # type: ignore[call-arg]

    watcher = tasks.register(runner, settings)

    assert watcher is not None and tasks.LOOP_NAME in runner.loops
    assert tasks.ami_config(settings) == tasks.AmiConfig("127.0.0.1", 5039, "ot", "s3")
    server.unlink()
    with pytest.raises(AmiUnavailable):
        tasks.ami_config(settings)
