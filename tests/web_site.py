"""The site the browser tests visit: a kensaku server with the web pages on and a movable analytics clock.

One server for the whole session (the pages' tests share it); each test reads what it changed as a
difference, so the tests do not depend on each other's order.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, make_client, wait_for
from tests.web_data import make_index

ADMIN_TOKEN = "test-admin-token"


# Analytics reports whole days up to yesterday (as Kendra's GetSnapshots does), so the site runs on a
# fixed analytics clock: what a test records "today" it reads back after ``next_day()``.
FIRST_DAY = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)


class DayServer:
    """A kensaku server on a fixed analytics clock that ``next_day()`` restarts a day later (same data):
    today's events become reportable. Subclasses name the environment in ``env()``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.now = FIRST_DAY
        self.server = self._start()

    def env(self) -> dict[str, str]:
        return {}

    def _start(self) -> Server:
        return Server(self.data_dir, env={"KENSAKU_ADMIN_TOKEN": ADMIN_TOKEN,
                                          "KENSAKU_ANALYTICS_NOW": self.now.isoformat(), **self.env()}).start()

    @property
    def url(self) -> str:
        return self.server.url

    def next_day(self) -> None:
        """Restart a day later (stopping writes every queued event)."""
        self.server.stop()
        self.now += timedelta(days=1)
        self.server = self._start()

    def stop(self) -> None:
        self.server.stop()


class Site(DayServer):
    """A kensaku server with the web pages on, an index of ``tests.web_data``, and a movable clock."""

    def __init__(self, data_dir: Path, files: Path) -> None:
        self.files = files  # the folder file:// keys (FAQs, block lists, thesauri) may read
        super().__init__(data_dir)
        self.client = make_client(self.server.url)
        self.index_id = make_index(self.client)
        self.feedback_seen = 0

    def feedback_events(self) -> int:
        """Clicks and votes stored so far (read from the analytics file: a test's view, not an API)."""
        with closing(sqlite3.connect(self.data_dir / "analytics.sqlite3")) as conn:
            row = conn.execute("SELECT (SELECT COUNT(*) FROM clicks) + (SELECT COUNT(*) FROM votes)").fetchone()
        return int(row[0])

    def await_feedback(self, events: int = 1) -> None:
        """Wait until the page's SubmitFeedback (sent with keepalive as the page is left) has been stored,
        so that restarting the server cannot lose it in flight."""
        wait_for(lambda: self.feedback_events() >= self.feedback_seen + events, 15, "feedback stored")
        self.feedback_seen = self.feedback_events()

    def env(self) -> dict[str, str]:
        return {"KENSAKU_LOCAL_FILES_ROOT": str(self.files),
                # the spelling vocabulary takes in new documents at once
                "KENSAKU_SPELLING_REFRESH_SECONDS": "0",
                # suggestions are rebuilt from the query log on every call
                "KENSAKU_SUGGESTIONS_REFRESH_SECONDS": "0"}

    def next_day(self) -> None:
        super().next_day()
        self.client = make_client(self.server.url)


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    with tempfile.TemporaryDirectory(prefix="kensaku-web-") as tmp, \
            tempfile.TemporaryDirectory(prefix="kensaku-web-files-") as files:
        web = Site(Path(tmp), Path(files).resolve())
        try:
            yield web
        finally:
            web.stop()


def clicks(site: Site, metric_column: int = 1) -> dict[str, int]:
    """Document id -> clicks (or another DOCS_BY_CLICK_COUNT column) this month, from GetSnapshots."""
    r = site.client.get_snapshots(IndexId=site.index_id, Interval="THIS_MONTH", MetricType="DOCS_BY_CLICK_COUNT")
    return {row[0]: int(row[metric_column]) for row in r["SnapshotsData"]}


def recorded(site: Site, before: dict[str, int], metric_column: int = 1) -> dict[str, int]:
    """What changed in ``clicks`` once the day is over (the server stops, writing every event)."""
    site.await_feedback()
    site.next_day()
    after = clicks(site, metric_column)
    return {d: n - before.get(d, 0) for d, n in after.items() if n != before.get(d, 0)}




def sign_in(page: Any, site: Site, path: str) -> None:
    """Open an admin-token page (/dashboard, /admin), signing in through its form when asked."""
    page.goto(f"{site.url}{path}")
    if page.locator("#login").count():
        page.fill("#token", ADMIN_TOKEN)
        with page.expect_navigation():
            page.click("#sign-in")
    page.wait_for_selector("body[data-ready=true]")
