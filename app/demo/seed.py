"""A believable small coop: three plans, about sixty members, contracts in every state, a year of history.

Everything goes through the services, so the audit log, share history and contract events are real.
The random choices are seeded: the same day gives the same coop.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.auth import service as auth_service
from app.contracts import service as contracts
from app.contracts.models import ContractStatus
from app.contracts.schemas import PlanCreate, PremisesCreate
from app.kit.actor import Actor, Channel, Role
from app.kit.time import local_today
from app.members import service as members
from app.members.models import Member
from app.members.schemas import MemberApplication
from app.settings import Settings
from billing.payments import mandates
from billing.payments.schemas import MandateCreate
from network import service as network
from network.health import service as health
from network.health.models import DeviceKind, SnmpVersion
from network.health.schemas import Credentials, DeviceCreate, LinePortSet
from network.models import PoolFamily
from network.schemas import PoolCreate, RouterCreate
from network.snmp import Community, Target, poll_device
from provisioning import service as provisioning
from voip import rating
from voip import service as voip
from voip.models import CallDetailRecord
from voip.schemas import NumberBlockCreate, RateCreate

DEMO_IBAN = "DE89370400440532013000"  # the well-known example IBAN of the German banks
DEMO_PASSWORD = "demo-pass"  # noqa: S105 - documented in the README; demo data only

STAFF = [
    ("board@example.org", Role.BOARD, "Berta Vorstand"),
    ("operator@example.org", Role.OPERATOR, "Olaf Betrieb"),
    ("admin@example.org", Role.ADMIN, "Ada Admin"),
]

PLANS = [
    PlanCreate(
        code="fiber-100",
        name="Glasfaser 100",
        down_kbps=100_000,
        up_kbps=40_000,
        monthly_fee_cents=3990,
        setup_fee_cents=4900,
        min_term_months=24,
        notice_months=1,
        includes_phone=False,
    ),
    PlanCreate(
        code="fiber-300",
        name="Glasfaser 300 (12 Monate)",
        down_kbps=300_000,
        up_kbps=100_000,
        monthly_fee_cents=4990,
        setup_fee_cents=4900,
        min_term_months=12,
        notice_months=1,
        includes_phone=True,
    ),
    PlanCreate(
        code="fiber-1000",
        name="Glasfaser 1000 + Telefon",
        down_kbps=1_000_000,
        up_kbps=500_000,
        monthly_fee_cents=6990,
        setup_fee_cents=0,
        min_term_months=24,
        notice_months=1,
        includes_phone=True,
    ),
]

FIRST = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hannes",
    "Ida",
    "Jonas",
    "Katrin",
    "Lukas",
    "Mara",
    "Niklas",
    "Olga",
    "Paul",
    "Quirin",
    "Rosa",
    "Simon",
    "Tilda",
    "Uwe",
    "Vera",
    "Wolfgang",
    "Xenia",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Braun",
    "Zimmermann",
    "Krüger",
]
STREETS = [
    "Lindenstraße",
    "Am Anger",
    "Dorfstraße",
    "Bahnhofstraße",
    "Mühlenweg",
    "Kirchplatz",
    "Gartenweg",
    "Feldstraße",
]
TOWNS = [("14467", "Potsdam"), ("14469", "Potsdam"), ("14532", "Kleinmachnow"), ("14513", "Teltow")]
# Two members buy as businesses, so the demo shows invoices with a VAT ID and the XRechnung export. Their VAT IDs
# are made up in the DE99999999x range the coop's own demo VAT ID is from (with a valid check digit).
BUSINESSES = {4: ("Tischlerei Schulz GmbH", "DE999999987"), 7: ("Hoffmann Architekten PartG", "DE999999979")}


@dataclass
class SeedReport:
    members: int
    users: int
    contracts: int


async def seed_network(session: AsyncSession, *, settings: Settings) -> None:
    """The demo's access router: the NAS on 127.0.0.1 (so FreeRADIUS on this machine answers it), with
    CGNAT-range IPv4 and documentation-range IPv6 pools. Lines of activated contracts land on it."""
    operator = Actor(user_id=None, label="demo-seed (operator)", role=Role.OPERATOR, channel=Channel.CLI)
    router = await network.create_router(
        session,
        actor=operator,
        data=RouterCreate(
            name="bng-potsdam-1",
            netns=settings.demo_router_netns,
            nas_ip="127.0.0.1",
            portal_ipv4="198.51.100.80",
        ),
    )
    await network.create_pool(
        session,
        actor=operator,
        router_id=router.id,
        data=PoolCreate(family=PoolFamily.IPV4, cidr="100.64.0.0/20", gateway="100.64.0.1"),
    )
    await network.create_pool(
        session,
        actor=operator,
        router_id=router.id,
        data=PoolCreate(family=PoolFamily.IPV6, cidr="2001:db8:100::/40", delegated_length=56),
    )


async def seed_telephony(session: AsyncSession) -> None:
    """The demo's number block (+49 331 555 1000 to 1999), a small rate table and the minutes the phone
    plans include: activated contracts on plans with a phone get a line, a number and a SIP login."""
    operator = Actor(user_id=None, label="demo-seed (operator)", role=Role.OPERATOR, channel=Channel.CLI)
    await voip.create_block(
        session,
        actor=operator,
        data=NumberBlockCreate(name="Potsdam 555", first_number="+49 331 555 1000", last_number="+49 331 555 1999"),
    )
    for prefix, name, cents, first, following, included in (
        ("49", "Deutschland Festnetz", "1.9", 60, 60, True),
        ("4915", "Deutschland Mobil", "9.9", 60, 1, False),
        ("4916", "Deutschland Mobil", "9.9", 60, 1, False),
        ("4917", "Deutschland Mobil", "9.9", 60, 1, False),
        ("43", "Österreich", "4.9", 60, 60, False),
        ("1", "USA/Kanada", "2.9", 1, 1, False),
    ):
        await rating.add_rate(
            session,
            data=RateCreate(
                prefix=prefix,
                name=name,
                price_per_minute_cents=Decimal(cents),
                first_increment_s=first,
                next_increment_s=following,
                uses_included_minutes=included,
            ),
        )
    await rating.set_included_minutes(session, plan_code="fiber-1000", minutes=1000)


# The running DSLAM of deploy/snmpsim/data/dslam-vdsl2-live.snmprec, which `make services` serves here.
DEMO_DSLAM_PORT = 1162
DEMO_DSLAM_COMMUNITY = "dslam-vdsl2-live"
# Its good ports 1-44 for the oldest lines; the newest two get a noisy port (45) and one without a modem in
# sync (47), so the demo shows an impaired and a broken line.
DEMO_DSLAM_GOOD_PORTS = range(1, 45)
DEMO_DSLAM_BAD_PORTS = (45, 47)


async def _simulator_answers(port: int) -> bool:
    sample = await poll_device(
        Target(
            host="127.0.0.1",
            port=port,
            credentials=Community(DEMO_DSLAM_COMMUNITY),
            timeout_s=0.5,
            retries=0,
            deadline_s=2,
        )
    )
    return sample.reachable


async def seed_health(session: AsyncSession, *, settings: Settings) -> None:
    """The demo's DSLAM (the simulated one `make services` runs) with the demo's lines on its ports. When
    no simulator answers (``make run``), it is added switched off, so nobody's line turns "down" for want of
    a simulator; switch it on with ``PATCH /api/v1/devices/{id}`` once ``make services`` runs."""
    operator = Actor(user_id=None, label="demo-seed (operator)", role=Role.OPERATOR, channel=Channel.CLI)
    dslam = await health.create_device(
        session,
        actor=operator,
        settings=settings,
        data=DeviceCreate(
            name="dslam-lab-1",
            kind=DeviceKind.DSLAM,
            host="127.0.0.1",
            port=DEMO_DSLAM_PORT,
            credentials=Credentials(version=SnmpVersion.V2C, community=DEMO_DSLAM_COMMUNITY),
            poll_interval_s=60,
        ),
    )
    if not await _simulator_answers(DEMO_DSLAM_PORT):
        dslam.is_active = False
    lines = await provisioning.live_line_ids(session)
    good, bad = (lines[:-2], lines[-2:]) if len(lines) > 2 else (lines, [])
    ports = [*zip(good, DEMO_DSLAM_GOOD_PORTS, strict=False), *zip(bad, DEMO_DSLAM_BAD_PORTS, strict=False)]
    for line_id, if_index in ports:
        await health.set_line_port(
            session, actor=operator, device_id=dslam.id, data=LinePortSet(line_id=line_id, if_index=if_index)
        )


DEMO_CALLS = (("+4933155512", 185), ("+491701234567", 42), ("+43122334455", 610), ("+4930901820", 75))


async def seed_calls(session: AsyncSession, *, settings: Settings, today: date) -> int:
    """Last month's calls of the first phone lines, as Asterisk writes them into ``cdr``, rated: so the next
    bill run has a telephony line to bill. Returns how many calls were rated."""
    staff = Actor(user_id=None, label="demo-seed (operator)", role=Role.OPERATOR, channel=Channel.CLI)
    first_of_month = date(today.year, today.month, 1)
    last_month = first_of_month - timedelta(days=20)
    for n, line in enumerate((await voip.phone_lines(session, actor=staff))[:8]):
        for k, (dialled, seconds) in enumerate(DEMO_CALLS):
            answer = datetime.combine(last_month + timedelta(days=k), time(10 + n % 8, 5 * k), tzinfo=UTC)
            session.add(
                CallDetailRecord(
                    accountcode=line.extension,
                    src=line.number,
                    dst=dialled,
                    start=answer - timedelta(seconds=4),
                    answer=answer,
                    end=answer + timedelta(seconds=seconds),
                    billsec=seconds,
                    duration=seconds + 4,
                    disposition="ANSWERED",
                    uniqueid=f"demo-{line.extension}-{k}",
                )
            )
    await session.flush()
    return (await rating.rate_unrated(session, zone=settings.timezone)).rated


async def is_empty(session: AsyncSession) -> bool:
    return (await session.execute(sa.select(sa.func.count()).select_from(Member))).scalar_one() == 0


async def seed(
    session: AsyncSession, *, settings: Settings, members_count: int = 60, today: date | None = None
) -> SeedReport:
    """Create the demo coop in the given session (the caller commits)."""
    today = today or local_today(settings.timezone)
    rng = random.Random(2026)
    system = Actor(user_id=None, label="demo-seed", role=Role.ADMIN, channel=Channel.CLI)
    bind_actor(session, system)
    board = Actor(user_id=None, label="demo-seed (board)", role=Role.BOARD, channel=Channel.CLI)

    users = 0
    for email, role, name in STAFF:
        await auth_service.create_user(session, email=email, password=DEMO_PASSWORD, role=role, display_name=name)
        users += 1
    plans = [await contracts.create_plan(session, actor=board, data=p) for p in PLANS]
    await seed_network(session, settings=settings)
    await seed_telephony(session)

    start = today - timedelta(days=400)
    contracts_made = 0
    ben: Member | None = None
    for index in range(members_count):
        first = FIRST[index % len(FIRST)]
        last = LAST[(index * 7) % len(LAST)]
        postal, town = TOWNS[index % len(TOWNS)]
        applied = start + timedelta(days=rng.randint(0, 330))
        if index < 2:  # anna and ben: long-standing members with running contracts
            applied = start + timedelta(days=10 + index * 5)
        if index in (10, 11, 12):  # joined the year before last, have left or ended their line since
            applied = today - timedelta(days=620 + index)
        organisation, vat_id = BUSINESSES.get(index, (None, None))
        application = MemberApplication(
            first_name=first,
            last_name=last,
            organisation=organisation,
            is_business=vat_id is not None,
            vat_id=vat_id,
            street=f"{STREETS[index % len(STREETS)]} {rng.randint(1, 80)}",
            postal_code=postal,
            city=town,
            email=f"{first.lower()}@example.org" if index < 2 else f"{first.lower()}.{index}@example.org",
            phone=f"+49 331 {rng.randint(100000, 999999)}",
            shares=rng.choice([1, 1, 2, 3, 5]) if index >= 2 else 2,
            instalments=rng.choice([1, 1, 1, 4]),
            applied_on=applied,
        )
        member = await members.apply(session, actor=board, settings=settings, application=application)
        # A few applications wait for the board; one was turned down.
        if index in (57, 58, 59) and index < members_count:
            continue
        if index == 56:
            await members.reject(
                session, actor=board, settings=settings, member_id=member.id, rejected_on=applied + timedelta(days=9)
            )
            continue
        admitted = min(applied + timedelta(days=rng.randint(3, 20)), today)
        await members.admit(session, actor=board, settings=settings, member_id=member.id, admitted_on=admitted)
        subscription_total = application.shares * settings.share_nominal_cents
        if application.instalments == 1:
            await members.record_share_payment(
                session,
                actor=board,
                settings=settings,
                member_id=member.id,
                amount_cents=subscription_total,
                paid_on=admitted,
                reference="Einzahlung Geschäftsanteile",
            )
        else:
            part = subscription_total // application.instalments
            for n in range(application.instalments):
                paid_on = admitted + timedelta(days=30 * n)
                if paid_on > today:
                    break
                await members.record_share_payment(
                    session,
                    actor=board,
                    settings=settings,
                    member_id=member.id,
                    amount_cents=part,
                    paid_on=paid_on,
                    reference=f"Rate {n + 1}/{application.instalments}",
                )
        if index == 0:
            await auth_service.create_user(
                session,
                email="anna@example.org",
                password=DEMO_PASSWORD,
                role=Role.MEMBER,
                display_name=member.display_name,
                member_id=member.id,
                locale="de",
            )
            users += 1
        if index == 1:
            ben = member
            await auth_service.create_user(
                session,
                email="ben@example.org",
                password=DEMO_PASSWORD,
                role=Role.MEMBER,
                display_name=member.display_name,
                member_id=member.id,
                locale="de",
            )
            users += 1

        premises = await contracts.create_premises(
            session,
            actor=board,
            data=PremisesCreate(member_id=member.id, street=application.street, postal_code=postal, city=town),
        )
        plan = plans[0] if index < 1 else plans[index % 3]
        ordered = admitted
        contract = await contracts.order(
            session,
            actor=board,
            settings=settings,
            member_id=member.id,
            premises_id=premises.id,
            plan_id=plan.id,
            ordered_on=ordered,
        )
        contracts_made += 1
        # Recent orders are still waiting for activation; the rest went live about two weeks later.
        if (today - ordered).days < 14 or index in (50, 51):
            continue
        active_from = ordered + timedelta(days=rng.randint(7, 14))
        await contracts.transition(
            session,
            actor=board,
            settings=settings,
            contract_id=contract.id,
            to=ContractStatus.ACTIVE,
            effective_on=active_from,
        )
        if index in (20, 33, 44):  # unpaid bills: suspended, one of them resumed again
            suspended = min(active_from + timedelta(days=rng.randint(40, 120)), today)
            await contracts.transition(
                session,
                actor=board,
                settings=settings,
                contract_id=contract.id,
                to=ContractStatus.SUSPENDED,
                effective_on=suspended,
                reason="Zahlungsverzug",
            )
            if index == 44:
                await contracts.transition(
                    session,
                    actor=board,
                    settings=settings,
                    contract_id=contract.id,
                    to=ContractStatus.ACTIVE,
                    effective_on=min(suspended + timedelta(days=10), today),
                    reason="Zahlung eingegangen",
                )
        # Moved away: notice given early last year, left at the end of the business year.
        if index in (10, 11) and applied < today - timedelta(days=400):
            notice_on = min(admitted + timedelta(days=30), today)
            member_left = await members.give_notice(
                session, actor=board, settings=settings, member_id=member.id, received_on=notice_on
            )
            assert member_left.leaving_on is not None
            end = min(member_left.leaving_on, today)
            await contracts.transition(
                session,
                actor=board,
                settings=settings,
                contract_id=contract.id,
                to=ContractStatus.TERMINATED,
                effective_on=max(end, active_from),
                reason="Umzug",
            )
        if index == 12:  # cancelled the line last year; it ran to the end of its minimum term
            contract_now = await contracts.cancel(
                session,
                actor=board,
                settings=settings,
                contract_id=contract.id,
                received_on=active_from + timedelta(days=60),
            )
            if contract_now.ends_on and contract_now.ends_on < today:
                await contracts.transition(
                    session,
                    actor=board,
                    settings=settings,
                    contract_id=contract.id,
                    to=ContractStatus.TERMINATED,
                    effective_on=contract_now.ends_on,
                    reason="Kündigung zum Ende der Mindestlaufzeit",
                )
        if index in (15, 16, 17):  # gave notice this year: still members until the year end
            notice_on = today - timedelta(days=rng.randint(5, 40))
            if notice_on >= admitted:
                await members.give_notice(
                    session, actor=board, settings=settings, member_id=member.id, received_on=notice_on
                )
        if index in (25, 26):  # cancelled the line, stays a member
            await contracts.cancel(
                session,
                actor=board,
                settings=settings,
                contract_id=contract.id,
                received_on=max(active_from, today - timedelta(days=20)),
            )
        if index in (30, 31):  # a second line for a holiday flat
            second = await contracts.create_premises(
                session,
                actor=board,
                data=PremisesCreate(
                    member_id=member.id,
                    street="Seeweg 3",
                    postal_code="14548",
                    city="Schwielowsee",
                    unit="Ferienwohnung",
                ),
            )
            extra = await contracts.order(
                session,
                actor=board,
                settings=settings,
                member_id=member.id,
                premises_id=second.id,
                plan_id=plans[1].id,
                ordered_on=active_from,
            )
            contracts_made += 1
            await contracts.transition(
                session,
                actor=board,
                settings=settings,
                contract_id=extra.id,
                to=ContractStatus.ACTIVE,
                effective_on=min(active_from + timedelta(days=10), today),
            )

    # Two members agreed to pass a share on; another subscribed more shares and waits for the board.
    all_members = (
        (await session.execute(sa.select(Member).where(Member.number.is_not(None)).order_by(Member.number)))
        .scalars()
        .all()
    )
    giver, receiver = all_members[5], all_members[6]
    if (await members.shares_overview(session, actor=board, settings=settings, member_id=giver.id)).shares > 1:
        await members.transfer_shares(
            session,
            actor=board,
            settings=settings,
            from_member_id=giver.id,
            to_member_id=receiver.id,
            shares=1,
            effective_on=today - timedelta(days=30),
        )
    await members.subscribe_shares(
        session,
        actor=board,
        settings=settings,
        member_id=all_members[3].id,
        shares=2,
        subscribed_on=today - timedelta(days=3),
    )
    await members.apply_departures(session, settings=settings)
    # Ben pays by SEPA direct debit, so his invoices carry the pre-notification.
    assert ben is not None
    await mandates.give(
        session,
        actor=board,
        settings=settings,
        member_id=ben.id,
        data=MandateCreate(debtor_name=ben.display_name, iban=DEMO_IBAN, signed_on=today - timedelta(days=30)),
    )
    await seed_health(session, settings=settings)
    await seed_calls(session, settings=settings, today=today)
    await session.flush()
    return SeedReport(members=members_count, users=users, contracts=contracts_made)
