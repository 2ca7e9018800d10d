"""Access routers and their pools: the operator registers them; provisioning places lines on them."""

from __future__ import annotations

import ipaddress
import secrets

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.errors import Conflict, Invalid, NotFound
from network import ipam
from network.models import AccessRouter, AddressPool, PoolFamily
from network.schemas import PoolCreate, RouterCreate


def new_radius_secret() -> str:
    """A strong shared secret for a NAS (RADIUS secrets travel in no packet, so length costs nothing)."""
    return secrets.token_urlsafe(24)


async def create_router(session: AsyncSession, *, actor: Actor, data: RouterCreate) -> AccessRouter:
    """Register an access router; it becomes a RADIUS client with a newly generated secret."""
    actor.require(Role.OPERATOR)
    clash = await session.scalar(
        sa.select(AccessRouter.id).where(sa.or_(AccessRouter.name == data.name, AccessRouter.nas_ip == data.nas_ip))
    )
    if clash is not None:
        raise Conflict("A router with that name or NAS address exists already.", code="router_exists")
    router = AccessRouter(
        name=data.name,
        netns=data.netns,
        nas_ip=data.nas_ip,
        coa_port=data.coa_port,
        portal_ipv4=data.portal_ipv4,
        radius_secret=new_radius_secret(),
        is_active=True,
    )
    with action(session, "router.create"):
        session.add(router)
        await session.flush()
    return router


async def get_router(session: AsyncSession, *, router_id: int) -> AccessRouter:
    router = await session.get(AccessRouter, router_id)
    if router is None:
        raise NotFound(f"Router {router_id} not found.")
    return router


async def list_routers(session: AsyncSession) -> list[AccessRouter]:
    return list((await session.scalars(sa.select(AccessRouter).order_by(AccessRouter.id))).all())


async def routers_by_id(session: AsyncSession, router_ids: set[int]) -> dict[int, AccessRouter]:
    query = sa.select(AccessRouter).where(AccessRouter.id.in_(router_ids))
    return {router.id: router for router in (await session.scalars(query)).all()}


async def default_router(session: AsyncSession) -> AccessRouter | None:
    """The router a line lands on when the operator names none: the first active one."""
    query = sa.select(AccessRouter).where(AccessRouter.is_active.is_(True)).order_by(AccessRouter.id).limit(1)
    return (await session.scalars(query)).one_or_none()


async def create_pool(session: AsyncSession, *, actor: Actor, router_id: int, data: PoolCreate) -> AddressPool:
    """Add an address block to a router; blocks never overlap, on any router."""
    actor.require(Role.OPERATOR)
    await get_router(session, router_id=router_id)
    cidr = ipam.normalise_pool(data.family, data.cidr, delegated_length=data.delegated_length)
    network = ipaddress.ip_network(cidr)
    gateway = None
    if data.family is PoolFamily.IPV4:
        if data.gateway is None:
            gateway = str(network.network_address + 1)
        else:
            try:
                gateway_address = ipaddress.IPv4Address(data.gateway.strip())
            except ValueError:
                raise Invalid(f"{data.gateway!r} is not an IPv4 address.", field="gateway") from None
            if gateway_address not in network or gateway_address in (network.network_address, network[-1]):
                raise Invalid("The gateway must be a host address inside the pool.", field="gateway")
            gateway = str(gateway_address)
    elif data.gateway is not None:
        raise Invalid("IPv6 pools delegate prefixes and have no gateway.", field="gateway")
    for other in (await session.scalars(sa.select(AddressPool.cidr))).all():
        if network.overlaps(ipaddress.ip_network(other)):  # type: ignore[arg-type]
            raise Conflict(f"{cidr} overlaps the pool {other}.", code="pool_overlap", field="cidr")
    pool = AddressPool(
        router_id=router_id,
        family=data.family,
        cidr=cidr,
        gateway=gateway,
        delegated_length=data.delegated_length if data.family is PoolFamily.IPV6 else None,
        quarantine_days=data.quarantine_days,
        next_slot=0,
    )
    with action(session, "pool.create"):
        session.add(pool)
        await session.flush()
    return pool


async def ipv4_gateways(
    session: AsyncSession, *, router_id: int | None = None
) -> list[tuple[ipaddress.IPv4Network, str]]:
    """Each IPv4 pool's block with the router-side gateway address of lines from it."""
    query = sa.select(AddressPool.cidr, AddressPool.gateway).where(AddressPool.family == PoolFamily.IPV4)
    if router_id is not None:
        query = query.where(AddressPool.router_id == router_id)
    return [(ipaddress.IPv4Network(cidr), str(gateway)) for cidr, gateway in (await session.execute(query)).all()]


def gateway_for(gateways: list[tuple[ipaddress.IPv4Network, str]], ipv4: str) -> str | None:
    address = ipaddress.IPv4Address(ipv4)
    return next((gateway for network, gateway in gateways if address in network), None)
