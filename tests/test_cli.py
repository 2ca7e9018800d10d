"""The `opentelecom` command, run as a person would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    db = tmp_path_factory.mktemp("cli") / "cli.db"
    env = {**os.environ, "OPENTELECOM_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "OPENTELECOM_ENVIRONMENT": "test"}
    for args in (["db", "upgrade"], ["demo", "seed"]):
        subprocess.run(
            [sys.executable, "-m", "app.cli", *args], env=env, check=True, capture_output=True, cwd=ROOT, timeout=120
        )
    return env


def opentelecom(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=check,
    )


def test_member_list_json_contains_the_demo_members(cli_env: dict[str, str]) -> None:
    members = json.loads(opentelecom(cli_env, "member", "list", "--json").stdout)

    assert len(members) == 60
    assert {"anna@example.org", "ben@example.org"} <= {m["email"] for m in members}


def test_second_seed_is_refused_but_if_empty_is_a_no_op(cli_env: dict[str, str]) -> None:
    refused = opentelecom(cli_env, "demo", "seed", check=False)
    skipped = opentelecom(cli_env, "demo", "seed", "--if-empty")

    assert refused.returncode == 1 and "has members already" in refused.stderr
    assert skipped.returncode == 0 and "nothing to do" in skipped.stdout


def test_user_create_generates_a_strong_password_and_is_audited_as_cli(cli_env: dict[str, str]) -> None:
    created = opentelecom(
        cli_env, "user", "create", "--email", "new.operator@example.org", "--role", "operator", "--name", "New Operator"
    )
    password = created.stdout.split("generated password (shown once): ")[1].strip()
    audit = json.loads(opentelecom(cli_env, "audit", "list", "--entity-type", "users", "--json").stdout)

    assert len(password) >= 20
    newest = audit[0]
    assert newest["action"] == "users.create"
    assert newest["channel"] == "cli" and newest["actor_label"].startswith("cli:")
    assert "password_hash" not in (newest["after"] or {})


def test_register_export_writes_a_pdf(cli_env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "register.pdf"

    opentelecom(cli_env, "register", "export", "--format", "pdf", "--output", str(target))

    assert target.read_bytes().startswith(b"%PDF")


def test_unknown_member_is_a_clear_error(cli_env: dict[str, str]) -> None:
    result = opentelecom(cli_env, "member", "show", "999999", check=False)

    assert result.returncode == 1
    assert "Member 999999 not found" in result.stderr


def test_an_issued_bill_run_renders_its_pdfs_and_a_second_render_has_nothing_left(cli_env: dict[str, str]) -> None:
    from datetime import date

    issued = opentelecom(cli_env, "billing", "run", "--period", f"{date.today():%Y-%m}", "--issue", "--json")
    again = opentelecom(cli_env, "billing", "render")

    run = json.loads(issued.stdout)
    assert run["status"] == "issued" and run["invoice_count"] > 30
    assert f"rendered {run['invoice_count']} PDFs" in issued.stderr
    assert f"PDFs: {run['invoice_count']}/{run['invoice_count']}" in issued.stderr
    assert "rendered 0 PDFs" in again.stderr
