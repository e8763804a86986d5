"""GET routes for the web pages (web/): the search page at /, /dashboard and /admin.

The pages are plain HTML and JavaScript that speak the Kendra protocol to ``POST /`` like any other
client; this module only serves them, tells them which index to search (``/config.json``) and guards
the dashboard and admin pages with the admin token.

Admin session: the token is posted once to ``/admin/session`` (the sign-in form), or opened as the
link ``kensaku serve`` prints on first run (``GET /login?token=...``, which then redirects to /admin
so the token leaves the address bar); the answer is an HttpOnly, SameSite=Strict cookie holding a
random session id kept in this process (services/web/sessions.py), which ``DELETE /admin/session``,
``admin_session_idle_seconds`` of disuse or a new token ends. Wrong tokens are limited per client
address (429 with Retry-After past ``admin_login_attempts_per_minute``); a body that is not
``{"token": "<string>"}`` is a 400. The token is the configured one or the one made on first run
(services/web/admin_token.py); with neither, the dashboard and admin pages are off (404).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from kernel.errors import KendraError, ValidationException
from services.api import body
from services.api.identity import user_context
from services.settings import Settings
from services.web.admin_token import AdminToken
from services.web.sessions import LoginLimiter, Sessions

COOKIE = "kensaku_admin"
_OFF = ("The dashboard and admin pages are off: set KENSAKU_ADMIN_TOKEN, or run `kensaku admin-token --rotate`"
        " for a sign-in link.\n")
_LOGIN_BODY_BYTES = 4096  # {"token": ...}: room for any sensible token, nothing more is read
# The pages are small and change with the server; revalidate instead of caching stale copies.
_NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
# Document text is rendered as DOM text; the policy is a second wall: no inline script, no foreign script.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def web_dir(settings: Settings) -> Path:
    """The folder holding the pages (``web_dir`` or the repository's web/)."""
    return settings.web_dir or Path(__file__).resolve().parents[2] / "web"


async def _posted_token(request: Request) -> str:
    """The token of a sign-in body; KendraError (a 400) for anything but ``{"token": "<string>"}``."""
    raw = await body.read_limited(request.stream(), request.headers.get("content-length"), _LOGIN_BODY_BYTES)
    value = body.parse(raw)  # strict UTF-8, no lone surrogates, bounded nesting
    token = value.get("token") if isinstance(value, dict) else None
    if not isinstance(token, str):
        raise ValidationException('The body must be {"token": "<the admin token>"}')
    return token


def is_admin(sessions: Sessions, request: Request) -> bool:
    """Whether the request holds an open admin session (and keeps it open)."""
    return sessions.use(request.cookies.get(COOKIE, ""))


def web_router(settings: Settings, sessions: Sessions, token: AdminToken) -> APIRouter:
    """The routes of the web pages; mount ``static_files(settings)`` at /static beside it."""
    router = APIRouter()
    root = web_dir(settings)
    limiter = LoginLimiter(settings.admin_login_attempts_per_minute)

    def page(name: str, status_code: int = 200) -> Response:
        return FileResponse(root / name, status_code=status_code, media_type="text/html; charset=utf-8",
                            headers={**_NO_CACHE, "Content-Security-Policy": _CSP})

    def off() -> Response:
        return Response(_OFF, status_code=404, media_type="text/plain; charset=utf-8")

    def guarded(name: str, request: Request) -> Response:
        if not token.enabled:
            return off()
        return page(name if is_admin(sessions, request) else "login.html")

    def signed_in(response: Response) -> Response:
        response.set_cookie(COOKIE, sessions.open(), httponly=True, samesite="strict", path="/")
        return response

    def address_of(request: Request) -> str:
        return request.client.host if request.client is not None else ""

    @router.get("/", include_in_schema=False)
    def search_page() -> Response:
        return page("index.html")

    @router.get("/config.json", include_in_schema=False)
    def config(request: Request) -> Response:
        body: dict[str, Any] = {"indexId": settings.web_index_id, "user": None}
        context = user_context(settings, request.headers)
        if context is not None:
            body["user"] = context["UserId"]
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json", headers=_NO_CACHE)

    @router.get("/dashboard", include_in_schema=False)
    def dashboard(request: Request) -> Response:
        return guarded("dashboard.html", request)

    @router.get("/admin", include_in_schema=False)
    def admin(request: Request) -> Response:
        return guarded("admin.html", request)

    @router.post("/admin/session", include_in_schema=False)
    async def login(request: Request) -> Response:
        if not token.enabled:
            return JSONResponse({"message": "admin pages are off"}, status_code=404)
        address = address_of(request)
        wait = limiter.retry_after(address)
        if wait is not None:
            return JSONResponse({"message": f"too many wrong tokens; try again in {wait} s"}, status_code=429,
                                headers={"Retry-After": str(wait)})
        try:
            posted = await _posted_token(request)
        except KendraError as error:
            return JSONResponse({"message": error.message}, status_code=400)
        if not await run_in_threadpool(token.check, posted):  # scrypt: off the event loop
            limiter.failed(address)
            return JSONResponse({"message": "wrong admin token"}, status_code=403)
        return signed_in(JSONResponse({"ok": True}))

    @router.get("/login", include_in_schema=False)
    async def login_link(request: Request) -> Response:
        """The sign-in link ``kensaku serve`` prints: a right token opens a session and goes on to /admin
        (the redirect takes the token out of the address bar); a wrong one shows the sign-in form."""
        if not token.enabled:
            return off()
        address = address_of(request)
        wait = limiter.retry_after(address)
        if wait is not None:
            return Response(f"Too many wrong tokens: try again in {wait} s.\n", status_code=429,
                            media_type="text/plain; charset=utf-8", headers={"Retry-After": str(wait)})
        given = request.query_params.get("token", "")
        if len(given) > _LOGIN_BODY_BYTES or not await run_in_threadpool(token.check, given):
            limiter.failed(address)
            return page("login.html", status_code=403)
        response = RedirectResponse("/admin", status_code=303,
                                    headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
        return signed_in(response)

    @router.delete("/admin/session", include_in_schema=False)
    def logout(request: Request) -> Response:
        sessions.close(request.cookies.get(COOKIE, ""))
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/")
        return response

    return router


def static_files(settings: Settings) -> StaticFiles:
    """The pages' scripts and styles (web/static), public."""
    return StaticFiles(directory=web_dir(settings) / "static")
