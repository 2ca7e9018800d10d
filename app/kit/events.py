"""In-process domain events: one domain announces a change, others react inside the same transaction.

This keeps dependencies pointing one way: contracts announce that a contract changed and never import
provisioning; provisioning subscribes and writes its rows and outbox jobs in the caller's unit of work,
so the change and its consequences commit or roll back together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.actor import Actor

E = TypeVar("E")
Listener = Callable[[AsyncSession, Sequence[Any]], Awaitable[None]]

_listeners: dict[type, list[Listener]] = defaultdict(list)


def subscribe(event_type: type[E], listener: Callable[[AsyncSession, Sequence[E]], Awaitable[None]]) -> None:
    """Call ``listener`` with the events of ``event_type`` each ``publish`` carries; subscribing twice is a
    no-op."""
    if listener not in _listeners[event_type]:
        _listeners[event_type].append(listener)


async def publish(session: AsyncSession, *events: object) -> None:
    """Run every listener of the events' types, in subscription order, in the caller's transaction.

    A listener gets all the events of its type at once, in the order given, so a change to many contracts
    (a bulk activation) costs it one pass over the lot instead of one per contract.
    """
    by_type: dict[type, list[object]] = defaultdict(list)
    for event in events:
        by_type[type(event)].append(event)
    for event_type, batch in by_type.items():
        for listener in _listeners.get(event_type, ()):
            await listener(session, batch)


@dataclass(frozen=True, slots=True)
class ContractChanged:
    """A contract's status or plan changed (``previous`` is None for a new order)."""

    contract_id: int
    previous: str | None
    status: str
    plan_changed: bool
    actor: Actor


@dataclass(frozen=True, slots=True)
class LineOutagesEnded:
    """An incident that took lines down completely has ended (network health announces it; provisioning
    turns it into compensation days for the lines' contracts)."""

    incident_id: int
    line_ids: tuple[int, ...]
    started_at: datetime
    ended_at: datetime
    # The coop's time zone (settings), in which outage days and billing months are counted.
    timezone: str


@dataclass(frozen=True, slots=True)
class SharePaymentRecorded:
    """Money was paid in on a member's shares (members announce it; the ledger books it: bank to member
    capital). ``payment_id`` is the capital movement's id."""

    payment_id: int
    member_id: int
    amount_cents: int
    paid_on: date
    reference: str | None
    actor: Actor


@dataclass(frozen=True, slots=True)
class ShareCapitalTransferred:
    """Paid-in capital passed from one member to another with a share transfer (the ledger books it from the
    one member's capital to the other's)."""

    transfer_id: int
    from_member_id: int
    to_member_id: int
    capital_cents: int
    effective_on: date
    actor: Actor
