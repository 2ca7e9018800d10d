"""The dates of a contract's terms (TKG §56, TKTransparenzV §5), computed without a database.

Periods follow §§187-188 BGB: a term that starts on a day counts that day, and ends with the day before the
same-numbered day of the last month, or with that month's last day where the number does not exist.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.contracts.models import Contract, ContractStatus
from app.contracts.service import earliest_end, min_term_end, terms
from app.settings import Settings


def contract_from(
    *,
    start_on: date | None,
    min_term_months: int = 24,
    notice_months: int = 1,
    status: ContractStatus = ContractStatus.ACTIVE,
    ends_on: date | None = None,
) -> Contract:
    """A contract object that is never saved: terms() only reads its dates."""
    return Contract(
        number="C-test",
        member_id=1,
        premises_id=1,
        plan_id=1,
        status=status,
        ordered_on=start_on or date(2025, 1, 1),
        start_on=start_on,
        min_term_months=min_term_months,
        notice_months=notice_months,
        ends_on=ends_on,
    )


def end_if_cancelled(
    start_on: date,
    received_on: date,
    *,
    min_term_months: int = 24,
    notice_months: int = 1,
    notice_after_min_term_months: int = 1,
) -> date:
    return earliest_end(
        start_on=start_on,
        min_term_months=min_term_months,
        notice_months=notice_months,
        received_on=received_on,
        notice_after_min_term_months=notice_after_min_term_months,
    )


# --- min_term_end ---------------------------------------------------------------------------------


def test_24_month_term_from_15_march_ends_on_14_march_two_years_on() -> None:
    assert min_term_end(date(2025, 3, 15), 24) == date(2027, 3, 14)


def test_12_month_term_from_1_january_ends_on_31_december() -> None:
    assert min_term_end(date(2025, 1, 1), 12) == date(2025, 12, 31)


@pytest.mark.parametrize(
    ("start_on", "months", "expected"),
    [
        # The same-numbered day does not exist in the last month: the term ends with that month (§188 (3) BGB).
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 1, 30), 1, date(2025, 2, 28)),
        (date(2025, 1, 29), 1, date(2025, 2, 28)),
        (date(2025, 3, 31), 1, date(2025, 4, 30)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        # The same-numbered day exists: the term ends the day before it.
        (date(2025, 1, 28), 1, date(2025, 2, 27)),
        (date(2024, 1, 29), 1, date(2024, 2, 28)),
        (date(2025, 1, 31), 24, date(2027, 1, 30)),
        (date(2025, 2, 1), 1, date(2025, 2, 28)),
        (date(2025, 3, 1), 24, date(2027, 2, 28)),
        (date(2025, 12, 31), 2, date(2026, 2, 28)),
    ],
)
def test_minimum_term_ends_by_calendar_months_at_month_ends(start_on: date, months: int, expected: date) -> None:
    assert min_term_end(start_on, months) == expected


def test_minimum_term_of_zero_months_ends_on_the_start_day() -> None:
    assert min_term_end(date(2025, 5, 20), 0) == date(2025, 5, 20)


# --- earliest_end ---------------------------------------------------------------------------------


def test_cancellation_on_last_day_to_cancel_ends_contract_at_minimum_term_end() -> None:
    # 24 months from 15 Mar 2025 end on 14 Mar 2027; one month's notice must arrive by 14 Feb 2027.
    assert end_if_cancelled(date(2025, 3, 15), date(2027, 2, 14)) == date(2027, 3, 14)


def test_cancellation_early_in_the_term_still_ends_contract_at_minimum_term_end() -> None:
    assert end_if_cancelled(date(2025, 3, 15), date(2025, 4, 1)) == date(2027, 3, 14)


def test_cancellation_a_day_after_last_day_to_cancel_ends_one_month_after_receipt() -> None:
    # Too late for the term end; afterwards one month's notice applies at any time (§56 (3) TKG).
    assert end_if_cancelled(date(2025, 3, 15), date(2027, 2, 15)) == date(2027, 3, 15)


def test_cancellation_after_minimum_term_ends_one_month_after_receipt() -> None:
    assert end_if_cancelled(date(2025, 3, 15), date(2027, 8, 10)) == date(2027, 9, 10)


def test_one_month_notice_received_on_31_january_ends_on_last_day_of_february() -> None:
    assert end_if_cancelled(date(2020, 1, 1), date(2026, 1, 31), min_term_months=12) == date(2026, 2, 28)


def test_statutory_notice_after_minimum_term_comes_from_the_argument() -> None:
    end = earliest_end(
        start_on=date(2025, 3, 15),
        min_term_months=24,
        notice_months=1,
        received_on=date(2027, 8, 10),
        notice_after_min_term_months=0,
    )

    assert end == date(2027, 8, 10)


def test_contract_without_minimum_term_can_be_cancelled_with_one_month_notice() -> None:
    assert end_if_cancelled(date(2025, 3, 15), date(2025, 3, 20), min_term_months=0) == date(2025, 4, 20)


def test_cancellation_received_before_start_ends_at_minimum_term_end() -> None:
    assert end_if_cancelled(date(2025, 3, 15), date(2025, 3, 1)) == date(2027, 3, 14)


# --- terms ----------------------------------------------------------------------------------------


def test_terms_state_start_minimum_term_end_and_last_day_to_cancel(settings: Settings) -> None:
    contract = contract_from(start_on=date(2025, 3, 15), min_term_months=24, notice_months=1)

    result = terms(contract, settings=settings, today=date(2025, 6, 1))

    assert result.start_on == date(2025, 3, 15)
    assert result.min_term_months == 24
    assert result.min_term_end_on == date(2027, 3, 14)
    assert result.notice_months == 1
    assert result.last_day_to_cancel_for_min_term_end == date(2027, 2, 14)
    assert result.earliest_end_if_cancelled_today == date(2027, 3, 14)
    assert result.ends_on is None


def test_terms_after_last_day_to_cancel_give_end_one_month_after_today(settings: Settings) -> None:
    contract = contract_from(start_on=date(2025, 3, 15), min_term_months=24, notice_months=1)

    result = terms(contract, settings=settings, today=date(2027, 2, 20))

    assert result.earliest_end_if_cancelled_today == date(2027, 3, 20)


def test_terms_use_the_statutory_notice_after_minimum_term_from_settings(settings: Settings) -> None:
    statute = settings.model_copy(update={"contract_notice_after_min_term_months": 0})
    contract = contract_from(start_on=date(2025, 3, 15), min_term_months=24, notice_months=1)

    result = terms(contract, settings=statute, today=date(2027, 8, 10))

    assert result.earliest_end_if_cancelled_today == date(2027, 8, 10)


def test_terms_with_three_months_notice_give_last_day_three_months_before_term_end(settings: Settings) -> None:
    contract = contract_from(start_on=date(2025, 1, 1), min_term_months=12, notice_months=3)

    result = terms(contract, settings=settings, today=date(2025, 1, 1))

    assert result.min_term_end_on == date(2025, 12, 31)
    assert result.last_day_to_cancel_for_min_term_end == date(2025, 9, 30)


@pytest.mark.parametrize(
    ("start_on", "min_term_months", "notice_months"),
    [
        (date(2025, 3, 15), 24, 1),
        (date(2025, 3, 1), 24, 1),  # term ends on 28 Feb
        (date(2025, 5, 1), 12, 1),  # term ends on 30 Apr
        (date(2025, 1, 31), 1, 1),  # term ends on 28 Feb
        (date(2025, 1, 1), 12, 3),  # term ends on 31 Dec
        (date(2025, 6, 1), 12, 3),  # term ends on 31 May
        (date(2024, 3, 1), 12, 1),  # term ends on 28 Feb 2025
        (date(2025, 3, 31), 12, 1),  # term ends on 30 Mar, not a month end
    ],
)
def test_last_day_to_cancel_is_the_last_day_a_cancellation_still_ends_the_minimum_term(
    settings: Settings, start_on: date, min_term_months: int, notice_months: int
) -> None:
    """What the invoice states as the last day must be what cancel() then applies.

    The statutory notice after the term equals the plan's here, so that a late notice cannot fall back on it.
    """
    statute = settings.model_copy(update={"contract_notice_after_min_term_months": notice_months})
    contract = contract_from(start_on=start_on, min_term_months=min_term_months, notice_months=notice_months)
    stated = terms(contract, settings=statute, today=start_on)
    assert stated.last_day_to_cancel_for_min_term_end is not None
    assert stated.min_term_end_on is not None
    last_day = stated.last_day_to_cancel_for_min_term_end
    periods = {
        "min_term_months": min_term_months,
        "notice_months": notice_months,
        "notice_after_min_term_months": notice_months,
    }

    in_time = end_if_cancelled(start_on, last_day, **periods)
    too_late = end_if_cancelled(start_on, last_day + timedelta(days=1), **periods)

    assert in_time == stated.min_term_end_on
    assert too_late > stated.min_term_end_on


def test_last_day_to_cancel_for_term_ending_28_february_is_31_january(settings: Settings) -> None:
    contract = contract_from(start_on=date(2025, 3, 1), min_term_months=24, notice_months=1)

    result = terms(contract, settings=settings, today=date(2025, 3, 1))

    assert result.min_term_end_on == date(2027, 2, 28)
    assert result.last_day_to_cancel_for_min_term_end == date(2027, 1, 31)


def test_terms_of_an_order_not_yet_started_have_no_dates(settings: Settings) -> None:
    contract = contract_from(start_on=None, status=ContractStatus.ORDERED)

    result = terms(contract, settings=settings, today=date(2025, 6, 1))

    assert result.start_on is None
    assert result.min_term_end_on is None
    assert result.last_day_to_cancel_for_min_term_end is None
    assert result.earliest_end_if_cancelled_today is None
    assert result.min_term_months == 24


def test_terms_of_a_terminated_contract_offer_no_cancellation(settings: Settings) -> None:
    contract = contract_from(start_on=date(2025, 3, 15), status=ContractStatus.TERMINATED, ends_on=date(2026, 1, 31))

    result = terms(contract, settings=settings, today=date(2026, 6, 1))

    assert result.earliest_end_if_cancelled_today is None
    assert result.ends_on == date(2026, 1, 31)
    assert result.min_term_end_on == date(2027, 3, 14)


def test_terms_of_a_suspended_contract_still_offer_cancellation(settings: Settings) -> None:
    contract = contract_from(start_on=date(2025, 3, 15), status=ContractStatus.SUSPENDED)

    result = terms(contract, settings=settings, today=date(2025, 6, 1))

    assert result.earliest_end_if_cancelled_today == date(2027, 3, 14)


def test_contract_without_minimum_term_has_no_last_day_to_cancel(settings: Settings) -> None:
    contract = contract_from(start_on=date(2025, 3, 15), min_term_months=0)

    result = terms(contract, settings=settings, today=date(2025, 3, 20))

    assert result.min_term_end_on == date(2025, 3, 15)
    assert result.last_day_to_cancel_for_min_term_end is None
    assert result.earliest_end_if_cancelled_today == date(2025, 4, 20)
