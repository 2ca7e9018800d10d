"""RFC 9457 problem details for every error the API returns, from one place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.status import HTTP_500_INTERNAL_SERVER_ERROR

from app.kit.errors import DomainError

log = logging.getLogger("opentelecom.errors")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://opentelecom.invalid/problems/"


HtmlRenderer = Callable[[Request, int, str, str], Response]
_html_renderer: HtmlRenderer | None = None


def wants_html(request: Request) -> bool:
    """Pages get an HTML error page; the API and machine clients get problem details."""
    path = request.url.path
    return not path.startswith("/api/") and path != "/healthz" and "text/html" in request.headers.get("accept", "")


def problem(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str,
    code: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if _html_renderer is not None and wants_html(request):
        return _html_renderer(request, status, title, detail)
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(location[0] if location else "request")


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    headers = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
    return problem(
        request, status=exc.status, title=exc.title, detail=exc.detail, code=exc.code, errors=errors, headers=headers
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _field_name(err.get("loc", ())),
            "location": str(err.get("loc", ("",))[0]),
            "message": err.get("msg", ""),
        }
        for err in exc.errors()
    ]
    names = ", ".join(sorted({e["field"] for e in errors}))
    return problem(
        request,
        status=422,
        title="Invalid request",
        detail=f"Check these fields: {names}." if names else "The request is not valid.",
        code="validation_failed",
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 401: "Authentication required", 403: "Forbidden"}
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}.get(
        exc.status_code, "http_error"
    )
    return problem(
        request,
        status=exc.status_code,
        title=titles.get(exc.status_code, "Request failed"),
        detail=str(exc.detail),
        code=code,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _integrity_error(request: Request, exc: Exception) -> Response:
    log.warning("integrity error on %s: %s", request.url.path, exc)
    return problem(
        request,
        status=409,
        title="Conflict with the current state",
        detail="The change conflicts with existing data (a duplicate or a reference that no longer holds).",
        code="integrity_conflict",
    )


async def _operational_error(request: Request, exc: Exception) -> Response:
    log.error("database unavailable on %s: %s", request.url.path, exc)
    return problem(
        request,
        status=503,
        title="Service unavailable",
        detail="The database is not reachable; try again shortly.",
        code="database_unavailable",
        headers={"Retry-After": "5"},
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        request,
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        title="Internal error",
        detail="Something went wrong on our side; it has been logged.",
        code="internal_error",
    )


def install(app: FastAPI, *, html: HtmlRenderer | None = None) -> None:
    """Register the handlers; ``html`` renders the error page for browser requests outside the API."""
    global _html_renderer
    _html_renderer = html
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(OperationalError, _operational_error)
    app.add_exception_handler(Exception, _unexpected_error)
