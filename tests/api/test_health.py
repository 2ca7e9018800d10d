"""GET /healthz reports the database and each background loop."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession


async def test_health_reports_database_and_every_loop(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["database"] == {"status": "ok", "dialect": "postgresql", "error": None}
    assert set(body["loops"]) == {
        "membership-departures",
        "contract-ends",
        "session-cleanup",
        "call-teardown-cleanup",
        "provisioning-worker",
        "snmp-poller",
        "dunning",
        "invoice-pdfs",
    }


async def test_a_failing_loop_turns_health_to_503(client: httpx.AsyncClient, app: Any) -> None:
    async def broken(session: AsyncSession) -> int:
        raise RuntimeError("cannot reach the thing")

    runner = app.state.loops
    runner.loops["session-cleanup"].job = broken
    with pytest.raises(RuntimeError):
        await runner.run_once("session-cleanup")

    response = await client.get("/healthz")

    assert response.status_code == 503
    loop = response.json()["loops"]["session-cleanup"]
    assert loop["status"] == "failing" and "cannot reach the thing" in loop["last_error"]


async def test_loop_job_runs_and_reports_its_result(client: httpx.AsyncClient, app: Any) -> None:
    result = await app.state.loops.run_once("membership-departures")

    body = (await client.get("/healthz")).json()
    assert body["loops"]["membership-departures"]["last_result"] == result
    assert body["loops"]["membership-departures"]["runs"] == 1
