"""Every error is RFC 9457 problem details; bad input names the field and leaves nothing half-written."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Role
from app.members.models import Member
from app.settings import Settings
from tests.builders import make_member, make_user, token_for

APPLICATION = {
    "first_name": "Greta",
    "last_name": "Garten",
    "street": "Am Hang 1",
    "postal_code": "14467",
    "city": "Potsdam",
    "email": "greta@example.org",
    "shares": 2,
}


async def test_invalid_body_names_each_bad_field(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    headers = await token_for(client, await make_user(db_session, role=Role.OPERATOR))

    response = await client.post(
        "/api/v1/members", headers=headers, json={**APPLICATION, "shares": 0, "email": "not-an-email"}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {e["field"] for e in body["errors"]} == {"shares", "email"}
    assert body["status"] == 422 and body["type"].endswith("/validation_failed")
    assert (await db_session.execute(sa.select(sa.func.count()).select_from(Member))).scalar_one() == 0


async def test_control_characters_are_refused_not_a_database_error(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    headers = await token_for(client, await make_user(db_session, role=Role.OPERATOR))

    body = await client.post("/api/v1/members", headers=headers, json={**APPLICATION, "last_name": "Nul\x00l"})
    query = await client.get("/api/v1/members", headers=headers, params={"q": "a\x00b"})

    assert body.status_code == 422 and body.json()["errors"][0]["field"] == "last_name"
    assert query.status_code == 422 and query.json()["errors"][0]["field"] == "q"


async def test_huge_ids_are_refused_as_invalid_not_server_errors(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    headers = await token_for(client, await make_user(db_session, role=Role.BOARD))

    response = await client.get(f"/api/v1/members/{2**70}", headers=headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "member_id"


async def test_domain_rule_violation_rolls_back_the_whole_request(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, shares=1)
    member_id = member.id
    headers = await token_for(client, await make_user(db_session, role=Role.OPERATOR))

    response = await client.post(
        f"/api/v1/members/{member_id}/share-payments", headers=headers, json={"amount_cents": 1}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "amount_cents"
    shares = (await client.get(f"/api/v1/members/{member_id}/shares", headers=headers)).json()
    assert shares["capital_cents"] == settings.share_nominal_cents


async def test_unknown_route_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/no-such-thing")
    wrong = await client.delete("/api/v1/me")

    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"


async def test_wrong_lifecycle_step_is_a_conflict(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    applicant = await make_member(db_session, settings, admitted_on=None)
    applicant_id = applicant.id
    headers = await token_for(client, await make_user(db_session, role=Role.BOARD))
    await client.post(f"/api/v1/members/{applicant_id}/admit", headers=headers, json={"admitted_on": "2025-01-10"})

    again = await client.post(f"/api/v1/members/{applicant_id}/admit", headers=headers, json={})

    assert again.status_code == 409
    assert again.json()["code"] == "not_an_applicant"


async def test_member_list_filters_and_paginates(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    for name in ("Alpha", "Beta", "Gamma"):
        await make_member(db_session, settings, last_name=f"Zed{name}")
    await make_member(db_session, settings, last_name="Applicant", admitted_on=None)
    headers = await token_for(client, await make_user(db_session, role=Role.OPERATOR))

    page = (await client.get("/api/v1/members", headers=headers, params={"q": "zed", "limit": 2})).json()
    second = (await client.get("/api/v1/members", headers=headers, params={"q": "zed", "limit": 2, "offset": 2})).json()
    applicants = (await client.get("/api/v1/members", headers=headers, params={"status": "applicant"})).json()

    assert page["total"] == 3 and [m["last_name"] for m in page["items"]] == ["ZedAlpha", "ZedBeta"]
    assert [m["last_name"] for m in second["items"]] == ["ZedGamma"]
    assert [m["last_name"] for m in applicants["items"]] == ["Applicant"]


async def test_non_member_customers_are_refused_unless_the_statute_allows_them(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    headers = await token_for(client, await make_user(db_session, role=Role.OPERATOR))

    response = await client.post("/api/v1/customers", headers=headers, json=APPLICATION)

    assert response.status_code == 403
    assert response.json()["code"] == "non_members_not_allowed"
