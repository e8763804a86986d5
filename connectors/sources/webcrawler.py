"""WEBCRAWLER: pages reachable from seed URLs and sitemaps, on the seeds' own sites.

Endpoint metadata: ``seedUrls`` (list), ``siteMapUrls`` (list), ``crawlDepth`` (links followed from a
seed, default 2), ``maxLinksPerPage`` (default 100), ``maxUrlsPerMinute`` (default 300; the crawler
waits between requests to stay under it), ``crawlSubdomains`` (default false: only the seeds' hosts).
robots.txt is obeyed (user agent ``KensakuBot``). Every connection obeys the outbound policy
(connectors/outbound.py: each host resolved once, checked, and connected to at that address), and a
redirect is followed only to the crawl's own sites, each hop checked again: a crawler fetching what an
admin types must not become a way into the internal network.

Document ids are the page URLs (without fragments); the version is the sha256 of the body, so an
unchanged page is not sent again; pages no longer reachable are deletions. Metadata: ``_authors`` from
``<meta name="author">``, ``_last_updated_at`` from Last-Modified, ``_category`` from the first path segment.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from connectors.contract import (
    Change,
    Checkpoint,
    Deletion,
    Failure,
    ItemFailed,
    SourceDocument,
    SourceMisconfigured,
    SourceUnavailable,
    Upsert,
)
from connectors.documents import content_type_of
from connectors.outbound import OutboundPolicy, TargetRefused
from connectors.patterns import Patterns

USER_AGENT = "KensakuBot/0.1 (+https://github.com/kensaku)"
_MIME = {"text/html": "HTML", "application/xhtml+xml": "HTML", "application/pdf": "PDF", "text/plain": "PLAIN_TEXT",
         "text/markdown": "MD", "text/csv": "CSV"}


@dataclass(frozen=True, slots=True)
class WebCrawlerConfig:
    seed_urls: tuple[str, ...] = ()
    site_map_urls: tuple[str, ...] = ()
    crawl_depth: int = 2  # links followed from a seed
    max_links_per_page: int = 100
    max_urls_per_minute: int = 300
    crawl_subdomains: bool = False  # False: only the seeds' own hosts


@dataclass(frozen=True, slots=True)
class WebCrawlerCheckpoint(Checkpoint):
    """When the crawl ended (epoch seconds). Every sync crawls again and diffs the pages' hashes."""

    crawled_at: float


def content_type_for(url: str, mime: str) -> str | None:
    return _MIME.get(mime.split(";")[0].strip().lower()) or content_type_of(urlsplit(url).path)


class WebCrawlerConnector:
    def __init__(self, config: WebCrawlerConfig, patterns: Patterns, max_bytes: int,
                 outbound: OutboundPolicy) -> None:
        self.seeds = list(config.seed_urls)
        self.sitemaps = list(config.site_map_urls)
        self.depth = config.crawl_depth
        self.max_links = config.max_links_per_page
        self.interval = 60.0 / max(1, config.max_urls_per_minute)
        self.subdomains = config.crawl_subdomains
        self.patterns = patterns
        self.max_bytes = max_bytes
        self.outbound = outbound
        self.hosts = {urlsplit(u).hostname or "" for u in self.seeds + self.sitemaps}
        self._robots: dict[str, RobotFileParser] = {}
        self._last_request = 0.0
        self._client: Any = None

    # -- HTTP --------------------------------------------------------------------------------------

    def _http(self) -> Any:
        if self._client is None:

            self._client = self.outbound.http_client(headers={"User-Agent": USER_AGENT}, timeout=20,
                                                     follow_redirects=False)
        return self._client

    def get(self, url: str) -> Any:
        """GET with the rate limit, following redirects to the crawl's own sites only; each connection is
        checked by the outbound policy (TargetRefused)."""
        import httpx

        for _ in range(5):
            wait = self._last_request + self.interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_request = time.monotonic()
            try:
                response = self._http().get(url)
            except httpx.HTTPError as error:
                raise SourceUnavailable(f"cannot fetch {url}: {error}") from None
            if response.is_redirect and "location" in response.headers:
                target = urldefrag(urljoin(url, response.headers["location"]))[0]
                if not self._on_sites(target):
                    raise ItemFailed(f"{url} redirects to {target}, outside the crawl's sites; not followed")
                url = target
                continue
            return response
        raise ItemFailed(f"too many redirects from {url}")

    def allowed_by_robots(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        robots = self._robots.get(origin)
        if robots is None:
            robots = RobotFileParser()
            try:
                r = self.get(f"{origin}/robots.txt")
                robots.parse(r.text.splitlines() if r.status_code == 200 else [])
            except (SourceUnavailable, ItemFailed, TargetRefused):  # then the page's own GET says why
                robots.parse([])
            self._robots[origin] = robots
        return robots.can_fetch(USER_AGENT, url)

    # -- scope -------------------------------------------------------------------------------------

    def _on_sites(self, url: str) -> bool:
        """Whether ``url`` is on the seeds' hosts (or their subdomains, with crawlSubdomains)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https"):
            return False
        return host in self.hosts or (self.subdomains and any(host.endswith("." + h) for h in self.hosts))

    def _in_scope(self, url: str) -> bool:
        return self._on_sites(url) and self.patterns.allows(url)

    def _sitemap_urls(self, url: str, nested: int = 0) -> list[str]:
        from selectolax.lexbor import LexborHTMLParser as HTMLParser

        response = self.get(url)
        if response.status_code != 200:
            return []
        tree = HTMLParser(response.text)
        if tree.css_first("sitemapindex") is not None and nested == 0:
            indexed = [loc.text().strip() for loc in tree.css("sitemap loc")]
            return [u for n in indexed if self._on_sites(n) for u in self._sitemap_urls(n, 1)]
        return [loc.text().strip() for loc in tree.css("url loc")]

    # -- the contract ------------------------------------------------------------------------------

    def changes(self, checkpoint: WebCrawlerCheckpoint | None,
                known: Mapping[str, str]) -> Generator[Change, None, WebCrawlerCheckpoint]:
        from selectolax.lexbor import LexborHTMLParser as HTMLParser

        if not self.seeds and not self.sitemaps:
            raise SourceMisconfigured("a WEBCRAWLER source needs seedUrls or siteMapUrls")
        for url in self.seeds + self.sitemaps:  # a refused seed fails the job at once, with the reason
            self.outbound.resolve_url(url)
        queue: deque[tuple[str, int]] = deque((urldefrag(u)[0], 0) for u in self.seeds)
        for sitemap in self.sitemaps:
            queue.extend((urldefrag(u)[0], self.depth) for u in self._sitemap_urls(sitemap))
        queued = {u for u, _ in queue}
        seen: set[str] = set()
        reached = 0
        while queue:
            url, depth = queue.popleft()
            if not self._in_scope(url) or not self.allowed_by_robots(url):
                continue
            try:
                response = self.get(url)
            except (SourceUnavailable, ItemFailed, TargetRefused) as error:
                yield Failure(url, str(error))
                continue
            reached += 1
            if response.status_code != 200:
                continue
            kind = content_type_for(url, response.headers.get("content-type", ""))
            if kind is None:
                continue
            seen.add(url)
            yield Upsert(url, hashlib.sha256(response.content).hexdigest(), {"url": url})
            if kind != "HTML" or depth >= self.depth:
                continue
            links = 0
            for a in HTMLParser(response.text).css("a[href]"):
                link = urldefrag(urljoin(url, a.attributes.get("href") or ""))[0]
                if link in queued or not self._in_scope(link):
                    continue
                queued.add(link)
                queue.append((link, depth + 1))
                links += 1
                if links >= self.max_links:
                    break
        if reached == 0:
            raise SourceUnavailable("no seed URL could be fetched")
        for doc_id in sorted(set(known) - seen):
            yield Deletion(doc_id)
        return WebCrawlerCheckpoint(crawled_at=time.time())

    def fetch(self, item: Upsert) -> SourceDocument:
        from selectolax.lexbor import LexborHTMLParser as HTMLParser

        url = str(item.ref["url"])
        try:
            response = self.get(url)
        except TargetRefused as error:
            raise ItemFailed(str(error)) from None
        if response.status_code != 200:
            raise ItemFailed(f"{url} answered HTTP {response.status_code}")
        if len(response.content) > self.max_bytes:
            raise ItemFailed(f"{url} is {len(response.content):,} bytes; the limit is {self.max_bytes:,} bytes")
        kind = content_type_for(url, response.headers.get("content-type", ""))
        authors: tuple[str, ...] = ()
        if kind == "HTML":
            meta = HTMLParser(response.text).css_first('meta[name="author"]')
            if meta is not None and meta.attributes.get("content"):
                authors = (str(meta.attributes["content"]),)
        updated: datetime | None = None
        if "last-modified" in response.headers:
            try:
                updated = parsedate_to_datetime(response.headers["last-modified"])
            except (TypeError, ValueError):
                updated = None
        segments = [s for s in urlsplit(url).path.split("/") if s]
        return SourceDocument(
            doc_id=item.doc_id, data=response.content, source_uri=url, content_type=kind,
            created_at=updated, updated_at=updated, authors=authors,
            category=segments[0] if len(segments) > 1 else None,
        )
