"""Render openTelecom's FreeRADIUS configuration (deploy/freeradius) into a directory and run the server.

    python -m tools.freeradius start --database NAME [--auth-port 1812 --acct-port 1813 ...]
    python -m tools.freeradius stop

``render`` writes our configuration; ``render_stock`` writes Debian's stock configuration with the SQL
module switched on (the benchmark's reference). ``start`` runs either in the foreground of a child process
and returns once the server has answered a Status-Server; ``stop`` ends it. The CLI keeps the server's pid
in build/freeradius.pid for ``make services``.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pyrad import packet
from pyrad.dictionary import Dictionary

from tools.processes import file_tail, free_udp_port, launch, save_private_json, stop_recorded

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "deploy" / "freeradius"
DICTIONARY = ROOT / "provisioning" / "radius" / "dictionary"
BUILD_DIR = ROOT / "build" / "freeradius"
PIDFILE = ROOT / "build" / "freeradius.pid"
BINARY = "/usr/sbin/freeradius"
STOCK_RADDB = Path("/etc/freeradius/3.0")
# The readiness probe's own source address: any 127/8 address is local on Linux, and this one is no NAS.
PROBE_ADDRESS = "127.0.0.254"
SERVER_FILE = "server.json"
LOG_NAME = "radiusd.log"


@dataclass(frozen=True)
class Rendered:
    """What ``start`` needs to know about a rendered configuration (kept in server.json beside it)."""

    listen: str
    auth_port: int
    acct_port: int
    log: str
    probe_source: str
    probe_secret: str

    @classmethod
    def load(cls, directory: Path) -> Rendered:
        return cls(**json.loads((directory / SERVER_FILE).read_text()))

    def save(self, directory: Path) -> None:
        save_private_json(directory / SERVER_FILE, self)


def _directories(target: Path, run_dir: Path | None, log_dir: Path | None) -> tuple[Path, Path, Path]:
    target = target.resolve()
    target.mkdir(parents=True, exist_ok=True)
    # The rendered files hold the database connection and secrets: for their owner only.
    target.chmod(0o700)
    run = (run_dir or target / "run").resolve()
    log = (log_dir or target / "log").resolve()
    for directory in (run, log):
        directory.mkdir(parents=True, exist_ok=True)
    return target, run, log


def render(
    target_dir: Path,
    *,
    db_name: str,
    db_host: str = "127.0.0.1",
    db_port: int = 5432,
    db_user: str = "postgres",
    listen: str = "127.0.0.1",
    auth_port: int = 1812,
    acct_port: int = 1813,
    run_dir: Path | None = None,
    log_dir: Path | None = None,
    threads: int = 8,
    nas_network: str = "127.0.0.0/8",
    probe_address: str = PROBE_ADDRESS,
) -> Path:
    """Write our configuration (radiusd.conf, sql.conf, dictionary) into ``target_dir``; return it.

    ``threads`` is both the server's thread count and its number of database connections. A NAS sending
    from an address in ``nas_network`` that was not in the nas table at start is looked up there then.
    """
    target, run, log = _directories(target_dir, run_dir, log_dir)
    probe_secret = secrets.token_hex(24)
    values = {
        "CONFDIR": str(target),
        "RUN_DIR": str(run),
        "LOG_DIR": str(log),
        "LISTEN": listen,
        "AUTH_PORT": str(auth_port),
        "ACCT_PORT": str(acct_port),
        "THREADS": str(threads),
        "POOL": str(threads),
        "NAS_NETWORK": nas_network,
        "PROBE_ADDRESS": probe_address,
        "PROBE_SECRET": probe_secret,
        "DB_HOST": db_host,
        "DB_PORT": str(db_port),
        "DB_NAME": db_name,
        "DB_USER": db_user,
    }
    for name in ("radiusd.conf", "sql.conf"):
        text = (TEMPLATES / f"{name}.in").read_text()
        for key, value in values.items():
            text = text.replace(f"@{key}@", value)
        leftover = re.findall(r"@[A-Z_]+@", text)
        if leftover:
            raise ValueError(f"{name}.in has placeholders render() does not fill: {sorted(set(leftover))}")
        (target / name).write_text(text)
    # FreeRADIUS reads <confdir>/dictionary after its own; we add no attributes of our own.
    (target / "dictionary").write_text("$INCLUDE /usr/share/freeradius/dictionary\n")
    Rendered(listen, auth_port, acct_port, str(log / LOG_NAME), probe_address, probe_secret).save(target)
    return target


def render_stock(
    target_dir: Path,
    *,
    db_name: str,
    nas_secret: str,
    db_host: str = "127.0.0.1",
    db_port: int = 5432,
    db_user: str = "postgres",
    listen: str = "127.0.0.1",
    auth_port: int = 1812,
    acct_port: int = 1813,
    run_dir: Path | None = None,
    log_dir: Path | None = None,
) -> Path:
    """Debian's whole stock configuration with the SQL module on, for comparison: only the database
    connection, the clients (the nas table instead of clients.conf's localhost), the listen addresses and
    ports (loopback; no proxy sockets), the run/log directories and the user (root, as everywhere here)
    differ from what the package installs. ``nas_secret`` is the secret of the NAS 127.0.0.1 in the nas
    table; the readiness probe sends from that NAS, since the stock configuration has no other client."""
    target = target_dir.resolve()
    if target.exists():
        shutil.rmtree(target)
    # symlinks=True keeps mods-enabled/* and sites-enabled/* pointing into the copy (they are relative).
    shutil.copytree(STOCK_RADDB, target, symlinks=True)
    target, run, log = _directories(target, run_dir, log_dir)

    def edit(relative: str, changes: list[tuple[str, str]]) -> None:
        path = target / relative
        if path.is_symlink():
            source = path.resolve()
            path.unlink()
            shutil.copyfile(source, path)
        text = path.read_text()
        for pattern, replacement in changes:
            text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
            if count == 0:
                raise ValueError(f"stock {relative} changed: {pattern!r} not found")
        path.write_text(text)

    edit(
        "radiusd.conf",
        [
            (r"^raddbdir = .*$", f"raddbdir = {target}"),
            (r"^logdir = .*$", f"logdir = {log}"),
            (r"^run_dir = .*$", f"run_dir = {run}"),
            (r"^(\s*)user = freerad$", r"\1user = root"),
            (r"^(\s*)group = freerad$", r"\1group = root"),
            # Stock opens proxy sockets on 0.0.0.0 and [::]; nothing is proxied here, and we bind loopback only.
            (r"^proxy_requests\s*= yes$", "proxy_requests = no"),
        ],
    )
    edit(
        "mods-available/sql",
        [
            (r'^(\s*)dialect = "sqlite"$', r'\1dialect = "postgresql"'),
            (r'^(\s*)driver = "rlm_sql_null"$', r'\1driver = "rlm_sql_${dialect}"'),
            (r'^#(\s*)server = "localhost"$', rf'\1server = "{db_host}"'),
            (r"^#(\s*)port = 3306$", rf"\1port = {db_port}"),
            (r'^#(\s*)login = "radius"$', rf'\1login = "{db_user}"'),
            (r'^(\s*)radius_db = "radius"$', rf'\1radius_db = "{db_name}"'),
            (r"^#(\s*)read_clients = yes$", r"\1read_clients = yes"),
        ],
    )
    (target / "mods-enabled" / "sql").symlink_to("../mods-available/sql")
    # The nas table is the client list; clients.conf's localhost (testing123) would shadow the NAS 127.0.0.1.
    (target / "clients.conf").write_text("# Clients come from the nas table (sql read_clients).\n")
    edit(
        "sites-enabled/default",
        [
            (r"^(\s*)ipaddr = \*$", rf"\1ipaddr = {listen}"),
            (r"^(\s*)ipv6addr = ::(\s.*)?$", r"\1ipv6addr = ::1"),
        ],
    )
    _set_listen_ports(target / "sites-enabled" / "default", auth_port, acct_port)
    # inner-tunnel (EAP's inner server) listens on 127.0.0.1:18120; move it off a fixed port so two servers
    # (the tests' and make services', or a packaged one) can run side by side.
    edit("sites-enabled/inner-tunnel", [(r"^(\s*)port = 18120$", rf"\1port = {free_udp_port()}")])
    Rendered(listen, auth_port, acct_port, str(log / LOG_NAME), "127.0.0.1", nas_secret).save(target)
    return target


def _set_listen_ports(site: Path, auth_port: int, acct_port: int) -> None:
    """Give each ``listen`` section of a stock site the port for its ``type``: stock says ``port = 0`` or
    nothing, which means the well-known port from /etc/services."""
    lines = site.read_text().splitlines(keepends=True)
    out: list[str] = []
    block: list[str] | None = None
    depth = 0
    for line in lines:
        code = line.split("#", 1)[0]
        if block is None:
            if code.strip() == "listen {":
                block, depth = [line], 1
            else:
                out.append(line)
            continue
        block.append(line)
        depth += code.count("{") - code.count("}")
        if depth > 0:
            continue
        kinds = [b.split("=", 1)[1].strip() for b in block if b.split("#", 1)[0].strip().startswith("type =")]
        port = {"auth": auth_port, "acct": acct_port}[kinds[0]]
        ports = [n for n, b in enumerate(block) if b.split("#", 1)[0].strip().startswith("port =")]
        if ports:
            block[ports[0]] = re.sub(r"port = \d+", f"port = {port}", block[ports[0]])
        else:
            block.insert(1, f"\tport = {port}\n")
        out.extend(block)
        block = None
    site.write_text("".join(out))


def log_tail(directory: Path, characters: int = 4000) -> str:
    """The end of a rendered server's log, for error messages."""
    return file_tail(Path(Rendered.load(directory).log), characters)


def _port_holder(address: str, port: int) -> str | None:
    """Who holds ``address:port`` (UDP), or None when it is free: a clear error beats FreeRADIUS's own."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((address, port))
        except OSError:
            pass
        else:
            return None
    listing = subprocess.run(
        ["ss", "-H", "-u", "-l", "-n", "-p", f"sport = :{port}"], capture_output=True, text=True, check=False
    )
    return listing.stdout.strip() or "an unknown process"


def _probe(rendered: Rendered, timeout_s: float) -> bool:
    """Send one Status-Server (with Message-Authenticator) and wait for an authentic answer."""
    dictionary = Dictionary(str(DICTIONARY))
    request = packet.AuthPacket(
        code=packet.StatusServer,
        id=secrets.randbelow(256),
        secret=rendered.probe_secret.encode(),
        dict=dictionary,
        message_authenticator=True,
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((rendered.probe_source, 0))
        sock.settimeout(timeout_s)
        sock.sendto(request.RequestPacket(), (rendered.listen, rendered.auth_port))
        try:
            raw, _ = sock.recvfrom(4096)
        except TimeoutError:
            return False
    try:
        reply = request.CreateReply(packet=raw)
    except packet.PacketError:
        return False
    return bool(request.VerifyReply(reply, raw))


def start(directory: Path, *, timeout_s: float = 20.0, detach: bool = False) -> subprocess.Popen[bytes]:
    """Run FreeRADIUS on a rendered configuration and return once it has answered a Status-Server.

    ``detach`` starts it in its own session, so it outlives the caller (the CLI). Raises RuntimeError with
    the end of the server's log when it exits, or does not answer within ``timeout_s``.
    """
    rendered = Rendered.load(directory)
    for port in (rendered.auth_port, rendered.acct_port):
        holder = _port_holder(rendered.listen, port)
        if holder is not None:
            raise RuntimeError(f"UDP {rendered.listen}:{port} is already in use by: {holder}")
    # Short waits while the server loads, longer ones later: the stock configuration answers a probe it
    # does not accept with a reject delayed by a second.
    return launch(
        [BINARY, "-f", "-l", "stdout", "-d", str(directory)],
        name="FreeRADIUS",
        log=Path(rendered.log),
        ready=lambda wait_s: _probe(rendered, timeout_s=wait_s),
        log_tail=lambda: log_tail(directory),
        timeout_s=timeout_s,
        detach=detach,
        probe_wait_s=0.05,
        max_probe_wait_s=1.5,
        pause_s=0.0,
    )


def _stop_from_pidfile() -> str:
    # Only the process this CLI started: same binary, same configuration directory.
    return stop_recorded(
        PIDFILE,
        "FreeRADIUS",
        lambda command: Path(command[0].decode()).name == Path(BINARY).name and str(BUILD_DIR).encode() in command,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--database", help="PostgreSQL database name (required to start)")
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--db-port", type=int, default=5432)
    parser.add_argument("--db-user", default="postgres")
    parser.add_argument("--listen", default="127.0.0.1")
    parser.add_argument("--auth-port", type=int, default=1812)
    parser.add_argument("--acct-port", type=int, default=1813)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    if args.action == "stop":
        print(_stop_from_pidfile())
        return
    if not args.database:
        parser.error("--database is required to start")
    if PIDFILE.exists():
        print(_stop_from_pidfile())
    directory = render(
        BUILD_DIR,
        db_name=args.database,
        db_host=args.db_host,
        db_port=args.db_port,
        db_user=args.db_user,
        listen=args.listen,
        auth_port=args.auth_port,
        acct_port=args.acct_port,
        threads=args.threads,
    )
    try:
        process = start(directory, detach=True)
    except RuntimeError as error:
        sys.exit(str(error))
    PIDFILE.parent.mkdir(parents=True, exist_ok=True)
    PIDFILE.write_text(f"{process.pid}\n")
    print(
        f"FreeRADIUS listening on {args.listen}:{args.auth_port} (auth) and {args.acct_port} (acct),"
        f" pid {process.pid}, log {Rendered.load(directory).log}"
    )


if __name__ == "__main__":
    main()
