"""The hot-path SNMP client on gufo-snmp (BER coding in Rust), behind the same two calls as
``network.snmp.client.SnmpClient`` (``get`` and ``walk``), so the poller can use either.

Why it exists: pysnmp decodes every varbind in Python (pyasn1), about 0.1 ms of CPU each here, which puts
a 48-port DSLAM poll well above the 60 ms goal (see network/README.md for the figures). gufo-snmp does the
same requests with a fraction of that. What it lacks compared with pysnmp: one UDP socket per session
(we keep one session per device), GETBULK of one subtree at a time (columns are walked one after the
other), and only the v3 protocols below (we use SHA and AES-128, which it has). Values come back as
Python types already; this module converts them into ours like the pysnmp adapter does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gufo.snmp import Aes128Key, NoSuchInstance, Sha1Key, SnmpAuthError, SnmpError, User
from gufo.snmp.aio.client import SnmpSession

from network.snmp.types import AuthProtocol, Community, PrivProtocol, SnmpErrorCode, Target, UsmUser, Value
from network.snmp.types import SnmpError as OurSnmpError

Columns = dict[str, dict[str, Value]]


def _convert(value: object) -> Value | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | bytes | str):
        return value
    if isinstance(value, float):  # gufo returns Opaque floats as float; we have no use for them
        return None
    return None


class FastSnmpClient:
    """GET and GETBULK with gufo-snmp: one session (socket) per device, made on first use."""

    def __init__(self) -> None:
        self._sessions: dict[Target, SnmpSession] = {}
        self._locks: dict[Target, asyncio.Lock] = {}

    async def _session(self, target: Target) -> SnmpSession:
        session = self._sessions.get(target)
        if session is not None:
            return session
        credentials = target.credentials
        if isinstance(credentials, Community):
            session = SnmpSession(
                addr=target.host,
                port=target.port,
                community=credentials.community,
                timeout=target.timeout_s,
                max_repetitions=target.max_repetitions,
            )
        elif isinstance(credentials, UsmUser):
            if credentials.auth_protocol is not AuthProtocol.SHA or credentials.priv_protocol is not PrivProtocol.AES:
                raise OurSnmpError(SnmpErrorCode.PROTOCOL, target.address, "the fast client speaks SHA/AES-128 only")
            if credentials.context:
                raise OurSnmpError(SnmpErrorCode.PROTOCOL, target.address, "the fast client has no v3 contexts")
            user = User(
                credentials.user,
                auth_key=Sha1Key(credentials.auth_key.encode()),
                priv_key=Aes128Key(credentials.priv_key.encode()),
            )
            session = SnmpSession(
                addr=target.host,
                port=target.port,
                user=user,
                timeout=target.timeout_s,
                max_repetitions=target.max_repetitions,
            )
            try:
                await session.refresh()  # engine ID discovery and time synchronisation
            except TimeoutError:
                raise OurSnmpError(SnmpErrorCode.TIMEOUT, target.address, "no answer to discovery") from None
            except SnmpAuthError as error:
                raise OurSnmpError(SnmpErrorCode.AUTH, target.address, str(error)) from error
            except SnmpError as error:
                raise OurSnmpError(SnmpErrorCode.PROTOCOL, target.address, str(error)) from error
        else:  # pragma: no cover - Credentials is a closed union
            raise TypeError(f"unknown credentials {type(credentials).__name__}")
        self._sessions[target] = session
        self._locks[target] = asyncio.Lock()
        return session

    async def get(self, target: Target, oids: Sequence[str]) -> dict[str, Value | None]:
        """GET ``oids`` in one request; a missing instance is None."""
        session = await self._session(target)
        async with self._locks[target]:  # one socket: one request at a time per device
            for attempt in range(target.retries + 1):
                try:
                    answer = await session.get_many(list(oids))
                    break
                except NoSuchInstance:
                    answer = {}
                    break
                except TimeoutError:
                    if attempt == target.retries:
                        raise OurSnmpError(SnmpErrorCode.TIMEOUT, target.address, "no answer") from None
                except SnmpAuthError as error:
                    raise OurSnmpError(SnmpErrorCode.AUTH, target.address, str(error)) from error
                except SnmpError as error:
                    raise OurSnmpError(SnmpErrorCode.PROTOCOL, target.address, str(error)) from error
        return {oid: _convert(answer.get(oid)) for oid in oids}

    async def walk(self, target: Target, columns: Sequence[str], *, max_repetitions: int | None = None) -> Columns:
        """All rows of each column (GETBULK, one column after the other)."""
        session = await self._session(target)
        result: Columns = {}
        async with self._locks[target]:
            for column in columns:
                prefix = column + "."
                rows: dict[str, Value] = {}
                try:
                    async for oid, value in session.getbulk(column, max_repetitions or target.max_repetitions):
                        if not oid.startswith(prefix):
                            break
                        converted = _convert(value)
                        if converted is not None:
                            rows[oid[len(prefix) :]] = converted
                except TimeoutError:
                    raise OurSnmpError(SnmpErrorCode.TIMEOUT, target.address, "no answer") from None
                except SnmpAuthError as error:
                    raise OurSnmpError(SnmpErrorCode.AUTH, target.address, str(error)) from error
                except SnmpError as error:
                    raise OurSnmpError(SnmpErrorCode.PROTOCOL, target.address, str(error)) from error
                result[column] = rows
        return result


def fast_client_can_poll(target: Target) -> bool:
    """Whether ``FastSnmpClient`` speaks what ``target`` needs (v2c; v3 with SHA/AES-128 and no context)."""
    credentials = target.credentials
    if isinstance(credentials, Community):
        return True
    return (
        credentials.auth_protocol is AuthProtocol.SHA
        and credentials.priv_protocol is PrivProtocol.AES
        and not credentials.context
    )
