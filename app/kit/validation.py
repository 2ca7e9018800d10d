"""Input types shared by every schema: text without control characters, bounded ids and dates.

PostgreSQL rejects NUL bytes and 64-bit overflows with errors the client could never fix; we refuse
such input at the edge with a 422 that names the field.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, Field, StringConstraints

MAX_ID = 9_223_372_036_854_775_807
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def no_control_chars(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


def text(max_length: int, *, min_length: int = 1, pattern: str | None = None) -> StringConstraints:
    """Constraints for a stripped string of bounded length; combine with ``NoControl`` in an Annotated alias."""
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=pattern)


NoControl = AfterValidator(no_control_chars)


IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdRef = Annotated[int, Field(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
SearchQuery = Annotated[str | None, Query(max_length=100), AfterValidator(lambda v: no_control_chars(v) if v else v)]
# Dates a person can mean: no year 1 or 9999 slipping through from a typo.
SaneDate = Annotated[date, Field(ge=date(1900, 1, 1), le=date(2199, 12, 31))]
DateQuery = Annotated[date | None, Query(ge=date(1900, 1, 1), le=date(2199, 12, 31))]


def _as_utc(value: datetime | None) -> datetime | None:
    """Naive times from a query string are taken as UTC; absurd years are refused."""
    if value is None:
        return None
    if not 1900 <= value.year <= 2199:
        raise ValueError("year must be between 1900 and 2199")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


DateTimeQuery = Annotated[datetime | None, Query(), AfterValidator(_as_utc)]
