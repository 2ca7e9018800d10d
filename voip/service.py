"""Phone lines: a contract's change becomes PJSIP realtime rows in the same transaction; numbers are
allocated from the coop's blocks, ported in as data, and released into quarantine.

validate -> save -> notify, as provisioning does for RADIUS: when a contract whose plan includes a phone
is activated, its line gets a number, an extension and a generated SIP password, and Asterisk's endpoint,
AOR and auth rows are written in that transaction. Asterisk reads them on its next lookup (plain
realtime), so no outside call is needed for a change to take effect; the password is kept only in
``ps_auths``.
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.kit.actor import Actor, Role
from app.kit.errors import Conflict, Invalid, NotFound
from app.kit.events import ContractChanged, subscribe
from app.kit.time import utcnow
from voip import e164, endpoints, repository
from voip.lines import CallTeardown, PhoneLine, PhoneLineState, PhoneRegistration
from voip.numbers import DEFAULT_QUARANTINE_DAYS, NumberBlock, NumberStatus, PhoneNumber
from voip.schemas import NumberBlockCreate, PhoneLineOut, PortIn, RegistrationOut, SipCredentials

log = logging.getLogger("opentelecom.voip")

PASSWORD_ALPHABET = string.ascii_letters + string.digits
# A block is a few thousand numbers in practice; its rows are written when it is added.
MAX_BLOCK_SIZE = 100_000
_INSERT_BATCH = 5_000


def new_sip_password() -> str:
    """24 random letters and digits (~143 bits): strong, and typeable into a phone's web form."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(24))


def extension_for(phone_line_id: int) -> str:
    """A line's extension: digits (the members' dialplan dials ``_X.``), unique, never reused."""
    return f"7{phone_line_id:06d}"


def state_for(contract_status: str, *, includes_phone: bool) -> PhoneLineState:
    """The phone line state a contract asks for; a plan without a phone ends the line."""
    if not includes_phone:
        return PhoneLineState.TERMINATED
    return {
        ContractStatus.ACTIVE.value: PhoneLineState.ACTIVE,
        ContractStatus.SUSPENDED.value: PhoneLineState.SUSPENDED,
    }.get(contract_status, PhoneLineState.TERMINATED)


# --- number blocks and numbers -------------------------------------------------------------------


async def create_block(session: AsyncSession, *, actor: Actor, data: NumberBlockCreate) -> NumberBlock:
    """Add a block of numbers the coop holds; every number in it becomes a free number row."""
    actor.require(Role.OPERATOR, Role.BOARD)
    first = e164.normalise(data.first_number, field="first_number")
    last = e164.normalise(data.last_number, field="last_number")
    if len(first) != len(last) or first > last:
        raise Invalid("A block runs from its first to its last number, both of one length.", field="last_number")
    numbers = e164.block_numbers(first, last)
    if len(numbers) > MAX_BLOCK_SIZE:
        raise Invalid(f"A block has at most {MAX_BLOCK_SIZE} numbers.", field="last_number")
    clash = await repository.overlapping_block(session, first=first, last=last)
    if clash is not None:
        raise Conflict(f"The numbers overlap block {clash.name}.", code="block_overlaps", field="first_number")
    ported = (
        await session.scalars(
            sa.select(PhoneNumber.e164).where(
                PhoneNumber.e164.between(first, last), sa.func.length(PhoneNumber.e164) == len(first)
            )
        )
    ).first()
    if ported is not None:
        raise Conflict(f"{ported} is a ported-in number already.", code="block_overlaps", field="first_number")
    block = NumberBlock(name=data.name, first_number=first, last_number=last, quarantine_days=data.quarantine_days)
    with action(session, "number_block.create"):
        session.add(block)
        await session.flush()
    # The numbers themselves are not audited one by one: the block's creation is the recorded act.
    now = utcnow()
    rows = [
        {"e164": f"+{n}", "block_id": block.id, "status": NumberStatus.FREE, "is_ported_in": False}
        | {"created_at": now, "updated_at": now}
        for n in numbers
    ]
    for start in range(0, len(rows), _INSERT_BATCH):
        await session.execute(sa.insert(PhoneNumber), rows[start : start + _INSERT_BATCH])
    return block


def _assign(number: PhoneNumber, phone_line_id: int) -> None:
    number.status = NumberStatus.ASSIGNED
    number.phone_line_id = phone_line_id
    number.assigned_at = utcnow()
    number.released_at = None
    number.quarantine_until = None


async def release_number(session: AsyncSession, *, phone_line_id: int) -> str | None:
    """Take back the line's number; it rests in quarantine (its block's days, ported: 90) before reuse."""
    released = await _release_numbers(session, [phone_line_id])
    return released[0] if released else None


async def _release_numbers(session: AsyncSession, phone_line_ids: Sequence[int]) -> list[str]:
    numbers = list((await repository.numbers_of_lines(session, phone_line_ids)).values())
    if not numbers:
        return []
    blocks = await repository.blocks(session, sorted({n.block_id for n in numbers if n.block_id is not None}))
    now = utcnow()
    with action(session, "number.release"):
        for number in numbers:
            block = blocks.get(number.block_id) if number.block_id is not None else None
            number.status = NumberStatus.QUARANTINED
            number.phone_line_id = None
            number.released_at = now
            number.quarantine_until = now + timedelta(days=block.quarantine_days if block else DEFAULT_QUARANTINE_DAYS)
        await session.flush()
    return [number.e164 for number in numbers]


async def port_in(session: AsyncSession, *, actor: Actor, phone_line_id: int, data: PortIn) -> PhoneNumber:
    """Give a line the number its member brought from another network (the port itself is done by the
    carriers; this records it). The number the line had before goes into quarantine."""
    actor.require(Role.OPERATOR)
    wanted = e164.normalise(data.number)
    line = await session.get(PhoneLine, phone_line_id, with_for_update=True)
    if line is None:
        raise NotFound(f"Phone line {phone_line_id} not found.")
    if line.state is PhoneLineState.TERMINATED:
        raise Conflict("A terminated line takes no number.", code="line_terminated")
    existing = await repository.number_by_e164(session, wanted, lock=True)
    if existing is not None and existing.phone_line_id == line.id:
        return existing
    if existing is not None and existing.block_id is not None:
        raise Conflict(f"{wanted} is in our own block; it is allocated, not ported.", code="number_in_block")
    now = utcnow()
    if existing is not None and not (
        existing.status is NumberStatus.QUARANTINED and existing.quarantine_until and existing.quarantine_until <= now
    ):
        raise Conflict(f"{wanted} is in use or in quarantine.", code="number_taken", field="number")
    await release_number(session, phone_line_id=line.id)
    with action(session, "number.port_in"):
        number = existing or PhoneNumber(e164=wanted, block_id=None, is_ported_in=True)
        number.is_ported_in = True
        number.ported_from = data.ported_from
        number.ported_at = now
        _assign(number, line.id)
        try:
            # A savepoint: a parallel port-in of the same number loses on the unique e164, cleanly.
            async with session.begin_nested():
                session.add(number)
                await session.flush()
        except IntegrityError:
            raise Conflict(f"{wanted} is in use or in quarantine.", code="number_taken", field="number") from None
    await _write_lines(session, [line], {line.id: number.e164}, new_passwords=False)
    return number


# --- phone lines ---------------------------------------------------------------------------------


async def _write_lines(
    session: AsyncSession, lines: Sequence[PhoneLine], numbers: Mapping[int, str | None], *, new_passwords: bool
) -> None:
    """The realtime rows of these lines as their state asks, with their numbers (by line id) as caller id;
    passwords are kept unless new ones are asked for (or a line has none)."""
    kept = {} if new_passwords else await endpoints.passwords(session, [line.extension for line in lines])
    await endpoints.write_many(
        session,
        [
            endpoints.rows_for(
                extension=line.extension,
                number=numbers.get(line.id),
                password=kept.get(line.extension) or new_sip_password(),
                suspended=line.state is PhoneLineState.SUSPENDED,
            )
            for line in lines
        ],
    )


async def _numbers_for(session: AsyncSession, wanted: Sequence[object], what: str) -> list[PhoneNumber]:
    """Free numbers for the ``wanted`` lines, in order; those the blocks cannot serve are logged."""
    numbers = await repository.take_free_numbers(session, now=utcnow(), count=len(wanted))
    for item in wanted[len(numbers) :]:
        log.warning("%s: no number block has a free number", what.format(item))
    return numbers


async def _create_lines(session: AsyncSession, wanted: Sequence[tuple[int, PhoneLineState]]) -> list[PhoneLine]:
    """New lines for these (contract id, state) pairs, each with a number, an extension and a new password."""
    if not wanted:
        return []
    numbers = await _numbers_for(session, [contract_id for contract_id, _ in wanted], "contract {} includes a phone")
    wanted = wanted[: len(numbers)]
    ids = await repository.next_line_ids(session, len(wanted))
    with action(session, "phone_line.create"):
        if ids is not None:
            # The ids first (PostgreSQL's sequence), so each line is inserted with its extension at once.
            lines = [
                PhoneLine(id=line_id, contract_id=contract_id, extension=extension_for(line_id), state=state)
                for line_id, (contract_id, state) in zip(ids, wanted, strict=True)
            ]
            session.add_all(lines)
        else:
            # SQLite has no sequence to draw from: insert under a placeholder, then name the extension.
            lines = [
                PhoneLine(contract_id=contract_id, extension="p" + secrets.token_hex(8), state=state)
                for contract_id, state in wanted
            ]
            session.add_all(lines)
            await session.flush()
            for line in lines:
                line.extension = extension_for(line.id)
        for line, number in zip(lines, numbers, strict=True):
            _assign(number, line.id)
        await session.flush()
    await _write_lines(
        session, lines, {line.id: number.e164 for line, number in zip(lines, numbers, strict=False)}, new_passwords=True
    )
    for line, number in zip(lines, numbers, strict=False):
        log.info(
            "phone line %s for contract %s: extension %s, number %s",
            line.id,
            line.contract_id,
            line.extension,
            number.e164,
        )
    return lines


async def _reopen(session: AsyncSession, wanted: Sequence[tuple[PhoneLine, PhoneLineState]]) -> None:
    """Terminated lines come back (their plan includes a phone again): a new number, a new password."""
    if not wanted:
        return
    numbers = await _numbers_for(session, [line.id for line, _ in wanted], "phone line {} cannot reopen")
    reopened = [line for (line, _), _ in zip(wanted, numbers, strict=False)]
    with action(session, "phone_line.reopen"):
        for (line, state), number in zip(wanted, numbers, strict=False):
            line.state = state
            line.terminated_at = None
            _assign(number, line.id)
        await session.flush()
    await _write_lines(
        session,
        reopened,
        {line.id: number.e164 for line, number in zip(reopened, numbers, strict=False)},
        new_passwords=True,
    )


async def _move(session: AsyncSession, lines: Sequence[PhoneLine], wanted: PhoneLineState) -> None:
    """Running lines change state: suspension and resumption rewrite their rows, termination removes them
    and releases their numbers."""
    with action(session, f"phone_line.{wanted.value}"):
        for line in lines:
            line.state = wanted
            if wanted is PhoneLineState.TERMINATED:
                line.terminated_at = utcnow()
        await session.flush()
    line_ids = [line.id for line in lines]
    if wanted in (PhoneLineState.SUSPENDED, PhoneLineState.TERMINATED):
        await request_teardowns(session, extensions=[line.extension for line in lines], reason=wanted.value)
    if wanted is PhoneLineState.TERMINATED:
        await endpoints.delete_many(session, [line.extension for line in lines])
        await _release_numbers(session, line_ids)
        await session.execute(sa.delete(PhoneRegistration).where(PhoneRegistration.phone_line_id.in_(line_ids)))
        return
    numbers = await repository.numbers_of_lines(session, line_ids)
    await _write_lines(session, lines, {i: n.e164 for i, n in numbers.items()}, new_passwords=False)


async def prune_teardowns(session: AsyncSession, *, retention_days: int, now: datetime | None = None) -> int:
    """Delete the requests to end calls done (carried out or given up) more than ``retention_days`` ago; pending
    ones stay until the registration watcher carries them out. Returns how many were deleted."""
    done_before = (now or utcnow()) - timedelta(days=retention_days)
    return await repository.delete_done_teardowns(session, done_before=done_before)


async def request_teardowns(session: AsyncSession, *, extensions: Sequence[str], reason: str) -> None:
    """Ask for these lines' live calls to be ended (emergency calls excepted) once this transaction commits:
    the registration watcher carries it out over AMI (voip/tasks.py). One multi-row insert for the lot."""
    if not extensions:
        return
    now = utcnow()
    await session.execute(
        sa.insert(CallTeardown),
        [
            {"extension": extension, "reason": reason, "requested_at": now, "attempts": 0, "calls_ended": 0}
            for extension in extensions
        ],
    )


async def on_contracts_changed(session: AsyncSession, events: Sequence[ContractChanged]) -> None:
    """Follow contracts' changes on their phone lines: realtime rows now, numbers released on termination.

    A batch of events (a bulk activation) is handled together: a fixed number of statements for the lot,
    not a round of them per contract.
    """
    contract_ids = [event.contract_id for event in events]
    # By plan id: after a plan change a contract's loaded ``plan`` may still be the old one.
    with_phone = await contracts.includes_phone(session, contract_ids=contract_ids)
    lines = await repository.lines_by_contracts(session, contract_ids, lock=True)
    create: list[tuple[int, PhoneLineState]] = []
    reopen: list[tuple[PhoneLine, PhoneLineState]] = []
    move: dict[PhoneLineState, list[PhoneLine]] = {}
    for event in events:
        wanted = state_for(event.status, includes_phone=with_phone.get(event.contract_id, False))
        line = lines.get(event.contract_id)
        if line is None:
            if wanted is not PhoneLineState.TERMINATED:
                create.append((event.contract_id, wanted))
        elif line.state is PhoneLineState.TERMINATED and wanted is not PhoneLineState.TERMINATED:
            reopen.append((line, wanted))
        elif line.state is not wanted:
            move.setdefault(wanted, []).append(line)
    await _create_lines(session, create)
    await _reopen(session, reopen)
    for state, moved in move.items():
        await _move(session, moved, state)


def install() -> None:
    """Subscribe voip to the contract events it follows (idempotent)."""
    subscribe(ContractChanged, on_contracts_changed)


# --- reading -------------------------------------------------------------------------------------


def _out(view: repository.PhoneLineView) -> PhoneLineOut:
    return PhoneLineOut(
        id=view.line.id,
        contract_id=view.line.contract_id,
        contract_number=view.contract_number,
        member_id=view.member_id,
        extension=view.line.extension,
        number=view.number,
        number_ported_in=view.number_ported_in,
        state=view.line.state,
        registration=RegistrationOut.model_validate(view.registration) if view.registration else None,
    )


async def get_phone_line(session: AsyncSession, *, actor: Actor, phone_line_id: int) -> PhoneLineOut:
    views = await repository.line_views(session, actor=actor, line_ids=[phone_line_id])
    if not views:
        raise NotFound(f"Phone line {phone_line_id} not found.")
    return _out(views[0])


async def phone_line_for_contract(session: AsyncSession, *, actor: Actor, contract_id: int) -> PhoneLineOut | None:
    views = await repository.line_views(session, actor=actor, contract_id=contract_id)
    return _out(views[0]) if views else None


async def phone_lines(session: AsyncSession, *, actor: Actor) -> list[PhoneLineOut]:
    """The phone lines the actor may see (a member: their own), with their registration status."""
    return [_out(view) for view in await repository.line_views(session, actor=actor)]


async def sip_credentials(session: AsyncSession, *, actor: Actor, phone_line_id: int) -> SipCredentials:
    """The line's SIP login, for its own member and for operators (the only ones who may see it)."""
    actor.require(Role.MEMBER, Role.OPERATOR)
    line = await get_phone_line(session, actor=actor, phone_line_id=phone_line_id)
    secret = await endpoints.password(session, line.extension)
    if secret is None:
        raise Conflict(f"Phone line {phone_line_id} has no SIP login (it is terminated).", code="no_sip_login")
    return SipCredentials(extension=line.extension, username=line.extension, password=secret, number=line.number)


async def record_registration(
    session: AsyncSession,
    *,
    extension: str,
    registered: bool,
    user_agent: str | None = None,
    round_trip_ms: int | None = None,
    contact_uri: str | None = None,
    at: datetime | None = None,
) -> PhoneRegistration | None:
    """Store what Asterisk reported about an extension's phone (the AMI listener calls this);
    ``since`` moves only when the phone's registered state changes (to ``at``, when Asterisk said when).
    None for an unknown extension. A line that is not active counts as not registered whatever is
    reported: suspension deletes its contacts from ps_contacts, which Asterisk's qualify state (and so
    its ContactStatus events) does not notice."""
    line = await repository.line_by_extension(session, extension)
    if line is None:
        log.info("registration report for unknown extension %s ignored", extension)
        return None
    if line.state is not PhoneLineState.ACTIVE:
        registered, user_agent, round_trip_ms, contact_uri = False, None, None, None
    now = utcnow()
    changed_at = min(at, now) if at is not None else now
    current = await repository.registration(session, line.id)
    if current is None:
        current = PhoneRegistration(phone_line_id=line.id, registered=registered, since=changed_at, updated_at=now)
        session.add(current)
    elif current.registered != registered:
        current.registered = registered
        current.since = changed_at
    current.user_agent = user_agent[:255] if user_agent else None
    current.round_trip_ms = round_trip_ms
    current.contact_uri = contact_uri[:511] if contact_uri else None
    current.updated_at = now
    await session.flush()
    return current
