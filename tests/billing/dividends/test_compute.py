"""The dividend arithmetic by hand: pro rata temporis by days and by whole months, the gross rounded half up
once, the tax withheld beyond an exemption order with fractions of a cent dropped, and the use of the net."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import count

from app.members.models import CapitalMovementKind, LeavingReason, MemberStatus
from app.members.schemas import CapitalHistory, CapitalMovementOut
from billing.dividends import compute
from billing.dividends.models import DividendBasis, DividendChoice

START, END = date(2025, 1, 1), date(2025, 12, 31)
RATE = Decimal("4")
TAX, SOLI = Decimal("25"), Decimal("5.5")
_ids = count(1)


def history(
    *,
    opening_cents: int = 0,
    movements: tuple[tuple[date, int], ...] = (),
    admitted_on: date = date(2020, 1, 1),
    leaving_on: date | None = None,
    start: date = START,
    end: date = END,
) -> CapitalHistory:
    """A member's capital over the year: ``movements`` are (effective day, cents) within it."""
    return CapitalHistory(
        member_id=next(_ids),
        number=1,
        name="Erika Muster",
        status=MemberStatus.MEMBER,
        admitted_on=admitted_on,
        leaving_on=leaving_on,
        leaving_reason=LeavingReason.TRANSFER if leaving_on else None,
        start=start,
        end=end,
        opening_cents=opening_cents,
        movements=[
            CapitalMovementOut(
                id=next(_ids), amount_cents=cents, effective_on=day, kind=CapitalMovementKind.PAYMENT, reference=None
            )
            for day, cents in movements
        ],
    )


def gross(h: CapitalHistory, basis: DividendBasis = DividendBasis.DAYS) -> int:
    return compute.gross_dividend(compute.capital_base(h, basis), RATE, compute.units_in_year(h.start, h.end, basis))


def test_a_member_who_joined_mid_year_earns_for_the_days_from_admission() -> None:
    # 300.00 EUR paid on admission, 1 July: 184 days of 365. 300 × 4 % × 184 / 365 = 6.0493 EUR -> 6.05.
    joined = history(admitted_on=date(2025, 7, 1), movements=((date(2025, 7, 1), 30_000),))

    assert compute.capital_base(joined, DividendBasis.DAYS) == 30_000 * 184
    assert gross(joined) == 605


def test_capital_paid_before_admission_earns_only_from_admission() -> None:
    # Paid 1 June as an applicant, admitted 1 July: still 184 days.
    early = history(admitted_on=date(2025, 7, 1), movements=((date(2025, 6, 1), 30_000),))

    assert compute.capital_base(early, DividendBasis.DAYS) == 30_000 * 184


def test_a_member_who_held_the_whole_year_earns_the_full_rate() -> None:
    # 1,000.00 EUR all year at 4 %: exactly 40.00 EUR.
    assert gross(history(opening_cents=100_000)) == 4_000


def test_a_member_who_left_during_the_year_earns_until_the_leaving_day() -> None:
    # 200.00 EUR from before the year; all shares passed on effective 1 April, so membership ended 31 March:
    # 90 days. 200 × 4 % × 90 / 365 = 1.9726 EUR -> 1.97.
    left = history(opening_cents=20_000, movements=((date(2025, 4, 1), -20_000),), leaving_on=date(2025, 3, 31))

    assert compute.capital_base(left, DividendBasis.DAYS) == 20_000 * 90
    assert gross(left) == 197


def test_a_member_who_left_before_the_year_earns_nothing() -> None:
    gone = history(opening_cents=20_000, leaving_on=date(2024, 12, 31))

    assert compute.capital_base(gone, DividendBasis.DAYS) == 0


def test_capital_received_by_transfer_earns_from_the_transfer_day() -> None:
    # 100.00 EUR all year plus 200.00 EUR received on 1 April (275 days):
    # 4.00 + 200 × 4 % × 275 / 365 = 4.00 + 6.0274 = 10.0274 EUR -> 10.03.
    receiver = history(opening_cents=10_000, movements=((date(2025, 4, 1), 20_000),))

    assert compute.capital_base(receiver, DividendBasis.DAYS) == 10_000 * 365 + 20_000 * 275
    assert gross(receiver) == 1_003


def test_several_movements_on_one_day_count_together() -> None:
    same_day = history(movements=((date(2025, 12, 31), 10_000), (date(2025, 12, 31), 5_000)))

    assert compute.capital_base(same_day, DividendBasis.DAYS) == 15_000


def test_a_leap_year_spreads_the_rate_over_366_days() -> None:
    # 2024: 1,000.00 EUR from 1 July (184 days of 366): 1000 × 4 % × 184 / 366 = 20.1093 EUR -> 20.11.
    leap = history(
        start=date(2024, 1, 1),
        end=date(2024, 12, 31),
        admitted_on=date(2024, 7, 1),
        movements=((date(2024, 7, 1), 100_000),),
    )

    assert gross(leap) == 2_011


def test_whole_months_count_capital_from_the_first_month_it_was_held_throughout() -> None:
    # Admitted 15 March with 300.00 EUR: April to December, 9 months -> 300 × 4 % × 9 / 12 = 9.00 EUR;
    # 100.00 EUR more on 10 June count from July, 6 months -> 100 × 4 % × 6 / 12 = 2.00 EUR.
    member = history(
        admitted_on=date(2025, 3, 15),
        movements=((date(2025, 3, 15), 30_000), (date(2025, 6, 10), 10_000)),
    )

    assert compute.capital_base(member, DividendBasis.MONTHS) == 30_000 * 9 + 10_000 * 6
    assert gross(member, DividendBasis.MONTHS) == 1_100


def test_whole_months_do_not_count_the_month_capital_left_in() -> None:
    # 200.00 EUR; 100.00 EUR passed on effective 20 May: January-April with 200, May-December with 100.
    member = history(opening_cents=20_000, movements=((date(2025, 5, 20), -10_000),))

    assert compute.capital_base(member, DividendBasis.MONTHS) == 20_000 * 4 + 10_000 * 8


def test_the_gross_is_rounded_half_up_once() -> None:
    # 0.5 cent exactly rounds up; 0.4999 down.
    assert compute.gross_dividend(365 * 25, Decimal("5"), 365) == 1  # 1.25 cents -> 1
    assert compute.gross_dividend(365 * 50, Decimal("3"), 365) == 2  # 1.5 cents -> 2


def test_without_an_exemption_order_a_quarter_and_the_surcharge_are_withheld() -> None:
    # 6.05 EUR: tax 25 % = 1.5125 -> 1.51; surcharge 5.5 % of 1.51 = 0.08305 -> 0.08; net 4.46.
    w = compute.withhold(605, remaining_allowance_cents=0, tax_percent=TAX, surcharge_percent=SOLI)

    assert (w.exemption_used_cents, w.capital_gains_tax_cents, w.solidarity_surcharge_cents) == (0, 151, 8)
    assert w.net_cents == 446


def test_a_partly_used_exemption_order_shields_only_what_is_left_of_it() -> None:
    # 40.00 EUR gross, 36.00 EUR of the allowance left: 4.00 EUR taxed, tax 1.00 EUR, surcharge 5.5 % of it
    # = 0.055 EUR -> 0.05 (dropped, not rounded up to 0.06); net 38.95.
    w = compute.withhold(4_000, remaining_allowance_cents=3_600, tax_percent=TAX, surcharge_percent=SOLI)

    assert w.exemption_used_cents == 3_600
    assert w.tax_base_cents == 400
    assert (w.capital_gains_tax_cents, w.solidarity_surcharge_cents, w.net_cents) == (100, 5, 3_895)


def test_an_exemption_order_larger_than_the_dividend_leaves_it_untaxed() -> None:
    w = compute.withhold(4_000, remaining_allowance_cents=80_000, tax_percent=TAX, surcharge_percent=SOLI)

    assert (w.exemption_used_cents, w.capital_gains_tax_cents, w.net_cents) == (4_000, 0, 4_000)


def test_a_credit_to_capital_stops_at_the_unpaid_nominal_and_the_rest_is_paid_out() -> None:
    use = compute.use_net(3_895, DividendChoice.CAPITAL, capital_room_cents=1_000, still_member=True)

    assert (use.to_capital_cents, use.payout_cents, use.set_off_cents) == (1_000, 2_895, 0)


def test_fully_paid_shares_or_a_former_member_get_a_capital_choice_paid_out() -> None:
    full = compute.use_net(500, DividendChoice.CAPITAL, capital_room_cents=0, still_member=True)
    former = compute.use_net(500, DividendChoice.CAPITAL, capital_room_cents=10_000, still_member=False)

    assert (full.to_capital_cents, full.payout_cents) == (0, 500)
    assert (former.to_capital_cents, former.payout_cents) == (0, 500)


def test_a_set_off_choice_keeps_the_whole_net_for_the_next_invoice() -> None:
    use = compute.use_net(500, DividendChoice.SET_OFF, capital_room_cents=10_000, still_member=True)

    assert (use.to_capital_cents, use.payout_cents, use.set_off_cents) == (0, 0, 500)
