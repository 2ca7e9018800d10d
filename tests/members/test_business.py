"""Business members in the register: the VAT ID's form and normalisation, a VAT ID only on a business, set by
staff (not by the member), audited, and dated like an address so an invoice names the buyer as they stood."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.audit.service import bind_actor
from app.demo import seed
from app.kit.actor import Role
from app.kit.errors import Invalid
from app.members import repository, service
from app.members.business import german_check_digit, normalise_vat_id
from app.members.schemas import ContactUpdate, MemberApplication
from app.settings import Settings
from tests.builders import BOARD, OPERATOR, make_member, make_user, token_for
from tests.web.test_pages import csrf_of, web_login


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("DE999999987", "DE999999987"),
        ("de 999 999 987", "DE999999987"),
        (" DE 999999987 ", "DE999999987"),
        ("atu12345678", "ATU12345678"),  # Austria: U and eight digits
        ("EL123456789", "EL123456789"),  # Greece's VAT prefix is EL, not GR
        ("NL123456789B01", "NL123456789B01"),
        ("FR12", "FR12"),  # the shortest form accepted: a prefix and two characters
        ("IE" + "1" * 13, "IE" + "1" * 13),  # the longest: a prefix and thirteen
    ],
)
def test_a_vat_id_is_kept_in_upper_case_without_spaces(typed: str, kept: str) -> None:
    assert normalise_vat_id(typed) == kept


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("DE99999998", "vat_id_format"),  # eight digits
        ("DE9999999870", "vat_id_format"),  # ten digits
        ("DE99999998A", "vat_id_format"),  # a German one has digits only
        ("DE-999999987", "vat_id_format"),
        ("GR123456789", "vat_id_country"),  # Greece is EL
        ("US123456789", "vat_id_country"),
        ("CH123456789", "vat_id_country"),  # not in the EU
        ("123456789", "vat_id_country"),
        ("FR1", "vat_id_format"),  # one character after the prefix
        ("IE" + "1" * 14, "vat_id_format"),  # fourteen
        ("ATU1234.567", "vat_id_format"),
    ],
)
def test_a_malformed_vat_id_is_refused_with_a_code_on_the_field(typed: str, code: str) -> None:
    with pytest.raises(Invalid) as refused:
        normalise_vat_id(typed)

    assert (refused.value.code, refused.value.field) == (code, "vat_id")
    assert typed in refused.value.detail


@pytest.mark.parametrize(
    ("first_eight", "check"),
    [
        ("12943020", 6),  # DE129430206 and DE815243055: examples of valid German VAT IDs in Oracle's tax docs
        ("81524305", 5),
        ("12345678", 8),  # DE123456788, the buyer of the document tests
        ("99999999", 5),  # DE999999995, the coop's demo VAT ID
        ("99999998", 7),
        ("99999997", 9),
        ("00000000", 3),
        ("00000002", 0),  # 11 - 1 = 10 counts as 0
        ("1234567899", 5),  # the same chain over ten digits: the published example Steuer-ID 12345678995
    ],
)
def test_the_german_check_digit_is_iso_7064_mod_11_10(first_eight: str, check: int) -> None:
    assert german_check_digit(first_eight) == check


@pytest.mark.parametrize("typed", ["DE123456789", "DE129430207", "DE815243050", "de 999 999 988", "DE000000021"])
def test_a_german_vat_id_with_a_wrong_check_digit_is_refused(typed: str) -> None:
    with pytest.raises(Invalid) as refused:
        normalise_vat_id(typed)

    assert (refused.value.code, refused.value.field) == ("vat_id_check_digit", "vat_id")
    assert typed in refused.value.detail and "check digit" in refused.value.detail
    assert "Prüfziffer" in refused.value.detail


def test_the_demo_businesses_have_german_vat_ids_with_a_valid_check_digit() -> None:
    for _, vat_id in seed.BUSINESSES.values():
        assert vat_id.startswith("DE") and normalise_vat_id(vat_id) == vat_id


def _application(**business: object) -> MemberApplication:
    return MemberApplication.model_validate(
        {
            "first_name": "Gerd",
            "last_name": "Gewerbe",
            "organisation": "Gewerbe GmbH",
            "street": "Hof 1",
            "postal_code": "14467",
            "city": "Potsdam",
            "email": "gerd@example.org",
            "shares": 1,
            **business,
        }
    )


async def test_an_application_records_a_business_with_its_normalised_vat_id(
    db_session: AsyncSession, settings: Settings
) -> None:
    bind_actor(db_session, BOARD)

    member = await service.apply(
        db_session,
        actor=BOARD,
        settings=settings,
        application=_application(is_business=True, vat_id="de 999 999 987"),
    )

    saved = await repository.get(db_session, member.id)
    assert saved is not None and (saved.is_business, saved.vat_id) == (True, "DE999999987")


async def test_an_application_of_a_consumer_with_a_vat_id_is_refused(
    db_session: AsyncSession, settings: Settings
) -> None:
    bind_actor(db_session, BOARD)

    with pytest.raises(Invalid) as refused:
        await service.apply(db_session, actor=BOARD, settings=settings, application=_application(vat_id="DE999999987"))

    assert (refused.value.code, refused.value.field) == ("vat_id_without_business", "vat_id")


async def test_a_member_is_a_consumer_unless_marked_otherwise(db_session: AsyncSession, settings: Settings) -> None:
    member = await make_member(db_session, settings)

    assert (member.is_business, member.vat_id) == (False, None)


async def test_an_operator_marks_a_member_as_a_business_through_the_api_and_it_is_audited(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_id = member.id
    operator = await token_for(client, await make_user(db_session, role=Role.OPERATOR))

    response = await client.patch(
        f"/api/v1/members/{member_id}", headers=operator, json={"is_business": True, "vat_id": "de999999987"}
    )

    assert response.status_code == 200, response.text
    assert (response.json()["is_business"], response.json()["vat_id"]) == (True, "DE999999987")
    event = (
        await db_session.execute(
            sa.select(AuditEvent).where(
                AuditEvent.action == "member.contact_update",
                AuditEvent.entity_type == "members",
                AuditEvent.entity_id == str(member_id),
            )
        )
    ).scalar_one()
    assert event.before is not None and (event.before["is_business"], event.before["vat_id"]) == (False, None)
    assert event.after is not None and (event.after["is_business"], event.after["vat_id"]) == (True, "DE999999987")


async def test_the_api_refuses_a_malformed_vat_id_and_one_on_a_consumer(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_id = member.id
    operator = await token_for(client, await make_user(db_session, role=Role.OPERATOR))
    url = f"/api/v1/members/{member_id}"

    malformed = await client.patch(url, headers=operator, json={"is_business": True, "vat_id": "DE12345"})
    mistyped = await client.patch(url, headers=operator, json={"is_business": True, "vat_id": "DE999999977"})
    on_consumer = await client.patch(url, headers=operator, json={"vat_id": "DE999999987"})

    assert malformed.status_code == 422 and malformed.json()["code"] == "vat_id_format"
    assert mistyped.status_code == 422 and mistyped.json()["code"] == "vat_id_check_digit"
    assert on_consumer.status_code == 422 and on_consumer.json()["code"] == "vat_id_without_business"
    db_session.expire_all()
    saved = await repository.get(db_session, member_id)
    assert saved is not None and (saved.is_business, saved.vat_id) == (False, None)


async def test_a_business_keeps_its_vat_id_until_both_are_changed_together(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, is_business=True, vat_id="DE999999987")
    bind_actor(db_session, BOARD)

    with pytest.raises(Invalid) as refused:
        await service.update_contact(
            db_session, actor=OPERATOR, member_id=member.id, changes=ContactUpdate(is_business=False)
        )
    assert refused.value.code == "vat_id_without_business"

    await service.update_contact(
        db_session, actor=OPERATOR, member_id=member.id, changes=ContactUpdate(is_business=False, vat_id=None)
    )
    assert (member.is_business, member.vat_id) == (False, None)


async def test_a_member_cannot_mark_themselves_a_business(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_id = member.id
    headers = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=member))

    response = await client.patch(
        f"/api/v1/members/{member_id}", headers=headers, json={"is_business": True, "vat_id": "DE999999987"}
    )

    assert response.status_code == 403 and response.json()["code"] == "business_details_staff_only"
    db_session.expire_all()
    saved = await repository.get(db_session, member_id)
    assert saved is not None and saved.is_business is False


async def test_buyers_as_of_a_day_show_the_business_details_valid_then(
    db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, applied_on=date(2025, 1, 2))
    bind_actor(db_session, BOARD)

    await service.update_contact(
        db_session,
        actor=OPERATOR,
        member_id=member.id,
        changes=ContactUpdate(is_business=True, vat_id="DE999999987"),
        effective_on=date(2025, 6, 1),
    )

    before = await service.buyers_as_of(db_session, member_from=member.id, member_to=member.id, on=date(2025, 5, 31))
    after = await service.buyers_as_of(db_session, member_from=member.id, member_to=member.id, on=date(2025, 6, 1))
    assert (before[member.id].is_business, before[member.id].vat_id) == (False, None)
    assert (after[member.id].is_business, after[member.id].vat_id) == (True, "DE999999987")


async def test_the_operator_page_sets_and_shows_the_business_details(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings)
    member_id = member.id
    operator = await make_user(db_session, role=Role.OPERATOR)
    await web_login(client, operator.email)
    page = f"/console/members/{member_id}"
    token = await csrf_of(client, page)

    saved = await client.post(f"{page}/business", data={"csrf": token, "is_business": "on", "vat_id": "DE 999 999 979"})
    refused = await client.post(f"{page}/business", data={"csrf": token, "vat_id": "DE999999979"})

    assert saved.status_code == 303, saved.text
    assert refused.status_code == 422  # unticked: a consumer with a VAT ID
    shown = await client.get(page)
    assert 'id="vat-id">DE999999979<' in shown.text
    assert 'name="is_business" checked' in shown.text
    db_session.expire_all()
    stored = await repository.get(db_session, member_id)
    assert stored is not None and (stored.is_business, stored.vat_id) == (True, "DE999999979")


async def test_the_portal_shows_a_business_its_vat_id(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    member = await make_member(db_session, settings, is_business=True, vat_id="DE999999987")
    await web_login(client, (await make_user(db_session, role=Role.MEMBER, member=member)).email)

    portal = await client.get("/portal")

    assert "DE999999987" in portal.text
