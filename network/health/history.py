"""Interface history for graphs, bounded by downsampling with age.

Every poll adds its rates to three buckets per interface: 5 minutes, an hour and a day (sums, maxima, how
many samples and how many of them up, the lowest SNR margin). Each resolution is kept for as long as a
graph needs it: 5-minute buckets for a day, hourly ones for eight days (the 7-day graph), daily ones for
400 days (the board's year). An interface thus holds at most 288 + 192 + 400 = 880 rows however long it is
polled; a year of plain 5-minute samples would be 105,120.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from network.health.models import DeviceInterface, InterfaceHistory

# (bucket length, how long buckets of that length are kept)
RESOLUTIONS: tuple[tuple[int, timedelta], ...] = (
    (300, timedelta(days=1)),
    (3600, timedelta(days=8)),
    (86400, timedelta(days=400)),
)
ROWS_PER_INTERFACE = sum(int(keep.total_seconds()) // length for length, keep in RESOLUTIONS)


def bucket_start(at: datetime, length_s: int) -> datetime:
    seconds = int(at.timestamp())
    return datetime.fromtimestamp(seconds - seconds % length_s, UTC)


def _lower(current: Any, new: Any) -> sa.ColumnElement[int | None]:
    return sa.case((current.is_(None), new), (new.is_(None), current), (new < current, new), else_=current)


def _higher(current: Any, new: Any) -> sa.ColumnElement[int]:
    return sa.case((new > current, new), else_=current)


async def add(
    session: AsyncSession,
    *,
    device_id: int,
    at: datetime,
    interfaces: Iterable[DeviceInterface],
    indexes: Collection[int],
) -> int:
    """Add this poll's figures of the interfaces in ``indexes`` that have rates to their buckets (one
    statement per poll: INSERT ... ON CONFLICT DO UPDATE)."""
    rows = []
    for row in interfaces:
        if row.if_index not in indexes or row.in_bps is None or row.out_bps is None:
            continue
        for length, _ in RESOLUTIONS:
            rows.append(
                {
                    "device_id": device_id,
                    "if_index": row.if_index,
                    "resolution_s": length,
                    "bucket_start": bucket_start(at, length),
                    "samples": 1,
                    "in_bps_sum": row.in_bps,
                    "out_bps_sum": row.out_bps,
                    "in_bps_max": row.in_bps,
                    "out_bps_max": row.out_bps,
                    "up_samples": 1 if row.oper_up else 0,
                    "snr_margin_down_min_tenth_db": row.snr_margin_down_tenth_db,
                }
            )
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(InterfaceHistory)
    new, table = insert.excluded, InterfaceHistory
    statement = insert.on_conflict_do_update(
        index_elements=["device_id", "if_index", "resolution_s", "bucket_start"],
        set_={
            "samples": table.samples + new.samples,
            "in_bps_sum": table.in_bps_sum + new.in_bps_sum,
            "out_bps_sum": table.out_bps_sum + new.out_bps_sum,
            "in_bps_max": _higher(table.in_bps_max, new.in_bps_max),
            "out_bps_max": _higher(table.out_bps_max, new.out_bps_max),
            "up_samples": table.up_samples + new.up_samples,
            "snr_margin_down_min_tenth_db": _lower(
                table.snr_margin_down_min_tenth_db, new.snr_margin_down_min_tenth_db
            ),
        },
    )
    await session.execute(statement, rows)
    return len(rows)


async def prune(session: AsyncSession, *, now: datetime) -> int:
    """Delete the buckets older than their resolution keeps; how many."""
    dropped = 0
    for length, keep in RESOLUTIONS:
        result = await session.execute(
            sa.delete(InterfaceHistory).where(
                InterfaceHistory.resolution_s == length, InterfaceHistory.bucket_start < now - keep
            )
        )
        dropped += int(getattr(result, "rowcount", 0) or 0)
    return dropped


async def buckets(
    session: AsyncSession, *, device_id: int, if_index: int, resolution_s: int, since: datetime
) -> list[InterfaceHistory]:
    """An interface's buckets of one resolution from ``since`` on, oldest first."""
    query = (
        sa.select(InterfaceHistory)
        .where(
            InterfaceHistory.device_id == device_id,
            InterfaceHistory.if_index == if_index,
            InterfaceHistory.resolution_s == resolution_s,
            InterfaceHistory.bucket_start >= since,
        )
        .order_by(InterfaceHistory.bucket_start)
    )
    return list((await session.scalars(query)).all())


def octets(bucket: InterfaceHistory) -> tuple[float, float]:
    """About how many octets went in and out during the bucket (its mean rate over its length)."""
    if not bucket.samples:
        return 0.0, 0.0
    seconds = bucket.resolution_s / 8 / bucket.samples
    return bucket.in_bps_sum * seconds, bucket.out_bps_sum * seconds
