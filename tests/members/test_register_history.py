"""The register as of a past date shows the name and address valid then (dated history of changes, §30 GenG)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from app import migrate
from app.audit.service import bind_actor
from app.members import service
from app.members.schemas import ContactUpdate
from app.settings import Settings
from tests.builders import BOARD, make_member


async def test_moved_member_appears_at_the_old_address_in_earlier_registers(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, last_name="Umzug", applied_on=date(2025, 1, 2))
    old_street = member.street
    bind_actor(db_session, BOARD)

    await service.update_contact(
        db_session,
        actor=BOARD,
        member_id=member.id,
        changes=ContactUpdate(street="Neuer Weg 7", postal_code="14467", city="Potsdam"),
        effective_on=date(2025, 6, 1),
    )

    before = await service.register_as_of(db_session, actor=BOARD, on=date(2025, 5, 31))
    after = await service.register_as_of(db_session, actor=BOARD, on=date(2025, 6, 1))
    assert [e.address for e in before.entries] == [f"{old_street}, 10115 Berlin"]
    assert [e.address for e in after.entries] == ["Neuer Weg 7, 14467 Potsdam"]


async def test_e_mail_change_alone_adds_no_register_history(db_session: AsyncSession, settings: Settings) -> None:
    from sqlalchemy import func, select

    from app.members.models import MemberDetails

    member = await make_member(db_session, settings)
    bind_actor(db_session, BOARD)

    await service.update_contact(
        db_session, actor=BOARD, member_id=member.id, changes=ContactUpdate(email="x@example.org")
    )

    count = await db_session.execute(select(func.count()).where(MemberDetails.member_id == member.id))
    assert count.scalar_one() == 1  # only the entry made with the application


def test_upgrade_backfills_the_history_of_existing_members(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'backfill.db'}"
    migrate.upgrade(url, "0001")
    with sqlite3.connect(tmp_path / "backfill.db") as db:
        db.execute(
            "INSERT INTO members (status, first_name, last_name, street, postal_code, city, country, email, applied_on,"
            " shares_applied, created_at, updated_at) VALUES ('member', 'Alt', 'Bestand', 'Altweg 1', '10115',"
            " 'Berlin', 'DE', 'alt@example.org', '2024-03-01', 1, '2024-03-01 10:00:00', '2024-03-01 10:00:00')"
        )

    migrate.upgrade(url)

    with sqlite3.connect(tmp_path / "backfill.db") as db:
        rows = db.execute("SELECT effective_on, street FROM member_details").fetchall()
    assert rows == [("2024-03-01", "Altweg 1")]
