"""What every server the tools start (FreeRADIUS, Asterisk, snmpd, snmpsim) and every benchmark needs of a
process: free loopback ports to put it on, starting it until it answers, stopping it (also from its pid
file), and its peak memory."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing is bound to right now."""
    return _free_port(socket.SOCK_DGRAM)


def free_udp_ports(count: int, *, attempts: int = 100) -> int:
    """The first of ``count`` consecutive UDP ports on 127.0.0.1 that nothing is bound to right now (sipp's
    media port and the three after it: audio RTP and RTCP, video RTP and RTCP)."""
    for _ in range(attempts):
        base = _free_port(socket.SOCK_DGRAM)
        if base + count > 65536:
            continue
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free UDP ports on 127.0.0.1 in {attempts} attempts")


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that nothing is bound to right now."""
    return _free_port(socket.SOCK_STREAM)


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """End a server we started: SIGTERM, and SIGKILL if it has not exited within ``timeout_s``."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout_s)


def peak_rss_mib(pid: int) -> float:
    """A running process's peak resident memory (VmHWM) in MiB; NaN when it has already gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return math.nan
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def stop_recorded(pidfile: Path, name: str, is_ours: Callable[[list[bytes]], bool]) -> str:
    """Stop the server whose pid ``pidfile`` records (as ``make services`` starts them): SIGTERM, SIGKILL
    after 10 s. Only a process whose command line ``is_ours`` accepts is signalled, so a pid reused by
    something else is never touched. Returns what happened, in words."""
    if not pidfile.exists():
        return f"{name} was not running (no pid file)"
    pid = int(pidfile.read_text())
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        pidfile.unlink()
        return f"{name} ({pid}) had already exited"
    if not command or not is_ours(command):
        raise SystemExit(f"pid {pid} in {pidfile} is not our {name}; not touching it")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)
    pidfile.unlink()
    return f"{name} ({pid}) stopped"


def save_private_json(path: Path, record: Any) -> None:
    """A server's description (a dataclass) as JSON that only its owner may read: it holds the server's
    generated secrets."""
    path.write_text(json.dumps(asdict(record), indent=2) + "\n")
    path.chmod(0o600)


def file_tail(path: Path, characters: int = 4000) -> str:
    """The end of a server's log, for error messages."""
    return path.read_text(errors="replace")[-characters:] if path.exists() else "(no log yet)"


def launch(
    command: list[str],
    *,
    name: str,
    log: Path,
    ready: Callable[[float], bool],
    log_tail: Callable[[], str],
    timeout_s: float,
    detach: bool,
    env: Mapping[str, str] | None = None,
    probe_wait_s: float = 0.3,
    max_probe_wait_s: float | None = None,
    pause_s: float = 0.1,
) -> subprocess.Popen[bytes]:
    """Start a server with its output in ``log`` and return once ``ready(wait_s)`` says it answers. The
    probe waits ``probe_wait_s`` (doubling up to ``max_probe_wait_s`` when given), with ``pause_s`` between
    probes. ``detach`` starts it in its own session (it outlives the caller). Raises RuntimeError with the
    end of its log when it exits or is not ready within ``timeout_s`` (then it is stopped)."""
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            start_new_session=detach,
        )
    deadline = time.monotonic() + timeout_s
    wait = probe_wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode}:\n{log_tail()}")
        if ready(min(wait, max(0.05, deadline - time.monotonic()))):
            return process
        time.sleep(pause_s)
        wait = min(wait * 2, max_probe_wait_s) if max_probe_wait_s else wait
    stop(process)
    raise RuntimeError(f"{name} did not answer within {timeout_s:.0f} s:\n{log_tail()}")
