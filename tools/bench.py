"""`make bench`: speed figures in one run, printed as a table and written to build/bench.json.

Every figure comes with the peak memory (RSS) of the process measured. Load goes only to a server on
loopback that this run starts, and every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live import LiveServer, live_server  # noqa: E402
from tools.processes import peak_rss_mib  # noqa: E402

REQUESTS = 2000
CONCURRENCY = 16
TIME_LIMIT_S = 120


async def hammer(server: LiveServer, path: str, token: str) -> dict[str, float]:
    """REQUESTS authenticated GETs with CONCURRENCY in flight; latency per request."""
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + TIME_LIMIT_S
    counter = iter(range(REQUESTS))

    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as client:

        async def worker() -> None:
            for _ in counter:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                response = await client.get(path)
                response.raise_for_status()
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        wall = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_s": len(latencies) / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def main() -> None:
    results: dict[str, float] = {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp, live_server(Path(tmp)) as server:
        for name, path, login in [
            ("api_me", "/api/v1/me", "anna@example.org"),
            ("api_contracts_member", "/api/v1/contracts", "anna@example.org"),
            ("api_members_page", "/api/v1/members?limit=50", "board@example.org"),
        ]:
            figures = asyncio.run(hammer(server, path, server.token(login)))
            for key in ("per_s", "p50_ms", "p99_ms"):
                results[f"{name}_{key}"] = round(figures[key], 2)
            rows.append((name, figures))
        rss = peak_rss_mib(server.pid)
        results["api_process_peak_rss_mib"] = round(rss, 1)
    print(f"{'benchmark':<24} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, f in rows:
        print(f"{name:<24} {int(f['requests']):>8} {f['per_s']:>8.1f} {f['p50_ms']:>8.2f} {f['p99_ms']:>8.2f}")
    print(f"API process peak RSS: {rss:.1f} MiB (goal: under 300 MiB)")

    from tools.bench_billing import bench_billing
    from tools.bench_billing import print_table as print_billing_table
    from tools.bench_invoices import bench_invoices
    from tools.bench_invoices import print_table as print_invoice_table
    from tools.bench_radius import bench_radius
    from tools.bench_router import bench_router_provision
    from tools.bench_sip import bench_sip, print_table
    from tools.bench_snmp import bench_snmp
    from tools.bench_snmp import print_table as print_snmp_table

    radius = bench_radius()
    router = bench_router_provision()
    sip = bench_sip()
    snmp = bench_snmp()
    invoices = bench_invoices()
    results.update(invoices)
    billing = bench_billing()
    results.update(billing)
    results.update(radius)
    results.update(snmp)
    results.update(router)
    results.update(sip)
    print()
    r = radius
    print(f"{'RADIUS (100,000 lines)':<34} {'ours':>10} {'stock':>10}")
    print(
        f"{'Access-Accept/s (max)':<34} {radius['radius_auth_per_s']:>10.1f} {radius['radius_auth_stock_per_s']:>10.1f}"
    )
    print(f"{'p99 ms at 1,000/s offered':<34} {r['radius_auth_p99_ms']:>10.2f} {r['radius_auth_stock_p99_ms']:>10.2f}")
    print(f"{'errors (rejects + timeouts)':<34} {radius['radius_errors']:>10} {radius['radius_stock_errors']:>10}")
    print(f"{'FreeRADIUS peak RSS MiB':<34} {r['radius_peak_rss_mib']:>10.1f} {r['radius_stock_peak_rss_mib']:>10.1f}")
    print(f"speed-up vs stock: {radius['radius_speedup_vs_stock']}x (goal: 1.3x; p99 goal: under 10 ms)")
    print()
    for key, value in router.items():
        print(f"{key:<40} {value}")
    print("goal: router_provision_10k_s under 10 s (None: not finished within the time limit)")
    print()
    print_table(sip)
    print()
    print_snmp_table(snmp)
    print()
    print_invoice_table(invoices)
    print_billing_table(billing)
    out = ROOT / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing.update(results)
    out.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
