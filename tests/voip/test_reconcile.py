"""Reconcile's asterisk target: the PJSIP realtime rows follow the phone lines; drift in them (rows deleted
or edited by hand, orphans of our extension scheme, a suspended line that could register again) is
reported without passwords, repaired, and a second run finds nothing. Rows that are not ours stay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.db import Database
from app.kit.actor import Role
from app.settings import Settings
from provisioning import reconcile
from tests.builders import (
    BOARD,
    OPERATOR,
    make_contract,
    make_member,
    make_number_block,
    make_plan,
    make_user,
    token_for,
)
from tests.voip.conftest import AsteriskServer, run_sipp, running_asterisk
from voip import endpoints, service
from voip.models import PjsipAor, PjsipAuth, PjsipContact, PjsipEndpoint
from voip.reconcile import is_ours

ASTERISK = ["asterisk"]


async def _phone_lines(session: AsyncSession, settings: Settings, *, first: str, count: int = 2) -> list[str]:
    """``count`` active phone lines numbered from the block starting at ``first``; their extensions."""
    await make_number_block(session, first_number=first, last_number=first[:-2] + "99")
    plan = await make_plan(session, includes_phone=True)
    extensions = []
    for _ in range(count):
        member = await make_member(session, settings)
        contract = await make_contract(session, settings, member=member, plan=plan)
        line = await service.phone_line_for_contract(session, actor=BOARD, contract_id=contract.id)
        assert line is not None
        extensions.append(line.extension)
    return extensions


def _problems(report: reconcile.ReconcileReport) -> set[tuple[str, str]]:
    return {(d.subject, d.problem) for d in report.drift if d.target == "asterisk"}


def test_our_extension_scheme_is_what_reconcile_treats_as_ours() -> None:
    assert is_ours(service.extension_for(1)) and is_ours(service.extension_for(12_345_678))
    assert not is_ours("trunk-carrier") and not is_ours("7001") and not is_ours("7000001x")


async def test_reconcile_of_converged_phone_lines_changes_nothing_and_says_so(
    db_session: AsyncSession, settings: Settings
) -> None:
    extensions = await _phone_lines(db_session, settings, first="+493319201000")

    report = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=ASTERISK)

    assert report.converged and report.changed == 0, report.drift
    assert report.summary().startswith("Converged")
    assert report.checked["phone_lines"] >= len(extensions)


async def test_a_deleted_auth_row_is_drift_and_repair_gives_a_new_password(
    db_session: AsyncSession, settings: Settings
) -> None:
    one, two = await _phone_lines(db_session, settings, first="+493319211000")
    kept = await endpoints.password(db_session, two)
    await db_session.execute(sa.delete(PjsipAuth).where(PjsipAuth.id == one))

    repaired = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=ASTERISK)
    again = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=ASTERISK)

    assert [(d.subject, d.problem, d.repaired) for d in repaired.drift] == [(one, "auth row missing", True)]
    state = await endpoints.state(db_session, one)
    assert state.has_auth and (state.context, state.max_contacts) == ("members", endpoints.MAX_CONTACTS)
    new = await endpoints.password(db_session, one)
    assert new is not None and len(new) == 24 and new not in repaired.summary()
    assert await endpoints.password(db_session, two) == kept  # the converged line's password stays
    assert again.converged and again.changed == 0, again.drift


async def test_an_orphan_endpoint_of_ours_is_removed_and_one_not_ours_stays(
    db_session: AsyncSession, settings: Settings
) -> None:
    await _phone_lines(db_session, settings, first="+493319221000", count=1)
    orphan = "79999990"
    await endpoints.write(
        db_session, endpoints.rows_for(extension=orphan, number=None, password="x" * 24, suspended=False)
    )
    db_session.add(PjsipContact(id=f"{orphan};@orphan", endpoint=orphan, uri="sip:orphan@192.0.2.9"))
    db_session.add(PjsipEndpoint(id="trunk-carrier", transport="transport-udp", context="from-carrier"))
    await db_session.flush()

    report = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=ASTERISK)

    assert (orphan, "rows of no phone line of ours") in _problems(report)
    assert "endpoint trunk-carrier" in report.unmanaged
    assert all(d.subject != "trunk-carrier" for d in report.drift)
    assert not (await endpoints.state(db_session, orphan)).exists
    assert await db_session.get(PjsipAuth, orphan) is None and await db_session.get(PjsipAor, orphan) is None
    assert (await endpoints.state(db_session, orphan)).contacts == 0
    assert await db_session.get(PjsipEndpoint, "trunk-carrier") is not None
    again = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=ASTERISK)
    assert again.converged, again.drift


async def test_rows_of_a_terminated_line_are_orphans(db_session: AsyncSession, settings: Settings) -> None:
    (extension,) = await _phone_lines(db_session, settings, first="+493319231000", count=1)
    line = await service.get_phone_line(db_session, actor=OPERATOR, phone_line_id=int(extension[1:]))
    await contracts.transition(
        db_session, actor=BOARD, settings=settings, contract_id=line.contract_id, to=ContractStatus.TERMINATED
    )
    await endpoints.write(
        db_session, endpoints.rows_for(extension=extension, number=None, password="y" * 24, suspended=False)
    )

    report = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=ASTERISK)

    assert _problems(report) == {(extension, "rows of a terminated phone line")}
    assert not (await endpoints.state(db_session, extension)).exists


async def test_a_suspended_line_whose_aor_was_set_back_by_hand_is_drift(
    db_session: AsyncSession, settings: Settings
) -> None:
    (extension,) = await _phone_lines(db_session, settings, first="+493319241000", count=1)
    line = await service.get_phone_line(db_session, actor=OPERATOR, phone_line_id=int(extension[1:]))
    await contracts.transition(
        db_session, actor=BOARD, settings=settings, contract_id=line.contract_id, to=ContractStatus.SUSPENDED
    )
    await db_session.execute(sa.update(PjsipAor).where(PjsipAor.id == extension).values(max_contacts=2))
    db_session.add(PjsipContact(id=f"{extension};@back", endpoint=extension, uri="sip:back@192.0.2.7"))
    await db_session.flush()

    report = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=ASTERISK)

    assert _problems(report) == {
        (extension, "suspended line can still register (aor max_contacts is 2)"),
        (extension, "suspended line still has 1 registered phone(s)"),
    }
    state = await endpoints.state(db_session, extension)
    assert (state.context, state.max_contacts, state.has_auth, state.contacts) == ("suspended", 0, True, 0)
    again = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=ASTERISK)
    assert again.converged, again.drift


async def test_a_dry_run_reports_edited_rows_without_passwords_and_changes_nothing(
    db_session: AsyncSession, settings: Settings
) -> None:
    one, two = await _phone_lines(db_session, settings, first="+493319251000")
    secret = await endpoints.password(db_session, two)
    assert secret
    await db_session.execute(
        sa.update(PjsipEndpoint).where(PjsipEndpoint.id == one).values(context="suspended", allow="ulaw")
    )
    await db_session.execute(sa.update(PjsipAuth).where(PjsipAuth.id == two).values(password="guessable", realm="x"))
    await db_session.execute(sa.update(PjsipAuth).where(PjsipAuth.id == one).values(username="someone"))
    await db_session.execute(sa.delete(PjsipAor).where(PjsipAor.id == two))

    dry = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=True, targets=ASTERISK)

    problems = _problems(dry)
    assert (one, "endpoint context is 'suspended', should be 'members'") in problems
    assert (one, "endpoint codecs is 'ulaw', should be 'alaw,ulaw'") in problems
    assert (one, f"auth auth username is 'someone', should be '{one}'") in problems
    assert (two, "aor row missing") in problems
    assert (two, "auth realm set by hand ('x')") in problems
    # The hand-set password is the only copy: it is kept as the line's password, and never shown.
    assert all("guessable" not in problem and secret not in problem for _, problem in problems)
    assert dry.changed == 0 and not any(d.repaired for d in dry.drift)
    endpoint = await db_session.get(PjsipEndpoint, one)
    assert endpoint is not None
    await db_session.refresh(endpoint)
    assert (endpoint.context, endpoint.allow) == ("suspended", "ulaw")
    assert await db_session.get(PjsipAor, two) is None

    repaired = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=ASTERISK)
    assert repaired.changed == len(dry.drift)
    assert (await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=True, targets=ASTERISK)).converged


async def test_an_emptied_password_is_reported_as_missing_and_replaced(
    db_session: AsyncSession, settings: Settings
) -> None:
    (extension,) = await _phone_lines(db_session, settings, first="+493319261000", count=1)
    await db_session.execute(sa.update(PjsipAuth).where(PjsipAuth.id == extension).values(password=""))

    report = await reconcile.reconcile(db_session, actor=OPERATOR, dry_run=False, targets=ASTERISK)

    assert _problems(report) == {(extension, "password missing")}
    new = await endpoints.password(db_session, extension)
    assert new is not None and len(new) == 24


async def test_the_drift_api_lists_asterisk_drift_and_reconcile_repairs_that_target(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    (extension,) = await _phone_lines(db_session, settings, first="+493319281000", count=1)
    await db_session.execute(sa.update(PjsipEndpoint).where(PjsipEndpoint.id == extension).values(allow="gsm"))
    headers = await token_for(client, await make_user(db_session, role=Role.OPERATOR))

    listed = await client.get("/api/v1/provisioning/drift", headers=headers)
    repaired = await client.post(
        "/api/v1/provisioning/reconcile", headers=headers, json={"targets": ["asterisk"], "dry_run": False}
    )
    again = await client.post("/api/v1/provisioning/reconcile", headers=headers, json={"targets": ["asterisk"]})

    assert listed.status_code == 200, listed.text
    assert {
        "target": "asterisk",
        "subject": extension,
        "problem": "endpoint codecs is 'gsm', should be 'alaw,ulaw'",
        "line_id": None,
        "repaired": False,
    } in listed.json()["drift"]
    assert repaired.status_code == 200, repaired.text
    assert [(d["subject"], d["repaired"]) for d in repaired.json()["drift"]] == [(extension, True)]
    assert again.json()["converged"] is True and again.json()["changed"] == 0


# --- with Asterisk ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reconcile_asterisk(committed_db_url: str) -> Iterator[AsteriskServer]:
    with running_asterisk(committed_db_url, "reconcile") as server:
        yield server


@pytest.mark.asterisk
async def test_a_line_whose_auth_was_deleted_registers_again_after_repair(
    reconcile_asterisk: AsteriskServer, committed_db: Database, tmp_path: Path
) -> None:
    async with committed_db.transaction() as session:
        bind_actor(session, BOARD)
        (extension,) = await _phone_lines(session, committed_db.settings, first="+493319271000", count=1)
        line = await service.get_phone_line(session, actor=OPERATOR, phone_line_id=int(extension[1:]))
        await session.execute(sa.delete(PjsipAuth).where(PjsipAuth.id == extension))
    try:
        async with committed_db.transaction() as session:
            bind_actor(session, OPERATOR)
            report = await reconcile.reconcile(session, actor=OPERATOR, dry_run=False, targets=ASTERISK)
        async with committed_db.transaction() as session:
            credentials = await service.sip_credentials(session, actor=OPERATOR, phone_line_id=line.id)

        registered = await run_sipp(
            reconcile_asterisk,
            "register.xml",
            extension=credentials.username,
            password=credentials.password,
            workdir=tmp_path,
            keys={"expires": "300"},
        )

        assert (extension, "auth row missing") in _problems(report)
        assert registered.returncode == 0, f"{registered.output}\n{registered.messages}"
        assert registered.status_lines == ["SIP/2.0 401 Unauthorized", "SIP/2.0 200 OK"]
    finally:
        async with committed_db.transaction() as session:
            bind_actor(session, BOARD)
            await contracts.transition(
                session,
                actor=BOARD,
                settings=committed_db.settings,
                contract_id=line.contract_id,
                to=ContractStatus.TERMINATED,
            )
