"""What FreeRADIUS should find in its tables for our lines, plans and routers, and writing it there.

Attribute names are FreeRADIUS dictionary names; this module is the only place that knows them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from provisioning.radius.models import Nas, RadCheck, RadGroupReply, RadReply, RadUserGroup

PASSWORD = "Cleartext-Password"  # noqa: S105 - an attribute name, not a secret
FRAMED_IP = "Framed-IP-Address"
DELEGATED_PREFIX = "Delegated-IPv6-Prefix"
RATE_DOWN = "WISPr-Bandwidth-Max-Down"
RATE_UP = "WISPr-Bandwidth-Max-Up"


@dataclass(frozen=True, order=True)
class Item:
    """One attribute row: ``(attribute, op, value)`` of a user or a group."""

    attribute: str
    op: str
    value: str


@dataclass(frozen=True)
class UserRows:
    """Everything one RADIUS user (a line) has in radcheck, radreply and radusergroup."""

    username: str
    check: tuple[Item, ...]
    reply: tuple[Item, ...]
    groups: tuple[str, ...]


def plan_group(plan_code: str) -> str:
    """The RADIUS group that carries a plan's rate attributes."""
    return f"plan-{plan_code}"


def plan_group_items(*, down_kbps: int, up_kbps: int) -> tuple[Item, ...]:
    """A plan's rates as WISPr attributes, in bits per second."""
    return tuple(sorted((Item(RATE_DOWN, ":=", str(down_kbps * 1000)), Item(RATE_UP, ":=", str(up_kbps * 1000)))))


def line_rows(*, username: str, password: str, ipv4: str | None, ipv6_prefix: str | None, plan_code: str) -> UserRows:
    """The rows of a serving line. A line that must not log in has no rows at all (Access-Reject)."""
    reply = []
    if ipv4:
        reply.append(Item(FRAMED_IP, ":=", ipv4))
    if ipv6_prefix:
        reply.append(Item(DELEGATED_PREFIX, ":=", ipv6_prefix))
    return UserRows(
        username=username,
        check=(Item(PASSWORD, ":=", password),),
        reply=tuple(sorted(reply)),
        groups=(plan_group(plan_code),),
    )


async def read_users(session: AsyncSession, usernames: Sequence[str] | None = None) -> dict[str, UserRows]:
    """The rows FreeRADIUS would find now, per user (all users when ``usernames`` is None)."""
    check: dict[str, list[Item]] = {}
    reply: dict[str, list[Item]] = {}
    groups: dict[str, list[str]] = {}
    for table, target in ((RadCheck, check), (RadReply, reply)):
        query = sa.select(table.username, table.attribute, table.op, table.value)
        if usernames is not None:
            query = query.where(table.username.in_(usernames))
        for username, attribute, op, value in (await session.execute(query)).all():
            target.setdefault(username, []).append(Item(attribute, op, value))
    group_query = sa.select(RadUserGroup.username, RadUserGroup.groupname)
    if usernames is not None:
        group_query = group_query.where(RadUserGroup.username.in_(usernames))
    for username, groupname in (await session.execute(group_query)).all():
        groups.setdefault(username, []).append(groupname)
    return {
        username: UserRows(
            username=username,
            check=tuple(sorted(check.get(username, ()))),
            reply=tuple(sorted(reply.get(username, ()))),
            groups=tuple(sorted(groups.get(username, ()))),
        )
        for username in set(check) | set(reply) | set(groups)
    }


async def delete_users(session: AsyncSession, usernames: Iterable[str]) -> None:
    names = list(usernames)
    if not names:
        return
    for table in (RadCheck, RadReply, RadUserGroup):
        await session.execute(sa.delete(table).where(table.username.in_(names)))


async def write_users(session: AsyncSession, users: Sequence[UserRows]) -> None:
    """Replace these users' rows with exactly the given ones."""
    await delete_users(session, [user.username for user in users])
    checks = [
        {"username": u.username, "attribute": i.attribute, "op": i.op, "value": i.value} for u in users for i in u.check
    ]
    replies = [
        {"username": u.username, "attribute": i.attribute, "op": i.op, "value": i.value} for u in users for i in u.reply
    ]
    memberships = [{"username": u.username, "groupname": g, "priority": 1} for u in users for g in u.groups]
    if checks:
        await session.execute(sa.insert(RadCheck), checks)
    if replies:
        await session.execute(sa.insert(RadReply), replies)
    if memberships:
        await session.execute(sa.insert(RadUserGroup), memberships)


async def read_groups(session: AsyncSession) -> dict[str, tuple[Item, ...]]:
    found: dict[str, list[Item]] = {}
    query = sa.select(RadGroupReply.groupname, RadGroupReply.attribute, RadGroupReply.op, RadGroupReply.value)
    for groupname, attribute, op, value in (await session.execute(query)).all():
        found.setdefault(groupname, []).append(Item(attribute, op, value))
    return {name: tuple(sorted(items)) for name, items in found.items()}


async def write_group(session: AsyncSession, groupname: str, items: Sequence[Item]) -> None:
    await session.execute(sa.delete(RadGroupReply).where(RadGroupReply.groupname == groupname))
    if items:
        await session.execute(
            sa.insert(RadGroupReply),
            [{"groupname": groupname, "attribute": i.attribute, "op": i.op, "value": i.value} for i in items],
        )


@dataclass(frozen=True, order=True)
class NasRow:
    """A RADIUS client as FreeRADIUS reads it from the nas table."""

    nasname: str
    shortname: str
    secret: str


async def read_nas(session: AsyncSession) -> dict[str, NasRow]:
    rows = (await session.execute(sa.select(Nas.nasname, Nas.shortname, Nas.secret))).all()
    return {nasname: NasRow(nasname, shortname, secret) for nasname, shortname, secret in rows}


async def write_nas(session: AsyncSession, row: NasRow) -> None:
    await session.execute(sa.delete(Nas).where(Nas.nasname == row.nasname))
    await session.execute(
        sa.insert(Nas).values(nasname=row.nasname, shortname=row.shortname, secret=row.secret, type="other")
    )


async def delete_nas(session: AsyncSession, nasname: str) -> None:
    await session.execute(sa.delete(Nas).where(Nas.nasname == nasname))
