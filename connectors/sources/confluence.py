"""CONFLUENCE: pages of Confluence Cloud through the REST API v2.

Endpoint metadata: ``baseUrl`` (``https://<site>.atlassian.net/wiki``), ``username`` (the account
e-mail) and ``apiToken`` (HTTP Basic, as Atlassian documents for API tokens), optional ``spaceKeys``.

Listing: ``GET /api/v2/spaces`` then ``GET /api/v2/pages?space-id=..`` (metadata only, cursor pages
through ``_links.next``). Incremental by last-modified: the version of a page is its version number
and its modification time, so only pages edited since the last sync are fetched; pages no longer
listed (deleted, archived, moved out of the spaces) are deletions. Fetch: ``GET /api/v2/pages/{id}
?body-format=storage`` and ``/pages/{id}/labels``. The storage-format XHTML is read by the HTML
extractor; the breadcrumb of ancestors and the labels are put at the top of the text, so both are
searchable. Metadata: ``_category`` the space's name, ``_authors`` the author's account id (v2 has no
display names), ``_created_at`` / ``_last_updated_at`` from the page and its current version.

Reach: every connection obeys the outbound policy (connectors/outbound.py), and the credentials go
only to ``baseUrl``'s own site: a ``_links.next`` pointing elsewhere is refused.

Errors: 401 CredentialsRejected, 403 SourceForbidden, 404 SourceMisconfigured, 429 / 5xx /
connection errors SourceUnavailable (retried with backoff).
"""

from __future__ import annotations

import html
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from connectors.contract import (
    Change,
    Checkpoint,
    CredentialsRejected,
    Deletion,
    ItemFailed,
    SourceDocument,
    SourceError,
    SourceForbidden,
    SourceMisconfigured,
    SourceUnavailable,
    Upsert,
    iso_time,
)
from connectors.outbound import OutboundPolicy, TargetRefused
from connectors.patterns import Patterns


@dataclass(frozen=True, slots=True)
class ConfluenceConfig:
    base_url: str  # https://<site>.atlassian.net/wiki
    username: str = ""  # the account e-mail; "": no credentials
    api_token: str = ""
    space_keys: tuple[str, ...] = ()  # (): every space the account can read


@dataclass(frozen=True, slots=True)
class ConfluenceCheckpoint(Checkpoint):
    """The keys of the spaces listed. Every sync lists the pages' metadata and diffs the versions."""

    spaces: tuple[str, ...]


class ConfluenceConnector:
    def __init__(self, config: ConfluenceConfig, patterns: Patterns, max_bytes: int,
                 outbound: OutboundPolicy) -> None:
        self.base = config.base_url.rstrip("/")
        self.username = config.username
        self.token = config.api_token
        self.space_keys = list(config.space_keys)
        self.patterns = patterns
        self.max_bytes = max_bytes
        self.outbound = outbound
        self._client: Any = None

    def _get(self, path_or_url: str, **params: Any) -> dict[str, Any]:
        import httpx

        if self._client is None:
            auth = (self.username, self.token) if self.username else None
            self._client = self.outbound.http_client(timeout=60, auth=auth, headers={"Accept": "application/json"})
        url = path_or_url if path_or_url.startswith("http") else f"{self.base}{path_or_url}"
        if urlsplit(url)[:2] != urlsplit(self.base)[:2]:  # the Basic credentials go with every request
            raise TargetRefused(f"Confluence pointed to {url}, outside {self.base}; refused")
        try:
            response = self._client.get(url, params=params or None)
        except httpx.HTTPError as error:
            raise SourceUnavailable(f"cannot reach Confluence at {self.base}: {error}") from None
        status = response.status_code
        if status == 200:
            body: dict[str, Any] = response.json()
            return body
        detail = _detail(response)
        if status == 401:
            raise CredentialsRejected(f"Confluence refused the credentials: {detail}")
        if status == 403:
            raise SourceForbidden(f"Confluence denied access: {detail}")
        if status == 404:
            raise SourceMisconfigured(f"Confluence has no {urlsplit(url).path}: {detail}")
        if status == 429 or status >= 500:
            raise SourceUnavailable(f"Confluence answered HTTP {status}: {detail}")
        raise SourceError(f"Confluence answered HTTP {status}: {detail}")

    def _paged(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        body = self._get(path, **params)
        while True:
            yield from body.get("results", [])
            following = (body.get("_links") or {}).get("next")
            if not following:
                return
            # _links.next is relative to the site ("/wiki/api/v2/pages?cursor=..").
            body = self._get(urljoin(self.base + "/", following))

    def changes(self, checkpoint: ConfluenceCheckpoint | None,
                known: Mapping[str, str]) -> Generator[Change, None, ConfluenceCheckpoint]:
        params: dict[str, Any] = {"limit": 250}
        if self.space_keys:
            params["keys"] = ",".join(self.space_keys)
        spaces = {s["id"]: s for s in self._paged("/api/v2/spaces", **params)}
        if self.space_keys and not spaces:
            raise SourceMisconfigured(f"Confluence has no spaces {', '.join(self.space_keys)}")
        pages: dict[str, dict[str, Any]] = {}
        for space_id in spaces:
            for page in self._paged("/api/v2/pages", **{"space-id": space_id, "limit": 250, "status": "current",
                                                         "body-format": "none"}):
                pages[str(page["id"])] = page
        seen: set[str] = set()
        for page_id, page in sorted(pages.items()):
            if not self.patterns.allows(page.get("title", "")):
                continue
            crumbs: list[str] = []
            parent = page.get("parentId")
            while parent and str(parent) in pages and len(crumbs) < 20:
                crumbs.insert(0, pages[str(parent)]["title"])
                parent = pages[str(parent)].get("parentId")
            doc_id = f"{self.base}/pages/{page_id}"
            seen.add(doc_id)
            version = page.get("version") or {}
            space = spaces.get(page.get("spaceId"), {})
            yield Upsert(doc_id, f"{version.get('number', 0)}@{version.get('createdAt', '')}",
                         {"id": page_id, "ancestors": crumbs, "space": space.get("name") or space.get("key")})
        for doc_id in sorted(set(known) - seen):
            yield Deletion(doc_id)
        return ConfluenceCheckpoint(spaces=tuple(sorted(str(s.get("key")) for s in spaces.values())))

    def fetch(self, item: Upsert) -> SourceDocument:
        page_id = str(item.ref["id"])
        try:
            page = self._get(f"/api/v2/pages/{page_id}", **{"body-format": "storage"})
            labels = [label["name"] for label in self._paged(f"/api/v2/pages/{page_id}/labels")]
        except SourceMisconfigured:
            raise ItemFailed(f"page {page_id} was deleted during the sync") from None
        storage = ((page.get("body") or {}).get("storage") or {}).get("value", "")
        if len(storage.encode()) > self.max_bytes:
            raise ItemFailed(f"page {page_id} is over the limit of {self.max_bytes:,} bytes")
        header = ""
        if item.ref.get("ancestors"):
            header += f"<p>{html.escape(' > '.join(item.ref['ancestors']))}</p>"
        if labels:
            header += f"<p>{html.escape(', '.join(labels))}</p>"
        title = page.get("title") or page_id
        document = f"<html><head><title>{html.escape(title)}</title></head><body>{header}{storage}</body></html>"
        webui = (page.get("_links") or {}).get("webui")
        return SourceDocument(
            doc_id=item.doc_id, data=document.encode(), source_uri=f"{self.base}{webui}" if webui else item.doc_id,
            title=title, content_type="HTML", created_at=iso_time(page.get("createdAt")),
            updated_at=iso_time((page.get("version") or {}).get("createdAt")),
            authors=(str(page["authorId"]),) if page.get("authorId") else (),
            category=item.ref.get("space"),
        )


def _detail(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return str(response.text)[:200]
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        return "; ".join(str(e.get("title") or e.get("detail") or e.get("code")) for e in errors)
    return str(body.get("message", body))[:200] if isinstance(body, dict) else str(body)[:200]
