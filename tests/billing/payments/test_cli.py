"""`opentelecom payments ...` on the embedded SQLite database with the demo coop, as a person would run it."""

from __future__ import annotations

import json
from pathlib import Path

from billing.payments.pain002 import batches_of
from tests.billing.ledger import test_cli as ledger_cli
from tests.billing.payments.builders import Batch, Booking, TxStatus, camt053, camt054, pain002

# The same demo coop on SQLite and the same way of running the command as the ledger's CLI tests.
demo_env = ledger_cli.demo_env
opentelecom = ledger_cli.opentelecom


def test_a_statement_imported_twice_from_the_command_line_books_once(demo_env: dict[str, str], tmp_path: Path) -> None:
    statement = tmp_path / "auszug.xml"
    statement.write_bytes(camt053(Booking("25.00", remittance="Spende Vereinsfest", bank_reference="CLI-1")))

    first = opentelecom(demo_env, "payments", "import-camt", str(statement), "--json")
    second = opentelecom(demo_env, "payments", "import-camt", str(statement), "--json")
    trial = json.loads(opentelecom(demo_env, "ledger", "trial-balance", "--json").stdout)

    assert first.returncode == 0, first.stderr
    assert (json.loads(first.stdout)["transactions"], json.loads(first.stdout)["queued"]) == (1, 1)
    assert (json.loads(second.stdout)["transactions"], json.loads(second.stdout)["statements_known"]) == (0, 1)
    assert {a["code"]: a["balance_cents"] for a in trial["accounts"]}["1360"] == -2500
    assert trial["balance_cents"] == 0


def test_a_payout_file_is_written_and_booked(demo_env: dict[str, str], tmp_path: Path) -> None:
    members = json.loads(opentelecom(demo_env, "member", "list", "--json").stdout)
    instructions = tmp_path / "payouts.json"
    instructions.write_text(
        json.dumps(
            [
                {
                    "member_id": members[0]["id"],
                    "name": "Erika Mustermann",
                    "iban": "DE75512108001245126199",
                    "amount_cents": 700,
                    "reference": "RF-CLI-1",
                    "remittance": "Dividende 2025",
                    "execution_date": "2026-11-20",
                    "liability": "dividends_payable",
                }
            ]
        )
    )

    done = opentelecom(demo_env, "payments", "payout", str(instructions), "--output", str(tmp_path / "out"), "--json")

    assert done.returncode == 0, done.stderr
    [made] = json.loads(done.stdout)
    [written] = list((tmp_path / "out").glob("pain.001.001.09-*.xml"))
    assert (made["item_count"], made["total_cents"]) == (1, 700)
    assert b"<EndToEndId>RF-CLI-1</EndToEndId>" in written.read_bytes()
    # Paying out receivables pays a member's credit back: refused for a member who has none.
    credit = json.loads(instructions.read_text())
    credit[0].update(reference="RF-CLI-2", liability="receivables")
    instructions.write_text(json.dumps(credit))
    refused = opentelecom(demo_env, "payments", "payout", str(instructions))
    assert refused.returncode != 0
    assert "credit" in refused.stderr


def test_collecting_from_a_member_without_mandate_fails_with_the_reason(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    members = json.loads(opentelecom(demo_env, "member", "list", "--json").stdout)
    # Ben is the demo's one member with a mandate.
    without = next(m for m in members if m["email"] != "ben@example.org")
    items = tmp_path / "items.json"
    items.write_text(
        json.dumps(
            [
                {
                    "member_id": without["id"],
                    "amount_cents": 990,
                    "end_to_end_id": "2026-000001",
                    "remittance": "Rechnung 2026-000001",
                }
            ]
        )
    )

    done = opentelecom(demo_env, "payments", "collect", "--date", "2026-11-16", "--items", str(items))

    assert done.returncode == 1
    assert "has no mandate" in done.stderr


def test_collecting_needs_a_date_or_a_bill_run_and_a_run_without_invoices_makes_no_file(
    demo_env: dict[str, str],
) -> None:
    neither = opentelecom(demo_env, "payments", "collect", "--json")
    empty_run = opentelecom(demo_env, "payments", "collect", "--run", "999999", "--json")

    assert neither.returncode != 0 and "--date or --run" in neither.stderr
    assert empty_run.returncode == 0, empty_run.stderr
    assert json.loads(empty_run.stdout) == []


def collect_from_ben(demo_env: dict[str, str], tmp_path: Path, end_to_end_id: str) -> tuple[Path, Path]:
    """15 EUR collected from Ben (the demo's member with a mandate) on 16 November 2026 from the command line: the
    items file given and the pain.008 file written."""
    members = json.loads(opentelecom(demo_env, "member", "list", "--json").stdout)
    ben = next(m for m in members if m["email"] == "ben@example.org")
    items = tmp_path / "items.json"
    collection = {"member_id": ben["id"], "amount_cents": 1500, "end_to_end_id": end_to_end_id, "remittance": "Test"}
    items.write_text(json.dumps([collection]))
    made = opentelecom(
        demo_env, "payments", "collect", "--date", "2026-11-16", "--items", str(items), "--output", str(tmp_path)
    )
    assert made.returncode == 0, made.stderr
    [written] = list(tmp_path.glob("pain.008.001.08-*.xml"))
    return items, written


def test_a_status_report_rejecting_a_debit_is_imported_once_from_the_command_line(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    items, written = collect_from_ben(demo_env, tmp_path, "CLI-900001")
    report = tmp_path / "pain002.xml"
    report.write_bytes(pain002(TxStatus("CLI-900001", "RJCT", "AM04"), of=written.read_bytes()))

    first = opentelecom(demo_env, "payments", "import-pain002", str(report), "--json")
    second = opentelecom(demo_env, "payments", "import-pain002", str(report), "--json")
    unreadable = opentelecom(demo_env, "payments", "import-pain002", str(tmp_path / "missing.xml"))
    # Rejected, the debit is no longer being collected: the same end-to-end id can be collected again.
    again = opentelecom(demo_env, "payments", "collect", "--date", "2026-11-23", "--items", str(items), "--json")

    assert first.returncode == 0, first.stderr
    assert (json.loads(first.stdout)["known"], json.loads(first.stdout)["rejected"]) == (False, 1)
    assert json.loads(first.stdout)["rejections"][0]["reason_code"] == "AM04"
    assert (json.loads(second.stdout)["known"], json.loads(second.stdout)["rejected"]) == (True, 0)
    assert unreadable.returncode != 0 and "missing.xml" in unreadable.stderr
    assert again.returncode == 0, again.stderr
    assert [f["item_count"] for f in json.loads(again.stdout)] == [1]


def test_a_members_credit_is_read_and_set_off_from_the_command_line(demo_env: dict[str, str]) -> None:
    members = json.loads(opentelecom(demo_env, "member", "list", "--json").stdout)
    member_id = members[0]["id"]

    shown = opentelecom(demo_env, "payments", "credit", "--member", str(member_id), "--json")
    applied = opentelecom(demo_env, "payments", "credit", "--member", str(member_id), "--apply", "--json")
    missing = opentelecom(demo_env, "payments", "credit", "--member", "999999", "--apply")

    assert shown.returncode == 0, shown.stderr
    body = json.loads(shown.stdout)
    assert body["member_id"] == member_id
    assert body["credit_cents"] == sum(s["amount_cents"] for s in body["sources"]) >= 0
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["credit_cents"] == 0 or json.loads(applied.stdout)["applications"]
    assert missing.returncode != 0


def test_a_notification_and_then_the_statement_of_one_batch_book_it_once_from_the_command_line(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    _, written = collect_from_ben(demo_env, tmp_path, "CLI-900002")
    [batch_id] = batches_of(written.read_bytes())
    batch = Batch((Booking("15.00", end_to_end_id="CLI-900002"),), batch_id=batch_id, bank_reference="CLI-SAMMLER")
    (tmp_path / "054.xml").write_bytes(camt054(batch, version="001.08"))
    summary = Batch(batch.bookings, details=False, batch_id=batch_id)
    (tmp_path / "053.xml").write_bytes(camt053(batches=[summary], statement_id="2026-11-16-00001"))

    before = json.loads(opentelecom(demo_env, "ledger", "trial-balance", "--json").stdout)
    unmatched_before = {a["code"]: a["balance_cents"] for a in before["accounts"]}["1360"]

    notified = opentelecom(demo_env, "payments", "import-camt", str(tmp_path / "054.xml"), "--json")
    stated = opentelecom(demo_env, "payments", "import-camt", str(tmp_path / "053.xml"), "--json")
    trial = json.loads(opentelecom(demo_env, "ledger", "trial-balance", "--json").stdout)

    assert notified.returncode == 0, notified.stderr
    assert (json.loads(notified.stdout)["statements"], json.loads(notified.stdout)["transactions"]) == (1, 1)
    assert stated.returncode == 0, stated.stderr
    assert (json.loads(stated.stdout)["covered"], json.loads(stated.stdout)["queued"]) == (1, 0)
    # Nothing named an invoice: the money waits on unmatched payments, once (the module's demo coop is shared).
    assert {a["code"]: a["balance_cents"] for a in trial["accounts"]}["1360"] - unmatched_before == -1500
    assert trial["balance_cents"] == 0
