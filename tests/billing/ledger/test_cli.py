"""`opentelecom ledger ...` on the embedded SQLite database with the demo coop, as a person would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def opentelecom(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True, cwd=ROOT, timeout=180
    )


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    db = tmp_path_factory.mktemp("ledger-cli") / "demo.db"
    env = {**os.environ, "OPENTELECOM_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "OPENTELECOM_ENVIRONMENT": "test"}
    for args in (["db", "upgrade"], ["demo", "seed"]):
        done = opentelecom(env, *args)
        assert done.returncode == 0, done.stderr
    return env


def test_the_demo_s_share_payments_are_in_the_books_and_the_trial_balance_sums_to_zero(
    demo_env: dict[str, str],
) -> None:
    trial = json.loads(opentelecom(demo_env, "ledger", "trial-balance", "--json").stdout)
    register = json.loads(opentelecom(demo_env, "register", "export", "--format", "json").stdout)
    table = opentelecom(demo_env, "ledger", "trial-balance").stdout.splitlines()

    balances = {a["code"]: a["balance_cents"] for a in trial["accounts"]}
    # Members who left keep their capital in the books until it is paid out (§73 GenG).
    paid_in = sum(entry["capital_cents"] for entry in register["entries"])
    assert trial["balance_cents"] == 0
    assert balances["0800"] == -paid_in != 0
    assert balances["1200"] == paid_in
    assert table[0].split() == ["code", "name", "kind", "debit", "credit", "balance"]
    assert table[-1].split()[0] == "total" and table[-1].split()[-1] == "0.00"


def test_the_export_lists_each_share_payment_and_the_backfill_finds_nothing_left(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "buchungen.csv"

    written = opentelecom(
        demo_env, "ledger", "export", "--from", "2000-01-01", "--to", "2099-12-31", "--output", str(target)
    )
    backfill = json.loads(opentelecom(demo_env, "ledger", "book-share-payments", "--json").stdout)
    bad = opentelecom(demo_env, "ledger", "export", "--from", "2026-13-01", "--to", "2026-12-31")

    rows = target.read_bytes().decode("utf-8-sig").splitlines()
    assert written.returncode == 0, written.stderr
    assert rows[0] == "Umsatz;Soll/Haben-Kennzeichen;Konto;Gegenkonto;Belegdatum;Belegfeld 1;Buchungstext"
    payments = [row for row in rows[1:] if ";S;1200;0800;" in row]
    transfers = [row for row in rows[1:] if ";S;0800;0800;" in row]
    assert len(payments) == backfill["payments"] > 0
    assert 0 < len(transfers) <= backfill["transfers"]
    assert len(rows) == 1 + len(payments) + len(transfers)
    assert backfill["booked"] == 0
    assert bad.returncode != 0 and "YYYY-MM-DD" in bad.stderr
