"""Reading pain.002 status reports: the file they answer, the status of the file, its batches and transactions
with their reasons, in versions 001.03 and 001.10; which transactions a report rejects; garbage refused."""

from __future__ import annotations

from datetime import date

import pytest

from app.kit.errors import Invalid
from billing.payments import pain002, sepa
from billing.payments.models import SequenceType
from tests.billing.payments.builders import TxStatus, camt053
from tests.billing.payments.builders import pain002 as report_xml
from tests.billing.payments.test_sepa import CREDITOR, debit_line

# A file of two batches (FRST and RCUR) as sepa.build_direct_debits makes it.
FILE = sepa.build_direct_debits(
    [
        debit_line(end_to_end_id="2026-000001"),
        debit_line(end_to_end_id="2026-000002", sequence=SequenceType.RCUR),
        debit_line(end_to_end_id="2026-000003", sequence=SequenceType.RCUR),
    ],
    CREDITOR,
)
BATCHES = pain002.batches_of(FILE.content)
ALL = ["2026-000001", "2026-000002", "2026-000003"]


def rejected(data: bytes) -> list[tuple[str, str | None, str | None]]:
    found = pain002.rejections(pain002.parse(data), batches=BATCHES, end_to_end_ids=set(ALL))
    return [(r.end_to_end_id, r.reason.code, r.reason.info) for r in found]


@pytest.mark.parametrize("version", ["001.03", "001.10"])
def test_a_report_names_the_file_and_each_transactions_status_and_reason(version: str) -> None:
    data = report_xml(
        TxStatus("2026-000001", "RJCT", "MD01", "Kein Mandat"),
        TxStatus("2026-000002", "ACCP"),
        of=FILE.content,
        group_status="PART",
        version=version,
    )

    report = pain002.parse(data)

    assert (report.message_id, report.created_on) == ("STS-20261102-1", date(2026, 11, 2))
    assert (report.original_message_id, report.original_message_name) == (FILE.message_id, "pain.008.001.08")
    assert report.group_status == "PART"
    assert [(line.end_to_end_id, line.status, line.reason.code, line.reason.info) for line in report.lines] == [
        ("2026-000001", "RJCT", "MD01", "Kein Mandat"),
        ("2026-000002", "ACCP", None, None),
    ]
    assert rejected(data) == [("2026-000001", "MD01", "Kein Mandat")]


def test_our_file_s_batches_are_read_with_their_end_to_end_ids() -> None:
    assert sorted(BATCHES.values()) == [["2026-000001"], ["2026-000002", "2026-000003"]]


def test_a_rejected_file_rejects_every_transaction_with_the_file_s_reason_unless_one_has_its_own() -> None:
    data = report_xml(
        TxStatus("2026-000002", None, "AC04"),
        of=FILE.content,
        group_status="RJCT",
        group_reason="FF01",
    )

    assert rejected(data) == [
        ("2026-000001", "FF01", None),
        ("2026-000002", "AC04", None),
        ("2026-000003", "FF01", None),
    ]


def test_a_rejected_batch_rejects_its_transactions_only() -> None:
    [rcur] = [batch_id for batch_id, ids in BATCHES.items() if len(ids) == 2]
    data = report_xml(of=FILE.content, group_status="PART", batch_statuses={rcur: "RJCT"})

    assert rejected(data) == [("2026-000002", None, None), ("2026-000003", None, None)]


def test_accepted_statuses_reject_nothing() -> None:
    for status in ("ACCP", "ACTC", "ACSC", "PDNG"):
        data = report_xml(TxStatus("2026-000001", status), of=FILE.content, group_status=status)
        assert rejected(data) == []


def test_a_report_naming_a_transaction_or_batch_not_in_the_file_is_refused() -> None:
    for data in (
        report_xml(TxStatus("2026-999999", "RJCT"), of=FILE.content),
        report_xml(TxStatus("2026-000001", "ACCP"), of=FILE.content).replace(b">openTelecom", b">FREMD"),
    ):
        with pytest.raises(Invalid) as refused:
            rejected(data)
        assert refused.value.code == "pain002_unknown_transaction"


@pytest.mark.parametrize(
    "data",
    [
        b"not xml",
        b"<Document><CstmrPmtStsRpt/></Document>",  # no message id, date or original message id
        camt053(),  # a statement, not a status report
        report_xml(TxStatus("2026-000001", "OKAY"), of=FILE.content),  # no ISO status
        # A transaction status without the transaction it is for.
        report_xml(TxStatus("2026-000001"), of=FILE.content).replace(
            b"<OrgnlEndToEndId>2026-000001</OrgnlEndToEndId>", b""
        ),
    ],
)
def test_what_is_not_a_status_report_is_refused(data: bytes) -> None:
    with pytest.raises(Invalid) as refused:
        pain002.parse(data)

    assert refused.value.code == "pain002_invalid"
