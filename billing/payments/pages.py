"""Payment pages: the member's mandate and payments (portal); the operator's matching queue, upload of bank
statements, notifications and status reports, mandate recording and collection files (console)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app.auth.deps import SessionDep
from app.kit.errors import DomainError, Invalid
from app.kit.money import decimal_to_cents
from app.kit.time import local_today
from app.kit.validation import IdPath
from app.web.shell import MemberPage, StaffPage, Web, redirect
from billing.payments import camt, credit, iso20022, mandates, repository, sepa, service, status_reports
from billing.payments.router import MAX_STATEMENT_BYTES, file_download, transaction_out
from billing.payments.schemas import CreditPayback, MandateCreate, ManualPayment, QueueAssignment

router = APIRouter()
QUEUE_PAGE = 50
CREDITS_SHOWN = 50


def _invalid(web: Web, error: ValidationError) -> HTMLResponse:
    first = error.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    return web.error(Invalid(f"{field}: {first['msg']}", code="invalid", field=field))


def _numbers(text: str) -> list[str]:
    return [n for n in text.replace(",", " ").split() if n][:50]


# --- portal --------------------------------------------------------------------------------------------


@router.get("/portal/payments", response_class=HTMLResponse)
async def portal_payments(web: MemberPage, session: SessionDep) -> Response:
    """The member's mandate (IBAN masked), their credit, payments and returned debits."""
    actor = web.user
    assert actor.member_id is not None
    mandate = await mandates.current(session, actor=actor, member_id=actor.member_id)
    return web.render(
        "payments/portal.html",
        mandate=mandates.out(mandate, local_today(web.settings.timezone)) if mandate else None,
        payments=await service.payments_of(session, actor=actor, member_id=actor.member_id),
        returned=await service.returned_debits_of(session, actor=actor, member_id=actor.member_id),
        credit=await credit.credit_of(session, actor=actor, member_id=actor.member_id),
        creditor_id=web.settings.coop_creditor_id,
    )


@router.post("/portal/payments/mandate", response_class=HTMLResponse)
async def portal_give_mandate(web: MemberPage, session: SessionDep) -> Response:
    form = await web.check_csrf()
    actor = web.user
    assert actor.member_id is not None
    try:
        data = MandateCreate(
            debtor_name=str(form.get("debtor_name", "")),
            iban=str(form.get("iban", "")),
            bic=str(form.get("bic", "")).strip() or None,
        )
        await mandates.give(session, actor=actor, settings=web.settings, member_id=actor.member_id, data=data)
    except ValidationError as error:
        return _invalid(web, error)
    except DomainError as error:
        return web.error(error)
    return redirect("/portal/payments", flash=web.translator.gettext("Your direct debit mandate was saved."))


@router.post("/portal/payments/mandate/revoke", response_class=HTMLResponse)
async def portal_revoke_mandate(web: MemberPage, session: SessionDep) -> Response:
    await web.check_csrf()
    actor = web.user
    assert actor.member_id is not None
    try:
        await mandates.revoke(session, actor=actor, settings=web.settings, member_id=actor.member_id)
    except DomainError as error:
        return web.error(error)
    return redirect("/portal/payments", flash=web.translator.gettext("Your direct debit mandate was revoked."))


# --- console -------------------------------------------------------------------------------------------


@router.get("/console/payments", response_class=HTMLResponse)
async def console_payments(web: StaffPage, session: SessionDep, offset: int = 0) -> Response:
    """The matching queue, the statement upload, mandate recording and the SEPA files."""
    start = max(offset, 0)
    rows, total = await service.queue(session, actor=web.user, limit=QUEUE_PAGE, offset=start)
    return web.render(
        "payments/console.html",
        queue=[transaction_out(t) for t in rows],
        total=total,
        offset=start,
        page=QUEUE_PAGE,
        files=await repository.files(session, kind=None, limit=20, offset=0),
        reports=await repository.status_reports(session, limit=20, offset=0),
        credits=await credit.members_with_credit(session, actor=web.user, limit=CREDITS_SHOWN),
        today=local_today(web.settings.timezone),
    )


@router.post("/console/payments/credit/{member_id}/payout", response_class=HTMLResponse)
async def console_pay_back_credit(web: StaffPage, session: SessionDep, member_id: IdPath) -> Response:
    """The board pays a member's whole credit back to the account of their mandate (a pain.001 of one
    transfer, listed with the SEPA files for download)."""
    await web.check_csrf()
    try:
        made = await credit.pay_back(
            session,
            actor=web.user,
            settings=web.settings,
            member_id=member_id,
            on=local_today(web.settings.timezone),
            data=CreditPayback(),
        )
    except DomainError as error:
        return web.error(error)
    message = web.translator.gettext(
        "%(amount)s of credit paid back to member %(member)s: file %(file)s.",
        amount=web.translator.money(made.total_cents),
        member=member_id,
        file=made.message_id,
    )
    return redirect("/console/payments", flash=message)


@router.post("/console/payments/credit/{member_id}", response_class=HTMLResponse)
async def console_apply_credit(web: StaffPage, session: SessionDep, member_id: IdPath) -> Response:
    """Use a member's credit now on their overdue invoices (any open one if they pay without a mandate)."""
    await web.check_csrf()
    try:
        applied = await credit.apply_for(
            session, actor=web.user, member_id=member_id, on=local_today(web.settings.timezone)
        )
    except DomainError as error:
        return web.error(error)
    t = web.translator
    if applied:
        message = t.gettext(
            "%(amount)s of the credit of member %(member)s set off.",
            amount=t.money(sum(a.amount_cents for a in applied)),
            member=member_id,
        )
    else:
        message = t.gettext("Member %(member)s has no invoice the credit may go to yet.", member=member_id)
    return redirect("/console/payments", flash=message)


@router.post("/console/payments/statements", response_class=HTMLResponse)
async def console_import(web: StaffPage, session: SessionDep) -> Response:
    """One upload for what the bank sends: a camt.053 statement, a camt.054 notification (the transactions of a
    batch booking) or a pain.002 status report, told apart by the message the document holds."""
    form = await web.check_csrf()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return web.error(Invalid("Choose a camt.053, camt.054 or pain.002 file.", code="camt_invalid", field="file"))
    data = await upload.read(MAX_STATEMENT_BYTES + 1)
    if not data or len(data) > MAX_STATEMENT_BYTES:
        return web.error(Invalid("The file is empty or larger than 20 MB.", code="camt_invalid", field="file"))
    try:
        message = iso20022.message_name(data)
        if message == "CstmrPmtStsRpt":
            return await _import_status_report(web, session, data)
        # Statements and notifications: one import (camt.py reads both; anything else it refuses).
        report = await service.import_statement(session, actor=web.user, settings=web.settings, data=data)
    except DomainError as error:
        return web.error(error)
    t = web.translator
    counts = {
        "new": report.transactions,
        "known": report.transactions_known,
        "matched": report.matched,
        "returned": report.returned,
        "queued": report.queued,
    }
    if message == camt.NOTIFICATION:
        text = t.gettext(
            "Notification imported: %(new)s new transactions (%(known)s known), %(matched)s matched, "
            "%(returned)s returned, %(queued)s waiting, %(covered)s booked from the statement already.",
            covered=report.covered,
            **counts,
        )
    elif report.covered:
        text = t.gettext(
            "Imported: %(new)s new transactions (%(known)s known), %(matched)s matched, %(returned)s returned, "
            "%(queued)s waiting, %(covered)s booked from the bank's notification already.",
            covered=report.covered,
            **counts,
        )
    else:
        text = t.gettext(
            "Imported: %(new)s new transactions (%(known)s known), %(matched)s matched, %(returned)s returned, "
            "%(queued)s waiting.",
            **counts,
        )
    return redirect("/console/payments", flash=text)


async def _import_status_report(web: Web, session: SessionDep, data: bytes) -> Response:
    result = await status_reports.import_status_report(session, actor=web.user, data=data)
    if result.known:
        message = web.translator.gettext(
            "This status report for file %(file)s was imported before; nothing changed.",
            file=result.original_message_id,
        )
    else:
        rejected = [f"{r.end_to_end_id} ({r.reason_code or '?'})" for r in result.rejections]
        message = web.translator.gettext(
            "Status report for file %(file)s (%(status)s): rejected %(numbers)s; %(rejected)s open or due again, "
            "%(unchanged)s left as they were.",
            file=result.original_message_id,
            status=result.group_status or "–",
            numbers=", ".join(rejected) or "–",
            rejected=result.rejected,
            unchanged=result.unchanged,
        )
    return redirect("/console/payments", flash=message)


@router.post("/console/payments/queue/{transaction_id}/assign", response_class=HTMLResponse)
async def console_assign(web: StaffPage, session: SessionDep, transaction_id: IdPath) -> Response:
    form = await web.check_csrf()
    try:
        data = QueueAssignment(
            member_id=int(str(form.get("member_id", "0")) or 0),
            invoice_numbers=_numbers(str(form.get("invoice_numbers", ""))),
            note=str(form.get("note", "")).strip() or None,
        )
        await service.assign(session, actor=web.user, transaction_id=transaction_id, data=data)
    except ValueError as error:
        if isinstance(error, ValidationError):
            return _invalid(web, error)
        return web.error(Invalid("Give the member number.", code="invalid", field="member_id"))
    except DomainError as error:
        return web.error(error)
    return redirect("/console/payments", flash=web.translator.gettext("The payment was assigned."))


@router.post("/console/payments/queue/{transaction_id}/not-ours", response_class=HTMLResponse)
async def console_not_ours(web: StaffPage, session: SessionDep, transaction_id: IdPath) -> Response:
    form = await web.check_csrf()
    note = str(form.get("note", "")).strip()[:500] or web.translator.gettext("not ours")
    try:
        await service.mark_not_ours(session, actor=web.user, transaction_id=transaction_id, note=note)
    except DomainError as error:
        return web.error(error)
    return redirect("/console/payments", flash=web.translator.gettext("Marked as not ours."))


@router.post("/console/payments/mandates", response_class=HTMLResponse)
async def console_record_mandate(web: StaffPage, session: SessionDep) -> Response:
    """An operator records a mandate from a signed paper form."""
    form = await web.check_csrf()
    try:
        member_id = int(str(form.get("member_id", "0")) or 0)
        signed = str(form.get("signed_on", "")).strip()
        data = MandateCreate(
            debtor_name=str(form.get("debtor_name", "")),
            iban=str(form.get("iban", "")),
            bic=str(form.get("bic", "")).strip() or None,
            signed_on=date.fromisoformat(signed) if signed else None,
        )
        mandate = await mandates.give(session, actor=web.user, settings=web.settings, member_id=member_id, data=data)
    except ValidationError as error:
        return _invalid(web, error)
    except ValueError:
        return web.error(Invalid("Member number and date must be valid.", code="invalid"))
    except DomainError as error:
        return web.error(error)
    return redirect(
        "/console/payments", flash=web.translator.gettext("Mandate %(ref)s recorded.", ref=mandate.reference)
    )


@router.post("/console/payments/manual", response_class=HTMLResponse)
async def console_manual_payment(web: StaffPage, session: SessionDep) -> Response:
    """An operator records a payment seen outside a statement (cash at the office, a transfer)."""
    form = await web.check_csrf()
    try:
        amount = Decimal(str(form.get("amount", "")).strip().replace(",", "."))
        data = ManualPayment(
            member_id=int(str(form.get("member_id", "0")) or 0),
            amount_cents=decimal_to_cents(amount),
            paid_on=date.fromisoformat(str(form.get("paid_on", ""))),
            method="cash" if form.get("method") == "cash" else "transfer",
            invoice_numbers=_numbers(str(form.get("invoice_numbers", ""))),
            reference=str(form.get("reference", "")).strip() or None,
        )
        await service.record_manual(session, actor=web.user, data=data)
    except ValidationError as error:
        return _invalid(web, error)
    except (ValueError, ArithmeticError):
        return web.error(Invalid("Member number, amount and date must be valid.", code="invalid"))
    except DomainError as error:
        return web.error(error)
    return redirect("/console/payments", flash=web.translator.gettext("The payment was recorded."))


@router.post("/console/payments/collections", response_class=HTMLResponse)
async def console_collect(web: StaffPage, session: SessionDep) -> Response:
    """Direct debit files for every open invoice with a usable mandate, on the date given."""
    form = await web.check_csrf()
    try:
        on = date.fromisoformat(str(form.get("on", "")))
    except ValueError:
        return web.error(Invalid("The date is not valid.", code="invalid", field="on"))
    try:
        requests = await sepa.due_collections(session, actor=web.user, on=on)
        if not requests:
            return redirect("/console/payments", flash=web.translator.gettext("Nothing to collect."))
        files = await sepa.collect(session, actor=web.user, settings=web.settings, requests=requests)
    except DomainError as error:
        return web.error(error)
    return redirect(
        "/console/payments",
        flash=web.translator.ngettext("%(n)s direct debit file made.", "%(n)s direct debit files made.", len(files)),
    )


@router.get("/console/payments/files/{file_id}")
async def console_file(web: StaffPage, session: SessionDep, file_id: IdPath) -> Response:
    stored = await repository.file(session, file_id)
    if stored is None:
        return web.render("error.html", status_code=404, message=web.translator.gettext("Not found"))
    return file_download(stored)
