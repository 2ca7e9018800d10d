"""`opentelecom dividends ...` on the embedded SQLite database with the demo coop, as a person would run it."""

from __future__ import annotations

import json

from tests.billing.ledger.test_cli import opentelecom


def test_a_decision_is_previewed_run_once_and_leaves_the_books_balanced(demo_env: dict[str, str]) -> None:
    decided = opentelecom(
        demo_env, "dividends", "decide", "--year", "2025", "--rate", "3,5", "--decided-on", "2026-06-15", "--json"
    )
    preview = json.loads(opentelecom(demo_env, "dividends", "preview", "--year", "2025", "--json").stdout)
    table = opentelecom(demo_env, "dividends", "preview", "--year", "2025").stdout.splitlines()
    first = json.loads(opentelecom(demo_env, "dividends", "run", "--year", "2025", "--json").stdout)
    second = json.loads(opentelecom(demo_env, "dividends", "run", "--year", "2025", "--json").stdout)
    trial = json.loads(opentelecom(demo_env, "ledger", "trial-balance", "--json").stdout)

    assert decided.returncode == 0, decided.stderr
    assert json.loads(decided.stdout)["status"] == "draft"
    allocations = preview["allocations"]
    assert allocations and preview["totals"]["gross_cents"] == sum(a["gross_cents"] for a in allocations) > 0
    assert table[0].startswith("Dividende 2025: 3.5 % (days), draft")
    assert table[-1].split()[:2] == ["total", f"({len(allocations)})"]
    assert first["status"] == "booked" and first["entries"] >= len(allocations)
    assert first["gross_cents"] == preview["totals"]["gross_cents"]
    assert second["entries"] == 0
    balances = {a["code"]: a["balance_cents"] for a in trial["accounts"]}
    assert trial["balance_cents"] == 0
    assert balances["0860"] == first["gross_cents"]
    assert balances["1747"] == -first["capital_gains_tax_cents"]


def test_a_run_without_a_decision_says_so(demo_env: dict[str, str]) -> None:
    done = opentelecom(demo_env, "dividends", "run", "--year", "2019")

    assert done.returncode == 1
    assert "No dividend decision for 2019" in done.stderr


def test_a_refund_is_issued_only_at_the_decisions_percent(demo_env: dict[str, str]) -> None:
    decided = opentelecom(  # 2026: the test above ran 2025's decision already (same database)
        demo_env,
        "dividends",
        "decide",
        *("--year", "2026", "--rate", "3", "--refund-percent", "2", "--decided-on", "2027-06-15"),
    )
    other = opentelecom(
        demo_env, "dividends", "refund", "--year", "2026", "--issue-on", "2027-07-01", "--percent", "5", "--json"
    )
    issued = opentelecom(
        demo_env, "dividends", "refund", "--year", "2026", "--issue-on", "2027-07-01", "--percent", "2", "--json"
    )

    assert decided.returncode == 0, decided.stderr
    assert other.returncode == 1
    assert "sets the patronage refund at 2 %, not 5 %" in other.stderr
    assert issued.returncode == 0, issued.stderr
    assert json.loads(issued.stdout) == []  # the demo issued no invoices in 2026: no revenue to refund on
