"""Run snmpsim (PyPI) on a free loopback UDP port, serving openTelecom's recordings and those snmpsim ships.

    python -m tools.snmpsim start [--port 1162]
    python -m tools.snmpsim stop

The data directory gets our recordings (deploy/snmpsim/data: the made-up 48-port VDSL2 DSLAM and the
stepping counters) and two walks of real devices that snmpsim ships in its package (a Linux host and a
Windows XP host, recorded/*.snmprec). Each file's name without .snmprec is its SNMPv2c community and its
SNMPv3 context name. SNMPv3 has one authPriv user (SHA, AES) with pass phrases generated per start.

snmpsim runs from this project's own virtualenv: snmpsim 1.2.2 requires pysnmp >=7.1.26,<8, which is the
pysnmp our poller uses, and pip finds no conflict, so no separate virtualenv is needed. It refuses to run
as root unless SNMPSIM_ALLOW_ROOT=true, which ``start`` sets when we are root; pysmi is installed beside
it (dev requirements).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tools.processes import file_tail, free_udp_port, launch, save_private_json, stop_recorded

ROOT = Path(__file__).resolve().parent.parent
OUR_DATA = ROOT / "deploy" / "snmpsim" / "data"
BUILD_DIR = ROOT / "build" / "snmpsim"
PIDFILE = ROOT / "build" / "snmpsim.pid"
SHIPPED = ("recorded/linux-full-walk.snmprec", "recorded/winxp-full-walk.snmprec")
SERVER_FILE = "simulator.json"
PROBE_COMMUNITY = "dslam-vdsl2"


@dataclass(frozen=True)
class Simulator:
    """A started (or rendered) snmpsim: where it listens, its SNMPv3 user, its recordings (communities)."""

    listen: str
    port: int
    v3_user: str
    auth_pass: str
    priv_pass: str
    communities: tuple[str, ...]
    log: str

    @classmethod
    def load(cls, directory: Path) -> Simulator:
        data = json.loads((directory / SERVER_FILE).read_text())
        return cls(**{**data, "communities": tuple(data["communities"])})

    def save(self, directory: Path) -> None:
        save_private_json(directory / SERVER_FILE, self)


def shipped_data_dir() -> Path:
    """snmpsim's own data directory inside its installed package."""
    # By distribution, not by import: run as a script from tools/, this very module would shadow it.
    try:
        distribution = importlib.metadata.distribution("snmpsim")
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError("snmpsim is not installed in this virtualenv (make .venv/.installed-dev)") from None
    return Path(str(distribution.locate_file("snmpsim/data")))


def render(
    directory: Path, *, listen: str = "127.0.0.1", port: int | None = None, extra: tuple[Path, ...] = ()
) -> Path:
    """Fill ``directory`` with a data directory (our recordings, the shipped walks, ``extra`` files) and
    simulator.json; return it."""
    target = directory.resolve()
    data = target / "data"
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    target.chmod(0o700)
    shipped = shipped_data_dir()
    sources = [*sorted(OUR_DATA.glob("*.snmprec")), *(shipped / name for name in SHIPPED), *extra]
    for source in sources:
        shutil.copyfile(source, data / source.name)
    (target / "cache").mkdir(exist_ok=True)
    Simulator(
        listen=listen,
        port=port or free_udp_port(),
        v3_user="otpoller",
        auth_pass=secrets.token_urlsafe(24),
        priv_pass=secrets.token_urlsafe(24),
        communities=tuple(sorted(source.name.removesuffix(".snmprec") for source in sources)),
        log=str(target / "snmpsim.log"),
    ).save(target)
    return target


def _command(directory: Path, simulator: Simulator) -> list[str]:
    responder = Path(sys.executable).parent / "snmpsim-command-responder"
    return [
        str(responder),
        f"--data-dir={directory / 'data'}",
        f"--cache-dir={directory / 'cache'}",
        f"--agent-udpv4-endpoint={simulator.listen}:{simulator.port}",
        f"--v3-user={simulator.v3_user}",
        f"--v3-auth-key={simulator.auth_pass}",
        "--v3-auth-proto=SHA",
        f"--v3-priv-key={simulator.priv_pass}",
        "--v3-priv-proto=AES",
    ]


def probe(simulator: Simulator, timeout_s: float = 0.5) -> bool:
    """One SNMPv2c GET of sysUpTime.0 (Debian's snmpget): does the simulator answer?"""
    command = [
        "snmpget", "-v2c", "-c", PROBE_COMMUNITY, "-r0", f"-t{timeout_s}", "-On", "-m", "",
        f"udp:{simulator.listen}:{simulator.port}", "1.3.6.1.2.1.1.3.0",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout_s + 10)
    return result.returncode == 0 and "Timeticks" in result.stdout


def start(directory: Path, *, timeout_s: float = 60.0, detach: bool = False) -> subprocess.Popen[bytes]:
    """Run snmpsim on a rendered directory; return once it answers (it indexes the recordings first)."""
    simulator = Simulator.load(directory)
    environment = dict(os.environ)
    if os.geteuid() == 0:
        environment["SNMPSIM_ALLOW_ROOT"] = "true"
    return launch(
        _command(directory, simulator),
        name="snmpsim",
        log=Path(simulator.log),
        ready=lambda wait_s: probe(simulator, timeout_s=wait_s),
        log_tail=lambda: log_tail(directory),
        timeout_s=timeout_s,
        detach=detach,
        env=environment,
    )


def log_tail(directory: Path, characters: int = 4000) -> str:
    return file_tail(Path(Simulator.load(directory).log), characters)


def _stop_from_pidfile() -> str:
    return stop_recorded(
        PIDFILE,
        "snmpsim",
        lambda command: (
            any(b"snmpsim-command-responder" in part for part in command[:2])
            and str(BUILD_DIR).encode() in b" ".join(command)
        ),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--listen", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1162)
    args = parser.parse_args(argv)
    if args.action == "stop":
        print(_stop_from_pidfile())
        return
    if PIDFILE.exists():
        print(_stop_from_pidfile())
    directory = render(BUILD_DIR, listen=args.listen, port=args.port)
    try:
        process = start(directory, detach=True)
    except RuntimeError as error:
        sys.exit(str(error))
    PIDFILE.parent.mkdir(parents=True, exist_ok=True)
    PIDFILE.write_text(f"{process.pid}\n")
    simulator = Simulator.load(directory)
    print(
        f"snmpsim listening on udp {args.listen}:{args.port}, pid {process.pid}; communities:"
        f" {', '.join(simulator.communities)}; v3 user in {directory / SERVER_FILE}"
    )


if __name__ == "__main__":
    main()
