"""The monthly bill run: one invoice per member for all their contracts, previewed as drafts, then issued.

What a period's invoice bills (each line names its source in ``source_ref``, unique, so a source is billed
once however often a run is repeated):

* the monthly fee of each contract, in advance for the period, pro rata by days where the contract started,
  ended or changed plan within it (a plan change takes effect on its day, the audit log keeps the plans);
* the setup fee of a contract that started in the period or the month before (its first invoice);
* the rated calls of the month before;
* outage compensation (§58 (3) TKG) of earlier months not credited yet, as negative lines;
* pending credits (a dividend set off) as settlements outside the VAT base, and then the member's credit
  (an overpayment, a credit note on a paid invoice: ``billing.payments.credit``) as far as the invoice takes it;
* corrections of monthly fees of earlier periods (billed in advance) that a termination or plan change
  entered after their run cut short: what those days should have cost minus what they were billed, a credit
  as a credit note naming the invoice that billed them, a charge as a line of this invoice (``_Chunk.corrections``).

Usage items: no plan meters volume (plans have rates and fees only), so a run bills none.

Set-based: members are processed in chunks of ``CHUNK`` by id range; each chunk is a few queries that read
plain rows and a few multi-row inserts (COPY on PostgreSQL), never an ORM object per member. Issuing is one
transaction: numbers for every draft from the series row, one UPDATE, the ledger postings in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit.service import action
from app.contracts import service as contracts
from app.kit.actor import Actor, Role
from app.kit.db import bulk_insert
from app.kit.errors import Conflict, Invalid, NotFound
from app.kit.money import decimal_to_cents, pro_rata_cents, vat_by_rate
from app.kit.time import add_months, local_today, utcnow
from app.members import service as members
from app.settings import Settings
from billing.invoices import repository, service
from billing.invoices.models import (
    BillRun,
    BillRunStatus,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceSettlement,
    InvoiceStatus,
    ServiceKind,
)
from billing.payments import credit
from provisioning import outages
from voip import rating

CHUNK = 2000
LOWER_RATE = (500, Decimal("0.10"))
HIGHER_RATE = (1000, Decimal("0.20"))
FOUR_PLACES = Decimal("0.0001")
ONE = Decimal(1)


@dataclass
class _Draft:
    member_id: int
    lines: list[dict[str, Any]] = field(default_factory=list)
    terms: list[dict[str, Any]] = field(default_factory=list)
    settlements: list[dict[str, Any]] = field(default_factory=list)
    # A credit note of the run: the invoice it corrects and that invoice's period.
    corrects_invoice_id: int | None = None
    period: tuple[date, date] | None = None


def _unit_price(cents: int | Decimal, quantity: Decimal) -> Decimal:
    if not quantity:
        return Decimal(0)
    return (Decimal(cents) / 100 / quantity).quantize(FOUR_PLACES)


def _segments(
    contract: contracts.BillableContract, changes: list[contracts.PlanChange], first: date, last: date
) -> list[tuple[date, date, int]]:
    """The days of [first, last] the contract ran, split where its plan changed: (from, to, plan id)."""
    start = max(contract.start_on, first)
    end = min(contract.end_on, last) if contract.end_on else last
    if end < start:
        return []
    if not changes:
        return [(start, end, contract.plan_id)]

    def plan_on(day: date) -> int:
        for change in changes:
            if change.effective_on > day:
                return change.from_plan_id
        return contract.plan_id

    cuts = sorted({c.effective_on for c in changes if start < c.effective_on <= end})
    bounds = [start, *cuts]
    return [
        (a, (bounds[i + 1] - timedelta(days=1)) if i + 1 < len(bounds) else end, plan_on(a))
        for i, a in enumerate(bounds)
    ]


def _plan_on(day: date, changes: Sequence[contracts.PlanChange], current: int) -> int:
    """The plan a contract was on on ``day`` by its plan changes (oldest first): the last change in force by
    then, else the plan the first later change left, else ``current``."""
    plan: int | None = None
    for change in changes:
        if change.effective_on > day:
            return change.from_plan_id if plan is None else plan
        plan = change.to_plan_id
    return current if plan is None else plan


def _correction_base(source_ref: str) -> str:
    """``fee-correction:7:2026-10:01`` of itself or of a later correction ``fee-correction:7:2026-10:01:2``."""
    return ":".join(source_ref.split(":")[:4])


def _compensation_cents(fee_cents: int, lower_days: int, higher_days: int) -> int:
    lower = max(LOWER_RATE[0], decimal_to_cents(Decimal(fee_cents) * LOWER_RATE[1] / 100))
    higher = max(HIGHER_RATE[0], decimal_to_cents(Decimal(fee_cents) * HIGHER_RATE[1] / 100))
    return lower * lower_days + higher * higher_days


@functools.lru_cache(maxsize=4096)
def _term_dates(start_on: date, min_term_months: int, notice_months: int) -> tuple[str, str, str | None]:
    """Start, end of the minimum term and the last day to cancel for it (None once past the start), ISO 8601
    as the invoice keeps them; many contracts share a start day."""
    term_end = contracts.min_term_end(start_on, min_term_months)
    last_day = contracts.last_day_to_cancel(term_end, notice_months)
    return start_on.isoformat(), term_end.isoformat(), last_day.isoformat() if last_day >= start_on else None


class _Chunk:
    """One chunk of members: what their invoices bill, read in a few queries and built in memory."""

    def __init__(
        self,
        *,
        settings: Settings,
        first: date,
        last: date,
        plans: dict[int, contracts.BillablePlan],
        changes: dict[int, list[contracts.PlanChange]],
        since: date | None = None,
        issue_on: date | None = None,
    ):
        self.settings, self.first, self.last, self.plans, self.changes = settings, first, last, plans, changes
        self.issue_on = issue_on or first
        # Fees of periods from ``since`` up to ``first`` are corrected (``corrections``); ``changes`` reach back
        # to it.
        self.since = since or first
        self.credit_notes: dict[int, _Draft] = {}  # by the invoice each corrects
        self.rate = settings.vat_standard_rate
        self.days_in_month = (last - first).days + 1
        self.previous = add_months(first, -1)
        self.drafts: dict[int, _Draft] = {}
        self._months: dict[int, tuple[str, Decimal]] = {}
        self.month = f"{first:%Y-%m}"
        self.notice_after_min_term = settings.contract_notice_after_min_term_months

    def _line(
        self,
        contract: contracts.BillableContract,
        *,
        description: str,
        quantity: Decimal,
        unit: str,
        unit_price: Decimal,
        net_cents: int,
        service_kind: ServiceKind,
        period_start: date,
        period_end: date,
        source_ref: str,
        vat_rate: Decimal | None = None,
        into: _Draft | None = None,
    ) -> None:
        draft = into or self.drafts.get(contract.member_id)
        if draft is None:
            draft = self.drafts[contract.member_id] = _Draft(contract.member_id)
        # One key order for every line: the chunk's lines are written with one COPY column list.
        draft.lines.append(
            {
                "description": description,
                "quantity": quantity,
                "unit": unit,
                "unit_price": unit_price,
                "net_cents": net_cents,
                "vat_rate": self.rate if vat_rate is None else vat_rate,
                "service_kind": service_kind.value,
                "period_start": period_start,
                "period_end": period_end,
                "contract_id": contract.id,
                "contract_number": contract.number,
                "source_ref": source_ref,
            }
        )

    def _full_month(self, plan: contracts.BillablePlan) -> tuple[str, Decimal]:
        """Description and unit price of a whole month on ``plan`` (the same for most lines of a run)."""
        known = self._months.get(plan.id)
        if known is None:
            known = self._months[plan.id] = (
                f"{plan.name}, Monatsentgelt {self.first:%m/%Y}",
                _unit_price(plan.monthly_fee_cents, Decimal(1)),
            )
        return known

    def fees(self, contract: contracts.BillableContract, changes: list[contracts.PlanChange]) -> None:
        month = self.month
        first, last = self.first, self.last
        if not changes and contract.start_on <= first and (contract.end_on is None or contract.end_on >= last):
            segments = [(first, last, contract.plan_id)]  # the whole month on one plan: most contracts
        else:
            segments = _segments(contract, changes, first, last)
        for a, b, plan_id in segments:
            plan = self.plans[plan_id]
            days = (b - a).days + 1
            if days == self.days_in_month:
                description, unit_price = self._full_month(plan)
                quantity, unit, net = ONE, "MON", plan.monthly_fee_cents
            else:
                description = (
                    f"{plan.name}, Monatsentgelt {self.first:%m/%Y} anteilig ({days} von {self.days_in_month} Tagen)"
                )
                unit_price = _unit_price(Decimal(plan.monthly_fee_cents) / self.days_in_month, ONE)
                quantity, unit = Decimal(days), "DAY"
                net = pro_rata_cents(plan.monthly_fee_cents, days, self.days_in_month)
            self._line(
                contract,
                description=description,
                quantity=quantity,
                unit=unit,
                unit_price=unit_price,
                net_cents=net,
                service_kind=ServiceKind.INTERNET,
                period_start=a,
                period_end=b,
                source_ref=f"fee:{contract.id}:{month}:{a.day:02d}",
            )
        plan = self.plans[contract.plan_id]
        if plan.setup_fee_cents and contract.start_on >= self.previous and contract.start_on <= self.last:
            self._line(
                contract,
                description=f"{plan.name}, einmaliges Bereitstellungsentgelt",
                quantity=Decimal(1),
                unit="C62",
                unit_price=_unit_price(plan.setup_fee_cents, Decimal(1)),
                net_cents=plan.setup_fee_cents,
                service_kind=ServiceKind.SETUP,
                period_start=contract.start_on,
                period_end=contract.start_on,
                source_ref=f"setup:{contract.id}",
            )

    def calls(self, contract: contracts.BillableContract, total: rating.CallTotal) -> None:
        net = decimal_to_cents(total.price_cents / 100)
        if net <= 0:
            return
        minutes = (Decimal(total.billed_seconds) / 60).quantize(FOUR_PLACES)
        self._line(
            contract,
            description=f"Telefonie {self.previous:%m/%Y}: {total.calls} Verbindungen, {minutes:.0f} Minuten",
            quantity=minutes,
            unit="MIN",
            unit_price=_unit_price(net, minutes),
            net_cents=net,
            service_kind=ServiceKind.TELEPHONY,
            period_start=self.previous,
            period_end=self.first - timedelta(days=1),
            source_ref=f"calls:{contract.id}:{self.previous:%Y-%m}",
        )

    def compensation(self, contract: contracts.BillableContract, owed: Any) -> None:
        plan = self.plans[contract.plan_id]
        days = owed.lower_rate_days + owed.higher_rate_days
        cents = _compensation_cents(plan.monthly_fee_cents, owed.lower_rate_days, owed.higher_rate_days)
        self._line(
            contract,
            description=f"Entschädigung für Störung (§ 58 TKG) {owed.period:%m/%Y}: {days} Tage",
            quantity=Decimal(days),
            unit="DAY",
            unit_price=_unit_price(-cents, Decimal(days)),
            net_cents=-cents,
            service_kind=ServiceKind.COMPENSATION,
            period_start=owed.period,
            period_end=add_months(owed.period, 1) - timedelta(days=1),
            source_ref=f"outage:{contract.id}:{owed.incident_id}:{owed.period:%Y-%m}",
        )

    def corrections(self, ran: Sequence[contracts.BillableContract], rows: Sequence[Any]) -> None:
        """Correct each fee line in ``rows`` (``repository.fee_lines_to_correct``) of an earlier period: what its
        days should have cost by the contract's end and plans now, less what it billed for them and what was
        corrected of it already. A fee line an operator credited by hand (or whose correction they credited) is
        theirs and left alone: correcting it again would credit twice or bill again what they waived."""
        by_id = {c.id: c for c in ran}
        fees, corrected, credited = [], defaultdict(list), set()
        for row in rows:
            ref = str(row.source_ref)
            if ref.startswith("cn:"):
                credited.add(int(ref[3:]))
            elif ref.startswith("fee-correction:"):
                corrected[_correction_base(ref)].append(row)
            elif row.kind == InvoiceKind.INVOICE and row.invoice_period_start < self.first:
                fees.append(row)
        for row in fees:
            earlier = corrected[f"fee-correction:{row.source_ref.removeprefix('fee:')}"]
            if row.id in credited or any(r.id in credited for r in earlier) or row.contract_id not in by_id:
                continue
            self._correct_fee(by_id[row.contract_id], row, earlier)

    def _correct_fee(self, contract: contracts.BillableContract, row: Any, earlier: Sequence[Any]) -> None:
        a, b = row.period_start, row.period_end
        month_days = (row.invoice_period_end - row.invoice_period_start).days + 1
        changes = self.changes.get(contract.id, [])
        # The plan the line billed: the contract's as its invoice was drafted (later changes unknown to it).
        known = [c for c in changes if c.recorded_at is None or c.recorded_at < row.drafted_at]
        later = [c for c in changes if c not in known]
        billed_plan = _plan_on(a, known, later[0].from_plan_id if later else contract.plan_id)
        # Days that differ from what was billed, in runs of one plan (None: not in service).
        runs: list[list[Any]] = []
        day = a
        while day <= b:
            running = contract.start_on <= day and (contract.end_on is None or day <= contract.end_on)
            plan = _plan_on(day, changes, contract.plan_id) if running else None
            if plan != billed_plan:
                if runs and runs[-1][2] == plan and runs[-1][1] == day - timedelta(days=1):
                    runs[-1][1] = day
                else:
                    runs.append([day, day, plan])
            day += timedelta(days=1)
        days = sum((y - x).days + 1 for x, y, _ in runs)
        line_days = (b - a).days + 1
        target = 0
        if days:
            billed = row.net_cents - pro_rata_cents(row.net_cents, line_days - days, line_days)
            due = sum(
                pro_rata_cents(self.plans[p].monthly_fee_cents, (y - x).days + 1, month_days)
                for x, y, p in runs
                if p is not None
            )
            target = due - billed
        done = sum(r.net_cents if r.kind == InvoiceKind.INVOICE else -r.net_cents for r in earlier)
        cents = target - done
        if not cents:
            return
        reasons = []
        if contract.start_on > a:
            reasons.append(f"Vertragsbeginn {contract.start_on:%d.%m.%Y}")
        if contract.end_on is not None and contract.end_on < b:
            reasons.append(f"Kündigung zum {contract.end_on:%d.%m.%Y}")
        for x, _, p in runs:
            if p is not None:
                since = max((c.effective_on for c in changes if c.effective_on <= x and c.to_plan_id == p), default=x)
                reasons.append(f"Tarifwechsel zu {self.plans[p].name} am {since:%d.%m.%Y}")
        month = f"{row.invoice_period_start:%m/%Y}"
        label = "Gutschrift" if cents < 0 else "Nachberechnung"
        what = (
            f"anteilig ({days} von {month_days} Tagen), {', '.join(reasons)}" if days else "Berichtigung der Korrektur"
        )
        quantity, unit = (Decimal(days), "DAY") if days else (ONE, "C62")
        into = None
        if cents < 0:
            into = self.credit_notes.get(row.invoice_id)
            if into is None:
                into = self.credit_notes[row.invoice_id] = _Draft(
                    row.member_id,
                    corrects_invoice_id=row.invoice_id,
                    period=(row.invoice_period_start, row.invoice_period_end),
                )
        base = f"fee-correction:{row.source_ref.removeprefix('fee:')}"
        self._line(
            contract,
            description=f"{label} Monatsentgelt {month} {what} (Rechnung {row.number}, Pos. {row.position})"[:300],
            quantity=quantity,
            unit=unit,
            unit_price=_unit_price(abs(cents), quantity),
            net_cents=abs(cents),
            service_kind=ServiceKind(row.service_kind),
            period_start=runs[0][0] if runs else a,
            period_end=runs[-1][1] if runs else b,
            source_ref=base if not earlier else f"{base}:{len(earlier) + 1}",
            vat_rate=row.vat_rate,
            into=into,
        )

    def terms(self, contract: contracts.BillableContract) -> None:
        draft = self.drafts.get(contract.member_id)
        if draft is None:
            return
        start, term_end, last_day = _term_dates(contract.start_on, contract.min_term_months, contract.notice_months)
        draft.terms.append(
            {
                "contract_id": contract.id,
                "contract_number": contract.number,
                "plan_name": self.plans[contract.plan_id].name,
                "start_on": start,
                "min_term_end_on": term_end,
                "notice_months": contract.notice_months,
                "notice_after_min_term_months": self.notice_after_min_term,
                "last_day_to_cancel": last_day,
            }
        )


@dataclass
class _Reads:
    """What one chunk's invoices are made of, read from the database (``_read``)."""

    running: list[contracts.BillableContract]
    calls: dict[int, rating.CallTotal]
    owed: dict[int, list[Any]]
    billed: set[str]
    credits: list[Any]
    buyers: dict[int, members.Buyer]
    corrected: list[contracts.BillableContract]
    fee_lines: list[Any]
    member_credit: dict[int, int] = field(default_factory=dict)


async def _read(
    session: AsyncSession, chunk: _Chunk, *, member_from: int, member_to: int, ignore_runs: Sequence[int] = ()
) -> _Reads:
    """One chunk's reads, a query each: contracts in service, call totals, compensation owed, sources billed
    already, open credits, buyers; and for corrections the contracts that ran since ``chunk.since`` and ended
    before this period or changed plan meanwhile (also of members with nothing in service any more), with
    their fee lines."""
    first, last = chunk.first, chunk.last
    running = await contracts.billable_contracts(
        session, first=first, last=last, member_from=member_from, member_to=member_to
    )
    reads = _Reads(running, {}, defaultdict(list), set(), [], {}, [], [])
    if chunk.since < first:
        before = first - timedelta(days=1)
        changed = [
            contract_id
            for contract_id, changes in chunk.changes.items()
            if any(chunk.since <= change.effective_on < first for change in changes)
        ]
        reads.corrected = await contracts.billable_contracts(
            session,
            first=chunk.since,
            last=before,
            member_from=member_from,
            member_to=member_to,
            ended_before=before,
            or_ids=changed,
        )
        if reads.corrected:
            reads.fee_lines = await repository.fee_lines_to_correct(
                session, contract_ids=[c.id for c in reads.corrected], since=chunk.since, before=first
            )
    if not running and not reads.fee_lines:
        return reads
    if running:
        low, high = min(c.id for c in running), max(c.id for c in running)
        reads.calls = await rating.call_totals(session, period=chunk.previous, contract_from=low, contract_to=high)
        for owed in await outages.compensations_until(session, contract_from=low, contract_to=high, before=first):
            reads.owed[owed.contract_id].append(owed)
        reads.billed = await repository.billed_refs_of_contracts(
            session, contract_from=low, contract_to=high, ignore_runs=ignore_runs
        )
    reads.credits = await repository.open_credits(session, member_from=member_from, member_to=member_to)
    reads.member_credit = await credit.balances(session, member_range=(member_from, member_to))
    reads.buyers = await members.buyers_as_of(session, member_from=member_from, member_to=member_to, on=chunk.issue_on)
    return reads


@dataclass
class _Composed:
    """One chunk's drafts as rows to write: the invoices (without ids yet), each one's lines and settlements."""

    invoices: list[dict[str, Any]]
    lines: list[list[dict[str, Any]]]
    settlements: list[list[dict[str, Any]]]


def _compose(chunk: _Chunk, reads: _Reads, *, run: BillRun) -> _Composed:
    """The chunk's invoices and credit notes from what was read: plain Python, no database (it runs in a
    worker thread while the previous chunk is written)."""
    chunk.corrections(reads.corrected, reads.fee_lines)
    changes = chunk.changes
    for contract in reads.running:
        chunk.fees(contract, changes.get(contract.id, []))
        if contract.id in reads.calls:
            chunk.calls(contract, reads.calls[contract.id])
        for compensation in reads.owed.get(contract.id, ()):
            chunk.compensation(contract, compensation)
    billed = reads.billed
    for draft in chunk.drafts.values():
        draft.lines = [line for line in draft.lines if line["source_ref"] not in billed]
    chunk.drafts = {m: d for m, d in chunk.drafts.items() if d.lines}
    for contract in reads.running:
        chunk.terms(contract)
    for pending in reads.credits:
        if pending.member_id in chunk.drafts:
            chunk.drafts[pending.member_id].settlements.append(
                {
                    "credit_id": pending.id,
                    "text": pending.text,
                    "amount_cents": -pending.amount_cents,
                    "account": pending.account,
                }
            )
    drafts = [*chunk.drafts.values(), *chunk.credit_notes.values()]
    settings, issue_on = chunk.settings, chunk.issue_on
    now = utcnow()
    due = issue_on + timedelta(days=settings.invoice_due_days)
    composed = _Composed([], [], [])
    for draft in drafts:
        buyer = reads.buyers[draft.member_id]
        totals = vat_by_rate((line["vat_rate"], line["net_cents"]) for line in draft.lines)
        net = sum(n for n, _ in totals.values())
        vat = sum(v for _, v in totals.values())
        if not draft.corrects_invoice_id and draft.member_id in reads.member_credit:
            settlement = credit.set_off(
                reads.member_credit.pop(draft.member_id), net + vat + sum(s["amount_cents"] for s in draft.settlements)
            )
            if settlement is not None:
                draft.settlements.append(settlement)
        composed.invoices.append(
            {
                "kind": (InvoiceKind.CREDIT_NOTE if draft.corrects_invoice_id else InvoiceKind.INVOICE).value,
                "status": InvoiceStatus.DRAFT.value,
                "number": None,
                "series_id": None,
                "member_id": draft.member_id,
                "bill_run_id": run.id,
                "corrects_invoice_id": draft.corrects_invoice_id,
                "buyer_name": buyer.name,
                "buyer_street": buyer.street,
                "buyer_postal_code": buyer.postal_code,
                "buyer_city": buyer.city,
                "buyer_country": buyer.country,
                "buyer_member_number": buyer.number,
                "buyer_vat_id": buyer.vat_id,
                "buyer_is_business": buyer.is_business,
                "issue_date": issue_on,
                "period_start": draft.period[0] if draft.period else run.period_start,
                "period_end": draft.period[1] if draft.period else run.period_end,
                "due_date": due,
                "net_cents": net,
                "vat_cents": vat,
                "gross_cents": net + vat,
                "amount_due_cents": net + vat + sum(s["amount_cents"] for s in draft.settlements),
                "currency": "EUR",
                "issued_at": None,
                "contract_terms": draft.terms,
                "created_at": now,
                "updated_at": now,
            }
        )
        composed.lines.append(draft.lines)
        composed.settlements.append(draft.settlements)
    return composed


async def _write(session: AsyncSession, composed: _Composed) -> None:
    """Write a composed chunk: its invoices (ids drawn at once), then their lines and settlements."""
    invoice_ids = await bulk_insert(session, Invoice.__table__, composed.invoices, ids=True)  # type: ignore[arg-type]
    lines, settlements = [], []
    for invoice_id, own_lines, own_settlements in zip(invoice_ids, composed.lines, composed.settlements, strict=True):
        for position, line in enumerate(own_lines, start=1):
            line["invoice_id"], line["position"] = invoice_id, position
        lines += own_lines
        for settlement in own_settlements:
            settlement["invoice_id"] = invoice_id
        settlements += own_settlements
    await bulk_insert(session, InvoiceLine.__table__, lines)  # type: ignore[arg-type]
    await bulk_insert(session, InvoiceSettlement.__table__, settlements)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def _reader(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Where a run reads its chunks: on PostgreSQL, when ``session`` is bound to an engine (not to a test's
    connection with uncommitted data), a second connection in a read-only REPEATABLE READ transaction, so reads
    run beside the writes, one snapshot for the whole run; else ``session`` itself."""
    bind = session.bind
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "postgresql":
        yield session
        return
    async with bind.connect() as connection:
        await connection.execution_options(isolation_level="REPEATABLE READ")
        async with connection.begin():
            await connection.execute(sa.text("SET TRANSACTION READ ONLY"))
            async with AsyncSession(bind=connection) as reading:
                yield reading


async def _chunks(
    session: AsyncSession,
    reading: AsyncSession,
    member_ids: Sequence[int],
    *,
    run: BillRun,
    ignore_runs: Sequence[int],
    make_chunk: Callable[[], _Chunk],
) -> None:
    """Draft the run's invoices chunk by chunk, as a pipeline: chunk n is composed in a worker thread (Python's
    work) while chunk n - 1 is written (the database's) and, with a reader of its own, chunk n + 1 is read. One
    writing connection, never two statements on one connection at once, one transaction for the writes."""
    starts = list(range(0, len(member_ids), CHUNK))

    async def read(start: int) -> tuple[_Chunk, _Reads]:
        ids = member_ids[start : start + CHUNK]
        chunk = make_chunk()
        return chunk, await _read(reading, chunk, member_from=ids[0], member_to=ids[-1], ignore_runs=ignore_runs)

    ahead = reading is not session
    reading_next = asyncio.ensure_future(read(starts[0])) if ahead and starts else None
    pending: _Composed | None = None
    try:
        for n, start in enumerate(starts):
            if reading_next is not None:
                chunk, reads = await reading_next
                reading_next = asyncio.ensure_future(read(starts[n + 1])) if n + 1 < len(starts) else None
            else:
                chunk, reads = await read(start)
            composing = asyncio.to_thread(_compose, chunk, reads, run=run)
            if pending is None:
                composed = await composing
            else:
                writing = asyncio.ensure_future(_write(session, pending))
                try:
                    composed = await composing
                finally:
                    await writing  # also when composing failed: the write in flight ends before the rollback
            pending = composed if composed.invoices else None
        if pending is not None:
            await _write(session, pending)
    finally:
        if reading_next is not None:  # something failed: the read in flight ends before its connection closes
            await asyncio.gather(reading_next, return_exceptions=True)


async def preview(
    session: AsyncSession, *, actor: Actor, settings: Settings, period: str, issue_on: date | None = None
) -> BillRun:
    """Draft this period's invoices for every member with a contract in service, and the credit notes
    correcting fees of the last ``billing_correction_months`` that a termination or plan change cut short
    (also for members with nothing in service any more), and return the run with its totals. Open previews
    (of any period) are thrown away first: one preview at a time, so their sources are free again. A period
    issued already yields only what was not billed yet (usually nothing)."""
    actor.require(Role.BOARD)
    first, last = service.period_bounds(period)
    issue_on = issue_on or local_today(settings.timezone)
    started = time.perf_counter()
    with action(session, "bill_run.preview"):
        stale = await repository.open_previews(session)
        await repository.delete_drafts_of_runs(session, [r.id for r in stale])
        for old in stale:
            old.status = BillRunStatus.DISCARDED
        run = BillRun(period_start=first, period_end=last, status=BillRunStatus.PREVIEW)
        session.add(run)
        await session.flush()
    plans = await contracts.billable_plans(session)
    # Members who had a contract since ``since`` may be owed a correction of fees billed then.
    since = add_months(first, -settings.billing_correction_months)
    changes: dict[int, list[contracts.PlanChange]] = defaultdict(list)
    for change in await contracts.plan_changes(session, since=since, zone=settings.timezone):
        changes[change.contract_id].append(change)
    member_ids = await contracts.members_in_service(session, first=since, last=last)
    async with _reader(session) as reading:
        await _chunks(
            session,
            reading,
            member_ids,
            run=run,
            ignore_runs=[r.id for r in stale],
            make_chunk=lambda: _Chunk(
                settings=settings, first=first, last=last, plans=plans, changes=changes, since=since, issue_on=issue_on
            ),
        )
    with action(session, "bill_run.preview"):
        for key, value in (await repository.run_totals(session, run.id)).items():
            setattr(run, key, value)
        run.preview_seconds = round(time.perf_counter() - started, 3)
        await session.flush()
    return run


async def issue(session: AsyncSession, *, actor: Actor, settings: Settings, run_id: int) -> BillRun:
    """Issue a previewed run in this transaction: number its drafts gaplessly (member order; its credit notes
    in their own series), book them and their settlements in the ledger, consume the credits they settle.
    Issuing an issued run again changes nothing; a preview dated before today is stale (``bill_run_stale``):
    preview again."""
    actor.require(Role.BOARD)
    run = await repository.bill_run(session, run_id, lock=True)
    if run is None:
        raise NotFound(f"Bill run {run_id} not found.", code="bill_run_not_found")
    if run.status is BillRunStatus.ISSUED:
        return run
    if run.status is BillRunStatus.DISCARDED:
        raise Conflict(f"Bill run {run_id} was replaced by a newer preview.", code="bill_run_discarded")
    issue_on = (
        await session.execute(sa.select(sa.func.min(Invoice.issue_date)).where(Invoice.bill_run_id == run.id))
    ).scalar_one()
    if issue_on is not None and issue_on < local_today(settings.timezone):
        raise Conflict("The preview is from an earlier day; preview the run again.", code="bill_run_stale")
    started = time.perf_counter()
    if issue_on is not None:
        for kind in (InvoiceKind.INVOICE, InvoiceKind.CREDIT_NOTE):
            await service.issue_drafts(
                session, kind=kind, year=issue_on.year, where="bill_run_id = :run", params={"run": run.id}
            )
        await service.post_issued(session, actor=actor, where=Invoice.bill_run_id == run.id)
        await repository.consume_credits(session, run.id)
        await credit.consume_settled(session, run_id=run.id, on=issue_on)
        # A credit note of the run on a paid invoice leaves credit: it goes to the member's open invoices.
        corrected = sa.select(Invoice.member_id).where(
            Invoice.bill_run_id == run.id, Invoice.kind == InvoiceKind.CREDIT_NOTE
        )
        await credit.apply(session, actor=actor, on=issue_on, member_ids=set((await session.scalars(corrected)).all()))
    with action(session, "bill_run.issue"):
        run.status = BillRunStatus.ISSUED
        run.issued_at = utcnow()
        run.issue_seconds = round(time.perf_counter() - started, 3)
        await session.flush()
    return run


async def get_run(session: AsyncSession, *, actor: Actor, run_id: int) -> tuple[BillRun, dict[str, int]]:
    """A run with its net per service kind."""
    actor.require(Role.BOARD)
    run = await repository.bill_run(session, run_id)
    if run is None:
        raise NotFound(f"Bill run {run_id} not found.", code="bill_run_not_found")
    return run, await repository.net_by_service(session, run.id)


def check_period(period: str) -> str:
    try:
        service.period_bounds(period)
    except ValueError as error:
        raise Invalid("A period is YYYY-MM.", code="bill_run_period", field="period") from error
    return period
