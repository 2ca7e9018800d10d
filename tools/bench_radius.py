"""Benchmark: RADIUS Access-Request throughput and latency of FreeRADIUS on our schema and configuration
with 100,000 provisioned lines, against FreeRADIUS's stock SQL configuration on the stock schema (the
reference), in one run on this machine. Each server runs alone while it is measured.

Load: our own asyncio UDP client with pre-encoded PAP Access-Requests (each with Message-Authenticator)
for random users; a bounded window for the throughput run, a fixed rate of 1,000/s for the latency run.
Only Access-Accepts count as success; errors and timeouts are reported.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from pyrad import packet
from pyrad.client import Client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from provisioning.radius.coa import dictionary  # noqa: E402
from tools import freeradius  # noqa: E402

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
STOCK_SCHEMA = Path("/etc/freeradius/3.0/mods-config/sql/main/postgresql/schema.sql")
LINES = 100_000
PLANS = (("plan-s", 50_000, 10_000), ("plan-m", 100_000, 40_000), ("plan-l", 250_000, 50_000))
SOCKETS = 4
WINDOW = 48  # in flight per socket during the throughput run
THROUGHPUT_S = 15.0
RATE_PER_S = 1000
RATE_S = 10.0
TIMEOUT_S = 2.0
OUR_THREADS = int(os.environ.get("OT_BENCH_RADIUS_THREADS", "8"))


def password(n: int) -> str:
    return f"pw{n:06d}x"


async def prepare(name: str, *, stock_schema: bool, secret: str) -> None:
    admin = await asyncpg.connect(ADMIN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    if stock_schema:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(await asyncio.to_thread(STOCK_SCHEMA.read_text))
        finally:
            await connection.close()
    else:
        from app import migrate

        await asyncio.to_thread(migrate.upgrade, url.replace("postgresql://", "postgresql+asyncpg://"))
    connection = await asyncpg.connect(url)
    try:
        users = [f"l{n:06d}" for n in range(LINES)]
        await connection.copy_records_to_table(
            "radcheck",
            records=[(u, "Cleartext-Password", ":=", password(n)) for n, u in enumerate(users)],
            columns=["username", "attribute", "op", "value"],
        )
        reply = []
        for n, user in enumerate(users):
            reply.append((user, "Framed-IP-Address", ":=", f"100.{64 + n // 65536}.{n // 256 % 256}.{n % 256}"))
            reply.append((user, "Delegated-IPv6-Prefix", ":=", f"2001:db8:{n // 256:x}:{(n % 256) * 256:x}::/56"))
        await connection.copy_records_to_table(
            "radreply", records=reply, columns=["username", "attribute", "op", "value"]
        )
        await connection.copy_records_to_table(
            "radusergroup",
            records=[(u, PLANS[n % 3][0], 1) for n, u in enumerate(users)],
            columns=["username", "groupname", "priority"],
        )
        group_rows = []
        for group, down, up in PLANS:
            group_rows.append((group, "WISPr-Bandwidth-Max-Down", ":=", str(down * 1000)))
            group_rows.append((group, "WISPr-Bandwidth-Max-Up", ":=", str(up * 1000)))
        await connection.copy_records_to_table(
            "radgroupreply", records=group_rows, columns=["groupname", "attribute", "op", "value"]
        )
        await connection.execute(
            "INSERT INTO nas (nasname, shortname, type, secret) VALUES ('127.0.0.1', 'bench', 'other', $1)", secret
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def encode(secret: str, count: int, rng: random.Random) -> list[list[bytes]]:
    """``count`` Access-Requests per socket, ids cycling 0..255 within each socket."""
    client = Client(server="127.0.0.1", secret=secret.encode(), dict=dictionary())
    per_socket: list[list[bytes]] = [[] for _ in range(SOCKETS)]
    for s in range(SOCKETS):
        for k in range(count):
            n = rng.randrange(LINES)
            request = client.CreateAuthPacket(code=packet.AccessRequest, id=k % 256, User_Name=f"l{n:06d}")
            request["User-Password"] = request.PwCrypt(password(n))
            request["NAS-IP-Address"] = "127.0.0.1"
            per_socket[s].append(request.RequestPacket())
    return per_socket


@dataclass
class Tally:
    accepts: int = 0
    rejects: int = 0
    timeouts: int = 0
    latencies: list[float] = field(default_factory=list)


class Endpoint(asyncio.DatagramProtocol):
    """One UDP socket; a reply is timed when it arrives, not when the waiting coroutine next runs."""

    def __init__(self) -> None:
        self.waiting: dict[int, tuple[float, asyncio.Future[tuple[int, float]]]] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        arrived = time.perf_counter()
        entry = self.waiting.pop(data[1], None)
        if entry is not None and not entry[1].done():
            entry[1].set_result((data[0], arrived))


async def _one(endpoint: Endpoint, raw: bytes, tally: Tally) -> None:
    ident = raw[1]
    for _ in range(int(TIMEOUT_S * 1000) + 10):  # the id may still be in flight from 256 requests ago
        if ident not in endpoint.waiting:
            break
        await asyncio.sleep(0.001)
    future: asyncio.Future[tuple[int, float]] = asyncio.get_running_loop().create_future()
    started = time.perf_counter()
    endpoint.waiting[ident] = (started, future)
    assert endpoint.transport is not None
    endpoint.transport.sendto(raw)
    try:
        code, arrived = await asyncio.wait_for(future, TIMEOUT_S)
    except TimeoutError:
        endpoint.waiting.pop(ident, None)
        tally.timeouts += 1
        return
    tally.latencies.append(arrived - started)
    if code == packet.AccessAccept:
        tally.accepts += 1
    else:
        tally.rejects += 1


async def _endpoints(port: int) -> list[Endpoint]:
    loop = asyncio.get_running_loop()
    endpoints = []
    for _ in range(SOCKETS):
        _, protocol = await loop.create_datagram_endpoint(Endpoint, remote_addr=("127.0.0.1", port))
        endpoints.append(protocol)
    return endpoints


async def throughput(port: int, packets: list[list[bytes]]) -> tuple[float, Tally]:
    endpoints = await _endpoints(port)
    tally = Tally()
    deadline = time.perf_counter() + THROUGHPUT_S

    async def lane(endpoint: Endpoint, queue: list[bytes]) -> None:
        for raw in queue:
            if time.perf_counter() > deadline:
                return
            await _one(endpoint, raw, tally)

    started = time.perf_counter()
    lanes = []
    for s, endpoint in enumerate(endpoints):
        chunk = len(packets[s]) // WINDOW
        lanes += [lane(endpoint, packets[s][w * chunk : (w + 1) * chunk]) for w in range(WINDOW)]
    await asyncio.gather(*lanes)
    elapsed = time.perf_counter() - started
    for endpoint in endpoints:
        assert endpoint.transport is not None
        endpoint.transport.close()
    return tally.accepts / elapsed, tally


async def fixed_rate(port: int, packets: list[list[bytes]], seconds: float = RATE_S) -> Tally:
    endpoints = await _endpoints(port)
    tally = Tally()
    total = min(int(RATE_PER_S * seconds), len(packets[0]) * SOCKETS)
    interval = 1 / RATE_PER_S
    started = time.perf_counter()
    tasks = []
    for k in range(total):
        target = started + k * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        s = k % SOCKETS
        tasks.append(asyncio.create_task(_one(endpoints[s], packets[s][k // SOCKETS], tally)))
    await asyncio.gather(*tasks)
    for endpoint in endpoints:
        assert endpoint.transport is not None
        endpoint.transport.close()
    return tally


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000 if ordered else float("nan")


def measure(profile: str, database: str, secret: str, packets: list[list[bytes]], work: Path) -> dict[str, float]:
    auth, acct = freeradius.free_udp_port(), freeradius.free_udp_port()
    # Ours: as many server threads as the database connections it keeps (8 suits 2 cores beside PostgreSQL);
    # the reference keeps the stock thread pool (up to 32 threads) and pool sizes.
    threads = OUR_THREADS if profile == "opentelecom" else 32
    directory = freeradius.render(
        work / profile, db_name=database, auth_port=auth, acct_port=acct, profile=profile, threads=threads
    )
    running = freeradius.start(directory, auth_port=auth, acct_port=acct)
    try:
        asyncio.run(fixed_rate(auth, packets, seconds=1.0))  # warm the connection pool and caches
        per_s, tally = asyncio.run(throughput(auth, packets))
        rated = asyncio.run(fixed_rate(auth, packets))
        rss = rss_mib(running.process.pid)
    finally:
        freeradius.stop(running)
    print(f"{profile}: {tally.accepts} accepts, {tally.rejects} rejects, {tally.timeouts} timeouts", file=sys.stderr)
    return {
        "per_s": per_s,
        "accepts": tally.accepts,
        "errors": tally.rejects + tally.timeouts,
        "p50_ms_at_max": statistics.median(tally.latencies) * 1000 if tally.latencies else float("nan"),
        "p99_ms_at_1000": p99(rated.latencies),
        "errors_at_1000": rated.rejects + rated.timeouts,
        "rss_mib": rss,
    }


def bench_radius() -> dict[str, float]:
    secret = secrets.token_urlsafe(24)
    ours_db, stock_db = "ot_bench_radius_ours", "ot_bench_radius_stock"
    asyncio.run(prepare(ours_db, stock_schema=False, secret=secret))
    asyncio.run(prepare(stock_db, stock_schema=True, secret=secret))
    packets = encode(secret, 20_000, random.Random(7))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ours = measure("opentelecom", ours_db, secret, packets, Path(tmp))
            stock = measure("stock", stock_db, secret, packets, Path(tmp))
    finally:

        async def drop() -> None:
            admin = await asyncpg.connect(ADMIN)
            try:
                for name in (ours_db, stock_db):
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()

        asyncio.run(drop())
    return {
        "radius_auth_per_s": round(ours["per_s"], 1),
        "radius_auth_stock_per_s": round(stock["per_s"], 1),
        "radius_speedup_vs_stock": round(ours["per_s"] / stock["per_s"], 2),
        "radius_auth_p99_ms": round(ours["p99_ms_at_1000"], 2),
        "radius_auth_stock_p99_ms": round(stock["p99_ms_at_1000"], 2),
        "radius_errors": ours["errors"] + ours["errors_at_1000"],
        "radius_stock_errors": stock["errors"] + stock["errors_at_1000"],
        "radius_peak_rss_mib": round(ours["rss_mib"], 1),
        "radius_stock_peak_rss_mib": round(stock["rss_mib"], 1),
        "radius_loadgen_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    for key, value in bench_radius().items():
        print(f"{key:>32}: {value}")
