"""The arithmetic of a dividend, pure (no database): capital held pro rata temporis, the gross dividend, the tax
withheld beyond an exemption order, and where the net goes.

Rounding, each step once and in app.kit.money:

* gross: capital base × rate / 100 / units of the year (days in the business year, or 12 months), rounded half
  up to the cent once per member (commercial rounding; the rate applies to the member's whole year);
* capital gains tax: the stated percent of (gross − remaining exemption allowance, not below 0), fractions of a
  cent dropped; solidarity surcharge: its percent of that tax, fractions of a cent dropped (§4 SolZG: "Bruchteile
  eines Cents bleiben außer Ansatz"; the tax itself the same way, in the member's favour, as banks withhold it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from app.kit.money import whole_cents
from app.kit.time import add_months, last_day_of_month
from app.members.schemas import CapitalHistory
from billing.dividends.models import DividendBasis, DividendChoice


def held_span(history: CapitalHistory) -> tuple[date, date] | None:
    """The days of the business year the member was a member (admission to leaving), or None."""
    first = max(history.start, history.admitted_on)
    last = min(history.end, history.leaving_on) if history.leaving_on else history.end
    return (first, last) if first <= last else None


def _capital_steps(history: CapitalHistory) -> list[tuple[date, int]]:
    """(day, capital held at the end of that day) at the start of the year and at each day capital changed."""
    steps = [(history.start, history.opening_cents)]
    capital = history.opening_cents
    for movement in history.movements:
        capital += movement.amount_cents
        if steps[-1][0] == movement.effective_on:
            steps[-1] = (movement.effective_on, capital)
        else:
            steps.append((movement.effective_on, capital))
    return steps


def capital_days(history: CapitalHistory, first: date, last: date) -> int:
    """Σ over the days from ``first`` to ``last`` of the capital held at the end of each day, in cent-days."""
    total = 0
    steps = _capital_steps(history)
    for n, (day, capital) in enumerate(steps):
        lo, hi = max(day, first), min(_until(steps, n), last)
        if lo <= hi:
            total += max(capital, 0) * ((hi - lo).days + 1)
    return total


def capital_months(history: CapitalHistory, first: date, last: date) -> int:
    """Σ over the months wholly inside ``first``..``last`` of the least capital held in that month, in
    cent-months: capital counts from the first whole month it was held, and not for a month it left in."""
    steps = _capital_steps(history)
    total = 0
    month_start = history.start
    while month_start <= history.end:
        month_end = last_day_of_month(month_start.year, month_start.month)
        if first <= month_start and month_end <= last:
            held = [c for n, (day, c) in enumerate(steps) if day <= month_end and _until(steps, n) >= month_start]
            total += max(min(held), 0) if held else 0
        month_start = add_months(month_start.replace(day=1), 1)
    return total


def _until(steps: list[tuple[date, int]], n: int) -> date:
    return steps[n + 1][0] - timedelta(days=1) if n + 1 < len(steps) else date.max


def capital_base(history: CapitalHistory, basis: DividendBasis) -> int:
    """The member's capital base for the year: cent-days or cent-months of paid-in capital while a member."""
    span = held_span(history)
    if span is None:
        return 0
    if basis is DividendBasis.DAYS:
        return capital_days(history, *span)
    return capital_months(history, *span)


def units_in_year(start: date, end: date, basis: DividendBasis) -> int:
    """What the rate is spread over: the days of the business year (365 or 366), or its 12 months."""
    return (end - start).days + 1 if basis is DividendBasis.DAYS else 12


def gross_dividend(base: int, rate_percent: Decimal, units: int) -> int:
    """base × rate / 100 / units, rounded half up to the cent once."""
    return whole_cents(Decimal(base) * rate_percent / 100 / units)


@dataclass(frozen=True, slots=True)
class Withholding:
    """The tax on one dividend: the exemption used, the tax base, capital gains tax, solidarity surcharge, net."""

    exemption_used_cents: int
    tax_base_cents: int
    capital_gains_tax_cents: int
    solidarity_surcharge_cents: int
    net_cents: int


def withhold(
    gross_cents: int, *, remaining_allowance_cents: int, tax_percent: Decimal, surcharge_percent: Decimal
) -> Withholding:
    """Capital gains tax on the gross beyond the remaining exemption allowance, and the solidarity surcharge on
    that tax, each with fractions of a cent dropped."""
    used = min(gross_cents, max(remaining_allowance_cents, 0))
    base = gross_cents - used
    tax = whole_cents(Decimal(base) * tax_percent / 100, down=True)
    surcharge = whole_cents(Decimal(tax) * surcharge_percent / 100, down=True)
    return Withholding(
        exemption_used_cents=used,
        tax_base_cents=base,
        capital_gains_tax_cents=tax,
        solidarity_surcharge_cents=surcharge,
        net_cents=gross_cents - tax - surcharge,
    )


@dataclass(frozen=True, slots=True)
class Use:
    """How a net dividend is used: credited to capital, paid out, set off on the next invoice."""

    to_capital_cents: int
    payout_cents: int
    set_off_cents: int


def use_net(net_cents: int, choice: DividendChoice, *, capital_room_cents: int, still_member: bool) -> Use:
    """Split the net by the member's choice. Capital is credited only up to the subscribed shares' unpaid
    nominal and only for someone still a member; whatever does not fit is paid out."""
    if choice is DividendChoice.SET_OFF:
        return Use(to_capital_cents=0, payout_cents=0, set_off_cents=net_cents)
    credit = min(net_cents, max(capital_room_cents, 0)) if choice is DividendChoice.CAPITAL and still_member else 0
    return Use(to_capital_cents=credit, payout_cents=net_cents - credit, set_off_cents=0)
