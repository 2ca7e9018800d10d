"""Declarative base, naming convention and column types shared by every model."""

from __future__ import annotations

import enum
import json
import operator
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.kit.time import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# bigint keys everywhere; SQLite only autoincrements INTEGER PRIMARY KEY.
IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware timestamp stored in UTC; SQLite's naive values come back as UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A string column restricted to an enum's values by a CHECK constraint (portable, no PG ENUM)."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class IdMixin:
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)


def fk(target: str, *, ondelete: str = "RESTRICT") -> sa.ForeignKey:
    return sa.ForeignKey(target, ondelete=ondelete)


async def bulk_insert(
    session: AsyncSession, table: sa.Table, rows: Sequence[dict[str, Any]], *, ids: bool = False
) -> list[int]:
    """Write many rows of ``table`` at once and, with ``ids``, return their new ids in the rows' order.

    PostgreSQL draws the ids from the table's sequence in one query and writes the rows with COPY (row
    triggers fire as for INSERT); other databases get a multi-row INSERT ... RETURNING. Every row has the
    same keys. For set-based jobs (bill runs); the ORM and its audit hooks are not involved.
    """
    if not rows:
        return []
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        if not ids:
            await connection.execute(sa.insert(table), list(rows))
            return []
        result = await connection.execute(
            sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
        )
        return [int(i) for i in result.scalars()]
    new_ids: list[int] = []
    if ids:
        result = await connection.execute(
            sa.text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table.name, "n": len(rows)},
        )
        new_ids = [int(i) for i in result.scalars()]
    columns = list(rows[0])
    pick = operator.itemgetter(*columns)
    records = [pick(row) for row in rows] if len(columns) > 1 else [(row[columns[0]],) for row in rows]
    for n in (n for n, column in enumerate(columns) if isinstance(table.c[column].type, sa.JSON)):
        # COPY takes JSON as its text.
        records = [(*r[:n], None if r[n] is None else json.dumps(r[n]), *r[n + 1 :]) for r in records]
    if ids:
        columns = ["id", *columns]
        records = [(i, *record) for i, record in zip(new_ids, records, strict=True)]
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(table.name, records=records, columns=columns)  # type: ignore[union-attr]
    return new_ids
