"""SNMP polling: numeric OIDs (``oids``), the one pysnmp adapter (``client``), polls of devices into plain
samples (``poller``, ``samples``), and rates from two samples (``rates``). See network/README.md."""

from network.snmp.poller import poll_device, poll_many
from network.snmp.samples import DeviceSample, DslLineSample, DslMib, IfStatus, InterfaceSample
from network.snmp.types import (
    AuthProtocol,
    Community,
    Credentials,
    PrivProtocol,
    SnmpError,
    SnmpErrorCode,
    Target,
    UsmUser,
    Value,
)

__all__ = [
    "AuthProtocol",
    "Community",
    "Credentials",
    "DeviceSample",
    "DslLineSample",
    "DslMib",
    "IfStatus",
    "InterfaceSample",
    "PrivProtocol",
    "SnmpError",
    "SnmpErrorCode",
    "Target",
    "UsmUser",
    "Value",
    "poll_device",
    "poll_many",
]
