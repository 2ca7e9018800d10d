"""Real packets between test namespaces: TCP goodput from one namespace to an address in another.

``goodput_kbps`` runs this module in both namespaces (``ip netns exec NS python -m tests.network.traffic``):
``receive ADDRESS PORT LIMIT_S`` accepts one connection, counts bytes until it closes and prints ``ready``
once listening, then ``BYTES SECONDS`` (first to last byte); ``send ADDRESS PORT SECONDS`` sends as fast as
TCP allows for that long. Every wait is bounded; only addresses of the namespaces the tests create are used.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

CHUNK = 64 * 1024
ROOT = Path(__file__).resolve().parents[2]
RECEIVE_LIMIT_S = 30.0


def goodput_kbps(*, sender_ns: str, receiver_ns: str, address: str, seconds: float) -> float:
    """TCP goodput from namespace ``sender_ns`` to ``address`` in namespace ``receiver_ns``, in kbit/s."""
    port = str(20_000 + secrets.randbelow(20_000))

    def command(ns: str, *args: str) -> list[str]:
        return ["ip", "netns", "exec", ns, sys.executable, "-m", "tests.network.traffic", *args]

    listen = command(receiver_ns, "receive", address, port, str(RECEIVE_LIMIT_S))
    with subprocess.Popen(listen, stdout=subprocess.PIPE, text=True, cwd=ROOT) as receiver:
        try:
            assert receiver.stdout is not None and receiver.stdout.readline().strip() == "ready"
            subprocess.run(
                command(sender_ns, "send", address, port, str(seconds)),
                check=True,
                capture_output=True,
                cwd=ROOT,
                timeout=seconds + RECEIVE_LIMIT_S,
            )
            out, _ = receiver.communicate(timeout=RECEIVE_LIMIT_S)
        finally:
            receiver.kill()
    total, elapsed = out.split()
    return int(total) * 8 / float(elapsed) / 1000


def receive(address: str, port: int, limit_s: float) -> None:
    with socket.create_server((address, port)) as server:
        server.settimeout(limit_s)
        print("ready", flush=True)
        connection, _ = server.accept()
        with connection:
            connection.settimeout(limit_s)
            deadline = time.monotonic() + limit_s
            total, first, last = 0, 0.0, 0.0
            while time.monotonic() < deadline:
                data = connection.recv(CHUNK)
                if not data:
                    break
                now = time.monotonic()
                if not total:
                    first = now
                total += len(data)
                last = now
    print(total, max(last - first, 1e-6), flush=True)


def send(address: str, port: int, seconds: float) -> None:
    payload = bytes(CHUNK)
    with socket.create_connection((address, port), timeout=10) as connection:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            connection.sendall(payload)


if __name__ == "__main__":
    role, host, port_text, number = sys.argv[1:5]
    if role == "receive":
        receive(host, int(port_text), float(number))
    else:
        send(host, int(port_text), float(number))
