"""The SNMP adapter: the only module that imports pysnmp (its camelCase and its types stay in here).

One ``SnmpClient`` holds one pysnmp ``SnmpEngine`` (one UDP socket, one request-id space) for the whole
process, with any number of requests in flight from asyncio tasks. It sends GET and GETBULK for numeric
OIDs only: varbinds are built from OID tuples and read back without any MIB lookup (no MIB is ever
loaded), and every answer is converted here into ``network.snmp.types`` values.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from pyasn1.type import univ
from pysnmp.entity.engine import SnmpEngine
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.hlapi.v3arch.asyncio.auth import (
    CommunityData,
    UsmUserData,
    usmAesCfb128Protocol,
    usmHMAC192SHA256AuthProtocol,
    usmHMACSHAAuthProtocol,
)
from pysnmp.hlapi.v3arch.asyncio.lcd import CommandGeneratorLcdConfigurator
from pysnmp.hlapi.v3arch.asyncio.transport import UdpTransportTarget
from pysnmp.proto import errind, rfc1902

from network.snmp.types import (
    AuthProtocol,
    Community,
    PrivProtocol,
    SnmpError,
    SnmpErrorCode,
    Target,
    UsmUser,
    Value,
)

log = logging.getLogger(__name__)

_AUTH = {AuthProtocol.SHA: usmHMACSHAAuthProtocol, AuthProtocol.SHA256: usmHMAC192SHA256AuthProtocol}
_PRIV = {PrivProtocol.AES: usmAesCfb128Protocol}

# USM reports and local security failures: the agent (or we) refused the credentials.
_AUTH_ERRORS = (
    errind.UnknownUserName,
    errind.WrongDigest,
    errind.DecryptionError,
    errind.AuthenticationError,
    errind.AuthenticationFailure,
    errind.UnknownSecurityName,
    errind.UnsupportedSecurityLevel,
    errind.UnknownCommunityName,
    errind.NotInTimeWindow,
    errind.UnknownEngineID,
)
_NULL = univ.Null("")
# Walks stop after this many requests per column set even if an agent keeps answering in order; a
# 48-port table needs a handful.
_MAX_WALK_REQUESTS = 10_000

# A walked table: column OID -> {index (the OID after the column, dotted): value}.
Columns = dict[str, dict[str, Value]]


def _oid_tuple(oid: str) -> tuple[int, ...]:
    return tuple(int(part) for part in oid.strip(".").split("."))


def _convert(value: Any) -> Value | None:
    """A pysnmp/pyasn1 value as ours; None for noSuchObject, noSuchInstance and endOfMibView (all Null
    subtypes in SNMPv2 PDUs)."""
    if isinstance(value, univ.Integer):  # INTEGER, Integer32, Counter32/64, Gauge32, TimeTicks, Unsigned32
        return int(value)
    if isinstance(value, univ.OctetString):  # OCTET STRING, IpAddress, Opaque, BITS
        return bytes(value.asOctets())
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(part) for part in value.asTuple())
    return None


def _error_from(target: Target, indication: object) -> SnmpError:
    if isinstance(indication, errind.RequestTimedOut):
        return SnmpError(SnmpErrorCode.TIMEOUT, target.address, str(indication))
    if isinstance(indication, _AUTH_ERRORS):
        return SnmpError(SnmpErrorCode.AUTH, target.address, str(indication))
    return SnmpError(SnmpErrorCode.PROTOCOL, target.address, str(indication))


class _Engine:
    """A pysnmp engine with its LCD configurator and command generators (their pending-request tables are
    per engine)."""

    def __init__(self) -> None:
        self.engine = SnmpEngine()
        self.lcd = CommandGeneratorLcdConfigurator()
        self.get = cmdgen.GetCommandGenerator()
        self.bulk = cmdgen.BulkCommandGeneratorSingleRun()
        # v3 user name -> the key set this engine holds for it
        self.usm_keys: dict[str, tuple[str, str, str, str]] = {}


class SnmpClient:
    """GET and GETBULK against any number of agents, sharing one SNMP engine (see ``_engine_for`` for the
    one exception).

    Create one per process (``shared_client()``) and use it from the event loop it was first used on.
    """

    def __init__(self) -> None:
        self._engines = [_Engine()]
        # Per target: its engine, the LCD's target name and our context name, made once (address
        # resolution and USM key localisation are not repeated on every poll).
        self._targets: dict[Target, tuple[_Engine, str, rfc1902.OctetString]] = {}

    def _engine_for(self, credentials: UsmUser) -> _Engine:
        """pysnmp keeps one USM user per user name until it has discovered an agent's engine ID, so two
        devices with the same v3 user name but other keys cannot share an engine: such a key set gets the
        next engine that does not know that name yet (in practice there are few key sets)."""
        keys = (credentials.auth_protocol, credentials.auth_key, credentials.priv_protocol, credentials.priv_key)
        for engine in self._engines:
            known = engine.usm_keys.get(credentials.user)
            if known is None or known == keys:
                engine.usm_keys[credentials.user] = keys
                return engine
        engine = _Engine()
        engine.usm_keys[credentials.user] = keys
        self._engines.append(engine)
        return engine

    async def _address(self, target: Target) -> tuple[_Engine, str, rfc1902.OctetString]:
        known = self._targets.get(target)
        if known is not None:
            return known
        credentials = target.credentials
        auth: CommunityData | UsmUserData
        if isinstance(credentials, Community):
            # One community index per community string: targets sharing a community share its LCD rows.
            auth = CommunityData(credentials.community, mpModel=1)  # noqa: S508 - v2c is what many DSLAMs speak
            context = ""
            engine = self._engines[0]
        elif isinstance(credentials, UsmUser):
            auth = UsmUserData(
                credentials.user,
                authKey=credentials.auth_key,
                privKey=credentials.priv_key,
                authProtocol=_AUTH[credentials.auth_protocol],
                privProtocol=_PRIV[credentials.priv_protocol],
            )
            context = credentials.context
            engine = self._engine_for(credentials)
        else:  # pragma: no cover - Credentials is a closed union
            raise TypeError(f"unknown credentials {type(credentials).__name__}")
        transport = await UdpTransportTarget.create(
            (target.host, target.port), timeout=target.timeout_s, retries=target.retries
        )
        context_name = rfc1902.OctetString(context)
        address_name, _ = engine.lcd.configure(engine.engine, auth, transport, context_name)
        self._targets[target] = (engine, address_name, context_name)
        return engine, address_name, context_name

    async def get(self, target: Target, oids: Sequence[str]) -> dict[str, Value | None]:
        """GET ``oids`` (numeric, full instance OIDs) in one request; a missing instance is None."""
        engine, address, context = await self._address(target)
        request = [(rfc1902.ObjectName(_oid_tuple(oid)), _NULL) for oid in oids]
        var_binds = await self._send(
            target,
            lambda callback, ctx: engine.get.send_varbinds(
                engine.engine, address, None, context, request, callback, ctx
            ),
        )
        return {oid: _convert(value) for oid, (_, value) in zip(oids, var_binds, strict=True)}

    async def walk(self, target: Target, columns: Sequence[str], *, max_repetitions: int | None = None) -> Columns:
        """All rows of ``columns`` (numeric column OIDs of one or more tables), walked side by side with
        GETBULK: each request carries the next position of every column not yet finished, and a column
        ends where the agent steps outside it. Returns column -> {index: value}; a column the agent does
        not have comes back empty."""
        engine, address, context = await self._address(target)
        repetitions = max_repetitions or target.max_repetitions
        prefixes = {column: _oid_tuple(column) for column in columns}
        result: Columns = {column: {} for column in columns}
        active = list(columns)
        position = {column: prefixes[column] for column in columns}
        for _ in range(_MAX_WALK_REQUESTS):
            if not active:
                return result
            request = [(rfc1902.ObjectName(position[column]), _NULL) for column in active]
            var_binds = await self._send(
                target,
                lambda callback, ctx, request=request: engine.bulk.send_varbinds(
                    engine.engine, address, None, context, 0, repetitions, request, callback, ctx
                ),
            )
            width = len(active)
            finished: set[str] = set()
            for offset, (name, value) in enumerate(var_binds):
                column = active[offset % width]
                if column in finished:
                    continue
                oid = name.asTuple()
                prefix = prefixes[column]
                converted = _convert(value)
                if converted is None or oid[: len(prefix)] != prefix or oid <= position[column]:
                    finished.add(column)
                    continue
                result[column][".".join(str(part) for part in oid[len(prefix) :])] = converted
                position[column] = oid
            if not var_binds:
                finished.update(active)
            active = [column for column in active if column not in finished]
        raise SnmpError(SnmpErrorCode.PROTOCOL, target.address, f"walk did not end after {_MAX_WALK_REQUESTS} requests")

    async def _send(self, target: Target, send: Any) -> list[tuple[Any, Any]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[tuple[Any, Any]]] = loop.create_future()

        def callback(
            engine: SnmpEngine,
            handle: int,
            indication: object,
            status: object,
            index: object,
            var_binds: Sequence[tuple[Any, Any]],
            ctx: object,
        ) -> None:
            if future.done():  # the caller gave up (deadline) before the engine did
                return
            if indication:
                future.set_exception(_error_from(target, indication))
            elif status and int(status):  # type: ignore[call-overload]
                future.set_exception(
                    SnmpError(SnmpErrorCode.AGENT, target.address, f"error-status {status} at index {index}")
                )
            else:
                future.set_result(list(var_binds))

        send(callback, None)
        return await future

    def close(self) -> None:
        """Close the engines' sockets (the client is unusable afterwards)."""
        for engine in self._engines:
            dispatcher = engine.engine.transport_dispatcher
            if dispatcher is not None:
                dispatcher.close_dispatcher()


_shared: SnmpClient | None = None


def shared_client() -> SnmpClient:
    """The process's one SNMP client (and engine), made on first use."""
    global _shared
    if _shared is None:
        _shared = SnmpClient()
    return _shared
