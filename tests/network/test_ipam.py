"""Address management: the right addresses, never twice, quarantine before reuse, pools validated."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import DomainError
from app.kit.time import utcnow
from network import ipam
from network import service as network
from network.models import AddressAssignment, PoolFamily
from network.schemas import PoolCreate
from tests.builders import OPERATOR, make_router


async def test_ipv4_allocation_skips_network_gateway_and_broadcast(db_session: AsyncSession) -> None:
    router = await make_router(db_session, ipv4_pool="100.90.0.0/29", ipv6_pool=None)
    got = [
        (await ipam.allocate(db_session, router_id=router.id, family=PoolFamily.IPV4, line_id=n)).value
        for n in range(1, 6)
    ]
    # /29: .0 network, .1 gateway, .7 broadcast; five hosts remain.
    assert got == ["100.90.0.2", "100.90.0.3", "100.90.0.4", "100.90.0.5", "100.90.0.6"]
    with pytest.raises(DomainError) as full:
        await ipam.allocate(db_session, router_id=router.id, family=PoolFamily.IPV4, line_id=99)
    assert full.value.code == "pool_exhausted"


async def test_released_address_rests_in_quarantine_then_is_reused(db_session: AsyncSession) -> None:
    router = await make_router(db_session, ipv4_pool="100.90.1.0/30", ipv6_pool=None)
    only = await ipam.allocate(db_session, router_id=router.id, family=PoolFamily.IPV4, line_id=1)
    assert only.value == "100.90.1.2"
    assert await ipam.release(db_session, line_id=1) == ["100.90.1.2"]

    with pytest.raises(DomainError) as resting:
        await ipam.allocate(db_session, router_id=router.id, family=PoolFamily.IPV4, line_id=2)
    assert resting.value.code == "pool_exhausted"

    await db_session.execute(
        sa.update(AddressAssignment)
        .where(AddressAssignment.id == only.id)
        .values(quarantine_until=utcnow() - timedelta(seconds=1))
    )
    router_id = router.id
    db_session.expire_all()
    again = await ipam.allocate(db_session, router_id=router_id, family=PoolFamily.IPV4, line_id=2)
    assert again.value == "100.90.1.2" and again.line_id == 2


async def test_ipv6_pool_hands_out_consecutive_delegated_prefixes(db_session: AsyncSession) -> None:
    router = await make_router(db_session, ipv6_pool="2001:db8:4200::/40")
    first = await ipam.allocate(db_session, router_id=router.id, family=PoolFamily.IPV6, line_id=1)
    second = await ipam.allocate(db_session, router_id=router.id, family=PoolFamily.IPV6, line_id=2)
    assert (first.value, second.value) == ("2001:db8:4200::/56", "2001:db8:4200:100::/56")


async def test_usage_counts_assigned_and_quarantined(db_session: AsyncSession) -> None:
    router = await make_router(db_session, ipv4_pool="100.90.2.0/28", ipv6_pool=None)
    for n in range(1, 4):
        await ipam.allocate(db_session, router_id=router.id, family=PoolFamily.IPV4, line_id=n)
    await ipam.release(db_session, line_id=3)
    (usage,) = await ipam.usage(db_session, router_id=router.id)
    assert (usage.size, usage.assigned, usage.quarantined, usage.free) == (13, 2, 1, 10)


@pytest.mark.parametrize(
    ("family", "cidr", "length", "code"),
    [
        (PoolFamily.IPV4, "100.91.0.1/24", None, "invalid"),  # host bits set
        (PoolFamily.IPV4, "0.0.0.0/0", None, "invalid"),
        (PoolFamily.IPV4, "100.64.0.0/10", None, "pool_overlap"),  # overlaps the router's own /24
        (PoolFamily.IPV6, "2001:db8:ff00::/60", 56, "invalid"),  # delegated not longer than the pool
        (PoolFamily.IPV6, "2001:db8:ff00::/40", None, "invalid"),
    ],
)
async def test_pools_are_validated(
    db_session: AsyncSession, family: PoolFamily, cidr: str, length: int | None, code: str
) -> None:
    router = await make_router(db_session, ipv6_pool=None)
    with pytest.raises(DomainError) as refused:
        await network.create_pool(
            db_session,
            actor=OPERATOR,
            router_id=router.id,
            data=PoolCreate(family=family, cidr=cidr, delegated_length=length),
        )
    assert refused.value.code == code
