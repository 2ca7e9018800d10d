"""Matching bank lines to open invoices (pure): exact, split, partial, returned, payouts, and the queue."""

from __future__ import annotations

from datetime import date

from billing.payments.matching import BankLine, Collected, Outcome, allocate, match, named_numbers
from billing.payments.open_items import Allocation, OpenItem

A = OpenItem(invoice_id=1, number="2026-000123", member_id=7, open_cents=4990)
B = OpenItem(invoice_id=2, number="2026-000124", member_id=7, open_cents=1000)
C = OpenItem(invoice_id=3, number="2026-000200", member_id=8, open_cents=2500)
DAY = date(2026, 11, 3)


def line(
    n: int,
    cents: int,
    *,
    text: str | None = None,
    e2e: str | None = None,
    credit: bool = True,
    reason: str | None = None,
    day: date = DAY,
) -> BankLine:
    return BankLine(
        id=n,
        credit=credit,
        amount_cents=cents,
        booking_date=day,
        remittance=text,
        end_to_end_id=e2e,
        return_reason=reason,
    )


def test_the_invoice_number_and_the_exact_amount_match() -> None:
    [result] = match([line(1, 4990, text="Rechnung Nr.2026-000123 Mustermann")], [A, B, C])

    assert result.outcome is Outcome.MATCHED
    assert result.member_id == 7
    assert result.allocations == (Allocation(1, "2026-000123", 7, 4990),)


def test_a_number_written_without_its_hyphen_or_in_the_end_to_end_id_still_matches() -> None:
    results = match([line(1, 4990, text="RE 2026000123"), line(2, 2500, e2e="2026-000200")], [A, C])

    assert [r.outcome for r in results] == [Outcome.MATCHED, Outcome.MATCHED]
    assert [r.member_id for r in results] == [7, 8]


def test_several_invoices_named_and_paid_in_full_are_split() -> None:
    [result] = match([line(1, 5990, text="2026-000124 und 2026-000123")], [A, B])

    assert result.outcome is Outcome.SPLIT
    assert result.allocations == (Allocation(2, "2026-000124", 7, 1000), Allocation(1, "2026-000123", 7, 4990))


def test_less_than_the_invoices_named_is_partial_in_the_order_named() -> None:
    [result] = match([line(1, 3000, text="2026-000124, 2026-000123")], [A, B])

    assert result.outcome is Outcome.PARTIAL
    assert result.allocations == (Allocation(2, "2026-000124", 7, 1000), Allocation(1, "2026-000123", 7, 2000))


def test_more_than_is_open_waits_for_an_operator_with_the_member_suggested() -> None:
    [result] = match([line(1, 6000, text="2026-000123")], [A])

    assert result.outcome is Outcome.QUEUE
    assert result.allocations == ()
    assert result.suggested_member_id == 7


def test_invoices_of_two_members_or_none_named_wait_for_an_operator() -> None:
    results = match([line(1, 7490, text="2026-000123 2026-000200"), line(2, 4990, text="Miete Oktober")], [A, C])

    assert [r.outcome for r in results] == [Outcome.QUEUE, Outcome.QUEUE]
    assert [r.reason for r in results] == ["invoices of several members named", "no open invoice named"]


def test_a_second_payment_of_a_paid_invoice_is_not_matched_again() -> None:
    results = match([line(1, 4990, text="2026-000123"), line(2, 4990, text="2026-000123", day=date(2026, 11, 4))], [A])

    assert [r.outcome for r in results] == [Outcome.MATCHED, Outcome.QUEUE]


def test_a_returned_debit_names_the_collection_it_returns() -> None:
    collected = Collected(item_id=5, member_id=7, invoice_id=1, invoice_number="2026-000123", amount_cents=4990)
    results = match(
        [
            line(1, 4990, credit=False, e2e="2026-000123", reason="AM04"),
            line(2, 4990, credit=False, e2e="2026-009999", reason="MD06"),
        ],
        [],
        collections={"2026-000123": collected},
    )

    assert results[0].outcome is Outcome.RETURNED
    assert results[0].collected == collected
    assert results[0].member_id == 7
    assert results[1].outcome is Outcome.QUEUE


def test_money_out_is_a_payout_only_if_we_sent_it() -> None:
    results = match(
        [line(1, 1200, credit=False, e2e="DV-2025-7"), line(2, 990, credit=False, e2e="X-1")], [], payouts={"DV-2025-7"}
    )

    assert [r.outcome for r in results] == [Outcome.PAYOUT, Outcome.QUEUE]


def test_allocation_fills_the_items_in_order_and_leaves_the_rest() -> None:
    assert allocate(1500, [B, A]) == [Allocation(2, "2026-000124", 7, 1000), Allocation(1, "2026-000123", 7, 500)]
    assert sum(a.amount_cents for a in allocate(99999, [A, B])) == 5990


def test_named_numbers_reads_tokens_with_separators_dropped() -> None:
    assert named_numbers("EREF: 2026-000123", "Rg. 2026/000124 Nr.7") == [
        "EREF",
        "2026000123",
        "RG",
        "2026000124",
        "NR",
        "7",
    ]


def test_a_line_the_import_holds_waits_with_its_reason_and_leaves_the_invoices_open() -> None:
    held = BankLine(id=1, credit=True, amount_cents=4990, booking_date=DAY, remittance="2026-000123", hold="why")

    results = match([held, line(2, 4990, text="2026-000123")], [A])

    assert [(r.outcome, r.reason) for r in results] == [(Outcome.QUEUE, "why"), (Outcome.MATCHED, "")]
