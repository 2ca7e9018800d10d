"""``opentelecom router ...``: access routers and their address pools."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.main import JsonOption, cli_actor, emit, run
from app.settings import Settings
from network import ipam, service
from network.models import PoolFamily
from network.routes import usage_out
from network.schemas import PoolCreate, RouterCreate, RouterOut

router_cli = typer.Typer(help="Access routers and address pools.", no_args_is_help=True)


@router_cli.command("create")
def create_command(
    name: Annotated[str, typer.Option()],
    nas_ip: Annotated[str, typer.Option(help="Address it sends RADIUS from and takes CoA on.")],
    portal_ipv4: Annotated[str, typer.Option(help="The coop's portal address (reachable when walled).")],
    netns: Annotated[str | None, typer.Option(help="Network namespace to configure; leave out for by hand.")] = None,
    coa_port: Annotated[int, typer.Option(min=1, max=65535)] = 3799,
    as_json: JsonOption = False,
) -> None:
    """Register an access router (a RADIUS client with a generated secret)."""

    async def work(session: AsyncSession, settings: Settings) -> BaseModel:
        data = RouterCreate(name=name, nas_ip=nas_ip, portal_ipv4=portal_ipv4, netns=netns, coa_port=coa_port)
        return RouterOut.model_validate(await service.create_router(session, actor=cli_actor(), data=data))

    emit(run(work), as_json=as_json)


@router_cli.command("list")
def list_command(as_json: JsonOption = False) -> None:
    async def work(session: AsyncSession, settings: Settings) -> list[BaseModel]:
        return [RouterOut.model_validate(r) for r in await service.list_routers(session)]

    emit(run(work), as_json=as_json)


@router_cli.command("pool-add")
def pool_add_command(
    router_id: int,
    cidr: str,
    family: Annotated[PoolFamily, typer.Option()] = PoolFamily.IPV4,
    gateway: Annotated[str | None, typer.Option(help="IPv4: router address on each line (default first host).")] = None,
    delegated_length: Annotated[int | None, typer.Option(help="IPv6: prefix length per line.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Add an address block to a router."""

    async def work(session: AsyncSession, settings: Settings) -> BaseModel:
        data = PoolCreate(family=family, cidr=cidr, gateway=gateway, delegated_length=delegated_length)
        pool = await service.create_pool(session, actor=cli_actor(), router_id=router_id, data=data)
        return usage_out(next(u for u in await ipam.usage(session, router_id=router_id) if u.pool_id == pool.id))

    emit(run(work), as_json=as_json)


@router_cli.command("pools")
def pools_command(as_json: JsonOption = False) -> None:
    """Pool usage: size, assigned, quarantined, free."""

    async def work(session: AsyncSession, settings: Settings) -> list[BaseModel]:
        return [usage_out(u) for u in await ipam.usage(session)]

    emit(run(work), as_json=as_json)
