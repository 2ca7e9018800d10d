"""FreeRADIUS for real: our configuration from deploy/freeradius, on the committed test database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.audit.service import bind_actor, install
from app.db import Database, load_models
from app.settings import Settings
from network import service as network
from network.models import PoolFamily
from network.schemas import PoolCreate, RouterCreate
from tests.builders import OPERATOR
from tools import freeradius


@dataclass(frozen=True)
class FreeRadius:
    """A running FreeRADIUS and the access router (NAS 127.0.0.1) registered in its nas table."""

    host: str
    auth_port: int
    acct_port: int
    secret: str
    router_id: int
    log: Path


async def _register_nas(url: str) -> tuple[int, str]:
    install()
    load_models()
    database = Database(Settings(environment="test", database_url=url, run_background_loops=False, _env_file=None))  # type: ignore[call-arg]
    try:
        async with database.transaction() as session:
            bind_actor(session, OPERATOR)
            router = await network.create_router(
                session,
                actor=OPERATOR,
                data=RouterCreate(name="bng-e2e", nas_ip="127.0.0.1", portal_ipv4="198.51.100.80", uplink="up0"),
            )
            await network.create_pool(
                session,
                actor=OPERATOR,
                router_id=router.id,
                data=PoolCreate(family=PoolFamily.IPV4, cidr="100.64.0.0/24"),
            )
            await network.create_pool(
                session,
                actor=OPERATOR,
                router_id=router.id,
                data=PoolCreate(family=PoolFamily.IPV6, cidr="2001:db8:e2e::/48", delegated_length=56),
            )
            from provisioning.service import ensure_nas

            await ensure_nas(session, router)
            return router.id, router.radius_secret
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def freeradius_server(committed_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreeRadius]:
    """FreeRADIUS on free loopback ports with our configuration, reading the committed test database.
    The NAS must exist before the start: FreeRADIUS reads its clients once."""
    router_id, secret = asyncio.run(_register_nas(committed_db_url))
    name = make_url(committed_db_url).database
    assert name is not None
    auth, acct = freeradius.free_udp_port(), freeradius.free_udp_port()
    directory = freeradius.render(
        tmp_path_factory.mktemp("freeradius"), db_name=name, auth_port=auth, acct_port=acct, threads=4
    )
    running = freeradius.start(directory, auth_port=auth, acct_port=acct)
    try:
        yield FreeRadius("127.0.0.1", auth, acct, secret, router_id, running.log)
    finally:
        freeradius.stop(running)
