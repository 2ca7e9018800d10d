"""The dividends API: the board enters, previews and runs a decision, pays it out (a valid pain.001 to download)
and issues the decided patronage refund, each audited; members manage their own choice, exemption orders and
statements, get 404 for anyone else's and 403 on the board's endpoints; the statement PDF says what it must."""

from __future__ import annotations

import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import xmlschema
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.kit.actor import Role
from app.members.models import Member
from app.settings import Settings
from billing.dividends import service
from tests.billing.dividends.builders import make_booked_decision, make_decision, make_year_2025
from tests.billing.dividends.test_transfers import SCHEMA
from tests.billing.payments.builders import make_invoice, make_mandate
from tests.builders import make_member, make_user, token_for


@pytest.fixture
async def board(client: httpx.AsyncClient, db_session: AsyncSession) -> dict[str, str]:
    return await token_for(client, await make_user(db_session, role=Role.BOARD))


async def member_login(client: httpx.AsyncClient, session: AsyncSession, member: Member) -> dict[str, str]:
    return await token_for(client, await make_user(session, role=Role.MEMBER, member=member))


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "statement.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


async def test_the_board_enters_previews_and_runs_a_decision_once(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, board: dict[str, str]
) -> None:
    year = await make_year_2025(db_session, settings)
    body = {"business_year": 2025, "rate_percent": "4", "decided_on": "2026-06-15"}

    created = await client.post("/api/v1/dividends/decisions", headers=board, json=body)
    decision_id = created.json()["id"]
    preview = await client.get(f"/api/v1/dividends/decisions/{decision_id}/allocations", headers=board)
    first = await client.post(f"/api/v1/dividends/decisions/{decision_id}/run", headers=board)
    second = await client.post(f"/api/v1/dividends/decisions/{decision_id}/run", headers=board)

    assert created.status_code == 201, created.text
    assert created.json()["status"] == "draft" and created.json()["basis"] == "days"
    assert preview.json()["totals"]["gross_cents"] == 5_805
    by_member = {a["member_id"]: a for a in preview.json()["allocations"]}
    assert by_member[year.exempt.id]["net_cents"] == 3_895
    assert first.json()["entries"] == 9 and first.json()["status"] == "booked"
    assert second.json()["entries"] == 0


async def test_a_decision_before_the_year_end_is_a_problem_with_its_code(
    client: httpx.AsyncClient, board: dict[str, str]
) -> None:
    body = {"business_year": 2025, "rate_percent": "4", "decided_on": "2025-12-01"}

    response = await client.post("/api/v1/dividends/decisions", headers=board, json=body)

    assert response.status_code == 422
    assert response.json()["code"] == "dividend_before_year_end"


async def test_members_may_not_enter_or_run_decisions(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    year = await make_year_2025(db_session, settings)
    anna = await member_login(client, db_session, year.joined)
    body = {"business_year": 2025, "rate_percent": "4", "decided_on": "2026-06-15"}

    response = await client.post("/api/v1/dividends/decisions", headers=anna, json=body)

    assert response.status_code == 403


async def test_a_member_sets_their_own_choice_and_exemption_order_but_nobody_else_s(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    year = await make_year_2025(db_session, settings)
    anna = await member_login(client, db_session, year.joined)
    own = f"/api/v1/dividends/members/{year.joined.id}"
    other = f"/api/v1/dividends/members/{year.exempt.id}"

    chosen = await client.put(f"{own}/choice", headers=anna, json={"choice": "capital"})
    shown = await client.get(f"{own}/choice", headers=anna)
    filed = await client.post(
        f"{own}/exemption-orders", headers=anna, json={"calendar_year": 2026, "allowance_cents": 50_000}
    )
    too_much = await client.post(
        f"{own}/exemption-orders", headers=anna, json={"calendar_year": 2027, "allowance_cents": 300_000}
    )
    foreign_choice = await client.put(f"{other}/choice", headers=anna, json={"choice": "payout"})
    foreign_orders = await client.get(f"{other}/exemption-orders", headers=anna)

    assert chosen.status_code == 200 and shown.json()["choice"] == "capital"
    assert filed.status_code == 201 and filed.json()["used_cents"] == 0
    assert too_much.status_code == 422 and too_much.json()["code"] == "exemption_above_maximum"
    assert foreign_choice.status_code == 404
    assert foreign_orders.status_code == 404


async def test_the_annual_statement_pdf_shows_capital_dividend_and_tax_and_only_to_its_member(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, board: dict[str, str], tmp_path: Path
) -> None:
    year = await make_year_2025(db_session, settings)
    created = await client.post(
        "/api/v1/dividends/decisions",
        headers=board,
        json={"business_year": 2025, "rate_percent": "4", "decided_on": "2026-06-15"},
    )
    await client.post(f"/api/v1/dividends/decisions/{created.json()['id']}/run", headers=board)
    bernd = await member_login(client, db_session, year.exempt)
    anna = await member_login(client, db_session, year.joined)
    path = f"/api/v1/dividends/members/{year.exempt.id}/statements"

    years = await client.get(path, headers=bernd)
    pdf = await client.get(f"{path}/2025/pdf", headers=bernd)
    foreign = await client.get(f"{path}/2025/pdf", headers=anna)
    foreign_list = await client.get(path, headers=anna)
    no_year = await client.get(f"{path}/2019/pdf", headers=bernd)

    assert years.json() == [2025, 2024]
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content, tmp_path)
    for expected in (
        "Jahresmitteilung 2025",
        "Geschäftsguthaben zu Beginn des Jahres",
        "1.000,00 €",
        "Geschäftsanteile am Ende des Jahres: 11",
        "40,00 €",  # gross
        "36,00 €",  # exemption used
        "Kapitalertragsteuer",
        "1,00 €",
        "0,05 €",
        "38,95 €",
        "Dem Geschäftsguthaben gutgeschrieben",
    ):
        assert expected in text, expected
    assert "Genossenschaftliche Rückvergütung" not in text  # no refunds yet: the section stays out
    assert foreign.status_code == 404
    assert foreign_list.status_code == 404
    assert no_year.status_code == 404


async def test_a_business_year_out_of_range_is_refused_before_the_database(
    client: httpx.AsyncClient, board: dict[str, str]
) -> None:
    listed = await client.get("/api/v1/dividends/capital-payouts", headers=board, params={"business_year": -4853993746})
    statement = await client.get("/api/v1/dividends/members/1/statements/99999999999/pdf", headers=board)

    assert listed.status_code == 422
    assert statement.status_code == 422


async def _audited(session: AsyncSession, action: str, entity_type: str, user_id: int) -> list[str]:
    """The entity ids the user's API calls wrote under ``action``."""
    rows = await session.scalars(
        sa.select(AuditEvent.entity_id).where(
            AuditEvent.action == action,
            AuditEvent.entity_type == entity_type,
            AuditEvent.actor_user_id == user_id,
            AuditEvent.channel == "api",
        )
    )
    return list(rows)


async def test_the_board_pays_a_booked_decision_out_once_and_downloads_a_valid_pain001(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    year = await make_year_2025(db_session, settings)
    await make_mandate(db_session, settings, member=year.joined, signed_on=date(2025, 7, 1), debtor_name="Anna Test")
    decision_id = await make_booked_decision(db_session, settings)
    user = await make_user(db_session, role=Role.BOARD)
    board = await token_for(client, user)
    url = f"/api/v1/dividends/decisions/{decision_id}/payouts"

    first = await client.post(url, headers=board, json={"execution_date": "2026-07-01"})
    file_id = first.json()["file_id"]
    download = await client.get(f"/api/v1/payments/files/{file_id}/xml", headers=board)
    second = await client.post(url, headers=board, json={"execution_date": "2026-07-01"})
    listed = await client.get(url, headers=board)

    assert first.status_code == 200, first.text
    # Anna's 4.46 EUR is paid; Carla left without an account and her 1.46 EUR waits.
    assert (first.json()["paid"], first.json()["paid_cents"]) == (1, 446)
    assert [(w["member_id"], w["amount_cents"]) for w in first.json()["waiting"]] == [(year.left.id, 146)]
    assert first.json()["waiting_cents"] == 146
    assert download.status_code == 200
    assert xmlschema.XMLSchema(str(SCHEMA)).is_valid(download.text)
    assert "<EndToEndId>DIV-" in download.text and '<InstdAmt Ccy="EUR">4.46</InstdAmt>' in download.text
    assert (second.json()["file_id"], second.json()["paid"], second.json()["paid_before"]) == (None, 0, 1)
    assert [(f["id"], f["item_count"], f["total_cents"]) for f in listed.json()] == [(file_id, 1, 446)]
    assert await _audited(db_session, "payments.pay_out", "sepa_files", user.id) == [str(file_id)]


async def test_the_board_issues_the_refund_decided_with_the_dividend_once(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    await make_invoice(db_session, member=member, gross_cents=11_900, issued_on=date(2026, 10, 1))  # net 100.00
    user = await make_user(db_session, role=Role.BOARD)
    board = await token_for(client, user)
    body = {"business_year": 2026, "rate_percent": "4", "decided_on": "2027-06-10", "refund_percent": "3"}

    decided = await client.post("/api/v1/dividends/decisions", headers=board, json=body)
    url = f"/api/v1/dividends/decisions/{decided.json()['id']}/refunds"
    first = await client.post(url, headers=board, json={"issue_on": "2027-06-20"})
    second = await client.post(url, headers=board, json={"issue_on": "2027-06-20"})
    totals = await client.get(url, headers=board)
    listed = await client.get("/api/v1/dividends/decisions", headers=board)

    assert decided.status_code == 201, decided.text
    assert Decimal(decided.json()["refund_percent"]) == 3
    assert [Decimal(d["refund_percent"]) for d in listed.json()] == [3]
    assert first.status_code == 200, first.text
    # 100.00 x 3 % = 3.00 net, VAT 0.57.
    [note] = first.json()["issued"]
    assert (note["net_cents"], note["vat_cents"], note["gross_cents"]) == (300, 57, 357)
    assert note["credit_note_number"].startswith("GS-2027-")
    assert (second.json()["issued"], second.json()["year"]["credit_notes"]) == ([], 1)
    assert totals.json() == {"credit_notes": 1, "net_cents": 300, "vat_cents": 57, "gross_cents": 357}
    assert len(await _audited(db_session, "dividends.patronage_refund", "invoices", user.id)) == 1


async def test_a_refund_of_a_decision_without_one_is_a_problem_with_its_code(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, board: dict[str, str]
) -> None:
    decision = await make_decision(db_session, settings)

    response = await client.post(
        f"/api/v1/dividends/decisions/{decision.id}/refunds", headers=board, json={"issue_on": "2026-07-01"}
    )

    assert response.status_code == 422
    assert response.json()["code"] == "refund_not_decided"


async def test_members_may_not_pay_out_or_issue_refunds(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    year = await make_year_2025(db_session, settings)
    decision_id = await make_booked_decision(db_session, settings)
    anna = await member_login(client, db_session, year.joined)
    base = f"/api/v1/dividends/decisions/{decision_id}"

    responses = [
        await client.post(f"{base}/payouts", headers=anna, json={}),
        await client.get(f"{base}/payouts", headers=anna),
        await client.post(f"{base}/refunds", headers=anna, json={}),
        await client.get(f"{base}/refunds", headers=anna),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert await service.payout_instructions(db_session, decision_id)  # there was something to pay


async def test_the_board_records_a_refund_on_a_booked_decision_and_a_member_may_not(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, board: dict[str, str]
) -> None:
    year = await make_year_2025(db_session, settings)
    decision_id = await make_booked_decision(db_session, settings)
    member = await member_login(client, db_session, year.joined)
    url = f"/api/v1/dividends/decisions/{decision_id}/refund-percent"

    refused = await client.put(url, headers=member, json={"refund_percent": "9"})
    recorded = await client.put(url, headers=board, json={"refund_percent": "2.5"})
    invalid = await client.put(url, headers=board, json={"refund_percent": "120"})
    events = (
        await db_session.execute(sa.select(AuditEvent.action).where(AuditEvent.action == "dividend.refund_percent"))
    ).all()

    assert refused.status_code == 403
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["status"] == "booked" and Decimal(recorded.json()["refund_percent"]) == Decimal("2.5")
    assert invalid.status_code == 422
    assert len(events) == 1
