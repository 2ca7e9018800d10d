"""Mandates: IBANs checked and normalised, one active mandate per member, FRST until the first collection
then RCUR, lapsed after 36 months unused, revoked by the member; the audit log never holds the full IBAN."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.kit.actor import Actor, Channel, Role
from app.kit.errors import DomainError, Invalid
from app.settings import Settings
from billing.payments import mandates, sepa
from billing.payments.models import SequenceType
from billing.payments.schemas import CollectionRequest, MandateCreate
from tests.billing.payments.builders import MEMBER_IBAN, OTHER_IBAN, make_mandate
from tests.builders import BOARD, make_member


def test_a_good_iban_is_normalised_and_its_bic_derived_from_the_bank_registry() -> None:
    account = mandates.check_iban(" de89 3704 0044 0532 0130 00 ")

    assert account.iban == MEMBER_IBAN
    assert account.bic == "COBADEFFXXX"
    assert mandates.mask_iban(account.iban) == "DE89 **** **** **** **30 00"


@pytest.mark.parametrize(
    ("iban", "code"),
    [
        ("DE89370400440532013001", "iban_checksum"),  # one digit changed
        ("DE8937040044053201300", "iban_length"),  # German IBANs have 22 characters
        ("XX89370400440532013000", "iban_invalid"),
    ],
)
def test_a_wrong_iban_is_refused_with_its_reason(iban: str, code: str) -> None:
    with pytest.raises(Invalid) as refused:
        mandates.check_iban(iban)

    assert refused.value.code == code


def test_an_entered_bic_is_checked_and_kept() -> None:
    assert mandates.check_iban(OTHER_IBAN, bic="GENODEF1S10").bic == "GENODEF1S10"
    with pytest.raises(Invalid) as refused:
        mandates.check_iban(OTHER_IBAN, bic="DEUTXXFF")  # no country XX
    assert refused.value.code == "bic_invalid"


@pytest.mark.postgres
async def test_a_new_mandate_revokes_the_old_one_and_gets_a_new_reference(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    first = await make_mandate(db_session, settings, member=member, signed_on=date(2026, 1, 5))
    second = await make_mandate(db_session, settings, member=member, iban=OTHER_IBAN, signed_on=date(2026, 3, 1))

    assert first.revoked_on == date(2026, 3, 1)
    assert second.revoked_on is None
    assert (first.reference, second.reference) == (f"OT-{member.id:08d}-01", f"OT-{member.id:08d}-02")
    assert await mandates.current(db_session, actor=BOARD, member_id=member.id) is second


@pytest.mark.postgres
async def test_the_audit_log_shows_the_masked_iban_never_the_full_one(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    mandate = await make_mandate(db_session, settings, member=member)

    events = (
        (
            await db_session.execute(
                sa.select(AuditEvent).where(
                    AuditEvent.entity_type == "sepa_mandates", AuditEvent.entity_id == str(mandate.id)
                )
            )
        )
        .scalars()
        .all()
    )

    assert events and events[0].after is not None
    assert events[0].after["iban_masked"] == "DE89 **** **** **** **30 00"
    assert MEMBER_IBAN not in str([e.after for e in events])


@pytest.mark.postgres
async def test_a_mandate_is_frst_until_it_is_collected_then_rcur(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)
    mandate = await make_mandate(db_session, settings, member=member)
    request = CollectionRequest(
        member_id=member.id,
        amount_cents=4990,
        end_to_end_id="2026-000123",
        remittance="Rechnung 2026-000123",
        collection_date=date(2026, 11, 3),
    )

    assert mandate.sequence is SequenceType.FRST
    [collected] = await sepa.collect(db_session, actor=BOARD, settings=settings, requests=[request])

    assert collected.sequence is SequenceType.FRST
    assert mandate.sequence is SequenceType.RCUR
    assert mandate.last_collected_on == date(2026, 11, 3)


@pytest.mark.postgres
async def test_a_mandate_lapses_36_months_after_its_last_collection(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    mandate = await make_mandate(db_session, settings, member=member, signed_on=date(2022, 1, 10))

    assert mandates.state(mandate, date(2025, 1, 9)) == "active"
    assert mandates.state(mandate, date(2025, 1, 10)) == "lapsed"
    request = CollectionRequest(
        member_id=member.id,
        amount_cents=990,
        end_to_end_id="2025-000001",
        remittance="Rechnung 2025-000001",
        collection_date=date(2025, 2, 3),
    )
    with pytest.raises(DomainError) as refused:
        await sepa.collect(db_session, actor=BOARD, settings=settings, requests=[request])
    assert refused.value.code == "mandate_lapsed"

    mandate.last_collected_on = date(2024, 6, 3)
    assert mandates.state(mandate, date(2027, 6, 2)) == "active"
    assert mandates.lapses_on(mandate) == date(2027, 6, 3)


@pytest.mark.postgres
async def test_a_member_gives_and_revokes_their_own_mandate_but_not_anothers(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    other = await make_member(db_session, settings)
    actor = Actor(user_id=None, label="erika", role=Role.MEMBER, channel=Channel.WEB, member_id=member.id)
    data = MandateCreate(debtor_name="Erika Mustermann", iban=MEMBER_IBAN)

    given = await mandates.give(db_session, actor=actor, settings=settings, member_id=member.id, data=data)
    revoked = await mandates.revoke(db_session, actor=actor, settings=settings, member_id=member.id)

    assert revoked is given and given.revoked_on is not None
    assert mandates.state(given, given.revoked_on) == "revoked"
    with pytest.raises(DomainError) as refused:
        await mandates.give(db_session, actor=actor, settings=settings, member_id=other.id, data=data)
    assert refused.value.status == 404
