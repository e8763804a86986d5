"""A local stand-in for Confluence Cloud's REST API v2 (no Confluence can run here: it is
proprietary, with no package to install). It serves hand-written fixtures in the documented response
shapes, NOT recordings of a real site: ``GET /wiki/api/v2/spaces``, ``/pages`` (``space-id``,
``status``, ``body-format``), ``/pages/{id}?body-format=storage`` and ``/pages/{id}/labels``, with
cursor pagination through ``_links.next`` and a ``Link: <..>; rel="next"`` header, HTTP Basic auth
(e-mail + API token), and errors as ``{"errors": [{status, code, title, detail}]}``. The server caps
``limit`` at 2 so every listing pages. It records each request's path and query."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

PAGE_LIMIT = 2


@dataclass
class Site:
    user: str = "bot@example.com"
    token: str = "api-token-1"
    spaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    clock: int = 0

    def now(self) -> str:
        self.clock += 1
        return f"2025-01-{1 + self.clock // 1440:02d}T{(self.clock // 60) % 24:02d}:{self.clock % 60:02d}:00.000Z"

    def add_space(self, space_id: str, key: str, name: str) -> None:
        self.spaces[space_id] = {"id": space_id, "key": key, "name": name, "type": "global", "status": "current",
                                 "_links": {"webui": f"/spaces/{key}"}}

    def put_page(self, page_id: str, space_id: str, title: str, body: str, labels: list[str] | None = None,
                 parent: str | None = None, author: str = "557058:alice") -> None:
        old = self.pages.get(page_id)
        stamp = self.now()
        self.pages[page_id] = {
            "id": page_id, "status": "current", "title": title, "spaceId": space_id, "parentId": parent,
            "parentType": "page" if parent else None, "authorId": author,
            "createdAt": old["createdAt"] if old else stamp,
            "version": {"number": old["version"]["number"] + 1 if old else 1, "createdAt": stamp,
                        "authorId": author, "message": ""},
            "body": body, "labels": labels or [],
        }

    def page_view(self, page: dict[str, Any], body_format: str) -> dict[str, Any]:
        key = self.spaces[page["spaceId"]]["key"]
        view = {k: v for k, v in page.items() if k not in ("body", "labels")}
        view["body"] = {"storage": {"value": page["body"], "representation": "storage"}} \
            if body_format == "storage" else {}
        view["_links"] = {"webui": f"/spaces/{key}/pages/{page['id']}", "editui": f"/pages/resumedraft.action?"
                          f"draftId={page['id']}", "tinyui": f"/x/{page['id']}"}
        return view


def _error(status: int, code: str, title: str) -> tuple[int, dict[str, Any]]:
    return status, {"errors": [{"status": status, "code": code, "title": title, "detail": None}]}


class _Handler(BaseHTTPRequestHandler):
    site: Site

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.site.requests.append(self.path)
        status, body, link = self._route(parts.path, query)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if link:
            self.send_header("Link", f'<{link}>; rel="next"')
        self.end_headers()
        self.wfile.write(data)

    def _route(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any], str | None]:
        expected = "Basic " + base64.b64encode(f"{self.site.user}:{self.site.token}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return (*_error(401, "UNAUTHORIZED", "Unauthorized; scope does not match"), None)
        if path == "/wiki/api/v2/spaces":
            keys = set(query["keys"].split(",")) if "keys" in query else None
            items = [s for s in self.site.spaces.values() if keys is None or s["key"] in keys]
            return self._page_of(path, query, items)
        if path == "/wiki/api/v2/pages":
            items = [self.site.page_view(p, query.get("body-format", "none")) for p in self.site.pages.values()
                     if p["spaceId"] == query.get("space-id") and p["status"] == query.get("status", "current")]
            return self._page_of(path, query, items)
        segments = path.removeprefix("/wiki/api/v2/pages/").split("/")
        if path.startswith("/wiki/api/v2/pages/") and segments[0] in self.site.pages:
            page = self.site.pages[segments[0]]
            if len(segments) == 1:
                return 200, self.site.page_view(page, query.get("body-format", "none")), None
            if segments[1:] == ["labels"]:
                labels = [{"id": str(i), "name": name, "prefix": "global"} for i, name in enumerate(page["labels"])]
                return self._page_of(path, query, labels)
        return (*_error(404, "NOT_FOUND", "Not Found"), None)

    def _page_of(self, path: str, query: dict[str, str], items: list[dict[str, Any]]
                 ) -> tuple[int, dict[str, Any], str | None]:
        start = int(query.get("cursor", "0"))
        limit = min(int(query.get("limit", "25")), PAGE_LIMIT)
        body: dict[str, Any] = {"results": items[start : start + limit], "_links": {"base": "/wiki"}}
        link = None
        if start + limit < len(items):
            link = f"{path}?{urlencode({**query, 'cursor': str(start + limit)})}"
            body["_links"]["next"] = link
        return 200, body, link


class ConfluenceStandIn:
    def __init__(self, site: Site) -> None:
        handler = type("Handler", (_Handler,), {"site": site})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/wiki"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ConfluenceStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
