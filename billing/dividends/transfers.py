"""Paying dividends and leaving members' capital out by credit transfer: the booked decision's payouts
(``service.payout_instructions``) and the §73 payouts due (``payouts.capital_payout_instructions``) go into one
pain.001 file through ``billing.payments.sepa.pay_out``, which books each: dividends payable (or capital
payable) to bank, for the member.

A leaving member whose capital the file pays out gets their credit (``billing.payments.credit``) back in the
same file, to the same account: after leaving there is no invoice to set it off on.

The account paid to is the IBAN of the member's mandate (the account they gave the coop; a lapsed mandate's
account is still theirs to be paid to, a revoked one is not). A member without one waits, listed in the
report, until they give one. Paid once: every transfer's end-to-end id names its source (``DIV-<allocation>``,
``CAP-<payout>``), and payments refuses an id it paid before; capital payouts are marked handed over.

A transfer the bank rejects (pain.002) counts as not paid: payments reverses its booking and no longer counts
its id as paid, so a dividend is in the next file again by itself, and a capital payout is marked booked again
(``on_payouts_rejected``) for ``capital_payout_instructions`` to offer it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Actor, Role
from app.kit.events import subscribe
from app.members import service as members
from app.settings import Settings
from billing.dividends import payouts, repository, service
from billing.dividends.schemas import PayoutInstruction, PayOutReport, WaitingPayout
from billing.payments import credit, mandates, sepa
from billing.payments import repository as payments_repository
from billing.payments.schemas import PayoutInstruction as Transfer
from billing.payments.schemas import SepaFileOut
from billing.payments.status_reports import PayoutRejected

LIABILITIES = {"dividend": "dividends_payable", "capital_payout": "capital_payable"}
PREFIXES = {"dividend": "DIV", "capital_payout": "CAP"}


def end_to_end_id(instruction: PayoutInstruction) -> str:
    """``DIV-<allocation id>`` or ``CAP-<capital payout id>``: unique per source, so paid only once."""
    return f"{PREFIXES[instruction.kind]}-{instruction.source_id}"


async def pay_out(
    session: AsyncSession, *, actor: Actor, settings: Settings, decision_id: int, execution_date: date
) -> PayOutReport:
    """One credit transfer file for the decision's dividend payouts and the capital payouts due by
    ``execution_date``; members without an account wait. Run again, it pays only what is new."""
    actor.require(Role.BOARD)
    await service.get_decision(session, actor=actor, decision_id=decision_id)
    due = await service.payout_instructions(session, decision_id)
    due += await payouts.capital_payout_instructions(session, due_by=execution_date)
    paid_before = await payments_repository.known_payout_refs(session, [end_to_end_id(i) for i in due])
    transfers: list[Transfer] = []
    waiting: list[WaitingPayout] = []
    for instruction in due:
        if end_to_end_id(instruction) in paid_before:
            continue
        mandate = await mandates.current(session, actor=actor, member_id=instruction.member_id)
        if mandate is None or mandates.state(mandate, execution_date) == "revoked":
            waiting.append(WaitingPayout.model_validate(instruction, from_attributes=True))
            continue
        transfers.append(
            Transfer(
                member_id=instruction.member_id,
                name=mandate.debtor_name,
                iban=mandate.iban,
                bic=mandate.bic,
                amount_cents=instruction.amount_cents,
                reference=end_to_end_id(instruction),
                remittance=instruction.reference,
                execution_date=execution_date,
                liability=LIABILITIES[instruction.kind],  # type: ignore[arg-type]
            )
        )
    credit_back = await _credit_of_leavers(session, due=due, transfers=transfers, execution_date=execution_date)
    transfers += credit_back
    file_id = None
    if transfers:
        sepa_file = await sepa.pay_out(session, actor=actor, settings=settings, instructions=transfers)
        file_id = sepa_file.id
        paid = {t.reference for t in transfers}
        handed = [i.source_id for i in due if i.kind == "capital_payout" and end_to_end_id(i) in paid]
        await payouts.mark_handed_over(session, payout_ids=handed)
    return PayOutReport(
        file_id=file_id,
        paid=len(transfers),
        paid_cents=sum(t.amount_cents for t in transfers),
        paid_before=len(paid_before),
        waiting=waiting,
        waiting_cents=sum(w.amount_cents for w in waiting),
        credit_paid_cents=sum(t.amount_cents for t in credit_back),
    )


async def _credit_of_leavers(
    session: AsyncSession, *, due: Sequence[PayoutInstruction], transfers: Sequence[Transfer], execution_date: date
) -> list[Transfer]:
    """A leaving member whose capital this file pays out is paid their credit back with it (they get no
    invoice any more to set it off on), to the same account: one more transfer each (``GH-…``)."""
    paid = {t.reference: t for t in transfers}
    leaving = {
        paid[end_to_end_id(i)].member_id: paid[end_to_end_id(i)]
        for i in due
        if i.kind == "capital_payout" and end_to_end_id(i) in paid
    }
    if not leaving:
        return []
    back = []
    for member_id, cents in sorted((await credit.balances(session, list(leaving))).items()):
        to = leaving[member_id]
        back.append(
            await credit.payback_instruction(
                session,
                member=await members.get_member_for_link(session, member_id=member_id),
                cents=cents,
                name=to.name,
                iban=to.iban,
                bic=to.bic,
                execution_date=execution_date,
            )
        )
    return back


async def payout_files(session: AsyncSession, *, actor: Actor, decision_id: int) -> list[SepaFileOut]:
    """The credit transfer files that paid the decision's dividends (with any capital payouts they carried),
    newest first; each is downloaded as stored (``/payments/files/{id}/xml``)."""
    await service.get_decision(session, actor=actor, decision_id=decision_id)
    refs = repository.allocation_refs(decision_id, PREFIXES["dividend"])
    return [SepaFileOut.model_validate(f) for f in await payments_repository.files_paying(session, refs)]


async def on_payouts_rejected(session: AsyncSession, events: Sequence[PayoutRejected]) -> None:
    """Capital payouts whose transfer the bank rejected are offered for the next pay-out again."""
    prefix = f"{PREFIXES['capital_payout']}-"
    ids = [
        int(e.end_to_end_id.removeprefix(prefix))
        for e in events
        if e.end_to_end_id.startswith(prefix) and e.end_to_end_id.removeprefix(prefix).isdigit()
    ]
    if ids:
        await payouts.mark_handed_over(session, payout_ids=ids, handed_over=False)


def install() -> None:
    """Follow payouts the bank rejected (idempotent); called by ``app.db.load_models``."""
    subscribe(PayoutRejected, on_payouts_rejected)
