"""The ``opentelecom`` command: database, demo data, serving, users, and read-only views with --json."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.audit.service import install as install_audit
from app.db import Database
from app.kit.actor import Actor, Channel, Role
from app.kit.errors import DomainError
from app.settings import Settings, get_settings

T = TypeVar("T")

cli = typer.Typer(help="openTelecom: the operations backend of a cooperative ISP.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_cli = typer.Typer(help="Demo data.", no_args_is_help=True)
user_cli = typer.Typer(help="Logins.", no_args_is_help=True)
member_cli = typer.Typer(help="Members.", no_args_is_help=True)
contract_cli = typer.Typer(help="Contracts.", no_args_is_help=True)
plan_cli = typer.Typer(help="Plans.", no_args_is_help=True)
register_cli = typer.Typer(help="The member register (§30 GenG).", no_args_is_help=True)
audit_cli = typer.Typer(help="The audit log.", no_args_is_help=True)
for sub, name in [
    (db_cli, "db"),
    (demo_cli, "demo"),
    (user_cli, "user"),
    (member_cli, "member"),
    (contract_cli, "contract"),
    (plan_cli, "plan"),
    (register_cli, "register"),
    (audit_cli, "audit"),
]:
    cli.add_typer(sub, name=name)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def cli_actor() -> Actor:
    """Changes from the command line are attributed to the operating-system user who ran it."""
    return Actor(user_id=None, label=f"cli:{getpass.getuser()}", role=Role.ADMIN, channel=Channel.CLI)


def run(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    """Run one unit of work in a transaction; domain errors end the command with a message and exit code 1."""
    settings = get_settings()
    install_audit()

    async def main() -> T:
        database = Database(settings)
        try:
            async with database.transaction() as session:
                bind_actor(session, cli_actor())
                return await work(session, settings)
        finally:
            await database.dispose()

    return run_async(main)


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` in an event loop; domain errors end the command with a message and exit code 1."""
    try:
        return asyncio.run(main())
    except DomainError as error:
        typer.secho(f"error: {error.detail}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from error


def emit(rows: list[BaseModel] | BaseModel, *, as_json: bool, columns: list[str] | None = None) -> None:
    items = rows if isinstance(rows, list) else [rows]
    if as_json:
        data: Any = (
            [r.model_dump(mode="json") for r in items] if isinstance(rows, list) else rows.model_dump(mode="json")
        )
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if not items:
        typer.echo("(none)")
        return
    if not isinstance(rows, list):
        for key, value in rows.model_dump(mode="json").items():
            typer.echo(f"{key:>28}: {value}")
        return
    cols = columns or list(items[0].model_dump().keys())
    table = [[str(r.model_dump(mode="json").get(c, "")) for c in cols] for r in items]
    widths = [max(len(c), *(len(row[i]) for row in table)) for i, c in enumerate(cols)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for row in table:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


# --- db ------------------------------------------------------------------------------------------


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database named by OPENTELECOM_DATABASE_URL up to REVISION."""
    from app import migrate

    migrate.upgrade(get_settings().database_url, revision)


@db_cli.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. base or -1")]) -> None:
    from app import migrate

    migrate.downgrade(get_settings().database_url, revision)


@db_cli.command("current")
def db_current() -> None:
    from app import migrate

    migrate.current(get_settings().database_url)


# --- demo ----------------------------------------------------------------------------------------


@demo_cli.command("seed")
def demo_seed(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing if there are members already.")] = False,
    members: Annotated[int, typer.Option(min=10, max=10_000)] = 60,
) -> None:
    """Create the demo coop (logins board@, operator@, admin@, anna@, ben@example.org; password demo-pass)."""
    from app.demo import seed

    async def work(session: AsyncSession, settings: Settings) -> str:
        if not await seed.is_empty(session):
            if if_empty:
                return "demo data present already; nothing to do"
            raise DomainError("The database has members already; seed only an empty database.", code="not_empty")
        report = await seed.seed(session, settings=settings, members_count=members)
        return f"seeded {report.members} members, {report.contracts} contracts, {report.users} logins"

    typer.echo(run(work))


# --- serve ---------------------------------------------------------------------------------------


@cli.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (default: $PORT or 8000).")] = 0,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """Serve the API, the pages and the background loops."""
    import uvicorn

    chosen = port or int(os.environ.get("PORT", "8000"))
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=chosen,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )


# --- users ---------------------------------------------------------------------------------------


class UserRow(BaseModel):
    id: int
    email: str
    role: str
    display_name: str
    member_id: int | None
    is_active: bool


@user_cli.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Login e-mail.")],
    role: Annotated[Role, typer.Option(help="member, operator, board or admin.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    member_id: Annotated[int | None, typer.Option(help="For a member login: the member's id.")] = None,
    password: Annotated[str | None, typer.Option(help="Leave out to generate a strong one (printed once).")] = None,
) -> None:
    """Create a login."""
    from app.auth import service
    from app.auth.security import generate_password

    secret = password or generate_password(20)

    async def work(session: AsyncSession, settings: Settings) -> UserRow:
        user = await service.create_user(
            session, email=email, password=secret, role=role, display_name=name, member_id=member_id
        )
        return UserRow(
            id=user.id,
            email=user.email,
            role=user.role.value,
            display_name=user.display_name,
            member_id=user.member_id,
            is_active=user.is_active,
        )

    row = run(work)
    typer.echo(f"created user {row.id} <{row.email}> ({row.role})")
    if password is None:
        typer.echo(f"generated password (shown once): {secret}")


@user_cli.command("list")
def user_list(as_json: JsonOption = False) -> None:
    from app.auth import repository

    async def work(session: AsyncSession, settings: Settings) -> list[BaseModel]:
        users, _ = await repository.list_users(session, limit=10_000, offset=0)
        return [
            UserRow(
                id=u.id,
                email=u.email,
                role=u.role.value,
                display_name=u.display_name,
                member_id=u.member_id,
                is_active=u.is_active,
            )
            for u in users
        ]

    emit(run(work), as_json=as_json)


# --- members, contracts, plans -------------------------------------------------------------------


@member_cli.command("list")
def member_list(
    status: Annotated[str | None, typer.Option(help="applicant, member, rejected, left, customer")] = None,
    q: Annotated[str | None, typer.Option(help="Search name, e-mail, city.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 500,
    as_json: JsonOption = False,
) -> None:
    from app.members import repository
    from app.members.models import MemberStatus
    from app.members.schemas import MemberOut

    async def work(session: AsyncSession, settings: Settings) -> list[BaseModel]:
        members, _ = await repository.search(
            session,
            actor=cli_actor(),
            filters=repository.MemberFilter(status=MemberStatus(status) if status else None, search=q),
            limit=limit,
            offset=0,
        )
        return [MemberOut.model_validate(m) for m in members]

    emit(
        run(work),
        as_json=as_json,
        columns=["id", "number", "status", "display_name", "city", "admitted_on", "leaving_on"],
    )


@member_cli.command("show")
def member_show(member_id: int, as_json: JsonOption = False) -> None:
    from app.members import service
    from app.members.schemas import MemberOut

    async def work(session: AsyncSession, settings: Settings) -> BaseModel:
        return MemberOut.model_validate(await service.get_member(session, actor=cli_actor(), member_id=member_id))

    emit(run(work), as_json=as_json)


@contract_cli.command("list")
def contract_list(
    status: Annotated[str | None, typer.Option(help="ordered, active, suspended, terminated")] = None,
    member_id: Annotated[int | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 500,
    as_json: JsonOption = False,
) -> None:
    from app.contracts import repository
    from app.contracts.models import ContractStatus
    from app.contracts.schemas import ContractOut

    async def work(session: AsyncSession, settings: Settings) -> list[BaseModel]:
        rows, _ = await repository.search_contracts(
            session,
            actor=cli_actor(),
            filters=repository.ContractFilter(status=ContractStatus(status) if status else None, member_id=member_id),
            limit=limit,
            offset=0,
        )
        return [ContractOut.model_validate(c) for c in rows]

    emit(run(work), as_json=as_json, columns=["id", "number", "member_id", "plan_id", "status", "start_on", "ends_on"])


@contract_cli.command("show")
def contract_show(contract_id: int, as_json: JsonOption = False) -> None:
    from app.contracts import service
    from app.contracts.router import detail

    async def work(session: AsyncSession, settings: Settings) -> BaseModel:
        return detail(await service.get_contract(session, actor=cli_actor(), contract_id=contract_id), settings)

    emit(run(work), as_json=as_json)


@plan_cli.command("list")
def plan_list(as_json: JsonOption = False) -> None:
    from app.contracts import service
    from app.contracts.schemas import PlanOut

    async def work(session: AsyncSession, settings: Settings) -> list[BaseModel]:
        return [PlanOut.model_validate(p) for p in await service.list_plans(session, actor=cli_actor())]

    emit(
        run(work),
        as_json=as_json,
        columns=["id", "code", "name", "down_kbps", "up_kbps", "monthly_fee_cents", "min_term_months"],
    )


# --- register and audit --------------------------------------------------------------------------


@register_cli.command("export")
def register_export(
    on: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today).")] = None,
    format: Annotated[str, typer.Option(help="csv, pdf or json")] = "csv",
    output: Annotated[Path | None, typer.Option(help="File to write (default: standard output).")] = None,
    lang: Annotated[str, typer.Option(help="de or en")] = "de",
) -> None:
    """Export the member register as it stood at the end of a day."""
    from app.kit.time import local_today
    from app.members import register, service

    if format not in ("csv", "pdf", "json"):
        raise typer.BadParameter("format must be csv, pdf or json")

    async def work(session: AsyncSession, settings: Settings) -> bytes:
        day = date.fromisoformat(on) if on else local_today(settings.timezone)
        reg = await service.register_as_of(session, actor=cli_actor(), on=day)
        if format == "csv":
            return register.to_csv(reg, locale=lang)
        if format == "pdf":
            return await register.to_pdf(reg, settings=settings, locale=lang)
        return reg.model_dump_json(indent=2).encode()

    data = run(work)
    if output:
        output.write_bytes(data)
        typer.echo(f"wrote {output} ({len(data)} bytes)")
    else:
        sys.stdout.buffer.write(data)


@audit_cli.command("list")
def audit_list(
    entity_type: Annotated[str | None, typer.Option()] = None,
    entity_id: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonOption = False,
) -> None:
    from app.audit import repository
    from app.audit.schemas import AuditEventOut

    async def work(session: AsyncSession, settings: Settings) -> list[BaseModel]:
        events, _ = await repository.search(
            session, filters=repository.AuditFilter(entity_type=entity_type, entity_id=entity_id), limit=limit, offset=0
        )
        return [AuditEventOut.model_validate(e) for e in events]

    emit(
        run(work), as_json=as_json, columns=["id", "at", "actor_label", "channel", "action", "entity_type", "entity_id"]
    )


def main() -> None:
    # The domains' command groups live with their domains; registered here, where the CLI is composed.
    from billing.dividends.cli import dividends_cli
    from billing.dunning.cli import dunning_cli
    from billing.invoices.cli import billing_cli
    from billing.ledger.cli import ledger_cli
    from billing.payments.cli import payments_cli
    from network.cli import router_cli
    from network.health.cli import devices_cli
    from provisioning.cli import provision_cli

    cli.add_typer(router_cli, name="router")
    cli.add_typer(devices_cli, name="devices")
    cli.add_typer(provision_cli, name="provision")
    cli.add_typer(ledger_cli, name="ledger")
    cli.add_typer(dividends_cli, name="dividends")
    cli.add_typer(billing_cli, name="billing")
    cli.add_typer(payments_cli, name="payments")
    cli.add_typer(dunning_cli, name="dunning")
    cli()
