"""TCP goodput between two test namespaces, run inside one with ``ip netns exec NS python goodput.py ...``.

``receive ADDRESS PORT LIMIT_S``: accept one connection, count bytes until it closes, print ``ready`` once
listening and ``BYTES SECONDS`` at the end (first to last byte). ``send ADDRESS PORT SECONDS``: send as
fast as TCP allows for that long. Every wait is bounded by the limits given.
"""

from __future__ import annotations

import socket
import sys
import time

CHUNK = 64 * 1024


def receive(address: str, port: int, limit_s: float) -> None:
    with socket.create_server((address, port), reuse_port=False) as server:
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
