"""Schema-driven fuzzing of the whole API with schemathesis against a real server on PostgreSQL:
no generated request, valid or not, may get a 500."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import live_server

pytestmark = pytest.mark.postgres

# Logging out or deactivating users would pull the fuzzer's own token away mid-run.
EXCLUDED = r"^/api/v1/(auth/logout|users/\{user_id\}/deactivate)$"


@pytest.mark.parametrize("login", ["admin@example.org", "anna@example.org"])
def test_fuzzed_requests_never_get_a_server_error(tmp_path: Path, login: str) -> None:
    with live_server(tmp_path) as server:
        token = server.token(login)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{server.url}/api/v1/openapi.json",
                "--checks",
                "not_a_server_error",
                "--header",
                f"Authorization: Bearer {token}",
                "--max-examples",
                "40",
                "--seed",
                "20261122",
                "--workers",
                "2",
                "--phases",
                "examples,coverage,fuzzing",
                "--generation-database",
                "none",
                "--exclude-path-regex",
                EXCLUDED,
                "--request-timeout",
                "20",
                "--max-failures",
                "10",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = result.stdout + result.stderr
        if result.returncode != 0:
            server_log = server.log.read_text(errors="replace")[-6000:]
            pytest.fail(f"schemathesis found failures:\n{output[-12000:]}\n--- server log ---\n{server_log}")
        assert "passed" in output.lower() or "no issues found" in output.lower(), output[-3000:]
