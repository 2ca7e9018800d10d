"""Real packets between test namespaces: a TCP receiver that reports its goodput, and a sender.

Run inside a namespace with ``ip netns exec NS python -m tests.network.traffic ...``; only addresses of
the namespaces the tests create are used.
"""

from __future__ import annotations

import socket
import sys
import time

CHUNK = 64 * 1024


def receive(address: str, port: int, limit_s: float) -> None:
    """Accept one connection, count bytes until it closes, print ``bytes seconds``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((address, port))
        server.listen(1)
        server.settimeout(limit_s)
        print("ready", flush=True)
        connection, _ = server.accept()
        with connection:
            connection.settimeout(limit_s)
            total = 0
            first = last = time.perf_counter()
            while True:
                data = connection.recv(CHUNK)
                if not data:
                    break
                if total == 0:
                    first = time.perf_counter()
                total += len(data)
                last = time.perf_counter()
        print(total, max(last - first, 1e-6), flush=True)


def send(address: str, port: int, seconds: float) -> None:
    """Send as fast as TCP allows for ``seconds``."""
    payload = b"\0" * CHUNK
    with socket.create_connection((address, port), timeout=10) as connection:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            connection.sendall(payload)


if __name__ == "__main__":
    role, host, port_text, number = sys.argv[1:5]
    if role == "receive":
        receive(host, int(port_text), float(number))
    else:
        send(host, int(port_text), float(number))
