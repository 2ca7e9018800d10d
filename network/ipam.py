"""IP address management: IPv4 addresses and delegated IPv6 prefixes from each access router's pools.

Allocation is safe under concurrency: the pool row is locked for the allocation (PostgreSQL
``SELECT ... FOR UPDATE``; SQLite serialises writers anyway) and ``(pool_id, slot)`` is unique in the
database, so two lines can never hold one address even if a lock were forgotten. Released addresses
rest in quarantine before reuse, so a returning session of the old holder cannot hijack traffic.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.errors import Conflict, Invalid
from app.kit.time import utcnow
from network.models import AddressAssignment, AddressPool, AssignmentStatus, PoolFamily

IPv4Net = ipaddress.IPv4Network
IPv6Net = ipaddress.IPv6Network


def normalise_pool(family: PoolFamily, cidr: str, *, delegated_length: int | None) -> str:
    """Parse and normalise a pool's block; refuse host bits, /0 and blocks too small to be useful."""
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=True)
    except ValueError as error:
        raise Invalid(f"{cidr!r} is not a network address ({error}).", field="cidr") from None
    if family is PoolFamily.IPV4:
        if not isinstance(network, IPv4Net) or not 8 <= network.prefixlen <= 30:
            raise Invalid("An IPv4 pool is a block between /8 and /30.", field="cidr")
    else:
        if not isinstance(network, IPv6Net) or not 16 <= network.prefixlen <= 60:
            raise Invalid("An IPv6 pool is a block between /16 and /60.", field="cidr")
        if delegated_length is None or not network.prefixlen < delegated_length <= 64:
            raise Invalid(
                "The delegated length must be longer than the pool's and at most /64.", field="delegated_length"
            )
    return str(network)


def slot_count(pool: AddressPool) -> int:
    """How many slots (addresses or prefixes) a pool has, counting the ones never handed out."""
    network = ipaddress.ip_network(pool.cidr)
    if pool.family is PoolFamily.IPV4:
        return int(network.num_addresses)
    assert pool.delegated_length is not None
    return 1 << (pool.delegated_length - network.prefixlen)


def slot_value(pool: AddressPool, slot: int) -> str:
    """The address (IPv4) or delegated prefix (IPv6) that sits in ``slot`` of the pool."""
    network = ipaddress.ip_network(pool.cidr)
    if pool.family is PoolFamily.IPV4:
        return str(network.network_address + slot)
    assert pool.delegated_length is not None
    size = 1 << (128 - pool.delegated_length)
    return str(ipaddress.ip_network((int(network.network_address) + slot * size, pool.delegated_length)))


def slot_of(pool: AddressPool, value: str) -> int:
    """The slot a requested static address or prefix occupies; refuses values outside the pool."""
    network = ipaddress.ip_network(pool.cidr)
    try:
        if pool.family is PoolFamily.IPV4:
            address = ipaddress.IPv4Address(value.strip())
            if address not in network:
                raise Invalid(f"{address} is not in the pool {pool.cidr}.", field="ipv4")
            return int(address) - int(network.network_address)
        prefix = ipaddress.IPv6Network(value.strip(), strict=True)
    except ValueError as error:
        raise Invalid(f"{value!r} is not a valid address ({error}).", field="ipv4") from None
    if prefix.prefixlen != pool.delegated_length or not prefix.subnet_of(network):  # type: ignore[arg-type]
        raise Invalid(f"{prefix} is not a /{pool.delegated_length} of the pool {pool.cidr}.", field="ipv6_prefix")
    return (int(prefix.network_address) - int(network.network_address)) >> (128 - pool.delegated_length)


def reserved_slots(pool: AddressPool) -> set[int]:
    """Slots never handed out: IPv4 network, broadcast and the router's gateway address."""
    if pool.family is PoolFamily.IPV6:
        return set()
    assert pool.gateway is not None
    return {0, slot_count(pool) - 1, slot_of(pool, pool.gateway)}


async def _pools(session: AsyncSession, router_id: int, family: PoolFamily) -> list[AddressPool]:
    query = (
        sa.select(AddressPool)
        .where(AddressPool.router_id == router_id, AddressPool.family == family)
        .order_by(AddressPool.id)
        .with_for_update()
    )
    return list((await session.scalars(query)).all())


async def _holder(session: AsyncSession, pool_id: int, slot: int) -> AddressAssignment | None:
    query = sa.select(AddressAssignment).where(AddressAssignment.pool_id == pool_id, AddressAssignment.slot == slot)
    return (await session.scalars(query)).one_or_none()


def _reusable(assignment: AddressAssignment | None, now: datetime) -> bool:
    return assignment is None or (
        assignment.status is AssignmentStatus.QUARANTINED
        and assignment.quarantine_until is not None
        and assignment.quarantine_until <= now
    )


async def _take(
    session: AsyncSession,
    pool: AddressPool,
    slot: int,
    existing: AddressAssignment | None,
    *,
    line_id: int,
    static: bool,
) -> AddressAssignment:
    now = utcnow()
    if existing is None:
        assignment = AddressAssignment(pool_id=pool.id, slot=slot, value=slot_value(pool, slot))
        session.add(assignment)
    else:
        assignment = existing
    assignment.line_id = line_id
    assignment.status = AssignmentStatus.ASSIGNED
    assignment.is_static = static
    assignment.assigned_at = now
    assignment.released_at = None
    assignment.quarantine_until = None
    return assignment


async def allocate(
    session: AsyncSession, *, router_id: int, family: PoolFamily, line_id: int, requested: str | None = None
) -> AddressAssignment:
    """Give a line an address (IPv4) or a delegated prefix (IPv6) from the router's pools.

    ``requested`` asks for a static value, which must lie in one of the router's pools and be free.
    """
    pools = await _pools(session, router_id, family)
    if not pools:
        raise Conflict(f"The router has no {family.value} pool.", code="no_pool")
    now = utcnow()
    with action(session, "ipam.allocate"):
        if requested is not None:
            for pool in pools:
                try:
                    slot = slot_of(pool, requested)
                except Invalid:
                    continue
                if slot in reserved_slots(pool):
                    raise Invalid(f"{requested} is reserved in its pool.", field="ipv4")
                existing = await _holder(session, pool.id, slot)
                if not _reusable(existing, now):
                    raise Conflict(f"{requested} is in use or in quarantine.", code="address_taken", field="ipv4")
                assignment = await _take(session, pool, slot, existing, line_id=line_id, static=True)
                await session.flush()
                return assignment
            raise Invalid(f"{requested} is in none of the router's {family.value} pools.", field="ipv4")
        for pool in pools:
            found = await _next_free(session, pool, line_id=line_id, now=now)
            if found is not None:
                await session.flush()
                return found
    raise Conflict(f"Every {family.value} pool of the router is full.", code="pool_exhausted")


async def _next_free(
    session: AsyncSession, pool: AddressPool, *, line_id: int, now: datetime
) -> AddressAssignment | None:
    """First free slot at or after the pool's cursor, wrapping once; the pool row is locked by the caller."""
    size = slot_count(pool)
    reserved = reserved_slots(pool)
    # Slots at and after the cursor that are held (or quarantined): read in pages, never the whole pool.
    start = pool.next_slot % size
    for lower, upper in ((start, size), (0, start)):
        cursor = lower
        while cursor < upper:
            page = (
                await session.execute(
                    sa.select(AddressAssignment.slot, AddressAssignment)
                    .where(
                        AddressAssignment.pool_id == pool.id,
                        AddressAssignment.slot >= cursor,
                        AddressAssignment.slot < upper,
                    )
                    .order_by(AddressAssignment.slot)
                    .limit(512)
                )
            ).all()
            held = {slot: assignment for slot, assignment in page}
            last = page[-1][0] if len(page) == 512 else upper - 1
            for slot in range(cursor, last + 1):
                if slot in reserved:
                    continue
                existing = held.get(slot)
                if _reusable(existing, now):
                    pool.next_slot = slot + 1
                    return await _take(session, pool, slot, existing, line_id=line_id, static=False)
            cursor = last + 1
    return None


async def release(session: AsyncSession, *, line_id: int) -> list[str]:
    """Take back everything a line holds; each value rests in its pool's quarantine before reuse."""
    query = (
        sa.select(AddressAssignment, AddressPool.quarantine_days)
        .join(AddressPool, AddressPool.id == AddressAssignment.pool_id)
        .where(AddressAssignment.line_id == line_id, AddressAssignment.status == AssignmentStatus.ASSIGNED)
    )
    now = utcnow()
    released = []
    with action(session, "ipam.release"):
        for assignment, days in (await session.execute(query)).all():
            assignment.status = AssignmentStatus.QUARANTINED
            assignment.line_id = None
            assignment.released_at = now
            assignment.quarantine_until = now + timedelta(days=days)
            released.append(assignment.value)
        await session.flush()
    return released


async def held_by(session: AsyncSession, *, line_ids: list[int]) -> dict[int, list[str]]:
    """What each of the given lines holds now."""
    query = sa.select(AddressAssignment.line_id, AddressAssignment.value).where(
        AddressAssignment.line_id.in_(line_ids), AddressAssignment.status == AssignmentStatus.ASSIGNED
    )
    result: dict[int, list[str]] = {}
    for line_id, value in (await session.execute(query)).all():
        if line_id is not None:
            result.setdefault(line_id, []).append(value)
    return result


@dataclass(frozen=True)
class PoolUsage:
    """A pool's fill level for the operator."""

    pool_id: int
    router_id: int
    family: PoolFamily
    cidr: str
    size: int
    assigned: int
    quarantined: int

    @property
    def free(self) -> int:
        return self.size - self.assigned - self.quarantined

    @property
    def percent_used(self) -> float:
        return round(100 * (self.assigned + self.quarantined) / self.size, 1) if self.size else 100.0


async def usage(session: AsyncSession, *, router_id: int | None = None) -> list[PoolUsage]:
    """Every pool's size and how much of it is assigned or in quarantine, in one query."""
    counts = (
        sa.select(
            AddressAssignment.pool_id,
            sa.func.count().filter(AddressAssignment.status == AssignmentStatus.ASSIGNED).label("assigned"),
            sa.func.count().filter(AddressAssignment.status == AssignmentStatus.QUARANTINED).label("quarantined"),
        )
        .group_by(AddressAssignment.pool_id)
        .subquery()
    )
    query = (
        sa.select(AddressPool, counts.c.assigned, counts.c.quarantined)
        .outerjoin(counts, counts.c.pool_id == AddressPool.id)
        .order_by(AddressPool.router_id, AddressPool.family, AddressPool.id)
    )
    if router_id is not None:
        query = query.where(AddressPool.router_id == router_id)
    rows = []
    for pool, assigned, quarantined in (await session.execute(query)).all():
        size = slot_count(pool) - len(reserved_slots(pool))
        rows.append(
            PoolUsage(
                pool_id=pool.id,
                router_id=pool.router_id,
                family=pool.family,
                cidr=pool.cidr,
                size=size,
                assigned=assigned or 0,
                quarantined=quarantined or 0,
            )
        )
    return rows
