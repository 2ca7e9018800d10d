"""A real server process for black-box tests: its own database, migrated and seeded, served by uvicorn."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import _async_url, create_database, drop_database, fresh_database_name

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LiveServer:
    url: str
    database_url: str
    log: Path
    pid: int

    def token(self, email: str, password: str = "demo-pass") -> str:  # noqa: S107 - the documented demo password
        response = httpx.post(
            f"{self.url}/api/v1/auth/token", data={"username": email, "password": password}, timeout=10
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    # A failure says why: the command's own output is the only trace of it.
    if done.returncode != 0:
        raise RuntimeError(f"opentelecom {' '.join(args)} exited with {done.returncode}:\n{done.stderr[-4000:]}")


@contextmanager
def live_server(tmp: Path, *, seed: bool = True) -> Iterator[LiveServer]:
    name = fresh_database_name("_live")
    asyncio.run(create_database(name))
    database_url = _async_url(name)
    env = {
        **os.environ,
        "OPENTELECOM_DATABASE_URL": database_url,
        "OPENTELECOM_ENVIRONMENT": "test",
        "OPENTELECOM_RUN_BACKGROUND_LOOPS": "true",
    }
    port = free_port()
    log = tmp / f"server-{port}.log"
    process = None
    try:
        _cli(env, "db", "upgrade")
        if seed:
            _cli(env, "demo", "seed")
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield LiveServer(url=url, database_url=database_url, log=log, pid=process.pid)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        asyncio.run(drop_database(name))
