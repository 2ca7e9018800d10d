"""Rating: billing increments, longest-prefix match, free on-net and emergency calls, included minutes,
and a rating run that is idempotent and groups calls per contract and Berlin calendar month."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from tests.builders import BOARD, make_contract, make_member, make_number_block, make_plan
from voip import rating, service
from voip.models import CallDetailRecord
from voip.rates import CallClass, RatedCall
from voip.schemas import RateCreate


@pytest.mark.parametrize(
    ("talk", "first", "following", "billed"),
    [
        (0, 60, 60, 0),
        (1, 60, 60, 60),
        (60, 60, 60, 60),
        (61, 60, 60, 120),
        (0, 1, 1, 0),
        (1, 1, 1, 1),
        (60, 1, 1, 60),
        (61, 1, 1, 61),
        (1, 60, 1, 60),
        (61, 60, 1, 61),
        (91, 30, 30, 120),
    ],
)
def test_billing_increments_round_up(talk: int, first: int, following: int, billed: int) -> None:
    assert rating.billed_seconds(talk, first_increment_s=first, next_increment_s=following) == billed


def test_price_is_exact_to_four_places() -> None:
    assert rating.price_cents(61, price_per_minute_cents=Decimal("1.9")) == Decimal("1.9317")
    assert rating.price_cents(0, price_per_minute_cents=Decimal("9.9")) == Decimal("0.0000")


def _tariff(id_: int, prefix: str, cents: str, *, since: date = date(2020, 1, 1)) -> rating.Tariff:
    return rating.Tariff(id_, prefix, Decimal(cents), 60, 60, False, since)


def test_longest_prefix_wins_and_the_rate_valid_on_the_day_is_used() -> None:
    table = rating.RateTable(
        [
            _tariff(1, "49", "1.9"),
            _tariff(2, "4917", "9.9"),
            _tariff(3, "491", "5.0"),
            _tariff(4, "4917", "7.9", since=date(2026, 1, 1)),
        ]
    )

    def match(digits: str, on: date) -> int | None:
        found = table.match(digits, on)
        return found.id if found else None

    assert match("491701234567", date(2025, 6, 1)) == 2
    assert match("491701234567", date(2026, 1, 1)) == 4
    assert match("491601234567", date(2025, 6, 1)) == 3
    assert match("4930123456", date(2025, 6, 1)) == 1
    assert match("4930123456", date(2019, 12, 31)) is None
    assert match("431234567", date(2025, 6, 1)) is None


def test_destinations_are_classified() -> None:
    ours = {"493315551000"}
    extensions = {"7000001"}

    def of(dialled: str) -> tuple[CallClass, str]:
        found = rating.destination(dialled, our_numbers=ours, our_extensions=extensions)
        return found.call_class, found.number

    assert of("7000001") == (CallClass.ON_NET, "7000001")
    assert of("03315551000") == (CallClass.ON_NET, "493315551000")
    assert of("+493315551000") == (CallClass.ON_NET, "493315551000")
    assert of("112") == (CallClass.EMERGENCY, "112")
    assert of("*43") == (CallClass.SERVICE, "*43")
    assert of("0301234567") == (CallClass.OFF_NET, "49301234567")
    assert of("00431234567") == (CallClass.OFF_NET, "431234567")


def test_included_minutes_cover_a_call_partly_and_the_rest_is_charged() -> None:
    table = rating.RateTable([rating.Tariff(1, "49", Decimal("2"), 60, 60, True, date(2020, 1, 1))])
    target = rating.Destination(CallClass.OFF_NET, "49301234567")

    priced = rating.price_call(target, talk_seconds=150, on=date(2025, 1, 1), rates=table, included_left_s=60)

    assert priced is not None
    assert (priced.billed_seconds, priced.included_seconds, priced.price_cents) == (180, 60, Decimal("4.0000"))


def test_calls_no_rate_covers_stay_unrated_and_free_classes_cost_nothing() -> None:
    table = rating.RateTable([])
    free = rating.price_call(
        rating.Destination(CallClass.ON_NET, "7000001"),
        talk_seconds=61,
        on=date(2025, 1, 1),
        rates=table,
        included_left_s=0,
    )

    assert (
        rating.price_call(
            rating.Destination(CallClass.OFF_NET, "431234"),
            talk_seconds=5,
            on=date(2025, 1, 1),
            rates=table,
            included_left_s=0,
        )
        is None
    )
    assert free is not None and (free.price_cents, free.billed_seconds) == (Decimal("0.0000"), 61)


def test_billing_period_is_the_berlin_calendar_month() -> None:
    # 23:30 UTC on 31 January is 00:30 on 1 February in Berlin.
    assert rating.billing_period(datetime(2026, 1, 31, 23, 30, tzinfo=UTC), "Europe/Berlin") == date(2026, 2, 1)
    assert rating.billing_period(datetime(2026, 1, 31, 22, 30, tzinfo=UTC), "Europe/Berlin") == date(2026, 1, 1)


# --- on PostgreSQL --------------------------------------------------------------------------------


def _cdr(account: str, dst: str, *, billsec: int, answer: datetime, disposition: str = "ANSWERED") -> CallDetailRecord:
    """A CDR as Asterisk writes it for our endpoints: the account code names the line, the source is the
    caller id (the line's number, which rating must not rely on)."""
    return CallDetailRecord(
        accountcode=account,
        src="+493315550000",
        dst=dst,
        start=answer - timedelta(seconds=3),
        answer=answer,
        end=answer + timedelta(seconds=billsec),
        billsec=billsec,
        duration=billsec + 3,
        disposition=disposition,
        uniqueid=f"{account}-{answer.timestamp()}",
    )


async def test_rating_run_prices_calls_per_contract_and_month_once(
    db_session: AsyncSession, settings: Settings
) -> None:
    await make_number_block(db_session, first_number="+493319201000", last_number="+493319201009")
    plan = await make_plan(db_session, includes_phone=True)
    await rating.set_included_minutes(db_session, plan_code=plan.code, minutes=2)
    for prefix, cents, first_s, following, included in (
        ("49", "2", 60, 60, True),
        ("4917", "10", 60, 1, False),
    ):
        await rating.add_rate(
            db_session,
            data=RateCreate(
                prefix=prefix,
                name=prefix,
                price_per_minute_cents=Decimal(cents),
                first_increment_s=first_s,
                next_increment_s=following,
                uses_included_minutes=included,
            ),
        )
    caller_contract = await make_contract(
        db_session, settings, member=await make_member(db_session, settings), plan=plan
    )
    callee_contract = await make_contract(
        db_session, settings, member=await make_member(db_session, settings), plan=plan
    )
    caller = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=caller_contract.id)
    callee = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=callee_contract.id)
    assert caller is not None and callee is not None
    january = datetime(2026, 1, 10, 9, tzinfo=UTC)
    cdrs = [
        _cdr(caller.extension, callee.extension, billsec=300, answer=january),  # on-net
        _cdr(caller.extension, "0301234567", billsec=61, answer=january + timedelta(hours=1)),  # 120 s included
        _cdr(caller.extension, "0301234567", billsec=61, answer=january + timedelta(hours=2)),  # 120 s charged
        _cdr(caller.extension, "01701234567", billsec=61, answer=january + timedelta(hours=3)),  # mobile, 60/1
        _cdr(caller.extension, "0301234567", billsec=0, answer=january + timedelta(hours=4)),
        _cdr(caller.extension, "0301234567", billsec=0, answer=january, disposition="NO ANSWER"),
        _cdr(caller.extension, "0301234567", billsec=30, answer=datetime(2026, 1, 31, 23, 30, tzinfo=UTC)),
        _cdr(caller.extension, "112", billsec=20, answer=january),
        _cdr("someone-else", "0301234567", billsec=30, answer=january),
    ]
    db_session.add_all(cdrs)
    await db_session.flush()

    first = await rating.rate_unrated(db_session, zone="Europe/Berlin")
    second = await rating.rate_unrated(db_session, zone="Europe/Berlin")

    assert (first.rated, first.unrated_no_rate) == (7, 0)
    assert (second.rated, second.unrated_no_rate) == (0, 0)
    rated = {
        r.cdr_id: r
        for r in (
            await db_session.scalars(sa.select(RatedCall).where(RatedCall.cdr_id.in_([c.id for c in cdrs])))
        ).all()
    }
    assert set(rated) == {c.id for c in cdrs[:5]} | {cdrs[6].id, cdrs[7].id}

    def summary(cdr: CallDetailRecord) -> tuple[CallClass, int, int, Decimal, date]:
        r = rated[cdr.id]
        return r.call_class, r.billed_seconds, r.included_seconds, r.price_cents, r.period

    jan, feb = date(2026, 1, 1), date(2026, 2, 1)
    assert summary(cdrs[0]) == (CallClass.ON_NET, 300, 0, Decimal("0.0000"), jan)
    assert summary(cdrs[1]) == (CallClass.OFF_NET, 120, 120, Decimal("0.0000"), jan)
    assert summary(cdrs[2]) == (CallClass.OFF_NET, 120, 0, Decimal("4.0000"), jan)
    assert summary(cdrs[3]) == (CallClass.OFF_NET, 61, 0, Decimal("10.1667"), jan)
    assert summary(cdrs[4]) == (CallClass.OFF_NET, 0, 0, Decimal("0.0000"), jan)
    # A new month in Berlin: its own included minutes.
    assert summary(cdrs[6]) == (CallClass.OFF_NET, 60, 60, Decimal("0.0000"), feb)
    assert summary(cdrs[7])[:2] == (CallClass.EMERGENCY, 20)
    assert {r.contract_id for r in rated.values()} == {caller_contract.id}
    assert rated[cdrs[1].id].called_number == "49301234567"


async def test_a_destination_without_rate_is_left_for_a_later_run(db_session: AsyncSession, settings: Settings) -> None:
    await make_number_block(db_session, first_number="+493319211000", last_number="+493319211009")
    plan = await make_plan(db_session, includes_phone=True)
    contract = await make_contract(db_session, settings, member=await make_member(db_session, settings), plan=plan)
    line = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=contract.id)
    assert line is not None
    cdr = _cdr(line.extension, "0088212345678", billsec=10, answer=datetime(2026, 3, 1, 12, tzinfo=UTC))
    db_session.add(cdr)
    await db_session.flush()

    before = await rating.rate_unrated(db_session, zone="Europe/Berlin")
    await rating.add_rate(
        db_session, data=RateCreate(prefix="882", name="Satellite", price_per_minute_cents=Decimal("199"))
    )
    after = await rating.rate_unrated(db_session, zone="Europe/Berlin")

    assert (before.rated, before.unrated_no_rate) == (0, 1)
    assert (after.rated, after.unrated_no_rate) == (1, 0)
    rated = (await db_session.scalars(sa.select(RatedCall).where(RatedCall.cdr_id == cdr.id))).one()
    assert rated.price_cents == Decimal("199.0000")
