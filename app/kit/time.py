"""Time helpers: everything is stored in UTC and shown in the coop's zone."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def last_day_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def add_months(day: date, months: int) -> date:
    """Calendar month arithmetic as contracts use it: 31 Jan + 1 month = 28/29 Feb."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def local_today(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()


def end_of_day_utc(day: date, zone: str) -> datetime:
    """The last instant of ``day`` in ``zone``, as an aware UTC datetime."""
    start_next = datetime.combine(day + timedelta(days=1), datetime.min.time(), ZoneInfo(zone))
    return (start_next - timedelta(microseconds=1)).astimezone(UTC)
