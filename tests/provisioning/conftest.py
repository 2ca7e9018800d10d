"""FreeRADIUS for real, with our configuration from deploy/freeradius.

Two servers, each on free loopback ports:

- ``freeradius``: on its own fresh database (``radius_db_url``, migrated by Alembic) with one NAS,
  127.0.0.1, registered directly in the nas table; tests write FreeRADIUS's rows themselves
  (tests/provisioning/test_freeradius.py).
- ``freeradius_server``: on the committed test database, with the NAS registered the way an operator does
  (an access router with address pools), for tests that provision lines through our services.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from app.audit.service import bind_actor, install
from app.db import Database, load_models
from app.settings import Settings
from network import service as network
from network.models import PoolFamily
from network.schemas import PoolCreate, RouterCreate
from provisioning.radius.coa import DICTIONARY_PATH
from tests.builders import OPERATOR
from tests.conftest import PG_ADMIN_URL, create_database, drop_database, fresh_database_name
from tools import freeradius as freeradius_tool
from tools import processes

NAS_ADDRESS = "127.0.0.1"


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL (postgresql+asyncpg://...) as a plain libpq/asyncpg DSN."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class RadiusServer:
    """A running FreeRADIUS on our configuration, and how to talk to it and to its database."""

    host: str
    auth_port: int
    acct_port: int
    secret: str
    dictionary_path: Path
    db_url: str
    log: Path

    @property
    def dsn(self) -> str:
        """The database for a direct asyncpg connection."""
        return asyncpg_dsn(self.db_url)


@pytest.fixture(scope="session")
def radius_db_url() -> Iterator[str]:
    """A fresh database of its own for FreeRADIUS tests, migrated by Alembic: rows written there really
    commit, so the FreeRADIUS process sees them."""
    from app import migrate

    name = fresh_database_name("_r")
    asyncio.run(create_database(name))
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        if not os.environ.get("OPENTELECOM_KEEP_TEST_DB"):
            asyncio.run(drop_database(name))


async def _register_nas(dsn: str, secret: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "INSERT INTO nas (nasname, shortname, type, secret, description) VALUES ($1, $2, 'other', $3, $4)",
            NAS_ADDRESS,
            "test-bng",
            secret,
            "the tests' NAS",
        )
    finally:
        await connection.close()


@contextmanager
def running(directory: Path, db_url: str, secret: str, *, auth_port: int, acct_port: int) -> Iterator[RadiusServer]:
    """Start FreeRADIUS on a rendered configuration (returns once it answers), stop it afterwards."""
    process = freeradius_tool.start(directory)
    try:
        yield RadiusServer(
            host="127.0.0.1",
            auth_port=auth_port,
            acct_port=acct_port,
            secret=secret,
            dictionary_path=DICTIONARY_PATH,
            db_url=db_url,
            log=Path(freeradius_tool.Rendered.load(directory).log),
        )
    finally:
        processes.stop(process)


@pytest.fixture(scope="session")
def freeradius(radius_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadiusServer]:
    """FreeRADIUS with our configuration on ``radius_db_url``, NAS 127.0.0.1 with a generated secret.
    The NAS is registered before the start because FreeRADIUS reads the nas table when it starts."""
    secret = secrets.token_urlsafe(32)
    asyncio.run(_register_nas(asyncpg_dsn(radius_db_url), secret))
    name = make_url(radius_db_url).database
    assert name is not None
    auth, acct = processes.free_udp_port(), processes.free_udp_port()
    directory = freeradius_tool.render(
        tmp_path_factory.mktemp("freeradius"), db_name=name, auth_port=auth, acct_port=acct, threads=4
    )
    with running(directory, radius_db_url, secret, auth_port=auth, acct_port=acct) as server:
        yield server


@dataclass(frozen=True)
class FreeRadius:
    """A running FreeRADIUS and the access router (NAS 127.0.0.1) registered in its nas table."""

    host: str
    auth_port: int
    acct_port: int
    secret: str
    router_id: int
    log: Path


async def _register_router(url: str) -> tuple[int, str]:
    install()
    load_models()
    database = Database(Settings(environment="test", database_url=url, run_background_loops=False, _env_file=None))  # type: ignore[call-arg]
    try:
        async with database.transaction() as session:
            bind_actor(session, OPERATOR)
            router = await network.create_router(
                session,
                actor=OPERATOR,
                data=RouterCreate(name="bng-e2e", nas_ip=NAS_ADDRESS, portal_ipv4="198.51.100.80"),
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
    """FreeRADIUS on free loopback ports with our configuration, reading the committed test database, with
    the NAS registered as an access router through our services (before the start, see ``freeradius``)."""
    router_id, secret = asyncio.run(_register_router(committed_db_url))
    name = make_url(committed_db_url).database
    assert name is not None
    auth, acct = processes.free_udp_port(), processes.free_udp_port()
    directory = freeradius_tool.render(
        tmp_path_factory.mktemp("freeradius-e2e"), db_name=name, auth_port=auth, acct_port=acct, threads=4
    )
    with running(directory, committed_db_url, secret, auth_port=auth, acct_port=acct) as server:
        yield FreeRadius(server.host, server.auth_port, server.acct_port, server.secret, router_id, server.log)
