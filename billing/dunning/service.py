"""Dunning: from overdue invoices to a reminder, a warning and the suspension of service, and back to
service when the member has paid.

The rules (amounts and days are settings, DOMAIN.md "Payments"):

* Arrears are the open amounts of a member's invoices past their due date; below ``dunning_minimum_cents``
  nobody is dunned.
* A **reminder** goes out ``dunning_reminder_after_days`` after the oldest overdue due date; a **warning**
  ``dunning_warning_after_days`` after the reminder. Each gives ``dunning_pay_within_days`` to pay and may
  carry a fee (booked to the member's receivable against the fees account, outside VAT: a dunning fee is
  damages, not a service).
* **Suspension** (§61 TKG) needs arrears of at least ``dunning_suspension_min_cents`` (100 EUR by law) and a
  warning that announced it at least two weeks ahead (``dunning_suspension_notice_days`` ≥ 14). A warning
  for less announces nothing; if the arrears later reach the threshold, a new warning announces it. The
  member's active contracts are suspended through the contracts domain (so RADIUS, the router and Asterisk
  follow; the suspended dialplan context still lets emergency calls through); the notice records which
  contracts it suspended.
* **Payment**: once the arrears are below the suspension threshold the contracts the suspension stopped are
  resumed (those still suspended); once nothing is overdue, every open notice of the member is settled.

``run`` does one pass for a day; it is idempotent for the day (a second pass finds every step taken).
``run_due`` is that pass over what the invoices say is overdue (``overdue_items``); the CLI, the API and the
daily loop call it. A payment allocated to invoices announces ``InvoicesSettled`` and ``follow_payment``
resumes (and settles) at once in the payment's transaction, instead of at the next run.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.kit.actor import Actor, Role
from app.kit.events import subscribe
from app.kit.time import local_today
from app.settings import Settings, get_settings
from billing.dunning import repository
from billing.dunning.models import DunningLevel, DunningNotice, DunningStatus
from billing.dunning.schemas import DunningReport, NoticeOut, OverdueItem, Step
from billing.ledger import service as ledger
from billing.ledger.models import SourceKind, SystemAccount
from billing.ledger.schemas import EntryDraft, LineDraft
from billing.payments import credit, open_items
from billing.payments.open_items import InvoicesSettled

FEES = {
    DunningLevel.REMINDER: "dunning_reminder_fee_cents",
    DunningLevel.WARNING: "dunning_warning_fee_cents",
    DunningLevel.SUSPENSION: "dunning_suspension_fee_cents",
}
TEXTS = {
    DunningLevel.REMINDER: "Zahlungserinnerung",
    DunningLevel.WARNING: "Mahnung",
    DunningLevel.SUSPENSION: "Sperre wegen Zahlungsverzug",
}


def arrears(items: Iterable[OverdueItem], today: date) -> tuple[tuple[OverdueItem, ...], int]:
    """The items overdue on ``today`` (oldest first) and their open total."""
    due = tuple(sorted((i for i in items if i.due_on < today and i.open_cents > 0), key=lambda i: (i.due_on, i.number)))
    return due, sum(item.open_cents for item in due)


def may_suspend_now(settings: Settings, arrears_cents: int) -> bool:
    """§61 (3) TKG: service may be suspended for arrears of at least the threshold (100 EUR) only."""
    return arrears_cents >= settings.dunning_suspension_min_cents


def next_step(
    settings: Settings, *, today: date, member_id: int, items: Sequence[OverdueItem], latest: DunningNotice | None
) -> Step | None:
    """The notice the rules call for today for one member, given their overdue items and their latest open
    notice (None: no open dunning), or None when nothing is due yet."""
    due, total = arrears(items, today)
    if not due or total < settings.dunning_minimum_cents:
        return None
    level: DunningLevel | None = None
    if latest is None:
        if due[0].due_on + timedelta(days=settings.dunning_reminder_after_days) <= today:
            level = DunningLevel.REMINDER
    elif latest.level == DunningLevel.REMINDER:
        if latest.issued_on + timedelta(days=settings.dunning_warning_after_days) <= today:
            level = DunningLevel.WARNING
    elif latest.level == DunningLevel.WARNING:
        may_suspend = may_suspend_now(settings, total)
        if latest.suspension_on is not None and latest.suspension_on <= today and may_suspend:
            level = DunningLevel.SUSPENSION
        elif (
            latest.suspension_on is None
            and may_suspend
            and latest.issued_on + timedelta(days=settings.dunning_warning_after_days) <= today
        ):
            # The first warning was for too little to announce a suspension; now it may.
            level = DunningLevel.WARNING
    elif latest.level == DunningLevel.SUSPENSION:
        resumed_on = latest.resumed_on
        # Service came back on a partial payment and the arrears grew again: a new suspension needs a new
        # announcement.
        if (
            resumed_on is not None
            and may_suspend_now(settings, total)
            and resumed_on + timedelta(days=settings.dunning_warning_after_days) <= today
        ):
            level = DunningLevel.WARNING
    if level is None:
        return None
    suspension_on: date | None = None
    if level is DunningLevel.WARNING and may_suspend_now(settings, total):
        suspension_on = today + timedelta(days=settings.dunning_suspension_notice_days)
    elif level is DunningLevel.SUSPENSION:
        suspension_on = today
    return Step(
        member_id=member_id,
        level=level,
        items=due,
        arrears_cents=total,
        fee_cents=getattr(settings, FEES[level]),
        pay_by=today + timedelta(days=settings.dunning_pay_within_days),
        suspension_on=suspension_on,
    )


async def run(
    session: AsyncSession, *, actor: Actor, settings: Settings, today: date, overdue: Sequence[OverdueItem]
) -> DunningReport:
    """One dunning pass for ``today`` over every member's overdue items (all open items past due; members
    without any are settled): resumes and settles what was paid, then issues the notices due."""
    actor.require(Role.OPERATOR, Role.BOARD)
    by_member: dict[int, list[OverdueItem]] = {}
    for item in overdue:
        by_member.setdefault(item.member_id, []).append(item)
    open_notices = await repository.open_notices(session)
    report = DunningReport()
    await _follow_payments(
        session,
        actor=actor,
        settings=settings,
        today=today,
        by_member=by_member,
        open_notices=open_notices,
        report=report,
    )
    steps = []
    for member_id in sorted(by_member):
        notices = [n for n in open_notices.get(member_id, []) if n.status is DunningStatus.OPEN]
        step = next_step(
            settings,
            today=today,
            member_id=member_id,
            items=by_member[member_id],
            latest=notices[-1] if notices else None,
        )
        if step is not None:
            steps.append(step)
    await _issue(session, actor=actor, settings=settings, today=today, steps=steps, report=report)
    return report


async def overdue_items(
    session: AsyncSession, today: date, member_ids: Collection[int] | None = None
) -> list[OverdueItem]:
    """What dunning reads: the issued invoices past their due date on ``today`` with an open amount (of
    ``member_ids``, or everyone's), from the invoice table and payments' open items."""
    return [
        OverdueItem(
            invoice_id=item.invoice_id,
            number=item.number,
            member_id=item.member_id,
            due_on=item.due_on,
            open_cents=item.open_cents,
        )
        for item in await open_items.open_items(session, member_ids)
        if item.due_on is not None and item.due_on < today
    ]


async def run_due(session: AsyncSession, *, actor: Actor, settings: Settings, today: date) -> DunningReport:
    """The dunning pass for ``today`` over every overdue invoice, once the members' credit went to their
    arrears (``billing.payments.credit.apply``): nobody is dunned for what their own credit covers."""
    actor.require(Role.OPERATOR, Role.BOARD)
    overdue = await overdue_items(session, today)
    if await credit.apply(session, actor=actor, on=today, member_ids={i.member_id for i in overdue}):
        overdue = await overdue_items(session, today)
    return await run(session, actor=actor, settings=settings, today=today, overdue=overdue)


async def run_today(session: AsyncSession, *, settings: Settings) -> int:
    """The daily loop's job: today's pass by the dunning system actor; returns how many notices it issued."""
    report = await run_due(
        session, actor=Actor.system("dunning"), settings=settings, today=local_today(settings.timezone)
    )
    return len(report.notices)


async def follow_payment(
    session: AsyncSession, *, actor: Actor, settings: Settings, today: date, member_ids: Collection[int]
) -> DunningReport:
    """Right after a payment: resume what the members' suspensions stopped once their arrears are below the
    threshold, and settle their notices once nothing is overdue. Issues no notice."""
    report = DunningReport()
    notices = await repository.open_notices(session, list(member_ids))
    if not notices:
        return report
    by_member: dict[int, list[OverdueItem]] = {}
    for item in await overdue_items(session, today, list(notices)):
        by_member.setdefault(item.member_id, []).append(item)
    await _follow_payments(
        session, actor=actor, settings=settings, today=today, by_member=by_member, open_notices=notices, report=report
    )
    return report


async def on_invoices_settled(session: AsyncSession, events: Sequence[InvoicesSettled]) -> None:
    """Listener: a payment settled invoices; resume and settle dunning for those members now. The contract
    changes are made by the dunning system actor (the payment's actor may be a member paying online)."""
    if not events:
        return
    settings = get_settings()
    await follow_payment(
        session,
        actor=Actor.system("dunning"),
        settings=settings,
        today=max(local_today(settings.timezone), max(e.paid_on for e in events)),
        member_ids={e.member_id for e in events},
    )


def install() -> None:
    """Follow payments as they are booked (idempotent); called by ``app.db.load_models``."""
    subscribe(InvoicesSettled, on_invoices_settled)


async def _follow_payments(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    today: date,
    by_member: Mapping[int, Sequence[OverdueItem]],
    open_notices: Mapping[int, list[DunningNotice]],
    report: DunningReport,
) -> None:
    resume: list[int] = []
    with action(session, "dunning.settle"):
        for member_id, notices in open_notices.items():
            _, total = arrears(by_member.get(member_id, ()), today)
            if not may_suspend_now(settings, total):
                for notice in notices:
                    if notice.level == DunningLevel.SUSPENSION and notice.resumed_on is None:
                        resume.extend(notice.suspended_contract_ids)
            if total == 0:
                for notice in notices:
                    notice.status = DunningStatus.SETTLED
                    notice.settled_on = today
                report.settled += len(notices)
        await session.flush()
    if resume:
        states = await contracts.contract_states(session, contract_ids=resume)
        still = [cid for cid in dict.fromkeys(resume) if states.get(cid) is ContractStatus.SUSPENDED]
        if still:
            await contracts.transition_many(
                session,
                actor=actor,
                settings=settings,
                contract_ids=still,
                to=ContractStatus.ACTIVE,
                from_status=ContractStatus.SUSPENDED,
                effective_on=today,
                reason="Zahlung eingegangen: Sperre aufgehoben",
            )
            report.contracts_resumed += len(still)
        with action(session, "dunning.resume"):
            for notices in open_notices.values():
                for notice in notices:
                    if (
                        notice.level == DunningLevel.SUSPENSION
                        and notice.resumed_on is None
                        and notice.suspended_contract_ids
                    ):
                        notice.resumed_on = today
            await session.flush()


async def _issue(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    today: date,
    steps: Sequence[Step],
    report: DunningReport,
) -> None:
    if not steps:
        return
    to_suspend = [s.member_id for s in steps if s.level is DunningLevel.SUSPENSION]
    active = (
        await contracts.contract_ids_by_status(session, member_ids=to_suspend, statuses=[ContractStatus.ACTIVE])
        if to_suspend
        else {}
    )
    notices: list[DunningNotice] = []
    with action(session, "dunning.notice"):
        for step in steps:
            notice = DunningNotice(
                member_id=step.member_id,
                level=int(step.level),
                status=DunningStatus.OPEN,
                issued_on=today,
                pay_by=step.pay_by,
                suspension_on=step.suspension_on,
                arrears_cents=step.arrears_cents,
                fee_cents=step.fee_cents,
                items=[
                    {
                        "invoice_id": i.invoice_id,
                        "number": i.number,
                        "due_on": i.due_on.isoformat(),
                        "open_cents": i.open_cents,
                    }
                    for i in step.items
                ],
                suspended_contract_ids=active.get(step.member_id, []) if step.level is DunningLevel.SUSPENSION else [],
            )
            notices.append(notice)
        session.add_all(notices)
        await session.flush()
    suspended = [cid for n in notices for cid in n.suspended_contract_ids]
    if suspended:
        await contracts.transition_many(
            session,
            actor=actor,
            settings=settings,
            contract_ids=suspended,
            to=ContractStatus.SUSPENDED,
            from_status=ContractStatus.ACTIVE,
            effective_on=today,
            reason="Sperre wegen Zahlungsverzug (§ 61 TKG)",
        )
    codes = await ledger.system_account_codes(session) if any(n.fee_cents for n in notices) else {}
    for notice in notices:
        level = DunningLevel(notice.level)
        report.notices.append(notice.id)
        if level is DunningLevel.REMINDER:
            report.reminders += 1
        elif level is DunningLevel.WARNING:
            report.warnings += 1
        else:
            report.suspensions += 1
            report.contracts_suspended += len(notice.suspended_contract_ids)
        if notice.fee_cents:
            await ledger.post(session, actor=actor, entry=_fee_entry(notice, codes))
            report.fees_cents += notice.fee_cents


def _fee_entry(notice: DunningNotice, codes: Mapping[SystemAccount, str]) -> EntryDraft:
    text = (
        f"{TEXTS[DunningLevel(notice.level)]} vom {notice.issued_on:%d.%m.%Y}, Gebühr, Mitglied-ID {notice.member_id}"
    )
    return EntryDraft(
        entry_date=notice.issued_on,
        text=text[:200],
        source_kind=SourceKind.FEE,
        source_id=f"dunning-{notice.id}",
        lines=[
            LineDraft(
                account=codes[SystemAccount.RECEIVABLES], debit_cents=notice.fee_cents, member_id=notice.member_id
            ),
            LineDraft(account=codes[SystemAccount.REVENUE_FEES], credit_cents=notice.fee_cents),
        ],
    )


async def list_notices(
    session: AsyncSession,
    *,
    actor: Actor,
    status: DunningStatus | None = None,
    member_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[NoticeOut], int]:
    """The dunning list for operators and the board: notices, newest first."""
    actor.require(Role.OPERATOR, Role.BOARD)
    rows, total = await repository.list_notices(session, status=status, member_id=member_id, limit=limit, offset=offset)
    return [NoticeOut.model_validate(row) for row in rows], total
