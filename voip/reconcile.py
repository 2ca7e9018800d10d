"""Reconcile the PJSIP realtime tables with our phone lines: find every difference and (unless a dry run)
repair it, so that running it twice changes nothing the second time.

Desired state: every active or suspended phone line has exactly the endpoint, AOR and auth rows
``endpoints.values_for`` describes (every other column NULL). The SIP password has no second copy: the
one in ``ps_auths`` is the desired one; a missing or empty one is replaced by a new generated password
(the member then needs the new one from their line page).

Actual state: the ``ps_endpoints``, ``ps_aors`` and ``ps_auths`` rows, which is what Asterisk reads on
every lookup (plain realtime, no cache), and the ``ps_contacts`` it wrote.

Which rows are ours: ids of our extension scheme (``service.extension_for``: ``7`` and at least six
digits). Rows with any other id (a trunk, a test phone an operator set up by hand) are never changed or
removed; they are listed as unmanaged. An id of our scheme without an active or suspended phone line is
an orphan and is removed, so nobody may name a hand-made endpoint that way.

Drift text never contains a password: it says "password missing" or "password differs".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.db import Base
from voip import endpoints, service
from voip.lines import PhoneLine, PhoneLineState
from voip.models import PjsipAor, PjsipAuth, PjsipContact, PjsipEndpoint
from voip.numbers import PhoneNumber

# service.extension_for: "7" and the line id with at least six digits.
OUR_EXTENSION = re.compile(r"^7[0-9]{6,}$")
# How a differing column is named in drift text (the rest go by their column name).
_LABELS = {"allow": "codecs", "disallow": "codecs disallowed", "username": "auth username"}
_SECRET_COLUMNS = frozenset({"password", "md5_cred", "password_digest", "oauth_secret", "refresh_token"})


def is_ours(row_id: str) -> bool:
    """Whether a ps_* row id is one of our extensions (and so ours to repair or remove)."""
    return OUR_EXTENSION.match(row_id) is not None


@dataclass
class Finding:
    """One difference between the realtime tables and our phone lines."""

    subject: str
    problem: str
    phone_line_id: int | None = None
    repaired: bool = False


@dataclass
class EndpointReport:
    """What the asterisk reconcile checked, found and changed."""

    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)


Row = Mapping[str, Any]


async def _rows(session: AsyncSession, model: type[Base]) -> dict[str, Row]:
    table = model.__table__
    result = await session.execute(sa.select(table))
    return {row["id"]: dict(row) for row in result.mappings().all()}


def _expected(model: type[Base], values: dict[str, object]) -> dict[str, object]:
    return {column.key: values.get(column.key) for column in model.__table__.columns}


def _difference(kind: str, have: Row | None, want: dict[str, object]) -> list[str]:
    if have is None:
        return [f"{kind} row missing"]
    problems = []
    for key, wanted in want.items():
        actual = have.get(key)
        if actual == wanted:
            continue
        if key in _SECRET_COLUMNS:
            problems.append(f"{key.replace('_', ' ')} {'missing' if not actual else 'differs'}")
        elif wanted is None:
            problems.append(f"{kind} {_LABELS.get(key, key)} set by hand ({actual!r})")
        else:
            problems.append(f"{kind} {_LABELS.get(key, key)} is {actual!r}, should be {wanted!r}")
    return problems


async def reconcile_endpoints(session: AsyncSession, *, dry_run: bool) -> EndpointReport:
    """Compare the realtime rows with the phone lines; unless ``dry_run``, rewrite the rows of every line
    that differs and delete orphans (in the caller's transaction, which commits)."""
    report = EndpointReport()
    query = (
        sa.select(PhoneLine.id, PhoneLine.extension, PhoneLine.state, PhoneNumber.e164)
        .outerjoin(PhoneNumber, PhoneNumber.phone_line_id == PhoneLine.id)
        .order_by(PhoneLine.id)
    )
    lines = (await session.execute(query)).all()
    auths = await _rows(session, PjsipAuth)
    aors = await _rows(session, PjsipAor)
    endpoint_rows = await _rows(session, PjsipEndpoint)
    contacts = dict(
        (await session.execute(sa.select(PjsipContact.endpoint, sa.func.count()).group_by(PjsipContact.endpoint))).all()
    )
    live = {
        extension: (line_id, state, number)
        for line_id, extension, state, number in lines
        if state is not PhoneLineState.TERMINATED
    }
    known = {extension: line_id for line_id, extension, _, _ in lines}
    report.checked = len(live)

    for extension, (line_id, state, number) in live.items():
        suspended = state is PhoneLineState.SUSPENDED
        secret = (auths.get(extension) or {}).get("password")
        wanted = endpoints.rows_for(
            extension=extension,
            number=number,
            password=secret or service.new_sip_password(),
            suspended=suspended,
        )
        values = endpoints.values_for(wanted)
        problems = [
            *_difference("endpoint", endpoint_rows.get(extension), _expected(PjsipEndpoint, values.endpoint)),
            *_difference("aor", aors.get(extension), _expected(PjsipAor, values.aor)),
            *_difference("auth", auths.get(extension), _expected(PjsipAuth, values.auth)),
        ]
        aor = aors.get(extension)
        if suspended and aor is not None and aor.get("max_contacts") != 0:
            # The one difference that matters most, said plainly instead of as a column value.
            problems = [p for p in problems if not p.startswith("aor max_contacts ")]
            problems.append(f"suspended line can still register (aor max_contacts is {aor.get('max_contacts')!r})")
        if suspended and contacts.get(extension):
            problems.append(f"suspended line still has {contacts[extension]} registered phone(s)")
        if not problems:
            continue
        for problem in problems:
            report.findings.append(Finding(extension, problem, line_id, not dry_run))
        if not dry_run:
            with action(session, "reconcile.asterisk"):
                # Also removes a suspended line's registered phones (endpoints.write).
                await endpoints.write(session, wanted)

    for row_id in sorted(endpoint_rows.keys() | aors.keys() | auths.keys()):
        if row_id in live:
            continue
        if not is_ours(row_id):
            report.unmanaged.append(f"endpoint {row_id}")
            continue
        problem = "rows of a terminated phone line" if row_id in known else "rows of no phone line of ours"
        report.findings.append(Finding(row_id, problem, known.get(row_id), not dry_run))
        if not dry_run:
            with action(session, "reconcile.asterisk"):
                await endpoints.delete(session, row_id)
    return report
