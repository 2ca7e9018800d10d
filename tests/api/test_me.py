"""The logged-in member reads their own record, and no one else's."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Role
from app.settings import Settings
from tests.builders import make_contract, make_member, make_user, token_for


async def test_member_token_reads_own_record_via_me(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    anna = await make_member(db_session, settings, first_name="Anna")
    user = await make_user(db_session, role=Role.MEMBER, member=anna)
    headers = await token_for(client, user)

    response = await client.get("/api/v1/me", headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert body["member"]["id"] == anna.id
    assert body["member"]["first_name"] == "Anna"
    assert body["user"]["email"] == user.email


async def test_member_gets_404_for_another_members_record_and_contract(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    anna = await make_member(db_session, settings, first_name="Anna")
    ben = await make_member(db_session, settings, first_name="Ben")
    bens_contract = await make_contract(db_session, settings, member=ben)
    ben_id, contract_id = ben.id, bens_contract.id  # a refused request rolls back and expires loaded objects
    headers = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=anna))

    member = await client.get(f"/api/v1/members/{ben_id}", headers=headers)
    contract = await client.get(f"/api/v1/contracts/{contract_id}", headers=headers)

    assert member.status_code == 404
    assert member.headers["content-type"].startswith("application/problem+json")
    assert contract.status_code == 404
    assert "Ben" not in member.text + contract.text


async def test_request_without_token_is_problem_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "missing_token"
