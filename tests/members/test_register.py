"""The member register (§30 GenG) as of any date, and its exports."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Role
from app.members import service as members
from app.members.models import LeavingReason, Member
from app.members.schemas import Register, RegisterEntry
from app.settings import Settings
from tests.builders import BOARD, make_applicant, make_member, make_user, token_for


@dataclass(frozen=True)
class Line:
    """What one register line must say, written out by hand."""

    member: Member
    shares: int
    capital_cents: int
    joined_on: date
    last_change_on: date | None
    notice_given_on: date | None = None
    left_on: date | None = None
    leaving_reason: LeavingReason | None = None


def as_line(entry: RegisterEntry) -> tuple[object, ...]:
    return (
        entry.member_id,
        entry.number,
        entry.shares,
        entry.capital_cents,
        entry.joined_on,
        entry.last_change_on,
        entry.notice_given_on,
        entry.left_on,
        entry.leaving_reason,
    )


def expected_line(line: Line) -> tuple[object, ...]:
    return (
        line.member.id,
        line.member.number,
        line.shares,
        line.capital_cents,
        line.joined_on,
        line.last_change_on,
        line.notice_given_on,
        line.left_on,
        line.leaving_reason,
    )


def assert_register(
    register: Register, on: date, lines: list[Line], *, members_: int, shares: int, capital: int
) -> None:
    assert register.on == on
    assert [as_line(e) for e in register.entries] == [expected_line(x) for x in lines], f"entries as of {on}"
    assert (register.members, register.shares, register.capital_cents) == (members_, shares, capital), f"totals {on}"


async def test_the_member_register_as_of_a_past_date_matches_the_history(
    db_session: AsyncSession, settings: Settings
) -> None:
    """A history spread over 2024 and 2025; every expected figure below is worked out by hand from it.

    Default statute: shares of 100.00 EUR, notice of 3 months to the business-year end on 31 December.
    A member leaves at the end of the leaving day, so the register shows them as former members from the next day.
    """
    # 15 Jan 2024: Anna is admitted with 2 shares and pays 200.00 at once.
    anna = await make_member(
        db_session,
        settings,
        first_name="Anna",
        last_name="Alt",
        shares=2,
        applied_on=date(2024, 1, 5),
        admitted_on=date(2024, 1, 15),
    )
    # 20 Feb 2024: Bernd is admitted with 3 shares and pays 100.00 of 300.00 for now.
    bernd = await make_member(
        db_session,
        settings,
        first_name="Bernd",
        last_name="Brandt",
        shares=3,
        applied_on=date(2024, 2, 1),
        admitted_on=date(2024, 2, 20),
        paid_cents=10_000,
    )
    # 1 Mar 2024: Clara is admitted with 1 share, paid at once; Anna subscribes 3 more shares in 2 instalments.
    clara = await make_member(
        db_session,
        settings,
        first_name="Clara",
        last_name="Claussen",
        shares=1,
        applied_on=date(2024, 2, 10),
        admitted_on=date(2024, 3, 1),
    )
    more = await members.subscribe_shares(
        db_session,
        actor=BOARD,
        settings=settings,
        member_id=anna.id,
        shares=3,
        instalments=2,
        subscribed_on=date(2024, 3, 1),
    )
    # 1 Apr 2024: the board approves Anna's further shares.
    await members.approve_subscription(
        db_session, actor=BOARD, settings=settings, subscription_id=more.id, effective_on=date(2024, 4, 1)
    )
    # 1 May / 20 May 2024: Emil applies and is turned down.
    emil = await make_applicant(db_session, settings, first_name="Emil", last_name="Ernst", applied_on=date(2024, 5, 1))
    await members.reject(db_session, actor=BOARD, settings=settings, member_id=emil.id, rejected_on=date(2024, 5, 20))
    # 10 May 2024: Anna pays the first instalment, 150.00.
    await pay(db_session, settings, anna, 15_000, date(2024, 5, 10))
    # 1 Jun 2024: Bernd pays the remaining 200.00; Dora applies and pays 100.00 on 5 Jun, but is never admitted.
    await pay(db_session, settings, bernd, 20_000, date(2024, 6, 1))
    dora = await make_applicant(db_session, settings, first_name="Dora", last_name="Dietz", applied_on=date(2024, 6, 1))
    await pay(db_session, settings, dora, 10_000, date(2024, 6, 5))
    # 1 Jul 2024 (agreed 15 Jun): Bernd transfers 1 of his 3 fully paid shares to Clara, with 100.00 of capital.
    await members.transfer_shares(
        db_session,
        actor=BOARD,
        settings=settings,
        from_member_id=bernd.id,
        to_member_id=clara.id,
        shares=1,
        agreed_on=date(2024, 6, 15),
        effective_on=date(2024, 7, 1),
    )
    # 10 Aug 2024: Anna pays the second instalment, 150.00.
    await pay(db_session, settings, anna, 15_000, date(2024, 8, 10))
    # 30 Sep 2024: Anna gives notice on 2 shares (they lapse after 31 Dec 2024); Clara gives notice to leave.
    await members.cancel_additional_shares(
        db_session, actor=BOARD, settings=settings, member_id=anna.id, shares=2, received_on=date(2024, 9, 30)
    )
    await members.give_notice(
        db_session, actor=BOARD, settings=settings, member_id=clara.id, received_on=date(2024, 9, 30)
    )
    # 1 Oct 2024: Frieda is admitted with 1 share in 2 instalments and pays 50.00; the other 50.00 on 15 Jan 2025.
    frieda = await make_applicant(
        db_session,
        settings,
        first_name="Frieda",
        last_name="Fuchs",
        shares=1,
        instalments=2,
        applied_on=date(2024, 9, 20),
    )
    await members.admit(db_session, actor=BOARD, settings=settings, member_id=frieda.id, admitted_on=date(2024, 10, 1))
    await pay(db_session, settings, frieda, 5_000, date(2024, 10, 1))
    await pay(db_session, settings, frieda, 5_000, date(2025, 1, 15))

    async def register(on: date) -> Register:
        return await members.register_as_of(db_session, actor=BOARD, on=on)

    assert clara.leaving_on == date(2024, 12, 31)
    assert anna.number is not None
    assert [bernd.number, clara.number, frieda.number] == [anna.number + 1, anna.number + 2, anna.number + 3]

    # Before anyone joined.
    assert_register(await register(date(2024, 1, 14)), date(2024, 1, 14), [], members_=0, shares=0, capital=0)

    # On the day of the first admission.
    day = date(2024, 1, 15)
    reg = await register(day)
    assert_register(reg, day, [Line(anna, 2, 20_000, day, day)], members_=1, shares=2, capital=20_000)
    assert (reg.entries[0].name, reg.entries[0].address) == ("Anna Alt", f"{anna.street}, 10115 Berlin")

    # Between events: Anna's further shares are subscribed but not yet approved.
    day = date(2024, 3, 31)
    assert_register(
        await register(day),
        day,
        [
            Line(anna, 2, 20_000, date(2024, 1, 15), date(2024, 1, 15)),
            Line(bernd, 3, 10_000, date(2024, 2, 20), date(2024, 2, 20)),
            Line(clara, 1, 10_000, date(2024, 3, 1), date(2024, 3, 1)),
        ],
        members_=3,
        shares=6,
        capital=40_000,
    )

    # On the day of the transfer; Dora (applicant, paid) and Emil (rejected) are not in the register.
    day = date(2024, 7, 1)
    assert_register(
        await register(day),
        day,
        [
            Line(anna, 5, 35_000, date(2024, 1, 15), date(2024, 4, 1)),
            Line(bernd, 2, 20_000, date(2024, 2, 20), day),
            Line(clara, 2, 20_000, date(2024, 3, 1), day),
        ],
        members_=3,
        shares=9,
        capital=75_000,
    )

    # The day before the transfer: nothing of it shows yet.
    day = date(2024, 6, 30)
    assert_register(
        await register(day),
        day,
        [
            Line(anna, 5, 35_000, date(2024, 1, 15), date(2024, 4, 1)),
            Line(bernd, 3, 30_000, date(2024, 2, 20), date(2024, 2, 20)),
            Line(clara, 1, 10_000, date(2024, 3, 1), date(2024, 3, 1)),
        ],
        members_=3,
        shares=9,
        capital=75_000,
    )

    # On the day the notices arrive: Clara's shows, Anna's notice on 2 shares changes nothing yet.
    day = date(2024, 9, 30)
    assert_register(
        await register(day),
        day,
        [
            Line(anna, 5, 50_000, date(2024, 1, 15), date(2024, 4, 1)),
            Line(bernd, 2, 20_000, date(2024, 2, 20), date(2024, 7, 1)),
            Line(clara, 2, 20_000, date(2024, 3, 1), date(2024, 7, 1), day, None, LeavingReason.NOTICE),
        ],
        members_=3,
        shares=9,
        capital=90_000,
    )

    # On Clara's leaving day she is still a member; Frieda has joined.
    day = date(2024, 12, 31)
    assert_register(
        await register(day),
        day,
        [
            Line(anna, 5, 50_000, date(2024, 1, 15), date(2024, 4, 1)),
            Line(bernd, 2, 20_000, date(2024, 2, 20), date(2024, 7, 1)),
            Line(clara, 2, 20_000, date(2024, 3, 1), date(2024, 7, 1), date(2024, 9, 30), None, LeavingReason.NOTICE),
            Line(frieda, 1, 5_000, date(2024, 10, 1), date(2024, 10, 1)),
        ],
        members_=4,
        shares=10,
        capital=95_000,
    )

    # The day after: Clara is a former member (not counted), Anna's 2 cancelled shares have lapsed,
    # the capital on them stays until it is paid out.
    day = date(2025, 1, 1)
    assert_register(
        await register(day),
        day,
        [
            Line(anna, 3, 50_000, date(2024, 1, 15), day),
            Line(bernd, 2, 20_000, date(2024, 2, 20), date(2024, 7, 1)),
            Line(
                clara,
                2,
                20_000,
                date(2024, 3, 1),
                date(2024, 7, 1),
                date(2024, 9, 30),
                date(2024, 12, 31),
                LeavingReason.NOTICE,
            ),
            Line(frieda, 1, 5_000, date(2024, 10, 1), date(2024, 10, 1)),
        ],
        members_=3,
        shares=6,
        capital=75_000,
    )

    # Well after the leaving date, with Frieda's second instalment paid.
    day = date(2025, 6, 30)
    assert_register(
        await register(day),
        day,
        [
            Line(anna, 3, 50_000, date(2024, 1, 15), date(2025, 1, 1)),
            Line(bernd, 2, 20_000, date(2024, 2, 20), date(2024, 7, 1)),
            Line(
                clara,
                2,
                20_000,
                date(2024, 3, 1),
                date(2024, 7, 1),
                date(2024, 9, 30),
                date(2024, 12, 31),
                LeavingReason.NOTICE,
            ),
            Line(frieda, 1, 10_000, date(2024, 10, 1), date(2024, 10, 1)),
        ],
        members_=3,
        shares=6,
        capital=80_000,
    )


async def pay(session: AsyncSession, settings: Settings, member: Member, cents: int, on: date) -> None:
    await members.record_share_payment(
        session, actor=BOARD, settings=settings, member_id=member.id, amount_cents=cents, paid_on=on
    )


async def test_member_who_left_by_transferring_all_shares_shows_as_former_member_from_the_transfer_day(
    db_session: AsyncSession, settings: Settings
) -> None:
    giver = await make_member(db_session, settings, first_name="Gerd", shares=2, admitted_on=date(2025, 1, 10))
    receiver = await make_member(db_session, settings, first_name="Rita", shares=1, admitted_on=date(2025, 1, 10))
    await members.transfer_shares(
        db_session,
        actor=BOARD,
        settings=settings,
        from_member_id=giver.id,
        to_member_id=receiver.id,
        shares=2,
        agreed_on=date(2025, 5, 20),
        effective_on=date(2025, 6, 1),
    )

    before = await members.register_as_of(db_session, actor=BOARD, on=date(2025, 5, 31))
    after = await members.register_as_of(db_session, actor=BOARD, on=date(2025, 6, 1))

    assert [(e.member_id, e.shares, e.capital_cents, e.left_on) for e in before.entries] == [
        (giver.id, 2, 20_000, None),
        (receiver.id, 1, 10_000, None),
    ]
    assert (before.members, before.shares, before.capital_cents) == (2, 3, 30_000)
    assert [(e.member_id, e.shares, e.capital_cents, e.left_on, e.leaving_reason) for e in after.entries] == [
        (giver.id, 0, 0, date(2025, 5, 31), LeavingReason.TRANSFER),
        (receiver.id, 3, 30_000, None, None),
    ]
    assert (after.members, after.shares, after.capital_cents) == (1, 3, 30_000)


# --- the API and its exports ----------------------------------------------------------------------


async def small_register(session: AsyncSession, settings: Settings) -> tuple[int, int]:
    """Anna (2 shares, 123.45 paid) and Bernd (1 share, notice on 1 Mar 2025), both admitted on 10 Jan 2025."""
    anna = await make_member(session, settings, first_name="Anna", last_name="Alt", shares=2, paid_cents=12_345)
    bernd = await make_member(session, settings, first_name="Bernd", last_name="Brandt")
    await members.give_notice(session, actor=BOARD, settings=settings, member_id=bernd.id, received_on=date(2025, 3, 1))
    return anna.id, bernd.id


async def test_register_as_csv_has_semicolons_decimal_commas_and_a_bom(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await small_register(db_session, settings)
    headers = await token_for(client, await make_user(db_session, role=Role.BOARD))

    response = await client.get("/api/v1/register", headers=headers, params={"on": "2025-06-30", "format": "csv"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "member-register-2025-06-30.csv" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert len(rows) == 3
    assert all(len(row) == 10 for row in rows)
    _header, anna, bernd = rows
    assert anna[1:] == ["Anna Alt", anna[2], "2", "123,45", "2025-01-10", "2025-01-10", "", "", ""]
    assert anna[2].endswith("10115 Berlin")
    assert bernd[1:8] == ["Bernd Brandt", bernd[2], "1", "100,00", "2025-01-10", "2025-01-10", "2025-03-01"]
    assert bernd[8] == "", "the leaving date lies after the register's date"
    assert bernd[9] != "", "the reason for the notice is shown"
    assert int(anna[0]) < int(bernd[0])


async def test_register_as_csv_in_english_uses_commas_and_decimal_points(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await small_register(db_session, settings)
    headers = await token_for(client, await make_user(db_session, role=Role.BOARD))

    response = await client.get(
        "/api/v1/register", headers=headers, params={"on": "2025-06-30", "format": "csv", "lang": "en"}
    )

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert [row[3:5] for row in rows[1:]] == [["2", "123.45"], ["1", "100.00"]]


async def test_register_as_json_for_a_date_before_anyone_joined_is_empty(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    anna_id, bernd_id = await small_register(db_session, settings)
    headers = await token_for(client, await make_user(db_session, role=Role.BOARD))

    empty = await client.get("/api/v1/register", headers=headers, params={"on": "2025-01-09"})
    full = await client.get("/api/v1/register", headers=headers, params={"on": "2025-06-30", "format": "json"})

    assert empty.status_code == 200
    assert empty.json() == {"on": "2025-01-09", "members": 0, "shares": 0, "capital_cents": 0, "entries": []}
    body = full.json()
    assert (body["on"], body["members"], body["shares"], body["capital_cents"]) == ("2025-06-30", 2, 3, 22_345)
    assert [(e["member_id"], e["notice_given_on"], e["leaving_reason"]) for e in body["entries"]] == [
        (anna_id, None, None),
        (bernd_id, "2025-03-01", "notice"),
    ]


async def test_register_as_pdf_names_the_members_and_the_date(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    await small_register(db_session, settings)
    headers = await token_for(client, await make_user(db_session, role=Role.BOARD))

    response = await client.get("/api/v1/register", headers=headers, params={"on": "2025-06-30", "format": "pdf"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    pdf = tmp_path / "register.pdf"
    pdf.write_bytes(response.content)
    process = await asyncio.create_subprocess_exec(
        "pdftotext", "-layout", str(pdf), "-", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    # Table cells may wrap a name over two lines; compare with white space folded.
    text = " ".join(out.decode().split())
    assert "Anna Alt" in text
    assert "Bernd Brandt" in text
    assert "123,45" in text
    # The template is free to print the date long or short; either way it must be the register's date.
    assert "30. Juni 2025" in text or "30.06.2025" in text, text[:500]


async def test_member_gets_403_for_the_register(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    anna = await make_member(db_session, settings, first_name="Anna", last_name="Alt")
    headers = await token_for(client, await make_user(db_session, role=Role.MEMBER, member=anna))

    for fmt in ("json", "csv", "pdf"):
        response = await client.get("/api/v1/register", headers=headers, params={"on": "2025-06-30", "format": fmt})

        assert response.status_code == 403, fmt
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "Alt" not in response.text
