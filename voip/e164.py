"""Telephone numbers as typed by people, normalised to E.164 ("+493315551000") in the domain layer."""

from __future__ import annotations

import re

from app.kit.errors import Invalid

# The coop's own country: a national number ("0331 555 1000") is read as +49 331 555 1000.
COUNTRY_CODE = "49"
_SEPARATORS = re.compile(r"[\s\-/().]")
_DIGITS = re.compile(r"[0-9]+")
# E.164: at most 15 digits after "+", never starting with 0; fewer than 8 is no dialable number here.
MIN_DIGITS, MAX_DIGITS = 8, 15


def digits_of(raw: str, *, country_code: str = COUNTRY_CODE) -> str | None:
    """The E.164 digits (without "+") of an international (+, 00) or national (0) number; None if it
    is none of those or has letters in it."""
    value = _SEPARATORS.sub("", raw.strip())
    if value.startswith("+"):
        digits = value[1:]
    elif value.startswith("00"):
        digits = value[2:]
    elif value.startswith("0"):
        digits = country_code + value[1:]
    else:
        return None
    if not _DIGITS.fullmatch(digits) or digits.startswith("0") or not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        return None
    return digits


def normalise(raw: str, *, field: str = "number", country_code: str = COUNTRY_CODE) -> str:
    """``raw`` in E.164 (``+`` and digits); refuses anything that is not a full telephone number."""
    digits = digits_of(raw, country_code=country_code)
    if digits is None:
        raise Invalid(
            f"{raw!r} is not a telephone number: give it as +49 331 5551000, 0049 331 5551000 or 0331 5551000.",
            field=field,
        )
    return "+" + digits


def block_numbers(first: str, last: str) -> range:
    """The numbers of a block from ``first`` to ``last`` (both E.164 of one length), as integers."""
    return range(int(first[1:]), int(last[1:]) + 1)
