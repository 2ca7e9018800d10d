"""Helpers the migrations share for DDL the two databases write differently.

A migration that uses one has its history written by it: change what a helper does only by adding another.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op


def in_list(column: str, values: Sequence[str]) -> str:
    """The CHECK condition that ``column`` holds one of ``values``."""
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


@contextmanager
def keeping_sqlite_triggers(table: str) -> Iterator[None]:
    """Drop ``table``'s triggers before a batch rebuild and create them again after it, exactly as they were
    (SQLite only: a rebuild drops the table and its triggers; PostgreSQL alters in place)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    triggers = bind.execute(
        sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t ORDER BY name"),
        {"t": table},
    ).all()
    for name, _ in triggers:
        op.execute(f'DROP TRIGGER "{name}"')
    yield
    for _, sql in triggers:
        op.execute(sql)
