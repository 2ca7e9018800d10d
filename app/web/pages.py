"""The shell's own pages (login, logout, home) and the routers of each audience's pages."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.auth import service as auth_service
from app.auth.deps import SESSION_COOKIE, SessionDep
from app.auth.models import TokenKind
from app.auth.router import client_key
from app.kit.actor import Channel
from app.kit.errors import DomainError
from app.web.shell import AnyPage, WebDep, home_for, redirect

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: a login link must not bounce the user to another host."""
    if not target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@router.get("/", response_class=HTMLResponse)
async def home(web: WebDep) -> Response:
    if web.actor is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_for(web.actor), status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_form(web: WebDep, next: str | None = None) -> Response:
    if web.actor is not None:
        return RedirectResponse(_safe_next(next) or home_for(web.actor), status_code=303)
    return web.render("login.html", next=_safe_next(next) or "", email="", error=None)


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    web: WebDep,
    session: SessionDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        issued = await auth_service.login(
            session,
            settings=web.settings,
            email=email,
            password=password,
            client=client_key(request),
            kind=TokenKind.SESSION,
        )
    except DomainError as error:
        message = (
            web.translator.gettext("E-mail or password is wrong.")
            if error.status == 401
            else web.translator.gettext("Too many failed logins; try again later.")
        )
        # Answered with a page, not raised: the unit of work commits, so the failed attempt counts.
        return web.render(
            "login.html", status_code=error.status, next=_safe_next(next) or "", email=email, error=message
        )
    target = _safe_next(next) or home_for(auth_service.actor_for(issued.user, Channel.WEB))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=web.settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=web.settings.cookie_secure,
        path="/",
    )
    if issued.user.locale:
        response.set_cookie("ot_lang", issued.user.locale, max_age=365 * 86400, samesite="lax")
    return response


@router.post("/logout")
async def logout(web: AnyPage, session: SessionDep) -> Response:
    await web.check_csrf()
    token = web.request.cookies.get(SESSION_COOKIE)
    if token:
        await auth_service.logout(session, token=token)
    response = redirect("/login", flash=web.translator.gettext("You are logged out."))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def all_pages() -> APIRouter:
    """The shell's pages plus each domain's; domains import the shell, so this assembles them last."""
    from app.audit.pages import router as audit_pages
    from app.contracts.pages import router as contract_pages
    from app.members.pages import router as member_pages
    from billing.dividends.pages import router as dividend_pages
    from billing.dunning.pages import router as dunning_pages
    from billing.invoices.pages import router as invoice_pages
    from billing.payments.pages import router as payment_pages
    from network.health.pages import router as health_pages
    from provisioning.pages import router as provisioning_pages

    pages = APIRouter(include_in_schema=False)
    # provisioning before contracts: its /console/contracts/{id}/provision must win over the {step} form route.
    for part in (
        router,
        member_pages,
        provisioning_pages,
        contract_pages,
        audit_pages,
        health_pages,
        dividend_pages,
        invoice_pages,
        payment_pages,
        dunning_pages,
    ):
        pages.include_router(part)
    return pages
