"""Double-entry bookkeeping: posting balanced entries, reversing them, and reading balances.

Every other part of billing books through ``post``: it checks an entry (two or more lines, each a positive
debit or credit, debits equal to credits, accounts known and open on the entry's date, members where the
account is kept per member, one currency, EUR) and is idempotent by the entry's source (``invoice 42``
posted twice is booked once). Posted entries are never changed: ``reverse`` undoes one with an entry of
swapped sides that names it. Services only flush; the caller's unit of work commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.db import UTCDateTime, bulk_insert
from app.kit.errors import Conflict, Invalid, NotFound
from app.kit.events import ShareCapitalTransferred, SharePaymentRecorded, subscribe
from app.kit.time import utcnow
from app.members import service as members
from billing.ledger import repository
from billing.ledger.models import (
    LEDGER_CURRENCY,
    Account,
    JournalEntry,
    JournalLine,
    SourceKind,
    SystemAccount,
)
from billing.ledger.schemas import (
    SELECTED_LINE_COLUMNS,
    AccountBalance,
    AccountCreate,
    EntryDraft,
    EntryOut,
    LineDraft,
    LineOut,
    MemberBalances,
    Posting,
    PostingLine,
    TrialBalance,
)

LineKey = tuple[int, int | None, int, int]


# --- posting ---------------------------------------------------------------------------------------


def _lines(draft: EntryDraft | Posting) -> Sequence[LineDraft | PostingLine]:
    return draft.lines


def _check_shape(draft: EntryDraft | Posting) -> None:
    """The rules an entry must meet on its own, before any account is looked at."""
    if draft.currency != LEDGER_CURRENCY:
        raise Invalid(
            f"The ledger keeps {LEDGER_CURRENCY} only, not {draft.currency}.", code="ledger_currency", field="currency"
        )
    if len(draft.lines) < 2:
        raise Invalid("An entry needs at least two lines.", code="ledger_too_few_lines", field="lines")
    for n, line in enumerate(_lines(draft)):
        if line.debit_cents < 0 or line.credit_cents < 0 or (line.debit_cents == 0 and line.credit_cents == 0):
            raise Invalid(
                f"Line {n + 1}: amounts must be positive (debit {line.debit_cents}, credit {line.credit_cents}).",
                code="ledger_amount_not_positive",
                field=f"lines.{n}",
            )
        if line.debit_cents and line.credit_cents:
            raise Invalid(
                f"Line {n + 1} is a debit or a credit, not both.", code="ledger_line_both_sides", field=f"lines.{n}"
            )
    debits = sum(line.debit_cents for line in _lines(draft))
    credits = sum(line.credit_cents for line in _lines(draft))
    if debits != credits:
        raise Invalid(
            f"Debits ({debits} cents) and credits ({credits} cents) must be equal.",
            code="ledger_unbalanced",
            field="lines",
        )


def _check_lines(draft: EntryDraft | Posting, accounts: dict[str, Account]) -> set[int]:
    """The rules each line meets against its account; returns the members the entry names."""
    member_ids: set[int] = set()
    for n, line in enumerate(_lines(draft)):
        account = accounts.get(line.account)
        if account is None:
            raise Invalid(
                f"Line {n + 1}: there is no account {line.account}.", code="ledger_unknown_account", field=f"lines.{n}"
            )
        if account.closed_on is not None and draft.entry_date > account.closed_on:
            raise Invalid(
                f"Line {n + 1}: account {account.code} was closed on {account.closed_on.isoformat()}.",
                code="ledger_account_closed",
                field=f"lines.{n}",
            )
        if account.per_member and line.member_id is None:
            raise Invalid(
                f"Line {n + 1}: account {account.code} is kept per member; name the member.",
                code="ledger_member_required",
                field=f"lines.{n}.member_id",
            )
        if not account.per_member and line.member_id is not None:
            raise Invalid(
                f"Line {n + 1}: account {account.code} is not kept per member.",
                code="ledger_member_not_allowed",
                field=f"lines.{n}.member_id",
            )
        if line.member_id is not None:
            member_ids.add(line.member_id)
    return member_ids


async def _check_members(session: AsyncSession, member_ids: set[int]) -> None:
    missing = member_ids - await members.existing_member_ids(session, member_ids)
    if missing:
        shown = ", ".join(str(m) for m in sorted(missing)[:20])
        raise Invalid(f"No member {shown}.", code="ledger_unknown_member", field="lines")


async def _check_accounts(session: AsyncSession, draft: EntryDraft, accounts: dict[str, Account]) -> None:
    await _check_members(session, _check_lines(draft, accounts))


def _draft_keys(draft: EntryDraft | Posting, accounts: dict[str, Account]) -> list[LineKey] | None:
    keys: list[LineKey] = []
    for line in _lines(draft):
        account = accounts.get(line.account)
        if account is None:
            return None
        keys.append((account.id, line.member_id, line.debit_cents, line.credit_cents))
    return sorted(keys, key=lambda k: (k[0], k[1] or 0, k[2], k[3]))


def _entry_keys(entry: JournalEntry) -> list[LineKey]:
    keys = [(line.account_id, line.member_id, line.debit_cents, line.credit_cents) for line in entry.lines]
    return sorted(keys, key=lambda k: (k[0], k[1] or 0, k[2], k[3]))


def _replay(existing: JournalEntry, draft: EntryDraft | Posting, accounts: dict[str, Account]) -> JournalEntry:
    """The same source posted again: the entry already booked, if the new one says the same (date and lines)."""
    if existing.entry_date != draft.entry_date or _entry_keys(existing) != _draft_keys(draft, accounts):
        raise Conflict(
            f"{draft.source_kind.value} {draft.source_id} is booked already (entry {existing.id}) with other "
            "amounts or another date; correct it by a reversal and a new source.",
            code="ledger_source_conflict",
            entry_id=existing.id,
        )
    return existing


async def _post(session: AsyncSession, *, draft: EntryDraft, reverses_id: int | None) -> JournalEntry:
    _check_shape(draft)
    accounts = await repository.accounts_by_code(session, {line.account for line in draft.lines})
    existing = await repository.entry_by_source(session, draft.source_kind, draft.source_id)
    if existing is not None:
        return _replay(existing, draft, accounts)
    await _check_accounts(session, draft, accounts)
    entry = JournalEntry(
        entry_date=draft.entry_date,
        booked_at=utcnow(),
        text=draft.text,
        source_kind=draft.source_kind,
        source_id=draft.source_id,
        currency=draft.currency,
        reverses_id=reverses_id,
        lines=[
            JournalLine(
                account_id=accounts[line.account].id,
                member_id=line.member_id,
                debit_cents=line.debit_cents,
                credit_cents=line.credit_cents,
            )
            for line in draft.lines
        ],
    )
    if session.get_bind().dialect.name != "postgresql":
        # SQLite serialises writers, and its driver's savepoints are unreliable: a lost race is an error there.
        session.add(entry)
        await session.flush()
        return entry
    try:
        # A savepoint, so that losing a race for the same source leaves the caller's transaction usable.
        async with session.begin_nested():
            session.add(entry)
            await session.flush()
    except IntegrityError:
        concurrent = await repository.entry_by_source(session, draft.source_kind, draft.source_id)
        if concurrent is None:
            raise
        return _replay(concurrent, draft, accounts)
    return entry


async def post(session: AsyncSession, *, actor: Actor, entry: EntryDraft) -> JournalEntry:
    """Book ``entry`` and return it; if its source is booked already, return that entry instead.

    Refusals (``Invalid``, 422, by code): ``ledger_currency``, ``ledger_too_few_lines``,
    ``ledger_amount_not_positive``, ``ledger_line_both_sides``, ``ledger_unbalanced``, ``ledger_unknown_account``,
    ``ledger_account_closed``, ``ledger_member_required``, ``ledger_member_not_allowed``,
    ``ledger_unknown_member``, ``ledger_source_reserved``; ``Conflict`` (409) ``ledger_source_conflict`` when
    the source is booked with other lines or another date.
    """
    actor.require(Role.OPERATOR, Role.BOARD)
    if entry.source_kind is SourceKind.REVERSAL:
        raise Invalid("Reversals are posted by reversing an entry.", code="ledger_source_reserved", field="source_kind")
    with action(session, "ledger.post"):
        return await _post(session, draft=entry, reverses_id=None)


async def post_many(session: AsyncSession, *, actor: Actor, entries: Sequence[EntryDraft | Posting]) -> list[int]:
    """Book many entries at once, set-based (a bill run's invoices), and return their ids in order.

    The same rules and refusals as ``post``, checked on the whole batch before anything is written (one query
    for the accounts, one for the members, one for sources booked already); then the entries and their lines
    are written in two multi-row inserts, not one ORM object each. A source booked already returns that
    entry's id if it says the same, else ``ledger_source_conflict``; a source twice in the batch is
    ``ledger_source_twice``. Unlike ``post``, a lost race for a source fails the whole batch (callers hold
    a lock on what they book, as the bill run does). Entries written this way are not in the audit log one
    by one: the caller records the action that caused them.
    """
    actor.require(Role.OPERATOR, Role.BOARD)
    if not entries:
        return []
    sources: set[tuple[SourceKind, str]] = set()
    for draft in entries:
        if draft.source_kind is SourceKind.REVERSAL:
            raise Invalid(
                "Reversals are posted by reversing an entry.", code="ledger_source_reserved", field="source_kind"
            )
        _check_shape(draft)
        key: tuple[SourceKind, str] = (draft.source_kind, draft.source_id)
        if key in sources:
            raise Invalid(
                f"{draft.source_kind.value} {draft.source_id} is in the batch twice.", code="ledger_source_twice"
            )
        sources.add(key)
    accounts = await repository.accounts_by_code(session, {line.account for e in entries for line in _lines(e)})
    member_ids: set[int] = set()
    for draft in entries:
        member_ids |= _check_lines(draft, accounts)
    await _check_members(session, member_ids)
    booked: dict[tuple[SourceKind, str], int] = {}
    for kind in {draft.source_kind for draft in entries}:
        ids = [d.source_id for d in entries if d.source_kind is kind]
        for source_id in await repository.booked_source_ids(session, kind, ids):
            booked[(kind, source_id)] = 0
    for draft in entries:
        key = (draft.source_kind, draft.source_id)
        if key in booked:
            existing = await repository.entry_by_source(session, draft.source_kind, draft.source_id)
            if existing is not None:
                booked[key] = _replay(existing, draft, accounts).id
    fresh = [draft for draft in entries if (draft.source_kind, draft.source_id) not in booked]
    now = utcnow()
    entry_ids = await bulk_insert(
        session,
        JournalEntry.__table__,  # type: ignore[arg-type]
        [
            {
                "entry_date": d.entry_date,
                "booked_at": now,
                "text": d.text,
                "source_kind": d.source_kind.value,
                "source_id": d.source_id,
                "currency": d.currency,
                "reverses_id": None,
            }
            for d in fresh
        ],
        ids=True,
    )
    await bulk_insert(
        session,
        JournalLine.__table__,  # type: ignore[arg-type]
        [
            {
                "entry_id": entry_id,
                "account_id": accounts[line.account].id,
                "member_id": line.member_id,
                "debit_cents": line.debit_cents,
                "credit_cents": line.credit_cents,
            }
            for entry_id, d in zip(entry_ids, fresh, strict=True)
            for line in d.lines
        ],
    )
    new_ids = iter(entry_ids)
    return [booked.get((d.source_kind, d.source_id)) or next(new_ids) for d in entries]


def _staging_table(name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("source_kind", sa.String(32)),
        sa.Column("source_id", sa.String(32)),
        sa.Column("entry_date", sa.Date),
        sa.Column("text", sa.String(200)),
        sa.Column("position", sa.Integer),
        sa.Column("account_id", sa.BigInteger),
        sa.Column("member_id", sa.BigInteger),
        sa.Column("debit_cents", sa.BigInteger),
        sa.Column("credit_cents", sa.BigInteger),
        prefixes=["TEMPORARY"],
    )


async def _first(session: AsyncSession, query: sa.Select[Any]) -> Any:
    return (await session.execute(query.limit(1))).first()


async def _check_staged(session: AsyncSession, staged: sa.Table) -> None:
    """``post_many``'s rules, each one query over every staged line at once."""
    s = staged.c
    if await _first(session, sa.select(s.source_id).where(s.source_kind == SourceKind.REVERSAL.value)):
        raise Invalid("Reversals are posted by reversing an entry.", code="ledger_source_reserved", field="source_kind")
    bad = await _first(
        session,
        sa.select(s.source_kind, s.source_id, s.debit_cents, s.credit_cents).where(
            sa.or_(
                s.debit_cents < 0,
                s.credit_cents < 0,
                sa.and_(s.debit_cents == 0, s.credit_cents == 0),
                sa.and_(s.debit_cents != 0, s.credit_cents != 0),
            )
        ),
    )
    if bad:
        raise Invalid(
            f"{bad.source_kind} {bad.source_id}: a line is a positive debit or a positive credit "
            f"(debit {bad.debit_cents}, credit {bad.credit_cents}).",
            code="ledger_amount_not_positive",
            field="lines",
        )
    bad = await _first(
        session,
        sa.select(s.source_kind, s.source_id, sa.func.sum(s.debit_cents), sa.func.sum(s.credit_cents))
        .group_by(s.source_kind, s.source_id)
        .having(
            sa.or_(
                sa.func.count() < 2,
                sa.func.sum(s.debit_cents) != sa.func.sum(s.credit_cents),
                sa.func.count(sa.distinct(s.entry_date)) != 1,
            )
        ),
    )
    if bad:
        raise Invalid(
            f"{bad[0]} {bad[1]} does not make an entry: at least two lines on one date, debits ({bad[2]} cents) "
            f"equal to credits ({bad[3]} cents).",
            code="ledger_unbalanced",
            field="lines",
        )
    bad = await _first(
        session,
        sa.select(s.source_kind, s.source_id, s.account_id, Account.code)
        .select_from(staged)
        .outerjoin(Account, Account.id == s.account_id)
        .where(
            sa.or_(
                Account.id.is_(None),
                Account.closed_on < s.entry_date,
                Account.per_member != s.member_id.is_not(None),
            )
        ),
    )
    if bad:
        raise Invalid(
            f"{bad.source_kind} {bad.source_id}: account {bad.code or bad.account_id} is unknown, closed on the "
            "entry's date, or kept per member where the line names none (or the reverse).",
            code="ledger_account_refused",
            field="lines",
        )
    booked = await _first(
        session,
        sa.select(JournalEntry.id, s.source_kind, s.source_id).join(
            JournalEntry, sa.and_(JournalEntry.source_kind == s.source_kind, JournalEntry.source_id == s.source_id)
        ),
    )
    if booked:
        raise Conflict(
            f"{booked.source_kind} {booked.source_id} is booked already (entry {booked.id}).",
            code="ledger_source_conflict",
            entry_id=booked.id,
        )


async def post_selected(session: AsyncSession, *, actor: Actor, lines: sa.Select[Any]) -> int:
    """Book the entries a query describes, set-based inside the database (a bill run's 100,000 invoices), and
    return how many. ``lines`` yields one row per posting line with the columns ``SELECTED_LINE_COLUMNS``
    (in that order); the lines of one source (kind and id) are one entry, in ``position`` order.

    The rows are staged in a temporary table and checked there before anything is written, one query per
    rule, with the rules of ``post_many``: positive one-sided lines, at least two lines on one date that
    balance, known accounts open on the date, members exactly on the accounts kept per member; a source
    booked already is ``ledger_source_conflict`` (callers post what they issued in the same transaction).
    Then two INSERT ... SELECT write the entries and their lines. Not in the audit log one by one: the
    caller records the action that caused them."""
    actor.require(Role.OPERATOR, Role.BOARD)
    staged = _staging_table(f"ledger_staged_{secrets.token_hex(4)}")
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        # Sorts and hashes over hundreds of thousands of lines in memory, for this transaction only.
        await connection.execute(sa.text("SET LOCAL work_mem = '64MB'"))
    await connection.run_sync(staged.create)
    await connection.execute(sa.insert(staged).from_select(list(SELECTED_LINE_COLUMNS), lines))
    if connection.dialect.name == "postgresql":
        await connection.execute(sa.text(f"ANALYZE {staged.name}"))  # temporary tables get no statistics otherwise
    await _check_staged(session, staged)
    s = staged.c
    entries = (
        sa.select(
            sa.func.min(s.entry_date),
            sa.literal(utcnow(), UTCDateTime()),
            sa.func.min(s.text),
            s.source_kind,
            s.source_id,
            sa.literal(LEDGER_CURRENCY),
        )
        .group_by(s.source_kind, s.source_id)
        .order_by(s.source_kind, s.source_id)
    )
    result = await connection.execute(
        sa.insert(JournalEntry.__table__).from_select(  # type: ignore[arg-type]
            ["entry_date", "booked_at", "text", "source_kind", "source_id", "currency"], entries
        )
    )
    written = (
        sa.select(JournalEntry.id, s.account_id, s.member_id, s.debit_cents, s.credit_cents)
        .join(JournalEntry, sa.and_(JournalEntry.source_kind == s.source_kind, JournalEntry.source_id == s.source_id))
        .order_by(JournalEntry.id, s.position, s.account_id)
    )
    await connection.execute(
        sa.insert(JournalLine.__table__).from_select(  # type: ignore[arg-type]
            ["entry_id", "account_id", "member_id", "debit_cents", "credit_cents"], written
        )
    )
    # Dropped only after success: after an error the transaction is rolled back, and the table with it.
    await connection.run_sync(staged.drop)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def reverse(
    session: AsyncSession, *, actor: Actor, entry_id: int, reversed_on: date, text: str | None = None
) -> JournalEntry:
    """Undo entry ``entry_id`` by an entry on ``reversed_on`` with every line on the other side (Storno).

    An entry is reversed at most once (``ledger_already_reversed``, 409); a reversal cannot be dated before
    the entry it reverses (``ledger_reversal_before_entry``).
    """
    actor.require(Role.OPERATOR, Role.BOARD)
    original = await repository.entry(session, entry_id)
    if original is None:
        raise NotFound(f"Journal entry {entry_id} not found.", code="ledger_entry_not_found")
    reversed_by = (await repository.reversal_ids(session, [original.id])).get(original.id)
    if reversed_by is not None:
        raise Conflict(
            f"Entry {entry_id} is reversed already by entry {reversed_by}.",
            code="ledger_already_reversed",
            entry_id=reversed_by,
        )
    if reversed_on < original.entry_date:
        raise Invalid(
            f"A reversal cannot precede the entry ({original.entry_date.isoformat()}).",
            code="ledger_reversal_before_entry",
            field="reversed_on",
        )
    codes = await repository.account_codes(session, {line.account_id for line in original.lines})
    draft = EntryDraft(
        entry_date=reversed_on,
        text=(text or f"Storno {original.document_number}: {original.text}")[:200],
        source_kind=SourceKind.REVERSAL,
        source_id=str(original.id),
        currency=original.currency,
        lines=[
            LineDraft(
                account=codes[line.account_id],
                debit_cents=line.credit_cents,
                credit_cents=line.debit_cents,
                member_id=line.member_id,
            )
            for line in original.lines
        ],
    )
    with action(session, "ledger.reverse"):
        return await _post(session, draft=draft, reverses_id=original.id)


async def reverse_source(
    session: AsyncSession, *, actor: Actor, kind: SourceKind, source_id: str, reversed_on: date, text: str | None = None
) -> JournalEntry | None:
    """Undo what was booked for source ``kind`` ``source_id`` (``reverse``), on ``reversed_on`` or the entry's
    own date if that is later; None if nothing was booked for it. Idempotent: an entry reversed already
    returns its reversal."""
    original = await repository.entry_by_source(session, kind, source_id)
    if original is None:
        return None
    reversed_by = (await repository.reversal_ids(session, [original.id])).get(original.id)
    if reversed_by is not None:
        return await repository.entry(session, reversed_by)
    on = max(reversed_on, original.entry_date)
    return await reverse(session, actor=actor, entry_id=original.id, reversed_on=on, text=text)


# --- the chart of accounts -------------------------------------------------------------------------


async def list_accounts(session: AsyncSession, *, actor: Actor) -> list[Account]:
    actor.require(Role.OPERATOR, Role.BOARD)
    return await repository.accounts(session)


async def _system_accounts(session: AsyncSession) -> dict[SystemAccount, Account]:
    found = await repository.system_accounts(session)
    missing = set(SystemAccount) - set(found)
    if missing:
        raise RuntimeError(f"ledger system accounts missing: {', '.join(sorted(missing))}")
    return found


async def system_account_codes(session: AsyncSession) -> dict[SystemAccount, str]:
    """The codes of the accounts the software posts into, by their key. Every key has an account (seeded by
    the migration); a missing one is a broken installation."""
    return {key: account.code for key, account in (await _system_accounts(session)).items()}


async def system_account_ids(session: AsyncSession) -> dict[SystemAccount, int]:
    """The ids of the accounts the software posts into, by their key (for ``post_selected``)."""
    return {key: account.id for key, account in (await _system_accounts(session)).items()}


async def create_account(session: AsyncSession, *, actor: Actor, data: AccountCreate) -> Account:
    """The board adds an account to the chart (for hand postings: bank charges, other expenses)."""
    actor.require(Role.BOARD)
    if await repository.account_by_code(session, data.code) is not None:
        raise Conflict(f"Account {data.code} exists already.", code="ledger_account_exists")
    account = Account(code=data.code, name=data.name, kind=data.kind, per_member=data.per_member)
    with action(session, "ledger.account_create"):
        session.add(account)
        await session.flush()
    return account


async def close_account(session: AsyncSession, *, actor: Actor, code: str, closed_on: date) -> Account:
    """No posting dated after ``closed_on`` may use the account. The software's own accounts stay open."""
    actor.require(Role.BOARD)
    account = await repository.account_by_code(session, code, lock=True)
    if account is None:
        raise NotFound(f"Account {code} not found.", code="ledger_account_not_found")
    if account.system_key is not None:
        raise Conflict(
            f"Account {code} is where the software books {account.system_key.value}.", code="ledger_system_account"
        )
    if account.closed_on is not None:
        raise Conflict(f"Account {code} was closed on {account.closed_on.isoformat()}.", code="ledger_account_closed")
    with action(session, "ledger.account_close"):
        account.closed_on = closed_on
        await session.flush()
    return account


# --- reading ---------------------------------------------------------------------------------------


def _balance(account: Account, debit: int, credit: int) -> AccountBalance:
    return AccountBalance(
        code=account.code,
        name=account.name,
        kind=account.kind,
        debit_cents=debit,
        credit_cents=credit,
        balance_cents=debit - credit,
    )


async def trial_balance(session: AsyncSession, *, actor: Actor, on: date | None = None) -> TrialBalance:
    """Every account's debit and credit totals and balance (debits minus credits) up to and including ``on``
    (all dates if None). Because every entry balances, the balances sum to zero."""
    actor.require(Role.BOARD)
    rows = [_balance(a, d, c) for a, d, c in await repository.totals(session, on=on)]
    return TrialBalance(
        on=on,
        currency=LEDGER_CURRENCY,
        accounts=rows,
        debit_cents=sum(r.debit_cents for r in rows),
        credit_cents=sum(r.credit_cents for r in rows),
        balance_cents=sum(r.balance_cents for r in rows),
    )


async def member_balances(
    session: AsyncSession, *, actor: Actor, member_id: int, on: date | None = None
) -> MemberBalances:
    """One member's totals on each per-member account (receivables, capital, dividends payable) up to ``on``.
    Staff may read anyone's; a member only their own."""
    if actor.is_member and actor.member_id != member_id:
        raise NotFound(f"Member {member_id} not found.")
    if not actor.is_member:
        actor.require(Role.OPERATOR, Role.BOARD)
    rows = await repository.totals(session, on=on, member_id=member_id, per_member_only=True)
    return MemberBalances(member_id=member_id, on=on, accounts=[_balance(a, d, c) for a, d, c in rows])


async def account_balance(
    session: AsyncSession, *, actor: Actor, account: SystemAccount | str, on: date | None = None
) -> AccountBalance:
    """One account's totals up to ``on``, by system key or code."""
    actor.require(Role.OPERATOR, Role.BOARD)
    code = (await system_account_codes(session))[account] if isinstance(account, SystemAccount) else account
    for row_account, debit, credit in await repository.totals(session, on=on):
        if row_account.code == code:
            return _balance(row_account, debit, credit)
    raise NotFound(f"Account {code} not found.", code="ledger_account_not_found")


async def entries_out(session: AsyncSession, entries: Sequence[JournalEntry]) -> list[EntryOut]:
    """Posted entries as the API shows them, with account codes and the id of any reversal."""
    codes = await repository.account_codes(session, {line.account_id for e in entries for line in e.lines})
    reversals = await repository.reversal_ids(session, [e.id for e in entries])
    return [
        EntryOut(
            id=e.id,
            entry_date=e.entry_date,
            booked_at=e.booked_at,
            text=e.text,
            source_kind=e.source_kind,
            source_id=e.source_id,
            document_number=e.document_number,
            currency=e.currency,
            reverses_id=e.reverses_id,
            reversed_by_id=reversals.get(e.id),
            lines=[
                LineOut(
                    account=codes[line.account_id],
                    debit_cents=line.debit_cents,
                    credit_cents=line.credit_cents,
                    member_id=line.member_id,
                )
                for line in e.lines
            ],
        )
        for e in entries
    ]


async def search_entries(
    session: AsyncSession, *, actor: Actor, filters: repository.EntryFilter, limit: int, offset: int
) -> tuple[list[EntryOut], int]:
    """The journal in booking order (entry date, then id), filtered; board only."""
    actor.require(Role.BOARD)
    entries, total = await repository.search_entries(session, filters=filters, limit=limit, offset=offset)
    return await entries_out(session, entries), total


async def get_entry(session: AsyncSession, *, actor: Actor, entry_id: int) -> EntryOut:
    actor.require(Role.BOARD)
    entry = await repository.entry(session, entry_id)
    if entry is None:
        raise NotFound(f"Journal entry {entry_id} not found.", code="ledger_entry_not_found")
    return (await entries_out(session, [entry]))[0]


def install() -> None:
    """Book share payments and transfers of capital as members record them (idempotent)."""
    from billing.ledger import share_payments

    subscribe(SharePaymentRecorded, share_payments.on_share_payments_recorded)
    subscribe(ShareCapitalTransferred, share_payments.on_share_capital_transferred)
