"""The FastAPI application: API under /api/v1, web pages, health, and the background loops."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.router import router as audit_router
from app.audit.service import bind_actor
from app.auth import repository as auth_repository
from app.auth.deps import SessionDep
from app.auth.router import router as auth_router
from app.contracts import service as contracts_service
from app.contracts.router import router as contracts_router
from app.db import Database
from app.kit import problems
from app.kit.actor import Actor
from app.kit.loops import LoopRunner
from app.kit.time import utcnow
from app.members import service as members_service
from app.members.router import router as members_router
from app.settings import Settings, get_settings
from app.web import shell as web_shell
from app.web.pages import all_pages
from billing.dividends.router import router as dividends_router
from billing.dunning import service as dunning_service
from billing.dunning.router import router as dunning_router
from billing.invoices import tasks as invoice_tasks
from billing.invoices.router import router as invoices_router
from billing.ledger.router import router as ledger_router
from billing.payments.router import router as payments_router
from network.health import metrics as health_metrics
from network.health import tasks as health_tasks
from network.health.routes import router as devices_router
from network.routes import router as network_router
from provisioning import tasks as provisioning_tasks
from provisioning.router import router as provisioning_router
from voip import service as voip_service
from voip import tasks as voip_tasks

log = logging.getLogger("opentelecom")

API_DESCRIPTION = """The operations backend of a cooperative ISP and telephone company.

Authenticate with `POST /api/v1/auth/token` (OAuth2 password flow, e-mail as username) and send
`Authorization: Bearer <token>`. Errors are RFC 9457 problem details (`application/problem+json`).
A member sees only their own records; anyone else's answer 404."""


def register_loops(runner: LoopRunner, settings: Settings) -> None:
    def job(name: str, work: Callable[[AsyncSession], Awaitable[int]]) -> Callable[[AsyncSession], Awaitable[int]]:
        async def run(session: AsyncSession) -> int:
            bind_actor(session, Actor.system(name))
            return await work(session)

        return run

    runner.register(
        "membership-departures",
        3600,
        job("membership-departures", lambda s: members_service.apply_departures(s, settings=settings)),
    )
    runner.register(
        "contract-ends", 3600, job("contract-ends", lambda s: contracts_service.end_due_contracts(s, settings=settings))
    )

    async def purge(session: AsyncSession) -> int:
        now = utcnow()
        from datetime import timedelta

        return await auth_repository.purge_expired(session, now=now, attempts_before=now - timedelta(days=30))

    runner.register("session-cleanup", 900, job("session-cleanup", purge))
    # Done requests to end calls pile up with every suspension and termination; kept for a while, then deleted.
    runner.register(
        "call-teardown-cleanup",
        3600,
        job(
            "call-teardown-cleanup",
            lambda s: voip_service.prune_teardowns(s, retention_days=settings.call_teardown_retention_days),
        ),
    )
    runner.register(
        "provisioning-worker",
        settings.provisioning_poll_s,
        job("provisioning-worker", lambda s: provisioning_tasks.run_batch(s, settings=settings)),
        exclusive=False,
    )
    # Dunning once an hour: a pass is idempotent for its day, so the day's steps are taken once.
    runner.register("dunning", 3600, job("dunning", lambda s: dunning_service.run_today(s, settings=settings)))
    # Only with AMI settings: ``make run`` (no Asterisk) shows registration status as unknown.
    voip_tasks.register(runner, settings)


def create_app(
    settings: Settings | None = None, *, database: Database | None = None, run_loops: bool | None = None
) -> FastAPI:
    settings = settings or get_settings()
    audit_service.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owns_database = database is None
        app.state.database = database or Database(settings)
        runner = LoopRunner(app.state.database.transaction, dialect=app.state.database.engine.dialect.name)
        register_loops(runner, settings)
        health_tasks.register(runner, app.state.database)
        invoice_tasks.register(runner, settings, app.state.database)
        app.state.loops = runner
        if settings.run_background_loops if run_loops is None else run_loops:
            runner.start()
        try:
            yield
        finally:
            await runner.stop()
            if owns_database:
                await app.state.database.dispose()

    app = FastAPI(
        title="openTelecom",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    if database is not None:
        app.state.database = database
    problems.install(app, html=web_shell.error_page)
    web_shell.install(app)

    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        incoming = request.headers.get("x-request-id", "")
        request.state.request_id = incoming if 8 <= len(incoming) <= 64 and incoming.isalnum() else secrets.token_hex(8)
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/api/docs"):
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
            )
        return response

    api = APIRouter(prefix="/api/v1")
    api.include_router(auth_router)
    api.include_router(members_router)
    api.include_router(contracts_router)
    api.include_router(audit_router)
    api.include_router(network_router)
    api.include_router(devices_router)
    api.include_router(provisioning_router)
    api.include_router(ledger_router)
    api.include_router(dividends_router)
    api.include_router(invoices_router)
    api.include_router(payments_router)
    api.include_router(dunning_router)
    app.include_router(api)
    app.include_router(all_pages())
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "web" / "static")), name="static")

    @app.get("/healthz", tags=["health"])
    async def healthz(request: Request) -> JSONResponse:
        """The database and each background loop; 503 when any is failing."""
        db_ok, db_error = True, None
        try:
            async with request.app.state.database.sessionmaker() as session:
                await session.execute(sa.text("SELECT 1"))
        except Exception as error:  # noqa: BLE001 - reported, not raised: this endpoint says what is broken
            db_ok, db_error = False, f"{type(error).__name__}"
            log.warning("health check: database unreachable: %s", error)
        runner: LoopRunner = request.app.state.loops
        loops_ok = runner.healthy()
        body = {
            "status": "ok" if db_ok and loops_ok else "failing",
            "database": {
                "status": "ok" if db_ok else "failing",
                "dialect": request.app.state.database.engine.dialect.name,
                "error": db_error,
            },
            "loops": runner.report(),
        }
        return JSONResponse(body, status_code=200 if db_ok and loops_ok else 503)

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    async def metrics(request: Request, session: SessionDep) -> Response:
        """Prometheus metrics: the SNMP pollers' figures and the latest device and line figures."""
        if settings.metrics_token:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {settings.metrics_token}".encode()):
                return PlainTextResponse("a metrics token is required\n", status_code=401)
        elif request.client is None or request.client.host not in ("127.0.0.1", "::1"):
            return PlainTextResponse("metrics are answered on this machine only\n", status_code=403)
        body = await health_metrics.render(session)
        return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    return app
