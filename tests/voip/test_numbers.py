"""Numbers: blocks of E.164 numbers, allocation without collisions (also in parallel on PostgreSQL),
porting-in as data, and release into a quarantine that is never cut short."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.db import Database
from app.kit.errors import Conflict, DomainError, Invalid
from app.kit.time import utcnow
from app.settings import Settings
from tests.builders import BOARD, OPERATOR, make_contract, make_member, make_number_block, make_plan
from voip import e164, repository, service
from voip.lines import PhoneLine
from voip.numbers import NumberStatus, PhoneNumber
from voip.schemas import PortIn


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+49 331 555 1000", "+493315551000"),
        ("0049 (331) 555-1000", "+493315551000"),
        ("0331/5551000", "+493315551000"),
        ("+1 202 555 0100", "+12025550100"),
    ],
)
def test_numbers_are_normalised_to_e164(raw: str, expected: str) -> None:
    assert e164.normalise(raw) == expected


@pytest.mark.parametrize("raw", ["5551000", "+0331 5551000", "+49 331 555 10a0", "+49", "+4933155510001234567", ""])
def test_what_is_not_a_full_number_is_refused(raw: str) -> None:
    with pytest.raises(Invalid):
        e164.normalise(raw)


async def _number(session: AsyncSession, value: str) -> PhoneNumber:
    found = await repository.number_by_e164(session, value)
    assert found is not None
    await session.refresh(found)
    return found


async def _phone_contract(session: AsyncSession, settings: Settings, **kwargs: object):  # type: ignore[no-untyped-def]
    member = await make_member(session, settings)
    plan = await make_plan(session, includes_phone=True)
    return await make_contract(session, settings, member=member, plan=plan, **kwargs)  # type: ignore[arg-type]


async def test_a_block_holds_each_of_its_numbers_free(db_session: AsyncSession) -> None:
    block = await make_number_block(db_session, first_number="+49 331 900 1000", last_number="0331 900 1009")

    rows = (await db_session.scalars(sa.select(PhoneNumber).where(PhoneNumber.block_id == block.id))).all()

    assert (block.first_number, block.last_number) == ("+493319001000", "+493319001009")
    assert sorted(r.e164 for r in rows) == [f"+49331900100{i}" for i in range(10)]
    assert {r.status for r in rows} == {NumberStatus.FREE}


async def test_overlapping_or_reversed_blocks_are_refused(db_session: AsyncSession) -> None:
    await make_number_block(db_session, first_number="+493319011000", last_number="+493319011099")

    with pytest.raises(Conflict) as overlap:
        await make_number_block(db_session, first_number="+493319011050", last_number="+493319011150")
    with pytest.raises(Invalid):
        await make_number_block(db_session, first_number="+493319012099", last_number="+493319012000")

    assert overlap.value.code == "block_overlaps"


async def test_activation_allocates_the_lowest_free_number(db_session: AsyncSession, settings: Settings) -> None:
    await make_number_block(db_session, first_number="+493319021000", last_number="+493319021002")

    first = await _phone_contract(db_session, settings)
    second = await _phone_contract(db_session, settings)

    lines = [await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=c.id) for c in (first, second)]
    assert [line.number if line else None for line in lines] == ["+493319021000", "+493319021001"]


async def test_released_number_stays_in_quarantine_until_its_date(db_session: AsyncSession, settings: Settings) -> None:
    await make_number_block(db_session, first_number="+493319031000", last_number="+493319031001", quarantine_days=30)
    first = await _phone_contract(db_session, settings)
    await contracts.transition(
        db_session, actor=BOARD, settings=settings, contract_id=first.id, to=ContractStatus.TERMINATED
    )
    released = await _number(db_session, "+493319031000")
    assert released.status is NumberStatus.QUARANTINED and released.phone_line_id is None
    assert released.quarantine_until is not None
    assert timedelta(days=29) < released.quarantine_until - utcnow() <= timedelta(days=30)

    second = await _phone_contract(db_session, settings)
    third = await _phone_contract(db_session, settings)

    second_line = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=second.id)
    assert second_line is not None and second_line.number == "+493319031001"
    # The block is exhausted except for the quarantined number: no line rather than a reused number.
    assert await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=third.id) is None

    released.quarantine_until = utcnow() - timedelta(seconds=1)
    await db_session.flush()
    fourth = await _phone_contract(db_session, settings)
    fourth_line = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=fourth.id)
    assert fourth_line is not None and fourth_line.number == "+493319031000"


async def test_port_in_records_the_number_normalised_and_quarantines_the_old_one(
    db_session: AsyncSession, settings: Settings
) -> None:
    await make_number_block(db_session, first_number="+493319041000", last_number="+493319041009")
    contract = await _phone_contract(db_session, settings)
    line = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=contract.id)
    assert line is not None

    ported = await service.port_in(
        db_session, actor=OPERATOR, phone_line_id=line.id, data=PortIn(number="030 1234 5678", ported_from="Telekom")
    )

    assert (ported.e164, ported.is_ported_in, ported.block_id, ported.status) == (
        "+493012345678",
        True,
        None,
        NumberStatus.ASSIGNED,
    )
    assert ported.ported_from == "Telekom" and ported.ported_at is not None
    assert (await _number(db_session, "+493319041000")).status is NumberStatus.QUARANTINED
    after = await service.get_phone_line(db_session, actor=BOARD, phone_line_id=line.id)
    assert (after.number, after.number_ported_in) == ("+493012345678", True)


async def test_port_in_refuses_a_number_held_or_in_our_blocks(db_session: AsyncSession, settings: Settings) -> None:
    await make_number_block(db_session, first_number="+493319051000", last_number="+493319051009")
    lines = []
    for _ in range(2):
        contract = await _phone_contract(db_session, settings)
        line = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=contract.id)
        assert line is not None
        lines.append(line)
    await service.port_in(db_session, actor=OPERATOR, phone_line_id=lines[0].id, data=PortIn(number="+4930555000"))

    with pytest.raises(Conflict) as taken:
        await service.port_in(db_session, actor=OPERATOR, phone_line_id=lines[1].id, data=PortIn(number="030555000"))
    with pytest.raises(Conflict) as ours:
        await service.port_in(
            db_session, actor=OPERATOR, phone_line_id=lines[1].id, data=PortIn(number="+493319051005")
        )

    assert (taken.value.code, ours.value.code) == ("number_taken", "number_in_block")


# --- on PostgreSQL, in parallel ------------------------------------------------------------------


async def _ordered_phone_contracts(database: Database, count: int, *, first: str, last: str) -> list[int]:
    async with database.transaction() as session:
        await make_number_block(session, first_number=first, last_number=last)
        plan = await make_plan(session, includes_phone=True)
        ids = []
        for _ in range(count):
            member = await make_member(session, database.settings)
            contract = await make_contract(session, database.settings, member=member, plan=plan, active_from=None)
            ids.append(contract.id)
        return ids


async def _activate(database: Database, contract_id: int) -> None:
    async with database.transaction() as session:
        bind_actor(session, BOARD)
        await contracts.transition(
            session, actor=BOARD, settings=database.settings, contract_id=contract_id, to=ContractStatus.ACTIVE
        )


@pytest.mark.postgres
async def test_parallel_activations_get_distinct_numbers(committed_db: Database) -> None:
    contract_ids = await _ordered_phone_contracts(committed_db, 30, first="+493319901000", last="+493319901099")

    await asyncio.gather(*(_activate(committed_db, cid) for cid in contract_ids))

    async with committed_db.transaction() as session:
        held = (
            (
                await session.execute(
                    sa.select(PhoneNumber.e164)
                    .join(PhoneLine, PhoneLine.id == PhoneNumber.phone_line_id)
                    .where(PhoneLine.contract_id.in_(contract_ids))
                )
            )
            .scalars()
            .all()
        )
    assert len(held) == 30 and len(set(held)) == 30
    assert set(held) == {f"+4933199010{i:02d}" for i in range(30)}


@pytest.mark.postgres
async def test_two_port_ins_racing_for_one_number_one_wins(committed_db: Database) -> None:
    contract_ids = await _ordered_phone_contracts(committed_db, 2, first="+493319902000", last="+493319902009")
    for contract_id in contract_ids:
        await _activate(committed_db, contract_id)
    async with committed_db.transaction() as session:
        line_ids = [
            line.id
            for line in (
                await session.scalars(sa.select(PhoneLine).where(PhoneLine.contract_id.in_(contract_ids)))
            ).all()
        ]

    async def port(line_id: int) -> str:
        async with committed_db.transaction() as session:
            bind_actor(session, OPERATOR)
            number = await service.port_in(
                session, actor=OPERATOR, phone_line_id=line_id, data=PortIn(number="+4930999000111")
            )
            return number.e164

    results = await asyncio.gather(*(port(line_id) for line_id in line_ids), return_exceptions=True)

    assert sorted(type(r).__name__ for r in results) == ["Conflict", "str"], results
    refused = next(r for r in results if isinstance(r, DomainError))
    assert refused.code == "number_taken"
