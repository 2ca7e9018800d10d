"""The web shell without a browser: session cookies, CSRF, nothing half-written behind an error page, and the
navigation each role sees."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Role
from app.members import repository
from app.settings import Settings
from tests.builders import PASSWORD, make_member, make_user


async def web_login(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post("/login", data={"email": email, "password": PASSWORD, "next": ""})
    assert response.status_code == 303, response.text
    assert "ot_session" in client.cookies


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, "the page should carry a CSRF token in its forms"
    return found.group(1)


async def test_session_cookie_is_http_only_and_same_site(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    user = await make_user(db_session, role=Role.MEMBER, member=member)

    response = await client.post("/login", data={"email": user.email, "password": PASSWORD})

    cookie = response.headers["set-cookie"]
    assert "ot_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert response.headers["location"] == "/portal"


async def test_form_post_without_csrf_token_is_refused(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_id = member.id
    user = await make_user(db_session, role=Role.MEMBER, member=member)
    await web_login(client, user.email)

    response = await client.post("/portal/contact", data={"email": "x@example.org", "csrf": "forged"})

    assert response.status_code == 403
    assert (await repository.get(db_session, member_id)) is not None
    assert (await repository.get(db_session, member_id)).email != "x@example.org"  # type: ignore[union-attr]


async def test_contact_form_saves_with_a_valid_token(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_id = member.id
    user = await make_user(db_session, role=Role.MEMBER, member=member)
    await web_login(client, user.email)
    token = await csrf_of(client, "/portal")

    response = await client.post(
        "/portal/contact",
        data={
            "csrf": token,
            "email": "moved@example.org",
            "phone": "",
            "street": "Neue Str. 1",
            "postal_code": "10117",
            "city": "Berlin",
        },
    )

    assert response.status_code == 303
    saved = await repository.get(db_session, member_id)
    assert saved is not None and saved.email == "moved@example.org" and saved.street == "Neue Str. 1"


async def test_refused_form_leaves_nothing_half_written(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_id, old_email = member.id, member.email
    user = await make_user(db_session, role=Role.MEMBER, member=member)
    await web_login(client, user.email)
    token = await csrf_of(client, "/portal")

    # The e-mail would be set before the empty city is refused: the error page must roll it back.
    response = await client.post("/portal/contact", data={"csrf": token, "email": "half@example.org", "city": ""})

    assert response.status_code == 422
    db_session.expire_all()
    saved = await repository.get(db_session, member_id)
    assert saved is not None and saved.email == old_email


async def test_operators_find_the_dunning_list_in_the_navigation_and_members_do_not(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    operator = await make_user(db_session, role=Role.OPERATOR)
    member = await make_user(db_session, role=Role.MEMBER, member=await make_member(db_session, settings))
    link = '<li><a href="/console/dunning" '

    await web_login(client, operator.email)
    console = await client.get("/console")
    dunning = await client.get("/console/dunning")
    await client.post("/logout", data={"csrf": await csrf_of(client, "/console")})
    await web_login(client, member.email)
    portal = await client.get("/portal")

    assert console.status_code == 200 and link in console.text
    assert '<a href="/console/dunning" aria-current="page">Mahnwesen</a>' in dunning.text
    assert '<a href="/console" aria-current="page">' not in dunning.text
    assert portal.status_code == 200 and "/console/dunning" not in portal.text
