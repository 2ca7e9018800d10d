"""Builders for test data, keyword-only, going through the services so the rules hold."""

from __future__ import annotations

from datetime import date

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.auth import service as auth_service
from app.auth.models import User
from app.contracts import service as contracts
from app.contracts.models import Contract, ContractStatus, Plan, Premises
from app.contracts.schemas import PlanCreate, PremisesCreate
from app.kit.actor import Actor, Channel, Role
from app.members import service as members
from app.members.models import Member
from app.members.schemas import MemberApplication
from app.settings import Settings
from billing.ledger import service as ledger
from billing.ledger.models import JournalEntry, SourceKind
from billing.ledger.schemas import EntryDraft, LineDraft
from network import service as network
from network.models import AccessRouter, PoolFamily
from network.schemas import PoolCreate, RouterCreate
from voip import service as voip
from voip.numbers import NumberBlock
from voip.schemas import NumberBlockCreate

BOARD = Actor(user_id=None, label="test-board", role=Role.BOARD, channel=Channel.SYSTEM)
PASSWORD = "correct horse battery"
_counter = {"n": 0}


def _next() -> int:
    _counter["n"] += 1
    return _counter["n"]


async def make_member(
    session: AsyncSession,
    settings: Settings,
    *,
    first_name: str = "Erika",
    last_name: str | None = None,
    shares: int = 1,
    applied_on: date = date(2025, 1, 2),
    admitted_on: date | None = date(2025, 1, 10),
    paid_cents: int | None = None,
    organisation: str | None = None,
    is_business: bool = False,
    vat_id: str | None = None,
) -> Member:
    """A member admitted on ``admitted_on`` (None leaves an applicant) who paid ``paid_cents`` (default: all);
    a business with ``is_business`` (and ``vat_id``)."""
    bind_actor(session, BOARD)
    n = _next()
    member = await members.apply(
        session,
        actor=BOARD,
        settings=settings,
        application=MemberApplication(
            first_name=first_name,
            last_name=last_name or f"Muster{n}",
            organisation=organisation,
            street=f"Teststraße {n}",
            postal_code="10115",
            city="Berlin",
            email=f"member{n}@example.org",
            shares=shares,
            applied_on=applied_on,
            is_business=is_business,
            vat_id=vat_id,
        ),
    )
    if admitted_on is not None:
        await members.admit(session, actor=BOARD, settings=settings, member_id=member.id, admitted_on=admitted_on)
        amount = shares * settings.share_nominal_cents if paid_cents is None else paid_cents
        if amount:
            await members.record_share_payment(
                session, actor=BOARD, settings=settings, member_id=member.id, amount_cents=amount, paid_on=admitted_on
            )
    return member


async def make_plan(
    session: AsyncSession,
    *,
    min_term_months: int = 24,
    notice_months: int = 1,
    fee_cents: int = 3990,
    setup_fee_cents: int = 0,
    includes_phone: bool = False,
) -> Plan:
    bind_actor(session, BOARD)
    n = _next()
    return await contracts.create_plan(
        session,
        actor=BOARD,
        data=PlanCreate(
            code=f"plan-{n}",
            name=f"Plan {n}",
            down_kbps=100_000,
            up_kbps=40_000,
            monthly_fee_cents=fee_cents,
            setup_fee_cents=setup_fee_cents,
            min_term_months=min_term_months,
            notice_months=notice_months,
            includes_phone=includes_phone,
        ),
    )


async def make_contract(
    session: AsyncSession,
    settings: Settings,
    *,
    member: Member,
    plan: Plan | None = None,
    ordered_on: date = date(2025, 2, 1),
    active_from: date | None = date(2025, 2, 15),
) -> Contract:
    bind_actor(session, BOARD)
    plan = plan or await make_plan(session)
    premises = await contracts.create_premises(
        session,
        actor=BOARD,
        data=PremisesCreate(
            member_id=member.id, street=member.street, postal_code=member.postal_code, city=member.city
        ),
    )
    contract = await contracts.order(
        session,
        actor=BOARD,
        settings=settings,
        member_id=member.id,
        premises_id=premises.id,
        plan_id=plan.id,
        ordered_on=ordered_on,
    )
    if active_from is not None:
        contract = await contracts.transition(
            session,
            actor=BOARD,
            settings=settings,
            contract_id=contract.id,
            to=ContractStatus.ACTIVE,
            effective_on=active_from,
        )
    return contract


async def make_user(
    session: AsyncSession, *, role: Role, member: Member | None = None, email: str | None = None
) -> User:
    bind_actor(session, BOARD)
    n = _next()
    return await auth_service.create_user(
        session,
        email=email or f"user{n}@example.org",
        password=PASSWORD,
        role=role,
        display_name=f"User {n}",
        member_id=member.id if member else None,
    )


async def token_for(client: httpx.AsyncClient, user: User) -> dict[str, str]:
    """Log in through the real token endpoint and return the Authorization header."""
    response = await client.post("/api/v1/auth/token", data={"username": user.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def make_applicant(
    session: AsyncSession,
    settings: Settings,
    *,
    first_name: str = "Max",
    last_name: str | None = None,
    organisation: str | None = None,
    shares: int = 1,
    instalments: int = 1,
    applied_on: date = date(2025, 1, 2),
) -> Member:
    """An application for membership that the board has not decided on yet."""
    bind_actor(session, BOARD)
    n = _next()
    return await members.apply(
        session,
        actor=BOARD,
        settings=settings,
        application=MemberApplication(
            first_name=first_name,
            last_name=last_name or f"Antrag{n}",
            organisation=organisation,
            street=f"Antragsweg {n}",
            postal_code="14467",
            city="Potsdam",
            email=f"applicant{n}@example.org",
            shares=shares,
            instalments=instalments,
            applied_on=applied_on,
        ),
    )


async def make_premises(session: AsyncSession, *, member: Member, street: str | None = None) -> Premises:
    """An address of ``member`` where a line can be delivered."""
    bind_actor(session, BOARD)
    return await contracts.create_premises(
        session,
        actor=BOARD,
        data=PremisesCreate(
            member_id=member.id,
            street=street or member.street,
            postal_code=member.postal_code,
            city=member.city,
        ),
    )


OPERATOR = Actor(user_id=None, label="test-operator", role=Role.OPERATOR, channel=Channel.SYSTEM)


async def make_router(
    session: AsyncSession,
    *,
    name: str | None = None,
    netns: str | None = None,
    nas_ip: str | None = None,
    ipv4_pool: str | None = None,
    ipv6_pool: str | None = "auto",
    portal_ipv4: str = "198.51.100.80",
    coa_port: int = 3799,
) -> AccessRouter:
    """An access router with an IPv4 pool (a /24 of its own unless given) and a /48 of /56 prefixes."""
    bind_actor(session, OPERATOR)
    n = _next()
    router = await network.create_router(
        session,
        actor=OPERATOR,
        data=RouterCreate(
            name=name or f"bng-{n}",
            netns=netns,
            nas_ip=nas_ip or f"127.1.{n // 250 % 250}.{n % 250 + 2}",
            portal_ipv4=portal_ipv4,
            coa_port=coa_port,
        ),
    )
    v4 = ipv4_pool or f"100.{64 + n // 250 % 64}.{n % 250}.0/24"
    await network.create_pool(
        session, actor=OPERATOR, router_id=router.id, data=PoolCreate(family=PoolFamily.IPV4, cidr=v4)
    )
    if ipv6_pool:
        v6 = f"2001:db8:{n % 65536:x}::/48" if ipv6_pool == "auto" else ipv6_pool
        await network.create_pool(
            session,
            actor=OPERATOR,
            router_id=router.id,
            data=PoolCreate(family=PoolFamily.IPV6, cidr=v6, delegated_length=56),
        )
    return router


async def make_number_block(
    session: AsyncSession,
    *,
    first_number: str,
    last_number: str,
    name: str | None = None,
    quarantine_days: int = 90,
) -> NumberBlock:
    """A block of the coop's telephone numbers, from ``first_number`` to ``last_number`` (any notation)."""
    bind_actor(session, OPERATOR)
    return await voip.create_block(
        session,
        actor=OPERATOR,
        data=NumberBlockCreate(
            name=name or f"block-{_next()}",
            first_number=first_number,
            last_number=last_number,
            quarantine_days=quarantine_days,
        ),
    )


def debit(account: str, cents: int, *, member: Member | int | None = None) -> LineDraft:
    """A debit line on the account with code ``account`` (for ``post_entry``)."""
    member_id = member.id if isinstance(member, Member) else member
    return LineDraft(account=account, debit_cents=cents, member_id=member_id)


def credit(account: str, cents: int, *, member: Member | int | None = None) -> LineDraft:
    """A credit line on the account with code ``account`` (for ``post_entry``)."""
    member_id = member.id if isinstance(member, Member) else member
    return LineDraft(account=account, credit_cents=cents, member_id=member_id)


def entry_draft(
    *lines: LineDraft,
    entry_date: date = date(2026, 1, 15),
    text: str = "Testbuchung",
    source_kind: SourceKind = SourceKind.MANUAL,
    source_id: str | None = None,
) -> EntryDraft:
    """An entry to post; a fresh manual document number unless ``source_id`` is given."""
    return EntryDraft(
        entry_date=entry_date,
        text=text,
        source_kind=source_kind,
        source_id=source_id or f"T{_next()}",
        lines=list(lines),
    )


async def post_entry(
    session: AsyncSession,
    *lines: LineDraft,
    entry_date: date = date(2026, 1, 15),
    text: str = "Testbuchung",
    source_id: str | None = None,
) -> JournalEntry:
    """Post a manual entry of ``lines`` through the ledger service, as the board."""
    bind_actor(session, BOARD)
    draft = entry_draft(*lines, entry_date=entry_date, text=text, source_id=source_id)
    return await ledger.post(session, actor=BOARD, entry=draft)
