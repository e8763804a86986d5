"""WEBCRAWLER sources against a local HTTP site (stdlib ThreadingHTTPServer serving a temp folder):
same-site links, robots.txt, sitemaps, depth limit (the refusal of loopback hosts: test_outbound.py)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, Server, make_client, wait_for
from tests.sync_helpers import metrics, sync, template

PAGES = {
    "index.html": '<html><head><title>Home</title></head><body><h1>Home</h1><p>kinkajou home page</p>'
                  '<a href="/docs/a.html">a</a> <a href="docs/b.html#top">b</a> <a href="/private/secret.html">s</a>'
                  '<a href="http://example.invalid/x">elsewhere</a> <a href="/deep/1.html">deep</a></body></html>',
    "docs/a.html": '<html><head><title>Page A</title><meta name="author" content="Aiko"></head>'
                   '<body><p>kinkajou page a about serval cats</p></body></html>',
    "docs/b.html": "<html><head><title>Page B</title></head><body><p>kinkajou page b</p></body></html>",
    "private/secret.html": "<html><body><p>kinkajou secret page</p></body></html>",
    "deep/1.html": '<html><body><p>kinkajou deep one</p><a href="2.html">next</a></body></html>',
    "deep/2.html": '<html><body><p>kinkajou deep two</p><a href="3.html">next</a></body></html>',
    "deep/3.html": "<html><body><p>kinkajou deep three</p></body></html>",
    "orphan.html": "<html><head><title>Orphan</title></head><body><p>kinkajou orphan (sitemap)</p></body></html>",
    "robots.txt": "User-agent: *\nDisallow: /private/\n",
}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "site"
    for name, body in PAGES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    (root / "sitemap.xml").write_text(
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{url}/orphan.html</loc></url></urlset>")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, root
    finally:
        httpd.shutdown()


def _crawler(c: Any, index: str, url: str) -> str:
    ds: str = c.create_data_source(IndexId=index, Name="site", Type="TEMPLATE", RoleArn=ROLE, Configuration=template(
        "WEBCRAWLER", seedUrls=[f"{url}/index.html"], siteMapUrls=[f"{url}/sitemap.xml"], crawlDepth=2,
        maxUrlsPerMinute=300))["Id"]
    return ds


def test_webcrawler_follows_links_robots_sitemaps_and_depth(site: tuple[str, Path], tmp_path: Path) -> None:
    url, root = site
    server = Server(tmp_path / "data").start()  # the tests' outbound policy allows 127.0.0.0/8
    try:
        c = make_client(server.url)
        index = c.create_index(Name="web", RoleArn=ROLE)["Id"]
        wait_for(lambda: c.describe_index(Id=index)["Status"] == "ACTIVE")
        ds = _crawler(c, index, url)
        job = sync(c, index, ds)
        assert job["Status"] == "SUCCEEDED", job
        expected = {f"{url}/{p}" for p in ("index.html", "docs/a.html", "docs/b.html", "deep/1.html",
                                            "deep/2.html", "orphan.html")}
        r = c.query(IndexId=index, QueryText="kinkajou", PageSize=50,
                    RequestedDocumentAttributes=["_source_uri", "_authors", "_category"])
        assert {i["DocumentId"] for i in r["ResultItems"]} == expected
        assert metrics(job) == {"Added": 6, "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": 6}
        a = next(i for i in r["ResultItems"] if i["DocumentId"].endswith("/docs/a.html"))
        assert a["DocumentURI"] == f"{url}/docs/a.html" and a["DocumentTitle"]["Text"] == "Page A"
        attrs = {x["Key"]: x["Value"] for x in a["DocumentAttributes"]}
        assert attrs["_authors"] == {"StringListValue": ["Aiko"]} and attrs["_category"] == {"StringValue": "docs"}

        (root / "docs" / "a.html").write_text("<html><body><p>kinkajou page a, now about fossas</p></body></html>")
        (root / "docs" / "b.html").unlink()
        job = sync(c, index, ds)
        assert metrics(job) == {"Added": 0, "Modified": 1, "Deleted": 1, "Failed": 0, "Scanned": 5}, job
        assert [i["DocumentId"] for i in c.query(IndexId=index, QueryText="fossas")["ResultItems"]] == \
            [f"{url}/docs/a.html"]
        assert c.query(IndexId=index, QueryText="serval")["ResultItems"] == []
    finally:
        server.stop()

