"""Asterisk 22 serves PJSIP endpoints from our ps_* tables and writes CDRs into our cdr table: a phone
registers with the credentials in ps_auths and Asterisk records its contact in ps_contacts; wrong
credentials get no registration; calls follow our dialplan and land as cdr rows."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.voip.conftest import AsteriskServer, run_sipp, start_sipp
from tools.asterisk import ECHO_NUMBER
from voip.models import CallDetailRecord, PjsipAor, PjsipAuth, PjsipContact, PjsipEndpoint

pytestmark = [pytest.mark.asterisk, pytest.mark.postgres]

Provision = Callable[..., Awaitable[str]]


@pytest.fixture
async def provision(engine: AsyncEngine) -> AsyncIterator[Provision]:
    """Commit an extension's endpoint, auth and AOR rows (Asterisk reads only what is committed); the
    rows, the contacts phones registered on them and the CDRs of their calls are deleted afterwards."""
    extensions: list[str] = []

    async def provision_extension(*, extension: str, context: str = "members") -> str:
        password = secrets.token_urlsafe(32)
        async with AsyncSession(engine) as session:
            session.add_all(
                [
                    PjsipAuth(id=extension, auth_type="userpass", username=extension, password=password),
                    PjsipAor(id=extension, max_contacts=1, remove_existing="yes"),
                    PjsipEndpoint(
                        id=extension,
                        transport="transport-udp",
                        aors=extension,
                        auth=extension,
                        context=context,
                        disallow="all",
                        allow="ulaw,alaw",
                        # Media stays with Asterisk: no re-INVITEs to the phones once a call is bridged.
                        direct_media="no",
                    ),
                ]
            )
            await session.commit()
        extensions.append(extension)
        return password

    yield provision_extension
    async with AsyncSession(engine) as session:
        for column in (
            PjsipContact.endpoint,
            PjsipEndpoint.id,
            PjsipAor.id,
            PjsipAuth.id,
            CallDetailRecord.src,
        ):
            await session.execute(sa.delete(column.class_).where(column.in_(extensions)))
        await session.commit()


async def _contacts(engine: AsyncEngine, extension: str) -> list[PjsipContact]:
    async with AsyncSession(engine) as session:
        rows = await session.scalars(sa.select(PjsipContact).where(PjsipContact.endpoint == extension))
        return list(rows)


async def _cdrs(engine: AsyncEngine, caller: str, *, expected: int, timeout_s: float = 5.0) -> list[CallDetailRecord]:
    """The CDRs of ``caller``'s calls, once there are ``expected`` of them: cdr_pgsql writes each one
    when its call has ended, on a thread of its own."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with AsyncSession(engine) as session:
            rows = list(
                await session.scalars(
                    sa.select(CallDetailRecord).where(CallDetailRecord.src == caller).order_by(CallDetailRecord.id)
                )
            )
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.1)


async def test_phone_registers_with_provisioned_credentials_and_asterisk_records_its_contact(
    asterisk: AsteriskServer, provision: Provision, engine: AsyncEngine, tmp_path: Path
) -> None:
    password = await provision(extension="1001")

    run = await run_sipp(
        asterisk, "register.xml", extension="1001", password=password, workdir=tmp_path, keys={"expires": "300"}
    )

    assert run.returncode == 0, f"{run.output}\n{run.messages}"
    assert run.status_lines == ["SIP/2.0 401 Unauthorized", "SIP/2.0 200 OK"]
    [contact] = await _contacts(engine, "1001")
    assert contact.uri == f"sip:1001@127.0.0.1:{run.local_port}"
    assert contact.user_agent == "openTelecom-test-phone"
    assert contact.expiration_time is not None
    assert 250 < contact.expiration_time - time.time() <= 300


async def test_wrong_password_gets_no_registration(
    asterisk: AsteriskServer, provision: Provision, engine: AsyncEngine, tmp_path: Path
) -> None:
    await provision(extension="1002")

    run = await run_sipp(
        asterisk,
        "register_rejected.xml",
        extension="1002",
        password=secrets.token_urlsafe(32),
        workdir=tmp_path,
        keys={"expires": "300"},
    )

    assert run.returncode == 0, f"{run.output}\n{run.messages}"
    assert run.status_lines[0] == "SIP/2.0 401 Unauthorized"
    assert run.status_lines[-1] in ("SIP/2.0 401 Unauthorized", "SIP/2.0 403 Forbidden")
    assert "SIP/2.0 200 OK" not in run.status_lines
    assert await _contacts(engine, "1002") == []


async def test_unprovisioned_extension_cannot_register(
    asterisk: AsteriskServer, engine: AsyncEngine, tmp_path: Path
) -> None:
    run = await run_sipp(
        asterisk,
        "register_rejected.xml",
        extension="1099",
        password=secrets.token_urlsafe(32),
        workdir=tmp_path,
        keys={"expires": "300"},
    )

    assert run.returncode == 0, f"{run.output}\n{run.messages}"
    assert "SIP/2.0 200 OK" not in run.status_lines
    assert await _contacts(engine, "1099") == []


async def test_call_to_echo_number_is_answered_and_lands_as_cdr_in_utc(
    asterisk: AsteriskServer, provision: Provision, engine: AsyncEngine, tmp_path: Path
) -> None:
    password = await provision(extension="1003")
    before = datetime.now(UTC).replace(microsecond=0)

    run = await run_sipp(
        asterisk,
        "call.xml",
        extension="1003",
        password=password,
        workdir=tmp_path,
        keys={"dialed": ECHO_NUMBER},
        hold_ms=1000,
    )

    assert run.returncode == 0, f"{run.output}\n{run.messages}"
    [cdr] = await _cdrs(engine, "1003", expected=1)
    assert (cdr.dst, cdr.dcontext, cdr.lastapp, cdr.disposition) == (ECHO_NUMBER, "members", "Echo", "ANSWERED")
    assert cdr.start is not None and cdr.answer is not None and cdr.end is not None
    # cdr_pgsql writes UTC (timezone=UTC); read back aware, these are this call's moments.
    assert before <= cdr.start <= cdr.answer <= cdr.end <= datetime.now(UTC) + timedelta(seconds=1)
    assert cdr.billsec is not None and cdr.duration is not None
    assert 1 <= cdr.billsec <= cdr.duration <= 5
    assert cdr.uniqueid


async def test_call_between_two_extensions_rings_the_registered_phone_and_lands_as_cdr(
    asterisk: AsteriskServer, provision: Provision, engine: AsyncEngine, tmp_path: Path
) -> None:
    caller_password = await provision(extension="1005")
    callee_password = await provision(extension="1006")
    registration = await run_sipp(
        asterisk, "register.xml", extension="1006", password=callee_password, workdir=tmp_path, keys={"expires": "300"}
    )
    assert registration.returncode == 0, f"{registration.output}\n{registration.messages}"
    # The callee's phone answers on the port its contact names.
    callee = await start_sipp("answer.xml", [], workdir=tmp_path, local_port=registration.local_port)

    call = await run_sipp(
        asterisk,
        "call.xml",
        extension="1005",
        password=caller_password,
        workdir=tmp_path,
        keys={"dialed": "1006"},
        hold_ms=1000,
    )
    answered = await callee.result()

    assert call.returncode == 0, f"{call.output}\n{call.messages}"
    assert answered.returncode == 0, f"{answered.output}\n{answered.messages}"
    [cdr] = await _cdrs(engine, "1005", expected=1)
    assert (cdr.dst, cdr.dcontext, cdr.lastapp, cdr.disposition) == ("1006", "members", "Dial", "ANSWERED")
    assert cdr.channel is not None and cdr.channel.startswith("PJSIP/1005-")
    assert cdr.dstchannel is not None and cdr.dstchannel.startswith("PJSIP/1006-")
    assert cdr.billsec is not None and cdr.billsec >= 1


async def test_suspended_line_reaches_emergency_numbers_only(
    asterisk: AsteriskServer, provision: Provision, engine: AsyncEngine, tmp_path: Path
) -> None:
    password = await provision(extension="1004", context="suspended")

    outcomes = {}
    for dialed, scenario in ((ECHO_NUMBER, "call_refused.xml"), ("1001", "call_refused.xml"), ("112", "call.xml")):
        run = await run_sipp(
            asterisk, scenario, extension="1004", password=password, workdir=tmp_path, keys={"dialed": dialed}
        )
        assert run.returncode == 0, f"{dialed}: {run.output}\n{run.messages}"
        outcomes[dialed] = run.status_lines[-1] if scenario == "call_refused.xml" else "answered"

    assert outcomes == {ECHO_NUMBER: "SIP/2.0 403 Forbidden", "1001": "SIP/2.0 403 Forbidden", "112": "answered"}
    cdrs = await _cdrs(engine, "1004", expected=3)
    assert [(c.dst, c.disposition) for c in cdrs] == [
        (ECHO_NUMBER, "NO ANSWER"),
        ("1001", "NO ANSWER"),
        ("112", "ANSWERED"),
    ]
