"""Admin sessions of the web pages (issue 20, 7): random ids kept by the server, ended by sign-out or
disuse; wrong tokens limited per address; hostile sign-in bodies and cookies answered with a 4xx."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Server

TOKEN = "the-admin-token"
IDLE_SECONDS = 1.5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("admin"), {
        "KENSAKU_ADMIN_TOKEN": TOKEN, "KENSAKU_ADMIN_SESSION_IDLE_SECONDS": str(IDLE_SECONDS),
        "KENSAKU_EMBEDDER": "none"}).start()
    yield srv
    srv.stop()


def _sign_in(server: Server, token: str = TOKEN) -> httpx.Response:
    return httpx.post(f"{server.url}/admin/session", json={"token": token})


def _is_admin_page(server: Server, cookie: str) -> bool:
    page = httpx.get(f"{server.url}/admin", cookies={"kensaku_admin": cookie})
    assert page.status_code == 200
    return 'id="login"' not in page.text


def test_a_session_is_random_and_ends_at_sign_out(server: Server) -> None:
    first, second = _sign_in(server).cookies["kensaku_admin"], _sign_in(server).cookies["kensaku_admin"]
    assert first != second and TOKEN not in first and len(first) >= 40
    assert _is_admin_page(server, first) and _is_admin_page(server, second)
    out = httpx.delete(f"{server.url}/admin/session", cookies={"kensaku_admin": first})
    assert out.status_code == 204
    assert not _is_admin_page(server, first)  # a copy of the cookie is worthless after sign-out
    assert _is_admin_page(server, second)  # other sessions go on


def test_a_session_ends_after_its_idle_time(server: Server) -> None:
    cookie = _sign_in(server).cookies["kensaku_admin"]
    for _ in range(3):  # use keeps it open
        time.sleep(IDLE_SECONDS / 2)
        assert _is_admin_page(server, cookie)
    time.sleep(IDLE_SECONDS + 0.2)
    assert not _is_admin_page(server, cookie)


def test_hostile_cookies_and_sign_in_bodies_are_4xx(server: Server) -> None:
    for cookie in ("é東京", "\x7f", "x" * 4000, ""):
        page = httpx.get(f"{server.url}/dashboard", headers={b"Cookie": f"kensaku_admin={cookie}".encode()})
        assert page.status_code == 200 and 'id="login"' in page.text
    deep = b'{"token":' + b"[" * 5000 + b"]" * 5000 + b"}"
    for content in (b'{"token": "\\ud800"}', b'{"token": "t\xed\xa0\x80"}', deep, b"[]", b'{"token": 1}',
                    b"not json", b"\xff", json.dumps({"token": "x" * 10_000}).encode()):
        r = httpx.post(f"{server.url}/admin/session", content=content,
                       headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (content[:40], r.status_code, r.text)
        assert r.json()["message"]


def test_wrong_tokens_are_limited_per_address(server: Server) -> None:  # last: it locks this address out
    for _ in range(5):
        assert _sign_in(server, "guess").status_code == 403
    locked = _sign_in(server, "guess")
    assert locked.status_code == 429 and 1 <= int(locked.headers["Retry-After"]) <= 60
    assert _sign_in(server).status_code == 429  # the right token too: the answer tells a guesser nothing

