"""Test fixtures: a fresh PostgreSQL database built by Alembic per run, a rolled-back transaction per test.

Real-server markers (postgres, radius, router, snmp, asterisk, browser) must never be skipped: a skip
of such a test fails the run, and every test case carries its markers in the JUnit report.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from app.audit.service import bind_actor
from app.audit.service import install as install_audit
from app.db import Database, load_models, unit_of_work
from app.kit.actor import Actor
from app.settings import Settings

REAL_SERVER_MARKERS = {"postgres", "radius", "router", "snmp", "asterisk", "browser"}
PG_ADMIN_URL = os.environ.get("OPENTELECOM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_FIXTURES = {"pg_url", "engine", "db_session", "app", "client"}

_skipped_real: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)
        names = sorted({m.name for m in item.iter_markers() if m.name in REAL_SERVER_MARKERS})
        item.user_properties.append(("markers", ",".join(names)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        markers = dict(report.user_properties).get("markers", "")
        if markers:
            _skipped_real.append(f"{report.nodeid} [{markers}]")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_real:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped_real:
        terminalreporter.section("real-server tests were skipped (this fails the run)", red=True)
        for line in _skipped_real:
            terminalreporter.write_line(line)


def _async_url(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database}"


async def create_database(name: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(name: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def fresh_database_name(suffix: str = "") -> str:
    return f"opentelecom_test_{os.getpid()}_{secrets.token_hex(3)}{suffix}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A new database for this run, migrated to head by Alembic (not create_all)."""
    from app import migrate

    name = fresh_database_name()
    asyncio.run(create_database(name))
    url = _async_url(name)
    migrate.upgrade(url)
    yield url
    if not os.environ.get("OPENTELECOM_KEEP_TEST_DB"):
        asyncio.run(drop_database(name))


@pytest.fixture(scope="session")
def settings(pg_url: str) -> Settings:
    return Settings(environment="test", database_url=pg_url, run_background_loops=False, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    install_audit()
    load_models()
    engine = create_async_engine(pg_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        if transaction.is_active:
            await transaction.rollback()


@pytest.fixture
async def db_session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session inside the test's outer transaction; its commits are savepoints, all rolled back at the end."""
    session = AsyncSession(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
    bind_actor(session, Actor.system("test-setup"))
    yield session
    await session.close()


@pytest.fixture
async def app(settings: Settings, db_session: AsyncSession, engine: AsyncEngine) -> AsyncIterator[Any]:
    from app.auth.deps import get_session
    from app.main import create_app

    database = Database(settings)
    application = create_app(settings, database=database, run_loops=False)

    async def test_session() -> AsyncIterator[AsyncSession]:
        # What the test set up counts as committed before the request, as it would be in production;
        # the request's own unit of work then commits or rolls back only its own changes.
        await db_session.commit()
        async with unit_of_work(db_session):
            yield db_session

    application.dependency_overrides[get_session] = test_session
    async with application.router.lifespan_context(application):
        yield application
    await database.dispose()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="session")
def committed_db_url() -> Iterator[str]:
    """A second fresh database for tests whose writes must really commit: other processes (FreeRADIUS,
    workers) read them, or concurrent transactions race on them. Tests clean up what they rely on."""
    from app import migrate

    name = fresh_database_name("_c")
    asyncio.run(create_database(name))
    url = _async_url(name)
    migrate.upgrade(url)
    yield url
    if not os.environ.get("OPENTELECOM_KEEP_TEST_DB"):
        asyncio.run(drop_database(name))


@pytest.fixture
async def committed_db(committed_db_url: str) -> AsyncIterator[Database]:
    """A Database (engine + sessions with real commits) on the committed test database."""
    install_audit()
    load_models()
    settings = Settings(
        environment="test",
        database_url=committed_db_url,
        run_background_loops=False,
        _env_file=None,  # type: ignore[call-arg]
    )
    database = Database(settings)
    yield database
    await database.dispose()
