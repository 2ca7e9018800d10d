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
from sqlalchemy.orm import InstanceState, Session, UOWTransaction
from sqlalchemy.orm.base import NO_VALUE

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


_PLAIN = frozenset({str, int, bool, float})


def _json_value(value: Any) -> Any:
    if value is None or type(value) in _PLAIN:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _is_audited(obj: object) -> bool:
    return bool(getattr(type(obj), "__audited__", False))


_COLUMNS: dict[type, tuple[str, ...]] = {}


def _columns(obj: object) -> tuple[str, ...]:
    # Per class, once: a bulk step flushes thousands of rows of the same few models.
    cls = type(obj)
    columns = _COLUMNS.get(cls)
    if columns is None:
        excluded: frozenset[str] = getattr(cls, "__audit_exclude__", frozenset())
        columns = _COLUMNS[cls] = tuple(
            attr.key for attr in inspect(obj).mapper.column_attrs if attr.key not in excluded
        )
    return columns


def _current(state: InstanceState[Any], key: str) -> Any:
    loaded = state.dict
    return loaded[key] if key in loaded else getattr(state.obj(), key)


def _snapshot(obj: object) -> dict[str, Any]:
    state = inspect(obj)
    return {key: _json_value(_current(state, key)) for key in _columns(obj)}


def _before(obj: object) -> tuple[dict[str, Any], bool]:
    """The values before this flush, and whether any audited column really changed. Reads the ORM's
    committed state (the old value of each attribute set since the last flush) rather than building an
    attribute history per column; a value set to what it was is no change."""
    state = inspect(obj)
    committed = state.committed_state
    before: dict[str, Any] = {}
    changed = False
    for key in _columns(obj):
        current = _current(state, key)
        if key in committed:
            old = committed[key]
            if old is NO_VALUE:
                changed = True
                before[key] = None
                continue
            if old != current:
                changed = True
                before[key] = _json_value(old)
                continue
        before[key] = _json_value(current)
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
