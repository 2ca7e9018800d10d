"""The provisioning worker: takes due outbox jobs and carries them out against the router and the NAS.

Jobs are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` inside the worker's transaction and marked
done in that same transaction. A worker that dies mid-batch leaves its jobs locked only until
PostgreSQL ends its connection; the jobs then return to the queue and the next worker does them. What a
job does is idempotent (the router converges to desired state; a disconnect of a gone session is a
success), so work that had reached the outside world before the crash is not duplicated by the retry.
Any number of workers can run against one PostgreSQL; the embedded SQLite default runs one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.time import utcnow
from app.settings import Settings
from network import service as network
from network.models import AccessRouter
from provisioning import desired, repository
from provisioning.models import EventOutcome, JobKind, JobStatus, LineState, ProvisioningJob
from provisioning.radius import coa
from provisioning.repository import LineView
from provisioning.service import record

log = logging.getLogger("opentelecom.provisioning.worker")

OUTCOME = {
    coa.Verdict.ACK: EventOutcome.ACK,
    coa.Verdict.NAK: EventOutcome.NAK,
    coa.Verdict.TIMEOUT: EventOutcome.TIMEOUT,
    coa.Verdict.ERROR: EventOutcome.ERROR,
}


def backoff(attempt: int, settings: Settings) -> timedelta:
    """Exponential backoff after the ``attempt``-th failure, capped at five minutes."""
    return timedelta(seconds=min(settings.provisioning_backoff_s * 2 ** (attempt - 1), 300))


def _finish(job: ProvisioningJob) -> None:
    job.status = JobStatus.DONE
    job.finished_at = utcnow()
    job.last_error = None


def _fail(session: AsyncSession, job: ProvisioningJob, *, settings: Settings, detail: str) -> None:
    """Count a failed attempt: retry later with backoff, or give up and raise it to the operator."""
    job.attempts += 1
    job.last_error = detail[:500]
    if job.attempts >= settings.provisioning_max_attempts:
        job.status = JobStatus.FAILED
        job.finished_at = utcnow()
        record(
            session,
            job.line_id,
            job_id=job.id,
            step=job.kind.value,
            outcome=EventOutcome.GAVE_UP,
            detail=f"gave up after {job.attempts} attempts: {detail}; needs an operator",
        )
        log.error("job %s (%s, line %s) failed for good: %s", job.id, job.kind, job.line_id, detail)
    else:
        job.run_after = utcnow() + backoff(job.attempts, settings)


async def run_batch(session: AsyncSession, *, settings: Settings, limit: int | None = None) -> int:
    """Claim due jobs and carry them out; returns how many were claimed. The caller commits."""
    jobs = await repository.claim_jobs(session, now=utcnow(), limit=limit or settings.provisioning_batch)
    if not jobs:
        return 0
    views = {
        view.line.id: view
        for view in await repository.line_views(session, line_ids=sorted({job.line_id for job in jobs}))
    }
    routers = await network.routers_by_id(session, {job.router_id for job in jobs})
    by_router: dict[int, list[ProvisioningJob]] = defaultdict(list)
    nas_jobs: list[ProvisioningJob] = []
    for job in jobs:
        if job.kind is JobKind.ROUTER_SYNC:
            by_router[job.router_id].append(job)
        else:
            nas_jobs.append(job)
    for router_id, router_jobs in by_router.items():
        await _sync_router(session, routers[router_id], router_jobs, views, settings=settings)
    if nas_jobs:
        await _nas_jobs(session, nas_jobs, views, routers, settings=settings)
    await session.flush()
    return len(jobs)


async def _sync_router(
    session: AsyncSession,
    router: AccessRouter,
    jobs: Sequence[ProvisioningJob],
    views: dict[int, LineView],
    *,
    settings: Settings,
) -> None:
    """Converge the jobs' lines on one router in a single batch."""
    if router.netns is None:
        for job in jobs:
            record(
                session,
                job.line_id,
                job_id=job.id,
                step="router",
                outcome=EventOutcome.OK,
                detail=f"{router.name} is configured by hand; nothing pushed",
            )
            _finish(job)
        return
    lines = [views[job.line_id] for job in jobs]
    gateways = await network.ipv4_gateways(session, router_id=router.id)
    specs = [desired.line_spec(view, gateways, router=router) for view in lines if view.line.state in desired.ON_ROUTER]
    gone = [view.line.ifname for view in lines if view.line.state not in desired.ON_ROUTER and view.line.ifname]
    try:
        async with desired.router_driver(router) as driver:
            applied = await driver.apply(specs, prune=False)
            removed = await driver.remove(gone) if gone else None
    except Exception as error:  # noqa: BLE001 - any router failure is logged, recorded and retried
        log.warning("router %s: batch of %d lines failed: %s", router.name, len(jobs), error)
        for job in jobs:
            record(session, job.line_id, job_id=job.id, step="router", outcome=EventOutcome.ERROR, detail=str(error))
            _fail(session, job, settings=settings, detail=f"{type(error).__name__}: {error}")
        return
    changed = set(applied.created) | set(applied.updated) | set(removed.removed if removed else [])
    # The adapter refuses lines one by one (the rest of the batch is carried out): only those are retried.
    refused = {**applied.failed, **(removed.failed if removed else {})}
    for job in jobs:
        view = views[job.line_id]
        ifname = view.line.ifname or ""
        if ifname in refused:
            problem = "; ".join(refused[ifname])
            log.warning("router %s, line %s refused: %s", router.name, ifname, problem)
            detail = f"{ifname} on {router.name}: {problem}"
            record(session, job.line_id, job_id=job.id, step="router", outcome=EventOutcome.ERROR, detail=detail[:1000])
            _fail(session, job, settings=settings, detail=detail)
            continue
        what = {LineState.ACTIVE: "serving", LineState.WALLED: "walled"}.get(view.line.state, "removed")
        detail = f"{ifname} on {router.name}: {what}" + ("" if ifname in changed else " (already so)")
        record(session, job.line_id, job_id=job.id, step="router", outcome=EventOutcome.OK, detail=detail)
        _finish(job)


@dataclass
class _Request:
    job: ProvisioningJob
    nas: coa.Nas
    acct_session_id: str
    attributes: dict[str, str | int]


async def _nas_jobs(
    session: AsyncSession,
    jobs: Sequence[ProvisioningJob],
    views: dict[int, LineView],
    routers: dict[int, AccessRouter],
    *,
    settings: Settings,
) -> None:
    """Disconnect or change every live session of the jobs' lines; requests go out concurrently."""
    usernames = {views[job.line_id].line.username for job in jobs}
    sessions = await repository.open_sessions(session, sorted(usernames))
    routers_by_nas = {router.nas_ip: router for router in await network.list_routers(session)}
    requests: list[_Request] = []
    for job in jobs:
        view = views[job.line_id]
        live = [s for s in sessions if s.username == view.line.username]
        if not live:
            record(
                session,
                job.line_id,
                job_id=job.id,
                step=job.kind.value,
                outcome=EventOutcome.OK,
                detail="no live session; nothing to change",
            )
            _finish(job)
            continue
        for acct in live:
            router = routers_by_nas.get(str(acct.nasipaddress)) or routers[job.router_id]
            attributes: dict[str, str | int] = {
                "User-Name": view.line.username,
                "Acct-Session-Id": acct.acctsessionid,
                "NAS-IP-Address": str(acct.nasipaddress),
            }
            if job.kind is JobKind.COA:
                attributes.update(desired.rate_attributes(view))
            requests.append(
                _Request(
                    job,
                    coa.Nas(str(acct.nasipaddress), router.coa_port, router.radius_secret),
                    acct.acctsessionid,
                    attributes,
                )
            )
    answers = await asyncio.gather(
        *(
            coa.send(
                request.nas,
                disconnect=request.job.kind is JobKind.DISCONNECT,
                attributes=request.attributes,
                timeout_s=settings.coa_timeout_s,
                retries=settings.coa_retries,
            )
            for request in requests
        )
    )
    failures: dict[int, str] = {}
    for request, answer in zip(requests, answers, strict=True):
        job = request.job
        done = answer.verdict is coa.Verdict.ACK or (job.kind is JobKind.DISCONNECT and answer.session_gone)
        record(
            session,
            job.line_id,
            job_id=job.id,
            step=job.kind.value,
            outcome=OUTCOME[answer.verdict],
            detail=f"session {request.acct_session_id} at {request.nas.host}: {answer.detail}",
            error_cause=answer.error_cause,
            data={"sent": {k: str(v) for k, v in request.attributes.items()}, "received": answer.attributes},
        )
        if not done:
            failures.setdefault(job.id, f"{answer.verdict.value}: {answer.detail}")
    for job in {request.job.id: request.job for request in requests}.values():
        if job.id in failures:
            _fail(session, job, settings=settings, detail=failures[job.id])
        else:
            _finish(job)
