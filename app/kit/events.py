"""In-process domain events: one domain announces a change, others react inside the same transaction.

This keeps dependencies pointing one way: contracts announce that a contract changed and never import
provisioning; provisioning subscribes and writes its rows and outbox jobs in the caller's unit of work,
so the change and its consequences commit or roll back together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Actor

E = TypeVar("E")
Listener = Callable[[AsyncSession, Any], Awaitable[None]]

_listeners: dict[type, list[Listener]] = defaultdict(list)


def subscribe(event_type: type[E], listener: Callable[[AsyncSession, E], Awaitable[None]]) -> None:
    """Call ``listener`` for every published event of ``event_type``; subscribing twice is a no-op."""
    if listener not in _listeners[event_type]:
        _listeners[event_type].append(listener)


async def publish(session: AsyncSession, event: object) -> None:
    """Run every listener of the event's type, in subscription order, in the caller's transaction."""
    for listener in _listeners.get(type(event), ()):
        await listener(session, event)


@dataclass(frozen=True, slots=True)
class ContractChanged:
    """A contract's status or plan changed (``previous`` is None for a new order)."""

    contract_id: int
    previous: str | None
    status: str
    plan_changed: bool
    actor: Actor
