"""Reconcile: compare what each real system holds with what the contracts ask for, and repair the difference.

Targets: lines against their contracts, the RADIUS rows FreeRADIUS reads, each managed access router,
the live sessions the NAS reports in radacct, and the PJSIP realtime rows Asterisk reads for the phone
lines (``asterisk``, compared by voip/reconcile.py). Each reconciler reads actual state, computes desired
state, and (unless it is a dry run) applies only the difference. Running it twice changes nothing the
second time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import action
from app.kit.actor import Actor, Role
from app.kit.events import ContractChanged
from network import service as network
from network.models import AccessRouter
from provisioning import desired, repository, service
from provisioning.models import JobKind, LineState
from provisioning.radius import rows
from provisioning.repository import LineView
from voip.reconcile import reconcile_endpoints

log = logging.getLogger("opentelecom.provisioning.reconcile")

TARGETS = ("lines", "radius", "router", "sessions", "asterisk")


@dataclass
class Drift:
    """One difference between a real system and desired state."""

    target: str
    subject: str
    problem: str
    line_id: int | None = None
    repaired: bool = False


@dataclass
class ReconcileReport:
    """What reconcile found and what it changed."""

    dry_run: bool
    checked: dict[str, int] = field(default_factory=dict)
    drift: list[Drift] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(1 for d in self.drift if d.repaired)

    @property
    def converged(self) -> bool:
        return not self.drift

    def summary(self) -> str:
        if self.converged:
            return "Converged: every system matches the contracts; nothing changed."
        if self.dry_run:
            return f"{len(self.drift)} differences found (dry run: nothing changed)."
        return f"{len(self.drift)} differences found, {self.changed} repaired."

    def as_dict(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "converged": self.converged,
            "changed": self.changed,
            "summary": self.summary(),
            "checked": self.checked,
            "unmanaged": self.unmanaged,
            "drift": [asdict(d) for d in self.drift],
        }


async def reconcile(
    session: AsyncSession, *, actor: Actor, dry_run: bool, targets: Sequence[str] = TARGETS
) -> ReconcileReport:
    """Compare and (unless ``dry_run``) repair every target; the caller's transaction commits."""
    actor.require(Role.OPERATOR)
    report = ReconcileReport(dry_run=dry_run)
    if "lines" in targets:
        await _lines(session, report, actor=actor)
    views = await repository.line_views(session)
    if "radius" in targets:
        await _radius(session, report, views)
    if "router" in targets:
        for router in await network.list_routers(session):
            await _router(session, report, router, [v for v in views if v.line.router_id == router.id])
    if "sessions" in targets:
        await _sessions(session, report, views, actor=actor)
    if "asterisk" in targets:
        await _asterisk(session, report)
    return report


async def _lines(session: AsyncSession, report: ReconcileReport, *, actor: Actor) -> None:
    """Lines follow their contracts: a running contract has a line in the matching state."""
    views = await repository.line_views(session)
    report.checked["lines"] = len(views)
    for view in views:
        wanted = service.state_for(view.contract_status)
        if view.line.state in (wanted, LineState.PENDING) or view.line.state is LineState.REMOVED:
            continue
        drift = Drift(
            "lines",
            view.line.username,
            f"line is {view.line.state.value}, contract is {view.contract_status}",
            view.line.id,
        )
        report.drift.append(drift)
        if not report.dry_run:
            await service.on_contracts_changed(
                session, [ContractChanged(view.line.contract_id, None, view.contract_status, False, actor)]
            )
            drift.repaired = True
    for contract_id, number, status in await repository.running_contracts_without_line(session):
        drift = Drift("lines", number, f"{status} contract has no line")
        report.drift.append(drift)
        if not report.dry_run:
            await service.on_contracts_changed(session, [ContractChanged(contract_id, None, status, False, actor)])
            drift.repaired = await repository.line_by_contract(session, contract_id) is not None


async def _radius(session: AsyncSession, report: ReconcileReport, views: list[LineView]) -> None:
    wanted_users = {
        v.line.username: rows.line_rows(
            username=v.line.username,
            password=v.line.password,
            ipv4=v.line.ipv4,
            ipv6_prefix=v.line.ipv6_prefix,
            plan_code=v.plan_code,
        )
        for v in views
        if v.line.state is LineState.ACTIVE
    }
    line_ids = {v.line.username: v.line.id for v in views}
    wanted_groups = {
        rows.plan_group(v.plan_code): rows.plan_group_items(down_kbps=v.down_kbps, up_kbps=v.up_kbps)
        for v in views
        if v.line.state is LineState.ACTIVE
    }
    routers = await network.list_routers(session)
    wanted_nas = {r.nas_ip: rows.NasRow(r.nas_ip, r.name, r.radius_secret) for r in routers}
    actual_users = await rows.read_users(session)
    actual_groups = await rows.read_groups(session)
    actual_nas = await rows.read_nas(session)
    report.checked["radius_users"] = len(wanted_users)
    to_write: list[rows.UserRows] = []
    to_delete: list[str] = []
    for username, want in wanted_users.items():
        have = actual_users.get(username)
        if have != want:
            problem = "rows missing" if have is None else _user_difference(have, want)
            report.drift.append(Drift("radius", username, problem, line_ids.get(username), not report.dry_run))
            to_write.append(want)
    for username in actual_users.keys() - wanted_users.keys():
        problem = "rows of a line that must not log in" if username in line_ids else "rows of an unknown user"
        report.drift.append(Drift("radius", username, problem, line_ids.get(username), not report.dry_run))
        to_delete.append(username)
    for name, items in wanted_groups.items():
        if actual_groups.get(name) != items:
            report.drift.append(Drift("radius", name, "group rate attributes differ", None, not report.dry_run))
            if not report.dry_run:
                await rows.write_group(session, name, items)
    for nasname, nas in wanted_nas.items():
        if actual_nas.get(nasname) != nas:
            report.drift.append(
                Drift("radius", f"nas {nasname}", "NAS client missing or its secret differs", None, not report.dry_run)
            )
            if not report.dry_run:
                await rows.write_nas(session, nas)
    for nasname in actual_nas.keys() - wanted_nas.keys():
        report.drift.append(
            Drift("radius", f"nas {nasname}", "NAS client that is no router of ours", None, not report.dry_run)
        )
        if not report.dry_run:
            await rows.delete_nas(session, nasname)
    if not report.dry_run:
        with action(session, "reconcile.radius"):
            await rows.delete_users(session, to_delete)
            await rows.write_users(session, to_write)


def _user_difference(have: rows.UserRows, want: rows.UserRows) -> str:
    problems = []
    if have.check != want.check:
        problems.append("password row differs")
    if have.reply != want.reply:
        problems.append("address rows differ")
    if have.groups != want.groups:
        problems.append("plan group differs")
    return ", ".join(problems)


async def _router(session: AsyncSession, report: ReconcileReport, router: AccessRouter, views: list[LineView]) -> None:
    if router.netns is None:
        report.unmanaged.append(router.name)
        return
    gateways = await network.ipv4_gateways(session, router_id=router.id)
    specs = [desired.line_spec(v, gateways, router=router) for v in views if v.line.state in desired.ON_ROUTER]
    by_ifname = {v.line.ifname: v.line.id for v in views}
    report.checked[f"router {router.name}"] = len(specs)
    try:
        async with desired.router_driver(router) as driver:
            found = await (driver.plan(specs, prune=True) if report.dry_run else driver.apply(specs, prune=True))
    except Exception as error:  # noqa: BLE001 - one unreachable router must not hide the others' drift
        log.warning("reconcile: router %s unreachable: %s", router.name, error)
        report.drift.append(Drift("router", router.name, f"router unreachable: {type(error).__name__}: {error}"))
        return
    for ifname, problems in found.drift.items():
        # A line the kernel refused is not repaired, although the rest of the router was.
        repaired = not report.dry_run and ifname not in found.failed
        for problem in problems:
            report.drift.append(Drift("router", f"{router.name}/{ifname}", problem, by_ifname.get(ifname), repaired))
    for ifname, refusals in found.failed.items():
        log.warning("reconcile: router %s refused %s: %s", router.name, ifname, "; ".join(refusals))
        for refusal in refusals:
            report.drift.append(
                Drift("router", f"{router.name}/{ifname}", f"refused: {refusal}", by_ifname.get(ifname))
            )
    listed = set(found.drift)
    for ifname in [*found.created, *found.updated, *found.removed]:
        if ifname not in listed:
            report.drift.append(
                Drift("router", f"{router.name}/{ifname}", "differs", by_ifname.get(ifname), not report.dry_run)
            )


async def _sessions(session: AsyncSession, report: ReconcileReport, views: list[LineView], *, actor: Actor) -> None:
    """A live session of a line that must not be online is ended (Disconnect, through the outbox)."""
    lines = {v.line.username: v.line for v in views}
    live = await repository.open_sessions(session)
    report.checked["sessions"] = len(live)
    for acct in live:
        line = lines.get(acct.username or "")
        if line is not None and line.state is LineState.ACTIVE:
            continue
        subject = f"{acct.username} at {acct.nasipaddress}"
        if line is None:
            report.drift.append(Drift("sessions", subject, "live session of an unknown user (not ours to end)"))
            continue
        report.drift.append(
            Drift("sessions", subject, f"live session of a {line.state.value} line", line.id, not report.dry_run)
        )
        if not report.dry_run:
            await service.enqueue(session, line, JobKind.DISCONNECT, requested_by=f"reconcile:{actor.label}")


async def _asterisk(session: AsyncSession, report: ReconcileReport) -> None:
    """Phone lines' endpoint, AOR and auth rows in Asterisk's realtime tables (voip/reconcile.py)."""
    found = await reconcile_endpoints(session, dry_run=report.dry_run)
    report.checked["phone_lines"] = found.checked
    report.unmanaged.extend(found.unmanaged)
    # line_id links to a provisioning line; a phone line is named by its extension in the subject.
    report.drift.extend(Drift("asterisk", f.subject, f.problem, None, f.repaired) for f in found.findings)
