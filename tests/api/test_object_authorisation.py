"""Object-level authorisation, generated from the OpenAPI document: every route that takes an id is tried
as member anna with member ben's ids. Nothing of ben's may come back; reads say 404, as for ids that
do not exist, wherever anna may read her own object of that kind."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.kit.actor import Role
from app.kit.time import utcnow
from app.members import service as members
from app.settings import Settings
from billing.dividends import service as dividends
from billing.dividends.schemas import DecisionCreate
from billing.invoices import billrun
from billing.invoices import repository as invoice_repository
from billing.ledger import repository as ledger
from billing.ledger.repository import EntryFilter
from network.health import service as health
from network.health.models import ConditionKind, HealthState, Incident
from network.health.schemas import Credentials, DeviceCreate
from provisioning import repository
from provisioning.models import JobKind
from tests.builders import BOARD, OPERATOR, make_contract, make_member, make_router, make_user, token_for

# A valid body per request schema, so that a refusal cannot come from validation instead of authorisation.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "ContactUpdate": {"phone": "+49 30 1234567"},
    "Admission": {},
    "Rejection": {},
    "PayOutRequest": {},
    "RefundIssue": {},
    "RefundPercentUpdate": {"refund_percent": "1.5"},
    "CreditPayback": {},
    "ShareSubscriptionCreate": {"shares": 1},
    "SubscriptionApproval": {},
    "SharePaymentCreate": {"amount_cents": 100},
    "ShareTransferCreate": {"to_member_id": 1, "shares": 1},
    "ShareCancellationCreate": {"shares": 1},
    "MembershipNotice": {},
    "LeavingRecord": {"reason": "death"},
    "PlanUpdate": {"name": "Renamed"},
    "Transition": {},
    "Cancellation": {},
    "ProvisionRequest": {"router_id": 1},
    "PoolCreate": {"family": "ipv4", "cidr": "100.127.0.0/24"},
    "ContractPlanChange": {"plan_id": 1},
    "DeviceUpdate": {"poll_interval_s": 600},
    "LinePortSet": {"line_id": 1, "if_index": 1},
    "IncidentCommentCreate": {"text": "looked at it"},
    "ReversalCreate": {"reversed_on": "2026-01-31"},
    "PreferenceUpdate": {"choice": "capital"},
    "ExemptionOrderCreate": {"calendar_year": 2026, "allowance_cents": 100},
    "CreditNoteCreate": {"reason": "Storno"},
    "MandateCreate": {"debtor_name": "Anna Annenberg", "iban": "DE89370400440532013000"},
    "QueueAssignment": {"member_id": 1},
    "NotOurs": {"note": "not ours"},
}
# Catalogue data every logged-in user may read.
PUBLIC_KINDS = {"plan_id"}


def id_operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    operations = []
    for path, item in openapi["paths"].items():
        if "{" not in path:
            continue
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                operations.append((method, path, operation))
    return operations


def body_for(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    ref = content["schema"].get("$ref") or content["schema"].get("anyOf", [{}])[0].get("$ref", "")
    name = ref.rsplit("/", 1)[-1]
    assert name in VALID_BODIES, f"add a valid example body for request schema {name!r} to VALID_BODIES"
    return VALID_BODIES[name]


@pytest.fixture
async def two_members(db_session: AsyncSession, settings: Settings) -> dict[str, Any]:
    anna = await make_member(db_session, settings, first_name="Anna", last_name="Annenberg", shares=2)
    ben = await make_member(db_session, settings, first_name="Ben", last_name="Bensheimer", shares=3)
    router = await make_router(db_session)  # lines of the contracts below land on it
    annas_contract = await make_contract(db_session, settings, member=anna)
    bens_contract = await make_contract(db_session, settings, member=ben)
    bind_actor(db_session, BOARD)
    annas_subscription = await members.subscribe_shares(
        db_session, actor=BOARD, settings=settings, member_id=anna.id, shares=1, subscribed_on=date(2025, 6, 1)
    )
    bens_subscription = await members.subscribe_shares(
        db_session, actor=BOARD, settings=settings, member_id=ben.id, shares=1, subscribed_on=date(2025, 6, 1)
    )
    annas_line = await repository.line_by_contract(db_session, annas_contract.id)
    bens_line = await repository.line_by_contract(db_session, bens_contract.id)
    assert annas_line is not None and bens_line is not None
    annas_job = await repository.pending_job(db_session, line_id=annas_line.id, kind=JobKind.ROUTER_SYNC)
    bens_job = await repository.pending_job(db_session, line_id=bens_line.id, kind=JobKind.ROUTER_SYNC)
    assert annas_job is not None and bens_job is not None
    annas_entry = (await ledger.search_entries(db_session, filters=EntryFilter(member_id=anna.id), limit=1))[0][0]
    bens_entry = (await ledger.search_entries(db_session, filters=EntryFilter(member_id=ben.id), limit=1))[0][0]
    run = await billrun.preview(db_session, actor=BOARD, settings=settings, period="2026-10")
    run = await billrun.issue(db_session, actor=BOARD, settings=settings, run_id=run.id)
    invoices, _ = await invoice_repository.search(
        db_session, actor=BOARD, filters=invoice_repository.InvoiceFilter(bill_run_id=run.id), limit=10, offset=0
    )
    invoice_of = {invoice.member_id: invoice.id for invoice in invoices}
    anna_user = await make_user(db_session, role=Role.MEMBER, member=anna)
    ben_user = await make_user(db_session, role=Role.MEMBER, member=ben)
    # Network devices and incidents belong to no member: members are refused them all.
    device = await health.create_device(
        db_session,
        actor=OPERATOR,
        settings=settings,
        data=DeviceCreate(
            name="dslam-authz", kind="dslam", host="192.0.2.77", credentials=Credentials(version="v2c", community="c")
        ),
    )
    incident = Incident(
        kind=ConditionKind.DEVICE_UNREACHABLE,
        severity=HealthState.DOWN,
        device_id=device.id,
        if_index=0,
        summary="dslam-authz: no SNMP answer",
        started_at=utcnow(),
    )
    db_session.add(incident)
    await db_session.flush()
    # A dividend decision belongs to no member: members are refused it; statements are per member and year.
    decision = await dividends.enter_decision(
        db_session,
        actor=BOARD,
        settings=settings,
        data=DecisionCreate(business_year=2025, rate_percent=Decimal("3"), decided_on=date(2026, 6, 15)),
    )
    return {
        "anna_user": anna_user,
        "own": {
            "member_id": anna.id,
            "contract_id": annas_contract.id,
            "premises_id": annas_contract.premises_id,
            "subscription_id": annas_subscription.id,
            "user_id": anna_user.id,
            "plan_id": annas_contract.plan_id,
            "router_id": router.id,
            "line_id": annas_line.id,
            "job_id": annas_job.id,
            "device_id": device.id,
            "incident_id": incident.id,
            "entry_id": annas_entry.id,
            "decision_id": decision.id,
            "year": 2025,
            "invoice_id": invoice_of[anna.id],
            "run_id": run.id,
            # Bank transactions and SEPA files belong to the coop's account, and members are refused them all.
            "transaction_id": 1,
            "file_id": 1,
        },
        "foreign": {
            "member_id": ben.id,
            "contract_id": bens_contract.id,
            "premises_id": bens_contract.premises_id,
            "subscription_id": bens_subscription.id,
            "user_id": ben_user.id,
            "plan_id": bens_contract.plan_id,
            "router_id": router.id,
            "line_id": bens_line.id,
            "job_id": bens_job.id,
            "device_id": device.id,
            "incident_id": incident.id,
            "entry_id": bens_entry.id,
            "decision_id": decision.id,
            "year": 2025,
            "invoice_id": invoice_of[ben.id],
            "run_id": run.id,
            # Bank transactions and SEPA files belong to the coop's account, and members are refused them all.
            "transaction_id": 1,
            "file_id": 1,
        },
        "ben_markers": ["Bensheimer", ben.email],
    }


def fill(path: str, ids: dict[str, int]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in ids, f"no test object for path parameter {name!r}: add one to the two_members fixture"
        return str(ids[name])

    return re.sub(r"\{(\w+)\}", replace, path)


async def test_every_id_route_hides_another_members_objects(
    client: httpx.AsyncClient, two_members: dict[str, Any]
) -> None:
    headers = await token_for(client, two_members["anna_user"])
    openapi = (await client.get("/api/v1/openapi.json")).json()
    operations = id_operations(openapi)
    assert len(operations) >= 20, "the API should have its id-taking routes in the OpenAPI document"

    failures = []
    for method, path, operation in operations:
        params = set(re.findall(r"\{(\w+)\}", path))
        body = body_for(operation)
        foreign = await client.request(method, fill(path, two_members["foreign"]), headers=headers, json=body)
        if params & PUBLIC_KINDS and method == "get":
            continue
        leaked = [m for m in two_members["ben_markers"] if m in foreign.text]
        if foreign.status_code not in (403, 404) or leaked:
            failures.append(f"{method.upper()} {path}: {foreign.status_code} {leaked or foreign.text[:120]}")
            continue
        if foreign.headers.get("content-type", "").split(";")[0] != "application/problem+json":
            failures.append(f"{method.upper()} {path}: refusal is not problem details")
        if method == "get":
            own = await client.get(fill(path, two_members["own"]), headers=headers)
            # Where anna can read her own object of this kind, ben's must look like it does not exist.
            if own.status_code == 200 and foreign.status_code != 404:
                failures.append(f"GET {path}: own object 200 but foreign {foreign.status_code}, expected 404")
    assert not failures, "\n".join(failures)


async def test_member_reads_of_own_objects_succeed(client: httpx.AsyncClient, two_members: dict[str, Any]) -> None:
    headers = await token_for(client, two_members["anna_user"])
    own = two_members["own"]

    for path in (
        f"/api/v1/members/{own['member_id']}",
        f"/api/v1/members/{own['member_id']}/shares",
        f"/api/v1/contracts/{own['contract_id']}",
        f"/api/v1/contracts/{own['contract_id']}/events",
        f"/api/v1/premises/{own['premises_id']}",
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, f"{path}: {response.status_code}"


async def test_member_lists_contain_only_own_objects(client: httpx.AsyncClient, two_members: dict[str, Any]) -> None:
    headers = await token_for(client, two_members["anna_user"])

    contracts = (await client.get("/api/v1/contracts", headers=headers)).json()
    premises = (await client.get("/api/v1/premises", headers=headers)).json()
    members_list = await client.get("/api/v1/members", headers=headers)

    assert {c["member_id"] for c in contracts["items"]} == {two_members["own"]["member_id"]}
    assert {p["member_id"] for p in premises["items"]} == {two_members["own"]["member_id"]}
    assert members_list.status_code == 403
