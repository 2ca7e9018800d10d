"""`opentelecom dunning run` on the embedded SQLite database with the demo coop."""

from __future__ import annotations

import json

from tests.billing.ledger import test_cli as ledger_cli

demo_env = ledger_cli.demo_env
opentelecom = ledger_cli.opentelecom


def test_a_dunning_run_reports_what_it_did_and_refuses_a_bad_day(demo_env: dict[str, str]) -> None:
    done = opentelecom(demo_env, "dunning", "run", "--today", "2026-11-30", "--json")
    bad = opentelecom(demo_env, "dunning", "run", "--today", "30.11.2026")

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) >= {"reminders", "warnings", "suspensions", "contracts_resumed", "notices"}
    assert report["notices"] == []
    assert bad.returncode != 0 and "YYYY-MM-DD" in bad.stderr
