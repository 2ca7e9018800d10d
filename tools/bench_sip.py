"""Benchmark: SIP extensions provisioned per second into PJSIP realtime, with a real Asterisk reading the
tables, and proof that no full PJSIP reload happened meanwhile.

On a scratch PostgreSQL database built by Alembic: a number block, a plan with a phone and LINES ordered
contracts (setup, not timed). Timed: the contracts are activated through the service path of a bulk
activation (``contracts.transition_many`` -> one batch of ``ContractChanged`` -> ``voip.service`` ->
numbers, phone lines and the ps_* rows), BATCH contracts per transaction, bounded by TIME_LIMIT_S (both
counts can be set in the environment: OT_BENCH_SIP_LINES, OT_BENCH_SIP_BATCH). The database has no
access router, so the RADIUS side of the activation finds no router and makes no line: the figure is the
contract step plus the SIP provisioning, audit log included.

No full reload: Asterisk's "Last reload" (``core show uptime``) is the same before and after the run,
and its log written during the run has no reload line. The detector is then tested once: a
``module reload res_pjsip.so`` after the measurement must change "Last reload". Visible to Asterisk:
SAMPLE provisioned extensions are shown by PJSIPShowEndpoint (voip/ami.py) in the members context, and
one registers with sipp using its provisioned password. Peak RSS of this process and of Asterisk.

    python tools/bench_sip.py
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import resource
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.audit.service import bind_actor  # noqa: E402
from app.audit.service import install as install_audit  # noqa: E402
from app.contracts import service as contracts  # noqa: E402
from app.contracts.models import ContractStatus  # noqa: E402
from app.contracts.schemas import PremisesCreate  # noqa: E402
from app.db import Database  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests.builders import BOARD, make_member, make_number_block, make_plan  # noqa: E402
from tests.voip.conftest import LOOPBACK, AsteriskServer, run_sipp  # noqa: E402
from tools import asterisk as asterisk_tool  # noqa: E402
from tools import processes  # noqa: E402
from voip import endpoints  # noqa: E402
from voip import repository as voip_repository  # noqa: E402
from voip.ami import Ami  # noqa: E402
from voip.reconcile import reconcile_endpoints  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
LINES = int(os.environ.get("OT_BENCH_SIP_LINES", "2000"))
BATCH = int(os.environ.get("OT_BENCH_SIP_BATCH", "100"))  # contracts activated per transaction
SETUP_BATCH = 500  # contracts ordered per setup transaction
TIME_LIMIT_S = 120.0  # for the timed part; what is provisioned by then is counted
SAMPLE = 5
GOAL_PER_S = 500
# What Asterisk logs when res_pjsip or its configuration is reloaded (verbose level 3 in messages.log).
RELOAD_TOLERANCE_S = 1.5
RELOAD_LINE = re.compile(r"reload", re.IGNORECASE)


async def _admin(statement: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


async def _setup(database: Database) -> list[int]:
    """A number block with room for LINES, a plan with a phone, one member and LINES ordered contracts."""
    settings = database.settings
    async with database.transaction() as session:
        bind_actor(session, BOARD)
        await make_number_block(session, first_number="+4933190000000", last_number=f"+49331900{LINES + 9999:05d}")
        plan = await make_plan(session, includes_phone=True)
        member = await make_member(session, settings)
        premises = await contracts.create_premises(
            session,
            actor=BOARD,
            data=PremisesCreate(
                member_id=member.id, street=member.street, postal_code=member.postal_code, city=member.city
            ),
        )
        plan_id, member_id, premises_id = plan.id, member.id, premises.id
    ids: list[int] = []
    for start in range(0, LINES, SETUP_BATCH):
        async with database.transaction() as session:
            bind_actor(session, BOARD)
            for _ in range(start, min(LINES, start + SETUP_BATCH)):
                contract = await contracts.order(
                    session,
                    actor=BOARD,
                    settings=settings,
                    member_id=member_id,
                    premises_id=premises_id,
                    plan_id=plan_id,
                )
                ids.append(contract.id)
    return ids


async def _provision(database: Database, contract_ids: list[int]) -> tuple[int, float, list[float]]:
    """Activate the contracts, BATCH per transaction; (extensions provisioned, seconds, batch seconds)."""
    done, batches = 0, []
    started = time.perf_counter()
    deadline = started + TIME_LIMIT_S
    for start in range(0, len(contract_ids), BATCH):
        if time.perf_counter() > deadline:
            print(f"warning: time limit reached after {done} extensions", file=sys.stderr)
            break
        began = time.perf_counter()
        async with database.transaction() as session:
            bind_actor(session, BOARD)
            await contracts.transition_many(
                session,
                actor=BOARD,
                settings=database.settings,
                contract_ids=contract_ids[start : start + BATCH],
                to=ContractStatus.ACTIVE,
            )
        batches.append(time.perf_counter() - began)
        done += len(contract_ids[start : start + BATCH])
    return done, time.perf_counter() - started, batches


async def _rewrite(database: Database) -> tuple[int, float]:
    """The realtime rows alone: rewrite every provisioned extension's rows (``endpoints.write_many``, as a
    bulk resumption does), BATCH per transaction; (extensions written, seconds)."""
    async with database.transaction() as session:
        views = await voip_repository.line_views(session)
        secrets_of = await endpoints.passwords(session, [v.line.extension for v in views])
        wanted = [
            endpoints.rows_for(
                extension=v.line.extension,
                number=v.number,
                password=secrets_of.get(v.line.extension, ""),
                suspended=False,
            )
            for v in views
        ]
    started = time.perf_counter()
    for start in range(0, len(wanted), BATCH):
        async with database.transaction() as session:
            await endpoints.write_many(session, wanted[start : start + BATCH])
    return len(wanted), time.perf_counter() - started


async def _analyze(name: str) -> None:
    """Statistics current before measuring, as they are on a database in use (autovacuum)."""
    connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def _last_reload(ami: Ami) -> float:
    """When Asterisk last reloaded (or started), as a Unix time: ``core show uptime seconds`` gives its age."""
    lines = await ami.command("core show uptime seconds")
    now = time.time()
    for line in lines:
        if line.startswith("Last reload:"):
            return now - int(line.partition(":")[2])
    raise RuntimeError(f"core show uptime has no 'Last reload' line: {lines}")


async def _provisioned(database: Database) -> list[tuple[str, str]]:
    """(extension, password) of every phone line, from the realtime rows."""
    async with database.transaction() as session:
        lines = await voip_repository.line_views(session)
        secrets_of = await endpoints.passwords(session, [v.line.extension for v in lines])
        return [(v.line.extension, secrets_of.get(v.line.extension, "")) for v in lines]


async def _measure(database: Database, name: str, rendered: asterisk_tool.Rendered, workdir: Path) -> dict[str, float]:
    contract_ids = await _setup(database)
    await _analyze(name)
    ami = Ami(host=rendered.ami_listen, port=rendered.ami_port, username=rendered.ami_user, secret=rendered.ami_secret)
    await ami.start()
    try:
        reload_before = await _last_reload(ami)
        log_offset = rendered.log.stat().st_size if rendered.log.exists() else 0
        count, seconds, batches = await _provision(database, contract_ids)
        rewritten, rewrite_s = await _rewrite(database)
        reload_after = await _last_reload(ami)
        log_during = rendered.log.read_text(errors="replace")[log_offset:] if rendered.log.exists() else ""
        reload_lines = [line for line in log_during.splitlines() if RELOAD_LINE.search(line)]
        # Ages are whole seconds, so the same moment reads up to a second apart; a reload moves it on.
        reloaded = reload_after - reload_before > RELOAD_TOLERANCE_S
        if reloaded or reload_lines:
            print(f"reload seen: {reload_before:.0f} -> {reload_after:.0f}; log: {reload_lines[:5]}", file=sys.stderr)

        provisioned = await _provisioned(database)
        sample = random.Random(7).sample(provisioned, min(SAMPLE, len(provisioned)))
        seen = 0
        for extension, _ in sample:
            details = await ami.show_endpoint(extension)
            if details is not None and details.context == endpoints.MEMBERS_CONTEXT and extension in details.auths:
                seen += 1
        extension, password = sample[0]
        server = AsteriskServer(
            LOOPBACK, rendered.sip_port, rendered.ami_port, rendered.ami_user, rendered.ami_secret, rendered.log
        )
        registration = await run_sipp(
            server, "register.xml", extension=extension, password=password, workdir=workdir, keys={"expires": "60"}
        )
        registered = registration.returncode == 0 and registration.status_lines[-1:] == ["SIP/2.0 200 OK"]
        if not registered:
            print(f"warning: {extension} did not register:\n{registration.messages[-2000:]}", file=sys.stderr)

        # Reconcile over what was just provisioned: it must find nothing (and how long it takes).
        began = time.perf_counter()
        async with database.transaction() as session:
            drift = await reconcile_endpoints(session, dry_run=True)
        reconcile_s = time.perf_counter() - began

        # The detector itself: a real reload must show in "Last reload".
        await asyncio.sleep(2 * RELOAD_TOLERANCE_S)
        await ami.command("module reload res_pjsip.so")
        detector_works = await _last_reload(ami) - reload_after > RELOAD_TOLERANCE_S
    finally:
        await ami.close()
    per_s = count / seconds if seconds else 0.0
    return {
        "sip_provision_per_s": round(per_s, 1),
        "sip_provision_lines": count,
        "sip_provision_s": round(seconds, 2),
        "sip_provision_batch_p50_ms": round(statistics.median(batches) * 1000, 1),
        "sip_provision_batch_max_ms": round(max(batches) * 1000, 1),
        "sip_realtime_write_per_s": round(rewritten / rewrite_s, 1) if rewrite_s else 0.0,
        "sip_provision_full_reloads": int(reloaded) + len(reload_lines),
        "sip_reload_detector_works": int(detector_works),
        "sip_sample_seen_by_asterisk": seen,
        "sip_sample_size": len(sample),
        "sip_sample_registered": int(registered),
        "sip_reconcile_dry_run_s": round(reconcile_s, 2),
        "sip_reconcile_drift": len(drift.findings),
    }


def bench_sip() -> dict[str, float]:
    """Provision LINES extensions through activation with Asterisk running on the same database."""
    # The provisioning domain warns once per activation that no access router exists (phones only here).
    logging.getLogger("opentelecom.provisioning").setLevel(logging.ERROR)
    name = f"ot_bench_sip_{os.getpid()}_{secrets.token_hex(3)}"
    dsn = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    process = None
    directory = None
    try:
        from app import migrate

        migrate.upgrade(dsn)
        directory = asterisk_tool.render(
            f"bench-{os.getpid()}-{secrets.token_hex(3)}",
            db_name=name,
            sip_port=processes.free_udp_port(),
            ami_port=processes.free_tcp_port(),
        )
        process = asterisk_tool.start(directory)
        rendered = asterisk_tool.Rendered.load(directory)
        install_audit()
        settings = Settings(
            environment="test",
            database_url=dsn,
            run_background_loops=False,
            _env_file=None,  # type: ignore[call-arg]
        )

        async def run(workdir: Path) -> dict[str, float]:
            database = Database(settings)
            try:
                return await _measure(database, name, rendered, workdir)
            finally:
                await database.dispose()

        with tempfile.TemporaryDirectory(prefix="bench-sip-") as tmp:
            results = asyncio.run(run(Path(tmp)))
        results["sip_asterisk_peak_rss_mib"] = round(processes.peak_rss_mib(process.pid), 1)
    finally:
        if process is not None:
            processes.stop(process)
        if directory is not None:
            asterisk_tool.remove_instance(directory)
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    results["sip_bench_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results


def print_table(results: dict[str, float]) -> None:
    r = results
    print(f"{'SIP provisioning':<44} {'value':>10}")
    print(f"{'extensions provisioned':<44} {int(r['sip_provision_lines']):>10}")
    print(f"{'extensions/s into realtime (goal: 500/s)':<44} {r['sip_provision_per_s']:>10.1f}")
    print(f"{'realtime rows alone (write_many), ext/s':<44} {r['sip_realtime_write_per_s']:>10.1f}")
    batches = f"{r['sip_provision_batch_p50_ms']:.0f}/{r['sip_provision_batch_max_ms']:.0f}"
    print(f"{'batch of 100, p50 / max ms':<44} {batches:>10}")
    print(f"{'full PJSIP reloads during provisioning':<44} {int(r['sip_provision_full_reloads']):>10}")
    print(f"{'reload detector sees a real reload':<44} {'yes' if r['sip_reload_detector_works'] else 'NO':>10}")
    seen = f"{int(r['sip_sample_seen_by_asterisk'])}/{int(r['sip_sample_size'])}"
    print(f"{'sample shown by PJSIPShowEndpoint':<44} {seen:>10}")
    print(f"{'sample extension registers (sipp)':<44} {'yes' if r['sip_sample_registered'] else 'NO':>10}")
    reconciled = f"{r['sip_reconcile_dry_run_s']:.2f}s/{int(r['sip_reconcile_drift'])}"
    print(f"{'reconcile --dry-run after it: time / drift':<44} {reconciled:>10}")
    print(f"{'bench process peak RSS MiB':<44} {r['sip_bench_peak_rss_mib']:>10.1f}")
    print(f"{'Asterisk peak RSS MiB':<44} {r['sip_asterisk_peak_rss_mib']:>10.1f}")


if __name__ == "__main__":
    print_table(bench_sip())
