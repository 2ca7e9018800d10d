"""A contract's lifecycle drives its phone line: PJSIP realtime rows in the same transaction as the
change (active: members context; suspended: suspended context and no registration; terminated: no rows
and the number in quarantine), with a SIP password kept only where Asterisk reads it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.audit.service import bind_actor
from app.contracts import service as contracts
from app.contracts.models import Contract, ContractStatus
from app.db import Database
from app.kit.actor import Actor, Channel, Role
from app.kit.errors import NotFound
from app.settings import Settings
from tests.builders import BOARD, OPERATOR, make_contract, make_member, make_number_block, make_plan
from tests.voip.conftest import AsteriskServer, run_sipp, running_asterisk, start_sipp
from voip import endpoints, rating, service
from voip.lines import CallTeardown, PhoneLineState
from voip.models import CallDetailRecord, PjsipAor, PjsipAuth, PjsipContact, PjsipEndpoint
from voip.numbers import NumberStatus, PhoneNumber
from voip.rates import CallClass, RatedCall


async def _phone_contract(session: AsyncSession, settings: Settings, *, includes_phone: bool = True) -> Contract:
    member = await make_member(session, settings)
    plan = await make_plan(session, includes_phone=includes_phone)
    return await make_contract(session, settings, member=member, plan=plan)


async def _step(session: AsyncSession, settings: Settings, contract: Contract, to: ContractStatus) -> None:
    await contracts.transition(session, actor=BOARD, settings=settings, contract_id=contract.id, to=to)


async def test_activation_creates_the_line_and_its_endpoint_aor_and_auth(
    db_session: AsyncSession, settings: Settings
) -> None:
    await make_number_block(db_session, first_number="+493319101000", last_number="+493319101009")

    contract = await _phone_contract(db_session, settings)

    line = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=contract.id)
    assert line is not None and line.state is PhoneLineState.ACTIVE
    assert line.extension.isdigit() and line.number == "+493319101000"
    endpoint = await db_session.get(PjsipEndpoint, line.extension)
    aor = await db_session.get(PjsipAor, line.extension)
    auth = await db_session.get(PjsipAuth, line.extension)
    assert endpoint is not None and aor is not None and auth is not None
    assert (endpoint.context, endpoint.transport, endpoint.aors, endpoint.auth) == (
        "members",
        "transport-udp",
        line.extension,
        line.extension,
    )
    assert (endpoint.disallow, endpoint.allow, endpoint.direct_media) == ("all", "alaw,ulaw", "no")
    assert endpoint.callerid == "<+493319101000>"
    assert aor.max_contacts == endpoints.MAX_CONTACTS
    assert (auth.auth_type, auth.username) == ("userpass", line.extension)
    assert auth.password is not None and len(auth.password) == 24 and auth.password.isalnum()


async def test_the_sip_password_appears_in_no_audit_diff_and_no_line_output(
    db_session: AsyncSession, settings: Settings
) -> None:
    await make_number_block(db_session, first_number="+493319111000", last_number="+493319111009")
    contract = await _phone_contract(db_session, settings)
    line = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=contract.id)
    assert line is not None
    password = await endpoints.password(db_session, line.extension)
    assert password

    audit = (await db_session.execute(sa.select(AuditEvent.before, AuditEvent.after))).all()

    assert all(password not in str(before) + str(after) for before, after in audit)
    assert password not in line.model_dump_json()
    assert any(e == "phone_lines" for e in (await db_session.scalars(sa.select(AuditEvent.entity_type))).all())


async def test_credentials_are_shown_to_the_lines_member_and_operators_only(
    db_session: AsyncSession, settings: Settings
) -> None:
    await make_number_block(db_session, first_number="+493319121000", last_number="+493319121009")
    contract = await _phone_contract(db_session, settings)
    line = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=contract.id)
    assert line is not None
    own = Actor(user_id=None, label="m", role=Role.MEMBER, channel=Channel.API, member_id=contract.member_id)
    other = Actor(user_id=None, label="o", role=Role.MEMBER, channel=Channel.API, member_id=contract.member_id + 999)

    mine = await service.sip_credentials(db_session, actor=own, phone_line_id=line.id)
    operators = await service.sip_credentials(db_session, actor=OPERATOR, phone_line_id=line.id)

    assert mine.password == operators.password == await endpoints.password(db_session, line.extension)
    assert (mine.username, mine.number) == (line.extension, "+493319121000")
    with pytest.raises(NotFound):
        await service.sip_credentials(db_session, actor=other, phone_line_id=line.id)


async def test_suspension_switches_context_refuses_registration_and_resumption_restores(
    db_session: AsyncSession, settings: Settings
) -> None:
    await make_number_block(db_session, first_number="+493319131000", last_number="+493319131009")
    contract = await _phone_contract(db_session, settings)
    line = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=contract.id)
    assert line is not None
    password = await endpoints.password(db_session, line.extension)
    db_session.add(PjsipContact(id=f"{line.extension};@x", endpoint=line.extension, uri="sip:x@192.0.2.1"))
    await db_session.flush()

    await _step(db_session, settings, contract, ContractStatus.SUSPENDED)
    suspended = await endpoints.state(db_session, line.extension)
    await _step(db_session, settings, contract, ContractStatus.ACTIVE)
    resumed = await endpoints.state(db_session, line.extension)

    assert (suspended.context, suspended.max_contacts, suspended.has_auth, suspended.contacts) == (
        "suspended",
        0,
        True,
        0,
    )
    assert (resumed.context, resumed.max_contacts) == ("members", endpoints.MAX_CONTACTS)
    assert await endpoints.password(db_session, line.extension) == password
    after = await service.get_phone_line(db_session, actor=BOARD, phone_line_id=line.id)
    assert (after.state, after.number) == (PhoneLineState.ACTIVE, "+493319131000")


async def test_suspension_and_termination_ask_for_the_lines_calls_to_end_but_resumption_does_not(
    db_session: AsyncSession, settings: Settings
) -> None:
    await make_number_block(db_session, first_number="+493319135000", last_number="+493319135009")
    contract = await _phone_contract(db_session, settings)
    line = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=contract.id)
    assert line is not None
    query = sa.select(CallTeardown.reason, CallTeardown.done_at).where(CallTeardown.extension == line.extension)

    before = (await db_session.execute(query)).all()
    await _step(db_session, settings, contract, ContractStatus.SUSPENDED)
    await _step(db_session, settings, contract, ContractStatus.ACTIVE)
    after_resumption = (await db_session.execute(query)).all()
    await _step(db_session, settings, contract, ContractStatus.TERMINATED)

    assert before == []
    assert after_resumption == [("suspended", None)]
    assert sorted((await db_session.execute(query)).all()) == [("suspended", None), ("terminated", None)]


async def test_termination_removes_the_rows_and_quarantines_the_number(
    db_session: AsyncSession, settings: Settings
) -> None:
    await make_number_block(db_session, first_number="+493319141000", last_number="+493319141009")
    contract = await _phone_contract(db_session, settings)
    line = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=contract.id)
    assert line is not None
    await service.record_registration(db_session, extension=line.extension, registered=True)

    await _step(db_session, settings, contract, ContractStatus.TERMINATED)

    state = await endpoints.state(db_session, line.extension)
    assert (state.exists, state.max_contacts, state.has_auth) == (False, None, False)
    after = await service.get_phone_line(db_session, actor=BOARD, phone_line_id=line.id)
    assert (after.state, after.number, after.registration) == (PhoneLineState.TERMINATED, None, None)
    number = (await db_session.scalars(sa.select(PhoneNumber).where(PhoneNumber.e164 == "+493319141000"))).one()
    assert number.status is NumberStatus.QUARANTINED


async def test_plans_without_phone_get_no_line_and_a_full_block_does_not_stop_activation(
    db_session: AsyncSession, settings: Settings
) -> None:
    await make_number_block(db_session, first_number="+493319151000", last_number="+493319151000")
    internet_only = await _phone_contract(db_session, settings, includes_phone=False)
    first = await _phone_contract(db_session, settings)
    second = await _phone_contract(db_session, settings)

    assert await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=internet_only.id) is None
    assert await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=first.id) is not None
    assert second.status is ContractStatus.ACTIVE
    assert await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=second.id) is None


async def test_bulk_steps_move_every_phone_line_together_each_with_its_own_number_and_rows(
    db_session: AsyncSession, settings: Settings
) -> None:
    await make_number_block(db_session, first_number="+493319171000", last_number="+493319171003")
    member = await make_member(db_session, settings)
    phone_plan = await make_plan(db_session, includes_phone=True)
    internet_plan = await make_plan(db_session)
    phones = [
        await make_contract(db_session, settings, member=member, plan=phone_plan, active_from=None) for _ in range(3)
    ]
    internet = await make_contract(db_session, settings, member=member, plan=internet_plan, active_from=None)
    ids = [phones[0].id, internet.id, phones[1].id, phones[2].id]

    async def bulk(to: ContractStatus) -> None:
        await contracts.transition_many(db_session, actor=BOARD, settings=settings, contract_ids=ids, to=to)

    await bulk(ContractStatus.ACTIVE)
    lines = [await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=c.id) for c in phones]
    assert await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=internet.id) is None
    assert all(line is not None and line.state is PhoneLineState.ACTIVE for line in lines)
    extensions = [line.extension for line in lines if line is not None]
    # Numbers in the order the contracts were named, each line presenting its own.
    assert [line.number for line in lines if line is not None] == ["+493319171000", "+493319171001", "+493319171002"]
    callerids = dict((await db_session.execute(sa.select(PjsipEndpoint.id, PjsipEndpoint.callerid))).all())
    assert [callerids[e] for e in extensions] == ["<+493319171000>", "<+493319171001>", "<+493319171002>"]
    secrets_of = await endpoints.passwords(db_session, extensions)
    assert len(set(secrets_of.values())) == 3 and all(len(p) == 24 for p in secrets_of.values())
    created = await db_session.scalars(
        sa.select(AuditEvent.entity_id).where(
            AuditEvent.action == "phone_line.create", AuditEvent.entity_type == "phone_lines"
        )
    )
    assert set(created) == {str(line.id) for line in lines if line is not None}

    await bulk(ContractStatus.SUSPENDED)
    for extension in extensions:
        state = await endpoints.state(db_session, extension)
        assert (state.context, state.max_contacts, state.has_auth) == ("suspended", 0, True)
    assert await endpoints.passwords(db_session, extensions) == secrets_of, "suspension keeps the passwords"

    await bulk(ContractStatus.TERMINATED)
    assert not any([(await endpoints.state(db_session, e)).exists for e in extensions])
    statuses = await db_session.scalars(sa.select(PhoneNumber.status).order_by(PhoneNumber.e164))
    assert list(statuses) == [NumberStatus.QUARANTINED] * 3 + [NumberStatus.FREE]


async def test_bulk_activation_with_more_phone_contracts_than_free_numbers_gives_lines_to_the_first_ones(
    db_session: AsyncSession, settings: Settings
) -> None:
    await make_number_block(db_session, first_number="+493319181000", last_number="+493319181001")
    member = await make_member(db_session, settings)
    plan = await make_plan(db_session, includes_phone=True)
    ordered = [await make_contract(db_session, settings, member=member, plan=plan, active_from=None) for _ in range(3)]

    activated = await contracts.transition_many(
        db_session, actor=BOARD, settings=settings, contract_ids=[c.id for c in ordered], to=ContractStatus.ACTIVE
    )

    assert [c.status for c in activated] == [ContractStatus.ACTIVE] * 3
    lines = [await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=c.id) for c in ordered]
    assert [line.number if line else None for line in lines] == ["+493319181000", "+493319181001", None]


async def test_a_plan_change_away_from_phone_ends_the_line(db_session: AsyncSession, settings: Settings) -> None:
    await make_number_block(db_session, first_number="+493319161000", last_number="+493319161009")
    contract = await _phone_contract(db_session, settings)
    internet_only = await make_plan(db_session)

    await contracts.change_plan(
        db_session, actor=BOARD, settings=settings, contract_id=contract.id, plan_id=internet_only.id
    )

    line = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=contract.id)
    assert line is not None and line.state is PhoneLineState.TERMINATED
    assert not (await endpoints.state(db_session, line.extension)).exists


async def test_registration_since_moves_only_when_the_state_changes(
    db_session: AsyncSession, settings: Settings
) -> None:
    await make_number_block(db_session, first_number="+493319171000", last_number="+493319171009")
    contract = await _phone_contract(db_session, settings)
    line = await service.phone_line_for_contract(db_session, actor=BOARD, contract_id=contract.id)
    assert line is not None

    first = await service.record_registration(
        db_session, extension=line.extension, registered=True, user_agent="Yealink T46U", round_trip_ms=12
    )
    assert first is not None
    since = first.since
    again = await service.record_registration(
        db_session, extension=line.extension, registered=True, user_agent="Yealink T46U", round_trip_ms=30
    )
    assert again is not None and (again.since, again.round_trip_ms) == (since, 30)
    gone = await service.record_registration(db_session, extension=line.extension, registered=False)
    unknown = await service.record_registration(db_session, extension="7999999", registered=True)

    assert gone is not None and gone.registered is False and gone.since > since
    assert unknown is None
    shown = await service.get_phone_line(db_session, actor=BOARD, phone_line_id=line.id)
    assert shown.registration is not None and shown.registration.registered is False


# --- with Asterisk ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed_asterisk(committed_db_url: str) -> Iterator[AsteriskServer]:
    """An Asterisk reading the committed test database, where the services' transactions really commit."""
    with running_asterisk(committed_db_url, "lines") as server:
        yield server


@pytest.fixture
async def phone_contract(committed_db: Database) -> AsyncIterator[tuple[int, str, str]]:
    """An active contract with a phone on the committed database: (contract id, extension, password);
    terminated afterwards, which removes its realtime rows."""
    async with committed_db.transaction() as session:
        bind_actor(session, BOARD)
        await make_number_block(session, first_number="+493319991000", last_number="+493319991099")
        contract = await _phone_contract(session, committed_db.settings)
        line = await service.phone_line_for_contract(session, actor=BOARD, contract_id=contract.id)
        assert line is not None
        credentials = await service.sip_credentials(session, actor=OPERATOR, phone_line_id=line.id)
    yield contract.id, credentials.username, credentials.password
    async with committed_db.transaction() as session:
        bind_actor(session, BOARD)
        await contracts.transition(
            session, actor=BOARD, settings=committed_db.settings, contract_id=contract.id, to=ContractStatus.TERMINATED
        )


async def _transition(database: Database, contract_id: int, to: ContractStatus) -> None:
    async with database.transaction() as session:
        bind_actor(session, BOARD)
        await contracts.transition(session, actor=BOARD, settings=database.settings, contract_id=contract_id, to=to)


@pytest.mark.asterisk
async def test_suspended_line_cannot_register_but_calls_emergency_and_resumption_restores(
    committed_asterisk: AsteriskServer,
    committed_db: Database,
    phone_contract: tuple[int, str, str],
    tmp_path: Path,
) -> None:
    contract_id, extension, password = phone_contract
    expires = {"expires": "300"}

    active = await run_sipp(
        committed_asterisk, "register.xml", extension=extension, password=password, workdir=tmp_path, keys=expires
    )
    await _transition(committed_db, contract_id, ContractStatus.SUSPENDED)
    async with committed_db.transaction() as session:
        contacts_after_suspension = (await endpoints.state(session, extension)).contacts
    refused = await run_sipp(
        committed_asterisk,
        "register_rejected.xml",
        extension=extension,
        password=password,
        workdir=tmp_path,
        keys=expires,
    )
    emergency = await run_sipp(
        committed_asterisk, "call.xml", extension=extension, password=password, workdir=tmp_path, keys={"dialed": "112"}
    )
    await _transition(committed_db, contract_id, ContractStatus.ACTIVE)
    resumed = await run_sipp(
        committed_asterisk, "register.xml", extension=extension, password=password, workdir=tmp_path, keys=expires
    )

    assert active.returncode == 0, f"{active.output}\n{active.messages}"
    assert active.status_lines == ["SIP/2.0 401 Unauthorized", "SIP/2.0 200 OK"]
    assert contacts_after_suspension == 0
    assert refused.returncode == 0, f"{refused.output}\n{refused.messages}"
    assert refused.status_lines == ["SIP/2.0 401 Unauthorized", "SIP/2.0 403 Forbidden"]
    assert emergency.returncode == 0, f"{emergency.output}\n{emergency.messages}"
    assert resumed.returncode == 0, f"{resumed.output}\n{resumed.messages}"
    assert resumed.status_lines == ["SIP/2.0 401 Unauthorized", "SIP/2.0 200 OK"]
    async with committed_db.transaction() as session:
        assert (await endpoints.state(session, extension)).contacts == 1


@pytest.fixture
async def two_phone_contracts(committed_db: Database) -> AsyncIterator[list[tuple[int, str, str]]]:
    """Two active contracts with phones on the committed database, (contract id, extension, password) each;
    terminated afterwards."""
    lines = []
    async with committed_db.transaction() as session:
        bind_actor(session, BOARD)
        await make_number_block(session, first_number="+493319992000", last_number="+493319992099")
        for _ in range(2):
            contract = await _phone_contract(session, committed_db.settings)
            line = await service.phone_line_for_contract(session, actor=BOARD, contract_id=contract.id)
            assert line is not None
            credentials = await service.sip_credentials(session, actor=OPERATOR, phone_line_id=line.id)
            lines.append((contract.id, credentials.username, credentials.password))
    yield lines
    for contract_id, _, _ in lines:
        await _transition(committed_db, contract_id, ContractStatus.TERMINATED)


@pytest.mark.asterisk
async def test_call_between_two_provisioned_lines_lands_as_a_cdr_that_is_rated_as_a_free_on_net_call(
    committed_asterisk: AsteriskServer,
    committed_db: Database,
    two_phone_contracts: list[tuple[int, str, str]],
    tmp_path: Path,
) -> None:
    (caller_contract, caller, caller_password), (_, callee, callee_password) = two_phone_contracts
    registration = await run_sipp(
        committed_asterisk,
        "register.xml",
        extension=callee,
        password=callee_password,
        workdir=tmp_path,
        keys={"expires": "300"},
    )
    assert registration.returncode == 0, f"{registration.output}\n{registration.messages}"
    # The callee's phone answers on the port its contact names.
    answering = await start_sipp("answer.xml", [], workdir=tmp_path, local_port=registration.local_port)
    call = await run_sipp(
        committed_asterisk,
        "call.xml",
        extension=caller,
        password=caller_password,
        workdir=tmp_path,
        keys={"dialed": callee},
        hold_ms=1500,
    )
    answered = await answering.result()
    assert call.returncode == 0, f"{call.output}\n{call.messages}"
    assert answered.returncode == 0, f"{answered.output}\n{answered.messages}"

    # Asterisk writes the CDR when the call ends; then the rating run prices it, once.
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        async with committed_db.transaction() as session:
            record = CallDetailRecord
            query = sa.select(record.id, record.dst, record.disposition, record.billsec).where(
                record.accountcode == caller
            )
            cdr = (await session.execute(query)).one_or_none()
        if cdr is not None or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert cdr is not None, "Asterisk wrote no CDR for the call"
    assert (cdr.dst, cdr.disposition) == (callee, "ANSWERED") and cdr.billsec >= 1
    async with committed_db.transaction() as session:
        first = await rating.rate_unrated(session, zone=committed_db.settings.timezone)
    async with committed_db.transaction() as session:
        again = await rating.rate_unrated(session, zone=committed_db.settings.timezone)
        rated = (await session.scalars(sa.select(RatedCall).where(RatedCall.cdr_id == cdr.id))).one()

    assert first.rated >= 1 and again.rated == 0
    assert rated.contract_id == caller_contract
    assert rated.call_class is CallClass.ON_NET and rated.price_cents == 0
    assert rated.talk_seconds == cdr.billsec
