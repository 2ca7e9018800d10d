"""Render our FreeRADIUS configuration (deploy/freeradius) and run the server on loopback.

    python -m tools.freeradius start --database NAME [--auth-port 1812 --acct-port 1813]
    python -m tools.freeradius stop

``profile="stock"`` renders FreeRADIUS's stock SQL setup instead (accepts logged to radpostauth, DEFAULT
profile lookups, no Message-Authenticator guard, stock pool sizes) for the benchmark's reference run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "deploy" / "freeradius"
PIDFILE = ROOT / "build" / "freeradius.pid"
BINARY = "/usr/sbin/freeradius"

GUARD = """\t\t# BlastRADIUS (CVE-2024-3596): refuse any Access-Request without Message-Authenticator. Clients come
\t\t# from the nas table, where 3.2.1 offers no require_message_authenticator, so it is enforced here.
\t\tif (!&Message-Authenticator) {
\t\t\treject
\t\t}"""


@dataclass(frozen=True)
class Running:
    process: subprocess.Popen[bytes]
    directory: Path
    log: Path
    auth_port: int
    acct_port: int


def render(
    target: Path,
    *,
    db_name: str,
    db_host: str = "127.0.0.1",
    db_port: int = 5432,
    db_user: str = "postgres",
    listen: str = "127.0.0.1",
    auth_port: int = 1812,
    acct_port: int = 1813,
    threads: int = 32,
    profile: str = "opentelecom",
    nas_network: str = "127.0.0.0/8",
) -> Path:
    """Write radiusd.conf and sql.conf for one server into ``target``; returns the directory."""
    target.mkdir(parents=True, exist_ok=True)
    run_dir = target / "run"
    run_dir.mkdir(exist_ok=True)
    conninfo = f"host={db_host} port={db_port} dbname={db_name} user={db_user}"
    stock = profile == "stock"
    if not stock:
        # radpostauth is an audit trail of rejects: losing its last milliseconds on a crash is acceptable,
        # waiting for the WAL flush on every login is not.
        conninfo += " options='-c synchronous_commit=off'"
    values = {
        "CONFDIR": str(target),
        "NAS_NETWORK": nas_network,
        "RUNDIR": str(run_dir),
        "LISTEN": listen,
        "AUTH_PORT": str(auth_port),
        "ACCT_PORT": str(acct_port),
        "THREADS": str(threads),
        "AUTHORIZE_GUARD": "" if stock else GUARD,
        "POSTAUTH_ACCEPT": "\t\tsql"
        if stock
        else "\t\t# accepts are not logged per request: radacct records every session",
        "CONNINFO": conninfo,
        "CONNINFO_NOTE": "stock" if stock else "reject log written without waiting for the WAL flush",
        "READ_PROFILES": "yes" if stock else "no",
        # The stock pool: start 5, min 3, up to the thread count, 10 spare; ours: fixed at the thread count.
        "POOL_START": "5" if stock else str(threads),
        "POOL_MIN": "3" if stock else str(threads),
        "POOL_MAX": str(threads),
        "POOL_SPARE": "10" if stock else "0",
    }
    for name in ("radiusd.conf", "sql.conf"):
        text = (TEMPLATES / f"{name}.in").read_text()
        for key, value in values.items():
            text = text.replace(f"@{key}@", value)
        (target / name).write_text(text)
    # FreeRADIUS reads <confdir>/dictionary after its own; ours adds nothing, so it only includes the stock one.
    (target / "dictionary").write_text("$INCLUDE /usr/share/freeradius/dictionary\n")
    return target


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    """Whether something answers a Status-Server on the auth port (any reply, even a drop, is not enough:
    wait for the socket to be bound)."""
    probe = subprocess.run(
        ["ss", "-H", "-u", "-l", "-n", f"sport = :{port}"], capture_output=True, text=True, timeout=5, check=False
    )
    return str(port) in probe.stdout


def start(directory: Path, *, auth_port: int, acct_port: int, timeout_s: float = 20.0) -> Running:
    """Start FreeRADIUS in the foreground on the rendered config; wait until it listens."""
    log = directory / "run" / "radiusd.log"
    handle = log.open("wb")
    process = subprocess.Popen(
        [BINARY, "-f", "-l", "stdout", "-d", str(directory)], stdout=handle, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"FreeRADIUS exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        if _answers("127.0.0.1", auth_port) and "Ready to process requests" in log.read_text(errors="replace"):
            return Running(process, directory, log, auth_port, acct_port)
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"FreeRADIUS did not start within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def stop(running: Running) -> None:
    running.process.terminate()
    try:
        running.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--database", help="PostgreSQL database name")
    parser.add_argument("--auth-port", type=int, default=1812)
    parser.add_argument("--acct-port", type=int, default=1813)
    args = parser.parse_args()
    if args.action == "stop":
        if PIDFILE.exists():
            pid = int(PIDFILE.read_text())
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            PIDFILE.unlink()
            print(f"FreeRADIUS ({pid}) stopped")
        return
    if not args.database:
        parser.error("--database is required to start")
    directory = render(
        ROOT / "build" / "freeradius", db_name=args.database, auth_port=args.auth_port, acct_port=args.acct_port
    )
    running = start(directory, auth_port=args.auth_port, acct_port=args.acct_port)
    PIDFILE.parent.mkdir(parents=True, exist_ok=True)
    PIDFILE.write_text(str(running.process.pid))
    print(
        f"FreeRADIUS listening on 127.0.0.1:{args.auth_port}/{args.acct_port}"
        f" (pid {running.process.pid}, log {running.log})"
    )


if __name__ == "__main__":
    main()
