"""Benchmark: a dividend run for MEMBERS members (default 10,000), not a timed unit test.

On a scratch PostgreSQL database built by Alembic, the data is built set-based in SQL (not timed): MEMBERS
members admitted in 2024, each with 100.00 EUR paid in (one in three 300.00 EUR, one in seven admitted mid
2025), one in ten choosing to set off their dividend on the next invoice, the rest paid out. Timed: the decision
(4 % on 2025, decided 15 June 2026), then ``dividends.service.run`` (approve: allocations computed and frozen;
book: ledger entries through ``post_many``, set-offs queued as pending credits), one transaction each, as
``opentelecom dividends decide`` and ``dividends run`` do. Checks the trial balance is zero afterwards.

    python tools/bench_dividends.py            (OT_BENCH_DIVIDENDS_MEMBERS=10000)
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.audit.service import bind_actor  # noqa: E402
from app.db import Database  # noqa: E402
from app.kit.actor import Actor  # noqa: E402
from billing.dividends import service  # noqa: E402
from billing.dividends.schemas import DecisionCreate  # noqa: E402
from billing.ledger import service as ledger  # noqa: E402
from tools.bench_billing import on_scratch_database  # noqa: E402

MEMBERS = int(os.environ.get("OT_BENCH_DIVIDENDS_MEMBERS", "10000"))

SETUP_SQL = [
    """INSERT INTO members (id, number, status, first_name, last_name, street, postal_code, city, country, email,
       applied_on, shares_applied, admitted_on, created_at, updated_at)
       SELECT g, g, 'member', 'Vorname' || g, 'Nachname' || g, 'Weg ' || g, '10115', 'Berlin', 'DE',
              'm' || g || '@example.org', '2024-01-01', 3,
              CASE WHEN g % 7 = 0 THEN DATE '2025-07-01' ELSE DATE '2024-01-10' END, now(), now()
       FROM generate_series(1, :members) AS g""",
    "SELECT setval(pg_get_serial_sequence('members', 'id'), :members)",
    """INSERT INTO capital_movements (member_id, amount_cents, effective_on, kind, reference, recorded_at)
       SELECT g, CASE WHEN g % 3 = 0 THEN 30000 ELSE 10000 END,
              CASE WHEN g % 7 = 0 THEN DATE '2025-07-01' ELSE DATE '2024-01-10' END, 'payment', 'Einzahlung', now()
       FROM generate_series(1, :members) AS g""",
    """INSERT INTO dividend_preferences (member_id, choice, created_at, updated_at)
       SELECT g, 'set_off', now(), now() FROM generate_series(10, :members, 10) AS g""",
    "ANALYZE",
]


async def _build(dsn: str) -> float:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(dsn)
    started = time.perf_counter()
    async with engine.begin() as connection:
        for statement in SETUP_SQL:
            params = {"members": MEMBERS} if ":members" in statement else {}
            await connection.execute(sa.text(statement), params)
    await engine.dispose()
    return time.perf_counter() - started


async def _run(database: Database) -> dict[str, float]:
    actor = Actor.system("bench-dividends")
    settings = database.settings
    async with database.transaction() as session:
        bind_actor(session, actor)
        data = DecisionCreate(business_year=2025, rate_percent=Decimal("4"), decided_on=date(2026, 6, 15))
        decision_id = (await service.enter_decision(session, actor=actor, settings=settings, data=data)).id
    started = time.perf_counter()
    async with database.transaction() as session:
        bind_actor(session, actor)
        report = await service.run(session, actor=actor, settings=settings, decision_id=decision_id)
    ran = time.perf_counter()
    async with database.transaction() as session:
        bind_actor(session, actor)
        again = await service.run(session, actor=actor, settings=settings, decision_id=decision_id)
        balance = (await ledger.trial_balance(session, actor=actor)).balance_cents
    return {
        "dividend_run_s": round(ran - started, 2),
        "dividend_run_allocations": report.allocations,
        "dividend_run_entries": report.entries,
        "dividend_run_again_entries": again.entries,
        "dividend_run_trial_balance_cents": balance,
    }


def bench_dividends() -> dict[str, float]:
    build_s, results = on_scratch_database("ot_bench_dividends", _build, _run)
    results["dividend_run_members"] = MEMBERS
    results["dividend_run_data_build_s"] = round(build_s, 1)
    results["dividend_run_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results


def main() -> None:
    results = bench_dividends()
    for key, value in sorted(results.items()):
        print(f"{key:<40} {value:>12}")
    out = ROOT / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing.update(results)
    out.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
