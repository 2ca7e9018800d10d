"""Reconcile finds every difference between the RADIUS tables and the contracts, repairs it, and then rests."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.kit.time import utcnow
from app.settings import Settings
from provisioning import reconcile, repository, service
from provisioning.models import JobKind, JobStatus, Line, ProvisioningJob
from provisioning.radius import rows
from provisioning.radius.models import Nas, RadAcct, RadCheck, RadGroupReply, RadReply
from tests.builders import BOARD, OPERATOR, make_contract, make_member, make_plan, make_router


async def _provisioned(db_session: AsyncSession, settings: Settings, count: int = 2) -> list[Line]:
    await make_router(db_session)
    plan = await make_plan(db_session)
    lines = []
    for _ in range(count):
        member = await make_member(db_session, settings)
        contract = await make_contract(db_session, settings, member=member, plan=plan)
        line = await repository.line_by_contract(db_session, contract.id)
        assert line is not None
        lines.append(line)
    return lines


async def test_reconcile_of_a_converged_system_changes_nothing_and_says_so(
    db_session: AsyncSession, settings: Settings
) -> None:
    await _provisioned(db_session, settings)
    first = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=["lines", "radius"])
    assert first.converged and first.changed == 0
    assert first.summary().startswith("Converged")
    assert first.checked["radius_users"] >= 2


async def test_missing_and_altered_rows_show_as_drift_and_are_repaired(
    db_session: AsyncSession, settings: Settings
) -> None:
    one, two = await _provisioned(db_session, settings)
    await db_session.execute(sa.delete(RadCheck).where(RadCheck.username == one.username))
    await db_session.execute(
        sa.update(RadReply)
        .where(RadReply.username == two.username, RadReply.attribute == rows.FRAMED_IP)
        .values(value="192.0.2.1")
    )
    await db_session.execute(
        sa.insert(RadCheck).values(username="intruder", attribute=rows.PASSWORD, op=":=", value="x")
    )
    await db_session.execute(sa.update(RadGroupReply).values(value="1"))
    await db_session.execute(sa.update(Nas).values(secret="guessable"))

    dry = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=True, targets=["radius"])
    problems = {(d.subject, d.problem) for d in dry.drift}
    assert (one.username, "password row differs") in problems
    assert (two.username, "address rows differ") in problems
    assert ("intruder", "rows of an unknown user") in problems
    assert any(p == "group rate attributes differ" for _, p in problems)
    assert any(p == "NAS client missing or its secret differs" for _, p in problems)
    assert dry.changed == 0
    assert "intruder" in await rows.read_users(db_session, ["intruder"])  # a dry run changes nothing

    repaired = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=["radius"])
    assert repaired.changed == len(dry.drift)
    again = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=["radius"])
    assert again.converged, again.drift
    users = await rows.read_users(db_session, [one.username, two.username, "intruder"])
    assert set(users) == {one.username, two.username}
    assert rows.Item(rows.FRAMED_IP, ":=", two.ipv4 or "") in users[two.username].reply


async def test_a_live_session_of_a_suspended_line_is_drift_ended_through_the_outbox(
    db_session: AsyncSession, settings: Settings
) -> None:
    (line,) = await _provisioned(db_session, settings, count=1)
    await contracts.transition(
        db_session, actor=BOARD, settings=settings, contract_id=line.contract_id, to=ContractStatus.SUSPENDED
    )
    await db_session.execute(sa.update(ProvisioningJob).values(status=JobStatus.DONE))
    db_session.add(
        RadAcct(
            acctsessionid="s-1",
            acctuniqueid="u-1",
            username=line.username,
            nasipaddress="127.0.0.1",
            acctstarttime=utcnow(),
        )
    )
    await db_session.flush()

    report = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=["sessions"])

    assert [(d.target, d.problem, d.repaired) for d in report.drift] == [
        ("sessions", "live session of a walled line", True)
    ]
    queued = await repository.jobs(db_session, line_id=line.id, status=JobStatus.PENDING)
    assert [job.kind for job in queued] == [JobKind.DISCONNECT]


async def test_a_running_contract_without_a_line_gets_one(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)
    contract = await make_contract(db_session, settings, member=member)  # activated before any router existed
    assert await repository.line_by_contract(db_session, contract.id) is None
    await make_router(db_session)

    report = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=["lines", "radius"])

    assert ("lines", contract.number, "active contract has no line") in {
        (d.target, d.subject, d.problem) for d in report.drift
    }
    line = await repository.line_by_contract(db_session, contract.id)
    assert line is not None and line.username in await rows.read_users(db_session, [line.username])
    assert (await service.line_for_contract(db_session, actor=OPERATOR, contract_id=contract.id)) is not None
