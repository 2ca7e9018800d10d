"""The SNMP device inventory: secrets sealed at rest and never shown, credentials validated, a line on one
port; pollers in several processes lease due devices without polling one twice."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.audit.service import bind_actor
from app.db import Database
from app.kit.actor import Role
from app.kit.sealing import Unsealable, seal, unseal
from app.kit.time import utcnow
from app.settings import Settings
from network.health import service
from network.health.models import Device, DeviceStatus, SnmpVersion
from network.health.schemas import Credentials, DeviceCreate
from tests.builders import OPERATOR, make_user, token_for

pytestmark = pytest.mark.postgres

V3 = {
    "version": "v3",
    "user": "poller",
    "auth_protocol": "sha256",
    "auth_key": "auth-key-of-the-dslam",
    "priv_protocol": "aes",
    "priv_key": "priv-key-of-the-dslam",
}


async def _headers(client: httpx.AsyncClient, session: AsyncSession) -> dict[str, str]:
    return await token_for(client, await make_user(session, role=Role.OPERATOR))


async def test_device_secrets_are_sealed_at_rest_and_appear_in_no_answer_or_audit_entry(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    headers = await _headers(client, db_session)

    created = await client.post(
        "/api/v1/devices",
        headers=headers,
        json={"name": "dslam-nord-1", "kind": "dslam", "host": "192.0.2.10", "credentials": V3},
    )
    listed = await client.get("/api/v1/devices", headers=headers)

    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["snmp_version"], body["v3_user"], body["auth_protocol"], body["priv_protocol"]) == (
        "v3",
        "poller",
        "sha256",
        "aes",
    )
    assert body["status"]["state"] == "unknown"
    for text in (created.text, listed.text):
        assert "auth-key-of-the-dslam" not in text and "priv-key-of-the-dslam" not in text
    device = await db_session.get(Device, body["id"])
    assert device is not None and device.auth_key_sealed is not None and device.priv_key_sealed is not None
    assert "auth-key" not in device.auth_key_sealed
    assert unseal(settings.secret_key, device.auth_key_sealed) == "auth-key-of-the-dslam"
    audit = await db_session.scalars(sa.select(AuditEvent).where(AuditEvent.entity_type == "devices"))
    logged = [str(event.after) for event in audit]
    assert logged and not any("sealed" in entry or "key-of-the-dslam" in entry for entry in logged)


@pytest.mark.parametrize(
    "credentials",
    [
        {"version": "v2c"},
        {"version": "v2c", "community": "public", "user": "poller"},
        {"version": "v3", "user": "poller", "auth_protocol": "sha"},
        {**V3, "priv_key": None},
        {**V3, "auth_key": "short"},
        {"version": "v3", "community": "public", **{k: v for k, v in V3.items() if k != "version"}},
    ],
)
async def test_incomplete_or_mixed_credentials_are_refused_with_422(
    client: httpx.AsyncClient, db_session: AsyncSession, credentials: dict[str, object]
) -> None:
    headers = await _headers(client, db_session)
    response = await client.post(
        "/api/v1/devices",
        headers=headers,
        json={"name": "sw-1", "kind": "switch", "host": "192.0.2.11", "credentials": credentials},
    )
    assert response.status_code == 422, response.text


async def test_a_second_device_on_the_same_agent_address_is_conflict(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    headers = await _headers(client, db_session)
    v2c = {"version": "v2c", "community": "s3cret-community"}
    first = await client.post(
        "/api/v1/devices",
        headers=headers,
        json={"name": "olt-1", "kind": "olt", "host": "2001:db8::0:1", "credentials": v2c},
    )
    second = await client.post(
        "/api/v1/devices",
        headers=headers,
        json={"name": "olt-2", "kind": "olt", "host": "2001:db8::1", "credentials": v2c},
    )
    assert first.status_code == 201 and first.json()["host"] == "2001:db8::1"
    assert second.status_code == 409 and second.json()["code"] == "device_exists"


async def test_new_credentials_replace_the_old_ones_and_make_the_device_due_at_once(
    db_session: AsyncSession, settings: Settings
) -> None:
    device = await service.create_device(
        db_session,
        actor=OPERATOR,
        settings=settings,
        data=DeviceCreate(
            name="cpe-1", kind="cpe", host="192.0.2.20", credentials=Credentials(version="v2c", community="old")
        ),
    )
    _, status = await service.get_device(db_session, device_id=device.id)
    status.next_poll_at = utcnow() + timedelta(hours=1)
    await db_session.flush()

    await service.update_device(
        db_session,
        actor=OPERATOR,
        settings=settings,
        device_id=device.id,
        data=service.DeviceUpdate(credentials=Credentials(**V3)),
    )

    device, status = await service.get_device(db_session, device_id=device.id)
    assert device.snmp_version is SnmpVersion.V3 and device.community_sealed is None
    assert status.next_poll_at <= utcnow()
    assert service.credentials_of(device, settings).priv_key == "priv-key-of-the-dslam"
    assert "priv-key" not in repr(service.credentials_of(device, settings))


def test_a_value_sealed_under_another_secret_key_cannot_be_unsealed() -> None:
    sealed = seal("first-secret-key-" + "x" * 32, "community")
    assert seal("first-secret-key-" + "x" * 32, "community") != sealed  # sealing twice gives two values
    with pytest.raises(Unsealable):
        unseal("second-secret-key-" + "y" * 32, sealed)
    with pytest.raises(Unsealable):
        unseal("first-secret-key-" + "x" * 32, sealed[:-4] + "AAAA")


async def _make_devices(database: Database, count: int) -> list[int]:
    tag = secrets.token_hex(3)
    async with database.transaction() as session:
        bind_actor(session, OPERATOR)
        ids = []
        for n in range(count):
            device = await service.create_device(
                session,
                actor=OPERATOR,
                settings=database.settings,
                data=DeviceCreate(
                    name=f"lease-{tag}-{n}",
                    kind="cpe",
                    host=f"198.51.100.{n + 1}",
                    port=10_000 + int(tag, 16) % 50_000,
                    credentials=Credentials(version="v2c", community="public"),
                ),
            )
            ids.append(device.id)
        return ids


async def _claim(database: Database, owner: str, limit: int) -> list[int]:
    async with database.transaction() as session:
        return [a.device_id for a in await service.claim(session, settings=database.settings, owner=owner, limit=limit)]


async def _drop(database: Database, ids: list[int]) -> None:
    async with database.transaction() as session:
        bind_actor(session, OPERATOR)
        await session.execute(sa.delete(Device).where(Device.id.in_(ids)))


async def test_pollers_claiming_at_once_share_the_due_devices_without_polling_one_twice(
    committed_db: Database,
) -> None:
    ids = await _make_devices(committed_db, 30)
    try:
        claims = await asyncio.gather(*(_claim(committed_db, f"poller-{n}", 8) for n in range(5)))
        mine = [[i for i in claimed if i in ids] for claimed in claims]
        flat = [i for claimed in mine for i in claimed]
        assert len(flat) == len(set(flat)), "a device was leased to two pollers"
        assert len(flat) == 30, [len(c) for c in mine]
        # Leased devices are not handed out again while the lease lasts.
        assert [i for i in await _claim(committed_db, "poller-late", 100) if i in ids] == []
    finally:
        await _drop(committed_db, ids)


async def test_a_lease_that_ran_out_frees_the_device_and_a_released_one_is_due_at_once(
    committed_db: Database,
) -> None:
    ids = await _make_devices(committed_db, 2)
    try:
        first, second = ids
        assert set(await _claim(committed_db, "dead-poller", 100)) >= {first, second}
        async with committed_db.transaction() as session:
            await session.execute(
                sa.update(DeviceStatus)
                .where(DeviceStatus.device_id == first)
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )
            assert await service.release(session, owner="dead-poller", device_ids=[second]) == 1
            assert await service.release(session, owner="someone-else", device_ids=[first]) == 0

        assert {i for i in await _claim(committed_db, "live-poller", 100) if i in ids} == {first, second}
    finally:
        await _drop(committed_db, ids)
