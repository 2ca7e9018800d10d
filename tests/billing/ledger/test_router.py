"""The ledger API: the board reads the journal, the trial balance and the export, posts and reverses by hand;
nobody else reads the books."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Role
from app.settings import Settings
from tests.builders import make_member, make_user, token_for


def manual(document: str, *lines: dict[str, Any], entry_date: str = "2026-01-20") -> dict[str, Any]:
    return {"entry_date": entry_date, "text": "Kontoführung Januar", "document": document, "lines": list(lines)}


@pytest.fixture
async def board(client: httpx.AsyncClient, db_session: AsyncSession) -> dict[str, str]:
    return await token_for(client, await make_user(db_session, role=Role.BOARD))


async def test_the_board_posts_by_hand_once_per_document_and_reads_it_back(
    client: httpx.AsyncClient, board: dict[str, str]
) -> None:
    body = manual("KA-2026-01", {"account": "8401", "debit_cents": 990}, {"account": "1200", "credit_cents": 990})

    created = await client.post("/api/v1/ledger/entries", headers=board, json=body)
    again = await client.post("/api/v1/ledger/entries", headers=board, json=body)
    shown = await client.get(f"/api/v1/ledger/entries/{created.json()['id']}", headers=board)
    listed = await client.get("/api/v1/ledger/entries", headers=board, params={"source_kind": "manual"})

    assert created.status_code == 201, created.text
    assert again.json()["id"] == created.json()["id"]
    assert shown.json()["document_number"] == "MAN-KA-2026-01"
    assert shown.json()["lines"] == [
        {"account": "8401", "debit_cents": 990, "credit_cents": 0, "member_id": None},
        {"account": "1200", "debit_cents": 0, "credit_cents": 990, "member_id": None},
    ]
    assert [e["id"] for e in listed.json()["items"]] == [created.json()["id"]]


async def test_an_unbalanced_entry_is_a_problem_with_its_code_and_books_nothing(
    client: httpx.AsyncClient, board: dict[str, str]
) -> None:
    body = manual("KA-X", {"account": "1200", "debit_cents": 1000}, {"account": "8401", "credit_cents": 999})

    response = await client.post("/api/v1/ledger/entries", headers=board, json=body)
    listed = await client.get("/api/v1/ledger/entries", headers=board, params={"source_kind": "manual"})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "ledger_unbalanced"
    assert listed.json()["total"] == 0


async def test_a_reversal_through_the_api_names_the_entry_and_cannot_be_repeated(
    client: httpx.AsyncClient, board: dict[str, str]
) -> None:
    body = manual("KA-R", {"account": "1200", "debit_cents": 500}, {"account": "8401", "credit_cents": 500})
    entry_id = (await client.post("/api/v1/ledger/entries", headers=board, json=body)).json()["id"]

    first = await client.post(
        f"/api/v1/ledger/entries/{entry_id}/reversal", headers=board, json={"reversed_on": "2026-01-31"}
    )
    second = await client.post(
        f"/api/v1/ledger/entries/{entry_id}/reversal", headers=board, json={"reversed_on": "2026-01-31"}
    )
    original = await client.get(f"/api/v1/ledger/entries/{entry_id}", headers=board)

    assert first.status_code == 201
    assert first.json()["reverses_id"] == entry_id
    assert original.json()["reversed_by_id"] == first.json()["id"]
    assert second.status_code == 409 and second.json()["code"] == "ledger_already_reversed"


async def test_the_trial_balance_and_the_journal_show_share_capital(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, board: dict[str, str]
) -> None:
    member = await make_member(db_session, settings, shares=2)
    await make_member(db_session, settings, shares=1)

    trial = (await client.get("/api/v1/ledger/trial-balance", headers=board)).json()
    mine = (await client.get("/api/v1/ledger/entries", headers=board, params={"member_id": member.id})).json()
    capital = (await client.get("/api/v1/ledger/entries", headers=board, params={"account": "0800"})).json()

    balances = {a["code"]: a["balance_cents"] for a in trial["accounts"]}
    assert balances["1200"] == 30_000 and balances["0800"] == -30_000
    assert trial["balance_cents"] == 0
    assert [line["credit_cents"] for line in mine["items"][0]["lines"] if line["member_id"] == member.id] == [20_000]
    assert mine["total"] == 1
    assert capital["total"] == 2


async def test_the_export_is_a_csv_download_for_a_given_period(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, board: dict[str, str]
) -> None:
    await make_member(db_session, settings)  # admitted and paid on 2025-01-10

    period = {"from": "2025-01-01", "to": "2025-12-31"}
    response = await client.get("/api/v1/ledger/export", headers=board, params=period)
    no_period = await client.get("/api/v1/ledger/export", headers=board)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="buchungen-2025-01-01-2025-12-31.csv"' in response.headers["content-disposition"]
    rows = response.content.decode("utf-8-sig").splitlines()
    assert rows[0] == "Umsatz;Soll/Haben-Kennzeichen;Konto;Gegenkonto;Belegdatum;Belegfeld 1;Buchungstext"
    assert rows[1].startswith("100,00;S;1200;0800;10.01.2025;GA-")
    assert len(rows) == 2
    assert no_period.status_code == 422 and no_period.json()["code"] == "ledger_period"


@pytest.mark.parametrize("role", [Role.MEMBER, Role.OPERATOR])
@pytest.mark.parametrize("path", ["/api/v1/ledger/trial-balance", "/api/v1/ledger/entries", "/api/v1/ledger/accounts"])
async def test_only_the_board_reads_the_books(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, role: Role, path: str
) -> None:
    member = await make_member(db_session, settings) if role is Role.MEMBER else None
    headers = await token_for(client, await make_user(db_session, role=role, member=member))

    response = await client.get(path, headers=headers)

    assert response.status_code == 403
