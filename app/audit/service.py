"""Audit trail. Every flush of an audited model writes who/when/what with before and after values.

It hooks into the ORM flush rather than relying on each service to remember: a write without an
acting user is refused, so nothing changes unattributed (DESIGN.md decision 7).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction

from app.audit.models import AuditEvent
from app.kit.actor import Actor
from app.kit.time import utcnow

ACTOR_KEY = "audit_actor"
ACTION_KEY = "audit_action"


class UnattributedWrite(RuntimeError):
    """An audited record was about to change with no acting user bound to the session."""


def bind_actor(session: AsyncSession | Session, actor: Actor) -> None:
    """Attach the acting user to a session; every audited change in it is recorded as theirs."""
    session.info[ACTOR_KEY] = actor


def current_actor(session: AsyncSession | Session) -> Actor | None:
    actor = session.info.get(ACTOR_KEY)
    return actor if isinstance(actor, Actor) else None


@contextmanager
def action(session: AsyncSession | Session, name: str) -> Iterator[None]:
    """Name the business action (``member.admit``) for the changes flushed inside the block."""
    previous = session.info.get(ACTION_KEY)
    session.info[ACTION_KEY] = name
    try:
        yield
    finally:
        session.info[ACTION_KEY] = previous


def _json_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _is_audited(obj: object) -> bool:
    return bool(getattr(type(obj), "__audited__", False))


def _columns(obj: object) -> list[str]:
    excluded: frozenset[str] = getattr(type(obj), "__audit_exclude__", frozenset())
    return [attr.key for attr in inspect(obj).mapper.column_attrs if attr.key not in excluded]


def _snapshot(obj: object) -> dict[str, Any]:
    return {key: _json_value(getattr(obj, key)) for key in _columns(obj)}


def _before(obj: object) -> tuple[dict[str, Any], bool]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    changed = False
    for key in _columns(obj):
        history = state.attrs[key].history
        if history.has_changes():
            changed = True
            before[key] = _json_value(history.deleted[0]) if history.deleted else None
        else:
            before[key] = _json_value(getattr(obj, key))
    return before, changed


def _identity(obj: object) -> str:
    # New rows have no identity key until the flush completes; read the primary key columns instead.
    state = inspect(obj)
    values = state.mapper.primary_key_from_instance(obj)
    return "/".join(str(v) for v in values)


def _after_flush(session: Session, _flush_context: UOWTransaction) -> None:
    rows: list[dict[str, Any]] = []
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not _is_audited(obj):
            continue
        if obj in session.new:
            verb, before, after = "create", None, _snapshot(obj)
        elif obj in session.deleted:
            verb, before, after = "delete", _snapshot(obj), None
        else:
            before, changed = _before(obj)
            if not changed:
                continue
            verb, after = "update", _snapshot(obj)
        actor = current_actor(session)
        if actor is None:
            raise UnattributedWrite(f"{type(obj).__name__} changed with no acting user bound to the session")
        entity_type = type(obj).__tablename__  # type: ignore[attr-defined]
        rows.append(
            {
                "at": utcnow(),
                "actor_user_id": actor.user_id,
                "actor_label": actor.label,
                "actor_role": actor.role.value,
                "channel": actor.channel.value,
                "request_id": actor.request_id,
                "action": session.info.get(ACTION_KEY) or f"{entity_type}.{verb}",
                "entity_type": entity_type,
                "entity_id": _identity(obj),
                "before": before,
                "after": after,
            }
        )
    if rows:
        session.connection().execute(sa.insert(AuditEvent), rows)


def install() -> None:
    """Register the flush hook once per process (idempotent)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
