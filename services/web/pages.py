"""GET routes for the web pages (web/): the search page at /, /dashboard and /admin.

The pages are plain HTML and JavaScript that speak the Kendra protocol to ``POST /`` like any other
client; this module only serves them, tells them which index to search (``/config.json``) and guards
the dashboard and admin pages with the admin token.

Admin session: the token is posted once to ``/admin/session`` and comes back as an HttpOnly,
SameSite=Strict cookie holding an HMAC of the token (never the token itself). Without a configured
token the dashboard and admin pages are off (404).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from services.api.identity import user_context
from services.settings import Settings

COOKIE = "kensaku_admin"
_SESSION_SALT = b"kensaku-admin-session-v1"
# The pages are small and change with the server; revalidate instead of caching stale copies.
_NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
# Document text is rendered as DOM text; the policy is a second wall: no inline script, no foreign script.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def web_dir(settings: Settings) -> Path:
    """The folder holding the pages (``web_dir`` or the repository's web/)."""
    return settings.web_dir or Path(__file__).resolve().parents[2] / "web"


def _session_value(token: str) -> str:
    return hmac.new(token.encode("utf-8"), _SESSION_SALT, hashlib.sha256).hexdigest()


def is_admin(settings: Settings, request: Request) -> bool:
    """Whether the request carries a valid admin session cookie."""
    if settings.admin_token is None:
        return False
    cookie = request.cookies.get(COOKIE, "")
    return hmac.compare_digest(cookie, _session_value(settings.admin_token.get_secret_value()))


def web_router(settings: Settings) -> APIRouter:
    """The routes of the web pages; mount ``static_files(settings)`` at /static beside it."""
    router = APIRouter()
    root = web_dir(settings)

    def page(name: str) -> Response:
        return FileResponse(root / name, media_type="text/html; charset=utf-8",
                            headers={**_NO_CACHE, "Content-Security-Policy": _CSP})

    def guarded(name: str, request: Request) -> Response:
        if settings.admin_token is None:
            return Response("The dashboard and admin pages are off: set KENSAKU_ADMIN_TOKEN to turn them on.\n",
                            status_code=404, media_type="text/plain; charset=utf-8")
        return page(name if is_admin(settings, request) else "login.html")

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
        try:
            token = str((await request.json()).get("token", ""))
        except (ValueError, AttributeError):
            token = ""
        expected = settings.admin_token.get_secret_value()
        if not hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8")):
            return JSONResponse({"message": "wrong admin token"}, status_code=403)
        response = JSONResponse({"ok": True})
        response.set_cookie(COOKIE, _session_value(expected), httponly=True, samesite="strict", path="/")
        return response

    @router.delete("/admin/session", include_in_schema=False)
    def logout() -> Response:
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/")
        return response

    return router


def static_files(settings: Settings) -> StaticFiles:
    """The pages' scripts and styles (web/static), public."""
    return StaticFiles(directory=web_dir(settings) / "static")
