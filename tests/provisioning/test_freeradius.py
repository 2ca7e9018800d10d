"""FreeRADIUS with our configuration answers from our tables: PAP and CHAP, rejects, accounting, and
the BlastRADIUS guard (no Message-Authenticator, no Accept)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import subprocess

import pytest
import sqlalchemy as sa
from pyrad import packet
from pyrad.client import Client

from app.db import Database
from provisioning.radius import rows
from provisioning.radius.coa import dictionary
from provisioning.radius.models import RadAcct
from tests.provisioning.conftest import FreeRadius

pytestmark = pytest.mark.radius


def _client(radius: FreeRadius) -> Client:
    client = Client(
        server=radius.host,
        authport=radius.auth_port,
        acctport=radius.acct_port,
        secret=radius.secret.encode(),
        dict=dictionary(),
    )
    client.timeout, client.retries = 2, 1
    return client


async def _user(database: Database, username: str, password: str) -> None:
    async with database.transaction() as session:
        await rows.write_users(
            session,
            [
                rows.line_rows(
                    username=username, password=password, ipv4="100.64.0.77", ipv6_prefix=None, plan_code="fr"
                )
            ],
        )
        await rows.write_group(session, rows.plan_group("fr"), rows.plan_group_items(down_kbps=50_000, up_kbps=10_000))


def _pap(radius: FreeRadius, username: str, password: str, *, authenticator: bool = True) -> int:
    client = _client(radius)
    # pyrad adds a Message-Authenticator to Access-Requests unless told not to.
    request = client.CreateAuthPacket(
        code=packet.AccessRequest, User_Name=username, message_authenticator=authenticator
    )
    request["User-Password"] = request.PwCrypt(password)
    try:
        return int(client.SendPacket(request).code)
    except Exception:  # noqa: BLE001 - a silently dropped request is also "no Accept"
        return 0


def _chap(radius: FreeRadius, username: str, password: str) -> int:
    client = _client(radius)
    request = client.CreateAuthPacket(code=packet.AccessRequest, User_Name=username)
    challenge, ident = secrets.token_bytes(16), 7
    request["CHAP-Challenge"] = challenge
    request["CHAP-Password"] = bytes([ident]) + hashlib.md5(bytes([ident]) + password.encode() + challenge).digest()  # noqa: S324 - CHAP is MD5 by definition
    request.add_message_authenticator()
    return int(client.SendPacket(request).code)


async def test_pap_and_chap_logins_are_accepted_and_wrong_ones_rejected(
    committed_db: Database, freeradius_server: FreeRadius
) -> None:
    await _user(committed_db, "fr-pap", "right-password")
    assert await asyncio.to_thread(_pap, freeradius_server, "fr-pap", "right-password") == packet.AccessAccept
    assert await asyncio.to_thread(_chap, freeradius_server, "fr-pap", "right-password") == packet.AccessAccept
    assert await asyncio.to_thread(_pap, freeradius_server, "fr-pap", "wrong") == packet.AccessReject
    assert await asyncio.to_thread(_chap, freeradius_server, "fr-pap", "wrong") == packet.AccessReject
    assert await asyncio.to_thread(_pap, freeradius_server, "nobody-here", "x") == packet.AccessReject


async def test_a_request_without_message_authenticator_is_not_accepted(
    committed_db: Database, freeradius_server: FreeRadius
) -> None:
    await _user(committed_db, "fr-blast", "pw-blast")
    code = await asyncio.to_thread(_pap, freeradius_server, "fr-blast", "pw-blast", authenticator=False)
    assert code != packet.AccessAccept


async def test_radclient_gets_the_reply_attributes(committed_db: Database, freeradius_server: FreeRadius) -> None:
    await _user(committed_db, "fr-radclient", "pw-radclient")
    attributes = "User-Name=fr-radclient,User-Password=pw-radclient,Message-Authenticator=0x00"
    result = await asyncio.to_thread(
        subprocess.run,
        [
            "radclient",
            "-x",
            "-r",
            "2",
            "-t",
            "2",
            f"127.0.0.1:{freeradius_server.auth_port}",
            "auth",
            freeradius_server.secret,
        ],
        input=attributes,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "Received Access-Accept" in result.stdout, result.stdout + result.stderr
    assert "Framed-IP-Address = 100.64.0.77" in result.stdout
    assert "WISPr-Bandwidth-Max-Down = 50000000" in result.stdout


async def test_accounting_start_interim_stop_land_in_radacct(
    committed_db: Database, freeradius_server: FreeRadius
) -> None:
    client = _client(freeradius_server)

    def send(status: str, **values: int) -> None:
        request = client.CreateAcctPacket(
            User_Name="fr-acct", NAS_IP_Address="127.0.0.1", Acct_Session_Id="acct-42", Framed_IP_Address="100.64.0.78"
        )
        request["Acct-Status-Type"] = status
        for key, value in values.items():
            request[key.replace("_", "-")] = value
        assert client.SendPacket(request).code == packet.AccountingResponse

    await asyncio.to_thread(send, "Start")
    await asyncio.to_thread(send, "Interim-Update", Acct_Input_Octets=10, Acct_Input_Gigawords=1, Acct_Session_Time=60)
    await asyncio.to_thread(send, "Stop", Acct_Input_Octets=20, Acct_Input_Gigawords=1, Acct_Terminate_Cause=1)
    async with committed_db.transaction() as session:
        row = (await session.scalars(sa.select(RadAcct).where(RadAcct.acctsessionid == "acct-42"))).one()
    assert row.acctstarttime is not None and row.acctstoptime is not None
    assert row.acctinputoctets == (1 << 32) + 20  # gigawords counted
    assert row.acctterminatecause == "User-Request"
    assert str(row.framedipaddress) == "100.64.0.78"
