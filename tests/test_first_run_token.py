"""Signed in on first run: with no KENSAKU_ADMIN_TOKEN, `kensaku serve` makes a token, keeps only its hash
(0600) in the data folder, prints a sign-in link once (on loopback), and the link opens an admin session;
`kensaku admin-token --rotate` replaces the token and ends the old sessions."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import REPO, free_port

LINK = re.compile(r"http://\S+/login\?token=(\S+)")


@contextmanager
def serving(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, list[str]]]:
    """A `kensaku serve` on a free port; yields its URL and the stdout lines printed until it answered
    and announced the admin pages."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kensaku.cli", "serve", "--port", str(port), "--data-dir", str(data_dir), *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**{k: v for k, v in os.environ.items() if k != "KENSAKU_ADMIN_TOKEN"},
             "KENSAKU_EMBEDDER": "none", "KENSAKU_LOG_LEVEL": "warning", **(env or {})})
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any("Admin pages" in line or "/login?token=" in line for line in lines):
            line = proc.stdout.readline()
            assert line, f"the server ended before announcing the admin pages: {lines}"
            lines.append(line.rstrip("\n"))
        yield f"http://127.0.0.1:{port}", lines
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def token_in(lines: list[str]) -> str:
    [token] = [m.group(1) for line in lines if (m := LINK.search(line))]
    return token


def is_admin(url: str, cookies: httpx.Cookies) -> bool:
    page = httpx.get(f"{url}/admin", cookies=cookies)
    assert page.status_code == 200
    return 'id="login"' not in page.text


def open_link(url: str, token: str) -> httpx.Response:
    return httpx.get(f"{url}/login", params={"token": token})


def test_first_run_prints_a_link_that_signs_in_and_keeps_only_a_hash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serving(data) as (url, lines):
        token = token_in(lines)
        assert len(token) >= 40
        stored = data / "admin-token.json"
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600
        assert token not in "".join(p.read_text(errors="replace") for p in data.glob("*") if p.is_file())
        assert not is_admin(url, httpx.Cookies())
        opened = open_link(url, token)
        assert opened.status_code == 303 and opened.headers["location"] == "/admin"
        assert opened.headers["cache-control"] == "no-store" and opened.headers["referrer-policy"] == "no-referrer"
        assert token not in opened.cookies["kensaku_admin"]
        assert is_admin(url, opened.cookies)
        wrong = open_link(url, token[:-1] + ("A" if token[-1] != "A" else "B"))
        assert wrong.status_code == 403 and 'id="login"' in wrong.text and "kensaku_admin" not in wrong.cookies
        # the sign-in form takes the same token
        assert httpx.post(f"{url}/admin/session", json={"token": token}).status_code == 200
    with serving(data) as (url, lines):  # a restart prints no token; the old one still works
        assert not any(LINK.search(line) for line in lines)
        assert any("admin-token --rotate" in line for line in lines)
        assert is_admin(url, open_link(url, token).cookies)


def test_rotating_the_token_ends_the_old_one_and_its_sessions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serving(data) as (url, lines):
        old = token_in(lines)
        session = open_link(url, old).cookies
        assert is_admin(url, session)
        time.sleep(0.01)  # a new file: another mtime
        rotated = subprocess.run([sys.executable, "-m", "kensaku.cli", "admin-token", "--rotate", "--data-dir",
                                  str(data)], cwd=REPO, capture_output=True, text=True, check=True,
                                 env={k: v for k, v in os.environ.items() if k != "KENSAKU_ADMIN_TOKEN"})
        new = token_in(rotated.stdout.splitlines())
        assert new != old
        assert not is_admin(url, session)  # the running server read the new hash
        assert open_link(url, old).status_code == 403
        assert is_admin(url, open_link(url, new).cookies)


def test_no_link_off_loopback_or_when_a_token_is_configured(tmp_path: Path) -> None:
    with serving(tmp_path / "wide", "--host", "0.0.0.0", "--trust-network") as (url, lines):
        assert not any("token=" in line for line in lines)
        assert any("admin-token --rotate" in line for line in lines)
        assert not (tmp_path / "wide" / "admin-token.json").exists()
        r = httpx.get(f"{url}/admin")  # no token at all: the pages are off and say how to turn them on
        assert r.status_code == 404 and "admin-token --rotate" in r.text
    with serving(tmp_path / "configured", env={"KENSAKU_ADMIN_TOKEN": "configured-token"}) as (url, lines):
        assert not any("token=" in line for line in lines)
        assert not (tmp_path / "configured" / "admin-token.json").exists()
        assert open_link(url, "configured-token").status_code == 303
    refused = subprocess.run([sys.executable, "-m", "kensaku.cli", "admin-token", "--rotate", "--data-dir",
                              str(tmp_path / "configured")], cwd=REPO, capture_output=True, text=True,
                             env={**os.environ, "KENSAKU_ADMIN_TOKEN": "configured-token"})
    assert refused.returncode == 2 and "KENSAKU_ADMIN_TOKEN" in refused.stderr
