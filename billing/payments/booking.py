"""The one way payments post into the ledger: a two-line entry through ``billing.ledger.service.post``."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Actor
from billing.ledger import service as ledger
from billing.ledger.models import SourceKind, SystemAccount
from billing.ledger.schemas import EntryDraft, LineDraft

# The accounts payments touch that are kept per member (every line names the member).
PER_MEMBER = frozenset({SystemAccount.RECEIVABLES, SystemAccount.DIVIDENDS_PAYABLE, SystemAccount.CAPITAL_PAYABLE})


_CODES_KEY = "payments_account_codes"


async def account_codes(session: AsyncSession) -> dict[SystemAccount, str]:
    """The system accounts' codes, read once per session (a statement import books thousands of entries)."""
    codes = session.info.get(_CODES_KEY)
    if codes is None:
        codes = session.info[_CODES_KEY] = await ledger.system_account_codes(session)
    return codes  # type: ignore[no-any-return]


async def book(
    session: AsyncSession,
    *,
    actor: Actor,
    kind: SourceKind,
    source_id: str,
    on: date,
    text: str,
    debit: SystemAccount,
    credit: SystemAccount,
    cents: int,
    member_id: int | None,
) -> None:
    """Debit ``debit`` and credit ``credit`` with ``cents`` on ``on``; the member goes on the per-member side."""
    codes = await account_codes(session)
    await ledger.post(
        session,
        actor=actor,
        entry=EntryDraft(
            entry_date=on,
            text=text[:200],
            source_kind=kind,
            source_id=source_id,
            lines=[
                LineDraft(
                    account=codes[debit], debit_cents=cents, member_id=member_id if debit in PER_MEMBER else None
                ),
                LineDraft(
                    account=codes[credit], credit_cents=cents, member_id=member_id if credit in PER_MEMBER else None
                ),
            ],
        ),
    )
