"""Poll devices: what one round of SNMP requests reads from an agent, as a ``DeviceSample``.

A poll asks for sysUpTime first (a dead device costs one request and its timeouts, nothing more), then
walks the interface columns we use side by side, HOST-RESOURCES CPU and RAM, and for the ports whose
ifType is a DSL line GETs exactly the VDSL2-LINE-MIB or ADSL-LINE-MIB instances we use. Every poll has
its own deadline (``Target.deadline_s``), and ``poll_many`` keeps a bounded number of devices in flight,
so a slow or dead device only ever holds its own slot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from network.snmp import oids
from network.snmp.samples import DeviceSample, DslLineSample, DslMib, InterfaceSample
from network.snmp.types import SnmpError, SnmpErrorCode, Target, Value

log = logging.getLogger(__name__)

IF_TYPE_VDSL2 = 251
IF_TYPE_ADSL = 94
# Instances per GET request: well inside any agent's var-bind limit and one UDP datagram.
GET_CHUNK = 40
# The interface columns read every poll (ifDescr only where ifName is missing, the 32-bit octet
# counters only where ifXTable has none).
INTERFACE_COLUMNS: tuple[str, ...] = (oids.IF_TYPE, *oids.IF_TABLE_COLUMNS, oids.IF_NAME, *oids.IF_X_TABLE_COLUMNS)
HOST_COLUMNS: tuple[str, ...] = (oids.HR_PROCESSOR_LOAD, oids.HR_STORAGE_TYPE)


class SnmpBackend(Protocol):
    """What the poller needs of an SNMP client (``network.snmp.client.SnmpClient`` and the gufo-snmp one)."""

    async def get(self, target: Target, oids: Sequence[str]) -> dict[str, Value | None]: ...

    async def walk(
        self, target: Target, columns: Sequence[str], *, max_repetitions: int | None = None
    ) -> dict[str, dict[str, Value]]: ...


class HybridClient:
    """The default: gufo-snmp (``network.snmp.fast``) on the hot path, pysnmp (``network.snmp.client``, one
    shared engine) for targets the fast client cannot serve (v3 contexts, other USM protocols)."""

    def __init__(self) -> None:
        from network.snmp.client import shared_client
        from network.snmp.fast import FastSnmpClient, fast_client_can_poll

        self._fast = FastSnmpClient()
        self._pysnmp = shared_client()
        self._can_fast = fast_client_can_poll

    def _for(self, target: Target) -> SnmpBackend:
        return self._fast if self._can_fast(target) else self._pysnmp

    async def get(self, target: Target, oids: Sequence[str]) -> dict[str, Value | None]:
        return await self._for(target).get(target, oids)

    async def walk(
        self, target: Target, columns: Sequence[str], *, max_repetitions: int | None = None
    ) -> dict[str, dict[str, Value]]:
        return await self._for(target).walk(target, columns, max_repetitions=max_repetitions)


_default: HybridClient | None = None


def _default_backend() -> SnmpBackend:
    global _default
    if _default is None:
        _default = HybridClient()
    return _default


async def poll_device(target: Target, *, client: SnmpBackend | None = None) -> DeviceSample:
    """Poll one device within ``target.deadline_s``. Never raises for what the device does: a timeout,
    refused credentials or an agent error come back as a sample with ``reachable=False``."""
    backend = client or _default_backend()
    taken_at = datetime.now(UTC)
    started = time.monotonic()
    try:
        async with asyncio.timeout(target.deadline_s):
            sample = await _poll(backend, target, taken_at)
    except SnmpError as error:
        log.info("snmp poll of %s failed: %s", target.address, error)
        return DeviceSample(
            address=target.address,
            taken_at=taken_at,
            reachable=False,
            error=error.detail,
            error_code=error.code.value,
            duration_s=time.monotonic() - started,
        )
    except TimeoutError:
        log.info("snmp poll of %s passed its %.1f s deadline", target.address, target.deadline_s)
        return DeviceSample(
            address=target.address,
            taken_at=taken_at,
            reachable=False,
            error=f"poll deadline of {target.deadline_s} s passed",
            error_code=SnmpErrorCode.TIMEOUT.value,
            duration_s=time.monotonic() - started,
        )
    return replace(sample, duration_s=time.monotonic() - started)


async def poll_many(
    targets: Iterable[Target], *, concurrency: int = 64, client: SnmpBackend | None = None
) -> list[DeviceSample]:
    """Poll every target with at most ``concurrency`` devices in flight; samples in the targets' order.
    Each device is bounded by its own deadline, so the round takes about (devices / concurrency) times a
    healthy device's time, plus at most one deadline per slot that a dead device holds."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    backend = client or _default_backend()
    slots = asyncio.Semaphore(concurrency)

    async def one(target: Target) -> DeviceSample:
        async with slots:
            return await poll_device(target, client=backend)

    return list(await asyncio.gather(*(one(target) for target in targets)))


async def _poll(client: SnmpBackend, target: Target, taken_at: datetime) -> DeviceSample:
    uptime = (await client.get(target, [oids.SYS_UPTIME]))[oids.SYS_UPTIME]
    table, host = await asyncio.gather(client.walk(target, INTERFACE_COLUMNS), client.walk(target, HOST_COLUMNS))
    indexes = sorted({int(index) for column in table.values() for index in column if index.isdigit()})
    counter_bits = 64
    if indexes and not table[oids.IF_HC_IN_OCTETS] and not table[oids.IF_HC_OUT_OCTETS]:
        # An agent without 64-bit counters (SNMPv1-era or a small CPE): the 32-bit ones.
        table.update(await client.walk(target, oids.IF_COUNTER32_COLUMNS))
        in_column, out_column, counter_bits = oids.IF_IN_OCTETS, oids.IF_OUT_OCTETS, 32
    else:
        in_column, out_column = oids.IF_HC_IN_OCTETS, oids.IF_HC_OUT_OCTETS
    if indexes and not table[oids.IF_NAME]:
        table.update(await client.walk(target, (oids.IF_DESCR,)))
    interfaces = {index: _interface(index, table, in_column, out_column, counter_bits) for index in indexes}
    cpu, memory_total, memory_used = await _host(client, target, host)
    dsl = await _dsl_lines(client, target, interfaces)
    return DeviceSample(
        address=target.address,
        taken_at=taken_at,
        reachable=True,
        uptime_ticks=uptime if isinstance(uptime, int) else None,
        interfaces=interfaces,
        cpu_load_percent=cpu,
        memory_total_bytes=memory_total,
        memory_used_bytes=memory_used,
        dsl_lines=dsl,
    )


def _int(value: Value | None) -> int | None:
    return value if isinstance(value, int) else None


def _text(value: Value | None) -> str:
    if isinstance(value, bytes):
        # ifDescr of some agents (Windows) ends in a NUL.
        return value.rstrip(b"\0").decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _interface(
    index: int, table: Mapping[str, Mapping[str, Value]], in_column: str, out_column: str, counter_bits: int
) -> InterfaceSample:
    key = str(index)

    def cell(column: str) -> Value | None:
        return table.get(column, {}).get(key)

    return InterfaceSample(
        index=index,
        name=_text(cell(oids.IF_NAME)) or _text(cell(oids.IF_DESCR)),
        admin_status=_int(cell(oids.IF_ADMIN_STATUS)),
        oper_status=_int(cell(oids.IF_OPER_STATUS)),
        in_octets=_int(cell(in_column)),
        out_octets=_int(cell(out_column)),
        in_errors=_int(cell(oids.IF_IN_ERRORS)),
        out_errors=_int(cell(oids.IF_OUT_ERRORS)),
        speed_mbps=_int(cell(oids.IF_HIGH_SPEED)),
        if_type=_int(cell(oids.IF_TYPE)),
        counter_bits=counter_bits,
    )


async def _host(
    client: SnmpBackend, target: Target, host: Mapping[str, Mapping[str, Value]]
) -> tuple[float | None, int | None, int | None]:
    loads = [value for value in host[oids.HR_PROCESSOR_LOAD].values() if isinstance(value, int)]
    cpu = sum(loads) / len(loads) if loads else None
    ram = [index for index, kind in host[oids.HR_STORAGE_TYPE].items() if kind == oids.HR_STORAGE_RAM]
    if not ram:
        return cpu, None, None
    wanted = [f"{column}.{ram[0]}" for column in oids.HR_STORAGE_COLUMNS[1:]]
    units, size, used = (_int(value) for value in (await client.get(target, wanted)).values())
    if units is None or size is None or used is None:
        return cpu, None, None
    return cpu, size * units, used * units


def _tenth_db(value: Value | None) -> float | None:
    if not isinstance(value, int) or value in (oids.XDSL2_UNAVAILABLE, oids.XDSL2_OUT_OF_RANGE):
        return None
    return value / 10


def _rate(value: Value | None) -> int | None:
    return value if isinstance(value, int) else None


def _first_db(*values: Value | None) -> float | None:
    for value in values:
        converted = _tenth_db(value)
        if converted is not None:
            return converted
    return None


# Per VDSL2 port: (name, column, suffix after the ifIndex). The whole-direction band rows hold the SNR
# margin; VDSL2 agents report attenuation per band only, so the downstream figure falls back to band ds1(4)
# and the upstream one to us1(5) (the ADSL-like bands; us0 is a narrow extra band).
_VDSL2_INSTANCES: tuple[tuple[str, str, str], ...] = (
    ("act_down", oids.XDSL2_CH_ACT_DATA_RATE, f".{oids.XDSL2_UNIT_XTUC}"),
    ("act_up", oids.XDSL2_CH_ACT_DATA_RATE, f".{oids.XDSL2_UNIT_XTUR}"),
    ("att_down", oids.XDSL2_ATTAINABLE_RATE_DS, ""),
    ("att_up", oids.XDSL2_ATTAINABLE_RATE_US, ""),
    ("snr_down", oids.XDSL2_BAND_SNR_MARGIN, f".{oids.XDSL2_BAND_DOWNSTREAM}"),
    ("snr_up", oids.XDSL2_BAND_SNR_MARGIN, f".{oids.XDSL2_BAND_UPSTREAM}"),
    ("atn_down", oids.XDSL2_BAND_LN_ATTEN, f".{oids.XDSL2_BAND_DOWNSTREAM}"),
    ("atn_down_ds1", oids.XDSL2_BAND_LN_ATTEN, ".4"),
    ("atn_up", oids.XDSL2_BAND_LN_ATTEN, f".{oids.XDSL2_BAND_UPSTREAM}"),
    ("atn_up_us1", oids.XDSL2_BAND_LN_ATTEN, ".5"),
)
_ADSL_INSTANCES: tuple[tuple[str, str, str], ...] = (
    ("act_down", oids.ADSL_ATUC_CHAN_CURR_TX_RATE, ""),
    ("act_up", oids.ADSL_ATUR_CHAN_CURR_TX_RATE, ""),
    ("att_down", oids.ADSL_ATUC_CURR_ATTAINABLE_RATE, ""),
    ("att_up", oids.ADSL_ATUR_CURR_ATTAINABLE_RATE, ""),
    ("snr_down", oids.ADSL_ATUR_CURR_SNR_MGN, ""),
    ("snr_up", oids.ADSL_ATUC_CURR_SNR_MGN, ""),
    ("atn_down", oids.ADSL_ATUR_CURR_ATN, ""),
    ("atn_up", oids.ADSL_ATUC_CURR_ATN, ""),
)


async def _dsl_lines(
    client: SnmpBackend, target: Target, interfaces: Mapping[int, InterfaceSample]
) -> dict[int, DslLineSample]:
    wanted: list[tuple[int, DslMib, str, str]] = []
    for index, interface in interfaces.items():
        if interface.if_type == IF_TYPE_VDSL2:
            mib, instances = DslMib.VDSL2, _VDSL2_INSTANCES
        elif interface.if_type == IF_TYPE_ADSL:
            mib, instances = DslMib.ADSL, _ADSL_INSTANCES
        else:
            continue
        wanted.extend((index, mib, name, f"{column}.{index}{suffix}") for name, column, suffix in instances)
    if not wanted:
        return {}
    chunks = [wanted[start : start + GET_CHUNK] for start in range(0, len(wanted), GET_CHUNK)]
    answers = await asyncio.gather(*(client.get(target, [oid for *_, oid in chunk]) for chunk in chunks))
    figures: dict[int, dict[str, Value | None]] = {}
    kinds: dict[int, DslMib] = {}
    for chunk, answer in zip(chunks, answers, strict=True):
        for index, mib, name, oid in chunk:
            figures.setdefault(index, {})[name] = answer.get(oid)
            kinds[index] = mib
    return {
        index: DslLineSample(
            index=index,
            mib=kinds[index],
            actual_rate_down_bps=_rate(values.get("act_down")),
            actual_rate_up_bps=_rate(values.get("act_up")),
            attainable_rate_down_bps=_rate(values.get("att_down")),
            attainable_rate_up_bps=_rate(values.get("att_up")),
            snr_margin_down_db=_tenth_db(values.get("snr_down")),
            snr_margin_up_db=_tenth_db(values.get("snr_up")),
            attenuation_down_db=_first_db(values.get("atn_down"), values.get("atn_down_ds1")),
            attenuation_up_db=_first_db(values.get("atn_up"), values.get("atn_up_us1")),
        )
        for index, values in figures.items()
    }
