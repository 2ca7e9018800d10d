"""The payment pages: the member's mandate form and payments, the operator's queue and the upload of
statements and status reports."""

from __future__ import annotations

from urllib.parse import unquote

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Role
from app.settings import Settings
from billing.payments import repository, sepa, service
from billing.payments.models import ItemStatus
from billing.payments.pain002 import batches_of
from tests.billing.payments.builders import (
    Batch,
    Booking,
    TxStatus,
    camt053,
    camt054,
    make_invoice,
    make_mandate,
    pain002,
)
from tests.billing.payments.test_sepa import request
from tests.builders import BOARD, make_member, make_user
from tests.web.test_pages import csrf_of, web_login


async def test_a_member_gives_a_mandate_on_their_page_and_sees_it_masked(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_id = member.id
    user = await make_user(db_session, role=Role.MEMBER, member=member)
    await web_login(client, user.email)
    token = await csrf_of(client, "/portal/payments")

    saved = await client.post(
        "/portal/payments/mandate",
        data={"csrf": token, "debtor_name": "Erika Mustermann", "iban": "DE89370400440532013000"},
    )
    page = await client.get("/portal/payments")

    assert saved.status_code == 303
    assert "DE89 **** **** **** **30 00" in page.text
    assert "DE89370400440532013000" not in page.text
    assert "Gläubiger-Identifikationsnummer" in page.text  # German by default
    assert (await repository.active_mandate(db_session, member_id)) is not None


async def test_an_operator_uploads_a_statement_and_sees_the_queue(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, role=Role.OPERATOR)
    await web_login(client, user.email)
    token = await csrf_of(client, "/console/payments")

    uploaded = await client.post(
        "/console/payments/statements",
        data={"csrf": token},
        files={"file": ("auszug.xml", camt053(Booking("12.00", name="Max Unbekannt", remittance="??")), "text/xml")},
    )
    page = await client.get("/console/payments")

    assert uploaded.status_code == 303, uploaded.text
    assert page.text.count('class="queued"') == 1
    assert "Max Unbekannt" in page.text


async def test_an_operator_records_a_cash_payment_in_euros(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_id = member.id
    user = await make_user(db_session, role=Role.OPERATOR)
    await web_login(client, user.email)
    token = await csrf_of(client, "/console/payments")
    form = {"csrf": token, "member_id": str(member_id), "paid_on": "2026-11-05", "method": "cash"}

    recorded = await client.post("/console/payments/manual", data=form | {"amount": "12,50"})
    refused = await client.post("/console/payments/manual", data=form | {"amount": "zwölf"})

    assert recorded.status_code == 303, recorded.text
    assert refused.status_code == 422
    [(payment, _)] = await service.payments_of(db_session, actor=BOARD, member_id=member_id)
    assert (payment.amount_cents, payment.method.value) == (1250, "cash")


async def test_an_operator_uploads_the_bank_s_status_report_in_the_statement_form(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_mandate(db_session, settings, member=member)
    [made] = await sepa.collect(
        db_session, actor=BOARD, settings=settings, requests=[request(member.id, "2026-000123")]
    )
    file_id, message_id = made.id, made.message_id
    report = pain002(TxStatus("2026-000123", "RJCT", "MD01"), of=made.content)
    user = await make_user(db_session, role=Role.OPERATOR)
    await web_login(client, user.email)
    token = await csrf_of(client, "/console/payments")

    uploaded = await client.post(
        "/console/payments/statements", data={"csrf": token}, files={"file": ("pain002.xml", report, "text/xml")}
    )
    again = await client.post(
        "/console/payments/statements", data={"csrf": token}, files={"file": ("pain002.xml", report, "text/xml")}
    )
    page = await client.get("/console/payments")

    assert uploaded.status_code == 303, uploaded.text
    flash = unquote(uploaded.headers["location"])
    assert f"Statusbericht zur Datei {message_id}" in flash
    assert "abgelehnt 2026-000123 (MD01); 1 wieder offen" in flash
    assert "wurde schon eingelesen" in unquote(again.headers["location"])
    assert page.text.count('class="status-report"') == 1
    assert "Statusberichte der Bank" in page.text
    [item] = await repository.collection_items(db_session, file_id)
    assert item.status is ItemStatus.REJECTED


async def test_an_operator_uploads_the_notification_of_a_batch_and_then_the_statement_that_books_it(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_invoice(db_session, member=member, number="2026-000123", gross_cents=4990)
    await make_mandate(db_session, settings, member=member)
    [made] = await sepa.collect(
        db_session, actor=BOARD, settings=settings, requests=[request(member.id, "2026-000123")]
    )
    [batch_id] = batches_of(made.content)
    batch = Batch((Booking("49.90", end_to_end_id="2026-000123"),), batch_id=batch_id, bank_reference="SAMMLER-9")
    user = await make_user(db_session, role=Role.OPERATOR)
    await web_login(client, user.email)
    page = await client.get("/console/payments")
    token = await csrf_of(client, "/console/payments")

    notified = await client.post(
        "/console/payments/statements", data={"csrf": token}, files={"file": ("054.xml", camt054(batch), "text/xml")}
    )
    summary = camt053(batches=[Batch(batch.bookings, details=False, batch_id=batch_id, bank_reference="SAMMLER-9")])
    stated = await client.post(
        "/console/payments/statements", data={"csrf": token}, files={"file": ("053.xml", summary, "text/xml")}
    )

    assert "camt.053-, camt.054- oder pain.002-Datei" in page.text
    assert notified.status_code == 303, notified.text
    assert "Sammlerauflösung eingelesen: 1 neue Umsätze (0 bekannt), 1 zugeordnet" in unquote(
        notified.headers["location"]
    )
    assert stated.status_code == 303, stated.text
    assert "1 schon über die Sammlerauflösung der Bank gebucht" in unquote(stated.headers["location"])
    [item] = await repository.collection_items(db_session, made.id)
    assert item.status is ItemStatus.COLLECTED


async def test_a_member_may_not_upload_what_the_bank_sends(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    user = await make_user(db_session, role=Role.MEMBER, member=member)
    await web_login(client, user.email)
    token = await csrf_of(client, "/portal/payments")

    refused = await client.post(
        "/console/payments/statements",
        data={"csrf": token},
        files={"file": ("pain002.xml", b"<Document/>", "text/xml")},
    )

    assert refused.status_code == 403
