"""Benchmark: a bill run for 100,000 members with three services (contracts) each and a month of calls.

On a scratch PostgreSQL database built by Alembic, the data is built set-based in SQL (not timed):
MEMBERS members with a premises each, three plans (internet, phone, TV), three active contracts per member
(one in a hundred started in the billed month, so it is billed pro rata with its setup fee), a phone line
per phone contract, CALLS_PER_LINE rated calls of the month before, and credit (a payment no invoice took)
for one member in fifty, which the run sets off on their invoice. Timed: the bill run's preview (draft
invoices, lines, contract facts) and its issue (gapless numbers, ledger postings), each its own
transaction, as ``opentelecom billing run --issue`` does, without PDFs. Peak RSS of this process.

    python tools/bench_billing.py            (OT_BENCH_BILLING_MEMBERS=100000, OT_BENCH_BILLING_CALLS=2)
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import migrate  # noqa: E402
from app.audit.service import bind_actor  # noqa: E402
from app.audit.service import install as install_audit  # noqa: E402
from app.db import Database  # noqa: E402
from app.kit.actor import Actor  # noqa: E402
from app.kit.time import local_today  # noqa: E402
from app.settings import Settings  # noqa: E402
from billing.invoices import billrun  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
MEMBERS = int(os.environ.get("OT_BENCH_BILLING_MEMBERS", "100000"))
CALLS_PER_LINE = int(os.environ.get("OT_BENCH_BILLING_CALLS", "2"))
PERIOD = "2026-10"
GOAL_S = 60.0
GOAL_RSS_MIB = 1024.0

SETUP_SQL = [
    """INSERT INTO plans (code, name, down_kbps, up_kbps, monthly_fee_cents, setup_fee_cents, min_term_months,
       notice_months, includes_phone, is_active, created_at, updated_at) VALUES
       ('b-net', 'Glasfaser 250', 250000, 50000, 3990, 4900, 24, 1, false, true, now(), now()),
       ('b-tel', 'Telefon-Flat', 1000, 1000, 990, 0, 12, 1, true, true, now(), now()),
       ('b-tv', 'IPTV', 20000, 1000, 1500, 0, 12, 1, false, true, now(), now())""",
    """INSERT INTO members (id, number, status, first_name, last_name, street, postal_code, city, country, email,
       applied_on, shares_applied, admitted_on, created_at, updated_at)
       SELECT g, g, 'member', 'Vorname' || g, 'Nachname' || g, 'Weg ' || g, '10115', 'Berlin', 'DE',
              'm' || g || '@example.org', '2024-01-01', 1, '2024-01-10', now(), now()
       FROM generate_series(1, :members) AS g""",
    "SELECT setval(pg_get_serial_sequence('members', 'id'), :members)",
    """INSERT INTO premises (id, member_id, street, postal_code, city, country, created_at, updated_at)
       SELECT g, g, 'Weg ' || g, '10115', 'Berlin', 'DE', now(), now() FROM generate_series(1, :members) AS g""",
    "SELECT setval(pg_get_serial_sequence('premises', 'id'), :members)",
    """INSERT INTO contracts (id, number, member_id, premises_id, plan_id, status, ordered_on, start_on,
       min_term_months, notice_months, created_at, updated_at)
       SELECT (m - 1) * 3 + p.n, 'V' || ((m - 1) * 3 + p.n), m, m, p.id, 'active', '2024-12-01',
              CASE WHEN m % 100 = 0 THEN DATE '2026-10-10' ELSE DATE '2025-01-01' END, p.min_term_months,
              p.notice_months, now(), now()
       FROM generate_series(1, :members) AS m
       CROSS JOIN (SELECT id, min_term_months, notice_months, row_number() OVER (ORDER BY id) AS n
                   FROM plans WHERE code LIKE 'b-%') AS p""",
    "SELECT setval(pg_get_serial_sequence('contracts', 'id'), 3 * :members)",
    """INSERT INTO phone_lines (id, contract_id, extension, state, created_at, updated_at)
       SELECT c.id, c.id, 'x' || c.id, 'active', now(), now()
       FROM contracts c JOIN plans p ON p.id = c.plan_id WHERE p.code = 'b-tel'""",
    """INSERT INTO cdr (id, accountcode, src, dst, billsec, disposition)
       SELECT row_number() OVER (), l.extension, '030' || l.id, '0800' || k, 60 + k * 37, 'ANSWERED'
       FROM phone_lines l CROSS JOIN generate_series(1, :calls) AS k""",
    """INSERT INTO rated_calls (cdr_id, contract_id, phone_line_id, period, started_at, called_number, call_class,
       talk_seconds, billed_seconds, included_seconds, price_cents, rated_at)
       SELECT d.id, l.contract_id, l.id, DATE '2026-09-01', TIMESTAMPTZ '2026-09-15 10:00+00', d.dst, 'service',
              d.billsec, d.billsec, 0, d.billsec * 0.0333, now()
       FROM cdr d JOIN phone_lines l ON l.extension = d.accountcode""",
    # One member in fifty has credit (a payment no invoice took) that the run sets off on their invoice.
    """INSERT INTO payments (member_id, amount_cents, paid_on, method, created_at, updated_at)
       SELECT g, 1000 + g % 7, DATE '2026-09-20', 'transfer', now(), now()
       FROM generate_series(50, :members, 50) AS g""",
    "ANALYZE",
]


async def _admin(statement: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


async def _build(dsn: str) -> float:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(dsn)
    started = time.perf_counter()
    async with engine.begin() as connection:
        for statement in SETUP_SQL:
            params = {k: v for k, v in {"members": MEMBERS, "calls": CALLS_PER_LINE}.items() if f":{k}" in statement}
            await connection.execute(sa.text(statement), params)
    await engine.dispose()
    return time.perf_counter() - started


async def _run(database: Database) -> dict[str, float]:
    actor = Actor.system("bench-billing")
    settings = database.settings
    issue_on = max(date(2026, 11, 1), local_today(settings.timezone))
    started = time.perf_counter()
    async with database.transaction() as session:
        bind_actor(session, actor)
        run = await billrun.preview(session, actor=actor, settings=settings, period=PERIOD, issue_on=issue_on)
        run_id, invoices, lines = run.id, run.invoice_count, run.line_count
    previewed = time.perf_counter()
    async with database.transaction() as session:
        bind_actor(session, actor)
        await billrun.issue(session, actor=actor, settings=settings, run_id=run_id)
    issued = time.perf_counter()
    async with database.transaction() as session:
        import sqlalchemy as sa

        entries = (
            await session.execute(sa.text("SELECT count(*) FROM journal_entries WHERE source_kind = 'invoice'"))
        ).scalar_one()
        set_off = (
            await session.execute(sa.text("SELECT count(*) FROM credit_applications WHERE settled"))
        ).scalar_one()
        gaps = (
            await session.execute(
                sa.text("SELECT count(*) - count(DISTINCT number) + (max(number) IS NULL)::int FROM invoices")
            )
        ).scalar_one()
    return {
        "bill_run_100k_s": round(issued - started, 2),
        "bill_run_preview_s": round(previewed - started, 2),
        "bill_run_issue_s": round(issued - previewed, 2),
        "bill_run_invoices": invoices,
        "bill_run_lines": lines,
        "bill_run_ledger_entries": int(entries),
        "bill_run_credit_set_offs": int(set_off),
        "bill_run_duplicate_numbers": int(gaps),
    }


def on_scratch_database(
    prefix: str, build: Callable[[str], Awaitable[float]], run: Callable[[Database], Awaitable[dict[str, float]]]
) -> tuple[float, dict[str, float]]:
    """A benchmark on a scratch PostgreSQL database: created and migrated to head, filled by ``build(dsn)``
    (which returns its seconds), measured by ``run(database)``, dropped whatever happens; (build seconds,
    what ``run`` measured)."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    dsn = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        migrate.upgrade(dsn)
        build_s = asyncio.run(build(dsn))
        install_audit()
        settings = Settings(environment="test", database_url=dsn, run_background_loops=False, _env_file=None)  # type: ignore[call-arg]

        async def main() -> dict[str, float]:
            database = Database(settings)
            try:
                return await run(database)
            finally:
                await database.dispose()

        return build_s, asyncio.run(main())
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def bench_billing() -> dict[str, float]:
    build_s, results = on_scratch_database("ot_bench_billing", _build, _run)
    results["bill_run_members"] = MEMBERS
    results["bill_run_data_build_s"] = round(build_s, 1)
    results["bill_run_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results


def print_table(results: dict[str, float]) -> None:
    r = results
    print(f"{'bill run':<44} {'value':>10}")
    print(f"{'members (3 contracts each)':<44} {int(r['bill_run_members']):>10}")
    print(f"{'invoices / lines':<44} {int(r['bill_run_invoices']):>6}/{int(r['bill_run_lines'])}")
    print(f"{'ledger entries (invoices)':<44} {int(r['bill_run_ledger_entries']):>10}")
    print(f"{'invoices setting member credit off':<44} {int(r['bill_run_credit_set_offs']):>10}")
    print(f"{'preview s':<44} {r['bill_run_preview_s']:>10.2f}")
    print(f"{'issue s':<44} {r['bill_run_issue_s']:>10.2f}")
    print(f"{f'bill_run_100k_s (goal: under {GOAL_S:.0f} s)':<44} {r['bill_run_100k_s']:>10.2f}")
    print(f"{f'peak RSS MiB (goal: under {GOAL_RSS_MIB:.0f})':<44} {r['bill_run_peak_rss_mib']:>10.1f}")


def main() -> None:
    results = bench_billing()
    print_table(results)
    out = ROOT / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing.update(results)
    out.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
