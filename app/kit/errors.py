"""Domain errors carry a stable code and an HTTP status; the API turns them into RFC 9457 problems."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status: int = 400
    code: str = "domain_error"
    title: str = "Request cannot be carried out"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        field: str | None = None,
        keep_changes: bool = False,
        **extra: Any,
    ):
        super().__init__(detail)
        self.detail = detail
        # Some refusals must still be remembered (a failed login counts towards throttling):
        # the unit of work commits instead of rolling back when this is set.
        self.keep_changes = keep_changes
        if code:
            self.code = code
        self.field = field
        self.extra = extra


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"


class Conflict(DomainError):
    """The request is well-formed but clashes with the current state (wrong lifecycle step, duplicate)."""

    status = 409
    code = "conflict"
    title = "Conflict with the current state"


class Invalid(DomainError):
    """A value breaks a domain rule; ``field`` names it."""

    status = 422
    code = "invalid"
    title = "Invalid value"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"
