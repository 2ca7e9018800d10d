"""Every write is attributable: who, when, through which channel, with values before and after."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.audit.service import ACTOR_KEY, UnattributedWrite
from app.kit.actor import Role
from app.members.models import Member
from app.settings import Settings
from tests.builders import make_member, make_user, token_for


async def test_contact_change_through_api_is_logged_with_before_and_after(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_id, old_email = member.id, member.email
    user = await make_user(db_session, role=Role.MEMBER, member=member)
    user_id, user_email = user.id, user.email
    headers = await token_for(client, user)

    response = await client.patch(f"/api/v1/members/{member_id}", headers=headers, json={"email": "new@example.org"})

    assert response.status_code == 200
    event = (
        await db_session.execute(
            sa.select(AuditEvent).where(
                AuditEvent.action == "member.contact_update", AuditEvent.entity_id == str(member_id)
            )
        )
    ).scalar_one()
    assert event.actor_user_id == user_id
    assert event.actor_label == user_email
    assert event.channel == "api"
    assert event.request_id == response.headers["x-request-id"]
    assert event.before is not None and event.before["email"] == old_email
    assert event.after is not None and event.after["email"] == "new@example.org"


async def test_write_without_an_actor_is_refused(db_session: AsyncSession) -> None:
    db_session.info.pop(ACTOR_KEY, None)
    db_session.add(
        Member(
            status="applicant",
            first_name="No",
            last_name="Body",
            street="x",
            postal_code="10115",
            city="Berlin",
            country="DE",
            email="nobody@example.org",
            applied_on=date(2025, 1, 1),
            shares_applied=1,
        )
    )

    with pytest.raises(UnattributedWrite):
        await db_session.flush()
    await db_session.rollback()


async def test_audit_rows_cannot_be_changed_or_deleted_in_the_database(
    db_session: AsyncSession, settings: Settings
) -> None:
    await make_member(db_session, settings)
    await db_session.commit()

    with pytest.raises(DBAPIError, match="append-only"):
        await db_session.execute(sa.update(AuditEvent).values(actor_label="someone else"))
    await db_session.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        await db_session.execute(sa.delete(AuditEvent))
    await db_session.rollback()


async def test_board_lists_and_filters_the_audit_log(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_id = member.id
    headers = await token_for(client, await make_user(db_session, role=Role.BOARD))

    response = await client.get(
        "/api/v1/audit", headers=headers, params={"entity_type": "members", "entity_id": str(member_id)}
    )

    assert response.status_code == 200
    actions = [e["action"] for e in response.json()["items"]]
    assert "member.apply" in actions and "member.admit" in actions
    assert all(e["entity_id"] == str(member_id) for e in response.json()["items"])


async def test_members_and_operators_cannot_read_the_audit_log(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_headers = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=member))
    operator_headers = await token_for(client, await make_user(db_session, role=Role.OPERATOR))

    assert (await client.get("/api/v1/audit", headers=member_headers)).status_code == 403
    assert (await client.get("/api/v1/audit", headers=operator_headers)).status_code == 403
