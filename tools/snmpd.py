"""Render openTelecom's snmpd configuration (deploy/snmpd/snmpd.conf.in) for one instance and run net-snmp's
snmpd with it, in the host namespace or inside a given network namespace.

    python -m tools.snmpd start [--netns NS] [--listen 127.0.0.1] [--port 1161]
    python -m tools.snmpd stop

``render`` writes snmpd.conf (v2c community and a v3 authPriv user with new strong secrets, read-only view
of mib-2) and agent.json (what a poller needs to reach it) into a directory; ``start`` runs
``[ip netns exec NS] snmpd -f -Lo -C -c FILE`` and returns once the agent answers a GET of sysUpTime
(asked with Debian's ``snmpget`` from inside the same namespace); ``stop`` ends it. The CLI keeps the
pid in build/snmpd.pid for ``make services``.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tools.processes import file_tail, launch, save_private_json, stop_recorded

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "snmpd" / "snmpd.conf.in"
BUILD_DIR = ROOT / "build" / "snmpd"
PIDFILE = ROOT / "build" / "snmpd.pid"
BINARY = "/usr/sbin/snmpd"
AGENT_FILE = "agent.json"


@dataclass(frozen=True)
class Agent:
    """A rendered snmpd instance: where it listens and its credentials (kept in agent.json, mode 0600)."""

    name: str
    netns: str | None
    listen: str
    port: int
    community: str
    v3_user: str
    auth_pass: str
    priv_pass: str
    log: str

    @classmethod
    def load(cls, directory: Path) -> Agent:
        return cls(**json.loads((directory / AGENT_FILE).read_text()))

    def save(self, directory: Path) -> None:
        save_private_json(directory / AGENT_FILE, self)


def _in_netns(netns: str | None, command: list[str]) -> list[str]:
    return ["ip", "netns", "exec", netns, *command] if netns else command


def render(
    target_dir: Path,
    *,
    name: str = "snmpd",
    netns: str | None = None,
    listen: str = "127.0.0.1",
    port: int = 161,
    source: str = "default",
    community: str | None = None,
    v3_user: str = "otpoller",
) -> Path:
    """Write snmpd.conf and agent.json for one instance into ``target_dir``; return it. Secrets (community,
    auth and priv pass phrases) are generated unless given. ``source`` limits who may use the community
    (``default`` = anyone who can reach ``listen``)."""
    target = target_dir.resolve()
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o700)  # the configuration holds the community and the USM pass phrases
    (target / "persist").mkdir(exist_ok=True)
    agent = Agent(
        name=name,
        netns=netns,
        listen=listen,
        port=port,
        community=community or f"ot{secrets.token_hex(12)}",
        v3_user=v3_user,
        auth_pass=secrets.token_urlsafe(24),
        priv_pass=secrets.token_urlsafe(24),
        log=str(target / "snmpd.log"),
    )
    values = {
        "NAME": name,
        "LISTEN": listen,
        "PORT": str(port),
        "ENGINE_ID": f"opentelecom-{secrets.token_hex(6)}",
        "COMMUNITY": agent.community,
        "SOURCE": source,
        "V3_USER": v3_user,
        "AUTH_PASS": agent.auth_pass,
        "PRIV_PASS": agent.priv_pass,
    }
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    leftover = re.findall(r"@[A-Z_0-9]+@", text)
    if leftover:
        raise ValueError(f"snmpd.conf.in has placeholders render() does not fill: {sorted(set(leftover))}")
    (target / "snmpd.conf").write_text(text)
    agent.save(target)
    return target


def probe(agent: Agent, timeout_s: float = 0.5) -> bool:
    """One SNMPv2c GET of sysUpTime.0 from inside the agent's namespace: does it answer?"""
    command = _in_netns(
        agent.netns,
        [
            "snmpget", "-v2c", "-c", agent.community, "-r0", f"-t{timeout_s}", "-On", "-m", "",
            f"udp:{agent.listen}:{agent.port}", "1.3.6.1.2.1.1.3.0",
        ],
    )  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout_s + 10)
    return result.returncode == 0 and "Timeticks" in result.stdout


def start(directory: Path, *, timeout_s: float = 20.0, detach: bool = False) -> subprocess.Popen[bytes]:
    """Run snmpd on a rendered directory and return once it answers. ``detach`` puts it in its own session
    (so it outlives the caller). Raises RuntimeError with the end of its log when it exits or stays silent."""
    agent = Agent.load(directory)
    command = _in_netns(
        agent.netns,
        [
            BINARY, "-f", "-Lo", "-C", "-c", str(directory / "snmpd.conf"),
            "-p", str(directory / "snmpd.pid"),
            # net-snmp keeps its persistent state (the localised USM keys, engine boots) here, not in /var/lib/snmp.
            f"--persistentDir={directory / 'persist'}",
        ],
    )  # fmt: skip
    return launch(
        command,
        name="snmpd",
        log=Path(agent.log),
        ready=lambda wait_s: probe(agent, timeout_s=wait_s),
        log_tail=lambda: log_tail(directory),
        timeout_s=timeout_s,
        detach=detach,
    )


def log_tail(directory: Path, characters: int = 4000) -> str:
    return file_tail(Path(Agent.load(directory).log), characters)


def _stop_from_pidfile() -> str:
    return stop_recorded(
        PIDFILE,
        "snmpd",
        lambda command: Path(command[0].decode()).name == "snmpd" and str(BUILD_DIR).encode() in b" ".join(command),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--netns", help="network namespace to run in (default: the host's)")
    parser.add_argument("--listen", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1161)
    args = parser.parse_args(argv)
    if args.action == "stop":
        print(_stop_from_pidfile())
        return
    if PIDFILE.exists():
        print(_stop_from_pidfile())
    directory = render(BUILD_DIR, name="services", netns=args.netns, listen=args.listen, port=args.port)
    try:
        process = start(directory, detach=True)
    except RuntimeError as error:
        sys.exit(str(error))
    PIDFILE.parent.mkdir(parents=True, exist_ok=True)
    PIDFILE.write_text(f"{process.pid}\n")
    where = f" in network namespace {args.netns}" if args.netns else ""
    print(f"snmpd on udp {args.listen}:{args.port}{where}, pid {process.pid}; credentials in {directory / AGENT_FILE}")


if __name__ == "__main__":
    main()
