"""Logging in: argon2 passwords, bearer tokens, throttling, deactivation."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import AuthToken, LoginAttempt
from app.kit.actor import Role
from app.settings import Settings
from tests.builders import PASSWORD, make_member, make_user, token_for


async def test_password_is_stored_as_argon2id_hash(db_session: AsyncSession) -> None:
    user = await make_user(db_session, role=Role.OPERATOR)

    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


async def test_token_is_stored_only_as_its_digest(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    user = await make_user(db_session, role=Role.OPERATOR)
    headers = await token_for(client, user)
    token = headers["Authorization"].removeprefix("Bearer ")

    stored = (await db_session.execute(sa.select(AuthToken.token_hash))).scalars().all()

    assert token not in stored
    assert len(stored) == 1 and len(stored[0]) == 64


async def test_wrong_password_gets_problem_401_and_is_recorded(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await make_user(db_session, role=Role.OPERATOR)
    email = user.email

    response = await client.post("/api/v1/auth/token", data={"username": email, "password": "wrong password"})

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    attempts = (await db_session.execute(sa.select(LoginAttempt).where(LoginAttempt.email == email))).scalars().all()
    assert [a.succeeded for a in attempts] == [False]


async def test_unknown_email_gets_the_same_answer_as_a_wrong_password(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/token", data={"username": "nobody@example.org", "password": "whatever1"})

    assert response.status_code == 401
    assert response.json()["detail"] == "E-mail or password is wrong."


async def test_repeated_failures_lock_the_login_even_with_the_right_password(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, role=Role.OPERATOR)
    email = user.email
    for _ in range(settings.login_max_failures):
        await client.post("/api/v1/auth/token", data={"username": email, "password": "guess-guess"})

    response = await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})

    assert response.status_code == 429
    assert int(response.headers["retry-after"]) == settings.login_window_minutes * 60


async def test_deactivated_user_loses_tokens_at_once(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    admin = await make_user(db_session, role=Role.ADMIN)
    operator = await make_user(db_session, role=Role.OPERATOR)
    operator_id = operator.id
    admin_headers = await token_for(client, admin)
    operator_headers = await token_for(client, operator)
    assert (await client.get("/api/v1/me", headers=operator_headers)).status_code == 200

    response = await client.post(f"/api/v1/users/{operator_id}/deactivate", headers=admin_headers)

    assert response.status_code == 200 and response.json()["is_active"] is False
    assert (await client.get("/api/v1/me", headers=operator_headers)).status_code == 401


async def test_logout_revokes_the_token(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    headers = await token_for(client, await make_user(db_session, role=Role.BOARD))

    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401


async def test_member_login_must_point_at_a_member(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    headers = await token_for(client, await make_user(db_session, role=Role.ADMIN))
    member = await make_member(db_session, settings)
    member_id = member.id

    without = await client.post(
        "/api/v1/users",
        headers=headers,
        json={"email": "m@example.org", "password": "long enough", "role": "member", "display_name": "M"},
    )
    created = await client.post(
        "/api/v1/users",
        headers=headers,
        json={
            "email": "m@example.org",
            "password": "long enough",
            "role": "member",
            "display_name": "M",
            "member_id": member_id,
        },
    )
    duplicate = await client.post(
        "/api/v1/users",
        headers=headers,
        json={"email": "M@example.org", "password": "long enough", "role": "operator", "display_name": "M"},
    )

    assert without.status_code == 422 and without.json()["errors"][0]["field"] == "member_id"
    assert created.status_code == 201, created.text
    assert created.json()["member_id"] == member_id
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "email_taken"


async def test_only_admins_manage_users(client: httpx.AsyncClient, db_session: AsyncSession) -> None:
    headers = await token_for(client, await make_user(db_session, role=Role.BOARD))

    response = await client.get("/api/v1/users", headers=headers)

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
