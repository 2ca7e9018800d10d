"""Reading camt.053 statements and camt.054 notifications: booked entries only, batches split into their
collections, a batch entry without details as one line with what the bank says of the batch, returns with their
reason code, the counterparty as the other side of the coop's account."""

from __future__ import annotations

from datetime import date

import pytest

from app.kit.errors import Invalid
from billing.payments import camt
from tests.billing.payments.builders import MEMBER_IBAN, Batch, Booking, camt053, camt054

COLLECTIONS = (
    Booking("49.90", end_to_end_id="2026-000123", remittance="Rechnung 2026-000123", mandate_id="OT-00000001-01"),
    Booking("19.99", end_to_end_id="2026-000124", remittance="Rechnung 2026-000124", mandate_id="OT-00000002-01"),
)


def test_a_transfer_in_is_read_with_its_counterparty_and_remittance() -> None:
    [statement] = camt.parse(camt053(Booking("49.90", remittance="Rechnung 2026-000123", bank_reference="B1")))

    [line] = statement.lines
    assert statement.account_iban == "DE91100000000123456789"
    assert statement.statement_id == "2026-11-03-00001"
    assert (line.amount_cents, line.credit, line.booking_date) == (4990, True, date(2026, 11, 3))
    assert (line.counterparty_name, line.counterparty_iban) == ("Erika Mustermann", MEMBER_IBAN)
    assert line.remittance == "Rechnung 2026-000123"
    assert line.end_to_end_id is None  # NOTPROVIDED
    assert line.bank_reference == "B1"


def test_a_returned_debit_carries_its_reason_and_end_to_end_id() -> None:
    data = camt053(Booking("49.90", credit=False, end_to_end_id="2026-000123", return_reason="AM04", gvc="109"))

    [line] = camt.parse(data)[0].lines

    assert (line.credit, line.return_reason, line.end_to_end_id) == (False, "AM04", "2026-000123")
    assert line.counterparty_iban == MEMBER_IBAN


def test_a_batch_booking_becomes_one_line_per_collection_and_pending_entries_are_skipped() -> None:
    data = camt053(
        Booking("5.00", status="PDNG", remittance="vorgemerkt"),
        batches=[[Booking("49.90", end_to_end_id="2026-000123"), Booking("19.99", end_to_end_id="2026-000124")]],
    )

    lines = camt.parse(data)[0].lines

    assert [(line.amount_cents, line.end_to_end_id) for line in lines] == [(4990, "2026-000123"), (1999, "2026-000124")]
    assert lines[0].remittance == "SAMMEL-LS-GUTSCHRIFT"


def test_a_camt_053_001_08_statement_is_read_too() -> None:
    data = camt053(Booking("12.34", remittance="2026-000123")).replace(b"camt.053.001.02", b"camt.053.001.08")
    data = data.replace(b"<Dbtr><Nm>Erika Mustermann</Nm></Dbtr>", b"<Dbtr><Pty><Nm>Erika Mustermann</Nm></Pty></Dbtr>")
    data = data.replace(b"<Sts>BOOK</Sts>", b"<Sts><Cd>BOOK</Cd></Sts>")

    [line] = camt.parse(data)[0].lines

    assert (line.amount_cents, line.counterparty_name) == (1234, "Erika Mustermann")


def test_a_batch_entry_without_details_is_one_line_with_what_the_bank_says_of_the_batch() -> None:
    batch = Batch(COLLECTIONS, details=False, message_id="MSG-1", batch_id="openTelecomeG-0123456789ab")
    data = camt053(batches=[batch])

    [line] = camt.parse(data)[0].lines

    assert (line.amount_cents, line.credit, line.end_to_end_id) == (6989, True, None)
    assert line.entry.batch == camt.Batch(
        message_id="MSG-1", batch_id="openTelecomeG-0123456789ab", count=2, total_cents=6989
    )
    assert (line.entry.details, line.entry.amount_cents, line.entry.collection) == (0, 6989, True)


@pytest.mark.parametrize(
    ("batch", "collection"),
    [
        (Batch(COLLECTIONS, details=False, iso_code=False), True),  # the GVC 192 alone
        (Batch(COLLECTIONS, details=False, iso_code=False, gvc="166"), False),
        (Batch(COLLECTIONS, details=False, credit=False), False),  # a credit transfer file booked as one
    ],
)
def test_the_bank_transaction_code_says_whether_an_entry_credits_our_collections(
    batch: Batch, collection: bool
) -> None:
    [line] = camt.parse(camt053(batches=[batch]))[0].lines

    assert line.entry.collection is collection


@pytest.mark.parametrize("version", ["001.02", "001.08"])
def test_a_camt_054_notification_is_read_with_its_batch_and_transactions(version: str) -> None:
    data = camt054(
        Batch(COLLECTIONS, message_id="MSG-1", batch_id="openTelecomeG-0123456789ab", bank_reference="SAMMLER-7"),
        notification_id="054-0815",
        version=version,
    )

    [notification] = camt.parse(data)

    assert notification.notification is True
    assert (notification.account_iban, notification.statement_id) == ("DE91100000000123456789", "054-0815")
    assert [(line.amount_cents, line.end_to_end_id, line.counterparty_name) for line in notification.lines] == [
        (4990, "2026-000123", "Erika Mustermann"),
        (1999, "2026-000124", "Erika Mustermann"),
    ]
    entry = notification.lines[0].entry
    assert notification.lines[1].entry is entry
    assert (entry.reference, entry.amount_cents, entry.details) == ("SAMMLER-7", 6989, 2)
    assert entry.batch is not None
    assert (entry.batch.batch_id, entry.batch.count) == ("openTelecomeG-0123456789ab", 2)
    assert notification.lines[0].bank_reference == "SAMMLER-7"


def test_a_statement_is_no_notification() -> None:
    [statement] = camt.parse(camt053(Booking("1.00")))

    assert statement.notification is False


@pytest.mark.parametrize(
    "data",
    [
        b"not xml",
        b"<Document><Other/></Document>",
        camt053(Booking("-1.00")),
        camt053(Booking("1.001")),
        camt053(batches=[Batch(COLLECTIONS, details=False, count=-2)]),
        camt054(Batch(COLLECTIONS, amount="0.00")),
    ],
)
def test_what_is_not_a_statement_is_refused(data: bytes) -> None:
    with pytest.raises(Invalid) as refused:
        camt.parse(data)

    assert refused.value.code == "camt_invalid"
