"""What every page shares: the logged-in user, the language, CSRF protection and rendering."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.deps import SESSION_COOKIE, SessionDep, get_settings_dep, web_actor_optional
from app.auth.security import csrf_token
from app.db import mark_rollback_only
from app.kit.actor import Actor, Role
from app.kit.errors import DomainError
from app.settings import Settings
from app.web.i18n import Translator, negotiate
from app.web.templating import render

LANG_COOKIE = "ot_lang"


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to the login page."""

    def __init__(self, next_url: str):
        self.next_url = next_url


class PageForbidden(Exception):
    pass


@dataclass
class Web:
    """The request's page context: who is looking, in which language."""

    request: Request
    session: AsyncSession
    settings: Settings
    actor: Actor | None
    translator: Translator

    @property
    def user(self) -> Actor:
        """The logged-in actor on pages behind ``logged_in`` (which has already refused anonymous visitors)."""
        assert self.actor is not None, "page dependency logged_in() guarantees an actor"
        return self.actor

    @property
    def csrf(self) -> str:
        token = self.request.cookies.get(SESSION_COOKIE, "")
        return csrf_token(self.settings.secret_key, token) if token else ""

    def render(self, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = render(
            template,
            translator=self.translator,
            actor=self.actor,
            csrf=self.csrf,
            path=self.request.url.path,
            coop_name=self.settings.coop_name,
            flash=self.request.query_params.get("flash"),
            **context,
        )
        response = HTMLResponse(html, status_code=status_code)
        if self.request.query_params.get("lang") in ("de", "en"):
            response.set_cookie(LANG_COOKIE, self.translator.locale, max_age=365 * 86400, samesite="lax")
        return response

    def error(self, error: DomainError) -> HTMLResponse:
        """An error page for a refused action; whatever the action had written is rolled back."""
        mark_rollback_only(self.session)
        return self.render("error.html", status_code=error.status, message=error.detail)

    async def check_csrf(self) -> Mapping[str, Any]:
        """Read the posted form and refuse it unless it carries this session's CSRF token."""
        form = await self.request.form()
        sent = str(form.get("csrf", ""))
        if not self.csrf or not hmac.compare_digest(sent, self.csrf):
            raise PageForbidden()
        return form


def redirect(url: str, *, flash: str | None = None) -> RedirectResponse:
    if flash:
        url += ("&" if "?" in url else "?") + "flash=" + quote(flash)
    return RedirectResponse(url, status_code=303)


async def web_context(
    request: Request,
    session: SessionDep,
    settings: Annotated[Settings, Depends(get_settings_dep)],
    actor: Annotated[Actor | None, Depends(web_actor_optional)],
) -> Web:
    locale = negotiate(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
        settings.default_locale,
    )
    return Web(
        request=request,
        session=session,
        settings=settings,
        actor=actor,
        translator=Translator(locale, settings.timezone),
    )


WebDep = Annotated[Web, Depends(web_context)]


def logged_in(*roles: Role):  # type: ignore[no-untyped-def]
    """A page dependency: the visitor must be logged in (and hold one of ``roles``, if given)."""

    async def dependency(web: WebDep, session: SessionDep) -> Web:
        if web.actor is None:
            target = web.request.url.path
            if web.request.url.query:
                target += "?" + web.request.url.query
            raise LoginRequired(target)
        if roles and not web.actor.has(*roles):
            raise PageForbidden()
        return web

    return dependency


MemberPage = Annotated[Web, Depends(logged_in(Role.MEMBER))]
StaffPage = Annotated[Web, Depends(logged_in(Role.OPERATOR, Role.BOARD))]
BoardPage = Annotated[Web, Depends(logged_in(Role.BOARD))]
AnyPage = Annotated[Web, Depends(logged_in())]


def home_for(actor: Actor) -> str:
    if actor.role is Role.MEMBER:
        return "/portal"
    if actor.role is Role.BOARD:
        return "/board"
    return "/console"


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    """The HTML error page for browser requests (no user context: it may be the login that failed)."""
    settings: Settings = request.app.state.settings
    translator = Translator(
        negotiate(
            request.query_params.get("lang"),
            request.cookies.get(LANG_COOKIE),
            request.headers.get("accept-language"),
            settings.default_locale,
        ),
        settings.timezone,
    )
    html = render(
        "error.html",
        translator=translator,
        actor=None,
        csrf="",
        path=request.url.path,
        coop_name=settings.coop_name,
        flash=None,
        title=translator.gettext(title),
        message=translator.gettext(detail),
    )
    return HTMLResponse(html, status_code=status)


def install(app: FastAPI) -> None:
    """Page-specific exception handling: a login redirect, a forbidden page."""

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse("/login?next=" + quote(exc.next_url, safe="/"), status_code=303)

    async def forbidden(request: Request, exc: Exception) -> Response:
        return error_page(
            request,
            403,
            "Forbidden",
            "This page is not for your role, or the form has expired; reload it and try again.",
        )

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(PageForbidden, forbidden)
