"""Reading camt.053 statements: booked entries only, batches split into their collections, returns with their
reason code, the counterparty as the other side of the coop's account."""

from __future__ import annotations

from datetime import date

import pytest

from app.kit.errors import Invalid
from billing.payments import camt
from tests.billing.payments.builders import MEMBER_IBAN, Booking, camt053


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


@pytest.mark.parametrize(
    "data",
    [b"not xml", b"<Document><Other/></Document>", camt053(Booking("-1.00")), camt053(Booking("1.001"))],
)
def test_what_is_not_a_statement_is_refused(data: bytes) -> None:
    with pytest.raises(Invalid) as refused:
        camt.parse(data)

    assert refused.value.code == "camt_invalid"
