"""Two poller processes on one PostgreSQL database share the devices: each device is polled once, by one
of them, and neither takes more than its batch. The devices are UDP sockets of this test that never answer
(on loopback), so every poll ends in its timeout and is recorded as a failure: a device polled twice would
count two failures in a row."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.audit.service import bind_actor
from app.db import Database
from network.health import service
from network.health.models import Device, DeviceStatus
from network.health.schemas import Credentials, DeviceCreate
from tests.builders import OPERATOR

pytestmark = pytest.mark.postgres

DEVICES = 24
BATCH = 16
OPENTELECOM = Path(sys.executable).with_name("opentelecom")


async def _poll_once(database_url: str) -> int:
    env = os.environ | {
        "OPENTELECOM_DATABASE_URL": database_url,
        "OPENTELECOM_ENVIRONMENT": "test",
        "OPENTELECOM_POLLER_BATCH": str(BATCH),
    }
    process = await asyncio.create_subprocess_exec(
        str(OPENTELECOM), "devices", "poll", "--once", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()[-2000:]
    found = re.search(r"(\d+) devices polled", out.decode())
    assert found, out.decode()
    return int(found.group(1))


async def test_two_poller_processes_share_the_due_devices_and_poll_each_once(
    committed_db: Database, committed_db_url: str
) -> None:
    silent = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(DEVICES)]
    ids: list[int] = []
    try:
        for sock in silent:
            sock.bind(("127.0.0.1", 0))
        async with committed_db.transaction() as session:
            bind_actor(session, OPERATOR)
            for n, sock in enumerate(silent):
                device = await service.create_device(
                    session,
                    actor=OPERATOR,
                    settings=committed_db.settings,
                    data=DeviceCreate(
                        name=f"silent-{os.getpid()}-{n}",
                        kind="cpe",
                        host="127.0.0.1",
                        port=sock.getsockname()[1],
                        timeout_ms=300,
                        retries=0,
                        credentials=Credentials(version="v2c", community="public"),
                    ),
                )
                ids.append(device.id)

        first, second = await asyncio.gather(_poll_once(committed_db_url), _poll_once(committed_db_url))

        async with committed_db.transaction() as session:
            statuses = list(await session.scalars(sa.select(DeviceStatus).where(DeviceStatus.device_id.in_(ids))))
        assert first <= BATCH and second <= BATCH and first + second >= DEVICES, (first, second)
        assert [s.failures_in_a_row for s in statuses] == [1] * DEVICES, "a device was polled twice, or not at all"
        assert all(s.lease_owner is None and s.last_error for s in statuses)
    finally:
        for sock in silent:
            sock.close()
        async with committed_db.transaction() as session:
            bind_actor(session, OPERATOR)
            await session.execute(sa.delete(Device).where(Device.id.in_(ids)))
