"""Rating: each answered call of one of our lines, priced for its contract's billing period.

The pure part prices one call: longest matching destination prefix of the rate table valid on the call's
day, billing increments (60/60 rounds up to whole minutes, 1/1 bills by the second), free calls between
our own lines and to emergency and service numbers, and the minutes a plan includes. ``rate_unrated``
reads the CDRs Asterisk wrote that have no rated call yet and stores one per CDR, so running it again adds
nothing; the billing period is the calendar month, in the coop's zone, in which the call was answered.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.service import service_summary_subquery
from app.kit.time import utcnow
from voip import e164, repository
from voip.lines import PhoneLine
from voip.models import CallDetailRecord
from voip.rates import CallClass, PlanCallAllowance, Rate, RatedCall
from voip.schemas import RateCreate

log = logging.getLogger("opentelecom.voip.rating")

EMERGENCY_NUMBERS = frozenset({"110", "112"})
ANSWERED = "ANSWERED"
PRICE_PLACES = Decimal("0.0001")
DEFAULT_BATCH = 1000


def quantise(cents: Decimal) -> Decimal:
    """A call's price in cents to four places, half up: the one place calls are rounded (the invoice
    rounds its sum to whole cents)."""
    return cents.quantize(PRICE_PLACES, rounding=ROUND_HALF_UP)


def billed_seconds(talk_seconds: int, *, first_increment_s: int, next_increment_s: int) -> int:
    """The seconds a call is billed for: nothing for 0 s, else at least the first increment, then whole
    next increments (60/60: 1 s -> 60, 60 s -> 60, 61 s -> 120; 1/1: as talked)."""
    if talk_seconds <= 0:
        return 0
    if talk_seconds <= first_increment_s:
        return first_increment_s
    rest = talk_seconds - first_increment_s
    return first_increment_s + -(-rest // next_increment_s) * next_increment_s


def price_cents(seconds: int, *, price_per_minute_cents: Decimal) -> Decimal:
    """What ``seconds`` cost at a per-minute price."""
    return quantise(Decimal(seconds) * price_per_minute_cents / 60)


def billing_period(at: datetime, zone: str) -> date:
    """The first day of the calendar month (in ``zone``) that ``at`` falls in."""
    local = at.astimezone(ZoneInfo(zone))
    return date(local.year, local.month, 1)


@dataclass(frozen=True)
class Tariff:
    """One row of the rate table, as the pure rating reads it."""

    id: int
    prefix: str
    price_per_minute_cents: Decimal
    first_increment_s: int
    next_increment_s: int
    uses_included_minutes: bool
    valid_from: date


class RateTable:
    """The rate table for lookups: per prefix, its tariffs from the newest ``valid_from`` back."""

    def __init__(self, tariffs: Iterable[Tariff]):
        self._by_prefix: dict[str, list[Tariff]] = {}
        for tariff in tariffs:
            self._by_prefix.setdefault(tariff.prefix, []).append(tariff)
        for versions in self._by_prefix.values():
            versions.sort(key=lambda t: t.valid_from, reverse=True)
        self._longest = max((len(p) for p in self._by_prefix), default=0)

    def match(self, digits: str, on: date) -> Tariff | None:
        """The tariff of the longest prefix of ``digits`` that has one valid on ``on``."""
        for length in range(min(len(digits), self._longest), 0, -1):
            for tariff in self._by_prefix.get(digits[:length], ()):
                if tariff.valid_from <= on:
                    return tariff
        return None


@dataclass(frozen=True)
class Destination:
    """Whom a call went to, in our terms: the class and the number (E.164 digits where it is one)."""

    call_class: CallClass
    number: str


def destination(dialled: str, *, our_numbers: set[str], our_extensions: set[str]) -> Destination:
    """Classify a dialled string (cdr ``dst``): one of our extensions or numbers (on-net), an emergency
    number, a short or service code (``*43``), or a number on another network."""
    dialled = dialled.strip()
    if dialled in EMERGENCY_NUMBERS:
        return Destination(CallClass.EMERGENCY, dialled)
    if dialled in our_extensions:
        return Destination(CallClass.ON_NET, dialled)
    digits = e164.digits_of(dialled)
    if digits is None and dialled.isascii() and dialled.isdigit() and len(dialled) >= e164.MIN_DIGITS:
        digits = dialled  # international digits without "+", as a trunk passes them on
    if digits is None:
        return Destination(CallClass.SERVICE, dialled)
    if digits in our_numbers:
        return Destination(CallClass.ON_NET, digits)
    return Destination(CallClass.OFF_NET, digits)


@dataclass(frozen=True)
class Priced:
    """One call's price: which tariff, seconds billed, how many of them were included, what it costs."""

    call_class: CallClass
    number: str
    tariff: Tariff | None
    billed_seconds: int
    included_seconds: int
    price_cents: Decimal


def price_call(
    target: Destination, *, talk_seconds: int, on: date, rates: RateTable, included_left_s: int
) -> Priced | None:
    """Price one call; None for a call to another network that no rate covers (left unrated)."""
    if target.call_class is not CallClass.OFF_NET:
        return Priced(target.call_class, target.number, None, max(talk_seconds, 0), 0, Decimal("0.0000"))
    tariff = rates.match(target.number, on)
    if tariff is None:
        return None
    billed = billed_seconds(
        talk_seconds, first_increment_s=tariff.first_increment_s, next_increment_s=tariff.next_increment_s
    )
    included = min(billed, max(included_left_s, 0)) if tariff.uses_included_minutes else 0
    cost = price_cents(billed - included, price_per_minute_cents=tariff.price_per_minute_cents)
    return Priced(target.call_class, target.number, tariff, billed, included, cost)


# --- the rate table in the database --------------------------------------------------------------


async def add_rate(session: AsyncSession, *, data: RateCreate) -> Rate:
    """Add a rate (a new ``valid_from`` for a prefix replaces the older one from that day on)."""
    rate = Rate(**data.model_dump())
    session.add(rate)
    await session.flush()
    return rate


async def set_included_minutes(session: AsyncSession, *, plan_code: str, minutes: int) -> PlanCallAllowance:
    """The call minutes a plan includes per billing period."""
    allowance = (
        await session.scalars(sa.select(PlanCallAllowance).where(PlanCallAllowance.plan_code == plan_code))
    ).one_or_none()
    if allowance is None:
        allowance = PlanCallAllowance(plan_code=plan_code, included_minutes=minutes)
        session.add(allowance)
    allowance.included_minutes = minutes
    await session.flush()
    return allowance


async def rate_table(session: AsyncSession) -> RateTable:
    rates = await session.scalars(sa.select(Rate))
    return RateTable(
        Tariff(
            r.id,
            r.prefix,
            r.price_per_minute_cents,
            r.first_increment_s,
            r.next_increment_s,
            r.uses_included_minutes,
            r.valid_from,
        )
        for r in rates
    )


@dataclass(frozen=True)
class RatingReport:
    """What one rating run did."""

    rated: int
    unrated_no_rate: int


async def _included_left(
    session: AsyncSession, *, contract_ids: set[int], periods: set[date]
) -> dict[tuple[int, date], int]:
    """Included seconds left per (contract, period): the plan's minutes less what rated calls used."""
    summary = service_summary_subquery()
    allowances: dict[int, int] = dict(
        (
            await session.execute(
                sa.select(summary.c.contract_id, PlanCallAllowance.included_minutes)
                .join(PlanCallAllowance, PlanCallAllowance.plan_code == summary.c.plan_code)
                .where(summary.c.contract_id.in_(contract_ids))
            )
        ).all()
    )
    used = {
        (contract_id, period): int(seconds or 0)
        for contract_id, period, seconds in (
            await session.execute(
                sa.select(RatedCall.contract_id, RatedCall.period, sa.func.sum(RatedCall.included_seconds))
                .where(RatedCall.contract_id.in_(contract_ids), RatedCall.period.in_(periods))
                .group_by(RatedCall.contract_id, RatedCall.period)
            )
        ).all()
    }
    return {
        (contract_id, period): allowances.get(contract_id, 0) * 60 - used.get((contract_id, period), 0)
        for contract_id in contract_ids
        for period in periods
    }


async def rate_unrated(session: AsyncSession, *, zone: str, limit: int = DEFAULT_BATCH) -> RatingReport:
    """Rate up to ``limit`` answered CDRs of our lines that have no rated call yet (oldest first).

    Parallel runs take different CDRs (``SKIP LOCKED``), and the phone lines concerned are locked while
    their included minutes are counted, so two runs never hand out the same included minute twice.
    """
    query = (
        sa.select(CallDetailRecord, PhoneLine.id, PhoneLine.contract_id)
        # Our endpoints set the account code to the extension (voip/endpoints.py); the source is the caller
        # id, the line's number.
        .join(PhoneLine, PhoneLine.extension == CallDetailRecord.accountcode)
        .outerjoin(RatedCall, RatedCall.cdr_id == CallDetailRecord.id)
        .where(RatedCall.id.is_(None), CallDetailRecord.disposition == ANSWERED)
        .order_by(CallDetailRecord.id)
        .limit(limit)
        .with_for_update(of=CallDetailRecord, skip_locked=True)
    )
    calls = [(cdr, line_id, contract_id) for cdr, line_id, contract_id in (await session.execute(query)).all()]
    if not calls:
        return RatingReport(0, 0)
    line_ids = sorted({line_id for _, line_id, _ in calls})
    await session.execute(
        sa.select(PhoneLine.id).where(PhoneLine.id.in_(line_ids)).order_by(PhoneLine.id).with_for_update()
    )
    rates = await rate_table(session)
    our_numbers, our_extensions = await repository.on_net(session)
    moments = {cdr.id: cdr.answer or cdr.start or cdr.end or utcnow() for cdr, _, _ in calls}
    left = await _included_left(
        session,
        contract_ids={contract_id for _, _, contract_id in calls},
        periods={billing_period(at, zone) for at in moments.values()},
    )
    now = utcnow()
    rated, unrated = [], 0
    for cdr, line_id, contract_id in calls:
        at = moments[cdr.id]
        period = billing_period(at, zone)
        target = destination(cdr.dst or "", our_numbers=our_numbers, our_extensions=our_extensions)
        priced = price_call(
            target,
            talk_seconds=cdr.billsec or 0,
            on=at.astimezone(ZoneInfo(zone)).date(),
            rates=rates,
            included_left_s=left[(contract_id, period)],
        )
        if priced is None:
            unrated += 1
            log.warning("cdr %s to %s: no rate covers this destination; left unrated", cdr.id, target.number)
            continue
        left[(contract_id, period)] -= priced.included_seconds
        rated.append(
            {
                "cdr_id": cdr.id,
                "contract_id": contract_id,
                "phone_line_id": line_id,
                "period": period,
                "started_at": at,
                "called_number": priced.number[:80],
                "call_class": priced.call_class,
                "rate_id": priced.tariff.id if priced.tariff else None,
                "talk_seconds": max(cdr.billsec or 0, 0),
                "billed_seconds": priced.billed_seconds,
                "included_seconds": priced.included_seconds,
                "price_cents": priced.price_cents,
                "rated_at": now,
            }
        )
    if rated:
        await session.execute(sa.insert(RatedCall), rated)
    return RatingReport(len(rated), unrated)


@dataclass(frozen=True, slots=True)
class CallTotal:
    """A contract's rated calls of one billing period: how many, billed seconds, and their price in cents
    (to four places; the invoice rounds the sum)."""

    contract_id: int
    calls: int
    billed_seconds: int
    price_cents: Decimal


async def call_totals(
    session: AsyncSession, *, period: date, contract_from: int, contract_to: int
) -> dict[int, CallTotal]:
    """The rated calls of ``period`` (its first day) per contract, for the contracts with ids in
    [contract_from, contract_to] (one query, a range rather than a long list: for bill runs)."""
    query = (
        sa.select(
            RatedCall.contract_id,
            sa.func.count(),
            sa.func.sum(RatedCall.billed_seconds),
            sa.func.sum(RatedCall.price_cents),
        )
        .where(RatedCall.period == period, RatedCall.contract_id.between(contract_from, contract_to))
        .group_by(RatedCall.contract_id)
    )
    return {
        int(contract_id): CallTotal(int(contract_id), int(calls), int(seconds or 0), Decimal(price or 0))
        for contract_id, calls, seconds, price in (await session.execute(query)).all()
    }
