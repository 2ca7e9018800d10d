"""Benchmark: RADIUS Access-Request throughput and latency of FreeRADIUS with our configuration on our
schema (Alembic) with 100,000 provisioned lines, against the reference: Debian's stock FreeRADIUS
configuration with its SQL module switched on, on the stock schema.sql, with the same 100,000 lines.
Both run in one invocation on this machine, one after the other, each alone.

Load: our own asyncio UDP client sending pre-encoded pyrad Access-Requests (PAP, with
Message-Authenticator, random users). Throughput: a bounded window of requests in flight for a fixed
time. Latency: a fixed offered load of 1,000 requests/s, each reply timed by the kernel's receive
timestamp (SO_TIMESTAMPNS) so the load generator's own scheduling is not counted. Only authentic
Access-Accepts count as success; rejects, timeouts and bad replies are reported as errors.

    python tools/bench_radius.py
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import random
import resource
import secrets
import socket
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from pyrad import packet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from provisioning.radius.coa import dictionary  # noqa: E402
from tools import freeradius, processes  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
STOCK_SCHEMA = Path("/etc/freeradius/3.0/mods-config/sql/main/postgresql/schema.sql")
LINES = 100_000
# (group, down kbit/s, up kbit/s): plans are radusergroup groups with rate limits in radgroupreply.
PLANS = (
    ("plan-s", 50_000, 10_000),
    ("plan-m", 100_000, 40_000),
    ("plan-l", 250_000, 50_000),
    ("plan-xl", 1_000_000, 200_000),
)
SOCKETS = 4
WINDOW_PER_SOCKET = 24  # requests in flight per socket during the throughput run (96 in all)
THROUGHPUT_S = 15.0
MAX_RATE_PER_S = 8_000  # packets are encoded for at most this rate; a run that reaches it ends early
LATENCY_RATE_PER_S = 1_000
LATENCY_S = 10.0
WARMUP = 2_000
ROUNDS = 3  # the throughput and the latency runs are each split into this many alternating slices
TIMEOUT_S = 2.0
OUR_THREADS = int(os.environ.get("OT_BENCH_RADIUS_THREADS", "8"))
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; the socket module does not export it
TIMESPEC = struct.Struct("@ll")


def password(n: int) -> str:
    return f"pw{n:06d}x"


def username(n: int) -> str:
    return f"l{n:06d}"


# --- the databases ------------------------------------------------------------------------------------


async def prepare(name: str, *, schema: str, secret: str) -> str:
    """A fresh database ``name`` with the RADIUS tables (``schema``: "alembic" = our migrations, "stock" =
    Debian's schema.sql), 100,000 lines, the plan groups and the NAS 127.0.0.1; returns its DSN."""
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
    if schema == "alembic":
        from app import migrate

        await asyncio.to_thread(migrate.upgrade, dsn.replace("postgresql://", "postgresql+asyncpg://"))
    connection = await asyncpg.connect(dsn)
    try:
        if schema == "stock":
            await connection.execute(await asyncio.to_thread(STOCK_SCHEMA.read_text))
        columns = ["username", "attribute", "op", "value"]
        await connection.copy_records_to_table(
            "radcheck",
            records=((username(n), "Cleartext-Password", ":=", password(n)) for n in range(LINES)),
            columns=columns,
        )
        await connection.copy_records_to_table("radreply", records=_reply_rows(), columns=columns)
        await connection.copy_records_to_table(
            "radusergroup",
            records=((username(n), PLANS[n % len(PLANS)][0], 1) for n in range(LINES)),
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
        # Both databases start measured from the same state: statistics current, loading written out.
        await connection.execute("VACUUM ANALYZE")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()
    return dsn


def _reply_rows() -> list[tuple[str, str, str, str]]:
    rows = []
    for n in range(LINES):
        rows.append((username(n), "Framed-IP-Address", ":=", f"100.{64 + n // 65536}.{n // 256 % 256}.{n % 256}"))
        rows.append((username(n), "Delegated-IPv6-Prefix", ":=", f"2001:db8:{n // 256:x}:{(n % 256) * 256:x}::/56"))
    return rows


async def drop(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def backend_pids(dsn: str) -> list[int]:
    """PostgreSQL server processes serving the database (FreeRADIUS's connections), for CPU accounting."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


# --- the requests ---------------------------------------------------------------------------------------


@dataclass
class Encoded:
    """Pre-encoded Access-Requests for one socket: for each RADIUS id, packets with that id."""

    by_id: list[list[bytes]]
    cursor: list[int] = field(default_factory=lambda: [0] * 256)

    def take(self, ident: int) -> bytes | None:
        queue, k = self.by_id[ident], self.cursor[ident]
        if k >= len(queue):
            return None
        self.cursor[ident] = k + 1
        return queue[k]


def encode(secret: str, count: int, rng: random.Random) -> list[list[list[bytes]]]:
    """About ``count`` PAP Access-Requests with Message-Authenticator, for each socket a list per RADIUS id
    (with a margin per id, since replies free ids out of order). Every packet is sent once: a repeated id
    and authenticator would be answered from FreeRADIUS's duplicate cache without a database lookup."""
    dictionary_ = dictionary()
    sockets: list[list[list[bytes]]] = []
    per_socket = (count // SOCKETS // 256 + 2) * 256
    for _ in range(SOCKETS):
        by_id: list[list[bytes]] = [[] for _ in range(256)]
        for k in range(per_socket):
            n = rng.randrange(LINES)
            request = packet.AuthPacket(
                code=packet.AccessRequest,
                id=k % 256,
                secret=secret.encode(),
                dict=dictionary_,
                message_authenticator=True,
                User_Name=username(n),
                NAS_IP_Address="127.0.0.1",
            )
            request["User-Password"] = request.PwCrypt(password(n))
            by_id[k % 256].append(request.RequestPacket())
        sockets.append(by_id)
    return sockets


def fresh(packets: list[list[list[bytes]]]) -> list[Encoded]:
    """Cursors over encoded packets, one per socket. Two servers may get the same packets: the duplicate
    cache is per server."""
    return [Encoded(by_id) for by_id in packets]


# --- the load generator ---------------------------------------------------------------------------------


@dataclass
class Tally:
    accepts: int = 0
    rejects: int = 0
    timeouts: int = 0
    invalid: int = 0
    latencies_ns: array[int] = field(default_factory=lambda: array("q"))
    last_reply_ns: int = 0

    @property
    def errors(self) -> int:
        return self.rejects + self.timeouts + self.invalid

    def merge(self, other: Tally) -> None:
        self.accepts += other.accepts
        self.rejects += other.rejects
        self.timeouts += other.timeouts
        self.invalid += other.invalid
        self.latencies_ns.extend(other.latencies_ns)


class Lane:
    """One UDP socket to the server with up to 256 requests in flight (one per RADIUS id). Replies are
    read in the event loop's reader callback, with the kernel's receive timestamp, and checked against
    the Response Authenticator."""

    def __init__(self, server: tuple[str, int], encoded: Encoded, secret: bytes, tally: Tally) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.connect(server)
        self.sock.setblocking(False)
        self.encoded, self.secret, self.tally = encoded, secret, tally
        self.free: deque[int] = deque(range(256))
        self.sent_ns = [0] * 256
        self.authenticators: list[bytes] = [b""] * 256
        self.on_reply: Callable[[Lane], None] = lambda lane: None
        self.exhausted = False

    @property
    def in_flight(self) -> int:
        return 256 - len(self.free)

    def send(self) -> bool:
        """Send the next request on a free id; False when no id is free or the packets ran out."""
        if not self.free:
            return False
        ident = self.free.popleft()
        raw = self.encoded.take(ident)
        if raw is None:
            self.free.appendleft(ident)
            self.exhausted = True
            return False
        self.authenticators[ident] = raw[4:20]
        self.sent_ns[ident] = time.time_ns()
        self.sock.send(raw)
        return True

    def readable(self) -> None:
        ancillary = socket.CMSG_SPACE(TIMESPEC.size)
        while True:
            try:
                data, cmsgs, _, _ = self.sock.recvmsg(4096, ancillary)
            except BlockingIOError:
                return
            arrived = time.time_ns()
            for level, kind, value in cmsgs:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    seconds, nanoseconds = TIMESPEC.unpack(value[: TIMESPEC.size])
                    arrived = seconds * 1_000_000_000 + nanoseconds
            if len(data) < 20:
                self.tally.invalid += 1
                continue
            ident = data[1]
            sent = self.sent_ns[ident]
            if sent == 0:
                continue  # a late answer to a request already counted as timed out
            expected = hashlib.md5(  # noqa: S324 - RFC 2865's Response Authenticator is MD5
                data[:4] + self.authenticators[ident] + data[20:] + self.secret
            ).digest()
            self.sent_ns[ident] = 0
            self.free.append(ident)
            if expected != data[4:20]:
                self.tally.invalid += 1
            elif data[0] == packet.AccessAccept:
                self.tally.accepts += 1
                self.tally.latencies_ns.append(arrived - sent)
            else:
                self.tally.rejects += 1
            self.tally.last_reply_ns = arrived
            self.on_reply(self)

    def expire(self, now_ns: int) -> None:
        limit = int(TIMEOUT_S * 1e9)
        for ident, sent in enumerate(self.sent_ns):
            if sent and now_ns - sent > limit:
                self.sent_ns[ident] = 0
                self.free.append(ident)
                self.tally.timeouts += 1
                self.on_reply(self)

    def close(self) -> None:
        self.sock.close()


async def _run(
    port: int, encoded: list[Encoded], secret: str, drive: Callable[[list[Lane]], Coroutine[None, None, None]]
) -> Tally:
    """Open the lanes, let ``drive`` send, expire requests unanswered after TIMEOUT_S, wait for the rest."""
    loop = asyncio.get_running_loop()
    tally = Tally()
    lanes = [Lane(("127.0.0.1", port), e, secret.encode(), tally) for e in encoded]
    for lane in lanes:
        loop.add_reader(lane.sock.fileno(), lane.readable)
    try:
        driver = asyncio.create_task(drive(lanes))
        while not driver.done() or any(lane.in_flight for lane in lanes):
            await asyncio.sleep(0.05)
            now = time.time_ns()
            for lane in lanes:
                lane.expire(now)
        await driver
    finally:
        for lane in lanes:
            loop.remove_reader(lane.sock.fileno())
            lane.close()
    return tally


async def throughput(port: int, encoded: list[Encoded], secret: str, seconds: float) -> tuple[float, Tally]:
    """Keep WINDOW_PER_SOCKET requests in flight on every socket for ``seconds``; returns the time from the
    first request to the last reply, and what came back."""
    started = time.time_ns()
    deadline = started + int(seconds * 1e9)

    def refill(lane: Lane) -> None:
        if time.time_ns() < deadline:
            while lane.in_flight < WINDOW_PER_SOCKET and lane.send():
                pass

    async def drive(lanes: list[Lane]) -> None:
        for lane in lanes:
            lane.on_reply = refill
            refill(lane)
        # Replies drive the sending (refill); this only marks the end. A lane out of packets stops early,
        # which leaves the rate (accepts over the time to the last reply) correct.
        await asyncio.sleep(seconds)
        if any(lane.exhausted for lane in lanes):
            print("warning: the throughput run used up its packets before its time", file=sys.stderr)

    tally = await _run(port, encoded, secret, drive)
    return max(0.0, (tally.last_reply_ns - started) / 1e9), tally


async def fixed_rate(port: int, encoded: list[Encoded], secret: str, rate: float, seconds: float) -> Tally:
    """Offer ``rate`` requests/s, spread over the sockets in turn, for ``seconds``."""

    async def drive(lanes: list[Lane]) -> None:
        total = int(rate * seconds)
        started = time.perf_counter()
        sent = 0
        while sent < total:
            due = min(total, int((time.perf_counter() - started) * rate) + 1)
            while sent < due:
                lanes[sent % len(lanes)].send()
                sent += 1
            await asyncio.sleep(max(0.0, started + sent / rate - time.perf_counter()))

    return await _run(port, encoded, secret, drive)


# --- measuring ---------------------------------------------------------------------------------------


def cpu_ticks(pids: list[int]) -> int:
    """CPU time (user + system, in clock ticks) the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def percentile_ms(values: array[int], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] / 1e6


@dataclass
class Contender:
    """One running server under test, its requests (each sent once) and what was measured of it."""

    name: str
    port: int
    dsn: str
    process: subprocess.Popen[bytes]
    warmup: list[Encoded]
    peak: list[Encoded]
    rated: list[Encoded]
    accepts: int = 0
    seconds: float = 0.0
    peak_tally: Tally = field(default_factory=Tally)
    rated_tally: Tally = field(default_factory=Tally)
    radius_ticks: int = 0
    database_ticks: int = 0
    loadgen_s: float = 0.0

    def throughput_round(self, secret: str, seconds: float) -> None:
        backends = asyncio.run(backend_pids(self.dsn))
        radius, database, own = cpu_ticks([self.process.pid]), cpu_ticks(backends), os.times()
        elapsed, tally = asyncio.run(throughput(self.port, self.peak, secret, seconds))
        self.radius_ticks += cpu_ticks([self.process.pid]) - radius
        self.database_ticks += cpu_ticks(backends) - database
        after = os.times()
        self.loadgen_s += after.user + after.system - own.user - own.system
        self.accepts += tally.accepts
        self.seconds += elapsed
        self.peak_tally.merge(tally)

    def latency_round(self, secret: str, seconds: float) -> None:
        self.rated_tally.merge(asyncio.run(fixed_rate(self.port, self.rated, secret, LATENCY_RATE_PER_S, seconds)))

    def figures(self) -> dict[str, float]:
        handled = max(1, self.peak_tally.accepts + self.peak_tally.rejects)
        hz = os.sysconf("SC_CLK_TCK")
        per_s = self.accepts / self.seconds if self.seconds else 0.0
        figures = {
            "per_s": per_s,
            "errors": self.peak_tally.errors + self.rated_tally.errors,
            "p50_ms_at_1000": percentile_ms(self.rated_tally.latencies_ns, 0.5),
            "p99_ms_at_1000": percentile_ms(self.rated_tally.latencies_ns, 0.99),
            "rss_mib": processes.peak_rss_mib(self.process.pid),
        }
        t, r = self.peak_tally, self.rated_tally
        print(
            f"{self.name:>5}: {per_s:.0f} accepts/s ({t.accepts} accepts, {t.rejects} rejects, {t.timeouts} timeouts,"
            f" {t.invalid} invalid); at {LATENCY_RATE_PER_S}/s: p50 {figures['p50_ms_at_1000']:.2f} ms,"
            f" p99 {figures['p99_ms_at_1000']:.2f} ms, {r.errors} errors; CPU per request at max:"
            f" FreeRADIUS {self.radius_ticks / hz / handled * 1e6:.0f} us,"
            f" PostgreSQL {self.database_ticks / hz / handled * 1e6:.0f} us,"
            f" load generator {self.loadgen_s / handled * 1e6:.0f} us; peak RSS {figures['rss_mib']:.1f} MiB",
            file=sys.stderr,
        )
        return figures


def compete(contenders: list[Contender], secret: str) -> dict[str, dict[str, float]]:
    """Warm every server up, then measure them in turns: THROUGHPUT_S and LATENCY_S each, split into
    ROUNDS alternating slices, so a change in this machine's speed (other work, other VMs) during the run
    affects all alike. While one is measured, the others are idle."""
    collected = gc.isenabled()
    gc.collect()
    gc.freeze()  # the encoded packets never change: keep them out of the collector's passes
    gc.disable()  # and no collector pause in the middle of a latency measurement
    try:
        for contender in contenders:
            asyncio.run(fixed_rate(contender.port, contender.warmup, secret, rate=1_000, seconds=WARMUP / 1_000))
        for _ in range(ROUNDS):
            for contender in contenders:
                contender.throughput_round(secret, THROUGHPUT_S / ROUNDS)
        for _ in range(ROUNDS):
            for contender in contenders:
                contender.latency_round(secret, LATENCY_S / ROUNDS)
    finally:
        if collected:
            gc.enable()
        gc.unfreeze()
    return {contender.name: contender.figures() for contender in contenders}


def bench_radius() -> dict[str, float]:
    """Ours against Debian's stock configuration, 100,000 lines each; see the module docstring."""
    secret = secrets.token_urlsafe(24)
    rng = random.Random(7)
    suffix = f"{os.getpid()}_{secrets.token_hex(3)}"
    setups = (("ours", "alembic"), ("stock", "stock"))
    databases = {name: f"ot_bench_radius_{name}_{suffix}" for name, _ in setups}
    warmup = encode(secret, WARMUP, rng)
    peak = encode(secret, int(MAX_RATE_PER_S * THROUGHPUT_S), rng)
    rated = encode(secret, int(LATENCY_RATE_PER_S * LATENCY_S), rng)
    contenders: list[Contender] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-radius-") as tmp:
            for name, schema in setups:
                database = databases[name]
                dsn = asyncio.run(prepare(database, schema=schema, secret=secret))
                auth, acct = processes.free_udp_port(), processes.free_udp_port()
                if name == "ours":
                    directory = freeradius.render(
                        Path(tmp) / name, db_name=database, auth_port=auth, acct_port=acct, threads=OUR_THREADS
                    )
                else:
                    directory = freeradius.render_stock(
                        Path(tmp) / name, db_name=database, nas_secret=secret, auth_port=auth, acct_port=acct
                    )
                contenders.append(
                    Contender(
                        name,
                        auth,
                        dsn,
                        freeradius.start(directory),
                        warmup=fresh(warmup),
                        peak=fresh(peak),
                        rated=fresh(rated),
                    )
                )
            results = compete(contenders, secret)
    finally:
        for contender in contenders:
            processes.stop(contender.process)
        for database in databases.values():
            asyncio.run(drop(database))
    ours, stock = results["ours"], results["stock"]
    return {
        "radius_auth_per_s": round(ours["per_s"], 1),
        "radius_auth_stock_per_s": round(stock["per_s"], 1),
        "radius_speedup_vs_stock": round(ours["per_s"] / stock["per_s"], 2) if stock["per_s"] else float("nan"),
        "radius_auth_p50_ms": round(ours["p50_ms_at_1000"], 2),
        "radius_auth_p99_ms": round(ours["p99_ms_at_1000"], 2),
        "radius_auth_stock_p99_ms": round(stock["p99_ms_at_1000"], 2),
        "radius_errors": ours["errors"],
        "radius_stock_errors": stock["errors"],
        "radius_peak_rss_mib": round(ours["rss_mib"], 1),
        "radius_stock_peak_rss_mib": round(stock["rss_mib"], 1),
        "radius_loadgen_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    for key, value in bench_radius().items():
        print(f"{key:>32}: {value}")
