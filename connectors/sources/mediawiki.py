"""MEDIAWIKI: pages of a MediaWiki, through its Action API or from an XML dump.

API (``apiUrl``, optional bot-password ``username`` / ``password``, ``namespaces``, default [0]):
the first sync lists every page (``generator=allpages``); later ones read ``list=recentchanges``
since the checkpoint's timestamp for edits and new pages, and ``list=logevents&letype=delete`` for
deletions (a deleted page's own recentchanges rows are removed by MediaWiki, so only the deletion log
sees it); the checkpoint also keeps the newest change and log ids read, since a change in the same
second as the last sync is listed again. The version is the page's latest revision id. A page's text
is the parser's HTML (``action=parse``), read by the same HTML extractor as any web page. Metadata:
``_category`` the first visible category, ``_authors`` the authors of the last 50 revisions,
``_created_at`` / ``_last_updated_at`` from the first and last revision.

Dump (``dumpPath``, optional ``baseUrl``): an offline import of an XML export (export-0.10/0.11):
the latest revision of each page, its wikitext turned into plain text here, categories from
``[[Category:..]]`` links (the localized namespace names of the dump's siteinfo count too).

Document ids are ``<wiki>/index.php?title=<Title>`` (a moved page is a deletion plus a new page).
The outbound policy holds: the API is reached through its pinned client, a dump must lie below an
allowed local root.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from connectors.contract import (
    Change,
    Checkpoint,
    CredentialsRejected,
    Deletion,
    ItemFailed,
    SourceDocument,
    SourceError,
    SourceMisconfigured,
    SourceUnavailable,
    Upsert,
    iso_time,
)
from connectors.outbound import OutboundPolicy
from connectors.patterns import Patterns

# -- wikitext to text (dumps only; the API path uses the wiki's own parser) ------------------------

_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.S)
_TAG = re.compile(r"<[^>]+>")
_LINK = re.compile(r"\[\[([^\[\]|]*\|)?([^\[\]]*)\]\]")
_EXTERNAL = re.compile(r"\[(?:https?|ftp)://\S+\s*([^\]]*)\]")
_HEADING = re.compile(r"^(=+)\s*(.*?)\s*\1\s*$", re.M)


def wikitext_to_text(text: str, category_names: tuple[str, ...]) -> tuple[str, list[str]]:
    """(plain text, categories) of a page's wikitext."""
    prefixes = "|".join(re.escape(n) for n in category_names)
    cat_link = re.compile(rf"\[\[\s*(?:{prefixes})\s*:\s*([^\]|]+)(?:\|[^\]]*)?\]\]", re.I)
    categories = [c.strip() for c in cat_link.findall(text)]
    text = cat_link.sub("", text)
    text = _REF.sub("", text)
    for _ in range(5):  # nested templates, innermost first
        text, n = _TEMPLATE.subn("", text)
        if not n:
            break
    text = _LINK.sub(lambda m: m.group(2), text)
    text = _EXTERNAL.sub(lambda m: m.group(1), text)
    text = _HEADING.sub(lambda m: m.group(2), text)
    text = text.replace("'''", "").replace("''", "")
    text = _TAG.sub("", text)
    return text.strip(), categories


@dataclass(frozen=True, slots=True)
class MediaWikiConfig:
    api_url: str = ""  # the wiki's api.php; "": read dump_path
    dump_path: str = ""  # an XML dump on this machine
    base_url: str = ""  # where a dump's pages are shown
    username: str | None = None  # a bot password's user name (API only)
    password: str | None = None
    namespaces: tuple[int, ...] = (0,)


@dataclass(frozen=True, slots=True)
class MediaWikiCheckpoint(Checkpoint):
    """API: when the last sync began listing (``since``) and the newest recent change and log event
    ids read by then; a dump: its path. Without ``since`` the next API sync lists every page."""

    since: str | None = None
    rcid: int | None = None
    logid: int | None = None
    dump: str | None = None


class MediaWikiConnector:
    def __init__(self, config: MediaWikiConfig, patterns: Patterns, max_bytes: int,
                 outbound: OutboundPolicy) -> None:
        self.api_url = config.api_url
        self.dump_path = config.dump_path
        self.base_url = config.base_url
        self.username = config.username
        self.password = config.password
        self.namespaces = list(config.namespaces)
        self.patterns = patterns
        self.max_bytes = max_bytes
        self.outbound = outbound
        self._client: Any = None
        self._dump_pages: dict[str, dict[str, Any]] | None = None

    def wiki_url(self) -> str:
        if self.api_url:
            return self.api_url.rsplit("/", 1)[0]
        return self.base_url.rstrip("/") or Path(self.dump_path).resolve().as_uri()

    def doc_id(self, title: str) -> str:
        return f"{self.wiki_url()}/index.php?title={quote(title.replace(' ', '_'))}"

    # -- API -----------------------------------------------------------------------------------

    def _api(self, **params: Any) -> dict[str, Any]:
        import httpx

        if self._client is None:
            self._client = self.outbound.http_client(timeout=60, headers={"User-Agent": "KensakuBot/0.1"})
            if self.username:
                self._login()
        try:
            response = self._client.post(self.api_url, data={**params, "format": "json", "formatversion": "2"})
        except httpx.HTTPError as error:
            raise SourceUnavailable(f"cannot reach {self.api_url}: {error}") from None
        if response.status_code >= 500:
            raise SourceUnavailable(f"{self.api_url} answered HTTP {response.status_code}")
        if response.status_code != 200:
            raise SourceMisconfigured(f"{self.api_url} answered HTTP {response.status_code}")
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            raise SourceMisconfigured(f"{self.api_url} is not a MediaWiki API (no JSON)") from None
        if "error" in body:
            problem = body["error"]
            if problem.get("code") in ("readapidenied", "permissiondenied", "badtoken"):
                raise CredentialsRejected(f"MediaWiki refused: {problem.get('info', problem.get('code'))}")
            raise SourceError(f"MediaWiki error {problem.get('code')}: {problem.get('info', '')}")
        return body

    def _login(self) -> None:
        token = self._client.post(self.api_url, data={"action": "query", "meta": "tokens", "type": "login",
                                                       "format": "json", "formatversion": "2"})
        login_token = token.json()["query"]["tokens"]["logintoken"]
        r = self._client.post(self.api_url, data={"action": "login", "lgname": self.username,
                                                  "lgpassword": self.password, "lgtoken": login_token,
                                                  "format": "json", "formatversion": "2"}).json()
        if r.get("login", {}).get("result") != "Success":
            raise CredentialsRejected(f"MediaWiki login failed: {r.get('login', {}).get('reason', r)}")

    def _paged(self, **params: Any) -> Iterator[dict[str, Any]]:
        cont: dict[str, Any] = {}
        while True:
            body = self._api(**params, **cont)
            yield body
            if "continue" not in body:
                return
            cont = body["continue"]

    def _api_changes(self, checkpoint: MediaWikiCheckpoint | None,
                     known: Mapping[str, str]) -> Generator[Change, None, MediaWikiCheckpoint]:
        checkpoint = checkpoint or MediaWikiCheckpoint()
        since = checkpoint.since
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        namespaces = "|".join(str(n) for n in self.namespaces)
        if not since:
            latest = self._latest_ids()  # before listing: a change from then on is read next time
            seen: set[str] = set()
            for body in self._paged(action="query", generator="allpages", gapnamespace=namespaces, gaplimit="max",
                                    prop="info"):
                for page in body.get("query", {}).get("pages", []):
                    if self.patterns.allows(page["title"]):
                        seen.add(self.doc_id(page["title"]))
                        yield Upsert(self.doc_id(page["title"]), str(page["lastrevid"]), {"title": page["title"]})
            for doc_id in sorted(set(known) - seen):
                yield Deletion(doc_id)
            return MediaWikiCheckpoint(since=now, rcid=latest["rcid"], logid=latest["logid"])
        # Timestamps have whole seconds and rcstart / lestart are inclusive: a change in the second the
        # last sync ended is listed again, so changes already read are told apart by their ids.
        last_rcid, last_logid = checkpoint.rcid or 0, checkpoint.logid or 0
        rcid, logid = last_rcid, last_logid
        titles: set[str] = set()
        for body in self._paged(action="query", list="recentchanges", rcstart=since, rcdir="newer",
                                rcnamespace=namespaces, rctype="edit|new", rcprop="title|ids", rclimit="max"):
            for rc in body.get("query", {}).get("recentchanges", []):
                if rc["rcid"] > last_rcid:
                    titles.add(rc["title"])
                    rcid = max(rcid, rc["rcid"])
        deleted: set[str] = set()
        for body in self._paged(action="query", list="logevents", letype="delete", lestart=since, ledir="newer",
                                leprop="title|type|ids", lelimit="max"):
            for event in body.get("query", {}).get("logevents", []):
                if event["logid"] > last_logid:
                    deleted.add(event["title"])
                    logid = max(logid, event["logid"])
        for chunk in _chunks(sorted(titles | deleted), 50):
            body = self._api(action="query", titles="|".join(chunk), prop="info")
            for page in body.get("query", {}).get("pages", []):
                doc_id = self.doc_id(page["title"])
                if page.get("missing"):
                    if doc_id in known:
                        yield Deletion(doc_id)
                elif self.patterns.allows(page["title"]):
                    yield Upsert(doc_id, str(page["lastrevid"]), {"title": page["title"]})
        return MediaWikiCheckpoint(since=now, rcid=rcid, logid=logid)

    def _latest_ids(self) -> dict[str, int]:
        """The ids of the wiki's newest recent change and log event (0 where there is none)."""
        changes = self._api(action="query", list="recentchanges", rcdir="older", rcprop="ids", rclimit="1")
        events = self._api(action="query", list="logevents", ledir="older", leprop="ids", lelimit="1")
        rc = changes.get("query", {}).get("recentchanges", [])
        log = events.get("query", {}).get("logevents", [])
        return {"rcid": int(rc[0]["rcid"]) if rc else 0, "logid": int(log[0]["logid"]) if log else 0}

    def _api_fetch(self, item: Upsert) -> SourceDocument:
        title = str(item.ref["title"])
        parsed = self._api(action="parse", page=title, prop="text|categories", disablelimitreport="1")
        if "parse" not in parsed:
            raise ItemFailed(f"{title} could not be parsed")
        html = parsed["parse"]["text"]
        if len(html.encode()) > self.max_bytes:
            raise ItemFailed(f"{title} is over the limit of {self.max_bytes:,} bytes")
        categories = [c["category"].replace("_", " ") for c in parsed["parse"].get("categories", [])
                      if not c.get("hidden")]
        body = self._api(action="query", titles=title, prop="revisions|info", inprop="url",
                         rvprop="user|timestamp", rvlimit="50")
        page = body["query"]["pages"][0]
        revisions = page.get("revisions", [])
        first = self._api(action="query", titles=title, prop="revisions", rvprop="timestamp", rvlimit="1",
                          rvdir="newer")["query"]["pages"][0].get("revisions", [])
        return SourceDocument(
            doc_id=item.doc_id, data=f"<html><body>{html}</body></html>".encode(), source_uri=page.get(
                "fullurl", item.doc_id), title=title, content_type="HTML",
            created_at=iso_time(first[0]["timestamp"]) if first else None,
            updated_at=iso_time(revisions[0]["timestamp"]) if revisions else None,
            authors=tuple(dict.fromkeys(r["user"] for r in revisions if "user" in r)),
            category=categories[0] if categories else None,
        )

    # -- XML dump --------------------------------------------------------------------------------

    def _dump(self) -> dict[str, dict[str, Any]]:
        if self._dump_pages is not None:
            return self._dump_pages
        path = self.outbound.check_path(self.dump_path)
        if not path.is_file():
            raise SourceMisconfigured(f"{self.dump_path} is not a file on this machine")
        pages: dict[str, dict[str, Any]] = {}
        category_names = ["Category"]
        try:
            for _, element in ET.iterparse(path, events=("end",)):
                tag = element.tag.rsplit("}", 1)[-1]
                if tag == "namespace" and element.get("key") == "14" and element.text:
                    category_names.append(element.text)
                elif tag == "page":
                    page = self._dump_page(element, tuple(category_names))
                    if page is not None:
                        pages[page["title"]] = page
                    element.clear()
        except ET.ParseError as error:
            raise SourceMisconfigured(f"{self.dump_path} is not a readable MediaWiki XML dump: {error}") from None
        self._dump_pages = pages
        return pages

    def _dump_page(self, element: ET.Element, category_names: tuple[str, ...]) -> dict[str, Any] | None:
        def child(node: ET.Element, name: str) -> ET.Element | None:
            return next((c for c in node if c.tag.rsplit("}", 1)[-1] == name), None)

        title_el, ns_el = child(element, "title"), child(element, "ns")
        revisions = [c for c in element if c.tag.rsplit("}", 1)[-1] == "revision"]
        if title_el is None or not revisions or int((ns_el.text if ns_el is not None else "0") or 0) \
                not in self.namespaces:
            return None
        latest = revisions[-1]
        rev_id, text_el, stamp = child(latest, "id"), child(latest, "text"), child(latest, "timestamp")
        authors = [u.text for r in revisions if (c := child(r, "contributor")) is not None
                   for u in c if u.tag.rsplit("}", 1)[-1] == "username" and u.text]
        first_stamp = child(revisions[0], "timestamp")
        text, categories = wikitext_to_text(text_el.text or "" if text_el is not None else "", category_names)
        return {"title": title_el.text or "", "version": rev_id.text if rev_id is not None else "0", "text": text,
                "categories": categories, "authors": list(dict.fromkeys(reversed(authors))),
                "updated": stamp.text if stamp is not None else None,
                "created": first_stamp.text if first_stamp is not None else None}

    def _dump_changes(self, known: Mapping[str, str]) -> Generator[Change, None, MediaWikiCheckpoint]:
        seen: set[str] = set()
        for title, page in sorted(self._dump().items()):
            if self.patterns.allows(title):
                seen.add(self.doc_id(title))
                yield Upsert(self.doc_id(title), str(page["version"]), {"title": title})
        for doc_id in sorted(set(known) - seen):
            yield Deletion(doc_id)
        return MediaWikiCheckpoint(dump=self.dump_path)

    def _dump_fetch(self, item: Upsert) -> SourceDocument:
        page = self._dump().get(str(item.ref["title"]))
        if page is None:
            raise ItemFailed(f"{item.ref['title']} is no longer in the dump")
        uri = f"{self.base_url.rstrip('/')}/{quote(page['title'].replace(' ', '_'))}" if self.base_url \
            else item.doc_id
        return SourceDocument(
            doc_id=item.doc_id, data=page["text"].encode(), source_uri=uri, title=page["title"],
            content_type="PLAIN_TEXT", created_at=iso_time(page["created"]), updated_at=iso_time(page["updated"]),
            authors=tuple(page["authors"]), category=page["categories"][0] if page["categories"] else None,
        )

    # -- the contract ------------------------------------------------------------------------------

    def changes(self, checkpoint: MediaWikiCheckpoint | None,
                known: Mapping[str, str]) -> Generator[Change, None, MediaWikiCheckpoint]:
        if self.api_url:
            return (yield from self._api_changes(checkpoint, known))
        return (yield from self._dump_changes(known))

    def fetch(self, item: Upsert) -> SourceDocument:
        return self._api_fetch(item) if self.api_url else self._dump_fetch(item)


def _chunks(items: list[str], n: int) -> Iterator[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
