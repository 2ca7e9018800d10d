"""``opentelecom devices ...``: the SNMP device inventory and a poller to run on its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Annotated

import typer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.main import JsonOption, emit, run
from app.db import Database
from app.settings import Settings, get_settings
from network.health import service
from network.health.routes import device_out
from network.health.tasks import ROUND_PAUSE_S, Poller

devices_cli = typer.Typer(help="SNMP devices and the poller.", no_args_is_help=True)


@devices_cli.command("list")
def list_command(as_json: JsonOption = False) -> None:
    """Every device with its state and when it was last polled (secrets are never shown)."""

    async def work(session: AsyncSession, settings: Settings) -> list[BaseModel]:
        return [device_out(device, status) for device, status in await service.list_devices(session)]

    emit(run(work), as_json=as_json, columns=["id", "name", "kind", "host", "port", "snmp_version", "is_active"])


@devices_cli.command("poll")
def poll_command(
    once: Annotated[bool, typer.Option(help="One round, then stop (how many devices it polled is printed).")] = False,
) -> None:
    """Run a poller: it shares the devices with every other poller (in the serving processes too) by leases,
    until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        database = Database(get_settings())
        poller = Poller(database)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sign in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sign, stop.set)
        try:
            while not stop.is_set():
                polled = await poller.round()
                if once:
                    typer.echo(f"{polled} devices polled")
                    return
                if not polled:
                    # Nothing due: wait a little (or stop at once when told).
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), ROUND_PAUSE_S)
        finally:
            await database.dispose()

    asyncio.run(main())
