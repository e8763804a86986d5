"""The pages' routes over plain HTTP: GET / is the page, POST / stays the Kendra API."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Server


def test_get_root_is_the_search_page_and_post_root_is_still_kendra(server: Server, kendra: Any) -> None:
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/search.js">' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert kendra.list_indices()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_static_files_and_config_are_served(server: Server) -> None:
    script = httpx.get(f"{server.url}/static/search.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert httpx.get(f"{server.url}/static/no-such-file.js").status_code == 404
    assert httpx.get(f"{server.url}/config.json").json() == {"indexId": None, "user": None}


def test_without_a_configured_token_the_pages_ask_for_the_first_run_token(server: Server) -> None:
    """The shared server has no KENSAKU_ADMIN_TOKEN: it made one on first run (tests/test_first_run_token.py)."""
    for path in ("/dashboard", "/admin"):
        r = httpx.get(f"{server.url}{path}")
        assert r.status_code == 200 and 'id="login"' in r.text
    assert httpx.post(f"{server.url}/admin/session", json={"token": ""}).status_code == 403
