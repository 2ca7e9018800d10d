"""The access-router adapter: subscriber lines on a Linux router (a network namespace in tests), configured
over route netlink. ``LinuxRouter`` reads, plans and converges; ``state`` holds the pure data."""

from network.router.linux import LinuxRouter
from network.router.state import LinePort, LineSpec, LineState, RouterReport

__all__ = ["LinePort", "LineSpec", "LineState", "LinuxRouter", "RouterReport"]
