"""What Asterisk should find in its PJSIP realtime tables for a phone line, and writing it there.

res_pjsip reads ``ps_endpoints``, ``ps_aors`` and ``ps_auths`` on every lookup (plain realtime, no sorcery
cache: deploy/asterisk/sorcery.conf), so rows written here take effect once the transaction commits,
without a ``pjsip reload``. This module is the only place that knows PJSIP option names and values.

One extension has one endpoint, one AOR and one auth, all with the extension as id:

- active: context ``members``, up to ``MAX_CONTACTS`` registered phones;
- suspended: context ``suspended`` (only emergency numbers get through, deploy/asterisk/extensions.conf)
  and an AOR with ``max_contacts = 0``, on which res_pjsip_registrar refuses every REGISTER (403); the
  auth stays, so the phone can still authenticate an emergency call; current registrations are removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from voip.models import PjsipAor, PjsipAuth, PjsipContact, PjsipEndpoint

# Dialplan contexts of deploy/asterisk/extensions.conf.in.
MEMBERS_CONTEXT = "members"
SUSPENDED_CONTEXT = "suspended"
# The transport of deploy/asterisk/pjsip.conf.in.
TRANSPORT = "transport-udp"
# G.711 A-law first (Europe), then µ-law; both are loaded (modules.conf) and every phone speaks them.
CODECS = "alaw,ulaw"
# A desk phone and a softphone may share one line.
MAX_CONTACTS = 2
# Asterisk pings each registered phone with OPTIONS this often: the round-trip time shown on the line
# pages, and ContactStatus events (voip/tasks.py) for AORs provisioned after Asterisk started, whose
# qualify state a REGISTER then builds (voip/README.md). A phone that stops answering turns
# Unreachable but stays registered until its registration expires.
QUALIFY_FREQUENCY_S = 60


@dataclass(frozen=True)
class EndpointRows:
    """The three realtime rows of one extension, as plain values."""

    extension: str
    context: str
    callerid: str
    password: str
    max_contacts: int


def rows_for(*, extension: str, number: str | None, password: str, suspended: bool) -> EndpointRows:
    """The rows of an extension presenting ``number`` (E.164) as its caller id."""
    return EndpointRows(
        extension=extension,
        context=SUSPENDED_CONTEXT if suspended else MEMBERS_CONTEXT,
        callerid=f"<{number or extension}>",
        password=password,
        max_contacts=0 if suspended else MAX_CONTACTS,
    )


@dataclass(frozen=True)
class RowValues:
    """The column values of an extension's auth, AOR and endpoint rows; every other column is NULL."""

    auth: dict[str, object]
    aor: dict[str, object]
    endpoint: dict[str, object]


def values_for(rows: EndpointRows) -> RowValues:
    """The exact column values ``write`` gives the three rows (reconcile compares against these)."""
    return RowValues(
        auth={"id": rows.extension, "auth_type": "userpass", "username": rows.extension, "password": rows.password},
        aor={
            "id": rows.extension,
            "max_contacts": rows.max_contacts,
            "remove_existing": "yes",
            "qualify_frequency": QUALIFY_FREQUENCY_S,
        },
        endpoint={
            "id": rows.extension,
            "transport": TRANSPORT,
            "aors": rows.extension,
            "auth": rows.extension,
            "context": rows.context,
            "disallow": "all",
            "allow": CODECS,
            # Media stays with Asterisk: no re-INVITEs between members' phones behind NAT.
            "direct_media": "no",
            # Members' phones sit behind NAT routers: answer where the packets came from.
            "force_rport": "yes",
            "rewrite_contact": "yes",
            "rtp_symmetric": "yes",
            "dtmf_mode": "rfc4733",
            "callerid": rows.callerid,
            # Every CDR of the line's calls carries it: the caller id (cdr.src) is the number, which can
            # be ported or reused later; the extension names the line for good.
            "accountcode": rows.extension,
            "language": "de",
        },
    )


async def write(session: AsyncSession, rows: EndpointRows) -> None:
    """Replace the extension's endpoint, AOR and auth with exactly these."""
    await write_many(session, [rows])


async def write_many(session: AsyncSession, rows: Sequence[EndpointRows]) -> None:
    """Replace each extension's endpoint, AOR and auth with exactly its rows: a fixed number of
    statements however many extensions (a bulk activation writes thousands at once)."""
    if not rows:
        return
    # Core statements, not ORM objects: a row deleted and written again in one flush would clash in the
    # session's identity map.
    await delete_many(session, [r.extension for r in rows], keep_contacts=True)
    values = [values_for(r) for r in rows]
    await session.execute(sa.insert(PjsipAuth), [v.auth for v in values])
    await session.execute(sa.insert(PjsipAor), [v.aor for v in values])
    await session.execute(sa.insert(PjsipEndpoint), [v.endpoint for v in values])
    suspended = [r.extension for r in rows if r.max_contacts == 0]
    if suspended:
        # A suspended line's phones lose their registration now, not when it would have expired.
        await session.execute(sa.delete(PjsipContact).where(PjsipContact.endpoint.in_(suspended)))


async def delete(session: AsyncSession, extension: str, *, keep_contacts: bool = False) -> None:
    """Remove the extension from Asterisk's tables (and, unless kept, its registered contacts)."""
    await delete_many(session, [extension], keep_contacts=keep_contacts)


async def delete_many(session: AsyncSession, extensions: Sequence[str], *, keep_contacts: bool = False) -> None:
    """Remove these extensions from Asterisk's tables (and, unless kept, their registered contacts)."""
    for table in (PjsipEndpoint, PjsipAor, PjsipAuth):
        await session.execute(sa.delete(table).where(table.id.in_(extensions)))
    if not keep_contacts:
        await session.execute(sa.delete(PjsipContact).where(PjsipContact.endpoint.in_(extensions)))


async def password(session: AsyncSession, extension: str) -> str | None:
    """The extension's SIP password, from the one place it is kept."""
    return (await passwords(session, [extension])).get(extension)


async def passwords(session: AsyncSession, extensions: Sequence[str]) -> dict[str, str]:
    """The SIP passwords of these extensions, by extension (those without an auth row are left out)."""
    query = sa.select(PjsipAuth.id, PjsipAuth.password).where(PjsipAuth.id.in_(extensions))
    return {extension: secret for extension, secret in (await session.execute(query)).all() if secret}


@dataclass(frozen=True)
class EndpointState:
    """What the realtime tables hold for an extension, in words an operator checks at a glance."""

    exists: bool
    context: str | None
    max_contacts: int | None
    has_auth: bool
    contacts: int


async def state(session: AsyncSession, extension: str) -> EndpointState:
    context = (await session.execute(sa.select(PjsipEndpoint.context).where(PjsipEndpoint.id == extension))).all()
    max_contacts = (await session.execute(sa.select(PjsipAor.max_contacts).where(PjsipAor.id == extension))).all()
    secret = await password(session, extension)
    contacts = (
        await session.execute(
            sa.select(sa.func.count()).select_from(PjsipContact).where(PjsipContact.endpoint == extension)
        )
    ).scalar_one()
    return EndpointState(
        exists=bool(context),
        context=context[0][0] if context else None,
        max_contacts=max_contacts[0][0] if max_contacts else None,
        has_auth=bool(secret),
        contacts=int(contacts),
    )
