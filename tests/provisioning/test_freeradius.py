"""FreeRADIUS with our configuration answers from FreeRADIUS's stock tables in our database: PAP and CHAP
logins with the line's address, prefix and rates, rejects for everything else, the BlastRADIUS rules
(Message-Authenticator required in requests, present in replies), and accounting into radacct.

The rows are written the way provisioning leaves them, with a direct autocommit connection, so the
FreeRADIUS process sees them at once; each test removes its own."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest
from pyrad import packet
from pyrad.client import Client, Timeout
from pyrad.dictionary import Dictionary

from tests.provisioning.conftest import RadiusServer

pytestmark = pytest.mark.radius


@dataclass(frozen=True)
class Line:
    """A provisioned subscriber line as FreeRADIUS sees it."""

    username: str
    password: str
    ipv4: str
    ipv6_prefix: str
    plan: str
    down_bps: int
    up_bps: int


@pytest.fixture
async def db(freeradius: RadiusServer) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(freeradius.dsn)
    try:
        yield connection
    finally:
        await connection.close()


async def _write_line(db: asyncpg.Connection, line: Line) -> None:
    await db.execute(
        "INSERT INTO radcheck (username, attribute, op, value) VALUES ($1, 'Cleartext-Password', ':=', $2)",
        line.username,
        line.password,
    )
    await db.executemany(
        "INSERT INTO radreply (username, attribute, op, value) VALUES ($1, $2, ':=', $3)",
        [
            (line.username, "Framed-IP-Address", line.ipv4),
            (line.username, "Delegated-IPv6-Prefix", line.ipv6_prefix),
        ],
    )
    await db.execute(
        "INSERT INTO radusergroup (username, groupname, priority) VALUES ($1, $2, 1)", line.username, line.plan
    )
    await db.executemany(
        "INSERT INTO radgroupreply (groupname, attribute, op, value) VALUES ($1, $2, ':=', $3)",
        [
            (line.plan, "WISPr-Bandwidth-Max-Down", str(line.down_bps)),
            (line.plan, "WISPr-Bandwidth-Max-Up", str(line.up_bps)),
        ],
    )


async def _remove_line(db: asyncpg.Connection, line: Line) -> None:
    for table in ("radcheck", "radreply", "radusergroup", "radpostauth", "radacct"):
        await db.execute(f"DELETE FROM {table} WHERE username = $1", line.username)  # noqa: S608 - fixed names
    await db.execute("DELETE FROM radgroupreply WHERE groupname = $1", line.plan)


@pytest.fixture
async def line(db: asyncpg.Connection) -> AsyncIterator[Line]:
    """An active line on its own plan group, with a unique name and a strong password."""
    tag = secrets.token_hex(4)
    active = Line(
        username=f"line-{tag}",
        password=secrets.token_urlsafe(16),
        ipv4="100.64.0.10",
        ipv6_prefix="2001:db8:100::/56",
        plan=f"plan-t{tag}",
        down_bps=100_000_000,
        up_bps=40_000_000,
    )
    await _write_line(db, active)
    try:
        yield active
    finally:
        await _remove_line(db, active)


def _client(radius: RadiusServer) -> Client:
    # enforce_ma: a reply without a valid Message-Authenticator counts as no reply (BlastRADIUS, NAS side).
    client = Client(
        server=radius.host,
        authport=radius.auth_port,
        acctport=radius.acct_port,
        secret=radius.secret.encode(),
        dict=Dictionary(str(radius.dictionary_path)),
        enforce_ma=True,
    )
    client.timeout, client.retries = 2, 1
    return client


def _send(radius: RadiusServer, request: packet.Packet) -> packet.Packet | None:
    """Send with pyrad's synchronous client (run in a thread); None when nothing valid came back."""
    try:
        return _client(radius).SendPacket(request)
    except Timeout:
        return None


def pap(radius: RadiusServer, username: str, password: str, *, authenticator: bool = True) -> packet.Packet | None:
    client = _client(radius)
    # pyrad 2.6 adds a Message-Authenticator to every Access-Request it creates unless told not to.
    request = client.CreateAuthPacket(
        code=packet.AccessRequest,
        User_Name=username,
        NAS_IP_Address="127.0.0.1",
        NAS_Port_Type="Ethernet",
        Service_Type="Framed-User",
        message_authenticator=authenticator,
    )
    request["User-Password"] = request.PwCrypt(password)
    return _send(radius, request)


def chap(radius: RadiusServer, username: str, password: str, *, authenticator: bool = True) -> packet.Packet | None:
    """CHAP as a PPPoE BNG sends it (RFC 1994 response = MD5(ident + secret + challenge))."""
    client = _client(radius)
    request = client.CreateAuthPacket(
        code=packet.AccessRequest,
        User_Name=username,
        NAS_IP_Address="127.0.0.1",
        Framed_Protocol="PPP",
        message_authenticator=authenticator,
    )
    challenge, ident = secrets.token_bytes(16), secrets.randbelow(256)
    response = hashlib.md5(bytes([ident]) + password.encode() + challenge).digest()  # noqa: S324 - CHAP is MD5
    request["CHAP-Challenge"] = challenge
    request["CHAP-Password"] = bytes([ident]) + response
    return _send(radius, request)


def code(reply: packet.Packet | None) -> int | None:
    return None if reply is None else int(reply.code)


async def test_active_line_with_pap_gets_access_accept_with_address_prefix_and_rates(
    freeradius: RadiusServer, line: Line
) -> None:
    reply = await asyncio.to_thread(pap, freeradius, line.username, line.password)
    assert reply is not None
    assert reply.code == packet.AccessAccept
    assert reply["Framed-IP-Address"] == [line.ipv4]
    assert reply["Delegated-IPv6-Prefix"] == [line.ipv6_prefix]
    assert reply["WISPr-Bandwidth-Max-Down"] == [line.down_bps]
    assert reply["WISPr-Bandwidth-Max-Up"] == [line.up_bps]


async def test_active_line_with_chap_gets_access_accept(freeradius: RadiusServer, line: Line) -> None:
    reply = await asyncio.to_thread(chap, freeradius, line.username, line.password)
    assert reply is not None
    assert reply.code == packet.AccessAccept
    assert reply["Framed-IP-Address"] == [line.ipv4]


async def test_wrong_password_gets_access_reject_that_says_nothing_about_the_line(
    freeradius: RadiusServer, line: Line
) -> None:
    for attempt in (pap, chap):
        reply = await asyncio.to_thread(attempt, freeradius, line.username, line.password + "x")
        assert reply is not None
        assert reply.code == packet.AccessReject, attempt.__name__
        assert "Framed-IP-Address" not in reply
        assert "WISPr-Bandwidth-Max-Down" not in reply


async def test_unknown_user_gets_access_reject(freeradius: RadiusServer, line: Line) -> None:
    # The line's password under a name that has no rows.
    reply = await asyncio.to_thread(pap, freeradius, f"nobody-{secrets.token_hex(4)}", line.password)
    assert code(reply) == packet.AccessReject


async def test_suspended_line_without_radcheck_rows_gets_access_reject(
    freeradius: RadiusServer, line: Line, db: asyncpg.Connection
) -> None:
    assert code(await asyncio.to_thread(pap, freeradius, line.username, line.password)) == packet.AccessAccept
    # Suspension removes the credentials and the plan; the address rows may stay for the line's return.
    await db.execute("DELETE FROM radcheck WHERE username = $1", line.username)
    await db.execute("DELETE FROM radusergroup WHERE username = $1", line.username)
    for attempt in (pap, chap):
        reply = await asyncio.to_thread(attempt, freeradius, line.username, line.password)
        assert code(reply) == packet.AccessReject, attempt.__name__
        assert reply is not None
        assert "Framed-IP-Address" not in reply


async def test_access_request_without_message_authenticator_is_not_accepted(
    freeradius: RadiusServer, line: Line
) -> None:
    """BlastRADIUS (CVE-2024-3596): the same right password is accepted only with Message-Authenticator."""
    for attempt in (pap, chap):
        bare = await asyncio.to_thread(attempt, freeradius, line.username, line.password, authenticator=False)
        assert code(bare) != packet.AccessAccept, attempt.__name__
        signed = await asyncio.to_thread(attempt, freeradius, line.username, line.password, authenticator=True)
        assert code(signed) == packet.AccessAccept, attempt.__name__


async def test_accepts_and_rejects_carry_a_valid_message_authenticator(freeradius: RadiusServer, line: Line) -> None:
    """The client verifies the replies' Message-Authenticator (enforce_ma): a NAS can insist on it too."""
    accept = await asyncio.to_thread(pap, freeradius, line.username, line.password)
    reject = await asyncio.to_thread(pap, freeradius, line.username, "not-the-password")
    for reply, expected in ((accept, packet.AccessAccept), (reject, packet.AccessReject)):
        assert reply is not None
        assert reply.code == expected
        assert "Message-Authenticator" in reply


async def test_rejects_are_logged_without_the_password_and_accepts_are_not_logged(
    freeradius: RadiusServer, line: Line, db: asyncpg.Connection
) -> None:
    await asyncio.to_thread(pap, freeradius, line.username, line.password)
    await asyncio.to_thread(pap, freeradius, line.username, "a-mistyped-password")
    rows = await db.fetch("SELECT pass, reply FROM radpostauth WHERE username = $1", line.username)
    assert [row["reply"] for row in rows] == ["Access-Reject"]
    assert rows[0]["pass"] == ""


async def test_accounting_start_interim_update_stop_land_in_radacct(
    freeradius: RadiusServer, line: Line, db: asyncpg.Connection
) -> None:
    session_id = secrets.token_hex(8)
    started = 1_790_000_000  # Event-Timestamp as the NAS stamps it, whole seconds (UTC)

    def account(status: str, at: int, **values: int | str) -> packet.Packet | None:
        client = _client(freeradius)
        request = client.CreateAcctPacket(
            User_Name=line.username,
            NAS_IP_Address="127.0.0.1",
            NAS_Port_Id="veth-line-1",
            Acct_Session_Id=session_id,
            Framed_IP_Address=line.ipv4,
            Event_Timestamp=at,
        )
        request["Acct-Status-Type"] = status
        for key, value in values.items():
            request[key.replace("_", "-")] = value
        return _send(freeradius, request)

    async def session() -> asyncpg.Record:
        rows = await db.fetch("SELECT * FROM radacct WHERE acctsessionid = $1", session_id)
        assert len(rows) == 1
        return rows[0]

    reply = await asyncio.to_thread(account, "Start", started)
    assert code(reply) == packet.AccountingResponse
    row = await session()
    assert row["username"] == line.username
    assert row["acctstarttime"] == datetime.fromtimestamp(started, UTC)
    assert row["acctstoptime"] is None
    assert str(row["framedipaddress"]) == line.ipv4

    reply = await asyncio.to_thread(
        account,
        "Interim-Update",
        started + 300,
        Acct_Session_Time=300,
        Acct_Input_Octets=1_000,
        Acct_Input_Gigawords=2,
        Acct_Output_Octets=7,
        Acct_Output_Gigawords=0,
    )
    assert code(reply) == packet.AccountingResponse
    row = await session()
    assert row["acctinputoctets"] == (2 << 32) + 1_000
    assert row["acctoutputoctets"] == 7
    assert row["acctupdatetime"] == datetime.fromtimestamp(started + 300, UTC)
    assert row["acctstoptime"] is None

    reply = await asyncio.to_thread(
        account,
        "Stop",
        started + 600,
        Acct_Session_Time=600,
        Acct_Input_Octets=5,
        Acct_Input_Gigawords=3,
        Acct_Output_Octets=4_000_000_000,
        Acct_Output_Gigawords=1,
        Acct_Terminate_Cause="User-Request",
    )
    assert code(reply) == packet.AccountingResponse
    row = await session()
    assert row["acctstarttime"] == datetime.fromtimestamp(started, UTC)
    assert row["acctstoptime"] == datetime.fromtimestamp(started + 600, UTC)
    assert row["acctsessiontime"] == 600
    assert row["acctinputoctets"] == (3 << 32) + 5
    assert row["acctoutputoctets"] == (1 << 32) + 4_000_000_000
    assert row["acctterminatecause"] == "User-Request"


def _radclient(radius: RadiusServer, attributes: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["radclient", "-x", "-r", "1", "-t", "3", f"{radius.host}:{radius.auth_port}", "auth", radius.secret],
        input=attributes,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


async def test_radclient_access_request_gets_access_accept_with_reply_attributes(
    freeradius: RadiusServer, line: Line
) -> None:
    # "Message-Authenticator = 0x00" asks radclient to compute and add one.
    attributes = f'User-Name = "{line.username}", User-Password = "{line.password}", Message-Authenticator = 0x00'
    result = await asyncio.to_thread(_radclient, freeradius, attributes)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Received Access-Accept" in result.stdout
    assert f"Framed-IP-Address = {line.ipv4}" in result.stdout
    assert f"Delegated-IPv6-Prefix = {line.ipv6_prefix}" in result.stdout
    assert f"WISPr-Bandwidth-Max-Down = {line.down_bps}" in result.stdout
    assert f"WISPr-Bandwidth-Max-Up = {line.up_bps}" in result.stdout
