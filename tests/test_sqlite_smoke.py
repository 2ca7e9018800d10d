"""The embedded default: migrations, demo seed and the main flows on an SQLite file, as `make run` uses it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app import migrate
from app.audit.service import install as install_audit
from app.db import Database
from app.demo import seed
from app.main import create_app
from app.settings import Settings


@pytest.fixture
async def sqlite_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'embedded.db'}"
    await asyncio.to_thread(migrate.upgrade, url)  # Alembic runs its own event loop
    settings = Settings(environment="test", database_url=url, run_background_loops=False, _env_file=None)  # type: ignore[call-arg]
    install_audit()
    database = Database(settings)
    async with database.transaction() as session:
        await seed.seed(session, settings=settings)
    app = create_app(settings, database=database, run_loops=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    await database.dispose()


async def login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", data={"username": email, "password": seed.DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_main_flows_work_on_the_embedded_database(sqlite_client: httpx.AsyncClient) -> None:
    anna = await login(sqlite_client, "anna@example.org")
    operator = await login(sqlite_client, "operator@example.org")
    board = await login(sqlite_client, "board@example.org")

    me = (await sqlite_client.get("/api/v1/me", headers=anna)).json()
    contracts = (await sqlite_client.get("/api/v1/contracts", headers=anna)).json()["items"]
    assert me["member"]["first_name"] == "Anna"
    assert [c["status"] for c in contracts] == ["active"]

    suspended = await sqlite_client.post(
        f"/api/v1/contracts/{contracts[0]['id']}/suspend", headers=operator, json={"reason": "test"}
    )
    resumed = await sqlite_client.post(f"/api/v1/contracts/{contracts[0]['id']}/resume", headers=operator, json={})
    assert suspended.json()["status"] == "suspended" and resumed.json()["status"] == "active"

    register = await sqlite_client.get("/api/v1/register", headers=board, params={"format": "csv"})
    assert register.status_code == 200 and "Anna" in register.text

    audit = (await sqlite_client.get("/api/v1/audit", headers=board, params={"action": "contract."})).json()
    assert {"contract.suspended", "contract.resume"} <= {e["action"] for e in audit["items"]}

    health = await sqlite_client.get("/healthz")
    assert health.status_code == 200 and health.json()["database"]["dialect"] == "sqlite"
