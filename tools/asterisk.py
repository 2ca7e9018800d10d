"""Render openTelecom's Asterisk configuration (deploy/asterisk) into the Debian unstable root and run it.

    python -m tools.asterisk start --database NAME [--sip-port 5060 --ami-port 5038 ...]
    python -m tools.asterisk stop

Asterisk 22 is not in this Debian release: it runs chrooted in the root that tools/asterisk_root.sh builds
once (OPENTELECOM_ASTERISK_ROOT, by default /var/cache/opentelecom/asterisk-root). ``render`` writes one
named instance's configuration into that root, under /var/lib/opentelecom/asterisk/<name>: its etc/
holds what Asterisk reads, and everything the instance writes (control socket, log, astdb) stays beside
it, so the tests' instance and the one of ``make services`` run side by side from the same root.
``start`` runs Asterisk in a child process and returns once it answers an AMI login, has booted fully
and has loaded the modules we rely on; ``stop`` ends it. The CLI runs the instance "services" and keeps
its pid in build/asterisk.pid.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tools.processes import save_private_json, stop, stop_recorded

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "deploy" / "asterisk"
PIDFILE = ROOT / "build" / "asterisk.pid"
DEFAULT_ROOT = Path("/var/cache/opentelecom/asterisk-root")
ROOT_ENV = "OPENTELECOM_ASTERISK_ROOT"
# Written last by tools/asterisk_root.sh: a root without it is unfinished.
COMPLETE_MARKER = ".opentelecom-complete"
# Inside the root.
INSTANCES = "/var/lib/opentelecom/asterisk"
BINARY = "/usr/sbin/asterisk"
SERVER_FILE = "server.json"
SERVICES_INSTANCE = "services"
# The packaged folders Asterisk writes to or reads as its run user; the package made them the asterisk
# user's, which inside the root is some unrelated uid of this machine.
PACKAGE_DIRS = ("etc/asterisk", "var/lib/asterisk", "var/spool/asterisk", "var/log/asterisk", "usr/share/asterisk")
# Without any of these openTelecom's telephony does not work: a start that lacks one fails.
REQUIRED_MODULES = (
    "res_config_pgsql.so",
    "res_sorcery_realtime.so",
    "res_pjsip.so",
    "chan_pjsip.so",
    "res_pjsip_registrar.so",
    "res_pjsip_authenticator_digest.so",
    "res_pjsip_endpoint_identifier_user.so",
    "pbx_config.so",
    "app_dial.so",
    "app_echo.so",
    "cdr_pgsql.so",
)
ECHO_NUMBER = "*43"
_INSTANCE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def asterisk_root() -> Path:
    """Where the Debian unstable root with Asterisk is (tools/asterisk_root.sh builds it)."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def ensure_root(root: Path) -> None:
    """Refuse an unfinished or missing root with what to do about it."""
    if not (root / COMPLETE_MARKER).is_file():
        raise RuntimeError(f"no finished Asterisk root in {root}: run tools/asterisk_root.sh (make test does)")


@dataclass(frozen=True)
class Rendered:
    """What ``start`` needs to know about a rendered instance (kept in server.json beside its etc/)."""

    root: str
    instance: str
    sip_listen: str
    sip_port: int
    ami_listen: str
    ami_port: int
    ami_user: str
    ami_secret: str

    @property
    def directory(self) -> Path:
        """The instance's directory, seen from outside the root."""
        return Path(self.root) / self.instance.lstrip("/")

    @property
    def log(self) -> Path:
        return self.directory / "log" / "messages.log"

    @property
    def console_log(self) -> Path:
        """Asterisk's own stdout and stderr: what it says before its logger is up."""
        return self.directory / "log" / "console.log"

    @classmethod
    def load(cls, directory: Path) -> Rendered:
        return cls(**json.loads((directory / SERVER_FILE).read_text()))

    def save(self) -> None:
        save_private_json(self.directory / SERVER_FILE, self)


def _module_dir(root: Path) -> str:
    found = sorted(root.glob("usr/lib/*/asterisk/modules"))
    if not found:
        raise RuntimeError(f"no Asterisk modules in {root}/usr/lib/*/asterisk/modules")
    return "/" + str(found[0].relative_to(root))


def render(
    name: str,
    *,
    db_name: str,
    db_host: str = "127.0.0.1",
    db_port: int = 5432,
    db_user: str = "postgres",
    db_password: str = "",
    sip_listen: str = "127.0.0.1",
    sip_port: int = 5060,
    ami_listen: str = "127.0.0.1",
    ami_port: int = 5038,
    echo_number: str = ECHO_NUMBER,
    emergency_trunk: str = "",
    root: Path | None = None,
) -> Path:
    """Write instance ``name``'s configuration into the root; return the instance's directory (host path).

    The AMI secret is generated anew each time. Values go into Asterisk's config syntax verbatim, so
    those that would end a line or start a comment there are refused.
    """
    root = (root or asterisk_root()).resolve()
    ensure_root(root)
    if not _INSTANCE_NAME.match(name):
        raise ValueError(f"instance name {name!r}: lower-case letters, digits and dashes only")
    instance = f"{INSTANCES}/{name}"
    rendered = Rendered(
        root=str(root),
        instance=instance,
        sip_listen=sip_listen,
        sip_port=sip_port,
        ami_listen=ami_listen,
        ami_port=ami_port,
        ami_user="opentelecom",
        ami_secret=secrets.token_urlsafe(32),
    )
    values = {
        "INSTANCE": instance,
        "MODULE_DIR": _module_dir(root),
        "DB_HOST": db_host,
        "DB_PORT": str(db_port),
        "DB_NAME": db_name,
        "DB_USER": db_user,
        "DB_PASSWORD": db_password,
        "SIP_LISTEN": sip_listen,
        "SIP_PORT": str(sip_port),
        "AMI_LISTEN": ami_listen,
        "AMI_PORT": str(ami_port),
        "AMI_USER": rendered.ami_user,
        "AMI_SECRET": rendered.ami_secret,
        "ECHO_NUMBER": echo_number,
        "EMERGENCY_TRUNK": emergency_trunk,
    }
    for key, value in values.items():
        if any(character in value for character in ";\n\r"):
            raise ValueError(f"{key} may not contain ';' or a line break: Asterisk's config syntax has no room for it")
    directory = rendered.directory
    etc = directory / "etc"
    # A fresh etc/ each time: a template removed from deploy/asterisk must not live on in an old copy.
    if etc.exists():
        shutil.rmtree(etc)
    for sub in ("etc", "db", "spool", "run", "log", "cache"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    # Database connection and AMI secret: for their owner only.
    directory.chmod(0o700)
    for template in sorted(TEMPLATES.glob("*.conf.in")):
        text = template.read_text()
        for key, value in values.items():
            text = text.replace(f"@{key}@", value)
        leftover = re.findall(r"@[A-Z_]+@", text)
        if leftover:
            raise ValueError(f"{template.name} has placeholders render() does not fill: {sorted(set(leftover))}")
        target = etc / template.name.removesuffix(".in")
        target.write_text(text)
        target.chmod(0o600)
    rendered.save()
    return directory


def _port_in_use(kind: int, address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        if kind == socket.SOCK_STREAM:
            # As Asterisk binds AMI: connections of a previous run in TIME_WAIT do not hold the port.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return True
    return False


def log_tail(directory: Path, characters: int = 4000) -> str:
    """The end of an instance's log and console output, for error messages."""
    rendered = Rendered.load(directory)
    parts = []
    for path in (rendered.log, rendered.console_log):
        if path.exists() and path.stat().st_size:
            parts.append(f"--- {path}\n{path.read_text(errors='replace')[-characters:]}")
    return "\n".join(parts) or "(no log yet)"


def prepare_root(root: Path) -> None:
    """What running Asterisk as root inside the root needs: its folders root's, and /proc mounted."""
    for relative in PACKAGE_DIRS:
        path = root / relative
        if path.exists() and (path.stat().st_uid != 0 or path.stat().st_gid != 0):
            subprocess.run(["chown", "-R", "root:root", str(path)], check=True)
    proc = root / "proc"
    if not os.path.ismount(proc):
        subprocess.run(["mount", "-t", "proc", "proc", str(proc)], check=True)


class AmiError(Exception):
    """AMI answered, but not as a ready Asterisk does."""


class _AmiProbe:
    """A minimal blocking AMI session for the readiness check (the application's client lives in voip/)."""

    def __init__(self, rendered: Rendered, timeout_s: float):
        self.sock = socket.create_connection((rendered.ami_listen, rendered.ami_port), timeout=timeout_s)
        self.buffer = b""
        self.counter = 0
        self.events: list[dict[str, str]] = []
        banner = self._read_until(b"\r\n")
        if not banner.startswith(b"Asterisk Call Manager"):
            raise AmiError(f"unexpected AMI banner {banner!r}")

    def close(self) -> None:
        self.sock.close()

    def _read_until(self, separator: bytes) -> bytes:
        while separator not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("AMI closed the connection")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(separator, 1)
        return head

    def message(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        for line in self._read_until(b"\r\n\r\n").decode(errors="replace").split("\r\n"):
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            # A CLI command's answer comes as one Output header per line.
            if key == "Output" and key in fields:
                fields[key] += "\n" + value
            else:
                fields.setdefault(key, value)
        return fields

    def action(self, name: str, **headers: str) -> dict[str, str]:
        """Send an action; return its response (events arriving meanwhile are kept for ``event``)."""
        self.counter += 1
        action_id = f"probe-{self.counter}"
        lines = [f"Action: {name}", f"ActionID: {action_id}", *(f"{k}: {v}" for k, v in headers.items())]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while True:
            message = self.message()
            if message.get("ActionID") == action_id and "Response" in message:
                return message
            if "Event" in message:
                self.events.append(message)

    def event(self, name: str) -> dict[str, str]:
        for index, message in enumerate(self.events):
            if message.get("Event") == name:
                return self.events.pop(index)
        while True:
            message = self.message()
            if message.get("Event") == name:
                return message


def _probe(rendered: Rendered, timeout_s: float) -> None:
    """Log in to AMI, wait for FullyBooted and check the modules we need; raise when not ready."""
    ami = _AmiProbe(rendered, timeout_s)
    try:
        login = ami.action("Login", Username=rendered.ami_user, Secret=rendered.ami_secret)
        if login.get("Response") != "Success":
            raise AmiError(f"AMI login refused: {login.get('Message')}")
        # Sent to a session once Asterisk has loaded every module (at once if it already has).
        ami.event("FullyBooted")
        # ModuleCheck also says yes for a module that declined to load; the CLI listing shows "Running".
        listing = ami.action("Command", Command="module show").get("Output", "")
        running = {line.split()[0] for line in listing.splitlines() if " Running " in line}
        missing = [module for module in REQUIRED_MODULES if module not in running]
        if missing:
            raise AmiError(f"Asterisk booted without {', '.join(missing)} running")
        # res_config_pgsql loads even when it cannot reach the database; PJSIP would then know no endpoint.
        status = ami.action("Command", Command="realtime show pgsql status").get("Output", "")
        if not status.startswith("Connected to"):
            raise AmiError(f"res_config_pgsql is not connected to the database: {status or 'no status'}")
        ami.action("Logoff")
    finally:
        ami.close()


def start(directory: Path, *, timeout_s: float = 60.0, detach: bool = False) -> subprocess.Popen[bytes]:
    """Run Asterisk on a rendered instance and return once it is ready (see ``_probe``).

    ``detach`` starts it in its own session, so it outlives the caller (the CLI). Raises RuntimeError with
    the end of Asterisk's log when it exits, is not ready within ``timeout_s``, or lacks a module.
    """
    rendered = Rendered.load(directory)
    root = Path(rendered.root)
    ensure_root(root)
    if _port_in_use(socket.SOCK_DGRAM, rendered.sip_listen, rendered.sip_port):
        raise RuntimeError(f"UDP {rendered.sip_listen}:{rendered.sip_port} (SIP) is already in use")
    if _port_in_use(socket.SOCK_STREAM, rendered.ami_listen, rendered.ami_port):
        raise RuntimeError(f"TCP {rendered.ami_listen}:{rendered.ami_port} (AMI) is already in use")
    prepare_root(root)
    for stale in (rendered.log, rendered.console_log):
        stale.unlink(missing_ok=True)
    with rendered.console_log.open("wb") as handle:
        # chroot execs Asterisk, so this process is Asterisk itself: its pid is the one to signal.
        process = subprocess.Popen(
            [
                "chroot",
                str(root),
                BINARY,
                "-f",
                "-n",
                "-U",
                "root",
                "-G",
                "root",
                "-C",
                f"{rendered.instance}/etc/asterisk.conf",
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=detach,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"},
        )
    deadline = time.monotonic() + timeout_s
    wait = 0.05
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Asterisk exited with status {process.returncode}:\n{log_tail(directory)}")
        try:
            _probe(rendered, timeout_s=max(0.5, deadline - time.monotonic()))
        except AmiError as error:
            stop(process)
            raise RuntimeError(f"Asterisk is not usable: {error}\n{log_tail(directory)}") from error
        except OSError as error:
            # Not listening yet, or closed on us while still loading: try again shortly.
            last_error = str(error)
        else:
            return process
        time.sleep(wait)
        wait = min(wait * 2, 0.5)
    stop(process)
    raise RuntimeError(f"Asterisk was not ready within {timeout_s:.0f} s ({last_error}):\n{log_tail(directory)}")


def remove_instance(directory: Path) -> None:
    """Delete a stopped instance's directory (the tests' instances)."""
    rendered = Rendered.load(directory)
    if not str(directory.resolve()).startswith(str(Path(rendered.root) / INSTANCES.lstrip("/"))):
        raise ValueError(f"{directory} is not an instance directory")
    shutil.rmtree(directory)


def _stop_from_pidfile() -> str:
    # Only the process this CLI started: Asterisk on the services instance's configuration.
    return stop_recorded(
        PIDFILE,
        "Asterisk",
        lambda command: (
            Path(command[0].decode()).name == "asterisk" and SERVICES_INSTANCE.encode() in b" ".join(command)
        ),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--database", help="the PostgreSQL database holding the ps_* and cdr tables")
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--db-port", type=int, default=5432)
    parser.add_argument("--db-user", default="postgres")
    parser.add_argument("--sip-port", type=int, default=5060)
    parser.add_argument("--ami-port", type=int, default=5038)
    args = parser.parse_args(argv)
    if args.action == "stop":
        print(_stop_from_pidfile())
        return
    if not args.database:
        parser.error("--database is required to start")
    if PIDFILE.exists():
        print(_stop_from_pidfile())
    # The password, if the database needs one, comes from the environment, never from the command line.
    directory = render(
        SERVICES_INSTANCE,
        db_name=args.database,
        db_host=args.db_host,
        db_port=args.db_port,
        db_user=args.db_user,
        db_password=os.environ.get("OPENTELECOM_ASTERISK_DB_PASSWORD", ""),
        sip_port=args.sip_port,
        ami_port=args.ami_port,
    )
    started = time.monotonic()
    try:
        process = start(directory, detach=True)
    except RuntimeError as error:
        sys.exit(str(error))
    PIDFILE.parent.mkdir(parents=True, exist_ok=True)
    PIDFILE.write_text(f"{process.pid}\n")
    print(
        f"Asterisk ready in {time.monotonic() - started:.1f} s: SIP on 127.0.0.1:{args.sip_port} (UDP),"
        f" AMI on 127.0.0.1:{args.ami_port} (user and secret in {directory / SERVER_FILE}), pid {process.pid},"
        f" log {Rendered.load(directory).log}"
    )


if __name__ == "__main__":
    main()
