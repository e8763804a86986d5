"""GET routes for the web pages (web/): the search page at /, /dashboard and /admin.

The pages are plain HTML and JavaScript that speak the Kendra protocol to ``POST /`` like any other
client; this module only serves them, tells them which index to search (``/config.json``) and guards
the dashboard and admin pages with the admin token.

Admin session: the token is posted once to ``/admin/session``; the answer is an HttpOnly,
SameSite=Strict cookie holding a random session id kept in this process (services/web/sessions.py),
which ``DELETE /admin/session`` or ``admin_session_idle_seconds`` of disuse ends. Wrong tokens are
limited per client address (429 with Retry-After past ``admin_login_attempts_per_minute``); a body
that is not ``{"token": "<string>"}`` is a 400. Without a configured token the dashboard and admin
pages are off (404).
"""

from __future__ import annotations

import hmac
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from services.api import body
from services.api.errors import KendraError, ValidationException
from services.api.identity import user_context
from services.settings import Settings
from services.web.sessions import LoginLimiter, Sessions

COOKIE = "kensaku_admin"
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


def web_router(settings: Settings, sessions: Sessions) -> APIRouter:
    """The routes of the web pages; mount ``static_files(settings)`` at /static beside it."""
    router = APIRouter()
    root = web_dir(settings)
    limiter = LoginLimiter(settings.admin_login_attempts_per_minute)

    def page(name: str) -> Response:
        return FileResponse(root / name, media_type="text/html; charset=utf-8",
                            headers={**_NO_CACHE, "Content-Security-Policy": _CSP})

    def guarded(name: str, request: Request) -> Response:
        if settings.admin_token is None:
            return Response("The dashboard and admin pages are off: set KENSAKU_ADMIN_TOKEN to turn them on.\n",
                            status_code=404, media_type="text/plain; charset=utf-8")
        return page(name if is_admin(sessions, request) else "login.html")

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
        if settings.admin_token is None:
            return JSONResponse({"message": "admin pages are off"}, status_code=404)
        address = request.client.host if request.client is not None else ""
        wait = limiter.retry_after(address)
        if wait is not None:
            return JSONResponse({"message": f"too many wrong tokens; try again in {wait} s"}, status_code=429,
                                headers={"Retry-After": str(wait)})
        try:
            token = await _posted_token(request)
        except KendraError as error:
            return JSONResponse({"message": error.message}, status_code=400)
        expected = settings.admin_token.get_secret_value()
        if not hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8")):
            limiter.failed(address)
            return JSONResponse({"message": "wrong admin token"}, status_code=403)
        response = JSONResponse({"ok": True})
        response.set_cookie(COOKIE, sessions.open(), httponly=True, samesite="strict", path="/")
        return response

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
