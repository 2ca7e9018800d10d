"""The payments API: a member's mandate (masked) and payments, only their own; staff import statements,
notifications and the bank's status reports, work the queue and make collection files."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import date

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Role
from app.settings import Settings
from billing.payments.pain002 import batches_of
from tests.billing.payments.builders import (
    MEMBER_IBAN,
    Batch,
    Booking,
    TxStatus,
    camt053,
    camt054,
    make_invoice,
    pain002,
)
from tests.builders import make_member, make_user, token_for


@pytest.fixture
async def staff(client: httpx.AsyncClient, db_session: AsyncSession) -> dict[str, str]:
    return await token_for(client, await make_user(db_session, role=Role.OPERATOR))


async def test_a_member_gives_a_mandate_and_sees_it_masked_and_nobody_elses(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    other = await make_member(db_session, settings)
    member_id, other_id = member.id, other.id
    headers = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=member))
    body = {"debtor_name": "Erika Mustermann", "iban": "DE89 3704 0044 0532 0130 00"}

    given = await client.put(f"/api/v1/members/{member_id}/mandate", headers=headers, json=body)
    shown = await client.get(f"/api/v1/members/{member_id}/mandate", headers=headers)
    foreign = await client.put(f"/api/v1/members/{other_id}/mandate", headers=headers, json=body)
    bad = await client.put(f"/api/v1/members/{member_id}/mandate", headers=headers, json=body | {"iban": "DE00"})

    assert given.status_code == 201, given.text
    assert shown.json()["iban_masked"] == "DE89 **** **** **** **30 00"
    assert MEMBER_IBAN not in shown.text
    assert (shown.json()["sequence"], shown.json()["state"], shown.json()["bic"]) == ("FRST", "active", "COBADEFFXXX")
    assert foreign.status_code == 404
    assert (bad.status_code, bad.json()["code"]) == (422, "iban_invalid")


async def test_staff_import_a_statement_and_assign_the_waiting_payment(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, staff: dict[str, str]
) -> None:
    member = await make_member(db_session, settings)
    member_id = member.id
    await make_invoice(db_session, member=member, number="2026-000777", gross_cents=2990)
    member_headers = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=member))
    data = camt053(Booking("29.90", remittance="Internet Herbst", bank_reference="R-1"))

    imported = await client.post(
        "/api/v1/payments/statements", headers=staff | {"content-type": "application/xml"}, content=data
    )
    queue = await client.get("/api/v1/payments/queue", headers=staff)
    [waiting] = queue.json()["items"]
    assigned = await client.post(
        f"/api/v1/payments/queue/{waiting['id']}/assignment", headers=staff, json={"member_id": member_id}
    )
    mine = await client.get(f"/api/v1/members/{member_id}/payments", headers=member_headers)
    as_member = await client.get("/api/v1/payments/queue", headers=member_headers)

    assert imported.status_code == 200, imported.text
    assert (imported.json()["transactions"], imported.json()["queued"]) == (1, 1)
    assert waiting["counterparty_iban_masked"] == "DE89 **** **** **** **30 00"
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["allocations"] == [
        {
            "invoice_id": assigned.json()["allocations"][0]["invoice_id"],
            "invoice_number": "2026-000777",
            "amount_cents": 2990,
        }
    ]
    assert [p["amount_cents"] for p in mine.json()] == [2990]
    assert as_member.status_code == 403


async def collect_by_api(client: httpx.AsyncClient, staff: dict[str, str], member_id: int) -> httpx.Response:
    """Staff record the member's mandate and collect 49.90 EUR for invoice 2026-000123 on 16 November 2026."""
    await client.put(
        f"/api/v1/members/{member_id}/mandate",
        headers=staff,
        json={"debtor_name": "Erika Mustermann", "iban": MEMBER_IBAN, "signed_on": "2026-01-05"},
    )
    collection = {
        "member_id": member_id,
        "amount_cents": 4990,
        "end_to_end_id": "2026-000123",
        "remittance": "Rechnung 2026-000123",
        "collection_date": "2026-11-16",
    }
    return await client.post("/api/v1/payments/collections", headers=staff, json=[collection])


async def test_staff_make_a_collection_file_and_download_it_as_stored(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, staff: dict[str, str]
) -> None:
    member = await make_member(db_session, settings)

    made = await collect_by_api(client, staff, member.id)
    [stored] = made.json()
    download = await client.get(f"/api/v1/payments/files/{stored['id']}/xml", headers=staff)

    assert made.status_code == 201, made.text
    assert (stored["schema_name"], stored["sequence"], stored["total_cents"]) == ("pain.008.001.08", "FRST", 4990)
    assert hashlib.sha256(download.content).hexdigest() == stored["sha256"]
    assert b"<MndtId>OT-" in download.content


async def test_staff_import_the_bank_s_status_report_and_a_member_may_not(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, staff: dict[str, str]
) -> None:
    member = await make_member(db_session, settings)
    member_id = member.id
    member_headers = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=member))
    [made] = (await collect_by_api(client, staff, member_id)).json()
    content = (await client.get(f"/api/v1/payments/files/{made['id']}/xml", headers=staff)).content
    report = pain002(TxStatus("2026-000123", "RJCT", "AM04"), of=content)
    xml = {"content-type": "application/xml"}

    as_member = await client.post("/api/v1/payments/status-reports", headers=member_headers | xml, content=report)
    imported = await client.post("/api/v1/payments/status-reports", headers=staff | xml, content=report)
    unknown = await client.post(
        "/api/v1/payments/status-reports",
        headers=staff | xml,
        content=pain002(of=content, original_message_id="NICHT-VON-UNS", group_status="RJCT"),
    )
    empty = await client.post("/api/v1/payments/status-reports", headers=staff | xml, content=b"")

    assert as_member.status_code == 403
    assert imported.status_code == 200, imported.text
    assert (imported.json()["file_id"], imported.json()["rejected"]) == (made["id"], 1)
    assert imported.json()["rejections"] == [
        {
            "end_to_end_id": "2026-000123",
            "member_id": member_id,
            "amount_cents": 4990,
            "reason_code": "AM04",
            "reason_info": None,
            "item_status": "rejected",
        }
    ]
    assert (unknown.status_code, unknown.json()["code"]) == (404, "pain002_unknown_file")
    assert (empty.status_code, empty.json()["code"]) == (422, "pain002_invalid")


async def test_staff_import_a_notification_of_a_batch_and_the_statement_then_books_nothing_again(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, staff: dict[str, str]
) -> None:
    member = await make_member(db_session, settings)
    await make_invoice(db_session, member=member, number="2026-000123", gross_cents=4990)
    [made] = (await collect_by_api(client, staff, member.id)).json()
    content = (await client.get(f"/api/v1/payments/files/{made['id']}/xml", headers=staff)).content
    [batch_id] = batches_of(content)
    batch = Batch((Booking("49.90", end_to_end_id="2026-000123"),), batch_id=batch_id, booked_on=date(2026, 11, 16))
    xml = staff | {"content-type": "application/xml"}

    notified = await client.post("/api/v1/payments/statements", headers=xml, content=camt054(batch))
    stated = await client.post(
        "/api/v1/payments/statements",
        headers=xml,
        content=camt053(batches=[dataclasses.replace(batch, details=False)]),
    )

    assert notified.status_code == 200, notified.text
    assert {k: notified.json()[k] for k in ("statements", "transactions", "matched", "covered")} == {
        "statements": 1,
        "transactions": 1,
        "matched": 1,
        "covered": 0,
    }
    assert stated.status_code == 200, stated.text
    assert (stated.json()["transactions"], stated.json()["covered"], stated.json()["queued"]) == (1, 1, 0)
    payments = await client.get(f"/api/v1/members/{member.id}/payments", headers=staff)
    assert [p["amount_cents"] for p in payments.json()] == [4990]
